"""Provision many hosts: a bounded pool, rolling batches; one host's failure never stops the others.

The per-host boundary: whatever goes wrong for one host (an unset secret, a refused connection,
an unreadable probe answer, even a bug) ends as that host's ``HostRun.error`` — "cause; fix: …"
— and the other hosts go on. After a Ctrl-C (:mod:`fleet.interrupt`) queued hosts are not
started and running ones stop after their current command. Before changing a host, its lock is
taken (:mod:`provision.hostlock`): a rerun waits for or clears an abandoned run's commands.
A rollout (``--batch``, ``--max-fail``: :mod:`fleet.select`) stops before the next batch when
one fails too much; the hosts left are not touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

from fleet.interrupt import NOT_STARTED, stop_requested
from fleet.pool import run_pool
from fleet.select import amount, batches
from inventory.models import Host
from provision.engine import OnStep, provision_host
from provision.hostlock import Lock, acquire, release
from provision.model import HostRun, Status, StepResult
from winhost.connection import Connection
from winhost.errors import host_problem
from winhost.open import open_connection

log = logging.getLogger(__name__)

Connector = Callable[[Host], Connection]
#: Work done on a host under its lock instead of provisioning it (``invoke rollback``).
Body = Callable[[Host, Connection], HostRun]


def provision_one(
    host: Host,
    *,
    on_step: OnStep | None = None,
    connector: Connector | None = None,
    body: Body | None = None,
    **options: bool,
) -> HostRun:
    """Connect, provision (or run ``body`` under the host lock: ``invoke rollback``), close;
    anything that goes wrong is this host's error, never raised."""
    check_only = options.get("check_only", False)
    if stop_requested():
        return HostRun(host=host.name, check_only=check_only, error=NOT_STARTED)
    try:
        connection = (connector or open_connection)(host)
    except Exception as exc:  # the per-host boundary: the other hosts go on
        log.debug("%s: connect failed", host.name, exc_info=True)
        return HostRun(host=host.name, check_only=check_only, error=host_problem(exc, host.name))
    lock = Lock(False)
    try:
        took_over = None
        if not check_only:  # a plan changes nothing: it needs no lock
            lock = acquire(connection, host)
            if lock.notes and lock.held:
                why = ("a previous run was abandoned" if any("took over" in n for n in lock.notes)
                       else "a lock file tacfleet did not write was removed")
                took_over = StepResult("host_lock", f"host lock ({why})",
                                       Status.CHANGED, message="; ".join(lock.notes))
                if on_step:
                    on_step(host.name, took_over)
        if body is not None:
            run = body(host, connection)
        else:
            run = provision_host(host, connection, on_step=on_step, **options)
        if took_over:
            run.steps.insert(0, took_over)
    except Exception as exc:  # a bug in a step or parser: still only this host's problem
        log.debug("%s: provisioning failed", host.name, exc_info=True)
        run = HostRun(host=host.name, check_only=check_only, error=host_problem(exc, host.name))
    finally:
        try:
            release(connection, host, lock)
        except Exception:  # a lock left behind is taken over by this controller's next run
            log.debug("%s: releasing the host lock failed", host.name, exc_info=True)
        try:
            connection.close()
        except Exception:  # closing is best effort; the result is what matters
            log.debug("%s: close failed", host.name, exc_info=True)
    run.http_requests = connection.stats.http_requests  # the shell's Delete included, as audits
    return run


def provision_fleet(
    hosts: Sequence[Host],
    *,
    parallel: int = 4,
    on_step: OnStep | None = None,
    connector: Connector | None = None,
    **options: bool,
) -> list[HostRun]:
    """Run every host (up to ``parallel`` at a time); results in inventory order."""
    def one(host: Host) -> HostRun:
        return provision_one(host, on_step=on_step, connector=connector, body=None, **options)

    return run_pool(hosts, one, parallel=parallel)


def provision_rollout(
    hosts: Sequence[Host],
    *,
    batch: str | None = None,
    max_fail: str = "0",
    parallel: int = 4,
    canary: int = 0,
    rollback_on_stop: bool = True,
    on_step: OnStep | None = None,
    connector: Connector | None = None,
    **options: bool,
) -> list[HostRun]:
    """Provision in rolling batches (after ``canary`` hosts alone); stop before the next batch
    when one fails more than ``max_fail``. The hosts of that batch that were upgraded to a new
    release are then rolled back (``rollback_on_stop``), so the batch is left on one release;
    the hosts left are not touched."""
    check_only = options.get("check_only", False)
    groups = ([list(hosts[:canary]), *batches(hosts[canary:], batch)] if canary
              else batches(hosts, batch))
    runs: list[HostRun] = []
    for number, group in enumerate(groups, 1):
        if stop_requested():  # Ctrl-C: later batches are not started
            runs.extend(HostRun(host=h.name, check_only=check_only, error=NOT_STARTED)
                        for g in groups[number - 1:] for h in g)
            break
        results = provision_fleet(group, parallel=parallel, on_step=on_step,
                                  connector=connector, **options)
        runs.extend(results)
        failed = sum(1 for r in results if r.failed)
        allowed = amount(max_fail, len(group), "--max-fail")
        if failed <= allowed:
            continue
        what = "the canary" if canary and number == 1 else f"batch {number} of {len(groups)}"
        why = f"{what} had {failed} failed host(s), more than --max-fail {max_fail}"
        if rollback_on_stop and not check_only:
            _roll_back_upgraded(group, results, why, parallel, connector)
        if number < len(groups):
            rest = [h for g in groups[number:] for h in g]
            runs.extend(HostRun(host=h.name, check_only=check_only, error=f"not run: {why}")
                        for h in rest)
            break
    return runs


def _roll_back_upgraded(group: list[Host], results: list[HostRun], why: str, parallel: int,
                        connector: Connector | None) -> None:
    """Roll back the hosts of a stopped batch that a release was deployed to in this run."""
    from provision.rollback import rollback_host

    upgraded = {r.host: r for r in results if r.upgraded and not r.failed}
    todo = [h for h in group if h.name in upgraded]

    def one(host: Host) -> HostRun:
        return provision_one(host, connector=connector,
                             body=partial(rollback_host, reason=f"the rollout stopped: {why}"))

    for back in run_pool(todo, one, parallel=parallel):
        run = upgraded[back.host]
        run.steps += back.steps
        run.rolled_back += back.rolled_back or [
            f"not rolled back after the rollout stopped: {back.error or back.summary()}"]
        run.error = run.error or (back.error and f"rollback after the stop: {back.error}")
