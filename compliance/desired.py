"""Values derived from an inventory entry: the desired state, computed in one place."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PipRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from inventory.bundle import BundleError, host_set, sha256_of
from inventory.models import Host, venv_scripts, wheel_files
from inventory.releases import releases_dir
from inventory.winnames import ADMINISTRATORS_SID, SYSTEM_SID, account_sid
from inventory.winpath import is_within, same_path, win_join, win_parent
from winhost.cmdline import quote_arg
from winhost.probe import ProbeSpec


def venv_python(host: Host) -> str:
    """The venv's interpreter: what the service runs (NSSM's Application)."""
    return win_join(venv_scripts(host.python.venv), "python.exe")


def twistd_exe(host: Host) -> str:
    """The venv's twistd: what the service's python runs, and ``twistd --help`` checks."""
    return win_join(venv_scripts(host.python.venv), "twistd.exe")


#: AppParameters with ``app.releases``: twistd run from whichever venv's python NSSM starts, so
#: the switch between releases is one registry value (Application), which Windows writes
#: atomically (RegSetValueExW); a pair of values (python and twistd.exe paths) would not be.
TWISTD_FROM_ANY_VENV = '-c "from twisted.scripts.twistd import run; run()"'


def app_parameters(host: Host) -> str:
    """NSSM AppParameters: twistd run by the venv's python, then the app's arguments."""
    if host.app.releases:
        return f"{TWISTD_FROM_ANY_VENV} {host.app.arguments}"
    return f"{quote_arg(twistd_exe(host))} {host.app.arguments}"


#: A value ``nssm set`` writes: a number (REG_DWORD) or text.
NssmValue = str | int


def nssm_settings(host: Host) -> dict[str, dict[str, NssmValue]]:
    """Every value NSSM must hold for one service, by the requirement that judges it; the
    service step sets exactly these (each group of a failing requirement).

    Names as nssm.cc/usage spells them (DisplayName and Description are the service's own,
    which ``nssm set`` writes too). AppRotateOnline and AppRotateBytes only act when rotation
    is on (NSSM's README: "If AppRotateFiles is missing or set to 0, rotation is disabled"), so
    with ``rotate_files: false`` they are neither set nor judged. The environment
    (AppEnvironmentExtra) holds secrets: it is ``host.app.environment_extra``, resolved only
    where it is compared or set.
    """
    svc = host.service
    rotation: dict[str, NssmValue] = {"AppRotateFiles": 1 if svc.rotate_files else 0}
    if svc.rotate_files:
        # Without AppRotateOnline NSSM rotates only when the service starts ("If
        # AppRotateOnline is set to 1, nssm can rotate files which grow to the configured file
        # size limit while the service is running"): a service running for months would not.
        rotation.update(AppRotateOnline=1, AppRotateBytes=svc.rotate_bytes)
    return {
        "service_application": {"Application": venv_python(host),
                                "AppParameters": app_parameters(host)},
        "app_directory": {"AppDirectory": host.app.app_directory},
        "logs_rotated": {"AppStdout": svc.stdout, "AppStderr": svc.stderr, **rotation},
        "restart_policy": {"AppExit": svc.exit_action, "AppThrottle": svc.throttle_ms,
                           "AppRestartDelay": svc.restart_delay_ms},
        "display_name": {"DisplayName": svc.display_name},
        "description": {"Description": svc.description},
    }


def log_dirs(host: Host) -> list[str]:
    return sorted({win_parent(host.service.stdout), win_parent(host.service.stderr)})


def written_dirs(host: Host) -> list[str]:
    """The folders the service writes (its logs' and its data folders): it may modify them."""
    return [*log_dirs(host), *host.app.data_dirs]


def code_dirs(host: Host) -> list[str]:
    """The folders the service runs code from (the venv, the app's): it may only read them.
    With ``app.releases``, the release root: every release's venv inherits its DACL."""
    return [host.python.release_root or host.python.venv, host.app.app_directory]


def pinned(pip_spec: str) -> tuple[str, str | None]:
    """Name and exact pinned version (``==``) of a pip spec (a pip requirement), if pinned."""
    try:
        req = PipRequirement(pip_spec)
    except InvalidRequirement:
        return pip_spec, None
    for spec in req.specifier:
        if spec.operator in ("==", "==="):
            return req.name, spec.version
    return req.name, None


def pip_spec_lines(text: str) -> list[str]:
    """The pip specs of a pip requirements/lock file (continuations joined; options,
    comments and ``--hash`` parts dropped)."""
    found: list[str] = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        line = line.split(" --", 1)[0].strip()
        try:
            PipRequirement(line)
        except InvalidRequirement:
            continue
        found.append(line)
    return found


@cache
def _file_specs(path: str) -> tuple[str, ...]:
    return tuple(pip_spec_lines(Path(path).read_text(encoding="utf-8")))


def pip_files(host: Host) -> list[tuple[str, Path]]:
    """(role, controller file) of the requirements and lock files, in install order."""
    files = [("requirements", host.python.requirements), ("lock", host.python.lock)]
    return [(role, Path(path)) for role, path in files if path is not None]


def remote_pip_file(host: Host, role: str) -> str:
    r"""Where a requirements/lock file is put on the host: ``<venv>\tacfleet-<role>.txt``."""
    return win_join(host.python.venv, f"tacfleet-{role}.txt")


def pip_specs(host: Host) -> list[str]:
    """Every pip spec the venv must satisfy: the configured packages, the requirements and
    lock files' lines (so `pip freeze` must match the lock's pins), and the app; a package or
    app not pinned with ``==`` whose wheel is shipped must be at the newest shipped version."""
    packages = list(host.python.packages)
    for _role, path in pip_files(host):
        packages += [r for r in _file_specs(str(path)) if r not in packages]
    if host.app.package and host.app.package not in packages:
        packages.append(host.app.package)
    return [shipped_pin(host, p) for p in packages]


# -- files sent from the controller -----------------------------------------------------------
#: Suffix of the temporary file an upload writes before its final rename.
PART_SUFFIX = ".tacfleet-upload"


def upload_part(path: str) -> str:
    """Where an upload to ``path`` writes until its SHA-256 is verified (same folder: the
    rename is atomic); the probe reads its size, so a cut-off upload resumes."""
    return path + PART_SUFFIX


# -- wheels shipped from the controller (python.ship_wheels) ------------------------------------
@dataclass(frozen=True)
class ShippedWheel:
    """One wheel of ``python.ship_wheels``: where it comes from, where it goes, its SHA-256."""

    source: Path  # on the controller
    path: str  # in the host's wheelhouse
    sha256: str
    project: str  # canonical name (packaging.utils.canonicalize_name)
    version: str

    @property
    def name(self) -> str:
        return self.source.name


@cache
def _wheel(source: Path, wheelhouse: str, size: int, mtime_ns: int) -> ShippedWheel:
    """One shipped wheel; ``size`` and ``mtime_ns`` are only the cache's key (a file that
    changes is hashed again)."""
    project, version, _build, _tags = parse_wheel_filename(source.name)
    return ShippedWheel(source, win_join(wheelhouse, source.name), sha256_of(source),
                        str(project), str(version))


def shipped_wheels(host: Host) -> list[ShippedWheel]:
    """The wheels ``python.ship_wheels`` names (a file, or a folder's ``*.whl``), each with its
    host path in ``python.ship_to`` and its SHA-256 (read again when the file changes)."""
    source, wheelhouse = host.python.ship_wheels, host.python.ship_to
    if source is None or wheelhouse is None:
        return []
    wheels = []
    for path in wheel_files(Path(source)):
        stat = path.stat()
        wheels.append(_wheel(path, wheelhouse, stat.st_size, stat.st_mtime_ns))
    return wheels


def bundle_wheels(host: Host) -> list[ShippedWheel]:
    """An offline host's wheels from its bundle set (``inventory.bundle``), each with its path
    in the host's wheelhouse (``python.host_wheelhouse``); none when the host is not offline or
    its bundle cannot be read (inventory validation names that)."""
    wheelhouse = host.python.host_wheelhouse
    if not host.python.offline or wheelhouse is None:
        return []
    try:
        wheels = host_set(host).wheels
    except BundleError:
        return []
    return [ShippedWheel(w.path, win_join(wheelhouse, w.path.name), w.sha256, w.name,
                         w.version) for w in wheels]


def installer_source(host: Host) -> tuple[str, str] | None:
    """Where the base Python's installer comes from and its pinned SHA-256: an offline host's
    bundle, else ``python.installer`` (None when there is none, or no pin)."""
    if host.python.offline:
        try:
            installer = host_set(host).installer
        except BundleError:
            return None
        return (str(installer.path), installer.sha256) if installer else None
    if host.python.installer and host.python.installer_sha256:
        return host.python.installer, host.python.installer_sha256
    return None


def shipped_versions(host: Host) -> dict[str, str]:
    """Project (canonical name) -> the newest version among the shipped wheels."""
    newest: dict[str, Version] = {}
    for wheel in shipped_wheels(host):
        version = Version(wheel.version)
        if wheel.project not in newest or version > newest[wheel.project]:
            newest[wheel.project] = version
    return {project: str(v) for project, v in newest.items()}


def shipped_pin(host: Host, pip_spec: str) -> str:
    """``pip_spec`` pinned (``==``) to the newest shipped wheel of its project, when it is
    not pinned already: ``tacdemo`` with tacdemo-1.0.1-py3-none-any.whl shipped is
    ``tacdemo==1.0.1``, so a newer shipped wheel upgrades the app."""
    if host.python.ship_wheels is None or pinned(pip_spec)[1] is not None:
        return pip_spec
    try:
        req = PipRequirement(pip_spec)
    except InvalidRequirement:
        return pip_spec
    version = shipped_versions(host).get(canonicalize_name(req.name))
    if version is None:
        return pip_spec
    req.specifier &= SpecifierSet(f"=={version}")
    return str(req)


def probe_spec(host: Host) -> ProbeSpec:
    """What the fact probe must look at for this host: every service's files, folders and
    accounts, the first service's venv/service/port, the others' as ``units``."""
    units = host.units()
    files: list[str] = []
    dirs: list[str] = []
    acl_paths: list[str] = []
    owned: list[str] = []
    accounts: list[str] = []
    for unit in units:
        sent = [w.path for w in shipped_wheels(unit)]  # big files: a cut-off upload resumes
        sent += [unit.nssm.path] if unit.nssm.source == "controller" else []
        files += [unit.app.tac_file, unit.nssm.path, *sent, *map(upload_part, sent)]
        dirs += [*code_dirs(unit), *written_dirs(unit)]
        acl_paths += [*folder_grants(unit), *protected_folders(unit)]
        owned += owner_paths(unit)
        accounts += [] if account_sid(unit.service.account) else [unit.service.account]
    bundle = [w.path for w in bundle_wheels(host)]  # a host-wide wheelhouse
    files += [*bundle, *map(upload_part, bundle)]
    first = units[0]
    return ProbeSpec(
        base_python=host.python.base,
        venv=first.python.venv,
        service=first.service.name,
        python=venv_python(first),
        twistd=twistd_exe(first),
        files=_unique(files),
        dirs=_unique(dirs),
        acl_paths=_unique(acl_paths),
        owner_paths=_unique(owned),
        accounts=_unique(accounts),
        port=first.app.port,
        releases=_releases_root(first),
        units=[{"venv": u.python.venv, "python": venv_python(u), "twistd": twistd_exe(u),
                "service": u.service.name, "port": u.app.port,
                **({"releases": r} if (r := _releases_root(u)) else {})} for u in units[1:]],
    )


def _releases_root(unit: Host) -> str | None:
    return releases_dir(unit.python.release_root) if unit.python.release_root else None


def _unique(values: list[str]) -> list[str]:
    """``values`` without repeats (paths compare case-insensitively), in order."""
    first: dict[str, str] = {}
    for value in values:
        first.setdefault(value.lower(), value)
    return list(first.values())


def account_sid_of(host: Host) -> str | None:
    """The service account's SID when it can be computed offline (virtual and well-known)."""
    return account_sid(host.service.account)


def at_least(found: str | None, minimum: str | None) -> bool:
    """Is an installed version at least the configured minimum (None = any)?"""
    if found is None:
        return False
    if minimum is None:
        return True
    try:
        return Version(found) >= Version(minimum)
    except InvalidVersion:
        return False


@cache
def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tac_sha256(host: Host) -> str | None:
    """SHA-256 of the controller-side tac source, when the inventory gives one."""
    return _file_sha256(Path(host.app.tac_source)) if host.app.tac_source else None


@dataclass(frozen=True)
class Grant:
    """One explicit allow entry a managed folder must carry (inherited to files and folders)."""

    account: str  # a name, for messages
    sid: str | None  # None: a domain account, known to icacls by name only
    rights: str  # icacls' simple rights: F, M or RX

    @property
    def principal(self) -> str:
        """How icacls names it: ``*SID`` (the same in every language), else the name."""
        return f"*{self.sid}" if self.sid else self.account


def folder_grants(host: Host) -> dict[str, tuple[Grant, ...]]:
    """The whole DACL of each managed folder, inheritance removed: Administrators and SYSTEM
    full control, the service account read/execute on code, modify on logs and data. A folder
    the host's other services use too (a shared venv) grants each of their accounts."""
    admins = (Grant("BUILTIN\\Administrators", ADMINISTRATORS_SID, "F"),
              Grant("NT AUTHORITY\\SYSTEM", SYSTEM_SID, "F"))
    own = _unit_grants(host)
    if not host.multi:
        return {path: (*admins, grant) for path, grant in own.items()}
    every = [_unit_grants(u) for u in host.units()]  # in the order the services are written
    return {path: (*admins, *(g[k] for g in every for k in g if k.lower() == path.lower()))
            for path in own}


def _unit_grants(host: Host) -> dict[str, Grant]:
    """The service account's grant on each folder of one service."""
    account = host.service.account
    code, written = Grant(account, account_sid(account), "RX"), Grant(
        account, account_sid(account), "M")
    grants = {path: code for path in code_dirs(host)}
    grants.update({path: written for path in written_dirs(host)})
    return grants


#: Administrators and SYSTEM: full control of every folder tacfleet creates or installs into.
ADMIN_GRANTS = (Grant("BUILTIN\\Administrators", ADMINISTRATORS_SID, "F"),
                Grant("NT AUTHORITY\\SYSTEM", SYSTEM_SID, "F"))


def protect_grants(host: Host, path: str) -> tuple[Grant, ...]:
    """The DACL a folder tacfleet creates or installs into gets before its first byte: a
    managed folder's (``folder_grants``: the service's account only where it needs it), one
    inside a managed folder that folder's, any other (wheelhouses, staging) admins only."""
    grants = folder_grants(host)
    for folder in sorted(grants, key=len, reverse=True):
        if same_path(path, folder) or is_within(path, folder):
            return grants[folder]
    return ADMIN_GRANTS


def icacls_grant(grant: Grant) -> str:
    """``*SID:(OI)(CI)RIGHTS``: one grant as icacls takes it, to the folder and all it holds."""
    return f"{grant.principal}:(OI)(CI){grant.rights}"


def protected_folders(host: Host) -> list[str]:
    """Folders whose content runs, or is installed by pip, as the administrator: the base
    Python's folder (every probe, lock and file operation runs its python.exe; a ``.pth`` in
    its site-packages runs with it) and the host's wheelhouses. No non-admin may write there."""
    python = host.python
    return _unique([f for f in (win_parent(python.base), python.host_wheelhouse, python.ship_to)
                    if f])


#: Owners a file or folder tacfleet runs or writes may have: Administrators, SYSTEM,
#: TrustedInstaller (Windows' own files).
ADMIN_OWNERS = frozenset({ADMINISTRATORS_SID, SYSTEM_SID,
                          "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"})


def owner_paths(host: Host) -> list[str]:
    """Files and folders whose owner is judged (an owner has WRITE_DAC whatever the DACL
    says): the managed folders, the base Python (folder and python.exe), the wheelhouses,
    nssm.exe and the tac file. The probe adds the host lock folder and its lock files."""
    return _unique([*folder_grants(host), *protected_folders(host), host.python.base,
                    host.nssm.path, host.app.tac_file])
