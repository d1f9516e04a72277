r"""A full disk on a sandbox host: a folder of its C: drive made a size-limited tmpfs.

Windows' rule: a write past the volume's free space fails with ERROR_DISK_FULL (112), which
Python on the host raises as ``OSError`` errno 28 (ENOSPC), and what was written before stays.
Wine's ``C:`` is a Linux folder, so the sandbox mounts a tmpfs of the given size on the folder
behind a Windows path (``invoke sandbox.fault --disk-full-kb K --disk-path C:\...``; root
only). The free space is exact; the error is not: Wine's C runtime reports the short write
with a stray errno (EINVAL, EEXIST) where Windows says ENOSPC, so the product decides by the
free space, as it must on Windows for a disk quota (EINVAL there too).
What the folder held is copied in on mounting and what changed copied back out when the limit
is lifted (``--clear``, ``sandbox.down``, ``sandbox.reset``), so only the free space changes: a
file left alone is not rewritten under a program that runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sandbox.host.prefix import WinePrefix

_STATE = "disk.json"


class DiskLimitUnavailable(RuntimeError):
    """The folder cannot be limited here (not root, mount refused)."""


def _mounted(root: Path) -> list[str]:
    path = root / _STATE
    return list(json.loads(path.read_text())) if path.exists() else []


def _save(root: Path, mounts: list[str]) -> None:
    (root / _STATE).write_text(json.dumps(mounts))


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


def limit(root: Path, prefix: WinePrefix, windows_path: str, kb: int) -> Path:
    """Give ``windows_path`` only ``kb`` KiB of space (its files kept); the Linux folder."""
    folder = prefix.host_path(windows_path)
    release(root, folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tacfleet-disk-") as tmp:
        kept = Path(tmp) / "kept"
        shutil.copytree(folder, kept, symlinks=True)
        done = _run("mount", "-t", "tmpfs", "-o", f"size={kb}k,mode=0755", "tmpfs",
                    str(folder))
        if done.returncode != 0:
            raise DiskLimitUnavailable(f"cannot mount a {kb} KiB tmpfs on {folder}: "
                                       f"{done.stderr.strip()} (a full disk needs root)")
        shutil.copytree(kept, folder, symlinks=True, dirs_exist_ok=True)
    _save(root, [*_mounted(root), str(folder)])
    return folder


def _copy_changed(source: str, dest: str) -> str:
    """``shutil.copy2`` unless ``dest`` already holds the file (same size and mtime): a file
    left as it was must not be rewritten in place, for a running program maps it (Windows
    would never touch it: lifting the limit changes only the free space)."""
    try:
        was, now = os.stat(dest), os.stat(source)
    except FileNotFoundError:
        return str(shutil.copy2(source, dest))
    if was.st_size == now.st_size and int(was.st_mtime) == int(now.st_mtime):
        return dest
    return str(shutil.copy2(source, dest))


def release(root: Path, folder: Path) -> None:
    """Lift the limit on ``folder`` (what changed on it copied back onto the drive)."""
    mounts = _mounted(root)
    if str(folder) not in mounts:
        return
    with tempfile.TemporaryDirectory(prefix="tacfleet-disk-") as tmp:
        kept = Path(tmp) / "kept"
        shutil.copytree(folder, kept, symlinks=True)
        _run("umount", "--lazy", str(folder))
        shutil.copytree(kept, folder, symlinks=True, dirs_exist_ok=True,
                        copy_function=_copy_changed)
    _save(root, [m for m in mounts if m != str(folder)])


def release_all(root: Path) -> None:
    """Lift every limit of the host (``sandbox.down``, ``reset``)."""
    for folder in _mounted(root):
        release(root, Path(folder))
    (root / _STATE).unlink(missing_ok=True)
