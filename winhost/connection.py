"""The one interface for running commands on a host: ``run(command) -> Result``.

Like testinfra's ``backend/base.py``: the protocol every transport implements (``Connection``),
what one command returns (``Result``), what a connection cost (``ConnectionStats``) and how a
Windows program's output bytes become text (``decode_output``). Each transport is one module
(``winrm_connection``, ``local_connection``); ``winhost.open`` opens the one an inventory entry
describes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from winhost.cmdline import Command
from winhost.untrusted import strip_controls

#: Each connection logs every command line here at INFO before sending it (``fleet.runlog``
#: writes them into the run log); nothing is logged unless a handler asks for INFO.
COMMANDS = logging.getLogger("tacfleet.commands")

#: A program's standard input: bytes, or blocks read as they are sent (a file streamed from
#: disk: its size on the controller never becomes a copy in memory). Iterated once per run.
Stdin = bytes | Iterable[bytes]


def stdin_parts(stdin: Stdin, size: int) -> Iterator[tuple[bytes, bool]]:
    """``stdin`` cut into parts of ``size`` bytes (the last may be shorter), each with "is it
    the last?": one Send each. Empty input is one empty, last part (it closes the pipe)."""
    blocks: Iterable[bytes] = (stdin,) if isinstance(stdin, bytes) else stdin
    buffer = bytearray()
    ready: bytes | None = None
    for block in blocks:
        buffer += block
        while len(buffer) >= size:
            if ready is not None:
                yield ready, False
            ready = bytes(buffer[:size])
            del buffer[:size]
    if ready is not None:
        yield ready, not buffer
    if buffer or ready is None:
        yield bytes(buffer), True


@dataclass(frozen=True)
class Result:
    """Exit code, decoded output and wall time of one command."""

    rc: int
    stdout: str
    stderr: str
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass
class ConnectionStats:
    """What a connection cost: the figures behind our performance claims."""

    http_requests: int = 0
    commands: int = 0
    shells_opened: int = 0
    retries: int = 0
    seconds: float = 0.0
    by_action: dict[str, int] = field(default_factory=dict)


class Connection(Protocol):
    """A way to run commands on one Windows host."""

    host: str
    stats: ConnectionStats
    #: The host's OEM code page once a probe has seen it (``decode_output``'s fallback).
    oem_codepage: int | None

    def run(
        self, command: Command | str, *, timeout: float | None = None, idempotent: bool = False,
        stdin: Stdin | None = None,
    ) -> Result:
        """Run one command: a ``Command`` directly (WinRS skips cmd.exe; a missing program
        raises ``ProgramNotFound``), a ``str`` as ``cmd.exe /c <line>`` (users' own lines).

        ``idempotent`` marks a read that may be retried after a transport error. ``stdin``:
        the program's standard input (WinRS Send), closed after it.
        """
        ...

    def close(self) -> None:
        """Release the shell and the HTTP session; safe to call twice."""
        ...


def codepage_encoding(codepage: int) -> str:
    """The Python codec for a Windows console code page."""
    return "utf-8" if codepage == 65001 else f"cp{codepage}"


def decode_output(raw: bytes, codepage: int = 65001, oem: int | None = None) -> str:
    """A Windows program's output as text, decided here for every caller, and safe to show.

    UTF-16LE when it carries a BOM or looks like it (nssm); else the shell's code page when the
    bytes decode cleanly in it; else the host's OEM code page, which Windows' console programs
    write to a pipe whatever the shell asked for (cp850 on a German host, cp932 on a Japanese
    one; ``facts.codepages.oem``); cp437 while that is not known yet. CRLF becomes LF and other
    control characters but tab are stripped (``winhost.untrusted``): a host's output never
    carries a terminal escape sequence into a terminal, a run log or a report.
    """
    return strip_controls(_decode(raw, codepage, oem))


def _decode(raw: bytes, codepage: int, oem: int | None) -> str:
    if raw.startswith(b"\xff\xfe"):
        return raw[2:].decode("utf-16-le", errors="replace")
    if len(raw) >= 2 and raw[1::2].count(0) >= max(1, len(raw) // 2 * 3 // 4):
        return raw.decode("utf-16-le", errors="replace")
    for candidate in (codepage, oem or 437):
        try:
            return raw.decode(codepage_encoding(candidate))
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("cp437", errors="replace")
