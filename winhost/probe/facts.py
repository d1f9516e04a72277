"""HostFacts: everything the checks and the provisioner know about a host, from one probe.

The models only; ``winhost.probe`` builds them from the probe's answer.

Every fact comes from a language-independent source on the host (the probe reads the registry
with ``winreg``, the service control manager and kernel32 through ``ctypes``, and folder
security as SDDL from ``icacls /save``), so a German or Japanese host yields the same facts as
an English one. Only the venv's own answers are program output, written by Python as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from inventory.frozen import Frozen
from winhost import sddl
from winhost.cmdline import DEFAULT_SYSTEM_ROOT
from winhost.sddl import Ace

__all__ = [
    "Ace",
    "BasePythonFacts",
    "Codepages",
    "FileFact",
    "FolderAcl",
    "HostFacts",
    "ImportFact",
    "Output",
    "ReleaseDir",
    "ReleaseFacts",
    "ServiceFacts",
    "ServiceStatus",
    "UnitFacts",
    "VenvFacts",
    "folder_acl",
    "normalize_name",
]


def normalize_name(name: str) -> str:
    """PEP 503 project name normalisation (how the venv's distributions are keyed)."""
    return re.sub(r"[-_.]+", "-", name).lower()


class Output(Frozen):
    """Exit code and decoded output of one program the probe ran; rc None = could not run."""

    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: str = ""


class BasePythonFacts(Frozen):
    exists: bool
    executable: str = ""
    version: str = ""
    embeddable: bool = False
    packages: dict[str, str | None] = Field(default_factory=dict)


class ImportFact(Frozen):
    ok: bool
    detail: str  # the module's __version__, or the error


class VenvFacts(Frozen):
    path: str
    exists: bool = False
    python_exists: bool = False
    twistd_exists: bool = False
    cfg: dict[str, str] = Field(default_factory=dict)
    version: str = ""
    dists: dict[str, str] = Field(default_factory=dict)  # PEP 503 name -> version
    imports: dict[str, ImportFact] = Field(default_factory=dict)
    error: str = ""
    twistd_help: Output | None = None

    def dist_version(self, name: str) -> str | None:
        return self.dists.get(normalize_name(name))


class FileFact(Frozen):
    path: str
    exists: bool = False
    sha256: str | None = None
    size: int | None = None
    owner: str | None = None  # the owner's SID (GetNamedSecurityInfoW), when read


class Codepages(Frozen):
    """The host's code pages (kernel32 GetACP / GetOEMCP / GetConsoleOutputCP); 0 = unknown."""

    ansi: int = 0
    oem: int = 0
    console: int = 0


@dataclass(frozen=True)
class FolderAcl:
    """A folder's DACL in SDDL (GetNamedSecurityInfoW; what ``icacls /save`` writes), parsed;
    ``error``: why not read."""

    sddl: str
    protected: bool
    aces: tuple[Ace, ...]
    error: str = ""


def folder_acl(text: str) -> FolderAcl:
    """A FolderAcl from an SDDL string; a string that does not parse gives ``error``."""
    try:
        descriptor = sddl.parse(text)
    except sddl.SddlError as exc:
        return FolderAcl(text, False, (), f"unreadable SDDL: {exc}")
    if descriptor.null_dacl:
        return FolderAcl(text, False, (), "null DACL (NO_ACCESS_CONTROL): everyone has full access")
    if descriptor.dacl is None:
        return FolderAcl(text, False, (), "the saved security descriptor has no DACL")
    return FolderAcl(text, descriptor.protected, descriptor.dacl)


#: NSSM 2.24's defaults for the parameters tacfleet manages (nssm.h / settings.cpp).
NSSM_DEFAULTS: dict[str, Any] = {
    "AppThrottle": 1500,
    "AppRestartDelay": 0,
    "AppRotateFiles": 0,
    "AppRotateBytes": 0,
}

#: dwCurrentState of SERVICE_STATUS_PROCESS (winsvc.h).
SERVICE_STATES = {
    1: "STOPPED",
    2: "START_PENDING",
    3: "STOP_PENDING",
    4: "RUNNING",
    5: "CONTINUE_PENDING",
    6: "PAUSE_PENDING",
    7: "PAUSED",
}


class ServiceStatus(Frozen):
    """QueryServiceStatusEx: the service's state and process id."""

    state_code: int
    pid: int = 0
    win32_exit_code: int = 0
    service_exit_code: int = 0

    @property
    def state(self) -> str:
        """``RUNNING``, ``STOPPED``, ``START_PENDING``… (winsvc.h's names)."""
        return SERVICE_STATES.get(self.state_code, str(self.state_code))


class ServiceFacts(Frozen):
    name: str
    exists: bool = False
    status: ServiceStatus | None = None
    registry: dict[str, Any] = Field(default_factory=dict)  # values of Services\<name>
    parameters: dict[str, Any] = Field(default_factory=dict)  # NSSM's Parameters key
    app_exit: str | None = None  # NSSM's AppExit default action (the key's unnamed value)
    error: str = ""  # why the service manager or the registry could not be read

    def param(self, name: str) -> Any:
        """An NSSM parameter as NSSM reads it: the registry value, else NSSM's default.

        ``nssm set`` deletes a value that equals its default (AppThrottle 1500, for one), so
        an absent value means the default, not "unset".
        """
        if name in self.parameters:
            return self.parameters[name]
        return NSSM_DEFAULTS.get(name) if self.exists else None

    @property
    def description(self) -> str | None:
        """The Description value (None when the service has none or does not exist)."""
        value = self.registry.get("Description")
        return value if isinstance(value, str) else None

    @property
    def display_name(self) -> str | None:
        value = self.registry.get("DisplayName")
        return value if isinstance(value, str) else None

    @property
    def start(self) -> str | None:
        """``auto``, ``delayed-auto``, ``demand``, ``disabled``, ``boot``, ``system`` or None."""
        return _start_name(self.registry.get("Start"), bool(self.registry.get("DelayedAutostart")))

    @property
    def account(self) -> str | None:
        value = self.registry.get("ObjectName")
        return str(value) if value is not None else None

    @property
    def state(self) -> str | None:
        return self.status.state if self.status is not None else None

    @property
    def pid(self) -> int | None:
        return self.status.pid if self.status is not None else None


class ReleaseDir(Frozen):
    """One folder under ``<root>\\releases``: a release's venv (``python``: it has python.exe)."""

    name: str
    mtime: float = 0.0
    python: bool = False


class ReleaseFacts(Frozen):
    """A service's releases (``app.releases``): the folders and the last deploys and rollbacks
    (``{"at", "by", "action", "from", "to", "why"}``, oldest first)."""

    path: str
    names: list[ReleaseDir] = Field(default_factory=list)
    history: list[dict[str, Any]] = Field(default_factory=list)


class UnitFacts(Frozen):
    """One further service of a host: its venv, service and port (the first service's are
    ``HostFacts.venv`` / ``service`` / ``port_open``)."""

    venv: VenvFacts
    service: ServiceFacts
    port_open: bool | None = None
    releases: ReleaseFacts | None = None


class HostFacts(Frozen):
    """The observed state of one host."""

    host: str
    hostname: str = ""
    probed_at: float = 0.0
    elapsed: float = 0.0
    system_root: str = DEFAULT_SYSTEM_ROOT
    codepages: Codepages = Field(default_factory=Codepages)
    base_python: BasePythonFacts
    venv: VenvFacts
    service: ServiceFacts
    files: dict[str, FileFact] = Field(default_factory=dict)
    dirs: dict[str, bool] = Field(default_factory=dict)
    acls: dict[str, FolderAcl] = Field(default_factory=dict)
    #: owner SID (or ``error: …``) of each file and folder read: ``ProbeSpec.owner_paths`` that
    #: exist, the host lock folder ``%ProgramData%\tacfleet`` and its lock files
    owners: dict[str, str] = Field(default_factory=dict)
    account_sids: dict[str, str] = Field(default_factory=dict)  # looked up on the host
    #: SIDs holding SeServiceLogonRight (None: not read, see ``logon_right_error``)
    logon_right: list[str] | None = None
    logon_right_source: str = ""  # "lsa" or "secedit"
    logon_right_error: str = ""
    port_open: bool | None = None
    #: ``<SystemRoot>\System32\curl.exe`` exists (None: not known)
    has_curl: bool | None = None
    #: the host's further services, by service name (one probe gathers every service)
    units: dict[str, UnitFacts] = Field(default_factory=dict)
    releases: ReleaseFacts | None = None  # the first service's (``app.releases``)

    def for_service(self, name: str) -> HostFacts:
        """The facts as one service sees them: ``venv``, ``service`` and ``port_open`` are that
        service's (so requirement functions read them as on a one-service host)."""
        if self.service.name.lower() == name.lower():
            return self
        unit = next((u for k, u in self.units.items() if k.lower() == name.lower()), None)
        if unit is None:
            return self.model_copy(update={"venv": VenvFacts(path=""), "releases": None,
                                           "service": ServiceFacts(name=name), "port_open": None})
        return self.model_copy(update={"venv": unit.venv, "service": unit.service,
                                       "port_open": unit.port_open, "releases": unit.releases})

    def file(self, path: str) -> FileFact:
        """Facts about a file the probe was asked about (paths compare case-insensitively)."""
        for known, fact in self.files.items():
            if known.lower() == path.lower():
                return fact
        return FileFact(path=path)

    def dir_exists(self, path: str) -> bool:
        return any(v for k, v in self.dirs.items() if k.lower() == path.lower())

    def acl(self, path: str) -> FolderAcl | None:
        """The DACL of a folder the probe was asked about (case-insensitive path), or None."""
        wanted = path.rstrip("\\").lower()
        for known, acl in self.acls.items():
            if known.rstrip("\\").lower() == wanted:
                return acl
        return None

    def owner(self, path: str) -> str | None:
        """The owner read for ``path`` (a SID or ``error: …``; case-insensitive), or None."""
        wanted = path.rstrip("\\").lower()
        for known, owner in self.owners.items():
            if known.rstrip("\\").lower() == wanted:
                return owner
        return None

    def account_sid(self, account: str) -> str | None:
        """The SID the host gave for an account name (LookupAccountNameW), if it was asked."""
        for known, sid in self.account_sids.items():
            if known.lower() == account.strip().lower():
                return sid
        return None


_START_NAMES = {0: "boot", 1: "system", 2: "auto", 3: "demand", 4: "disabled"}


def _start_name(code: object, delayed: bool) -> str | None:
    if not isinstance(code, int):
        return None
    name = _START_NAMES.get(code, str(code))
    return "delayed-auto" if name == "auto" and delayed else name
