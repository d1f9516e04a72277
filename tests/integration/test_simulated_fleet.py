"""The simulated fleet (sandbox.fleet) replays the recorded sandbox host faithfully, per host.

Fast (no Wine): the committed transcript answers the audit's one probe on every host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

import tacfleet_cli
from compliance.audit import audit_fleet
from fleet.processes import worker_count
from inventory.models import Host
from sandbox.executor import ExecResult, PosixShellExecutor
from sandbox.fleet.inventory import load_fleet, probe_lines
from sandbox.fleet.serve import DEFAULT_TRANSCRIPT, SimulatedFleet
from sandbox.fleet.stock_checks import STOCK_CHECKS
from sandbox.fleet.transcript import (
    NOT_RECORDED_RC,
    RecordingExecutor,
    ReplayExecutor,
    Transcript,
)
from tests.integration.helpers import fleet_and_inventory
from winhost.winrm_connection import WinRMConnection

USER = "simfleet"  # one NTLM user per process: keep clear of the other tests' "tacfleet"
#: At most: 401, negotiate, authenticate, Create, Command, Receive, Signal, Delete (the
#: connection may leave the last Signal to the Delete: 7).
PROBE_REQUESTS = 8


@dataclass
class Fleet:
    sim: SimulatedFleet
    hosts: list[Host]
    password: str


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with fleet_and_inventory(tmp_path, 5, user=USER) as (sim, inventory, password):
        yield Fleet(sim, load_fleet(inventory), password)


def _requests(sim: SimulatedFleet) -> list[int]:
    return [s["http_requests"] for s in sim.stats()["hosts"]]


def test_every_simulated_host_probes_with_the_recorded_line(fleet: Fleet) -> None:
    lines = probe_lines(fleet.hosts)
    assert len(lines) == 1
    assert lines <= set(fleet.sim.transcript.lines())
    assert [h.name for h in fleet.hosts] == [f"sim000{i}" for i in range(1, 6)]
    assert len(set(fleet.sim.ports)) == 5


def test_audit_finds_the_fleet_compliant_at_one_probe_per_host(fleet: Fleet) -> None:
    audits = audit_fleet(fleet.hosts, parallel=5)
    assert [a.status for a in audits] == ["compliant"] * 5, [a.error for a in audits]
    assert all(a.findings and all(f.ok or f.skipped for f in a.findings) for a in audits)
    assert [a.commands for a in audits] == [1] * 5
    requests = _requests(fleet.sim)  # counted by each host itself
    assert len(set(requests)) == 1 and 5 <= requests[0] <= PROBE_REQUESTS, requests
    assert [a.http_requests for a in audits] == requests  # the controller counts the same
    stats = fleet.sim.stats()
    assert stats["unknown_commands"] == 0
    assert stats["total"]["commands"] == 5


def test_a_fault_on_one_host_touches_only_that_host(fleet: Fleet) -> None:
    fleet.sim.set_faults(1, http_500=1000)  # sim0002 answers every request with a WSMan fault
    fleet.sim.set_faults(3, latency_ms=150)  # sim0004 is slow
    audits = {a.host: a for a in audit_fleet(fleet.hosts, parallel=5)}
    assert audits["sim0002"].status == "unreachable"
    assert "fault" in audits["sim0002"].error.lower()
    for name in ("sim0001", "sim0003", "sim0004", "sim0005"):
        assert audits[name].status == "compliant", audits[name].error
    # the probe's run opens the session too: 2 authentication answers, Create, Command, Receive
    assert audits["sim0004"].elapsed >= 5 * 0.15
    assert max(audits[n].elapsed for n in ("sim0001", "sim0003", "sim0005")) < 0.5
    requests = _requests(fleet.sim)
    assert len({requests[i] for i in (0, 2, 3, 4)}) == 1, requests
    assert requests[0] <= PROBE_REQUESTS
    assert requests[1] > requests[0]  # retried
    assert fleet.sim.stats()["hosts"][1]["faults"] > 0
    assert sum(s["faults"] for s in fleet.sim.stats()["hosts"]) == \
        fleet.sim.stats()["hosts"][1]["faults"]


def test_drift_over_worker_processes_reports_every_host_once(fleet: Fleet,
                                                              tmp_path: Path) -> None:
    assert worker_count(5, 2, 2) == 2  # 5 hosts, 2 at a time: split over 2 processes
    reports = tmp_path / "reports"
    code = tacfleet_cli.drift(str(tmp_path / "fleet.yml"), None, reports=str(reports),
                              parallel=2, processes=2)
    run = json.loads((reports / "latest.json").read_text())["run"]
    report = json.loads((reports / run / "drift.json").read_text())
    assert code == 0
    assert sorted(report["hosts"]) == [h.name for h in fleet.hosts]
    assert {e["status"] for e in report["hosts"].values()} == {"compliant"}
    stats = fleet.sim.stats()
    assert [s["commands"] for s in stats["hosts"]] == [1] * 5  # each host checked once
    assert stats["total"]["open_shells"] == 0


def test_an_unrecorded_command_fails_like_an_unknown_program(fleet: Fleet) -> None:
    connection = WinRMConnection("sim0001", fleet.sim.endpoints[0], user=USER,
                                 password=SecretStr(fleet.password))
    with connection:
        result = connection.run("whoami /all")
        recorded = connection.run(STOCK_CHECKS[0][1])
    assert result.rc == NOT_RECORDED_RC == 9009
    assert "not recorded" in result.stderr and "whoami /all" in result.stderr
    assert recorded.rc == 0 and STOCK_CHECKS[0][2] in recorded.stdout
    assert fleet.sim.executors[0].unknown == ["whoami /all"]
    assert fleet.sim.stats()["unknown_commands"] == 1


def test_stock_checks_are_all_recorded() -> None:
    transcript = Transcript.load(DEFAULT_TRANSCRIPT)
    for name, command, expected in STOCK_CHECKS:
        answer = transcript.get(command)
        assert answer is not None, name
        assert answer.rc == 0 and expected.encode() in answer.stdout, name


def test_recording_then_replaying_gives_the_same_bytes(tmp_path: Path) -> None:
    recorder = RecordingExecutor(PosixShellExecutor())
    job = recorder.start("printf 'a\\303\\251b'; printf oops >&2; exit 3")
    assert job.wait(10) == ExecResult(3, "aéb".encode(), b"oops")
    path = recorder.transcript.save(tmp_path / "t.json")
    replay = ReplayExecutor(Transcript.load(path))
    again = replay.start("printf 'a\\303\\251b'; printf oops >&2; exit 3").wait(0)
    assert again == ExecResult(3, "aéb".encode(), b"oops")
