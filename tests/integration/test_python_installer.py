"""The base Python installed from an installer uploaded from the controller, on the sandbox host.

The host has no Python at ``python.base`` (``C:\\Program Files\\Py Ünï (x86)``), the inventory
names no other, and it has no curl.exe (Wine ships none, as Windows Server 2016): provisioning
reads the installer on this machine, checks its pinned SHA-256, makes a fresh, randomly named
staging folder under ``C:\\Windows\\Temp``, limits it to Administrators and SYSTEM and checks it
is so and empty (icacls), sends the installer into it with what every Windows Server has (its
base64 text over WinRS standard input into ``findstr`` and a file, ``certutil -decode``), checks
its SHA-256 there with ``certutil -hashfile``, makes and protects the install folder (Users read
& execute), runs the installer from the staging folder with python.org's silent options,
removes the folder and converges. A file a local user pre-created at the former fixed path is
never run. The installer, findstr, certutil and icacls are the sandbox's stand-ins (real PE
launchers). Real pywinrm over NTLM on 127.0.0.1; the tests share one host and run in order.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from compliance import desired
from inventory import load_inventory
from inventory.models import Host
from provision.fleet import provision_one as provision
from provision.model import HostRun, Status
from tests.integration.helpers import failing
from winhost.cmdline import split_argv
from winhost.probe import gather_facts

pytestmark = pytest.mark.sandbox

BASE_DIR = "C:\\Program Files\\Py Ünï (x86)"
#: Where the installer went before issue 32: a name any local user could pre-create.
OLD_FIXED_PATH = "C:\\Windows\\Temp\\tacfleet-python-installer.exe"
CMD = "C:\\Windows\\System32\\cmd.exe"
CERTUTIL = "C:\\Windows\\System32\\certutil.exe"
ICACLS = "C:\\Windows\\System32\\icacls.exe"
STAGED = re.compile(r"C:\\Windows\\Temp\\tacfleet-[0-9a-f]{32}")
PLANTED = b"MZ planted by a local user"


def _changed(run: HostRun) -> list[str]:
    return [s.step for s in run.steps if s.status is Status.CHANGED]


def _on_host(sandbox_host, windows_path: str) -> Path:
    """The Linux file behind a path of the host's C: drive, its names matched without regard
    to case as Windows does (Wine's folder is ``windows/temp``)."""
    from sandbox import layout
    from sandbox.host.prefix import WinePrefix

    path = WinePrefix(layout.Paths(sandbox_host.info["name"]).prefix).drive_c
    for name in [n for n in windows_path.partition(":")[2].split("\\") if n]:
        found = [p for p in path.iterdir() if p.name.lower() == name.lower()] if (
            path.is_dir()) else []
        path = found[0] if found else path / name
    return path


@pytest.fixture(scope="module")
def installer(tmp_path_factory) -> Path:
    from sandbox import control

    return control.python_installer_standin(
        tmp_path_factory.mktemp("installer") / "python-3.11-amd64.exe")


def _host(sandbox_host, tmp_path: Path, installer: Path, sha256: str) -> Host:
    data = yaml.safe_load(sandbox_host.inventory.read_text(encoding="utf-8"))
    data["hosts"]["sandbox"]["python"].update(
        base=BASE_DIR + "\\python.exe", installer=str(installer), installer_sha256=sha256)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_inventory(path).host("sandbox")


@pytest.fixture(scope="module")
def host(sandbox_host, installer, tmp_path_factory) -> Iterator[Host]:
    """The sandbox host back to its bare image, the inventory's base Python elsewhere; bare
    again afterwards (its venv, made by that other Python, would block the next module's
    provision with "rebuild with --force-recreate")."""
    from sandbox import control

    control.reset(sandbox_host.info["name"])
    sha256 = hashlib.sha256(installer.read_bytes()).hexdigest()
    yield _host(sandbox_host, tmp_path_factory.mktemp("inventory"), installer, sha256)
    control.reset(sandbox_host.info["name"])


def test_the_host_has_neither_the_base_python_nor_curl(sandbox_host, host):
    with sandbox_host.connect() as conn:
        facts = gather_facts(conn, desired.probe_spec(host))
    assert not facts.base_python.exists
    assert facts.has_curl is False  # a fact: CreateProcess finds no System32\curl.exe


def _staged(step) -> str:
    """The staging folder of a step's commands (the first one makes it)."""
    match = STAGED.search(step.commands[0])
    assert match, step.commands
    return match.group(0)


def _temp_leftovers(sandbox_host) -> list[str]:
    return sorted(p.name for p in _on_host(sandbox_host, "C:\\Windows\\Temp").iterdir()
                  if p.name.startswith("tacfleet-") and p.name != "tacfleet-python-installer.exe")


def test_a_wrong_checksum_sends_nothing_and_installs_nothing(
        sandbox_host, host, installer, tmp_path):
    wrong = _host(sandbox_host, tmp_path, installer, "0" * 64)
    run = provision(wrong)
    step = next(s for s in run.steps if s.step == "base_python")
    assert step.status is Status.FAILED and not step.commands
    actual = hashlib.sha256(installer.read_bytes()).hexdigest()
    assert f"has SHA-256 {actual}, not python.installer_sha256 {'0' * 64}" in step.message
    assert "nothing was sent" in step.message
    assert not _on_host(sandbox_host, BASE_DIR).exists()
    assert _temp_leftovers(sandbox_host) == []


def test_a_local_user_pre_creates_the_old_fixed_path(sandbox_host, host):
    """Before issue 32 the installer went to a fixed name in C:\\Windows\\Temp, where Users may
    create files: a user's file there (which that user owns, and could swap between the check
    and the run) is what the administrator would have run. It is planted now, and left alone."""
    planted = _on_host(sandbox_host, OLD_FIXED_PATH)
    planted.write_bytes(PLANTED)
    assert planted.read_bytes() == PLANTED


def test_an_installer_changed_on_the_way_is_refused_on_the_host_and_removed(
        sandbox_host, host, installer, monkeypatch, tmp_path):
    from provision import installer as controller_side

    data = bytearray(installer.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed after the controller's check
    changed = tmp_path / "changed.exe"
    changed.write_bytes(data)
    monkeypatch.setattr(controller_side, "installer_file", lambda source, sha256: changed)
    run = provision(host)
    step = next(s for s in run.steps if s.step == "base_python")
    assert step.status is Status.FAILED, (step.status, step.message)
    sent, pin = hashlib.sha256(bytes(data)).hexdigest(), host.python.installer_sha256
    assert step.message.startswith("verify the installer's SHA-256 with certutil: the file on "
                                   f"the host has SHA-256 {sent}, not {pin}")
    folder = _staged(step)
    # verified in the staging folder, and never run: neither there nor at the old fixed path
    assert f'"{CERTUTIL}" -hashfile {folder}\\python-installer.exe SHA256' in step.commands
    assert not any(" /quiet " in c for c in step.commands)
    assert step.commands[-1].endswith(f" /d /v:off /c rmdir /s /q {folder}")  # the cleanup
    assert not _on_host(sandbox_host, folder).exists()
    assert not _on_host(sandbox_host, BASE_DIR).exists()  # not even the install folder
    assert _temp_leftovers(sandbox_host) == []
    assert _on_host(sandbox_host, OLD_FIXED_PATH).read_bytes() == PLANTED


def _icacls(sandbox_host, path: str) -> str:
    from winhost.cmdline import command

    with sandbox_host.connect() as conn:
        result = conn.run(command(ICACLS, path))
    assert result.rc == 0, result.stdout + result.stderr
    return result.stdout


def test_the_installer_is_staged_verified_run_and_removed_then_the_host_converges(
        sandbox_host, host):
    run = provision(host)
    assert not run.error and not run.failed, run.error or [
        (s.step, s.message, s.output[-500:]) for s in run.steps if s.status is Status.FAILED]
    step = next(s for s in run.steps if s.step == "base_python")
    assert step.status is Status.CHANGED
    folder = _staged(step)
    installer = folder + "\\python-installer.exe"
    # no Python on the host takes part: cmd.exe, icacls, certutil, the installer itself
    assert {split_argv(c)[0] for c in step.commands} == {CMD, ICACLS, CERTUTIL, installer}
    assert step.commands[:3] == [
        f'"{CMD}" /d /v:off /c mkdir {folder}',
        f'"{ICACLS}" {folder} /inheritance:r /grant:r *S-1-5-32-544:(OI)(CI)F '
        "*S-1-5-18:(OI)(CI)F",
        f'"{ICACLS}" {folder} /T']  # limited to administrators, checked empty: then written
    assert step.commands[3] == (f'"{CMD}" /d /v:off /c C:\\Windows\\System32\\findstr.exe '
                                f"/l /v _ >{installer}.b64")  # fed over WinRS standard input
    assert step.commands[4] == f'"{CERTUTIL}" -f -decode {installer}.b64 {installer}'
    assert step.commands[5] == f'"{CERTUTIL}" -hashfile {installer} SHA256'
    assert step.commands[6] == (f'"{CMD}" /d /v:off /c if not exist "{BASE_DIR}" '
                                f'mkdir "{BASE_DIR}"')
    assert step.commands[7] == f'"{ICACLS}" "{BASE_DIR}" /setowner *S-1-5-32-544'
    assert step.commands[9] == f'"{ICACLS}" "{BASE_DIR}" /T'
    assert step.commands[10].startswith(f'"{installer}" /quiet InstallAllUsers=1 PrependPath=0')
    assert step.commands[11] == f'"{CMD}" /d /v:off /c rmdir /s /q {folder}'
    assert len(step.commands) == 12
    assert _on_host(sandbox_host, BASE_DIR + "\\python.exe").is_file()
    assert not _on_host(sandbox_host, folder).exists() and _temp_leftovers(sandbox_host) == []
    assert _on_host(sandbox_host, OLD_FIXED_PATH).read_bytes() == PLANTED  # never run
    assert failing(host) == {}
    with sandbox_host.connect() as conn:
        facts = gather_facts(conn, desired.probe_spec(host))
    assert facts.base_python.executable.lower() == (BASE_DIR + "\\python.exe").lower()
    assert facts.has_curl is False  # the probe's own file check agrees


def test_no_local_user_may_plant_a_pth_in_the_installed_python(sandbox_host, host):
    """The install folder was protected before the installer wrote into it: site-packages
    inherits Administrators and SYSTEM full, Users read & execute, nothing else. A base Python
    put under C:\\ otherwise (a copy, as a hand install without care) inherits C:\\'s
    ``BUILTIN\\Users:(CI)(AD)`` and ``(CI)(WD)``: there a user could plant a .pth."""
    from sandbox import control

    site = BASE_DIR + "\\Lib\\site-packages"
    shown = _icacls(sandbox_host, site)
    rights = sorted(line.strip().rpartition(":")[2] for line in shown.splitlines()[:-1]
                    if line.strip() and ":" in line)
    assert rights == ["(I)(OI)(CI)(F)", "(I)(OI)(CI)(F)", "(I)(OI)(CI)(RX)"], shown
    assert "(AD)" not in shown and "(WD)" not in shown

    control.install_python(sandbox_host.info["name"], "C:\\PyByHand")
    unprotected = _icacls(sandbox_host, "C:\\PyByHand\\Lib\\site-packages")
    assert "BUILTIN\\Users:(I)(CI)(AD)" in unprotected  # the attack works there


def test_a_second_run_changes_nothing(host):
    run = provision(host)
    assert not run.error and not run.failed
    assert _changed(run) == []


def test_an_install_folder_a_user_filled_first_is_refused_and_nothing_runs(
        sandbox_host, host, tmp_path, installer):
    """A user who creates the install folder first (Users may create folders in C:\\) and puts
    a .pth in it: tacfleet takes the folder over (owner Administrators, its DACL), finds it
    not empty, and runs nothing; the user's folder is left for the administrator to look at,
    the staging folder is removed."""
    data = yaml.safe_load(sandbox_host.inventory.read_text(encoding="utf-8"))
    data["hosts"]["sandbox"]["python"].update(
        base="C:\\PyPlanted\\python.exe", installer=str(installer),
        installer_sha256=host.python.installer_sha256)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    other = load_inventory(path).host("sandbox")
    planted = _on_host(sandbox_host, "C:\\PyPlanted") / "Lib" / "site-packages" / "evil.pth"
    planted.parent.mkdir(parents=True)
    planted.write_text("import os; os.system('whoami > C:\\\\owned.txt')\n")
    run = provision(other)
    step = next(s for s in run.steps if s.step == "base_python")
    assert step.status is Status.FAILED
    assert step.message.startswith(
        "check the install folder is empty and only administrators may change it: the install "
        "folder C:\\PyPlanted is not empty (C:\\PyPlanted\\Lib "), step.message
    assert "evil.pth" in step.message
    assert not any(" /quiet " in c for c in step.commands)
    assert not _on_host(sandbox_host, "C:\\PyPlanted\\python.exe").exists()
    assert planted.is_file() and _temp_leftovers(sandbox_host) == []
