"""HostFacts: everything the checks and the provisioner know about a host, from one probe.

Every fact comes from a language-independent source on the host (the probe reads the registry
with ``winreg``, the service control manager and kernel32 through ``ctypes``, and folder
security as SDDL from ``icacls /save``), so a German or Japanese host yields the same facts as
an English one. Only the venv's own answers are program output, written by Python as JSON.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from inventory.frozen import Frozen
from winhost import parsers, sddl
from winhost.cmdline import DEFAULT_SYSTEM_ROOT, Command, system32
from winhost.connection import Connection, decode_output
from winhost.errors import ProgramNotFound
from winhost.probe import ProbeError, ProbeSpec, decode_b64, probe_command, read_probe_output
from winhost.sddl import Ace

__all__ = [
    "Ace",
    "BasePythonFacts",
    "Codepages",
    "FileFact",
    "FolderAcl",
    "HostFacts",
    "ServiceFacts",
    "ServiceStatus",
    "UnitFacts",
    "VenvFacts",
    "bare_facts",
    "facts_from_probe",
    "gather_facts",
    "host_has_curl",
]


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
        return self.dists.get(parsers.normalize_name(name))


class FileFact(Frozen):
    path: str
    exists: bool = False
    sha256: str | None = None
    size: int | None = None


class Codepages(Frozen):
    """The host's code pages (kernel32 GetACP / GetOEMCP / GetConsoleOutputCP); 0 = unknown."""

    ansi: int = 0
    oem: int = 0
    console: int = 0


@dataclass(frozen=True)
class FolderAcl:
    """A folder's DACL as ``icacls /save`` writes it (SDDL), parsed; ``error``: why not read."""

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


class UnitFacts(Frozen):
    """One further service of a host: its venv, service and port (the first service's are
    ``HostFacts.venv`` / ``service`` / ``port_open``)."""

    venv: VenvFacts
    service: ServiceFacts
    port_open: bool | None = None


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

    def for_service(self, name: str) -> HostFacts:
        """The facts as one service sees them: ``venv``, ``service`` and ``port_open`` are that
        service's (so requirement functions read them as on a one-service host)."""
        if self.service.name.lower() == name.lower():
            return self
        unit = next((u for k, u in self.units.items() if k.lower() == name.lower()), None)
        if unit is None:
            return self.model_copy(update={"venv": VenvFacts(path=""),
                                           "service": ServiceFacts(name=name), "port_open": None})
        return self.model_copy(update={"venv": unit.venv, "service": unit.service,
                                       "port_open": unit.port_open})

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


def _output(raw: dict[str, Any] | None, oem: int | None) -> Output | None:
    if raw is None:
        return None
    return Output(
        rc=raw.get("rc"),
        stdout=decode_output(decode_b64(raw.get("out")), oem=oem),
        stderr=decode_output(decode_b64(raw.get("err")), oem=oem),
        error=raw.get("error", ""),
    )


def _service(name: str, raw: dict[str, Any]) -> ServiceFacts:
    scm = raw.get("scm") or {}
    key = raw.get("key")
    status = None
    if scm.get("exists") and scm.get("state") is not None:
        status = ServiceStatus(
            state_code=scm["state"],
            pid=scm.get("pid") or 0,
            win32_exit_code=scm.get("win32_exit_code") or 0,
            service_exit_code=scm.get("service_exit_code") or 0,
        )
    # The service manager is the authority; the registry key decides only when it was not asked.
    exists = bool(scm["exists"]) if scm.get("exists") is not None else key is not None
    errors = [e for e in (scm.get("error"), raw.get("error")) if e]
    return ServiceFacts(
        name=name,
        exists=exists,
        status=status,
        registry=key or {},
        parameters=raw.get("parameters") or {},
        app_exit=raw.get("app_exit"),
        error="; ".join(errors),
    )


def _venv(path: str, raw: dict[str, Any], outputs: dict[str, Output]) -> VenvFacts:
    """A venv's facts from the probe's ``venv`` section and its programs' outputs."""
    venv_out = outputs.get("venv")
    venv_fields: dict[str, Any] = {}
    if venv_out is not None and venv_out.rc == 0:
        doc = json.loads(venv_out.stdout.strip().splitlines()[-1])
        venv_fields = {
            "version": doc["version"],
            "dists": {parsers.normalize_name(k): v for k, v in doc["dists"].items()},
            "imports": {k: ImportFact(ok=v[0], detail=v[1]) for k, v in doc["imports"].items()},
        }
    elif venv_out is not None:
        venv_fields = {"error": (venv_out.stderr or venv_out.stdout or venv_out.error)[-500:]}
    return VenvFacts(
        path=path,
        exists=raw.get("exists", False),
        python_exists=raw.get("python_exists", False),
        twistd_exists=raw.get("twistd_exists", False),
        cfg=raw.get("cfg") or {},
        twistd_help=outputs.get("twistd_help"),
        **venv_fields,
    )


def _outputs(raw: dict[str, Any], oem: int | None) -> dict[str, Output]:
    return {k: o for k, v in raw.items() if (o := _output(v, oem)) is not None}


def facts_from_probe(host: str, spec: ProbeSpec, data: dict[str, Any]) -> HostFacts:
    """Turn the probe's JSON document into typed facts."""
    if data.get("probe") != 2:
        raise ProbeError(f"{host}: probe answer version {data.get('probe')!r}, expected 2")
    oem = (data.get("codepages") or {}).get("oem") or None
    outputs = _outputs(data.get("outputs", {}), oem)
    logon = (data.get("rights") or {}).get("SeServiceLogonRight") or {}
    acls: dict[str, FolderAcl] = {}
    for path, raw in (data.get("acls") or {}).items():
        if raw.get("error"):
            acls[path] = FolderAcl(raw.get("sddl", ""), False, (), raw["error"])
        else:
            acls[path] = folder_acl(raw.get("sddl", ""))
    units = {
        want["service"]: UnitFacts(
            venv=_venv(want["venv"], raw.get("venv") or {}, _outputs(raw.get("outputs", {}), oem)),
            service=_service(want["service"], raw.get("service") or {}),
            port_open=raw.get("port_open"),
        )
        for want, raw in zip(spec.units, data.get("units") or [], strict=False)
    }
    return HostFacts(
        host=host,
        hostname=data.get("hostname", ""),
        system_root=data.get("system_root") or DEFAULT_SYSTEM_ROOT,
        codepages=Codepages(**(data.get("codepages") or {})),
        base_python=BasePythonFacts(exists=True, **data.get("base", {})),
        venv=_venv(spec.venv, data.get("venv", {}), outputs),
        service=_service(spec.service, data.get("service") or {}),
        files={p: FileFact(**f) for p, f in data.get("files", {}).items()},
        dirs=data.get("dirs", {}),
        acls=acls,
        account_sids={k: v for k, v in (data.get("sids") or {}).items() if v},
        logon_right=logon.get("sids"),
        logon_right_source=logon.get("source", ""),
        logon_right_error=logon.get("error", ""),
        port_open=data.get("port_open"),
        has_curl=data.get("curl"),
        units=units,
    )


def bare_facts(host: str, spec: ProbeSpec, *, has_curl: bool | None = None) -> HostFacts:
    """Facts of a host without its base Python: nothing we manage can be there yet."""
    return HostFacts(
        host=host,
        base_python=BasePythonFacts(exists=False),
        venv=VenvFacts(path=spec.venv),
        service=ServiceFacts(name=spec.service),
        has_curl=has_curl,
        units={u["service"]: UnitFacts(venv=VenvFacts(path=u["venv"]),
                                       service=ServiceFacts(name=u["service"]))
               for u in spec.units},
    )


def host_has_curl(connection: Connection) -> bool:
    r"""Does ``<SystemRoot>\System32\curl.exe`` exist, on a host the probe cannot run on (no
    base Python)? WinRS starts it by full path (``--version``, output unread) or CreateProcess
    finds no such file."""
    try:
        connection.run(Command((system32("curl.exe"), "--version")), idempotent=True, timeout=60)
    except ProgramNotFound:
        return False
    return True


def gather_facts(connection: Connection, spec: ProbeSpec) -> HostFacts:
    """Run the probe (one command, the base Python by full path) and return the host's facts;
    on a host without its base Python, one more command learns whether curl.exe is there."""
    started = time.monotonic()
    try:
        result = connection.run(probe_command(spec), idempotent=True, timeout=300)
    except ProgramNotFound:
        facts = bare_facts(connection.host, spec, has_curl=host_has_curl(connection))
    else:
        if result.rc != 0:
            raise ProbeError(
                f"{connection.host}: the fact probe ({spec.base_python}) failed with exit code "
                f"{result.rc}: {(result.stderr or result.stdout)[-500:]}"
            )
        facts = facts_from_probe(connection.host, spec, read_probe_output(result.stdout))
        if facts.codepages.oem:  # later output of this host decodes in its OEM code page
            connection.oem_codepage = facts.codepages.oem
    return facts.model_copy(
        update={"probed_at": time.time(), "elapsed": time.monotonic() - started}
    )
