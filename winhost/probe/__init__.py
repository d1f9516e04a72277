"""The fact probe: what to look at (``ProbeSpec``), the one command that looks (built here,
``script.py`` run on the host), and its answer read back as ``HostFacts`` (``facts.py``).

    facts = gather_facts(connection, ProbeSpec(base_python=..., venv=..., service=...))

As testinfra's modules read a host through a backend, the probe reads one through any
``winhost.connection.Connection``: one command per host, whatever it asks.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict, dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from winhost.cmdline import DEFAULT_SYSTEM_ROOT, Command, packed_script, system32
from winhost.connection import Connection, decode_output
from winhost.errors import OutputError, ProgramNotFound
from winhost.probe.facts import (
    BasePythonFacts,
    Codepages,
    FileFact,
    FolderAcl,
    HostFacts,
    ImportFact,
    Output,
    ReleaseDir,
    ReleaseFacts,
    ServiceFacts,
    ServiceStatus,
    UnitFacts,
    VenvFacts,
    folder_acl,
    normalize_name,
)
from winhost.untrusted import strip_controls

__all__ = [
    "MARKER",
    "BasePythonFacts",
    "Codepages",
    "FileFact",
    "FolderAcl",
    "HostFacts",
    "ProbeError",
    "ProbeSpec",
    "ReleaseFacts",
    "ServiceFacts",
    "ServiceStatus",
    "UnitFacts",
    "VenvFacts",
    "bare_facts",
    "facts_from_probe",
    "folder_acl",
    "gather_facts",
    "host_has_curl",
    "probe_command",
    "read_probe_output",
]

MARKER = "TACFLEET-FACTS "


@dataclass(frozen=True)
class ProbeSpec:
    """What to look at on one host: paths and names from its inventory entry."""

    base_python: str
    venv: str
    service: str
    python: str  # the venv's python.exe and twistd.exe, by full path (the controller's rule)
    twistd: str
    imports: list[str] = field(default_factory=lambda: ["twisted", "win32api"])
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    acl_paths: list[str] = field(default_factory=list)  # folders whose DACL is saved as SDDL
    #: files and folders whose owner is read (by SID; the lock folder and its locks always)
    owner_paths: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)  # names to resolve to SIDs on the host
    port: int | None = None
    #: ``<root>\\releases`` of a service with ``app.releases``: its folders and history are read
    releases: str | None = None
    #: the host's further services, each ``{"venv", "python", "twistd", "service", "port"}``
    #: (the first is above)
    units: list[dict[str, Any]] = field(default_factory=list)


class ProbeError(OutputError):
    """The probe's answer could not be read."""


@cache
def _bootstrap() -> str:
    return packed_script(resources.files("winhost.probe").joinpath("script.py").read_bytes())


def probe_command(spec: ProbeSpec) -> Command:
    """The probe as one program run without cmd.exe: the base Python by its full path,
    ``-I -c <bootstrap> <base64 JSON parameters>``."""
    params = json.dumps(
        {k: v for k, v in asdict(spec).items()
         if k != "base_python" and not (k in ("units", "releases") and not v)},
        separators=(",", ":")
    )
    return _probe_line(spec.base_python, params)


@lru_cache(maxsize=1024)
def _probe_line(base_python: str, params: str) -> Command:
    """One ``Command`` (its line quoted once) per distinct host spec."""
    encoded = base64.b64encode(params.encode("utf-8")).decode("ascii")
    return Command((base_python, "-I", "-c", _bootstrap(), encoded))


def read_probe_output(stdout: str) -> dict[str, Any]:
    """The JSON document from the probe's marker line, every string in it stripped of control
    characters (``winhost.untrusted``: JSON carries ``\\u001b`` as six harmless characters)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                data: dict[str, Any] = strip_controls(json.loads(line[len(MARKER) :]))
            except json.JSONDecodeError as exc:
                raise ProbeError(f"probe answer is not valid JSON: {exc}") from None
            return data
    raise ProbeError(f"no probe answer in the output: {stdout[-300:]!r}")


def _decode_b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _output(raw: dict[str, Any] | None, oem: int | None) -> Output | None:
    if raw is None:
        return None
    return Output(
        rc=raw.get("rc"),
        stdout=decode_output(_decode_b64(raw.get("out")), oem=oem),
        stderr=decode_output(_decode_b64(raw.get("err")), oem=oem),
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
        doc = strip_controls(json.loads(venv_out.stdout.strip().splitlines()[-1]))
        venv_fields = {
            "version": doc["version"],
            "dists": {normalize_name(k): v for k, v in doc["dists"].items()},
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
    owners = {str(path): _owner(raw) for path, raw in (data.get("owners") or {}).items()}
    units = {
        want["service"]: UnitFacts(
            venv=_venv(want["venv"], raw.get("venv") or {}, _outputs(raw.get("outputs", {}), oem)),
            service=_service(want["service"], raw.get("service") or {}),
            port_open=raw.get("port_open"),
            releases=_releases(raw.get("releases")),
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
        owners=owners,
        account_sids={k: v for k, v in (data.get("sids") or {}).items() if v},
        logon_right=logon.get("sids"),
        logon_right_source=logon.get("source", ""),
        logon_right_error=logon.get("error", ""),
        port_open=data.get("port_open"),
        has_curl=data.get("curl"),
        units=units,
        releases=_releases(data.get("releases")),
    )


def _owner(raw: object) -> str:
    """One owner read by the probe: its SID, or ``error: …`` (the host's answer is untrusted)."""
    sid = raw.get("sid") if isinstance(raw, dict) else None
    if isinstance(sid, str):
        return sid
    why = raw.get("error") if isinstance(raw, dict) else None
    return f"error: {why if isinstance(why, str) else 'unreadable answer'}"


def _releases(raw: dict[str, Any] | None) -> ReleaseFacts | None:
    if not raw:
        return None
    return ReleaseFacts(path=raw.get("path", ""), history=raw.get("history") or [],
                        names=[ReleaseDir(**n) for n in raw.get("names") or []])


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
