"""The contract between the WinRM endpoint and whatever runs its commands.

The endpoint (``sandbox.winrm``) knows nothing about Wine: it hands each WinRS command line to an
``Executor`` and polls the returned ``Job``. ``sandbox.host`` supplies the Wine executor; the
endpoint's own protocol tests may use ``PosixShellExecutor``.
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ExecResult:
    """Exit code and raw (undecoded) output bytes of one finished command."""

    rc: int
    stdout: bytes
    stderr: bytes


class Job(Protocol):
    """A command that was started; the endpoint polls it from Receive."""

    def wait(self, timeout: float) -> ExecResult | None:
        """Block up to ``timeout`` seconds; the result once finished, else None."""
        ...

    def terminate(self) -> None:
        """Stop the command (WinRS Signal terminate); idempotent."""
        ...


class Executor(Protocol):
    """Starts a command line with cmd.exe ``/c`` semantics on the exact string given."""

    def start(self, cmdline: str, *, codepage: int = 437) -> Job: ...


class _ThreadJob:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._done = threading.Event()
        self._result: ExecResult | None = None
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        out, err = self._proc.communicate()
        self._result = ExecResult(self._proc.returncode, out, err)
        self._done.set()

    def wait(self, timeout: float) -> ExecResult | None:
        self._done.wait(timeout)
        return self._result

    def terminate(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()


class PosixShellExecutor:
    """Runs command lines with /bin/sh: only for testing the endpoint's protocol layer."""

    def start(self, cmdline: str, *, codepage: int = 437) -> Job:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", cmdline],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        return _ThreadJob(proc)
