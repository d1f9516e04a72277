"""tacfleet's own wheel, built from this checkout's files for the tests that install the tool
(on Linux: ``test_installed_tool.py``; under Wine's Windows CPython:
``test_controller_on_windows.py``), and the Windows wheels of its dependencies."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Dependencies pip cannot see from Linux: ``pip download --platform`` evaluates environment
#: markers for the running machine, and these are ``sys_platform == "win32"`` only
#: (pyspnego's SSPI binding, pytest's colorama).
WINDOWS_ONLY = ("sspilib", "colorama")


def build_wheel(dest: Path) -> Path:
    """Build tacfleet's wheel into ``dest`` from a copy of the checkout's files (tracked, and new
    ones not ignored): the build writes build/ and *.egg-info next to its sources, never into
    the checkout. No isolation: nothing is downloaded."""
    source = dest / "src"
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(dest / "dist"), str(source)], check=True, capture_output=True,
                   timeout=300)
    (wheel,) = (dest / "dist").glob("tacfleet-*.whl")
    return wheel


def windows_wheels(wheel: Path, dest: Path, python: str = "3.11") -> Path:
    """``dest`` holding the win_amd64 wheels of everything ``wheel`` needs for CPython
    ``python`` (pip's own resolver; what is already in ``dest`` is not fetched again)."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(dest),
                    "--platform", "win_amd64", "--python-version", python,
                    "--only-binary=:all:", "--find-links", str(dest), str(wheel),
                    *WINDOWS_ONLY], check=True, capture_output=True, timeout=600)
    for own in dest.glob("tacfleet-*.whl"):  # this run's wheel is installed from its own path
        own.unlink()
    return dest


def pytest_summary(out: str) -> str:
    """pytest's last line without its duration: ``== 25 passed, 1 skipped in 4.1s ==`` gives
    ``25 passed, 1 skipped``; empty output gives ``""``."""
    last = out.strip().splitlines()[-1] if out.strip() else ""
    return last.split(" in ")[0].strip("= ")
