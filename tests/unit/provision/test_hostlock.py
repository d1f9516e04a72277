"""The host lock (issue 16, finding 4): a rerun waits for or clears an abandoned run, reported;
a live run's lock is that host's error. The lock script's file logic runs here for real; its
Windows process calls (shell liveness, descendants) only on a host."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from inventory import load_inventory
from provision import hostlock
from provision.fleet import provision_fleet
from provision.model import Status
from tests.support.fakes import (
    CANARY,
    FLEET,
    FakeConnection,
    compliant,
    connector,
)
from winhost.cmdline import Command
from winhost.connection import Result
from winhost.errors import ProgramNotFound


@pytest.fixture
def hosts(tmp_path, monkeypatch):
    monkeypatch.setenv("H5_PASSWORD", CANARY)
    monkeypatch.setenv("H5_DB_PASSWORD", CANARY)
    path = tmp_path / "fleet.yml"
    path.write_text(FLEET, encoding="utf-8")
    return {h.name: h for h in load_inventory(path).hosts}


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def held_by(holder: dict, busy: list | None = None, taken: dict | None = None):
    """A lock answer: held by ``holder``; a takeover answers ``taken``."""

    def answer(conn: FakeConnection, text: str, timeout: float | None) -> Result:
        op = "takeover" if " takeover " in text else "release" if " release " in text else "acq"
        if op == "acq":
            data = {"acquired": False, "path": "C:\\ProgramData\\tacfleet\\tacdemo.lock",
                    "holder": holder, "busy": busy or []}
        elif op == "takeover":
            data = taken or {"acquired": True, "path": "x", "previous": holder}
        else:
            data = {"released": True}
        return Result(0, hostlock.MARK + json.dumps(data) + "\r\n", "")

    return answer


def run_with_lock(hosts, lock_answer, names=("good", "drifted")):
    made: dict[str, FakeConnection] = {}

    def connect(host):
        conn = connector({}, made)(host)
        if host.name == names[0]:
            conn.lock = lock_answer
        return conn

    return provision_fleet([hosts[n] for n in names], parallel=1, connector=connect), made


def test_lock_commands_are_commands_with_values_in_argv(hosts):
    host = hosts["good"]
    command = hostlock.lock_command(host, "acquire", hostlock.our_record(), 600)
    assert isinstance(command, Command)
    assert command.argv[0] == host.python.base  # the base Python by full path, no cmd.exe
    assert command.argv[4:] == ("acquire", "tacdemo",
                                json.dumps(hostlock.our_record(), separators=(",", ":")), "600")


def test_a_live_runs_lock_is_that_hosts_error_and_the_others_go_on(hosts):
    live = {"run": "abc123", "controller": socket.gethostname(), "pid": os.getppid()}
    runs, made = run_with_lock(hosts, held_by(live, busy=[{"pid": 7, "exe": "pip.exe"}]))
    locked, other = runs
    assert "is held by run abc123" in locked.error and "pip.exe" in locked.error
    assert "fix:" in locked.error and made["good"].sent == []  # nothing ran on the locked host
    assert not other.error


def test_another_controllers_lock_is_never_taken_over(hosts):
    theirs = {"run": "r2", "controller": "other-controller", "pid": dead_pid()}
    runs, made = run_with_lock(hosts, held_by(theirs))
    assert "other-controller" in runs[0].error
    assert not any(" takeover " in line for line in made["good"].locks)


def test_an_abandoned_run_is_waited_for_then_cleared_and_reported(hosts):
    abandoned = {"run": "r1", "controller": socket.gethostname(), "pid": dead_pid()}
    taken = {"acquired": True, "path": "x", "previous": abandoned, "waited": 600.0,
             "ended": [{"pid": 4242, "exe": "pip.exe", "created": 1}]}
    runs, made = run_with_lock(hosts, held_by(abandoned, taken=taken))
    run = runs[0]
    assert not run.error
    first = run.steps[0]
    assert first.step == "host_lock" and first.status is Status.CHANGED
    assert "abandoned run r1" in first.message and "waited 600.0s" in first.message
    assert "pip.exe (pid 4242)" in first.message
    ops = [line.split(" ")[-4] for line in made["good"].locks]
    assert ops[:2] == ["acquire", "takeover"] and ops[-1] == "release"
    assert made["good"].sent  # then the run went on


def test_a_takeover_that_ends_nothing_says_why(hosts):
    abandoned = {"run": "r1", "controller": socket.gethostname(), "pid": dead_pid()}
    taken = {"acquired": True, "path": "x", "previous": abandoned, "waited": 0, "ended": [],
             "spared": "pid 640 is services.exe, not winrshost.exe (a WinRM shell's host)"}
    runs, _made = run_with_lock(hosts, held_by(abandoned, taken=taken))
    message = runs[0].steps[0].message
    assert "took over the lock of abandoned run r1" in message
    assert "ended no process: pid 640 is services.exe, not winrshost.exe" in message
    assert "ended what" not in message


def test_a_bare_host_needs_no_lock(hosts):
    def no_python(conn, text, timeout):
        raise ProgramNotFound(conn.host, "C:\\Python311\\python.exe not found")

    runs, made = run_with_lock(hosts, no_python)
    assert not runs[0].error and made["good"].sent


def test_a_plan_takes_no_lock(hosts):
    made: dict[str, FakeConnection] = {}
    provision_fleet([hosts["good"]], connector=connector({"good": compliant}, made),
                    check_only=True)
    assert made["good"].locks == []


def script(op: str, run: str, folder: Path, pid: int | None = None) -> dict:
    record = {"run": run, "controller": "c", "pid": pid or os.getpid()}
    done = subprocess.run(
        [sys.executable, "-I", "-c", hostlock.bootstrap(), op, "tacdemo", json.dumps(record),
         "0"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PROGRAMDATA": str(folder)})
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith(hostlock.MARK)
    return json.loads(line[len(hostlock.MARK):])


def test_the_lock_script_takes_reports_takes_over_and_releases(tmp_path):
    lock = tmp_path / "tacfleet" / "tacdemo.lock"
    assert script("acquire", "r1", tmp_path)["acquired"]
    assert json.loads(lock.read_text())["run"] == "r1"
    second = script("acquire", "r2", tmp_path)
    assert not second["acquired"] and second["holder"]["run"] == "r1"
    assert script("release", "r2", tmp_path) == {"released": False, "path": str(lock)}
    taken = script("takeover", "r2", tmp_path)
    assert taken["acquired"] and taken["previous"]["run"] == "r1"
    assert json.loads(lock.read_text())["run"] == "r2"
    assert script("release", "r2", tmp_path)["released"] and not lock.exists()
