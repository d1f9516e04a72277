"""What each host is doing right now, for progress displays: a probe, a command, a wait.

The engine says what it starts (:func:`doing`: "probing the host's facts", the action's own
words such as "install the packages and the app into the venv", "waiting for the service to
run and port 8080 to answer (re-probe 2)"); a display reads :func:`current` (a live line per
host on a terminal, :mod:`provision.progress`) or a :class:`Heartbeat` prints it as plain lines
when the output is not a terminal: a host's activity once it has run 2 s, then again every
15 s while it lasts, so a pipe or CI log is never silent for long and never redrawn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

#: A heartbeat line names an activity once it has run this long, then every ``interval``.
FIRST_AFTER = 2.0
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class Doing:
    what: str
    since: float  # time.monotonic() when it began


_lock = threading.Lock()
_doing: dict[str, Doing] = {}


def doing(host: str, what: str) -> None:
    """``host`` now does ``what`` (replacing what it did before)."""
    with _lock:
        _doing[host] = Doing(what, time.monotonic())


def done(host: str) -> None:
    """``host`` does nothing tacfleet waits for any more."""
    with _lock:
        _doing.pop(host, None)


def current() -> dict[str, Doing]:
    """Each busy host's activity (a copy)."""
    with _lock:
        return dict(_doing)


def seconds(value: float) -> str:
    """``41 s``, ``2 min 5 s``: an elapsed time as a line shows it."""
    whole = int(value)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60} s"


class Heartbeat:
    """Prints, while the block runs, ``host: <activity> (N s)`` for each host whose activity
    has lasted :data:`FIRST_AFTER` seconds, and ``host: still <activity> (N s)`` every
    ``interval`` seconds after that: progress for pipes and CI logs (plain lines, never
    redrawn)."""

    def __init__(self, say: Callable[[str], None], *, interval: float | None = None,
                 first_after: float | None = None, tick: float = 0.25) -> None:
        self.say = say
        self.interval = HEARTBEAT_SECONDS if interval is None else interval
        self.first_after = FIRST_AFTER if first_after is None else first_after
        self.tick = tick
        self._said: dict[str, tuple[Doing, float]] = {}  # host -> (activity, when last said)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tacfleet-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self.beat(time.monotonic())

    def beat(self, now: float) -> None:
        """Say what is due at ``now`` (the thread calls it every ``tick`` seconds)."""
        for host, activity in sorted(current().items()):
            said = self._said.get(host)
            ran = now - activity.since
            if said is None or said[0] != activity:
                if ran >= self.first_after:
                    self.say(f"{host}: {activity.what} ({seconds(ran)})")
                    self._said[host] = (activity, now)
            elif now - said[1] >= self.interval:
                self.say(f"{host}: still {activity.what} ({seconds(ran)})")
                self._said[host] = (activity, now)
