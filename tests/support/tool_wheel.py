"""tacfleet's own wheel, built from this checkout's files for the tests that install the tool
(on Linux: ``test_installed_tool.py``; under Wine's Windows CPython:
``test_controller_on_windows.py``), and the Windows wheels of its dependencies."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.host.image import cache_root
from sandbox.host.prefix import WinePrefix
from winhost.cmdline import command

if TYPE_CHECKING:
    from tests.support.sandbox_hosts import SandboxHost

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


def install_on_windows(host: SandboxHost, home: str, base: Path) -> str:
    r"""tacfleet installed as a Windows admin would, on sandbox ``host``: a venv at
    ``<home>\venv`` made with the image's virtualenv and filled with no index from this
    checkout's wheel and the win_amd64 wheels of its dependencies (copied to ``<home>\wheels``,
    as onto an air-gapped machine). ``home`` is emptied first; returns ``tacfleet.exe``'s path."""
    wheel = build_wheel(base)
    wheels = windows_wheels(wheel, cache_root() / "downloads" / "controller-wheels-cp311")
    folder = WinePrefix(Path(host.info["prefix"])).host_path(home)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "wheels").mkdir(parents=True)
    for source in [wheel, *wheels.glob("*.whl")]:
        shutil.copy(source, folder / "wheels" / source.name)
    with host.connect() as conn:
        for argv in (("C:\\Python311\\python.exe", "-m", "virtualenv", home + "\\venv"),
                     (home + "\\venv\\Scripts\\python.exe", "-m", "pip", "install", "--quiet",
                      "--no-index", "--find-links", home + "\\wheels", "tacfleet")):
            done = conn.run(command(*argv), timeout=600)
            if done.rc != 0:
                raise RuntimeError(f"{argv[0]} exited {done.rc}: {done.stdout}{done.stderr}")
    return home + "\\venv\\Scripts\\tacfleet.exe"
