"""The base Python installed from an installer uploaded from the controller, on the sandbox host.

The host has no Python at ``python.base`` (``C:\\Program Files\\Py Ünï (x86)``), the inventory
names no other, and it has no curl.exe (Wine ships none, as Windows Server 2016): provisioning
reads the installer on this machine, checks its pinned SHA-256, sends it with what every Windows
Server has (its base64 text over WinRS standard input into ``findstr`` and a file,
``certutil -decode``), checks its SHA-256 there with ``certutil -hashfile``, runs it with
python.org's silent options and converges. The installer, findstr and certutil are the
sandbox's stand-ins (real PE launchers). Real pywinrm over NTLM on 127.0.0.1; the tests share
one host and run in order.
"""

from __future__ import annotations

import hashlib
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
INSTALLER_ON_HOST = "C:\\Windows\\Temp\\tacfleet-python-installer.exe"
CMD = "C:\\Windows\\System32\\cmd.exe"
CERTUTIL = "C:\\Windows\\System32\\certutil.exe"


def _changed(run: HostRun) -> list[str]:
    return [s.step for s in run.steps if s.status is Status.CHANGED]


def _on_host(sandbox_host, windows_path: str) -> Path:
    """The Linux file behind a path of the host's C: drive (to look, never to change)."""
    from sandbox import layout
    from sandbox.host.prefix import WinePrefix

    return WinePrefix(layout.Paths(sandbox_host.info["name"]).prefix).host_path(windows_path)


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
    assert not _on_host(sandbox_host, INSTALLER_ON_HOST).exists()


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
    assert not any(c.startswith(f'"{INSTALLER_ON_HOST}"') for c in step.commands)  # never run
    assert step.commands[-1].startswith(f'"{CMD}" /d /c del /f /q {INSTALLER_ON_HOST} ')
    assert not _on_host(sandbox_host, BASE_DIR).exists()
    assert not _on_host(sandbox_host, INSTALLER_ON_HOST).exists()
    assert not _on_host(sandbox_host, INSTALLER_ON_HOST + ".b64").exists()


def test_the_installer_is_uploaded_verified_run_and_removed_then_the_host_converges(
        sandbox_host, host):
    run = provision(host)
    assert not run.error and not run.failed, run.error or [
        (s.step, s.message, s.output[-500:]) for s in run.steps if s.status is Status.FAILED]
    step = next(s for s in run.steps if s.step == "base_python")
    assert step.status is Status.CHANGED
    # no Python on the host takes part: cmd.exe's echo, certutil, the installer itself
    assert {split_argv(c)[0] for c in step.commands} == {CMD, CERTUTIL, INSTALLER_ON_HOST}
    assert step.commands[0] == (f'"{CMD}" /d /c C:\\Windows\\System32\\findstr.exe /l /v _ '
                                f'>{INSTALLER_ON_HOST}.b64')  # fed over WinRS standard input
    assert len(step.commands) == 5  # send, decode, verify, install, remove
    assert f'"{CERTUTIL}" -f -decode {INSTALLER_ON_HOST}.b64 {INSTALLER_ON_HOST}' in step.commands
    assert f'"{CERTUTIL}" -hashfile {INSTALLER_ON_HOST} SHA256' in step.commands
    assert any(c.startswith(f'"{INSTALLER_ON_HOST}" /quiet InstallAllUsers=1 PrependPath=0')
               or c.startswith(f"{INSTALLER_ON_HOST} /quiet InstallAllUsers=1 PrependPath=0")
               for c in step.commands), step.commands
    assert _on_host(sandbox_host, BASE_DIR + "\\python.exe").is_file()
    assert not _on_host(sandbox_host, INSTALLER_ON_HOST).exists()
    assert not _on_host(sandbox_host, INSTALLER_ON_HOST + ".b64").exists()
    assert failing(host) == {}
    with sandbox_host.connect() as conn:
        facts = gather_facts(conn, desired.probe_spec(host))
    assert facts.base_python.executable.lower() == (BASE_DIR + "\\python.exe").lower()
    assert facts.has_curl is False  # the probe's own file check agrees


def test_a_second_run_changes_nothing(host):
    run = provision(host)
    assert not run.error and not run.failed
    assert _changed(run) == []
