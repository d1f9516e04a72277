"""Expose a tacfleet connection to pytest as a testinfra ``Host``.

Checks can then use testinfra's API (``host.run``, ``host.check_output``) over the same single
WinRM shell the fact probe uses. ``host.run(line)`` runs the line with cmd.exe (arguments
quoted by ``winhost.cmdline`` for Windows' cmd.exe, not POSIX-style as testinfra's stock winrm
backend does); ``run_argv`` runs a program by full path without cmd.exe.
"""

from __future__ import annotations

from typing import Any

import testinfra.host
from testinfra.backend import base

from winhost.cmdline import Command, cmd_arg
from winhost.connection import Connection


class TacfleetBackend(base.BaseBackend):  # type: ignore[misc]  # testinfra is untyped
    """A testinfra backend over any ``winhost`` connection."""

    NAME = "tacfleet"

    def __init__(self, connection: Connection, **kwargs: Any) -> None:
        self.connection = connection
        super().__init__(connection.host, **kwargs)

    @staticmethod
    def quote(command: str, *args: str) -> str:
        if args:
            return command % tuple(cmd_arg(a) for a in args)
        return command

    def get_encoding(self) -> str:
        return "utf-8"

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        line = self.get_command(command, *args)
        result = self.connection.run(line, idempotent=kwargs.get("idempotent", False))
        return self.result(result.rc, self.encode(line), result.stdout, result.stderr)

    def run_argv(self, program: str, *args: str, idempotent: bool = False) -> base.CommandResult:
        """Run a program (full path) with arguments directly, without cmd.exe."""
        command = Command((program, *args))
        result = self.connection.run(command, idempotent=idempotent)
        return self.result(result.rc, self.encode(command.line), result.stdout, result.stderr)


def testinfra_host(connection: Connection) -> testinfra.host.Host:
    """A testinfra ``Host`` whose every command goes over ``connection``."""
    backend = TacfleetBackend(connection)
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host
