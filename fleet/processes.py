"""Split a large fleet's checks over worker processes, so the controller's CPU floor divides.

One Python process checks hosts under one GIL: past ~64 threads its CPU (NTLM, HTTP, XML,
judging) is the limit, not the hosts' latency. :func:`run_in_processes` deals the hosts out
round-robin over ``processes`` children (``spawn``: a clean interpreter that sees the current
environment, so password references resolve as in the parent); each child runs the caller's
job, its usual thread pool (drift's: :func:`compliance.audit.audit_threads`), over its share,
``parallel`` divided among them, and sends each host's outcome (a
:class:`~fleet.outcome.HostOutcome`, e.g. a ``HostAudit``) back through its own pipe as the host
finishes, so a progress display keeps moving (and, when a run log listens, each command line
sent, re-logged here to ``tacfleet.commands``).

The boundaries are the in-process ones: a child that dies (killed, out of memory, a bug) makes
only its hosts that had not reported "unreachable" with a plain cause, once each; a first Ctrl-C
reaches every child (the terminal signals the whole group, and the parent relays it by closing a
pipe), so hosts not yet started come back "not checked"; a second Ctrl-C ends them at once.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

from fleet.interrupt import EXIT_INTERRUPTED, INTERRUPT_SIGNALS, STOP, stop_requested
from fleet.outcome import HostOutcome
from inventory.models import Host
from inventory.secrets import redact

if sys.platform == "win32":  # Pipe() gives a named pipe's connection there
    from multiprocessing.connection import PipeConnection

    Pipe = Connection | PipeConnection
else:
    Pipe = Connection
from winhost.connection import COMMANDS

log = logging.getLogger(__name__)

Out = TypeVar("Out", bound=HostOutcome)
#: What a worker process runs over its share: ``job(share, parallel=…, report=…)`` works on its
#: ``(index, host)`` pairs and calls ``report(index, outcome)`` as each host ends, never raising
#: for one host. It must pickle: a module-level function or a ``functools.partial`` of one.
Job = Callable[..., None]

#: A worker process costs ~0.4 s to start: fleets smaller than this many times ``parallel``
#: are checked in the controller's own process.
MIN_HOSTS_PER_PARALLEL = 2


def worker_count(hosts: int, parallel: int, processes: int) -> int:
    """Processes worth starting for ``hosts`` hosts (1 = check them in this process)."""
    if processes <= 1 or hosts < MIN_HOSTS_PER_PARALLEL * max(1, parallel):
        return 1
    return min(processes, hosts)


def crashed(exitcode: int | None, cause: str = "") -> str:
    """The error of a host whose worker process ended before reporting it."""
    how = (f"was killed by signal {-exitcode}" if exitcode is not None and exitcode < 0
           else f"ended with exit code {exitcode}")
    why = f" ({cause})" if cause else " (out of memory? killed?)"
    return ("could not be checked: the worker process checking it " + how + " before this host "
            "was done" + why + "; fix: run again; if it repeats, run with --processes 1 --debug "
            "to see the cause")


def run_in_processes(
    hosts: Sequence[Host],
    job: Job,
    outcome: type[Out],
    *,
    processes: int,
    parallel: int,
    on_done: Callable[[Out], None] | None = None,
) -> list[Out]:
    """``job`` over ``processes`` worker processes; results in inventory order, every host
    exactly once (a host its worker never reported: ``outcome(name, error=…)``)."""
    ctx = multiprocessing.get_context("spawn")
    # the stop signal: closing this pipe's writing end (or the parent's death) wakes every worker
    stop_reader, stop_writer = ctx.Pipe(duplex=False)
    per_worker = max(1, math.ceil(parallel / processes))
    forward = COMMANDS.isEnabledFor(logging.INFO)  # a run log wants every command line
    results: list[Out | None] = [None] * len(hosts)
    pending: dict[Pipe, tuple[Any, set[int]]] = {}
    causes: dict[Pipe, str] = {}  # a worker's own last words, when it failed as a whole
    reader: Pipe
    try:
        for w in range(processes):
            share = list(range(w, len(hosts), processes))
            if not share:
                continue
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, name=f"tacfleet-check-{w + 1}", daemon=True,
                               args=(writer, [(i, hosts[i]) for i in share], per_worker,
                                     job, outcome, stop_reader, forward))
            proc.start()  # a job (or its connector) that does not pickle fails here, at once
            writer.close()
            pending[reader] = (proc, set(share))
    except BaseException:
        for proc, _ in pending.values():
            proc.kill()
        raise
    finally:
        stop_reader.close()

    def finish(reader: Pipe) -> None:
        proc, left = pending.pop(reader)
        reader.close()
        proc.join(timeout=5 if not left else 30)
        if proc.is_alive():
            proc.kill()
            proc.join()
        for i in sorted(left):
            failed = outcome(hosts[i].name, error=crashed(proc.exitcode, causes.get(reader, "")))
            results[i] = failed
            _report(on_done, failed)

    try:
        while pending:
            for ready in wait(list(pending), timeout=0.2):
                assert isinstance(ready, Pipe)
                reader = ready
                try:
                    message = reader.recv()
                except Exception:  # EOF: the worker ended (or sent what cannot be read)
                    finish(reader)
                    continue
                if message is None:  # the worker's last word: every one of its hosts is in
                    finish(reader)
                    continue
                if isinstance(message, str):  # the worker failed as a whole: why
                    causes[reader] = message
                    continue
                if message[0] == "command":  # a command line sent, for the run log
                    _, created, args = message
                    record = COMMANDS.makeRecord(COMMANDS.name, logging.INFO, __file__, 0,
                                                 "%s %s", tuple(args), None)
                    record.created = created
                    COMMANDS.handle(record)
                    continue
                i, result = message
                left = pending[reader][1]
                if i in left:
                    left.discard(i)
                    results[i] = result
                    _report(on_done, result)
            if stop_requested() and not stop_writer.closed:
                stop_writer.close()
    finally:  # the parent is leaving (a second Ctrl-C, a bug): no worker outlives it
        if not stop_writer.closed:
            stop_writer.close()
        for proc, _ in pending.values():
            proc.kill()
    return [r for r in results if r is not None]


def _report(on_done: Callable[[Out], None] | None, result: Out) -> None:
    if on_done is not None:
        try:
            on_done(result)
        except Exception:  # a display problem never loses a result
            log.debug("on_done failed", exc_info=True)


def _worker(pipe: Pipe, share: list[tuple[int, Host]], parallel: int, job: Job,
            outcome: type[HostOutcome], stop: Pipe, forward: bool = False) -> None:
    """One worker process: run ``job`` over ``share``, send each host's outcome as it ends
    (and, with ``forward``, each command line sent, for the parent's run log)."""
    _follow_interrupts(stop)
    lock = threading.Lock()
    if forward:
        COMMANDS.addHandler(_Forward(pipe, lock))
        COMMANDS.setLevel(logging.INFO)
        COMMANDS.propagate = False

    def send(i: int, result: HostOutcome) -> None:
        try:
            with lock:
                pipe.send((i, result))
        except OSError:  # the parent is gone: start nothing more
            STOP.set()
        except Exception as exc:  # a result that does not pickle: the host still reports
            log.debug("%s: result not sent", result.host, exc_info=True)
            plain = outcome(result.host, error="could not be checked: its result could not be "
                            f"sent back from the worker process ({type(exc).__name__}); fix: "
                            "run with --processes 1")
            with lock:
                pipe.send((i, plain))

    try:
        job(share, parallel=parallel, report=send)
        last: str | None = None
    except Exception as exc:  # a bug: its hosts are reported by the parent, with this cause
        log.debug("worker failed", exc_info=True)
        last = redact(f"{type(exc).__name__}: {exc}")[:300]
    try:
        with lock:
            pipe.send(last)
    except OSError:
        pass
    pipe.close()
    if last is not None:
        os._exit(1)


class _Forward(logging.Handler):
    """In a worker: each command line logged to :data:`COMMANDS` goes to the parent."""

    def __init__(self, pipe: Pipe, lock: threading.Lock) -> None:
        super().__init__(logging.INFO)
        self.pipe, self.sending = pipe, lock  # not ``self.lock``: the Handler's own

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ("?", record.msg)
        try:
            with self.sending:
                self.pipe.send(("command", record.created, [str(a) for a in args]))
        except Exception:  # the log is best effort; the result is what matters
            pass


def _follow_interrupts(stop: Pipe) -> None:
    """In a worker: the parent's stop (its end of ``stop`` closed, also when it dies) and a first
    Ctrl-C stop starting hosts, as in the parent; a second Ctrl-C ends the worker at once."""

    def handler(signum: int, frame: object) -> None:
        if STOP.is_set():
            os._exit(EXIT_INTERRUPTED)
        STOP.set()

    for signum in INTERRUPT_SIGNALS:
        signal.signal(signum, handler)

    def relay() -> None:
        stop.poll(None)  # returns at end of file: the parent closed its end or is gone
        STOP.set()

    threading.Thread(target=relay, name="tacfleet-stop-relay", daemon=True).start()
