"""Run commands on the Windows host tacfleet itself runs on (``connection.kind: local``)."""

from __future__ import annotations

import logging
import os
import subprocess
import time

from winhost.cmdline import Command
from winhost.connection import COMMANDS, ConnectionStats, Result, Stdin, decode_output
from winhost.errors import CommandTimeout, HostError, ProgramNotFound


class LocalConnection:
    """Commands on this machine as WinRS runs them on a remote host: a ``Command`` directly
    (no cmd.exe), a ``str`` with ``cmd.exe /c``."""

    def __init__(self, host: str, *, codepage: int = 65001, default_timeout: float = 600.0):
        self.host = host
        self.codepage = codepage
        self.oem_codepage: int | None = None
        self.default_timeout = default_timeout
        self.stats = ConnectionStats()

    def __repr__(self) -> str:
        return f"LocalConnection(host={self.host!r})"

    def run(
        self, command: Command | str, *, timeout: float | None = None, idempotent: bool = False,
        stdin: Stdin | None = None,
    ) -> Result:
        if os.name != "nt":
            raise HostError(
                self.host,
                "connection kind 'local' runs commands with this machine's cmd.exe and works only "
                "on Windows; use kind 'winrm' to reach a Windows host from here",
            )
        if isinstance(command, Command):
            line = command.line  # CreateProcess gets exactly the Command's lpCommandLine
        else:
            comspec = os.environ.get("COMSPEC", r"C:\Windows\System32\cmd.exe")
            line = f'"{comspec}" /d /c {command}'
        if COMMANDS.isEnabledFor(logging.INFO):  # the run log (fleet.runlog)
            COMMANDS.info("%s %s", self.host, line)
        started = time.monotonic()
        try:
            # A str line reaches CreateProcess verbatim (no list2cmdline re-quoting).
            proc = subprocess.run(
                line,
                input=stdin if stdin is None or isinstance(stdin, bytes) else b"".join(stdin),
                stdin=subprocess.DEVNULL if stdin is None else None,
                capture_output=True,
                timeout=timeout or self.default_timeout,
            )
        except FileNotFoundError:
            program = command.program if isinstance(command, Command) else line
            raise ProgramNotFound(self.host, f"{program} does not exist; nothing ran") from None
        except subprocess.TimeoutExpired:
            raise CommandTimeout(self.host, f"command ran longer than {timeout}s") from None
        self.stats.commands += 1
        elapsed = time.monotonic() - started
        self.stats.seconds += elapsed
        return Result(
            proc.returncode,
            decode_output(proc.stdout, self.codepage, self.oem_codepage),
            decode_output(proc.stderr, self.codepage, self.oem_codepage),
            elapsed,
        )

    def close(self) -> None:
        """Nothing to release."""
