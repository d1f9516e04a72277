"""A large fleet split over worker processes: every host once, in order, failures per host.

The workers are real ``spawn`` processes running the real engine; only the connection is a
stand-in (module-level, so it pickles), answering the probe with a compliant document.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from compliance.audit import NOT_CHECKED, audit_fleet
from compliance.desired import probe_spec
from fleet.interrupt import STOP
from fleet.processes import worker_count
from inventory import Host, load_inventory
from tests.support.probe_doc import compliant_doc
from winhost.cmdline import Command
from winhost.connection import COMMANDS, ConnectionStats, Result
from winhost.probe import MARKER, probe_command

HEAD = r"""
all:
  vars:
    connection: {address: 127.0.0.1, port: 1, https: false, user: deploy,
                 password_env: H13_PASSWORD}
    python: {base: C:\Python311\python.exe, venv: C:\PythonEnvs\tacdemo, wheelhouse: C:\wheels}
    app: {name: tacdemo, package: tacdemo==1.0.0, tac_file: C:\Apps\tacdemo\my_tacfile.tac,
          port: 58080}
    service: {name: tacdemo, display_name: Tacdemo, description: Runs tacdemo}
hosts:
"""


class FakeConnection:
    def __init__(self, host: Host, pid_file: str | None) -> None:
        self.host = host.name
        self.entry = host
        self.stats = ConnectionStats()
        self.pid_file = pid_file

    def run(self, command: Command | str, *, timeout: float | None = None,
            idempotent: bool = False) -> Result:
        text = command.line if isinstance(command, Command) else command
        if COMMANDS.isEnabledFor(logging.INFO):  # as the real connections do, for the run log
            COMMANDS.info("%s %s", self.host, text)
        self.stats.commands += 1
        self.stats.http_requests += 6
        if self.pid_file:  # which process checked this host
            with open(self.pid_file, "a", encoding="utf-8") as f:
                f.write(f"{self.host} {os.getpid()}\n")
        if text == probe_command(probe_spec(self.entry)).line:
            return Result(0, MARKER + json.dumps(compliant_doc(self.entry)) + "\r\n", "")
        return Result(1, "", "unexpected command")

    def close(self) -> None:
        pass


class Connector:
    """Picklable stand-in for ``winhost.open.open_connection``; ``crash`` ends the worker process
    that connects to that host, ``delay`` makes every host take that long."""

    def __init__(self, crash: str = "", delay: float = 0.0, pid_file: str | None = None) -> None:
        self.crash = crash
        self.delay = delay
        self.pid_file = pid_file

    def __call__(self, host: Host) -> FakeConnection:
        if host.name == self.crash:
            os._exit(3)
        if os.environ.get("H13_PASSWORD") != "pw-h13":  # the worker sees the caller's env
            raise RuntimeError("H13_PASSWORD is not the caller's")
        time.sleep(self.delay)
        return FakeConnection(host, self.pid_file)


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Host, ...]:
    monkeypatch.setenv("H13_PASSWORD", "pw-h13")
    path = tmp_path / "fleet.yml"
    path.write_text(HEAD + "".join(f"  h{i:02d}: {{}}\n" for i in range(40)), encoding="utf-8")
    return load_inventory(path).hosts


def test_every_host_once_in_inventory_order_checked_by_several_processes(hosts, tmp_path):
    pids = tmp_path / "pids.txt"
    done: list[str] = []
    audits = audit_fleet(hosts, parallel=4, processes=2, on_done=lambda a: done.append(a.host),
                         connector=Connector(pid_file=str(pids)))
    assert [a.host for a in audits] == [h.name for h in hosts]
    assert {a.status for a in audits} == {"compliant"}, audits[0].error
    assert all(a.http_requests == 6 and a.commands == 1 for a in audits)
    assert sorted(done) == sorted(h.name for h in hosts)  # progress: each host once
    by_pid: dict[str, set[str]] = {}
    for line in pids.read_text().splitlines():
        name, pid = line.split()
        by_pid.setdefault(pid, set()).add(name)
    assert len(by_pid) == 2 and str(os.getpid()) not in by_pid
    assert sorted(len(names) for names in by_pid.values()) == [20, 20]


def test_a_worker_that_dies_makes_only_its_unfinished_hosts_unreachable(hosts):
    audits = audit_fleet(hosts, parallel=2, processes=2, connector=Connector(crash="h07"))
    assert [a.host for a in audits] == [h.name for h in hosts]
    crashed = [a for a in audits if a.error]
    assert "h07" in {a.host for a in crashed}
    for a in crashed:
        assert a.status == "unreachable"
        assert a.error.startswith("could not be checked: the worker process checking it "
                                  "ended with exit code 3")
        assert "Traceback" not in a.error and "fix: run again" in a.error
    # h07 is odd: the worker dealt the even hosts is untouched
    assert all(a.status == "compliant" for a in audits[0::2])


def test_ctrl_c_stops_the_workers_starting_hosts(hosts):
    STOP.set()  # as the first Ctrl-C's handler does
    audits = audit_fleet(hosts, parallel=2, processes=2, connector=Connector(delay=0.3))
    assert [a.host for a in audits] == [h.name for h in hosts]
    not_checked = [a for a in audits if a.error == NOT_CHECKED]
    # at most the hosts each worker started before the relayed stop arrived
    assert len(not_checked) >= len(hosts) - 2 * 2
    assert all(a.status == "compliant" for a in audits if a not in not_checked)


def test_a_small_fleet_stays_in_process():
    assert worker_count(100, 64, 4) == 1  # fewer than 2 x parallel hosts
    assert worker_count(1000, 64, 1) == 1
    assert worker_count(1000, 64, 4) == 4
    assert worker_count(3, 1, 8) == 3  # never more processes than hosts


def test_in_process_when_small_even_with_a_connector_that_does_not_pickle(hosts):
    made = []

    def connect(host: Host) -> FakeConnection:  # a closure: cannot go to a worker
        made.append(host.name)
        return FakeConnection(host, None)

    audits = audit_fleet(hosts, parallel=32, processes=4, connector=connect)
    assert [a.status for a in audits] == ["compliant"] * len(hosts)
    assert sorted(made) == sorted(h.name for h in hosts)


def test_a_worker_that_fails_as_a_whole_says_why_for_each_of_its_hosts(hosts):
    from fleet.processes import crashed

    text = crashed(1, "ImportError: no module named spnego")
    assert text == ("could not be checked: the worker process checking it ended with exit code "
                    "1 before this host was done (ImportError: no module named spnego); fix: run "
                    "again; if it repeats, run with --processes 1 --debug to see the cause")
    assert "killed by signal 9" in crashed(-9)


def test_a_connector_that_does_not_pickle_is_refused_before_any_host_is_checked(hosts):
    with pytest.raises(Exception, match=r"(?i)pickle"):
        audit_fleet(hosts, parallel=2, processes=2, connector=lambda host: None)


def test_the_run_log_gets_every_command_line_the_workers_send(hosts):
    seen: list[tuple[str, str]] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            host, line = record.args  # type: ignore[misc]
            seen.append((str(host), str(line)))

    handler, level = Catch(logging.INFO), COMMANDS.level
    COMMANDS.addHandler(handler)
    COMMANDS.setLevel(logging.INFO)
    try:
        audit_fleet(hosts, parallel=4, processes=2, connector=Connector())
    finally:
        COMMANDS.removeHandler(handler)
        COMMANDS.setLevel(level)
    assert sorted(h for h, _ in seen) == sorted(h.name for h in hosts)
    assert all(line == probe_command(probe_spec(hosts[0])).line for _, line in seen)
