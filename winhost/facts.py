"""HostFacts: everything the checks and the provisioner know about a host, from one probe."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from winhost import parsers
from winhost.connection import Connection
from winhost.probe import ProbeError, ProbeSpec, decode_b64, probe_command, read_probe_output

#: How a missing program shows in cmd.exe: "not recognized" (9009) or "path not found" (3).
_NOT_FOUND_RCS = {9009, 3}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Output(_Model):
    """Exit code and decoded output of one program the probe ran; rc None = could not run."""

    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: str = ""


class BasePython(_Model):
    exists: bool
    executable: str = ""
    version: str = ""
    embeddable: bool = False
    packages: dict[str, str | None] = Field(default_factory=dict)


class ImportFact(_Model):
    ok: bool
    detail: str  # the module's __version__, or the error


class Venv(_Model):
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


class FileFact(_Model):
    path: str
    exists: bool = False
    sha256: str | None = None
    size: int | None = None


#: NSSM 2.24's defaults for the parameters tacfleet manages (nssm.h / settings.cpp).
NSSM_DEFAULTS: dict[str, Any] = {
    "AppThrottle": 1500,
    "AppRestartDelay": 0,
    "AppRotateFiles": 0,
    "AppRotateBytes": 0,
}


class Service(_Model):
    name: str
    exists: bool = False
    config: parsers.ServiceConfig | None = None
    status: parsers.ServiceStatus | None = None
    description: str | None = None
    registry: dict[str, Any] = Field(default_factory=dict)  # values of Services\<name>
    parameters: dict[str, Any] = Field(default_factory=dict)  # NSSM's Parameters key
    app_exit: str | None = None  # NSSM's AppExit default action

    def param(self, name: str) -> Any:
        """An NSSM parameter as NSSM reads it: the registry value, else NSSM's default.

        ``nssm set`` deletes a value that equals its default (AppThrottle 1500, for one), so
        an absent value means the default, not "unset".
        """
        if name in self.parameters:
            return self.parameters[name]
        return NSSM_DEFAULTS.get(name) if self.exists else None

    @property
    def start(self) -> str | None:
        """``auto``, ``delayed-auto``, ``demand``, ``disabled``, ``boot``, ``system`` or None."""
        code = self.registry.get("Start")
        delayed = bool(self.registry.get("DelayedAutostart"))
        if self.config is not None:
            code, delayed = self.config.start_code, self.config.delayed
        return _start_name(code, delayed)

    @property
    def account(self) -> str | None:
        if self.config is not None and self.config.start_name:
            return self.config.start_name
        value = self.registry.get("ObjectName")
        return str(value) if value is not None else None

    @property
    def state(self) -> str | None:
        return self.status.state if self.status is not None else None


class HostFacts(_Model):
    """The observed state of one host."""

    host: str
    hostname: str = ""
    probed_at: float = 0.0
    elapsed: float = 0.0
    base_python: BasePython
    venv: Venv
    service: Service
    files: dict[str, FileFact] = Field(default_factory=dict)
    dirs: dict[str, bool] = Field(default_factory=dict)
    acls: dict[str, Output] = Field(default_factory=dict)
    port_open: bool | None = None

    def file(self, path: str) -> FileFact:
        """Facts about a file the probe was asked about (paths compare case-insensitively)."""
        for known, fact in self.files.items():
            if known.lower() == path.lower():
                return fact
        return FileFact(path=path)

    def dir_exists(self, path: str) -> bool:
        return any(v for k, v in self.dirs.items() if k.lower() == path.lower())


_START_NAMES = {0: "boot", 1: "system", 2: "auto", 3: "demand", 4: "disabled"}


def _start_name(code: object, delayed: bool) -> str | None:
    if not isinstance(code, int):
        return None
    name = _START_NAMES.get(code, str(code))
    return "delayed-auto" if name == "auto" and delayed else name


def _output(raw: dict[str, Any] | None) -> Output | None:
    if raw is None:
        return None
    return Output(
        rc=raw.get("rc"),
        stdout=parsers.decode_output(decode_b64(raw.get("out"))),
        stderr=parsers.decode_output(decode_b64(raw.get("err"))),
        error=raw.get("error", ""),
    )


def _service(name: str, outputs: dict[str, Output]) -> Service:
    query = outputs.get("sc_query")
    status = parsers.parse_sc_query(query.stdout) if query and query.rc == 0 else None
    qc = outputs.get("sc_qc")
    config = parsers.parse_sc_qc(qc.stdout) if qc and qc.rc == 0 else None
    qd = outputs.get("sc_qdescription")
    description = parsers.parse_sc_qdescription(qd.stdout) if qd and qd.rc == 0 else None
    reg = outputs.get("reg_service")
    keys = parsers.parse_reg_query(reg.stdout) if reg and reg.rc == 0 else {}
    registry: dict[str, Any] = {}
    parameters: dict[str, Any] = {}
    app_exit = None
    for key, values in keys.items():
        plain = {n: v.data for n, v in values.items()}
        lowered = key.lower()
        if lowered.endswith("\\parameters\\appexit"):
            app_exit = plain.get("(Default)")
        elif lowered.endswith("\\parameters"):
            parameters = plain
        elif lowered.endswith("\\" + name.lower()):
            registry = plain
    exists = status is not None or config is not None or bool(registry)
    return Service(
        name=name,
        exists=exists,
        config=config,
        status=status,
        description=description,
        registry=registry,
        parameters=parameters,
        app_exit=None if app_exit is None else str(app_exit),
    )


def facts_from_probe(host: str, spec: ProbeSpec, data: dict[str, Any]) -> HostFacts:
    """Turn the probe's JSON document into typed facts (all parsing happens here)."""
    outputs = {k: o for k, v in data.get("outputs", {}).items() if (o := _output(v)) is not None}
    venv_raw = data.get("venv", {})
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
    base = data.get("base", {})
    return HostFacts(
        host=host,
        hostname=data.get("hostname", ""),
        base_python=BasePython(exists=True, **base),
        venv=Venv(
            path=spec.venv,
            exists=venv_raw.get("exists", False),
            python_exists=venv_raw.get("python_exists", False),
            twistd_exists=venv_raw.get("twistd_exists", False),
            cfg=venv_raw.get("cfg") or {},
            twistd_help=outputs.get("twistd_help"),
            **venv_fields,
        ),
        service=_service(spec.service, outputs),
        files={p: FileFact(**f) for p, f in data.get("files", {}).items()},
        dirs=data.get("dirs", {}),
        acls={
            path: outputs[f"icacls_{i}"]
            for i, path in enumerate(data.get("acl_paths", []))
            if f"icacls_{i}" in outputs
        },
        port_open=data.get("port_open"),
    )


def bare_facts(host: str, spec: ProbeSpec) -> HostFacts:
    """Facts of a host without its base Python: nothing we manage can be there yet."""
    return HostFacts(
        host=host,
        base_python=BasePython(exists=False),
        venv=Venv(path=spec.venv),
        service=Service(name=spec.service),
    )


def gather_facts(connection: Connection, spec: ProbeSpec) -> HostFacts:
    """Run the probe (one command) and return the host's facts."""
    started = time.monotonic()
    result = connection.run(probe_command(spec), idempotent=True, timeout=300)
    if result.rc in _NOT_FOUND_RCS and "TACFLEET-FACTS" not in result.stdout:
        facts = bare_facts(connection.host, spec)
    elif result.rc != 0:
        raise ProbeError(
            f"{connection.host}: the fact probe failed with exit code {result.rc}: "
            f"{(result.stderr or result.stdout)[-500:]}"
        )
    else:
        facts = facts_from_probe(connection.host, spec, read_probe_output(result.stdout))
    return facts.model_copy(
        update={"probed_at": time.time(), "elapsed": time.monotonic() - started}
    )
