"""`invoke drift` around a hand-made change on the sandbox: new drift, then fixed by --remediate."""

from __future__ import annotations

import json

import pytest

import tacfleet_cli as cli
from inventory import load_inventory
from provision.fleet import provision_one
from winhost.cmdline import command, system32

pytestmark = pytest.mark.sandbox


def latest(reports) -> dict:
    pointer = json.loads((reports / "latest.json").read_text())
    return json.loads((reports / pointer["run"] / "drift.json").read_text())


def test_drift_reports_new_drift_then_fixed_after_remediate(sandbox_host, tmp_path):
    inventory = str(sandbox_host.inventory)
    host = load_inventory(sandbox_host.inventory).host("sandbox")
    assert not provision_one(host).failed
    reports = tmp_path / "reports"

    assert cli.drift(inventory, "sandbox", reports=str(reports)) == 0

    with sandbox_host.connect() as conn:
        demand = command(system32("sc.exe"), "config", host.service.name, "start=", "demand")
        assert conn.run(demand).rc == 0
    assert cli.drift(inventory, "sandbox", reports=str(reports)) == 1
    report = latest(reports)
    assert report["changes"]["new"] == [["sandbox", "start_type"]]
    assert report["hosts"]["sandbox"]["status"] == "drift"

    assert cli.drift(inventory, "sandbox", reports=str(reports), remediate=True) == 0
    report = latest(reports)
    assert report["changes"]["fixed"] == [["sandbox", "start_type"]]
    assert report["remediated"]["hosts"] == ["sandbox"]
    steps = report["remediated"]["steps"]["sandbox"]
    assert steps and all(s["status"] == "changed" for s in steps)
    assert any("found demand" in " ".join(s["reasons"]) for s in steps), steps
    runs = sorted(p for p in reports.iterdir() if p.is_dir())
    assert len(runs) == 3 and all((p / "drift.html").exists() for p in runs)
    html = (runs[-1] / "drift.html").read_text()
    remediated = html[html.index('id="remediated"'):html.index('id="drifting"')]
    assert "Remediated (1)" in remediated and steps[0]["title"] in remediated
