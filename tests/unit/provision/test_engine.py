"""Repair follows the failing requirement; every command a Command by full path; the engine's
own logic (``forced_by``, "applied, but still", check mode after a blocked step), driven by a
fake connection that replays probe documents and records the commands sent."""

from __future__ import annotations

import copy
import ntpath
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance import desired
from compliance.finding import Verdict
from compliance.requirements import REQUIREMENTS, Requirement
from inventory import Host, load_inventory
from provision import engine
from provision.hostops import decode_ops, is_host_ops
from provision.model import Blocked, Status
from provision.steps import STEPS, Context
from tests.support import ROOT
from tests.support.probe_doc import compliant_doc, missing_service, out, parameters, service_key
from winhost.cmdline import Command
from winhost.connection import ConnectionStats, Result
from winhost.probe import HostFacts, bare_facts, facts_from_probe


@pytest.fixture(scope="module")
def host():
    base = load_inventory(ROOT / "inventory" / "hosts.yml").host("sandbox")
    return base.model_copy(update={"python": base.python.model_copy(
        update={"installer": "https://example.org/python-3.11.9-amd64.exe",
                "installer_sha256": "a" * 64})})


def facts_of(host, doc):
    return facts_from_probe(host.name, desired.probe_spec(host), doc)


def drifted_doc(host):
    """A provisioned host after hand-made damage to nearly everything."""
    doc = compliant_doc(host)
    doc["venv"]["cfg"] = {"home": "C:\\Python39", "version_info": "3.9.13"}
    doc["outputs"]["twistd_help"] = out("ModuleNotFoundError: No module named 'twisted'", rc=1)
    doc["files"][host.nssm.path]["sha256"] = "1" * 64
    doc["files"][host.app.tac_file]["sha256"] = "2" * 64
    doc["dirs"] = {d: False for d in doc["dirs"]}
    doc["service"]["key"] = service_key(host, Start=3, ObjectName="LocalSystem",
                                        DisplayName="%PATH%", Description="!x! ^ & (")
    doc["service"]["parameters"] = {**parameters(host), "AppDirectory": "C:\\Elsewhere"}
    doc["service"]["scm"]["state"] = 1
    doc["acls"] = {p: {"sddl": "D:AI(A;OICI;FA;;;WD)(A;OICIID;0x1301bf;;;BU)"}
                   for p in doc["acls"]}
    doc["port_open"] = False
    return doc


def commands_of(plans) -> list[Command]:
    return [a.command for p in plans if not isinstance(p, Blocked) for a in p]


def all_plans(host, facts, **options):
    ctx = Context(host, facts, **options)
    return [step.actions(ctx) for step in STEPS]


def _absolute(program: str) -> bool:
    drive, rest = ntpath.splitdrive(program)
    return bool(drive) and rest.startswith("\\")


@pytest.mark.parametrize("state", ["bare", "drifted"])
def test_every_command_is_a_program_by_full_path(host, state):
    facts = (bare_facts(host.name, desired.probe_spec(host)) if state == "bare"
             else facts_of(host, drifted_doc(host)))
    plans = all_plans(host, facts, force_recreate=True, adopt=True)
    commands = commands_of(plans)
    assert len(commands) >= 10
    # cmd.exe only before the host has a Python: mkdir/rmdir of the installer's staging folder
    # and of the install folder (provision.staging); every other step runs programs directly
    assert all(ntpath.basename(c.program).lower() != "cmd.exe" for c in commands_of(plans[1:]))
    programs = []
    for cmd in commands:
        assert isinstance(cmd, Command)
        programs.append(cmd.program)
        if is_host_ops(cmd):
            for op in decode_ops(cmd.argv):
                if op[0] in ("run", "settle"):
                    programs.append(op[1])
    for program in programs:
        assert _absolute(program), program
    system = {ntpath.basename(p).lower(): p for p in programs if "System32" in p}
    assert system["sc.exe"] == "C:\\Windows\\System32\\sc.exe"
    assert {"icacls.exe", "sc.exe"} <= set(system)
    if state == "bare":
        assert system["curl.exe"] == "C:\\Windows\\System32\\curl.exe"


def test_system_root_comes_from_the_host(host):
    doc = drifted_doc(host)
    doc["system_root"] = "D:\\WINNT"
    commands = commands_of(all_plans(host, facts_of(host, doc), force_recreate=True))
    lines = " ".join(c.line for c in commands)
    assert "D:\\WINNT\\System32\\sc.exe" in lines and "C:\\Windows\\System32" not in lines


def test_values_reach_nssm_as_typed(host):
    """A display name or description with %PATH%, !x! and ^ goes as one argv item, no cmd.exe."""
    tricky = host.model_copy(update={"service": host.service.model_copy(
        update={"display_name": "Demo %PATH% !x! ^ & (1)", "description": "100% \"q\" é漢"})})
    ctx = Context(tricky, facts_of(host, compliant_doc(host)))
    (action,) = STEPS[[s.name for s in STEPS].index("service")].actions(ctx)
    ops = decode_ops(action.command.argv)
    assert ("run", tricky.nssm.path, "set", "tacdemo", "DisplayName",
            "Demo %PATH% !x! ^ & (1)") in ops
    assert ("run", tricky.nssm.path, "set", "tacdemo", "Description", '100% "q" é漢') in ops
    assert "%PATH%" not in action.command.argv[3]  # the script's source holds no value


# -- repair follows the failing requirement ---------------------------------------------------
OWNERS = {r: [s.name for s in STEPS if r in s.requirements] for r in REQUIREMENTS}


def test_every_requirement_is_repaired_by_exactly_one_step():
    assert {r: o for r, o in OWNERS.items() if len(o) != 1} == {}
    assert {r for s in STEPS for r in s.requirements} <= set(REQUIREMENTS)


@contextmanager
def failing(requirements: set[str]) -> Iterator[None]:
    """These requirements fail, whatever the facts say (the facts stay compliant)."""
    saved = dict(REQUIREMENTS)
    for r in requirements:
        def broken(host: Host, facts: HostFacts) -> Verdict:
            return Verdict(False, "ok", "broken", "repair it")

        REQUIREMENTS[r] = Requirement(r, saved[r].area, saved[r].title, broken)
    try:
        yield
    finally:
        REQUIREMENTS.clear()
        REQUIREMENTS.update(saved)


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(sorted(REQUIREMENTS)), min_size=1))
def test_a_failing_requirement_makes_its_step_act_even_when_its_own_look_is_fine(host_plain,
                                                                               broken):
    facts = facts_of(host_plain, compliant_doc(host_plain))
    with failing(broken):
        ctx = Context(host_plain, facts)
        for step in STEPS:
            if not set(step.requirements) & broken:
                continue
            plan = step.actions(ctx)
            if isinstance(plan, Blocked):
                assert plan.message.strip(), step.name
            else:
                assert plan, f"{step.name} plans nothing while {broken} fail"


@pytest.fixture(scope="module")
def host_plain():
    return load_inventory(ROOT / "inventory" / "hosts.yml").host("sandbox")


def test_twistd_broken_with_metadata_present_force_reinstalls(host):
    """Issue 16 item 9: drift names twistd_help, pip's metadata is fine: reinstall, not ok."""
    doc = compliant_doc(host)
    doc["outputs"]["twistd_help"] = out("", rc=1)
    ctx = Context(host, facts_of(host, doc))
    packages = next(s for s in STEPS if s.name == "packages")
    assert engine.failing(packages.findings(ctx))
    *_, install = packages.actions(ctx)
    assert "--force-reinstall" in install.command.argv
    assert install.command.program == desired.venv_python(host)


def test_a_damaged_tac_file_is_uploaded_even_if_the_facts_show_the_right_hash(host_plain):
    with failing({"tac_file"}):
        ctx = Context(host_plain, facts_of(host_plain, compliant_doc(host_plain)))
        (action,) = next(s for s in STEPS if s.name == "app_files").actions(ctx)
    assert [op[0] for op in decode_ops(action.command.argv)] == ["receive", "verify", "replace"]
    assert b"".join(action.stdin or ()) == host_plain.app.tac_source.read_bytes()


@pytest.mark.parametrize("broken", ["logs_rotated", "restart_policy", "display_name"])
def test_the_service_step_sets_the_desired_values_of_the_failing_requirement(host_plain, broken):
    """One source: the step writes ``desired.nssm_settings``' group of what fails, no more."""
    with failing({broken}):
        ctx = Context(host_plain, facts_of(host_plain, compliant_doc(host_plain)))
        (action,) = next(s for s in STEPS if s.name == "service").actions(ctx)
    sets = {op[4]: op[5:] for op in decode_ops(action.command.argv)}
    want = desired.nssm_settings(host_plain)[broken]
    assert sets == {name: ("Default", str(value)) if name == "AppExit" else (str(value),)
                    for name, value in want.items()}


# -- permissions: one run makes a widened folder compliant -------------------------------------
def test_permissions_turn_widened_folders_compliant_in_one_run(host, tmp_path):
    """Users' inherited write/append and an explicit Everyone:(OI)(CI)F go in one icacls each,
    applied by the sandbox's icacls stand-in (Windows' DACL semantics) and judged by SID."""
    icacls = pytest.importorskip("sandbox.standin.tacfleet_standins.icacls")
    store = icacls.Store(str(tmp_path / "acls.json"))
    folders = {}
    for i, path in enumerate(desired.folder_grants(host)):
        local = tmp_path / "C" / str(i)
        local.mkdir(parents=True)
        folders[path] = str(local)
        icacls.apply(str(local), ["/grant", "*S-1-1-0:(OI)(CI)F"], store, "en")

    def doc_now():
        doc = compliant_doc(host)
        doc["acls"] = {}
        for path, local in folders.items():
            aces, protected = store.dacl(local)
            doc["acls"][path] = {"sddl": icacls.sddl(aces, protected)}
        return doc

    before = facts_of(host, doc_now())
    finding = REQUIREMENTS["permissions"](host, before)
    assert not finding.ok and "S-1-1-0" in finding.found and "S-1-5-32-545" in finding.found
    (action,) = next(s for s in STEPS if s.name == "permissions").actions(Context(host, before))
    runs = decode_ops(action.command.argv)
    assert len(runs) == len(folders)
    for op, program, path, *args in runs:
        assert (op, program) == ("run", "C:\\Windows\\System32\\icacls.exe")
        assert args[:2] == ["/inheritance:r", "/grant:r"]
        assert "/remove:g" in args and "*S-1-1-0" in args
        icacls.apply(folders[path], args, store, "en")
    after = REQUIREMENTS["permissions"](host, facts_of(host, doc_now()))
    assert after.ok, after.found


# -- the engine, over a fake connection --------------------------------------------------------
class FakeConnection:
    """Replays probe documents (one per probe) and records every other command sent."""

    def __init__(self, host, docs, rcs=None):
        self.host = host.name
        self.stats = ConnectionStats()
        self.sent: list[Command] = []
        self._docs = list(docs)
        self._rcs = rcs or {}

    def probe(self, spec):
        return facts_from_probe(self.host, spec, self._docs.pop(0) if len(self._docs) > 1
                                else self._docs[0])

    def run(self, command, *, timeout=None, idempotent=False, stdin=None):
        assert isinstance(command, Command), command
        self.sent.append(command)
        self.stats.commands += 1
        return Result(self._rcs.get(len(self.sent), 0), "", "")

    def close(self):
        pass


@pytest.fixture
def replay(monkeypatch, host):
    def make(docs, **kwargs):
        connection = FakeConnection(host, docs, **kwargs)
        monkeypatch.setattr(engine, "gather_facts", lambda conn, spec: conn.probe(spec))
        monkeypatch.setattr(engine, "SETTLE_POLL", 0.0)
        return connection
    return make


def statuses(run):
    return {s.step: s.status for s in run.steps if s.status not in (Status.OK, Status.SKIPPED)}


def test_a_changed_tac_file_forces_a_restart_then_all_is_verified(host, replay):
    drifted = compliant_doc(host)
    drifted["files"][host.app.tac_file]["sha256"] = "2" * 64
    connection = replay([drifted, compliant_doc(host)])
    run = engine.provision_host(host, connection)
    assert statuses(run) == {"app_files": Status.CHANGED, "running": Status.CHANGED}
    restart = next(s for s in run.steps if s.step == "running")
    assert restart.reasons == ["follows changes that need a restart: tac_file"]
    assert restart.restart.startswith("restart: yes, because tac_file: twistd reads")
    ops = decode_ops(connection.sent[-1].argv)
    assert [op[:3] for op in ops] == [("run", "C:\\Windows\\System32\\sc.exe", "stop"),
                                      ("settle", "C:\\Windows\\System32\\sc.exe", "tacdemo"),
                                      ("run", "C:\\Windows\\System32\\sc.exe", "start")]
    assert not run.failed


def test_applied_but_still_failing_stops_the_run(host, replay):
    doc = compliant_doc(host)
    doc["service"]["key"] = service_key(host, Start=3)
    connection = replay([doc, doc])  # the change did not stick
    run = engine.provision_host(host, connection)
    failed = run.steps[-1]
    assert failed.step == "start_type" and failed.status is Status.FAILED
    assert failed.message.startswith("applied, but still: ")
    assert len(connection.sent) == 1 and run.failed


def test_a_failing_command_fails_its_step_with_the_exit_code(host, replay):
    doc = compliant_doc(host)
    doc["service"]["key"] = service_key(host, Start=3)
    run = engine.provision_host(host, replay([doc], rcs={1: 1060}))
    assert run.steps[-1].status is Status.FAILED and run.steps[-1].rc == 1060


def test_check_mode_decides_a_blocked_step_after_earlier_changes(host, replay):
    doc = compliant_doc(host)
    doc["files"][host.app.tac_file]["sha256"] = "2" * 64  # app_files would change
    doc["service"]["parameters"] = {**parameters(host), "Application": "C:\\Other\\app.exe"}
    connection = replay([doc])
    run = engine.provision_host(host, connection, check_only=True)
    service = next(s for s in run.steps if s.step == "service")
    assert service.status is Status.WOULD_CHANGE
    assert service.message == "decided after the earlier changes are applied"
    assert connection.sent == []  # check mode changes nothing

    alone = compliant_doc(host)
    alone["service"]["parameters"] = doc["service"]["parameters"]
    run = engine.provision_host(host, replay([alone]), check_only=True)
    assert run.steps[-1].step == "service" and run.steps[-1].status is Status.WOULD_FAIL
    assert "--adopt" in run.steps[-1].message


def test_a_missing_service_is_installed_and_configured_in_two_commands(host, replay):
    bare_service = missing_service(copy.deepcopy(compliant_doc(host)))
    connection = replay([bare_service, compliant_doc(host)])
    run = engine.provision_host(host, connection)
    service = next(s for s in run.steps if s.step == "service")
    assert service.status is Status.CHANGED and len(service.commands) == 2
    assert connection.sent[0].argv[:3] == (host.nssm.path, "install", "tacdemo")
    assert ntpath.basename(connection.sent[1].program) == "python.exe"


def test_paths_with_spaces_parentheses_ampersand_percent_and_accents_go_as_typed(host):
    """Issue 10's strange host: every command line splits back to exactly its argv."""
    from winhost.cmdline import split_argv

    odd = "C:\\Program Files (x86)\\Tâc & Co 100%\\!x! ^"
    weird = host.model_copy(update={
        "python": host.python.model_copy(update={
            "base": f"{odd}\\Python 3.11\\python.exe", "venv": f"{odd}\\venv é漢"}),
        "app": host.app.model_copy(update={
            "app_directory": f"{odd}\\app", "tac_file": f"{odd}\\app\\my (1).tac"}),
        "service": host.service.model_copy(update={
            "stdout": f"{odd}\\logs\\out.log", "stderr": f"{odd}\\logs\\err.log"}),
        "nssm": host.nssm.model_copy(update={"path": f"{odd}\\venv é漢\\Scripts\\nssm.exe"}),
    })
    facts = bare_facts(weird.name, desired.probe_spec(weird))
    commands = commands_of(all_plans(weird, facts))
    assert len(commands) >= 10
    for cmd in commands:
        assert split_argv(cmd.line) == list(cmd.argv)
    lines = "\n".join(c.line for c in commands)
    assert f"{odd}\\Python 3.11\\python.exe" in lines and "^" in lines


# -- restarts only when a change needs one (issue 11) ------------------------------------------
def test_a_display_name_change_is_applied_without_a_restart(host, replay):
    drifted = compliant_doc(host)
    drifted["service"]["key"] = service_key(host, DisplayName="Renamed by hand")
    connection = replay([drifted, compliant_doc(host)])
    run = engine.provision_host(host, connection)
    assert statuses(run) == {"service": Status.CHANGED}
    service = next(s for s in run.steps if s.step == "service")
    assert service.restart.startswith("restart: no, because display_name: Windows applies")
    sent = [op for c in connection.sent if is_host_ops(c) for op in decode_ops(c.argv)]
    assert not any("stop" in op for op in sent), sent


def test_a_host_without_the_service_gets_no_restart_notes(host, replay):
    """Nothing runs, so nothing is restarted: the plan of a new service stays short."""
    bare_service = missing_service(copy.deepcopy(compliant_doc(host)))
    run = engine.provision_host(host, replay([bare_service]), check_only=True)
    changing = [s for s in run.steps if s.status is Status.WOULD_CHANGE]
    assert {s.step for s in changing} >= {"service", "running"}
    assert [s.restart for s in changing] == [""] * len(changing)


def test_the_plan_says_why_a_changed_application_needs_a_restart(host, replay):
    drifted = compliant_doc(host)
    drifted["service"]["parameters"]["AppDirectory"] = "C:\\elsewhere"
    run = engine.provision_host(host, replay([drifted]), check_only=True)
    assert statuses(run) == {"service": Status.WOULD_CHANGE, "running": Status.WOULD_CHANGE}
    service, running = (next(s for s in run.steps if s.step == n) for n in ("service", "running"))
    assert service.restart == "restart: yes, because app_directory: AppDirectory: NSSM reads it " \
                              "when the service starts"
    assert running.reasons == ["follows changes that need a restart: app_directory"]


def test_an_nssm_replaced_in_use_restarts_the_service_itself_once(host, replay):
    drifted = compliant_doc(host)
    drifted["files"][host.nssm.path]["sha256"] = "3" * 64
    connection = replay([drifted, compliant_doc(host)])
    run = engine.provision_host(host, connection)
    assert statuses(run) == {"nssm": Status.CHANGED}  # no second restart by the running step
    ops = [op[0] for op in decode_ops(connection.sent[-1].argv)]
    assert ops[ops.index("stop"):] == ["stop", "run", "start"] or \
        ops[ops.index("verify"):] == ["verify", "stop", "replace", "start"]
