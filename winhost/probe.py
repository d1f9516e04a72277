"""Build the one-command fact probe and read its answer back."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import asdict, dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from winhost.cmdline import Command
from winhost.errors import OutputError

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
    accounts: list[str] = field(default_factory=list)  # names to resolve to SIDs on the host
    port: int | None = None
    #: the host's further services, each ``{"venv", "python", "twistd", "service", "port"}``
    #: (the first is above)
    units: list[dict[str, Any]] = field(default_factory=list)


class ProbeError(OutputError):
    """The probe's answer could not be read."""


@cache
def _bootstrap() -> str:
    source = resources.files("winhost").joinpath("probe_script.py").read_bytes()
    packed = base64.b64encode(zlib.compress(source, 9)).decode("ascii")
    return f"import base64,zlib;exec(zlib.decompress(base64.b64decode('{packed}')))"


def probe_command(spec: ProbeSpec) -> Command:
    """The probe as one program run without cmd.exe: the base Python by its full path,
    ``-I -c <bootstrap> <base64 JSON parameters>``."""
    params = json.dumps(
        {k: v for k, v in asdict(spec).items()
         if k != "base_python" and not (k == "units" and not v)}, separators=(",", ":")
    )
    return _probe_line(spec.base_python, params)


@lru_cache(maxsize=1024)
def _probe_line(base_python: str, params: str) -> Command:
    """One ``Command`` (its line quoted once) per distinct host spec."""
    encoded = base64.b64encode(params.encode("utf-8")).decode("ascii")
    return Command((base_python, "-I", "-c", _bootstrap(), encoded))


def read_probe_output(stdout: str) -> dict[str, Any]:
    """The JSON document from the probe's marker line."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                data: dict[str, Any] = json.loads(line[len(MARKER) :])
            except json.JSONDecodeError as exc:
                raise ProbeError(f"probe answer is not valid JSON: {exc}") from None
            return data
    raise ProbeError(f"no probe answer in the output: {stdout[-300:]!r}")


def decode_b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")
