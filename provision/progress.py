"""Live progress of a fleet run in a terminal: hosts done / changed / failed; for each host in
flight, the steps done of all, the step it is on, and how long it has been running.

Used instead of ``StepPrinter`` when the console is a terminal and more than one host runs; in CI
logs (no terminal) the plain per-step lines stay, since a redrawn display is unreadable there.
Failed steps are still printed in full above the display.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from provision.model import Status, StepResult
from provision.report import StepPrinter
from provision.steps import STEPS

_LAST_STEP = STEPS[-1].name
_ORDER = {step.name: i for i, step in enumerate(STEPS)}
_SHOWN = 12  # hosts in flight listed by name


@dataclass
class _InFlight:
    started: float  # time.monotonic() when the host's first step began
    done: int  # steps finished
    next_title: str  # the step it is on now (the one after the last finished)


def _next_title(step: str) -> str:
    index = _ORDER.get(step)
    if index is None or index + 1 >= len(STEPS):
        return ""
    return STEPS[index + 1].title


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class FleetProgress:
    """An ``on_step`` callback that keeps a live summary of many hosts."""

    def __init__(self, console: Console, hosts: list[str], *, verbose: bool = False) -> None:
        self.console = console
        self.total = len(hosts)
        self._lock = threading.Lock()
        self._current: dict[str, _InFlight] = {}
        self._done: set[str] = set()
        self._changed: set[str] = set()
        self._failed: set[str] = set()
        self._printer = StepPrinter(console, verbose=verbose)
        self._live = Live(self._render(), console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> FleetProgress:
        self._live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._live.__exit__(kind, exc, tb)
        self.console.print(self._headline())

    def __call__(self, host: str, result: StepResult) -> None:
        with self._lock:
            now = time.monotonic()
            seen = self._current.get(host)
            started = seen.started if seen else now - result.elapsed
            done = _ORDER.get(result.step, -1) + 1 or (seen.done + 1 if seen else 1)
            self._current[host] = _InFlight(started, done, _next_title(result.step))
            if result.status in (Status.CHANGED, Status.WOULD_CHANGE):
                self._changed.add(host)
            failed = result.status in (Status.FAILED, Status.WOULD_FAIL)
            if failed:
                self._failed.add(host)
            if failed or result.step == _LAST_STEP:
                self._done.add(host)
                self._current.pop(host, None)
            else:  # a host with several services goes on with its next service
                self._done.discard(host)
            self._live.update(self._render())
        if failed:
            self._printer(host, result)  # printed above the live display, in full

    def _headline(self) -> Text:
        return Text.assemble(
            f"hosts {len(self._done)}/{self.total} done, ",
            (f"{len(self._changed)} changed", "yellow"), ", ",
            (f"{len(self._failed)} failed", "bold red" if self._failed else "green"))

    def _render(self) -> Group:
        table = Table(show_header=True, box=None, pad_edge=False)
        table.add_column("host")
        table.add_column("steps", justify="right")
        table.add_column("now")
        table.add_column("elapsed", justify="right")
        now = time.monotonic()
        for host, state in sorted(self._current.items())[:_SHOWN]:
            table.add_row(escape(host), f"{state.done}/{len(STEPS)}", escape(state.next_title),
                          _clock(now - state.started))
        more = len(self._current) - _SHOWN
        footer = Text(f"… and {more} more in flight", style="dim") if more > 0 else Text("")
        return Group(self._headline(), table, footer)
