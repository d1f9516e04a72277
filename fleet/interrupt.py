"""A prompt, safe Ctrl-C for fleet runs.

The first SIGINT sets :data:`STOP`: every host finishes the command it is running, then runs no
new step, and hosts still queued are not started; the caller prints what was done and exits 130.
A second SIGINT ends the process at once (exit 130); commands already sent may still finish on
their hosts, and the next run's probe shows what was applied.

On Windows, Ctrl-Break (SIGBREAK) does the same: the console sends it to every process of the
group, worker processes included, whose default would end them at once, and it is the event a
script can send to another process group (``GenerateConsoleCtrlEvent``; Ctrl-C it cannot), so a
scheduled run can be stopped softly.

The engine and the fleet loops only ask :func:`stop_requested`; the handler is installed by the
command line around one run (:func:`graceful_interrupt`), so the library never touches signals.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

#: The signals of a Ctrl-C: SIGINT, and on Windows Ctrl-Break's SIGBREAK.
INTERRUPT_SIGNALS: tuple[int, ...] = (signal.SIGINT,)
if sys.platform == "win32":
    INTERRUPT_SIGNALS += (signal.SIGBREAK,)
#: Set by the first Ctrl-C of a run (or by a caller that wants the run to stop softly).
STOP = threading.Event()
EXIT_INTERRUPTED = 130
FIRST_NOTICE = ("Ctrl-C: each host finishes its current command, nothing new starts "
                "(Ctrl-C again stops at once)")
SECOND_NOTICE = ("second Ctrl-C: stopped at once; a command already sent may still finish on "
                 "its host: run the same command again to see and finish it")
#: The note of a host whose run was cut short, and of one that was never started.
INTERRUPTED = "interrupted by Ctrl-C before this step; run the same command again to finish"
NOT_STARTED = "not started: the run was interrupted by Ctrl-C; run the same command again"


def stop_requested() -> bool:
    """Has the run been asked to stop (first Ctrl-C)?"""
    return STOP.is_set()


@contextmanager
def graceful_interrupt(notice: Callable[[str], None] | None = None) -> Iterator[threading.Event]:
    """Within the block, the first SIGINT sets :data:`STOP`, the second exits (130) at once.

    Outside the main thread (where Python cannot install handlers) the block only clears and
    yields :data:`STOP`. ``notice`` receives the one-line messages (default: stderr).
    """
    STOP.clear()
    if threading.current_thread() is not threading.main_thread():
        yield STOP
        return

    def say(text: str) -> None:
        if notice is not None:
            notice(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def handler(signum: int, frame: object) -> None:
        if STOP.is_set():
            say(SECOND_NOTICE)
            for stream in (sys.stdout, sys.stderr):
                with suppress(OSError, ValueError):
                    stream.flush()
            os._exit(EXIT_INTERRUPTED)
        STOP.set()
        say(FIRST_NOTICE)

    previous = {signum: signal.signal(signum, handler) for signum in INTERRUPT_SIGNALS}
    try:
        yield STOP
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)
