r"""tacfleet's controller on Windows: the installed tool under Wine's Windows CPython 3.11,
``C:\tacfleet\venv\Scripts\tacfleet.exe``, reaching a sandbox host over WinRM (NTLM-sealed HTTP on
127.0.0.1) as the Linux controller does, with the same results and exit codes.

The controller lives in the session's sandbox host and drives that same host through its WinRM
endpoint: a Windows admin's workstation and the server it manages are then one Wine prefix,
which saves a second host's start in CI and changes nothing on the wire. Its venv is made with
the image's virtualenv and filled from win_amd64 wheels that pip resolved here
(``tests/support/tool_wheel.py``), as an air-gapped Windows machine would be.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from inventory.private_files import sddl_exposure
from sandbox.host.prefix import WinePrefix
from tests.support.sandbox_hosts import SandboxHost
from tests.support.tool_wheel import install_on_windows, pytest_summary
from winhost.cmdline import command, split_argv
from winhost.connection import Result

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
HOME = "C:\\Users\\Zoë Müller\\tacfleet"  # a checkout path with a space and non-ASCII
TACFLEET = HOME + "\\venv\\Scripts\\tacfleet.exe"
INVENTORY = HOME + "\\hosts.yml"


@dataclass
class Controllers:
    host: SandboxHost
    linux_inventory: Path

    def windows(self, *args: str, inventory: str = INVENTORY, timeout: float = 600) -> Result:
        """``tacfleet.exe <args> --inventory C:\\tacfleet\\hosts.yml`` on the Windows side."""
        with self.host.connect() as conn:
            return conn.run(command(TACFLEET, *args, "--inventory", inventory), timeout=timeout)

    def linux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "invoke", "-r", str(ROOT), *args,
                               "--inventory", str(self.linux_inventory)], capture_output=True,
                              text=True, timeout=600, cwd=self.linux_inventory.parent)


@pytest.fixture(scope="module")
def controllers(sandbox_host: SandboxHost, tmp_path_factory) -> Controllers:
    install_on_windows(sandbox_host, HOME, tmp_path_factory.mktemp("winctl"))
    home = WinePrefix(Path(sandbox_host.info["prefix"])).host_path(HOME)
    shutil.copy(sandbox_host.info["password_file"], home / "password")
    shutil.copy(sandbox_host.info["password_file"], home / "shared-password")
    data = yaml.safe_load(sandbox_host.inventory.read_text())
    entry = data["hosts"]["sandbox"]
    entry["connection"]["password_file"] = HOME + "\\password"
    tac = Path(entry["app"]["tac_source"])
    shutil.copy(tac, home / tac.name)
    entry["app"]["tac_source"] = f"{HOME}\\{tac.name}"
    (home / "hosts.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    entry["connection"]["password_file"] = HOME + "\\shared-password"
    (home / "shared.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    entry["connection"] = {**entry["connection"], "password_env": "TACFLEET_NO_SUCH_PASSWORD"}
    del entry["connection"]["password_file"]
    (home / "env.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    entry["connection"] = {"kind": "local"}  # the host provisions and checks itself
    (home / "local.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with sandbox_host.connect() as conn:
        private = conn.run(_fix_hint(HOME + "\\password", HOME + "\\hosts.yml", conn))
        assert private.rc == 0, private.stdout + private.stderr
    return Controllers(sandbox_host, sandbox_host.inventory)


def _fix_hint(password: str, inventory: str, conn) -> str:
    """The fix tacfleet.exe names for a password file others may read (``C:\\`` lets Users
    read what it holds), as the user pastes it into cmd.exe."""
    refused = conn.run(command(TACFLEET, "plan", "--host", "sandbox", "--inventory", inventory),
                       timeout=600)
    output = refused.stdout + refused.stderr
    line = " ".join(output.split())
    assert refused.rc == 1 and "Traceback" not in output, output  # the host: not checked
    assert (f"sandbox: could not be checked: {password}: host sandbox: connection.password_file: "
            "password file is not private: its ACL lets BUILTIN\\Users read or write it") in line
    assert "à" not in output, output  # "…" in the OEM code page, not cp1252 read as 437
    hint = re.search(r'icacls "[^"]+" /inheritance:r /grant:r \*S-1-5-21-[-0-9]+:F', line)
    assert hint, output
    return hint.group(0)


def _saved_acl(conn, path: str) -> str:
    """``icacls PATH /save`` on the Windows side: the file's DACL as SDDL."""
    saved = HOME + "\\acl.txt"
    done = conn.run(command("C:\\windows\\System32\\icacls.exe", path, "/save", saved))
    assert done.rc == 0, done.stdout + done.stderr
    return conn.run(command(HOME + "\\venv\\Scripts\\python.exe", "-c",
                            f"print(open({saved!r}, 'rb').read().decode('utf-16-le'))")).stdout


def _same_exit(windows: Result, linux: subprocess.CompletedProcess[str]) -> None:
    assert windows.rc == linux.returncode, (windows.stdout + windows.stderr,
                                           linux.stdout + linux.stderr)
    assert "Traceback" not in windows.stderr, windows.stderr



def test_the_windows_controller_runs_tacfleet_from_its_own_venv(controllers):
    with controllers.host.connect() as conn:
        where = conn.run(command(HOME + "\\venv\\Scripts\\python.exe", "-c",
                                 "import sys, tacfleet_cli, pydantic_core, cryptography;"
                                 "sys.stdout.reconfigure(encoding='oem');"  # as a console tool
                                 "print(sys.platform); print(tacfleet_cli.__file__)"),
                         timeout=120)
    assert where.rc == 0, where.stderr  # pydantic-core and cryptography load (Rust-built DLLs)
    platform, module = where.stdout.splitlines()[:2]
    assert platform == "win32"
    assert module.lower().startswith(HOME.lower() + "\\venv\\lib"), module


def test_tampering_is_found_from_windows_and_linux_and_the_host_heals_itself(controllers):
    """One tamper, judged by three controllers: the Windows controller over WinRM, the host
    itself (``connection.kind: local``: no WinRM between tacfleet and the host it runs on) and
    the Linux controller; the host heals itself; then all three find it compliant."""
    local = HOME + "\\local.yml"
    with controllers.host.connect() as conn:
        conn.run(command("C:\\windows\\System32\\sc.exe", "config", "tacdemo", "start=",
                         "demand"), timeout=60)
    for inventory in (INVENTORY, local):
        drift = controllers.windows("drift", "--reports", HOME + "\\reports", "--log", "-",
                                    inventory=inventory)
        assert drift.rc == 1 and "start_type" in drift.stdout, drift.stdout + drift.stderr
    _same_exit(drift, controllers.linux("drift", "--reports", "reports-linux", "--log", "-"))
    plan = controllers.windows("plan", "--host", "sandbox")
    assert plan.rc == 0 and re.search(r"start type\s+would change", plan.stdout), plan.stdout
    healed = controllers.windows("provision", "--host", "sandbox", "--log",
                                 HOME + "\\provision.log", inventory=local)
    assert healed.rc == 0 and re.search(r"start type\s+changed", healed.stdout), (
        healed.stdout + healed.stderr)
    linux = controllers.linux("check", "--host", "sandbox")
    for inventory in (INVENTORY, local):
        windows = controllers.windows("check", "--host", "sandbox", inventory=inventory)
        _same_exit(windows, linux)
        assert windows.rc == 0
        assert pytest_summary(windows.stdout) == pytest_summary(linux.stdout) != ""
    windows = controllers.windows("drift", "--reports", HOME + "\\reports", "--log", "-")
    _same_exit(windows, controllers.linux("drift", "--reports", "reports-linux", "--log", "-"))
    assert windows.rc == 0


def test_a_password_file_others_may_read_is_refused_and_run_logs_are_private(controllers):
    """Windows' rule for secrets (what OpenSSH applies to a private key): only the user,
    SYSTEM and Administrators. A file under ``C:\\`` inherits Users' read; the named fix
    makes it private; the run log tacfleet writes gets that DACL before its first line, and
    the drift reports folder one its files inherit."""
    with controllers.host.connect() as conn:
        hint = _fix_hint(HOME + "\\shared-password", HOME + "\\shared.yml", conn)
        assert conn.run(hint).rc == 0
        user = hint.rsplit("*", 1)[1].removesuffix(":F")
        done = controllers.windows("provision", "--host", "sandbox", "--log",
                                   HOME + "\\private.log", inventory=HOME + "\\shared.yml")
        assert done.rc == 0, done.stdout + done.stderr
        log = _saved_acl(conn, HOME + "\\private.log")
        report = _saved_acl(conn, HOME + "\\reports\\latest.json")  # drift's, by inheritance
    dacl = next(line for line in log.splitlines() if line.startswith("D:"))
    assert dacl.startswith("D:P") and sddl_exposure(dacl, user) is None, log  # protected
    dacl = next(line for line in report.splitlines() if line.startswith("D:"))
    assert sddl_exposure(dacl, user) is None, report


def test_a_bad_inventory_and_an_unknown_host_exit_as_on_linux(controllers):
    windows, linux = (controllers.windows("plan", "--host", "nosuchhost"),
                      controllers.linux("plan", "--host", "nosuchhost"))
    _same_exit(windows, linux)
    assert windows.rc == 2 and "nosuchhost" in windows.stdout + windows.stderr


def test_a_missing_secret_variable_is_one_line_with_the_windows_way_to_set_it(controllers):
    done = controllers.windows("plan", "--host", "sandbox", inventory=HOME + "\\env.yml")
    line = " ".join((done.stdout + done.stderr).split())
    assert done.rc == 1 and "Traceback" not in line, line  # the host: not checked
    assert ("connection.password_env: environment variable TACFLEET_NO_SUCH_PASSWORD is not set; "
            "fix: set TACFLEET_NO_SUCH_PASSWORD=... in cmd") in line, line


def test_a_reports_folder_that_cannot_be_written_is_said_before_any_host_is_checked(
        controllers):
    reports = HOME + "\\hosts.yml\\reports"  # under a file: Windows refuses the folder
    done = controllers.windows("drift", "--reports", reports, "--log", "-")
    line = " ".join((done.stdout + done.stderr).split())
    assert done.rc == 2 and "Traceback" not in line, line
    assert f"drift: --reports {reports}: cannot be written" in line, line


def test_the_host_schedules_its_own_nightly_run_and_that_run_finds_a_tamper(controllers):
    r"""``tacfleet schedule`` registers the task through ``schtasks /Create /XML`` (Wine's
    schtasks takes only that form, as Windows takes it). Wine's Task Scheduler keeps a task's
    settings but drops its trigger, principal and action (measured: ``<Exec/>``) and starts
    nothing, so the test takes the task from ``--show`` and runs its command as Task
    Scheduler would: the host, checking itself, finds its tampered start type."""
    local, reports = HOME + "\\local.yml", HOME + "\\nightly"
    args = ("schedule", "--reports", reports, "--at", "3:15")
    done = controllers.windows(*args, inventory=local)
    assert done.rc == 0 and "scheduled: task 'tacfleet-drift'" in done.stdout, (
        done.stdout + done.stderr)
    stored = WinePrefix(Path(controllers.host.info["prefix"])).host_path(
        "C:\\windows\\system32\\tasks\\tacfleet-drift")
    assert "<MultipleInstancesPolicy>IgnoreNew<" in stored.read_bytes().decode("utf-8-sig")
    shown = controllers.windows(*args, "--show", inventory=local)
    assert shown.rc == 0, shown.stdout + shown.stderr
    task = ET.fromstring(shown.stdout[shown.stdout.index("<Task "):])
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    program = task.findtext("t:Actions/t:Exec/t:Command", namespaces=ns) or ""
    arguments = task.findtext("t:Actions/t:Exec/t:Arguments", namespaces=ns) or ""
    assert program.lower() == (HOME + "\\venv\\Scripts\\python.exe").lower(), program
    assert split_argv(arguments)[2:] == ["drift", "--inventory", local, "--reports", reports]
    assert task.findtext("t:Triggers/t:CalendarTrigger/t:StartBoundary", namespaces=ns,
                         default="").endswith("T03:15:00")
    with controllers.host.connect() as conn:
        conn.run(command("C:\\windows\\System32\\sc.exe", "config", "tacdemo", "start=",
                         "demand"), timeout=60)
        try:
            nightly = conn.run(command(program, *split_argv(arguments)), timeout=600)
        finally:
            conn.run(command("C:\\windows\\System32\\sc.exe", "config", "tacdemo", "start=",
                             "delayed-auto"), timeout=60)
    assert nightly.rc == 1 and "start_type" in nightly.stdout, nightly.stdout + nightly.stderr



def test_kerberos_on_the_windows_controller_is_sspi_and_a_keytab_is_one_line(controllers):
    r"""On Windows, Kerberos is SSPI's (``winhost/kerberos.py``): the transport needs only
    pyspnego's sspilib (installed with it there, no ``gssapi``), and a keytab, which SSPI has no
    use for, is refused before any request with the way that works. The tickets themselves are
    not run here: Wine 8's Kerberos package crashes on the credentials sspilib passes
    (SEC_WINNT_AUTH_IDENTITY_EXW) and answers SEC_E_INCOMPLETE_MESSAGE to its first context
    (measured; sandbox/README.md), so the SSPI status codes are unit-tested
    (``tests/unit/winhost/test_kerberos_sspi.py``)."""
    realm = controllers.host.info["kerberos"]
    home = WinePrefix(Path(controllers.host.info["prefix"])).host_path(HOME)
    shutil.copy(realm["principals"]["tacfleet"]["keytab"], home / "tacfleet.keytab")
    data = yaml.safe_load((home / "hosts.yml").read_text(encoding="utf-8"))
    conn = data["hosts"]["sandbox"]["connection"]
    del conn["password_file"]
    conn.update(transport="kerberos", user=realm["principals"]["tacfleet"]["principal"],
                kerberos_hostname_override=realm["hostname"],
                keytab_file=HOME + "\\tacfleet.keytab")
    (home / "keytab.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    done = controllers.windows("plan", "--host", "sandbox", inventory=HOME + "\\keytab.yml")
    line = " ".join((done.stdout + done.stderr).split())
    assert done.rc == 1 and "Traceback" not in line, line  # the host: not checked
    assert ("sandbox: could not be checked: Kerberos: keytab_file is MIT Kerberos's; "
            "Windows' Kerberos (SSPI) takes a password or the logon session's tickets") in line
    assert "password_env" in line and "needs Python packages" not in line, line
