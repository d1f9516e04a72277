"""Errors raised when talking to a host; messages name the host and never carry a secret."""

from __future__ import annotations


class HostError(Exception):
    """Something went wrong with one host; ``host`` names it."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host


class HostUnreachable(HostError):
    """The host did not answer (connection refused, reset, DNS, TLS)."""


class AuthenticationFailed(HostError):
    """The host rejected the credentials."""


class CommandTimeout(HostError):
    """A command ran past its deadline and was terminated."""


class ConnectionLost(HostError):
    """The connection broke while a command that changes the host was running.

    Such a command is not retried: it may or may not have run; the next probe tells.
    """


class ProgramNotFound(HostError):
    """A program run without cmd.exe does not exist on the host (Windows error 2 or 3).

    WinRS refuses such a Command with a WS-Management fault whose code is 0x80070002 or
    0x80070003; nothing ran.
    """
