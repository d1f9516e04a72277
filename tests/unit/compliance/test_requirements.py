"""Requirements judged on facts from probe documents: compliant, then one tamper at a time."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from compliance import desired
from compliance.requirements import REQUIREMENTS, judge_all
from inventory import load_inventory
from inventory.winnames import virtual_account_sid
from tests.support import ROOT
from tests.support.probe_doc import compliant_doc, missing_service, out, parameters, service_key
from winhost.cmdline import Command
from winhost.probe import facts_from_probe, probe_command


@pytest.fixture(scope="module")
def host():
    return load_inventory(ROOT / "inventory" / "hosts.yml").host("sandbox")


def judge(host, doc):
    facts = facts_from_probe(host.name, desired.probe_spec(host), doc)
    return {f.requirement: f for f in judge_all(host, facts)}


def facts_of(host, doc):
    return facts_from_probe(host.name, desired.probe_spec(host), doc)


def failing(host, doc):
    return {r for r, f in judge(host, doc).items() if not f.ok}


def test_compliant_host_meets_every_requirement(host):
    failing_messages = [f.message for f in judge(host, compliant_doc(host)).values() if not f.ok]
    assert failing_messages == []


def service(doc, **changes):
    doc = copy.deepcopy(doc)
    doc["service"].update(changes)
    return doc


CASES = {
    "start_type": lambda h, d: service(d, key=service_key(h, DelayedAutostart=None)),
    "service_account": lambda h, d: service(d, key=service_key(h, ObjectName="LocalSystem")),
    "display_name": lambda h, d: service(d, key=service_key(h, DisplayName="Other")),
    "description": lambda h, d: service(d, key=service_key(h, Description="%PATH%")),
    "service_running": lambda h, d: service(d, scm={"exists": True, "state": 1, "pid": 0}),
    "restart_policy": lambda h, d: service(d, app_exit="Exit"),
    "service_application": lambda h, d: service(
        d, parameters=parameters(h, environment=["TACDEMO_PORT=1"])
    ),
    "twistd_help": lambda h, d: {**d, "outputs": {**d["outputs"], "twistd_help": out("x", 1)}},
}


@pytest.mark.parametrize("requirement", sorted(CASES))
def test_each_tamper_fails_exactly_its_requirement(host, requirement):
    doc = CASES[requirement](host, compliant_doc(host))
    assert failing(host, doc) == {requirement}


def test_missing_tac_file_fails_tac_and_app_directory(host):
    doc = compliant_doc(host)
    doc["files"][host.app.tac_file] = {"path": host.app.tac_file, "exists": False}
    assert failing(host, doc) == {"tac_file", "app_directory"}


def test_missing_service_message_names_host_expected_found_and_fix(host):
    finding = judge(host, missing_service(compliant_doc(host)))["service_exists"]
    assert not finding.ok
    assert finding.message == (
        "sandbox: expected service 'tacdemo', found no such service — fix: run "
        "`invoke provision` to install it"
    )


def test_service_state_and_pid_from_the_service_manager(host):
    facts = facts_from_probe(host.name, desired.probe_spec(host), compliant_doc(host))
    assert (facts.service.state, facts.service.pid) == ("RUNNING", 4242)
    assert facts.service.start == "delayed-auto" and facts.service.exists


def test_uninstalled_twisted(host):
    doc = compliant_doc(host)
    venv = json.loads(base64.b64decode(doc["outputs"]["venv"]["out"]))
    del venv["dists"]["Twisted"]
    venv["imports"]["twisted"] = [False, "ModuleNotFoundError: No module named 'twisted'"]
    doc["outputs"]["venv"] = out(json.dumps(venv))
    assert failing(host, doc) == {"twisted_importable", "packages_installed"}


def test_logon_right(host):
    """A GPO that sets 'Log on as a service' without NT SERVICE\\ALL SERVICES fails a virtual
    account (error 1069 at its next start); its own SID is enough; an unread list says why."""
    doc = compliant_doc(host)
    assert failing(host, doc) == set()
    rights = doc["rights"]["SeServiceLogonRight"]
    rights["sids"] = ["S-1-5-32-544"]
    facts = facts_of(host, doc)
    finding = REQUIREMENTS["logon_right"](host, facts)
    assert not finding.ok and "BUILTIN\\Administrators (S-1-5-32-544)" in finding.found
    assert "NT SERVICE\\ALL SERVICES (*S-1-5-80-0)" in finding.fix and "GPO" in finding.fix
    rights["sids"] = ["S-1-5-32-544", virtual_account_sid(host.service.name)]
    assert failing(host, doc) == set()
    doc["rights"]["SeServiceLogonRight"] = {"sids": None, "error": "LsaOpenPolicy: error 5"}
    message = REQUIREMENTS["logon_right"](host, facts_of(host, doc)).found
    assert message == "could not read the holders: LsaOpenPolicy: error 5"


def test_every_requirement_has_a_check_named_for_it():
    sources = "".join(p.read_text() for p in (ROOT / "checks").glob("test_*.py"))
    missing = [r for r in REQUIREMENTS if f"def test_{r}(" not in sources]
    assert missing == []


def test_probe_is_one_program_by_full_path_without_cmd(host):
    command = probe_command(desired.probe_spec(host))
    assert isinstance(command, Command)
    assert command.argv[:3] == ("C:\\Python311\\python.exe", "-I", "-c")
    assert command.line.startswith('"C:\\Python311\\python.exe" -I -c ')
    assert len(command.line) < 32767


# -- a German host: the same values; only human text differs --------------------------------------
def test_german_host_is_compliant_too(host):
    """Nothing the facts come from is translated: registry values, SCM codes and SDDL."""
    doc = compliant_doc(host)
    doc["codepages"] = {"ansi": 1252, "oem": 850, "console": 850}
    doc["hostname"] = "WIN-DE01"
    facts = facts_from_probe(host.name, desired.probe_spec(host), doc)
    assert facts.codepages.oem == 850 and facts.system_root == "C:\\Windows"
    assert facts.service.app_exit == "Restart"  # the unnamed value, never "(Standard)"
    assert failing(host, doc) == set()


def test_german_icacls_error_is_reported_per_folder(host):
    doc = compliant_doc(host)
    venv = host.python.venv
    doc["acls"][venv] = {"error": "icacls /save: exit code 5 Zugriff verweigert"}
    finding = judge(host, doc)["permissions"]
    assert not finding.ok
    assert finding.found == f"{venv}: icacls /save: exit code 5 Zugriff verweigert"


# -- permissions: every entry judged by SID ------------------------------------------------------
@pytest.fixture(scope="module")
def venv(host):
    return host.python.venv


@pytest.fixture(scope="module")
def sid(host):
    return virtual_account_sid(host.service.name)


def on_venv(host, sddl_text):
    """The permissions finding with ``sddl_text`` as the venv folder's DACL."""
    return with_acl(host, host.python.venv, sddl_text)


def with_acl(host, path, sddl_text):
    doc = compliant_doc(host)
    doc["acls"][path] = {"sddl": sddl_text}
    return judge(host, doc)["permissions"]


def test_everyone_full_control_explicit_fails(host, venv, sid):
    finding = on_venv(host, f"D:PAI(A;OICI;FA;;;WD)(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)"
                            f"(A;OICI;RPWP;;;{sid})")
    assert not finding.ok
    assert finding.found.startswith(
        "Everyone (S-1-1-0): write data/add file, append/add subfolder, write extended "
        f"attributes, write attributes, delete subfolders and files, delete, change permissions, "
        f"take ownership, explicit, on {venv}"
    )


def test_users_modify_inherited_on_the_venv_fails(host, venv, sid):
    finding = on_venv(host, f"D:AI(A;OICI;0x1200a9;;;{sid})(A;OICIID;FA;;;BA)(A;OICIID;FA;;;SY)"
                            "(A;OICIID;0x1301bf;;;BU)")
    assert not finding.ok
    assert "BUILTIN\\Users (S-1-5-32-545): write data/add file, append/add subfolder" in (
        finding.found
    )
    assert finding.found.endswith(f"delete, inherited, on {venv}")


def test_users_append_inherited_from_the_system_drive_fails(host, venv, sid):
    """Windows Server gives a new folder under C:\\ Users (CI)(AD) and (CI)(WD), inherited."""
    finding = on_venv(host, f"D:AI(A;OICI;0x1200a9;;;{sid})(A;ID;FA;;;BA)(A;OICIIOID;GA;;;BA)"
                            "(A;ID;FA;;;SY)(A;OICIIOID;GA;;;SY)(A;OICIID;0x1200a9;;;BU)"
                            "(A;CIID;LC;;;BU)(A;CIID;DC;;;BU)(A;OICIIOID;GA;;;CO)")
    assert finding.found == (
        f"BUILTIN\\Users (S-1-5-32-545): append/add subfolder, inherited, on {venv}; "
        f"BUILTIN\\Users (S-1-5-32-545): write data/add file, inherited, on {venv}"
    )


def test_a_deny_is_never_a_grant(host, venv, sid):
    """``(D;OICI;0x1200a9;;;<account>)`` takes RX away; it must not count as having it."""
    finding = on_venv(host, f"D:PAI(D;OICI;0x1200a9;;;{sid})(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)")
    assert not finding.ok
    assert f"NT SERVICE\\tacdemo ({sid}): lacks RX" in finding.found
    assert f"deny 0x1200a9 takes RX from NT SERVICE\\tacdemo, explicit, on {venv}" in (
        finding.found
    )


def test_a_deny_of_writes_to_everyone_is_fine(host, sid):
    finding = on_venv(host, "D:PAI(D;OICI;0x116;;;WD)(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)"
                            f"(A;OICI;0x1200a9;;;{sid})")
    assert finding.ok, finding.found


def test_account_with_more_than_read_execute_fails(host, sid):
    finding = on_venv(host, f"D:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;FA;;;{sid})")
    assert finding.found.startswith(f"NT SERVICE\\tacdemo ({sid}): more than RX: write data")


def test_account_rx_only_on_the_folder_itself_lacks_it_below(host, sid):
    finding = on_venv(host, f"D:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;;0x1200a9;;;{sid})")
    assert f"NT SERVICE\\tacdemo ({sid}): lacks RX" in finding.found


def test_creator_owner_inherit_only_is_allowed_but_not_on_the_folder(host, sid):
    base = f"D:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;{sid})"
    assert on_venv(host, base + "(A;OICIIO;GA;;;CO)").ok
    assert not on_venv(host, base + "(A;OICI;FA;;;CO)").ok


def test_missing_folder_and_null_dacl_fail(host):
    logs = desired.log_dirs(host)[0]
    doc = compliant_doc(host)
    del doc["acls"][logs]
    assert "no ACL read" in judge(host, doc)["permissions"].found
    assert "null DACL" in with_acl(host, logs, "D:NO_ACCESS_CONTROL").found


def test_log_folder_needs_modify(host, sid):
    logs = desired.log_dirs(host)[0]
    finding = with_acl(host, logs, f"D:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;FX;;;{sid})")
    assert finding.found == (
        f"NT SERVICE\\tacdemo ({sid}): lacks M (has 0x1200a0 on the folder and everything in "
        f"it) on {logs}"
    )


def test_domain_account_is_judged_by_the_sid_the_host_looked_up():
    """A domain account has no offline SID: the probe resolves it (LookupAccountNameW)."""
    from compliance.requirements import acl_problems
    from winhost.probe import HostFacts, folder_acl

    sid = "S-1-5-21-1004336348-1177238915-682003330-1105"
    acl = folder_acl(f"D:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1301bf;;;{sid})")
    assert acl_problems("D:\\logs", acl, "CONTOSO\\svc-app", sid, "M") == []
    unknown = acl_problems("D:\\logs", acl, "CONTOSO\\svc-app", None, "M")
    assert unknown == [  # without the SID, its entry is just someone who may write
        f"{sid} ({sid}): write data/add file, append/add subfolder, write extended attributes, "
        "write attributes, delete, explicit, on D:\\logs",
        "D:\\logs: the SID of CONTOSO\\svc-app is unknown; cannot judge its rights",
    ]
    facts = HostFacts.model_validate(
        {"host": "h", "base_python": {"exists": True}, "venv": {"path": "v"},
         "service": {"name": "s"}, "account_sids": {"CONTOSO\\svc-app": sid}}
    )
    assert facts.account_sid("contoso\\SVC-APP") == sid


def test_data_folders_need_modify_for_the_service_account(host):
    """NTFS enforces what Wine does not: read/execute on a data folder lets the service read
    but not change its files; the folder must carry M, and provisioning sets M."""
    from provision.hostops import decode_ops
    from provision.steps import Context, permissions
    from tests.support.probe_doc import SDDL_RIGHTS

    data = "C:\\Data\\tacdemo"
    host = host.model_copy(update={"app": host.app.model_copy(update={"data_dirs": [data]})})
    grants = desired.folder_grants(host)[data]
    assert [(g.sid, g.rights) for g in grants][-1] == (
        virtual_account_sid(host.service.name), "M")
    doc = compliant_doc(host)
    assert failing(host, doc) == set()
    sid = virtual_account_sid(host.service.name)
    doc["acls"][data]["sddl"] = doc["acls"][data]["sddl"].replace(
        f"{SDDL_RIGHTS['M']};;;{sid}", f"{SDDL_RIGHTS['RX']};;;{sid}")
    facts = facts_of(host, doc)
    finding = REQUIREMENTS["permissions"](host, facts)
    assert not finding.ok and "lacks M" in finding.found and data in finding.found
    plan = permissions(Context(host, facts))
    assert isinstance(plan, list)
    runs = [op for action in plan for op in decode_ops(action.command.argv)]
    line = next(op for op in runs if op[2] == data)
    assert f"*{sid}:(OI)(CI)M" in line
