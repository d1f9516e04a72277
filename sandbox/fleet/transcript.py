"""Transcripts: what a real (sandbox) host answered, replayed instantly by simulated hosts.

A transcript is a JSON file mapping the exact cmd.exe command line to its answer::

    {"format": "tacfleet-transcript/1",
     "commands": {"<command line>": {"rc": 0, "stdout": "<base64>", "stderr": "<base64>"}}}

Output is kept as the raw bytes the host sent (base64), so the replay is byte-exact whatever
code page the command ran under.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sandbox.executor import ExecResult, Executor, Job

FORMAT = "tacfleet-transcript/1"
#: cmd.exe's exit code for "is not recognized as an internal or external command".
NOT_RECORDED_RC = 9009


class Transcript:
    """Command line -> ExecResult, loadable from and savable to JSON."""

    def __init__(self, answers: Mapping[str, ExecResult] | None = None) -> None:
        self._lock = threading.Lock()
        self.answers: dict[str, ExecResult] = dict(answers or {})

    def __len__(self) -> int:
        return len(self.answers)

    def __contains__(self, cmdline: object) -> bool:
        return cmdline in self.answers

    def get(self, cmdline: str) -> ExecResult | None:
        return self.answers.get(cmdline)

    def add(self, cmdline: str, result: ExecResult) -> None:
        with self._lock:
            self.answers[cmdline] = result

    def lines(self) -> Iterable[str]:
        return list(self.answers)

    # -- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        with self._lock:
            items = sorted(self.answers.items())
        return {
            "format": FORMAT,
            "commands": {
                line: {
                    "rc": r.rc,
                    "stdout": base64.b64encode(r.stdout).decode("ascii"),
                    "stderr": base64.b64encode(r.stderr).decode("ascii"),
                }
                for line, r in items
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transcript:
        if data.get("format", FORMAT) != FORMAT:
            raise ValueError(f"not a {FORMAT} transcript: format {data.get('format')!r}")
        commands = data.get("commands", data)
        answers = {
            line: ExecResult(
                int(entry["rc"]),
                base64.b64decode(entry.get("stdout", "")),
                base64.b64decode(entry.get("stderr", "")),
            )
            for line, entry in commands.items()
            if isinstance(entry, Mapping)
        }
        return cls(answers)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Transcript:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


class _DoneJob:
    """A command that finished the moment it started."""

    def __init__(self, result: ExecResult) -> None:
        self._result = result

    def wait(self, timeout: float) -> ExecResult | None:
        return self._result

    def terminate(self) -> None:
        pass

    def processes(self) -> int:
        return 0

    def send_input(self, data: bytes, end: bool) -> None:
        pass  # the command has already finished: its input goes nowhere


class _SinkJob:
    """A command that reads its standard input to the end, then exits 0 (an upload)."""

    def __init__(self) -> None:
        self._closed = threading.Event()
        self.received = 0

    def wait(self, timeout: float) -> ExecResult | None:
        if not self._closed.wait(timeout):
            return None
        return ExecResult(0, b"", b"")

    def terminate(self) -> None:
        self._closed.set()

    def processes(self) -> int:
        return 0 if self._closed.is_set() else 1

    def send_input(self, data: bytes, end: bool) -> None:
        self.received += len(data)
        if end:
            self._closed.set()


class ReplayExecutor:
    """Answers recorded command lines at once; anything else fails like an unknown program.
    With ``sink_uploads``, a command that reads standard input (an upload, whose line holds
    the file's size and hash) takes all of it and exits 0, so a fleet can be sent files."""

    def __init__(self, transcript: Transcript, *, sink_uploads: bool = False) -> None:
        self.transcript = transcript
        self.sink_uploads = sink_uploads
        self.unknown: list[str] = []  #: command lines asked for that were not recorded

    def start(self, cmdline: str, *, codepage: int = 437, shell: bool = True,
              stdin: bool = False) -> Job:
        if stdin and self.sink_uploads:
            return _SinkJob()
        result = self.transcript.get(cmdline)
        if result is None:
            self.unknown.append(cmdline)
            shown = cmdline if len(cmdline) <= 200 else cmdline[:200] + "..."
            message = (f"tacfleet simulated host: this command line was not recorded in the "
                       f"transcript, so it cannot be replayed: {shown}\r\n")
            result = ExecResult(NOT_RECORDED_RC, b"", message.encode("utf-8", "replace"))
        return _DoneJob(result)


class _RecordingJob:
    def __init__(self, inner: Job, cmdline: str, transcript: Transcript) -> None:
        self._inner = inner
        self._cmdline = cmdline
        self._transcript = transcript

    def wait(self, timeout: float) -> ExecResult | None:
        result = self._inner.wait(timeout)
        if result is not None:
            self._transcript.add(self._cmdline, result)
        return result

    def terminate(self) -> None:
        self._inner.terminate()

    def processes(self) -> int:
        return self._inner.processes()

    def send_input(self, data: bytes, end: bool) -> None:
        self._inner.send_input(data, end)


class RecordingExecutor:
    """Wraps a real executor and keeps every finished command's answer in ``transcript``."""

    def __init__(self, inner: Executor, transcript: Transcript | None = None) -> None:
        self.inner = inner
        self.transcript = transcript if transcript is not None else Transcript()

    def start(self, cmdline: str, *, codepage: int = 437, shell: bool = True,
              stdin: bool = False) -> Job:
        return _RecordingJob(self.inner.start(cmdline, codepage=codepage, shell=shell,
                                              stdin=stdin), cmdline, self.transcript)
