"""Requirements judged on facts parsed from probe answers: compliant, then one tamper at a time."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from compliance import desired
from compliance.requirements import REQUIREMENTS, judge_all
from inventory import load_inventory
from tests.unit.probe_doc import compliant_doc, out, reg_dump, sc_qc, sc_query
from winhost.facts import facts_from_probe
from winhost.probe import probe_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def host():
    return load_inventory(ROOT / "inventory" / "hosts.yml").host("sandbox")


def judge(host, doc):
    facts = facts_from_probe(host.name, desired.probe_spec(host), doc)
    return {f.requirement: f for f in judge_all(host, facts)}


def test_compliant_host_meets_every_requirement(host):
    failing = [f.message for f in judge(host, compliant_doc(host)).values() if not f.ok]
    assert failing == []


def tamper(doc, **outputs):
    doc = copy.deepcopy(doc)
    doc["outputs"].update(outputs)
    return doc


CASES = {
    "start_type": lambda h, d: tamper(d, sc_qc=out(sc_qc(h, start="2   AUTO_START"))),
    "service_account": lambda h, d: tamper(d, sc_qc=out(sc_qc(h, account="LocalSystem"))),
    "service_running": lambda h, d: tamper(d, sc_query=out(sc_query(h.service.name, "1  STOPPED"))),
    "twistd_help": lambda h, d: tamper(d, twistd_help=out("boom", rc=1)),
    "service_application": lambda h, d: tamper(
        d, reg_service=out(reg_dump(h, environment=["TACDEMO_PORT=1"]))),
}


@pytest.mark.parametrize("requirement", sorted(CASES))
def test_each_tamper_fails_exactly_its_requirement(host, requirement):
    doc = CASES[requirement](host, compliant_doc(host))
    failing = {r for r, f in judge(host, doc).items() if not f.ok}
    assert failing == {requirement}


def test_missing_tac_file_fails_tac_and_app_directory(host):
    doc = compliant_doc(host)
    doc["files"][host.app.tac_file] = {"path": host.app.tac_file, "exists": False}
    failing = {r for r, f in judge(host, doc).items() if not f.ok}
    assert failing == {"tac_file", "app_directory"}


def test_missing_service_message_names_host_expected_found_and_fix(host):
    doc = compliant_doc(host)
    missing = "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\nThe specified..."
    doc["outputs"].update(
        sc_qc=out(missing, 1060),
        sc_query=out(missing, 1060),
        sc_qdescription=out(missing, 1060),
        reg_service=out("", 1),
    )
    finding = judge(host, doc)["service_exists"]
    assert not finding.ok
    assert finding.message == (
        "sandbox: expected service 'tacdemo', found no such service — fix: run "
        "`invoke provision` to install it"
    )


def test_uninstalled_twisted(host):
    doc = compliant_doc(host)
    import json

    venv = json.loads(__import__("base64").b64decode(doc["outputs"]["venv"]["out"]))
    del venv["dists"]["Twisted"]
    venv["imports"]["twisted"] = [False, "ModuleNotFoundError: No module named 'twisted'"]
    doc["outputs"]["venv"] = out(json.dumps(venv))
    failing = {r for r, f in judge(host, doc).items() if not f.ok}
    assert failing == {"twisted_importable", "packages_installed"}


def test_every_requirement_has_a_check_named_for_it():
    sources = "".join(p.read_text() for p in (ROOT / "checks").glob("test_*.py"))
    missing = [r for r in REQUIREMENTS if f"def test_{r}(" not in sources]
    assert missing == []


def test_probe_fits_in_one_cmd_line(host):
    line = probe_command(desired.probe_spec(host))
    assert len(line) < 8191
    assert line.startswith("C:\\Python311\\python.exe -I -c ")


def test_broader_rights_fail_permissions(host):
    from tests.unit.probe_doc import icacls

    doc = compliant_doc(host)
    doc["outputs"]["icacls_0"] = out(icacls(host.python.venv, host.service.account, "F"))
    finding = judge(host, doc)["permissions"]
    assert not finding.ok and "NT SERVICE\\tacdemo has ['F']" in finding.found
