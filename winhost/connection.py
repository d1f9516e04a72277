"""The one interface for running commands on a host: ``run(command) -> Result``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from winhost.cmdline import Command
from winhost.result import Result


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

    def run(
        self, command: Command | str, *, timeout: float | None = None, idempotent: bool = False
    ) -> Result:
        """Run one command: a ``Command`` directly (WinRS skips cmd.exe; a missing program
        raises ``ProgramNotFound``), a ``str`` as ``cmd.exe /c <line>`` (users' own lines).

        ``idempotent`` marks a read that may be retried after a transport error.
        """
        ...

    def close(self) -> None:
        """Release the shell and the HTTP session; safe to call twice."""
        ...


def codepage_encoding(codepage: int) -> str:
    """The Python codec for a Windows console code page."""
    return "utf-8" if codepage == 65001 else f"cp{codepage}"
