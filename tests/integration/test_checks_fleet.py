"""`pytest checks` over a simulated fleet: each host probed once, one line per failure, a summary.

20 simulated hosts (``sandbox.fleet``: real WinRM endpoints on 127.0.0.1 replaying the recorded
sandbox host; no Wine), one tampered (its probe answer says the service starts without the
delay) and one failing every request: ``pytest checks`` as a user runs it, in one process and
under xdist. Each host's own counters say how often it was probed and whether a shell is left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from compliance.requirements import REQUIREMENTS
from sandbox.executor import ExecResult
from sandbox.fleet.inventory import load_fleet, probe_lines, write_fleet_inventory
from sandbox.fleet.serve import DEFAULT_TRANSCRIPT, SimulatedFleet
from sandbox.fleet.transcript import Transcript
from tests.integration.helpers import password_file, simulated_fleet
from winhost.probe import MARKER, read_probe_output

ROOT = Path(__file__).resolve().parents[2]
USER = "checksfleet"  # one NTLM user per process: clear of the other fleet tests' users
HOSTS = 20
TESTS_PER_HOST = len(REQUIREMENTS) + 1  # and test_host_reachable
TAMPERED, DOWN = 6, 12  # sim0007: start type changed; sim0013: every request a WSMan fault
#: At most: 401, negotiate, authenticate, Create, Command, Receive, Signal, Delete.
PROBE_REQUESTS = 8


@dataclass
class Fleet:
    sim: SimulatedFleet
    inventory: Path


def _answers(line: str) -> tuple[Transcript, Transcript]:
    """The recorded transcript answering ``line`` (this tree's probe line: the recorded probe
    answer, should the probe have changed since the recording), and a copy whose answer says
    the service starts automatically without the delay."""
    transcript = Transcript.load(DEFAULT_TRANSCRIPT)
    (recorded,) = [a for a in transcript.answers.values() if MARKER.encode() in a.stdout]
    transcript.add(line, recorded)
    doc = read_probe_output(recorded.stdout.decode("utf-8"))
    doc["service"]["key"]["DelayedAutostart"] = 0
    stdout = (MARKER + json.dumps(doc) + "\r\n").encode("utf-8")
    tampered = Transcript(dict(transcript.answers))
    tampered.add(line, ExecResult(recorded.rc, stdout, recorded.stderr))
    return transcript, tampered


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("checks-fleet")
    password, secret = password_file(tmp)
    probe = write_fleet_inventory(tmp / "probe.yml", [1], password_file=secret, user=USER)
    (line,) = probe_lines(load_fleet(probe))
    transcript, tampered = _answers(line)
    with simulated_fleet(transcript, HOSTS, user=USER, password=password, folder=tmp) as sim:
        sim.executors[TAMPERED].transcript = tampered
        sim.set_faults(DOWN, http_500=10_000)
        inventory = write_fleet_inventory(tmp / "fleet.yml", sim.ports,
                                          password_file=secret, user=USER)
        yield Fleet(sim, inventory)


def _counters(sim: SimulatedFleet) -> list[dict[str, int]]:
    return [dict(s) for s in sim.stats()["hosts"]]


def _run(fleet: Fleet, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                             list[dict[str, int]], ET.Element]:
    """``pytest checks`` over the fleet; its output, each host's counters for the run, JUnit."""
    before = _counters(fleet.sim)
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "checks", "--inventory", str(fleet.inventory),
         "--check-deadline", "20", "-p", "no:cacheprovider", f"--junitxml={junit}", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "200"})
    after = _counters(fleet.sim)
    delta = [{k: a[k] - b.get(k, 0) for k in a if k != "open_shells"} | {
        "open_shells": a["open_shells"]} for a, b in zip(after, before, strict=True)]
    return proc, delta, ET.parse(junit).getroot()


def _host_of(case: ET.Element) -> str:
    return next(p.get("value", "") for p in case.iter("property") if p.get("name") == "host")


def _assert_one_probe_per_host(delta: list[dict[str, int]]) -> None:
    up = [d for i, d in enumerate(delta) if i != DOWN]
    assert [d["commands"] for d in up] == [1] * (HOSTS - 1), delta
    assert [d["shells_created"] for d in up] == [1] * (HOSTS - 1), delta
    assert len({d["http_requests"] for d in up}) == 1, delta
    assert up[0]["http_requests"] <= PROBE_REQUESTS
    assert delta[DOWN]["commands"] == 0 and delta[DOWN]["faults"] > 0
    assert [d["open_shells"] for d in delta] == [0] * HOSTS, delta


def _assert_lines(out: str) -> None:
    assert "FAILURES" not in out and "short test summary" not in out
    failures = [line for line in out.splitlines() if re.match(r"sim\d{4} \w+: ", line)]
    assert len(failures) == 2, out
    start_type, down = sorted(failures)
    assert start_type.startswith("sim0007 start_type: expected delayed-auto, found auto")
    assert " — fix: " in start_type
    assert down.startswith("sim0013 reachable: could not be checked: ")
    assert "20 hosts: 18 compliant, 1 failing, 1 unreachable" in out
    assert re.search(r"^  start_type +1  sim0007$", out, re.M), out
    assert "hosts with failures (1, most first):" in out
    assert "unreachable (1): sim0013" in out
    assert "probed 20 hosts once each" in out
    # 480 tests: headers, pytest's progress letters (a few lines), two failure lines, the summary
    assert len(out.splitlines()) < 32, out


def test_pytest_checks_probes_each_host_once_and_says_what_failed_in_one_line(fleet, tmp_path):
    proc, delta, junit = _run(fleet, tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    _assert_one_probe_per_host(delta)
    _assert_lines(proc.stdout)
    cases = list(junit.iter("testcase"))
    assert len(cases) == HOSTS * TESTS_PER_HOST
    assert all(_host_of(c) for c in cases)  # issue 14: the host of every case, as a property
    failed = {(_host_of(c), c.get("name")) for c in cases if c.find("failure") is not None}
    assert failed == {("sim0007", "test_start_type[sim0007]"),
                      ("sim0013", "test_host_reachable[sim0013]")}


def test_under_xdist_each_worker_probes_its_own_hosts_once(fleet, tmp_path):
    proc, delta, junit = _run(fleet, tmp_path, "-n", "2")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    _assert_one_probe_per_host(delta)
    _assert_lines(proc.stdout)
    assert "by 2 workers" in proc.stdout
    assert len(list(junit.iter("testcase"))) == HOSTS * TESTS_PER_HOST


def test_verbose_shows_every_test_and_the_failure_in_full(fleet, tmp_path):
    proc, delta, _ = _run(fleet, tmp_path, "-v", "--host", "sim0007,sim0008")
    assert proc.returncode == 1
    assert [d["commands"] for d in delta[6:8]] == [1, 1]
    assert "test_start_type[sim0007] FAILED" in proc.stdout
    assert "PASSED" in proc.stdout and "FAILURES" in proc.stdout
    assert "sim0007: expected delayed-auto, found auto — fix: " in proc.stdout
    assert "2 hosts: 1 compliant, 1 failing, 0 unreachable" in proc.stdout


def test_pytest_s_own_path_judges_as_the_fast_path_does(fleet, tmp_path):
    """``--setup-show`` turns the fast path off: the ``finding`` fixture (a check's requirement,
    from its name) and the others run as ordinary pytest fixtures, with the same verdicts."""
    proc, delta, junit = _run(fleet, tmp_path, "--setup-show", "--host", "sim0007,sim0008")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert [d["commands"] for d in delta[6:8]] == [1, 1]
    assert "SETUP    F finding" in proc.stdout  # the fixture ran: not the fast path
    failed = {c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None}
    assert failed == {"test_start_type[sim0007]"}
    assert len(list(junit.iter("testcase"))) == 2 * TESTS_PER_HOST


def test_ctrl_c_during_the_probe_starts_no_new_host_and_leaves_no_shell(fleet, tmp_path):
    before = _counters(fleet.sim)
    fleet.sim.set_faults(None, latency_ms=300)  # 20 hosts, 2 at a time: about 18 s of probing
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "checks", "--inventory", str(fleet.inventory),
             "--parallel", "2", "-p", "no:cacheprovider"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while sum(s["commands"] for s in _counters(fleet.sim)) == sum(
                b["commands"] for b in before) and time.monotonic() < deadline:
            time.sleep(0.2)  # until the first probe ran
        stopped = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - stopped
    finally:
        fleet.sim.set_faults(None, latency_ms=0)
    assert proc.returncode == 2 and "KeyboardInterrupt" in out, out[-2000:]
    assert "nothing new starts" in out
    # No timing bound (a loaded machine stretches it): the counters below prove that the
    # hosts in flight finished their probe and no new one started.
    assert took < 60, took
    after = _counters(fleet.sim)
    probed = sum(a["commands"] - b["commands"] for a, b in zip(after, before, strict=True))
    assert 1 <= probed < HOSTS - 2
    assert [a["open_shells"] for a in after] == [0] * HOSTS


def test_per_host_is_one_test_per_host_failing_with_each_failed_requirement(fleet, tmp_path):
    proc, delta, junit = _run(fleet, tmp_path, "--per-host")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "one test per host (--per-host)" in proc.stdout
    _assert_one_probe_per_host(delta)
    _assert_lines(proc.stdout)
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    assert len(cases) == HOSTS and all(_host_of(c) for c in cases.values())
    failed = {n for n, c in cases.items() if c.find("failure") is not None}
    assert failed == {"test_host[sim0007]", "test_host[sim0013]"}
    tampered = cases["test_host[sim0007]"]
    message = tampered.find("failure").get("message", "")  # type: ignore[union-attr]
    message = message.removeprefix("Failed: ")  # pytest's prefix of a pytest.fail
    assert message.startswith("sim0007 start_type: expected delayed-auto, found auto — fix: ")
    props = [(p.get("name"), p.get("value")) for p in tampered.iter("property")]
    assert ("requirement", "*") in props and ("failed", "start_type") in props, props
    assert [v for k, v in props if k == "failed"] == ["start_type"]
    assert ("failed", "reachable") in [(p.get("name"), p.get("value"))
                                       for p in cases["test_host[sim0013]"].iter("property")]


def test_per_host_k_and_m_select_requirements_and_hosts_under_xdist(fleet, tmp_path):
    proc, delta, junit = _run(fleet, tmp_path, "--per-host", "-m", "service or runtime",
                              "-k", "not start_type and not sim0001", "-n", "2")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "by 2 workers" in proc.stdout
    assert [d["shells_created"] for d in delta[1:]] == [0 if i == DOWN - 1 else 1
                                                        for i in range(HOSTS - 1)], delta
    assert delta[0]["commands"] == 0 and delta[TAMPERED]["commands"] == 1  # sim0001 not probed
    cases = list(junit.iter("testcase"))
    assert len(cases) == HOSTS - 1
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {"test_host[sim0013]"}  # sim0007's start_type not judged
    assert "19 hosts: 18 compliant, 0 failing, 1 unreachable" in proc.stdout
