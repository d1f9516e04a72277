"""WinRS shells and the commands running in them, on top of an ``Executor``.

Windows' limits apply: at most ``max_shells`` open shells per user (MaxShellsPerUser, default 30),
and a shell with no request for ``idle_timeout`` seconds (IdleTimeout, default 7,200,000 ms) is
deleted with its commands terminated, so the shells of a killed client do not pile up.

``max_processes`` (MaxProcessesPerShell, default 25) caps the processes running at once in one
shell: its running commands and every process they started, as Windows counts the shell's job
object (``Job.processes``: the Wine agent runs each command in a job object and reads its
ActiveProcesses); one more command is refused as a start failure with ERROR_NOT_ENOUGH_QUOTA
(1816).
``max_operations`` (MaxConcurrentOperationsPerUser, default 1,500) caps the commands started in
the user's open shells: Windows releases a shell's operations only when the shell is deleted
(pywinrm issue 124: a long-lived shell fails after 1,500 commands, Signal or not), answering
with fault 2150859174.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from sandbox.executor import ExecResult, Executor, Job, StartFailed
from sandbox.winrm import soap

#: Windows' default WinRS IdleTimeout: 7,200,000 ms.
DEFAULT_IDLE_TIMEOUT = 7200.0
#: Seconds a Receive waits, after a running command's first new output, for more of it (or
#: the command's end) before answering: WinRS answers what is there, several writes at once.
GATHER = 0.1
#: How often a Receive looks at a running command's output.
POLL = 0.02


@dataclass
class Command:
    job: Job
    result: ExecResult | None = None
    delivered: bool = False  #: all of its output has been answered
    out_sent: int = 0  #: bytes of stdout answered so far
    err_sent: int = 0


@dataclass
class Shell:
    shell_id: str
    codepage: int
    commands: dict[str, Command] = field(default_factory=dict)
    last_used: float = field(default_factory=time.monotonic)
    busy: int = 0  #: requests in progress (a Receive waiting for output is activity)
    operations: int = 0  #: commands started in this shell (released when it is deleted)


class Shells:
    """Every open shell of one endpoint (one user); thread-safe."""

    def __init__(self, executor: Executor, max_shells: int = 30,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT, *, max_processes: int = 25,
                 max_operations: int = 1500) -> None:
        self._executor = executor
        self._lock = threading.Lock()
        self._shells: dict[str, Shell] = {}
        self.max_shells = max_shells
        self.max_processes = max_processes
        self.max_operations = max_operations
        self.idle_timeout = idle_timeout
        self.gather = GATHER  #: seconds a Receive gathers output after the first (``GATHER``)
        self.created = 0
        self.commands = 0
        self.reaped = 0  #: shells deleted for idleness

    def __len__(self) -> int:
        return len(self._shells)

    def create(self, codepage: int) -> str:
        self.reap()
        with self._lock:
            if len(self._shells) >= self.max_shells:
                raise soap.quota_max_shells(self.max_shells)
            shell_id = str(uuid.uuid4()).upper()
            self._shells[shell_id] = Shell(shell_id, codepage)
            self.created += 1
            return shell_id

    def _use(self, shell_id: str | None) -> Shell:
        with self._lock:
            shell = self._shells.get(shell_id or "")
            if shell is None:
                raise soap.unknown_shell(shell_id)
            shell.last_used = time.monotonic()
            shell.busy += 1
            return shell

    def _done(self, shell: Shell) -> None:
        with self._lock:
            shell.busy -= 1
            shell.last_used = time.monotonic()

    def start(self, shell_id: str | None, command_line: str, *, shell: bool = True,
              stdin: bool = False) -> str:
        """Start a command; a direct one (``shell=False``) whose program cannot be started is the
        WSMan fault WinRS sends (code ``0x80070000 | winerror``). ``stdin``: its standard input
        is a pipe that ``send`` feeds (else it reads NUL)."""
        sh = self._use(shell_id)
        try:
            self._admit(sh)
            try:
                job = (self._executor.start(command_line, codepage=sh.codepage, shell=shell,
                                            stdin=True) if stdin else
                       self._executor.start(command_line, codepage=sh.codepage, shell=shell))
            except StartFailed as exc:
                raise soap.start_failed(exc.winerror, exc.message) from None
            command_id = str(uuid.uuid4()).upper()
            with self._lock:
                sh.commands[command_id] = Command(job)
                self.commands += 1
            return command_id
        finally:
            self._done(sh)

    def _admit(self, shell: Shell) -> None:
        """Count one more command against the quotas, or raise Windows' fault."""
        with self._lock:
            if sum(s.operations for s in self._shells.values()) >= self.max_operations:
                raise soap.quota_max_operations(self.max_operations)
            running = [c for c in shell.commands.values() if c.result is None]
        if sum(_processes(c.job) for c in running) >= self.max_processes:
            raise soap.quota_max_processes()
        with self._lock:
            shell.operations += 1

    def receive(self, shell_id: str | None, command_id: str | None, wait: float,
                limit: int | None = None) -> tuple[bytes, bytes, int | None]:
        """(stdout, stderr, exit code or None while it runs), as WinRS answers a Receive.

        Output the command has written is answered as soon as it is there (after ``gather``
        seconds more, for what follows it), with ``None``: CommandState/Running; with nothing
        new after ``wait`` seconds, the TimedOut fault (the client receives again). At most
        ``limit`` bytes of output per answer (the request's MaxEnvelopeSize): the rest comes with
        the next Receives, the exit code with the last one.
        """
        shell = self._use(shell_id)
        try:
            return _receive(_command(shell, shell_id, command_id), wait, limit, self.gather)
        finally:
            self._done(shell)

    def send(self, shell_id: str | None, command_id: str | None, data: bytes,
             end: bool) -> None:
        """WinRS Send: bytes to the command's standard input; ``end`` closes it. Input for a
        command that has ended (or reads NUL) is dropped, as Windows does."""
        shell = self._use(shell_id)
        try:
            command = _command(shell, shell_id, command_id)
            feed = getattr(command.job, "send_input", None)
            if feed is not None and command.result is None:
                feed(data, end)
        finally:
            self._done(shell)

    def signal(self, shell_id: str | None, command_id: str | None) -> None:
        shell = self._use(shell_id)
        try:
            with self._lock:
                command = shell.commands.pop(command_id or "", None)
            if command is not None:
                command.job.terminate()
        finally:
            self._done(shell)

    def delete(self, shell_id: str | None) -> None:
        with self._lock:
            shell = self._shells.pop(shell_id or "", None)
        if shell is None:
            raise soap.unknown_shell(shell_id)
        for command in shell.commands.values():
            command.job.terminate()

    def reap(self, now: float | None = None) -> list[str]:
        """Delete every shell idle for longer than ``idle_timeout``; the ids deleted."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [s for s in self._shells.values()
                    if not s.busy and now - s.last_used > self.idle_timeout]
            for shell in idle:
                del self._shells[shell.shell_id]
            self.reaped += len(idle)
        for shell in idle:
            for command in shell.commands.values():
                command.job.terminate()
        return [shell.shell_id for shell in idle]

    def close_all(self) -> None:
        for shell_id in list(self._shells):
            try:
                self.delete(shell_id)
            except soap.SoapError:
                continue


def _receive(command: Command, wait: float, limit: int | None,
             gather: float = GATHER) -> tuple[bytes, bytes, int | None]:
    """One Receive's answer for ``command`` (``Shells.receive``)."""
    now = time.monotonic()
    deadline, answer_at = now + wait, None
    partial = getattr(command.job, "output", None)
    while True:
        if command.result is not None:
            result = command.result
            return _next_output(command, result.stdout, result.stderr, result.rc, limit)
        if partial is not None:
            out, err = partial()
            if len(out) > command.out_sent or len(err) > command.err_sent:
                answer_at = answer_at or min(now + gather, deadline)
                if now >= answer_at:
                    return _next_output(command, out, err, None, limit)
        if now >= deadline:
            raise soap.timed_out()
        until = answer_at or deadline
        step = until - now if partial is None else min(until - now, POLL)
        command.result = command.job.wait(max(0.0, step))
        now = time.monotonic()


def _next_output(command: Command, out: bytes, err: bytes, rc: int | None,
                 limit: int | None) -> tuple[bytes, bytes, int | None]:
    """The next part of the output not yet answered (``out``/``err``: all of it so far); the
    exit code ``rc`` once the command has ended and all of its output is out."""
    if command.delivered:
        return b"", b"", rc
    budget = limit if limit is not None else len(out) + len(err)
    new_out = out[command.out_sent:command.out_sent + budget]
    command.out_sent += len(new_out)
    new_err = err[command.err_sent:command.err_sent + budget - len(new_out)]
    command.err_sent += len(new_err)
    command.delivered = (rc is not None and command.out_sent >= len(out)
                         and command.err_sent >= len(err))
    return new_out, new_err, rc if command.delivered else None


def _processes(job: Job) -> int:
    """The job's running processes; a job that cannot tell counts one while it runs."""
    count = getattr(job, "processes", None)
    if count is not None:
        return int(count())
    return 1 if job.wait(0) is None else 0


def _command(shell: Shell, shell_id: str | None, command_id: str | None) -> Command:
    """The shell's command ``command_id``, or the InvalidSelectors fault Windows answers."""
    command = shell.commands.get(command_id or "")
    if command is None:
        raise soap.unknown_command()
    return command
