"""Least privilege from the first command (issue 32, the host layout): the ``protect`` and
``receive`` host ops and the lock script's owner and takeover rules, run for real under this
Python (owners by Unix uid here: a file of another uid is a local user's)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provision.hostops import host_ops

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another uid needs root")
FAKE_ICACLS = """\
import json, os, sys
with open(os.environ["FAKE_ICACLS_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if "/setowner" in sys.argv:
    os.chown(sys.argv[1], os.geteuid(), os.getegid())
sys.exit(int(os.environ.get("FAKE_ICACLS_RC", "0")))
"""


@pytest.fixture
def icacls(tmp_path, monkeypatch):
    program = tmp_path / "icacls"
    program.write_text(f"#!{sys.executable}\n{FAKE_ICACLS}")
    program.chmod(0o755)
    log = tmp_path / "icacls.log"
    monkeypatch.setenv("FAKE_ICACLS_LOG", str(log))
    return str(program), log


def _run(*ops: tuple[str, ...], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, *host_ops("C:\\Python311\\python.exe", *ops).argv[1:]]
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=60, check=False)


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


GRANTS = ("*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F")


def test_protect_creates_the_folder_admin_only_then_sets_its_whole_dacl(tmp_path, icacls):
    program, log = icacls
    folder = tmp_path / "Apps" / "tacdemo"
    done = _run(("protect", program, str(folder), *GRANTS))
    assert done.returncode == 0, done.stderr
    assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700
    assert _calls(log) == [[str(folder), "/inheritance:r", "/grant:r", *GRANTS]]


def test_protect_fails_when_icacls_fails_and_writes_nothing_after(tmp_path, icacls, monkeypatch):
    program, _log = icacls
    monkeypatch.setenv("FAKE_ICACLS_RC", "5")
    folder = tmp_path / "venv"
    done = _run(("protect", program, str(folder), *GRANTS), ("write", str(folder / "x"), "wb", ""))
    assert done.returncode == 1
    assert b"/inheritance:r /grant:r: exit code 5" in done.stderr
    assert not (folder / "x").exists()


@ROOT_ONLY
def test_protect_takes_ownership_of_an_existing_folder_a_user_owns(tmp_path, icacls):
    program, log = icacls
    folder = tmp_path / "wheels"
    folder.mkdir()
    os.chown(folder, 1001, 1001)
    done = _run(("protect", program, str(folder), *GRANTS))
    assert done.returncode == 0, done.stderr
    assert _calls(log)[-1] == [str(folder), "/setowner", "*S-1-5-32-544"]
    assert folder.stat().st_uid == os.geteuid()


def test_protect_refuses_a_link_in_place_of_the_folder(tmp_path, icacls):
    program, log = icacls
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "venv").symlink_to(tmp_path / "elsewhere")
    done = _run(("protect", program, str(tmp_path / "venv"), *GRANTS))
    assert done.returncode == 1 and b"is a link or a file" in done.stderr
    assert _calls(log) == []


@ROOT_ONLY
def test_a_part_a_user_made_is_never_continued(tmp_path):
    part = tmp_path / "app.whl.tacfleet-upload"
    part.write_bytes(b"abc")
    os.chown(part, 1001, 1001)
    import hashlib

    prefix = hashlib.sha256(b"abc").hexdigest()
    done = _run(("receive", str(part), "6", "3", prefix), stdin=b"def")
    assert done.returncode == 1
    assert b"owned by uid:1001, not by an admin" in done.stderr
    assert not part.exists()


@ROOT_ONLY
def test_a_new_upload_replaces_a_pre_created_part_with_a_file_of_its_own(tmp_path):
    part = tmp_path / "app.tac.tacfleet-upload"
    part.write_bytes(b"planted")
    os.chown(part, 1001, 1001)
    done = _run(("receive", str(part), "3", "0", "-"), stdin=b"new")
    assert done.returncode == 0, done.stderr
    assert part.read_bytes() == b"new" and part.stat().st_uid == os.geteuid()


# -- the lock script ---------------------------------------------------------------------------
def _lock_script():
    path = Path(__file__).resolve().parents[3] / "provision" / "hostlock_script.py"
    spec = importlib.util.spec_from_file_location("hostlock_script", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_a_takeover_refuses_system_pids_and_its_own_ancestors():
    script = _lock_script()
    me, parent = os.getpid(), os.getppid()
    table = [(parent, 1, "winrshost.exe"), (me, parent, "python.exe"), (900, 800, "python.exe")]
    assert script.refused(table, 4, "System") == "pid 4 is a system pid"
    assert script.refused(table, parent, "winrshost.exe") == (
        f"pid {parent} is an ancestor of this command")
    assert script.refused(table, 900, "python.exe") is None


#: A Windows process table: (pid, parent, image) and each pid's creation time (FILETIME ticks).
SHELL, CMD, PIP, SERVICES, USERS_PY, CHILD = 5100, 5200, 5300, 640, 7000, 7100
TABLE = [(SERVICES, 500, "services.exe"), (900, SERVICES, "svchost.exe"),
         (SHELL, 900, "winrshost.exe"), (CMD, SHELL, "python.exe"), (PIP, CMD, "pip.exe"),
         (USERS_PY, 3000, "python.exe"), (CHILD, USERS_PY, "cmd.exe")]
BORN = {SERVICES: 10, 900: 20, SHELL: 1000, CMD: 1100, PIP: 1200, USERS_PY: 2000, CHILD: 2100}


@pytest.fixture
def lock_script(monkeypatch):
    script = _lock_script()
    monkeypatch.setattr(script, "created", BORN.get)
    return script


def test_a_takeover_ends_the_processes_of_an_abandoned_winrm_shell(lock_script):
    held = {"shell": SHELL, "shell_created": 1000, "shell_exe": "WinRSHost.exe"}
    busy, why = lock_script.running_under(held, TABLE)
    assert why is None
    assert [(p["pid"], p["exe"]) for p in busy] == [(CMD, "python.exe"), (PIP, "pip.exe")]


@pytest.mark.parametrize(("held", "why"), [
    ({"shell": SERVICES, "shell_created": 10, "shell_exe": "winrshost.exe"},
     f"pid {SERVICES} is services.exe, not winrshost.exe (a WinRM shell's host)"),
    ({"shell": USERS_PY, "shell_created": 2000, "shell_exe": "winrshost.exe"},
     f"pid {USERS_PY} is python.exe, not winrshost.exe"),
    ({"shell": SHELL, "shell_created": 999, "shell_exe": "winrshost.exe"},
     f"pid {SHELL} is another process than the lock's shell (started at another time)"),
    ({"shell": SHELL, "shell_created": 1000, "shell_exe": "python.exe"},
     f"the lock does not record its shell (pid {SHELL}) as winrshost.exe"),
    ({"shell": SHELL, "shell_created": 1000}, "does not record its shell"),
    ({"shell": 4242, "shell_created": 1000, "shell_exe": "winrshost.exe"},
     "its shell (pid 4242) is gone"),
    ({"shell": "5100", "shell_created": 1000, "shell_exe": "winrshost.exe"},
     "the lock names no shell"),
    ({"shell": SHELL, "shell_created": None, "shell_exe": "winrshost.exe"},
     "the lock names no shell"),
])
def test_a_lock_naming_anything_but_a_live_abandoned_winrm_shell_ends_nothing(
        lock_script, held, why):
    """An allowlist: services.exe, a process a local user started, a reused pid, a record that
    does not say winrshost.exe, a dead or missing shell: nothing is ended, and the reason is
    said."""
    busy, spared = lock_script.running_under(held, TABLE)
    assert busy == [] and why in spared


def test_a_takeover_never_ends_its_own_shell(lock_script, monkeypatch):
    parent = os.getppid()
    monkeypatch.setitem(BORN, parent, 1)
    table = [*TABLE, (parent, 900, "winrshost.exe"), (os.getpid(), parent, "python.exe")]
    held = {"shell": parent, "shell_created": 1, "shell_exe": "winrshost.exe"}
    assert lock_script.running_under(held, table) == (
        [], f"pid {parent} is this command's own shell")


@ROOT_ONLY
def test_a_lock_file_a_user_owns_is_removed_and_named_never_read(tmp_path, monkeypatch):
    monkeypatch.setenv("PROGRAMDATA", str(tmp_path))
    folder = tmp_path / "tacfleet"
    folder.mkdir()
    forged = folder / "tacdemo.lock"
    forged.write_text(json.dumps({"run": "x", "controller": "me", "pid": 1, "shell": 700,
                                  "shell_created": 1}))
    os.chown(forged, 1001, 1001)
    script = _lock_script()
    answer = script.main("acquire", "tacdemo", json.dumps({"run": "mine"}), 0)
    assert answer["acquired"] is True
    assert answer["ignored"] == [{"path": str(forged), "owner": "uid:1001"}]
    assert json.loads(forged.read_text())["run"] == "mine" and forged.stat().st_uid == 0
