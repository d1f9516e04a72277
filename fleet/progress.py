"""Live progress of a fleet check in a terminal: a bar over the hosts checked, with the counts
compliant / drifting / unreachable (provisioning's per-step display: :mod:`provision.progress`).
"""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn


class CheckProgress:
    """A progress bar over hosts checked (compliant / drift / unreachable) in a terminal."""

    def __init__(self, console: Console, total: int) -> None:
        self._counts = {"compliant": 0, "drift": 0, "unreachable": 0}
        self._lock = threading.Lock()
        self._progress = Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.description}"), console=console,
                                  transient=True)
        self._task = self._progress.add_task(self._describe(), total=total)

    def _describe(self) -> str:
        c = self._counts
        return f"{c['compliant']} compliant, {c['drift']} drifting, {c['unreachable']} unreachable"

    def __enter__(self) -> CheckProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def __call__(self, audit: object) -> None:
        status = getattr(audit, "status", "unreachable")
        with self._lock:
            self._counts[status] = self._counts.get(status, 0) + 1
            self._progress.update(self._task, advance=1, description=self._describe())
