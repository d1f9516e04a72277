"""Two Twisted services on one sandbox host (``services:``): two tac files, two ports, one shared
venv. Provisioned, idempotent, checked per service; a change to one service is reported for that
service only (pytest checks, drift JSON).

The session's ``sandbox_host`` (provisioned by the tests before, or bare when this file runs
alone) gets a second service: its inventory's sandbox entry becomes ``services:`` [the entry's
own app and service, a second app in its own folder on its own port]. The second service is
removed at the end, so later tests find the host as they expect.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import tacfleet_cli as cli
from compliance.audit import audit_host
from inventory import load_inventory
from inventory.models import Host
from provision.deprovision import deprovision_host
from provision.fleet import provision_one as provision
from provision.model import Status
from tests.support.sandbox_hosts import SandboxHost
from winhost.cmdline import command, system32

pytestmark = pytest.mark.sandbox
ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("tacdemo", "tacdemo2")


def two_service_inventory(single: Path, dest: Path, port: int) -> Path:
    """``single``'s sandbox entry with its app and service as the first of two ``services:``;
    the second runs the same tac file from its own folder on ``port`` (the venv is shared)."""
    data = yaml.safe_load(single.read_text())
    entry = data["hosts"]["sandbox"]
    first = {"service": entry.pop("service"), "app": entry.pop("app")}
    second = {
        "service": {**first["service"], "name": "tacdemo2", "display_name": "tacdemo, again"},
        "app": {**first["app"], "name": "tacdemo2", "port": port,
                "tac_file": "C:\\Apps\\tacdemo2\\my_tacfile.tac",
                "environment": {"TACDEMO_PORT": str(port)}},
    }
    entry["services"] = [first, second]
    dest.write_text(yaml.safe_dump(data, sort_keys=False))
    return dest


@pytest.fixture(scope="module")
def multi_host(sandbox_host, tmp_path_factory) -> Iterator[SandboxHost]:
    from sandbox import control

    path = tmp_path_factory.mktemp("multi") / "hosts.yml"
    two_service_inventory(sandbox_host.inventory, path, control.free_port_pair())
    yield SandboxHost(sandbox_host.info, path)
    second = load_inventory(path).host("sandbox").units()[1]
    alone = second.model_copy(update={"services": second.services[1:]})  # tacdemo2 only
    with sandbox_host.connect() as conn:
        removed = deprovision_host(alone, conn)
    assert not removed.failed, removed.summary()


def load(multi_host: SandboxHost) -> Host:
    return load_inventory(multi_host.inventory).host("sandbox")


def failing(host: Host) -> dict[tuple[str, str], str]:
    """(requirement, service) -> message of every check the host fails now."""
    audit = audit_host(host)
    assert not audit.error, audit.error
    return {(f.requirement, f.service): f.message for f in audit.findings
            if not f.ok and not f.skipped}


def run_checks(inventory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "checks", "--host", "sandbox", "--inventory",
         str(inventory), "-v", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_two_services_provisioned_then_nothing_to_do(multi_host):
    host = load(multi_host)
    assert [u.service.name for u in host.units()] == list(SERVICES)

    plan = provision(host, check_only=True)
    assert not plan.error, plan.error
    planned = {(s.step, s.service) for s in plan.steps if s.status is Status.WOULD_CHANGE}
    assert ("service", "tacdemo2") in planned, planned

    first = provision(host)
    assert not first.error and not first.failed, [
        (s.label, s.message) for s in first.steps if s.status is Status.FAILED] or first.error
    # host-wide steps once, per-service steps once per service
    assert [s.service for s in first.steps if s.step == "nssm"] == [""]
    assert [s.service for s in first.steps if s.step == "service"] == list(SERVICES)
    assert failing(host) == {}
    for unit in host.units():
        with urllib.request.urlopen(f"http://127.0.0.1:{unit.app.port}/", timeout=10) as answer:
            assert json.loads(answer.read())["app"] == "tacdemo"

    second = provision(host)
    assert second.changed == 0, second.summary()
    assert second.commands <= 3, second.summary()  # lock, one probe for both, release


def test_pytest_checks_per_service_pass(multi_host):
    proc = run_checks(multi_host.inventory)
    assert proc.returncode == 0, proc.stdout[-3000:]
    for name in SERVICES:  # per-service checks run for each service, host-wide ones once
        assert f"test_service_running[sandbox/{name}] PASSED" in proc.stdout, proc.stdout[-3000:]
    assert proc.stdout.count("test_nssm_verified[") == 1


def test_a_changed_service_is_reported_for_that_service_only(multi_host, tmp_path):
    host = load(multi_host)
    with multi_host.connect() as conn:  # someone changes the second service by hand
        demand = command(system32("sc.exe"), "config", "tacdemo2", "start=", "demand")
        assert conn.run(demand).rc == 0

    proc = run_checks(multi_host.inventory)
    assert proc.returncode == 1
    failed = {line.split()[0] for line in proc.stdout.splitlines() if " FAILED" in line}
    assert failed == {"checks/test_service.py::test_start_type[sandbox/tacdemo2]"}, failed
    assert "test_start_type[sandbox/tacdemo] PASSED" in proc.stdout
    assert "sandbox · tacdemo2: expected delayed-auto, found demand" in proc.stdout
    assert "1 host: 0 compliant, 1 failing" in proc.stdout  # the host counted once

    reports = tmp_path / "reports"
    assert cli.drift(str(multi_host.inventory), "sandbox", reports=str(reports)) == 1
    run = json.loads((reports / "latest.json").read_text())["run"]
    report = json.loads((reports / run / "drift.json").read_text())
    assert report["summary"] == {"compliant": 0, "drift": 1, "unreachable": 0}
    bad = [f for f in report["hosts"]["sandbox"]["findings"] if not f["ok"]]
    assert [(f["requirement"], f["service"]) for f in bad] == [("start_type", "tacdemo2")]
    assert "start_type · tacdemo2" in (reports / run / "drift.html").read_text()

    healed = provision(host)  # re-probes after the change: a step still failing would fail
    assert not healed.failed, healed.summary()
    assert [(s.step, s.service) for s in healed.steps if s.status is Status.CHANGED] == [
        ("start_type", "tacdemo2")], healed.summary()
