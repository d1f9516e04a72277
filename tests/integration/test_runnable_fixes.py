"""Every fix runnable as printed (issue 35, item 2), over the simulated fleet (no Wine).

Two simulated hosts on loopback replaying the recorded sandbox host, and one loopback port
nothing listens on: the inventory asks one host for another start type (drift) and names the
dead port for the third (unreachable). Wherever a fix names a tacfleet command (drift's
terminal, ``drift.json``, pytest's failure lines, JUnit, plan), it carries ``--host`` of the
host it is about and ``--inventory`` of the run's inventory as an absolute path, and the
unreachable host's fix names ``invoke doctor``; each printed command, split as a POSIX shell
splits it, names that host and that file.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tacfleet_cli
from tests.integration.helpers import fleet_and_inventory

ROOT = Path(__file__).resolve().parents[2]
USER = "rerunfleet"  # one NTLM user per process: clear of the other fleet tests' users
COMMAND = re.compile(r"`((?:invoke|tacfleet) [^`]+)`")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("rerun fleet")  # a space in the path: quoted when printed

    def change(data: dict[str, Any]) -> None:
        data["hosts"]["sim0002"]["service"] = {"start": "auto"}
        data["hosts"]["sim0003"] = {"connection": {"port": _closed_port()}}

    with fleet_and_inventory(tmp, 2, user=USER, change=change) as (_sim, path, _password):
        yield path


def _commands(text: str) -> list[list[str]]:
    return [shlex.split(c) for c in COMMAND.findall(text)]


def _assert_runnable(text: str, host: str, inventory: Path, task: str) -> None:
    commands = [c for c in _commands(text) if c[1] == task]
    assert commands, text
    for argv in commands:
        assert argv[argv.index("--host") + 1] == host, argv
        assert argv[argv.index("--inventory") + 1] == str(inventory.absolute()), argv


def test_drift_report_and_terminal_name_the_host_and_inventory(inventory, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.chdir(inventory.parent)  # given as a relative path, spelled absolute
    code = tacfleet_cli.drift(inventory.name, None, reports=str(tmp_path / "reports"),
                              parallel=3, processes=1)
    out = capsys.readouterr()
    report_file = tmp_path / "reports" / json.loads(
        (tmp_path / "reports" / "latest.json").read_text())["run"] / "drift.json"
    hosts = json.loads(report_file.read_text())["hosts"]
    assert code == 2, out  # a host could not be checked
    (start,) = [f for f in hosts["sim0002"]["findings"] if f["requirement"] == "start_type"]
    _assert_runnable(start["fix"], "sim0002", inventory, "provision")
    _assert_runnable(hosts["sim0003"]["error"], "sim0003", inventory, "doctor")
    assert "connection refused on 127.0.0.1:" in hosts["sim0003"]["error"]
    html = (report_file.parent / "drift.html").read_text()
    assert "--host sim0002 --inventory" in html and "--host sim0003 --inventory" in html
    # the terminal's layout is the output work's (issue 35 part B): its text comes from these


def test_pytest_lines_and_junit_name_the_host_and_inventory(inventory, tmp_path):
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "checks", "--inventory", str(inventory), "-k",
         "start_type or reachable", "-p", "no:cacheprovider", f"--junitxml={junit}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("sim0002 start_type: ")]
    _assert_runnable(line, "sim0002", inventory, "provision")
    (down,) = [x for x in proc.stdout.splitlines() if x.startswith("sim0003 reachable: ")]
    _assert_runnable(down, "sim0003", inventory, "doctor")
    failures = {c.get("name"): c.find("failure").get("message", "")
                for c in ET.parse(junit).getroot().iter("testcase")
                if c.find("failure") is not None}
    _assert_runnable(failures["test_start_type[sim0002]"], "sim0002", inventory, "provision")


def test_plan_names_the_host_and_inventory(inventory, capsys):
    from provision.options import ProvisionOptions

    code = tacfleet_cli.provision(str(inventory), "sim0003",
                                  ProvisionOptions(check=True, verbose=True))
    out = capsys.readouterr()
    assert code == 1
    after_table = out.out.rpartition("\u2518")[2]  # the table's cells are the output work's
    _assert_runnable(" ".join(after_table.split()), "sim0003", inventory, "doctor")
