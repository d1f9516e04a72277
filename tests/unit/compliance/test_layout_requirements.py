"""The base Python's folder and wheelhouses, and owners (issue 32): judged by SID from the
probe's answer, named with principal and right; the plan repairs them by SID."""

from __future__ import annotations

import pytest

from compliance import desired
from compliance.requirements import judge_all
from inventory import load_inventory
from tests.support import ROOT
from tests.support.probe_doc import compliant_doc
from winhost.probe import facts_from_probe

#: ``C:\Python311`` as a folder made under ``C:\`` of Windows Server inherits it (the root's
#: DACL is D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;CI;LC;;;BU)
#: (A;CIIO;DC;;;BU)(A;OICIIO;FA;;;CO), what the sandbox's icacls saves).
INHERITED_FROM_ROOT = ("D:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1200a9;;;BU)"
                       "(A;CIID;LC;;;BU)(A;CIIOID;DC;;;BU)(A;OICIIOID;FA;;;CO)")
ALICE = "S-1-5-21-2147205410-3302471012-2410397817-1001"


@pytest.fixture(scope="module")
def host():
    return load_inventory(ROOT / "inventory" / "hosts.yml").host("sandbox")


def findings(host, doc):
    facts = facts_from_probe(host.name, desired.probe_spec(host), doc)
    return {f.requirement: f for f in judge_all(host, facts)}, facts


def test_the_base_python_folder_and_python_exe_are_probed_for_acl_and_owner(host):
    spec = desired.probe_spec(host)
    assert "C:\\Python311" in spec.acl_paths
    assert {"C:\\Python311", host.python.base, host.nssm.path, host.app.tac_file,
            host.python.venv} <= set(spec.owner_paths)


def test_a_base_python_that_inherits_users_create_rights_is_drift(host):
    doc = compliant_doc(host)
    doc["acls"]["C:\\Python311"] = {"sddl": INHERITED_FROM_ROOT}
    found, _ = findings(host, doc)
    finding = found["base_python_protected"]
    assert not finding.ok
    assert finding.found == (
        "BUILTIN\\Users (S-1-5-32-545): append/add subfolder, inherited, on C:\\Python311; "
        "BUILTIN\\Users (S-1-5-32-545): write data/add file (to what is inside), inherited, "
        "on C:\\Python311")
    assert "*S-1-5-32-545:(OI)(CI)RX" in finding.fix
    assert [r for r, f in found.items() if not f.ok] == ["base_python_protected"]


def test_users_read_execute_on_the_base_python_is_fine(host):
    doc = compliant_doc(host)
    doc["acls"]["C:\\Python311"] = {"sddl": "D:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)"
                                            "(A;OICI;0x1200a9;;;BU)(A;OICI;FA;;;S-1-5-80-956008885"
                                            "-3418522649-1831038044-1853292631-2271478464)"}
    assert findings(host, doc)[0]["base_python_protected"].ok


def test_the_protection_step_repairs_by_sid_and_keeps_users_read_execute(host):
    from provision.steps import Context, protect_base

    doc = compliant_doc(host)
    doc["acls"]["C:\\Python311"] = {
        "sddl": INHERITED_FROM_ROOT + f"(A;OICI;0x1301bf;;;{ALICE})"}
    _, facts = findings(host, doc)
    actions = protect_base(Context(host, facts))
    from provision.hostops import decode_ops

    ops = decode_ops(actions[0].command.argv)
    assert ops == [("run", "C:\\Windows\\System32\\icacls.exe", "C:\\Python311", "/inheritance:r",
                    "/grant:r", "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F",
                    "*S-1-5-32-545:(OI)(CI)RX", "/remove:g", f"*{ALICE}")]


def test_an_owner_other_than_admins_system_or_trustedinstaller_is_drift(host):
    doc = compliant_doc(host)
    doc["owners"][host.python.venv] = {"sid": ALICE}
    doc["owners"]["C:\\ProgramData\\tacfleet\\tacdemo.lock"] = {"sid": ALICE}
    doc["owners"][host.nssm.path] = {"error": "GetNamedSecurityInfoW: error 5"}
    found, facts = findings(host, doc)
    finding = found["owners"]
    assert not finding.ok
    assert f"{host.python.venv}: owned by {ALICE} ({ALICE})" in finding.found
    assert f"{host.nssm.path}: owner not read (GetNamedSecurityInfoW: error 5)" in finding.found
    from provision.hostops import decode_ops
    from provision.steps import Context, set_owners

    ops = decode_ops(set_owners(Context(host, facts))[0].command.argv)
    assert ("run", "C:\\Windows\\System32\\icacls.exe", host.python.venv, "/setowner",
            "*S-1-5-32-544") in ops
    assert ("rmtree", "C:\\ProgramData\\tacfleet\\tacdemo.lock") in ops  # never trusted


def test_a_hostile_owner_answer_is_an_error_not_a_crash(host):
    doc = compliant_doc(host)
    doc["owners"][host.python.venv] = {"sid": 5}
    found, _ = findings(host, doc)
    assert "owner not read (unreadable answer)" in found["owners"].found


def test_folders_are_protected_with_the_service_only_where_it_needs_it(host):
    sid = desired.account_sid_of(host)
    venv = desired.protect_grants(host, host.python.venv)
    assert [g.principal for g in venv] == ["*S-1-5-32-544", "*S-1-5-18", f"*{sid}"]
    assert venv[-1].rights == "RX"
    logs = desired.protect_grants(host, desired.log_dirs(host)[0])
    assert logs[-1].rights == "M"
    staging = desired.protect_grants(host, "C:\\Python311\\tacfleet-wheelhouse")
    assert [g.principal for g in staging] == ["*S-1-5-32-544", "*S-1-5-18"]
