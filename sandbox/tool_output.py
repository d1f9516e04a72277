"""What Windows' ``sc`` and ``icacls`` print, read back: the shapes the stand-ins are held to.

Nothing in the product parses Windows tools' text: the fact probe reads the registry, the
service control manager and SDDL. These parsers read authentic captured outputs
(tests/data/samples) and what the sandbox's stand-ins print, so a stand-in that drifts from
Windows' format fails (tests/unit/sandbox/test_standins.py, test_tool_output.py,
tests/integration/test_sandbox_host.py). ``sc`` keeps its labels and values in English on a
German host (only the ``[SC] … SUCCESS/ERFOLG`` header and messages are translated), and fields
are read by position.
"""

from __future__ import annotations

import re

from pydantic import Field

from inventory.frozen import Frozen
from winhost.errors import OutputError


class ParseError(OutputError):
    """Output that does not have the shape the parser expects."""

    def __init__(self, tool: str, text: str) -> None:
        excerpt = text.strip()[:160].replace("\r", "")
        super().__init__(f"unexpected `{tool}` output: {excerpt!r}")


class ServiceNotFound(LookupError):
    """``sc`` answered 1060: the service does not exist."""


class ServiceConfig(Frozen):
    """``sc qc``: QueryServiceConfig's fields."""

    name: str
    type_code: int
    type_name: str
    start_code: int
    start_type: str  # AUTO_START, DEMAND_START, DISABLED, ...
    delayed: bool = False
    error_control: str = ""
    binary_path: str = ""
    load_order_group: str = ""
    tag: int = 0
    display_name: str = ""
    dependencies: list[str] = Field(default_factory=list)
    start_name: str = ""


class ServiceStatus(Frozen):
    """``sc query``: the service's state."""

    name: str
    state_code: int
    state: str  # RUNNING, STOPPED, START_PENDING, ...
    flags: list[str] = Field(default_factory=list)
    win32_exit_code: int = 0
    service_exit_code: int = 0


#: ``[SC] OpenService FAILED 1060:`` (German: ``FEHLER 1060:``): the service does not exist.
_NOT_FOUND = re.compile(r"^\[SC\] .*\b1060:", re.MULTILINE)
_FIELD = re.compile(r"^\s+([A-Z0-9_]+)\s*:\s?(.*?)\s*$")


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _fields(text: str, tool: str) -> tuple[str, list[tuple[str, str]]]:
    """The SERVICE_NAME value and the indented ``LABEL : value`` pairs after it."""
    if _NOT_FOUND.search(text):
        raise ServiceNotFound(text.strip())
    name = None
    pairs: list[tuple[str, str]] = []
    for line in _lines(text):
        if name is None:
            head, sep, value = line.partition(":")
            if sep and head.strip() and not line.startswith((" ", "[")):
                name = value.strip()
            continue
        match = _FIELD.match(line)
        if match:
            pairs.append((match.group(1), match.group(2)))
        elif line.strip() and pairs:  # continuation line (flags under STATE, more dependencies)
            label, value = pairs[-1]
            pairs[-1] = (label, f"{value}\n{line.strip()}")
    if name is None or not pairs:
        raise ParseError(tool, text)
    return name, pairs


def _code_and_name(value: str) -> tuple[int, str]:
    code, _, rest = value.strip().partition(" ")
    return int(code, 0), rest.strip()


def parse_sc_qc(text: str) -> ServiceConfig:
    """Parse ``sc qc <svc>``; raises ServiceNotFound for 1060, ParseError for anything else odd."""
    name, pairs = _fields(text, "sc qc")
    if len(pairs) < 9:
        raise ParseError("sc qc", text)
    values = [v for _, v in pairs]
    try:
        type_code, type_name = _code_and_name(values[0])
        start_code, start_rest = _code_and_name(values[1])
        error = _code_and_name(values[2])[1]
        tag = int(values[5] or 0)
    except ValueError:
        raise ParseError("sc qc", text) from None
    start_type = start_rest.split()[0] if start_rest else ""
    deps = [d.strip(" :") for d in values[7].split("\n") if d.strip(" :")]
    return ServiceConfig(
        name=name,
        type_code=type_code,
        type_name=type_name,
        start_code=start_code,
        start_type=start_type,
        delayed="(DELAYED)" in start_rest,
        error_control=error,
        binary_path=values[3],
        load_order_group=values[4],
        tag=tag,
        display_name=values[6],
        dependencies=deps,
        start_name=values[8].strip(),
    )


def parse_sc_query(text: str) -> ServiceStatus | None:
    """Parse ``sc query <svc>``; None when the service does not exist (1060)."""
    try:
        name, pairs = _fields(text, "sc query")
    except ServiceNotFound:
        return None
    values = [v for _, v in pairs]
    if len(values) < 4:
        raise ParseError("sc query", text)
    try:
        state_line, _, flag_line = values[1].partition("\n")
        state_code, state = _code_and_name(state_line)
        flags = [f.strip() for f in flag_line.strip().strip("()").split(",") if f.strip()]
        win32 = _code_and_name(values[2])[0]
        svc = _code_and_name(values[3])[0]
    except ValueError:
        raise ParseError("sc query", text) from None
    return ServiceStatus(
        name=name,
        state_code=state_code,
        state=state.split()[0],
        flags=flags,
        win32_exit_code=win32,
        service_exit_code=svc,
    )


def parse_sc_qdescription(text: str) -> str:
    """Parse ``sc qdescription <svc>``: the description (may be empty or several lines)."""
    if _NOT_FOUND.search(text):
        raise ServiceNotFound(text.strip())
    lines = _lines(text)
    for i, line in enumerate(lines):
        head, sep, value = line.partition(":")
        if sep and head.strip() == "DESCRIPTION":
            rest = [value.strip(), *(x.strip() for x in lines[i + 1 :])]
            return "\n".join(rest).strip()
    raise ParseError("sc qdescription", text)


class Ace(Frozen):
    """One access-control entry as icacls prints it: ``principal:(OI)(CI)(RX)``."""

    principal: str
    flags: list[str]  # inheritance flags: OI, CI, IO, NP, I
    rights: list[str]  # F, M, RX, R, W, D, … or a (specific,rights) list


_ACE = re.compile(r"^(?P<principal>.+?):(?P<parts>(?:\([A-Za-z,]+\))+)$")
_INHERITANCE = {"OI", "CI", "IO", "NP", "I"}


def parse_icacls(text: str, path: str) -> list[Ace]:
    """``icacls PATH``: the entries on ``path`` (the summary line is ignored)."""
    aces: list[Ace] = []
    for line in _lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith(("Successfully processed", "Failed")):
            continue
        if stripped.lower().startswith(path.lower()):
            stripped = stripped[len(path) :].strip()
        match = _ACE.match(stripped)
        if not match:
            raise ParseError("icacls", line)
        parts = re.findall(r"\(([^)]*)\)", match.group("parts"))
        aces.append(
            Ace(
                principal=match.group("principal"),
                flags=[p for p in parts if p in _INHERITANCE],
                rights=[r for p in parts if p not in _INHERITANCE for r in p.split(",")],
            )
        )
    return aces
