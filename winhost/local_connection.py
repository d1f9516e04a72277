"""Run commands on the Windows host tacfleet itself runs on (``connection.kind: local``)."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from typing import IO

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
            rc, out, err = run_process(line, stdin, timeout or self.default_timeout)
        except FileNotFoundError:
            program = command.program if isinstance(command, Command) else line
            raise ProgramNotFound(self.host, f"{program} does not exist; nothing ran") from None
        except subprocess.TimeoutExpired:
            raise CommandTimeout(self.host, f"command ran longer than {timeout}s") from None
        self.stats.commands += 1
        elapsed = time.monotonic() - started
        self.stats.seconds += elapsed
        return Result(
            rc,
            decode_output(out, self.codepage, self.oem_codepage),
            decode_output(err, self.codepage, self.oem_codepage),
            elapsed,
        )

    def close(self) -> None:
        """Nothing to release."""


def run_process(args: str | list[str], stdin: Stdin | None,
                timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``args`` (a str reaches CreateProcess verbatim: no list2cmdline re-quoting) and
    return (exit code, stdout, stderr). Streamed ``stdin`` is written part by part as the
    program reads it, never joined in memory (a wheel of hundreds of MB); no stdin is NUL.
    Past ``timeout`` the program is killed and ``subprocess.TimeoutExpired`` raised."""
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with proc:
        if stdin is None:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
            return proc.returncode, out, err
        captured: dict[str, bytes] = {}
        readers = [threading.Thread(target=_drain, args=(stream, captured, name), daemon=True)
                   for name, stream in (("out", proc.stdout), ("err", proc.stderr))]
        writer = threading.Thread(target=_feed, args=(proc, stdin), daemon=True)
        for thread in (*readers, writer):
            thread.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        for thread in (writer, *readers):
            thread.join()
        return proc.returncode, captured.get("out", b""), captured.get("err", b"")


def _drain(stream: IO[bytes], into: dict[str, bytes], name: str) -> None:
    into[name] = stream.read()


def _feed(proc: subprocess.Popen[bytes], stdin: Stdin) -> None:
    """Write ``stdin`` to the program, then close it; a program that exits unread ends it."""
    assert proc.stdin is not None
    try:
        for part in [stdin] if isinstance(stdin, bytes) else stdin:
            proc.stdin.write(part)
        proc.stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass  # the program stopped reading (exited): its exit code tells the caller
