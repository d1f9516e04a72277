"""The contract between the WinRM endpoint and whatever runs its commands.

The endpoint (``sandbox.winrm``) knows nothing about Wine: it hands each WinRS command line to an
``Executor`` and polls the returned ``Job``. ``sandbox.host`` supplies the Wine executor; the
endpoint's own protocol tests may use ``PosixShellExecutor``.

``shell=True`` is WinRS' default (the line runs as ``cmd.exe /c <line>``); ``shell=False`` is a
Command sent with ``WINRS_SKIP_CMD_SHELL=TRUE``: the line is the program's own command line
(``CreateProcess``' lpCommandLine), and a program that cannot be started is reported at once with
``StartFailed``, which the endpoint answers with the fault WinRS sends.
"""

from __future__ import annotations

import errno
import os
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from winhost.cmdline import split_argv

#: Win32 errors CreateProcess reports for a program it cannot start, with Windows' message text.
WIN32_MESSAGES = {
    2: "The system cannot find the file specified.",
    3: "The system cannot find the path specified.",
    5: "Access is denied.",
    193: "%1 is not a valid Win32 application.",
}


class StartFailed(Exception):
    """The program of a direct (no cmd.exe) command could not be started.

    ``winerror`` is the Win32 error ``CreateProcess`` gave (2 file not found, 3 path not found,
    5 access denied, 193 not an executable); WinRS answers the Command with a WSMan fault whose code
    is ``0x80070000 | winerror``.
    """

    def __init__(self, winerror: int, message: str | None = None) -> None:
        self.winerror = winerror
        self.message = message or WIN32_MESSAGES.get(winerror, f"Win32 error {winerror}.")
        super().__init__(f"{self.message} (winerror {winerror})")


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

    def processes(self) -> int:
        """Processes the command has running: itself and its descendants, as the job object
        WinRS runs a shell's commands in counts them (MaxProcessesPerShell); 0 once ended."""
        ...

    def send_input(self, data: bytes, end: bool) -> None:
        """Bytes for the command's standard input (WinRS Send); ``end`` closes it. Only for a
        command started with ``stdin=True``."""
        ...

    # Optional: ``output() -> (stdout, stderr)``, the bytes the command has written so far (a
    # prefix of its result's), for the Receives that answer while it runs (CommandState/
    # Running); a job without it shows its output when it ends.


class Executor(Protocol):
    """Starts one WinRS command line.

    ``shell=True``: cmd.exe ``/c`` semantics on the exact string given. ``shell=False``
    (WINRS_SKIP_CMD_SHELL): the line is split by the C runtime's rules and the program runs
    directly; raises ``StartFailed`` when it cannot be started.
    """

    def start(self, cmdline: str, *, codepage: int = 437, shell: bool = True,
              stdin: bool = False) -> Job:
        """``stdin``: the program's standard input is a pipe fed by ``Job.send_input`` (WinRS
        with ``WINRS_CONSOLEMODE_STDIN=FALSE``); else it reads NUL."""
        ...


class _ThreadJob:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._done = threading.Event()
        self._result: ExecResult | None = None
        self._lock = threading.Lock()
        self._out = {"out": bytearray(), "err": bytearray()}
        threading.Thread(target=self._collect, daemon=True).start()

    def _read(self, key: str, pipe: Any) -> None:
        """Append what the program writes to ``pipe``, as it comes, until it closes."""
        while chunk := pipe.read1(65536):
            with self._lock:
                self._out[key] += chunk

    def _collect(self) -> None:
        readers = [threading.Thread(target=self._read, args=(k, f), daemon=True)
                   for k, f in (("out", self._proc.stdout), ("err", self._proc.stderr))]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        self._proc.wait()
        out, err = self.output()
        self._result = ExecResult(self._proc.returncode, out, err)
        self._done.set()

    def output(self) -> tuple[bytes, bytes]:
        """What the program has written to stdout and stderr so far."""
        with self._lock:
            return bytes(self._out["out"]), bytes(self._out["err"])

    def send_input(self, data: bytes, end: bool) -> None:
        stdin = self._proc.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(data)
            stdin.flush()
            if end:
                stdin.close()
        except OSError:
            pass  # the program ended or closed its input: the rest is dropped

    def wait(self, timeout: float) -> ExecResult | None:
        self._done.wait(timeout)
        return self._result

    def terminate(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()

    def processes(self) -> int:
        """The process and its descendants still alive (from ``/proc``)."""
        if self._proc.poll() is not None:
            return 0
        return len(_descendants(self._proc.pid)) + 1


def _descendants(pid: int) -> set[int]:
    """Every living descendant of ``pid``, from ``/proc/<pid>/task/<tid>/children``."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue  # ended meanwhile
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", encoding="ascii") as handle:
                    children = [int(c) for c in handle.read().split()]
            except OSError:
                continue
            for child in children:
                if child not in found and _alive(child):
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Not ended: a zombie (state Z) has exited and only waits for its parent."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"


class PosixShellExecutor:
    """Runs command lines with /bin/sh (``shell=False``: the argv directly); only for testing the
    endpoint's protocol layer."""

    def start(self, cmdline: str, *, codepage: int = 437, shell: bool = True,
              stdin: bool = False) -> Job:
        argv = ["/bin/sh", "-c", cmdline] if shell else split_argv(cmdline)
        if not argv:
            raise StartFailed(2)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise StartFailed(_winerror(exc, argv[0])) from None
        return _ThreadJob(proc)


def _winerror(exc: OSError, program: str) -> int:
    """The Win32 error CreateProcess would give for the POSIX error of starting ``program``."""
    if isinstance(exc, FileNotFoundError):
        folder = os.path.dirname(program)
        return 3 if folder and not os.path.isdir(folder) else 2
    if isinstance(exc, NotADirectoryError):
        return 3
    if isinstance(exc, PermissionError):
        return 5
    if exc.errno == errno.ENOEXEC:
        return 193
    return 2
