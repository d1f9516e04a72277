"""What a host's facts say about its releases: the running one, a switch whose gate is owed, a
rollback, and which folders may go (``compliance.releases``), and the requirements over them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compliance import releases
from compliance.requirements import REQUIREMENTS
from inventory import load_inventory
from inventory.models import Host
from winhost.probe import HostFacts
from winhost.probe.facts import (
    BasePythonFacts,
    ReleaseDir,
    ReleaseFacts,
    ServiceFacts,
    VenvFacts,
)

ROOT = r"C:\PythonEnvs\Example"
ENTRY = r"""
hosts:
  web01:
    connection: {address: web01.example.com, user: deploy, password_env: PW}
    python: {wheelhouse: C:\wheels}
    app: {name: Example, package: example==2.0.0, tac_file: C:\Apps\Example\my_tacfile.tac,
          port: 8080, releases: true, keep_releases: 3}
    service: {name: my_service}
"""


@pytest.fixture
def unit(tmp_path: Path) -> Host:
    path = tmp_path / "hosts.yml"
    path.write_text(ENTRY)
    return load_inventory(path).host("web01").units()[0]


def python(name: str) -> str:
    return rf"{ROOT}\releases\{name}\Scripts\python.exe"


def facts(unit: Host, running: str, names: list[str], history: list[dict[str, object]]
          ) -> HostFacts:
    folders = [ReleaseDir(name=n, mtime=float(i), python=True) for i, n in enumerate(names)]
    return HostFacts(
        host="web01", base_python=BasePythonFacts(exists=True), venv=VenvFacts(path=""),
        service=ServiceFacts(name="my_service", exists=True,
                             parameters={"Application": python(running)}),
        releases=ReleaseFacts(path=rf"{ROOT}\releases", names=folders, history=history))


def line(action: str, frm: str, to: str, **more: object) -> dict[str, object]:
    return {"action": action, "from": frm, "to": to, "from_python": python(frm),
            "at": "2026-12-07T12:00:00Z", "by": "ops@ctl", **more}


def test_the_running_release_is_read_from_nssm_application(unit):
    old = "1.0.0-0000aaaa"
    assert releases.running(unit, facts(unit, old, [old], [])) == old
    before = facts(unit, "x", [], []).model_copy(update={"service": ServiceFacts(
        name="my_service", parameters={"Application": rf"{ROOT}\Scripts\python.exe"})})
    assert releases.running(unit, before) == releases.BEFORE_RELEASES


def test_a_switch_without_a_deployed_line_after_it_owes_the_gate(unit):
    new, old = releases.wanted(unit), "1.0.0-0000aaaa"
    owed = facts(unit, new, [old, new], [line("switch", old, new)])
    switch = releases.pending(unit, owed)
    assert switch is not None and switch.from_name == old and not switch.this_run
    assert switch.from_python == python(old)
    verdict = REQUIREMENTS["release_gated"](unit, owed)
    assert not verdict.ok and "health gate not passed" in verdict.found, verdict
    done = facts(unit, new, [old, new], [line("switch", old, new), line("deployed", old, new)])
    assert releases.pending(unit, done) is None and REQUIREMENTS["release_gated"](unit, done).ok


def test_a_rolled_back_release_is_named_in_the_drift(unit):
    new, old = releases.wanted(unit), "1.0.0-0000aaaa"
    back = facts(unit, old, [old, new], [
        line("switch", old, new), line("rollback", new, old, why="GET /health answered 500")])
    assert releases.rolled_back(back, new)["why"] == "GET /health answered 500"
    finding = REQUIREMENTS["service_application"](unit, back)
    assert not finding.ok
    assert f"release {old}" in finding.found and "answered 500" in finding.found, finding.found
    assert f"release {new}" in finding.expected


def test_the_oldest_releases_go_never_the_running_previous_or_wanted_one(unit):
    new = releases.wanted(unit)
    names = ["0.1.0-0000000a", "0.2.0-0000000b", "0.3.0-0000000c", "0.4.0-0000000d", new]
    # runs 0.2.0, switched to from 0.1.0 (rolled back there): both stay, as does the wanted one
    state = facts(unit, "0.2.0-0000000b", names, [line("rollback", "0.1.0-0000000a",
                                                         "0.2.0-0000000b")])
    assert releases.prunable(unit, state) == ["0.3.0-0000000c", "0.4.0-0000000d"]
    verdict = REQUIREMENTS["releases_pruned"](unit, state)
    assert not verdict.ok and "2 more" in verdict.found
    kept = facts(unit, new, names[2:], [])
    assert releases.prunable(unit, kept) == [] and REQUIREMENTS["releases_pruned"](unit, kept).ok


def test_folders_that_are_not_releases_are_never_removed(unit):
    names = ["tmp", "1.0-notahash", "0.1.0-0000000a", "0.2.0-0000000b", "0.3.0-0000000c",
             releases.wanted(unit)]
    state = facts(unit, releases.wanted(unit), names, [])
    assert releases.prunable(unit, state) == ["0.1.0-0000000a"]


def test_without_releases_the_release_requirements_are_skipped(tmp_path):
    data = yaml.safe_load(ENTRY)
    data["hosts"]["web01"]["app"]["releases"] = False
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    host = load_inventory(path).host("web01")
    state = facts(host, "x", [], [])
    assert REQUIREMENTS["release_gated"](host, state).skipped
    assert REQUIREMENTS["releases_pruned"](host, state).skipped


def test_the_drift_report_names_the_running_release_and_its_history(unit):
    import time

    from compliance.audit import HostAudit
    from compliance.drift import DriftReport, build_report, compare
    from compliance.render import drift_html

    new, old = releases.wanted(unit), "1.0.0-0000aaaa"
    state = facts(unit, old, [old, new], [
        line("switch", old, new), line("rollback", new, old, why="GET /health answered 500")])
    audit = HostAudit(host="web01", releases=releases.summary(unit, state))
    report = build_report([audit], "hosts.yml", time.time())
    [entry] = DriftReport.model_validate_json(report.dumps()).hosts["web01"].releases
    assert entry["running"] == old and entry["wanted"] == new
    assert [h["action"] for h in entry["history"]] == ["switch", "rollback"]
    html = drift_html(report, compare(None, report))
    assert f"running <b>{old}</b>, inventory asks for <b>{new}</b>" in html
    assert "rollback " + new + " → " + old + " (GET /health answered 500)" in html
