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


def test_a_takeover_refuses_system_pids_windows_processes_and_its_own_ancestors():
    script = _lock_script()
    me, parent = os.getpid(), os.getppid()
    table = [(parent, 1, "winrshost.exe"), (me, parent, "python.exe"), (700, 4, "services.exe"),
             (900, 800, "python.exe")]
    assert script.refused(table, 4, "System") == "pid 4 is a system pid"
    assert script.refused(table, 700, "services.exe") == (
        "pid 700 is services.exe, a Windows process")
    assert script.refused(table, parent, "winrshost.exe") == (
        f"pid {parent} is an ancestor of this command")
    assert script.refused(table, 900, "python.exe") is None


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
