r"""Windows as it really is: a German-language host whose every path and name is awkward.

One sandbox host, started with ``locale="de_DE"`` (its programs print German in cp850), gets its
base Python at ``C:\Program Files\Py (x86) & 100% Ünï`` as an administrator's install would put it;
the inventory puts the venv, the app folder and the tac file (so the app's arguments) under names
holding spaces, ``(``, ``)``, ``&``, ``!``, ``^``, ``'`` and non-ASCII letters, and the display
name and description hold ``%PATH%``, ``!x!`` and ``^``. (``%`` is refused in the paths NSSM keeps
as REG_EXPAND_SZ, since NSSM expands them at start: ``tests/unit/inventory/test_inventory.py``.)
The scenario runs in order (each test needs the previous one's host):
bare → compliant in one provision, ``pytest checks`` passes, a second provision changes nothing,
``invoke drift`` exits 0, and a folder where ``BUILTIN\Users`` may write is found and healed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import tacfleet_cli as cli
from compliance import desired
from inventory import load_inventory
from inventory.models import Host
from provision.fleet import provision_one
from provision.model import Status
from tests.integration.helpers import assert_pytest_checks_pass, failing
from tests.support.tool_wheel import install_on_windows
from winhost.cmdline import command, system32
from winhost.probe import gather_facts
from winhost.winrm_connection import WinRMConnection

pytestmark = pytest.mark.sandbox
ROOT = Path(__file__).resolve().parents[2]

BASE_DIR = "C:\\Program Files\\Py (x86) & 100% Ünï"
VENV = "C:\\Envs\\Tac (&) É !x! ^"
APP_DIR = "C:\\Apps\\Tac & Co (Ü) !x! ^ 'q'"
DISPLAY_NAME = "Tac & Co (Ü) %PATH% !x! ^"
DESCRIPTION = "Runs 'tacdemo' & more: 100% (Ünï) %PATH% !x! ^ \"quoted\""


class AwkwardHost:
    def __init__(self, info: dict, inventory: Path) -> None:
        self.info = info
        self.inventory = inventory

    @property
    def host(self) -> Host:
        return load_inventory(self.inventory).host("sandbox")

    def connect(self) -> WinRMConnection:
        from pydantic import SecretStr

        password = Path(self.info["password_file"]).read_text().strip()
        return WinRMConnection(self.info["name"], self.info["endpoint"], user=self.info["user"],
                               password=SecretStr(password))


@pytest.fixture(scope="module")
def awkward(german_host, tmp_path_factory) -> AwkwardHost:
    """The session's German host (bare: the modules before only read it), with the base Python
    at ``BASE_DIR`` and an inventory of awkward names."""
    from sandbox import control

    info = german_host.info
    base = control.install_python(info["name"], BASE_DIR)
    path = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    control.write_inventory(info, path, app_port=control.free_port_pair())
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entry = data["hosts"]["sandbox"]
    entry["python"].update(base=base, venv=VENV)
    entry["app"]["tac_file"] = APP_DIR + "\\my_tacfile.tac"
    entry["service"].update(display_name=DISPLAY_NAME, description=DESCRIPTION)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return AwkwardHost(info, path)


def test_the_host_speaks_german(awkward):
    with awkward.connect() as conn:
        missing = conn.run(command(system32("reg.exe"), "query", "HKLM\\SOFTWARE\\tacfleet-none"))
        facts = gather_facts(conn, desired.probe_spec(awkward.host))
    assert missing.rc == 1
    assert "Schlüssel" in missing.stderr + missing.stdout, missing
    assert facts.codepages.oem == 850, facts.codepages


def test_bare_to_compliant_in_one_provision(awkward):
    host = awkward.host
    first = provision_one(host)
    assert not first.error and first.count(Status.FAILED) == 0, [
        (s.step, s.message, s.output) for s in first.steps if s.status is Status.FAILED
    ] or first.error
    assert failing(host) == {}
    with awkward.connect() as conn:
        facts = gather_facts(conn, desired.probe_spec(host))
    # Every value arrived as typed: no %PATH% expanded, no ! or ^ eaten, no quote lost.
    assert facts.service.registry.get("DisplayName") == DISPLAY_NAME
    assert facts.service.description == DESCRIPTION
    assert facts.service.param("AppParameters") == desired.app_parameters(host)
    assert VENV + "\\Scripts\\twistd.exe" in str(facts.service.param("AppParameters"))
    assert facts.service.param("AppDirectory") == APP_DIR


def test_pytest_checks_pass(awkward):
    assert_pytest_checks_pass(awkward.inventory)


def test_second_provision_changes_nothing(awkward):
    second = provision_one(awkward.host)
    assert not second.error and second.changed == 0, second.summary


def test_drift_exits_0(awkward, tmp_path):
    assert cli.drift(str(awkward.inventory), "sandbox", reports=str(tmp_path / "reports")) == 0


def test_a_folder_users_may_write_to_is_found_and_healed(awkward):
    host = awkward.host
    with awkward.connect() as conn:
        grant = conn.run(command(system32("icacls.exe"), VENV, "/grant", "*S-1-5-32-545:(OI)(CI)M"))
    assert grant.rc == 0, grant
    found = failing(host)
    assert set(found) == {"permissions"}, found
    assert "S-1-5-32-545" in found["permissions"], found
    healed = provision_one(host)
    assert [s.step for s in healed.steps if s.status is Status.CHANGED] == ["permissions"], (
        healed.summary)
    assert failing(host) == {}


def test_a_windows_controller_here_writes_its_lines_in_code_page_850(german_host,
                                                                    tmp_path_factory):
    """tacfleet.exe on this German Windows, read through a pipe as cmd, PowerShell and WinRM
    read a console program: in the OEM code page (850), not Python's ANSI one (1252, where "ë"
    would come out as "Ù"); a letter cp850 lacks is "?", not a UnicodeEncodeError. A bad
    inventory path holding both is one line and exit 2, as on Linux."""
    home = "C:\\Users\\Zoë Müller\\tacfleet"
    tacfleet = install_on_windows(german_host, home, tmp_path_factory.mktemp("winctl-de"))
    missing = home + "\\Zoë 日本.yml"
    with german_host.connect() as conn:
        conn.oem_codepage = 850  # the host's, as test_the_host_speaks_german found it
        done = conn.run(command(tacfleet, "plan", "--host", "sandbox", "--inventory", missing),
                        timeout=300)
    output = done.stdout + done.stderr
    assert done.rc == 2 and "Traceback" not in output, output
    assert " ".join(output.split()) == (  # one message (rich may wrap it at 80 columns)
        f"{home}\\Zoë ??.yml: file not found; fix: create it, or pass --inventory PATH / set "
        "TACFLEET_INVENTORY"), output
