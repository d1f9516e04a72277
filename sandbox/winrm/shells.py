"""WinRS shells and the commands running in them, on top of an ``Executor``."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from sandbox.executor import ExecResult, Executor, Job
from sandbox.winrm import soap


@dataclass
class Command:
    job: Job
    result: ExecResult | None = None
    delivered: bool = False


@dataclass
class Shell:
    shell_id: str
    codepage: int
    commands: dict[str, Command] = field(default_factory=dict)


class Shells:
    """Every open shell of one endpoint; thread-safe."""

    def __init__(self, executor: Executor, max_shells: int = 30) -> None:
        self._executor = executor
        self._lock = threading.Lock()
        self._shells: dict[str, Shell] = {}
        self.max_shells = max_shells
        self.created = 0
        self.commands = 0

    def __len__(self) -> int:
        return len(self._shells)

    def create(self, codepage: int) -> str:
        with self._lock:
            if len(self._shells) >= self.max_shells:
                # Windows: MaxShellsPerUser (default 30) exceeded.
                raise soap.SoapError("w:QuotaLimit", 2150859173,
                                     "The WS-Management service cannot process the request. "
                                     "This user is allowed a maximum number of 30 concurrent "
                                     "shells, which has been exceeded.")
            shell_id = str(uuid.uuid4()).upper()
            self._shells[shell_id] = Shell(shell_id, codepage)
            self.created += 1
            return shell_id

    def _shell(self, shell_id: str | None) -> Shell:
        shell = self._shells.get(shell_id or "")
        if shell is None:
            raise soap.unknown_shell(shell_id)
        return shell

    def start(self, shell_id: str | None, command_line: str) -> str:
        shell = self._shell(shell_id)
        job = self._executor.start(command_line, codepage=shell.codepage)
        command_id = str(uuid.uuid4()).upper()
        with self._lock:
            shell.commands[command_id] = Command(job)
            self.commands += 1
        return command_id

    def receive(self, shell_id: str | None, command_id: str | None,
                wait: float) -> tuple[bytes, bytes, int | None]:
        """Output and exit code once finished; TimedOut fault if still running after ``wait``."""
        shell = self._shell(shell_id)
        command = shell.commands.get(command_id or "")
        if command is None:
            raise soap.SoapError("w:InvalidSelectors", soap.INVALID_SELECTORS,
                                 f"The command {command_id} was not found in shell {shell_id}.")
        if command.result is None:
            command.result = command.job.wait(wait)
            if command.result is None:
                raise soap.timed_out()
        if command.delivered:
            return b"", b"", command.result.rc
        command.delivered = True
        return command.result.stdout, command.result.stderr, command.result.rc

    def signal(self, shell_id: str | None, command_id: str | None) -> None:
        shell = self._shell(shell_id)
        command = shell.commands.pop(command_id or "", None)
        if command is not None:
            command.job.terminate()

    def delete(self, shell_id: str | None) -> None:
        with self._lock:
            shell = self._shells.pop(shell_id or "", None)
        if shell is None:
            raise soap.unknown_shell(shell_id)
        for command in shell.commands.values():
            command.job.terminate()

    def close_all(self) -> None:
        for shell_id in list(self._shells):
            self.delete(shell_id)
