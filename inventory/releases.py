r"""Which release an inventory entry asks for (``app.releases``): ``<version>-<hash>``.

A release is everything pip installs into a venv: the app's version, the packages, the
requirements/lock files and the wheels shipped from this machine. The name is computed here,
from the inventory and the files it names, so the controller knows which release folder a host
should run before it asks the host anything; a change to any input is a new release. The
version is the pinned one (``app.package: name==1.2``), else the newest shipped wheel of the
app; an app installed unpinned from an index is ``unpinned-<hash>``: a newer upload to the index
is then not a new release (pin it, or ship its wheel).
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from inventory.bundle import sha256_of
from inventory.winpath import win_join

if TYPE_CHECKING:
    from inventory.models import Host

#: The folder under the release root that holds one venv per release.
RELEASES = "releases"
#: The host file (in ``<root>\releases``) each deploy and rollback appends one JSON line to.
HISTORY = "tacfleet-history.jsonl"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_]*-[0-9a-f]{8}")


@cache
def _file_hash(path: Path, size: int, mtime_ns: int) -> str:
    """SHA-256 of a controller file, once per version (``size``/``mtime_ns``: the key)."""
    return sha256_of(path)


def _hash(path: Path) -> str:
    """The file's SHA-256; "missing" for a file not here (an inventory loaded without its files
    checked names no release that runs: validation with the files refuses it)."""
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return _file_hash(path, stat.st_size, stat.st_mtime_ns)


def app_version(host: Host) -> str | None:
    """The app's version: pinned in ``app.package``, else its newest shipped wheel's."""
    from inventory.models import wheel_files

    try:
        req = Requirement(host.app.package or "")
    except InvalidRequirement:
        return None
    pins = [s.version for s in req.specifier if s.operator in ("==", "===")]
    if pins and "*" not in pins[0]:
        return pins[0]
    if host.python.ship_wheels is None:
        return None
    versions = []
    for wheel in wheel_files(Path(host.python.ship_wheels)):
        try:
            project, version, _build, _tags = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            continue
        if project == canonicalize_name(req.name):
            versions.append(version)
    return str(max(versions)) if versions else None


def release_name(host: Host) -> str:
    """``<version>-<first 8 hex digits of the SHA-256 of what pip installs>``."""
    from inventory.models import wheel_files

    python = host.python
    inputs = {
        "python": python.version,
        "packages": list(python.packages),
        "app": host.app.package,
        "files": {role: _hash(Path(path)) for role, path in
                  (("requirements", python.requirements), ("lock", python.lock)) if path},
        "wheels": [] if python.ship_wheels is None else [
            (w.name, _hash(w)) for w in wheel_files(Path(python.ship_wheels))],
        "index": python.index_url, "wheelhouse": python.wheelhouse,
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:8]
    version = re.sub(r"[^A-Za-z0-9.+_]", "_", app_version(host) or "unpinned")
    return f"{version}-{digest}"


def releases_dir(root: str) -> str:
    r"""``<root>\releases``: one venv per release."""
    return win_join(root, RELEASES)


def release_venv(host: Host) -> str:
    r"""The venv of the release ``host`` asks for: ``<python.venv>\releases\<name>``."""
    return win_join(releases_dir(host.python.release_root or host.python.venv),
                    release_name(host))


def history_path(root: str) -> str:
    return win_join(releases_dir(root), HISTORY)


def is_release_name(name: str) -> bool:
    """Is a folder name under ``releases`` one tacfleet made (``<version>-<8 hex>``)?"""
    return _NAME.fullmatch(name) is not None


def release_of(python_exe: str | None, root: str) -> str | None:
    r"""The release name in ``<root>\releases\<name>\Scripts\python.exe`` (None otherwise)."""
    if not python_exe:
        return None
    prefix = releases_dir(root).lower() + "\\"
    path = python_exe.replace("/", "\\")
    if not path.lower().startswith(prefix):
        return None
    name, _, rest = path[len(prefix):].partition("\\")
    return name if rest.lower() == "scripts\\python.exe" and is_release_name(name) else None
