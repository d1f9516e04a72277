"""Live progress of a run in a terminal: hosts done / changed / failed; a line per host in
flight with the steps done of all, what it does now (the step, or what it waits for: "install
the packages and the app into the venv (41 s)", "waiting for port 8080 (service running)
(re-probe 2) (12 s)", from :mod:`fleet.activity`) and how long the host has been running.

On a terminal only; in CI logs and pipes (no terminal) plain step lines and heartbeat lines
(:class:`fleet.activity.Heartbeat`) are printed instead, since a redrawn display is unreadable
there. With a ``printer`` (one host, a plan, ``--verbose``) every finished step is printed above
the display; without one (many hosts) only failed steps are, in full.
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

from fleet import activity
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

    def __init__(self, console: Console, hosts: list[str], *, verbose: bool = False,
                 printer: StepPrinter | None = None) -> None:
        self.console = console
        self.total = len(hosts)
        self._hosts = set(hosts)
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()
        self._current: dict[str, _InFlight] = {}
        self._done: set[str] = set()
        self._changed: set[str] = set()
        self._failed: set[str] = set()
        self._every_step = printer is not None
        self._printer = printer or StepPrinter(console, verbose=verbose)
        self._live = Live(console=console, refresh_per_second=4, transient=True,
                          get_renderable=self._render)

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
            started = seen.started if seen else self._started.get(host, now - result.elapsed)
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
        if failed or self._every_step:
            self._printer(host, result)  # printed above the live display, in full

    def _headline(self) -> Text:
        return Text.assemble(
            f"hosts {len(self._done)}/{self.total} done, ",
            (f"{len(self._changed)} changed", "yellow"), ", ",
            (f"{len(self._failed)} failed", "bold red" if self._failed else "green"))

    def _render(self) -> Group:
        table = Table(show_header=True, box=None, pad_edge=False)
        table.add_column("host", no_wrap=True)
        table.add_column("steps", justify="right", no_wrap=True)
        table.add_column("now", no_wrap=True, overflow="ellipsis",
                         max_width=max(10, self.console.width - 40))
        table.add_column("elapsed", justify="right", no_wrap=True)
        now = time.monotonic()
        busy = {h: d for h, d in activity.current().items() if h in self._hosts}
        with self._lock:
            for host in busy:
                self._started.setdefault(host, busy[host].since)
            shown = sorted(set(self._current) | (set(busy) - self._done))
            for host in shown[:_SHOWN]:
                state = self._current.get(host)
                started = state.started if state else self._started.get(host, now)
                doing = busy.get(host)
                what = state.next_title if state else ""
                if doing is not None:
                    what = f"{doing.what} ({activity.seconds(now - doing.since)})"
                table.add_row(escape(host), f"{state.done if state else 0}/{len(STEPS)}",
                              escape(what), _clock(now - started))
            more = len(shown) - _SHOWN
        footer = Text(f"… and {more} more in flight", style="dim") if more > 0 else Text("")
        return Group(self._headline(), table, footer)
