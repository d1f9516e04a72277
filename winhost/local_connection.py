"""Run commands on the Windows host tacfleet itself runs on (``connection.kind: local``)."""

from __future__ import annotations

import os
import subprocess
import time

from winhost.connection import ConnectionStats, codepage_encoding
from winhost.errors import CommandTimeout, HostError
from winhost.result import Result


class LocalConnection:
    """cmd.exe ``/c`` on this machine, exactly as WinRS runs a command on a remote host."""

    def __init__(self, host: str, *, codepage: int = 65001, default_timeout: float = 600.0):
        self.host = host
        self.codepage = codepage
        self.default_timeout = default_timeout
        self.stats = ConnectionStats()

    def __repr__(self) -> str:
        return f"LocalConnection(host={self.host!r})"

    def run(
        self, command: str, *, timeout: float | None = None, idempotent: bool = False
    ) -> Result:
        if os.name != "nt":
            raise HostError(
                self.host,
                "connection kind 'local' runs commands with this machine's cmd.exe and works only "
                "on Windows; use kind 'winrm' to reach a Windows host from here",
            )
        comspec = os.environ.get("COMSPEC", r"C:\Windows\System32\cmd.exe")
        started = time.monotonic()
        try:
            # A str command line reaches CreateProcess verbatim, as WinRS hands it to cmd.exe.
            proc = subprocess.run(
                f'"{comspec}" /d /c {command}',
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout or self.default_timeout,
            )
        except subprocess.TimeoutExpired:
            raise CommandTimeout(self.host, f"command ran longer than {timeout}s") from None
        self.stats.commands += 1
        elapsed = time.monotonic() - started
        self.stats.seconds += elapsed
        encoding = codepage_encoding(self.codepage)
        return Result(
            proc.returncode,
            proc.stdout.decode(encoding, errors="replace"),
            proc.stderr.decode(encoding, errors="replace"),
            elapsed,
        )

    def close(self) -> None:
        """Nothing to release."""
