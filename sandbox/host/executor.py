"""Run WinRS command lines on the Wine host through its persistent Windows-side agent."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import subprocess
import threading
from pathlib import Path

from sandbox.executor import ExecResult, Job, StartFailed
from sandbox.host.prefix import WinePrefix

log = logging.getLogger(__name__)

AGENT = r"C:\ProgramData\tacfleet-sandbox\agent.py"
PYTHON = r"C:\Python311\python.exe"
AGENT_SOURCE = Path(__file__).with_name("agent.py")
CMDEXE_SOURCE = Path(__file__).with_name("cmdexe.py")
#: How long a direct command's start may take before the agent is considered stuck.
START_TIMEOUT = 120.0


class AgentJob:
    def __init__(self, executor: WineExecutor, ident: int) -> None:
        self._executor = executor
        self.ident = ident
        self.done = threading.Event()
        self.started = threading.Event()
        self.start_error: StartFailed | None = None
        self.result: ExecResult | None = None

    def wait(self, timeout: float) -> ExecResult | None:
        self.done.wait(timeout)
        return self.result

    def terminate(self) -> None:
        if not self.done.is_set():
            self._executor.send({"op": "kill", "id": self.ident})

    def send_input(self, data: bytes, end: bool) -> None:
        """Standard input for the command (WinRS Send); ``end`` closes its pipe."""
        if not self.done.is_set():
            self._executor.send({"op": "input", "id": self.ident,
                                 "data": base64.b64encode(data).decode(), "end": end})

    def processes(self) -> int:
        """Processes running in the command's job object (itself and what it started)."""
        if self.done.is_set():
            return 0
        return self._executor.processes([self.ident]).get(self.ident, 0)


class WineExecutor:
    """Starts ``cmd.exe /c <line>`` (or, with ``shell=False``, the line itself) inside the
    prefix; one agent process serves all commands."""

    def __init__(self, prefix: WinePrefix, *, command_timeout: float = 3600,
                 log_file: Path | None = None) -> None:
        self.prefix = prefix
        self.command_timeout = command_timeout
        self._log_file = log_file
        self._ids = itertools.count(1)
        self._jobs: dict[int, AgentJob] = {}
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._queries = itertools.count(1)
        self._answers: dict[int, tuple[threading.Event, dict[str, int]]] = {}

    # -- agent process -------------------------------------------------------------------------
    def start(self, cmdline: str, *, codepage: int = 437, shell: bool = True,
              stdin: bool = False) -> Job:
        """Executor protocol. ``shell=False``: CreateProcess with the line as it is, and
        ``StartFailed`` raised here, before returning, when the program cannot be started.
        ``stdin``: the program reads a pipe fed by ``send_input`` (else NUL)."""
        job = AgentJob(self, next(self._ids))
        with self._lock:
            self._jobs[job.ident] = job
        # Every command line verbatim, as Windows' process-creation auditing (event 4688 with
        # the command line) and Sysmon keep it: tests read it to prove no secret is on one.
        self._log(f"run {job.ident} shell={shell} stdin={stdin}: {cmdline}")
        self.send({"op": "run", "id": job.ident, "line": cmdline, "codepage": codepage,
                   "timeout": self.command_timeout, "shell": shell, "stdin": stdin})
        if not shell:
            if not job.started.wait(START_TIMEOUT):
                job.terminate()
                raise StartFailed(1460, "sandbox: the host's agent did not start the program "
                                  f"within {START_TIMEOUT:.0f}s")
            if job.start_error is not None:
                raise job.start_error
        return job

    def processes(self, idents: list[int], timeout: float = 10.0) -> dict[int, int]:
        """Active processes in the job object of each command still running (the agent's
        count); a command the agent did not answer for within ``timeout`` counts as one."""
        query, done = next(self._queries), threading.Event()
        counts: dict[str, int] = {}
        with self._lock:
            self._answers[query] = (done, counts)
        try:
            self.send({"op": "count", "query": query, "ids": idents})
            answered = done.wait(timeout)
        finally:
            with self._lock:
                self._answers.pop(query, None)
        if not answered:
            return dict.fromkeys(idents, 1)
        return {int(k): int(v) for k, v in counts.items()}

    def send(self, message: dict[str, object]) -> None:
        with self._lock:
            proc = self._ensure_agent()
            assert proc.stdin is not None
            try:
                proc.stdin.write((json.dumps(message) + "\n").encode())
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._proc = None
                raise

    def _ensure_agent(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        target = self.prefix.host_path(AGENT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(AGENT_SOURCE.read_bytes())
        target.with_name("cmdexe.py").write_bytes(CMDEXE_SOURCE.read_bytes())
        self.prefix.profile.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            self.prefix.argv("wine", PYTHON, "-u", AGENT), env=self.prefix.env(),
            cwd=self.prefix.profile,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        if not ready.startswith(b"{"):
            err = proc.stderr.read(2000) if proc.stderr else b""
            raise RuntimeError(f"the sandbox agent did not start: {ready!r} {err!r}")
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        threading.Thread(target=self._drain, args=(proc,), daemon=True).start()
        self._proc = proc
        return proc

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if "query" in answer:
                with self._lock:
                    waiting = self._answers.get(answer["query"])
                if waiting is not None:
                    waiting[1].update(answer.get("processes") or {})
                    waiting[0].set()
                continue
            with self._lock:
                job = self._jobs.get(answer.get("id"))
                if job is not None and "started" not in answer:
                    del self._jobs[job.ident]
            if job is None:
                continue
            if "started" in answer:
                job.started.set()
                continue
            if "winerror" in answer:
                job.start_error = StartFailed(int(answer["winerror"]), answer.get("message"))
                self._log(f"start failed {job.ident}: winerror {answer['winerror']}")
                job.started.set()
                job.result = ExecResult(1, b"", b"")
                job.done.set()
                continue
            job.started.set()
            job.result = ExecResult(int(answer["rc"]), base64.b64decode(answer["stdout"]),
                                    base64.b64decode(answer["stderr"]))
            self._log(f"done {job.ident}: rc={job.result.rc}")
            job.done.set()
        # The agent died: fail what was running, so no Receive waits forever.
        with self._lock:
            orphans, self._jobs = list(self._jobs.values()), {}
        for job in orphans:
            job.result = ExecResult(1, b"", b"sandbox: the host's command agent stopped\r\n")
            job.started.set()
            job.done.set()

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self._log("agent: " + line.decode("utf-8", "replace").rstrip())

    def _log(self, text: str) -> None:
        log.debug(text)
        if self._log_file is not None:
            with self._log_file.open("a", encoding="utf-8") as fh:
                fh.write(text + "\n")

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
