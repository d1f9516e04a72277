"""The run log: what a task showed on the terminal, and every command it sent, in one file.

``invoke provision``, ``deprovision`` and ``drift`` write ``reports/<task>-<UTC time>.log`` (or
``--log PATH``; ``--log -`` writes none). Written with rich rather than the stdlib's logging
alone: the task's consoles are teed (:class:`TeeConsole`) into a file console without colour at a
fixed width, so tables and step lines read in the file as they did on screen. Each command a
connection sends reaches the log through the ``tacfleet.commands`` logger (``winhost``'s
connections log every command line there), shortened by the caller's ``shorten`` (provision's
``shown``) and with every secret redacted; the caller's step printer adds the step lines the live
progress display hides.
The file is created mode 0600 and flushed after each line, so a killed run keeps what it did.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.control import Control

from inventory.private_files import open_private
from inventory.secrets import redact
from winhost.connection import COMMANDS

#: ``--log`` values that mean "no run log".
NO_LOG = ("-", "")


def log_path(task: str, option: str | None, folder: str | os.PathLike[str] = "reports",
             *, now: datetime | None = None) -> Path | None:
    """Where ``task`` writes its run log: ``--log PATH``, none for ``-``/empty, else
    ``<folder>/<task>-<UTC time>.log``."""
    if option is not None:
        return None if option.strip() in NO_LOG else Path(option).expanduser()
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path(folder) / f"{task}-{stamp}.log"


class TeeConsole(Console):
    """A Console that also prints everything to the open run log (none: a plain Console).

    Not on a terminal (a pipe, a file, a CI log) it wraps no line unless told to
    (``soft_wrap``): a path or a command stays whole on its line, as ``grep`` wants it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "soft_wrap" not in kwargs and not self.is_terminal:
            self.soft_wrap = True

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*objects, **kwargs)
        log = _active
        if log is not None and not any(isinstance(o, Control) for o in objects):
            log.console.print(*objects, **kwargs)


class _CommandLines(logging.Handler):
    """Writes each command line logged to :data:`COMMANDS` into the run log, shortened."""

    def __init__(self, log: RunLog, shorten: Callable[[str], str]) -> None:
        super().__init__(logging.INFO)
        self.log = log
        self.shorten = shorten

    def emit(self, record: logging.LogRecord) -> None:
        host, line = record.args if isinstance(record.args, tuple) else ("?", record.msg)
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        self.log.console.print(f"{stamp} {host} $ {redact(self.shorten(str(line)))}",
                               markup=False, highlight=False, soft_wrap=True)


class _Flushing:
    """A text file flushed after every write (rich writes each print at once)."""

    def __init__(self, file: TextIO) -> None:
        self.file = file

    def write(self, text: str) -> int:
        written = self.file.write(text)
        self.file.flush()
        return written

    def flush(self) -> None:
        self.file.flush()


class RunLog:
    """An open run log: its file console, and the step lines the terminal did not show."""

    def __init__(self, path: Path, file: TextIO) -> None:
        self.path = path
        self.console = Console(file=_Flushing(file), width=120, color_system=None,  # type: ignore[arg-type]
                               force_terminal=False, highlight=False, emoji=False)
        self.code: int | None = None

    def steps(self, on_step: Callable[[str, Any], None] | None,
              printer: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
        """``on_step`` (the terminal's live progress), then ``printer`` (a step printer on
        :attr:`console`: the step's lines in the log)."""

        def both(host: str, result: Any) -> None:
            if on_step is not None:
                on_step(host, result)
            printer(host, result)

        return both


_active: RunLog | None = None
_lock = threading.Lock()


def active() -> RunLog | None:
    """The run log this process writes now, if any."""
    return _active


@contextmanager
def run_log(task: str, path: Path | None, argv: Sequence[str] | None = None, *,
            shorten: Callable[[str], str] = str) -> Iterator[RunLog | None]:
    """Write the run log of ``task`` to ``path`` (None: no log) while the block runs: a header
    (task, options, UTC start), everything the task's :class:`TeeConsole` consoles print, each
    command sent (as ``shorten`` shows it), and a footer with the exit code (``RunLog.code``)
    and the duration."""
    global _active
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_private(path, os.O_WRONLY | os.O_APPEND)
    started = time.monotonic()
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        log = RunLog(path, file)
        line = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]] if argv is None else argv)
        log.console.print(f"tacfleet {task} run log: {redact(line)}", markup=False)
        log.console.print(f"started {datetime.now(UTC).isoformat(timespec='seconds')}",
                          markup=False)
        handler = _CommandLines(log, shorten)
        with _lock:
            _active = log
        level, propagate = COMMANDS.level, COMMANDS.propagate
        COMMANDS.addHandler(handler)
        COMMANDS.setLevel(logging.INFO)
        COMMANDS.propagate = False
        try:
            yield log
        finally:
            COMMANDS.removeHandler(handler)
            COMMANDS.setLevel(level)
            COMMANDS.propagate = propagate
            with _lock:
                _active = None
            code = "unknown (interrupted)" if log.code is None else str(log.code)
            log.console.print(f"finished {datetime.now(UTC).isoformat(timespec='seconds')} "
                              f"after {time.monotonic() - started:.1f}s, exit code {code}",
                              markup=False)
