"""Judge many hosts at once: one probe per host, every requirement, no pytest needed.

The per-host boundary: whatever goes wrong for one host (an unset secret, a refused connection,
a probe that fails or answers nonsense, even a bug) makes that host "unreachable" with
"could not be checked: cause; fix: …", and the other hosts go on. A host gets at most
``deadline`` seconds for its whole check (a hung host must not hold up a nightly run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from compliance import desired, releases
from compliance.finding import Finding
from compliance.requirements import judge_all
from fleet.interrupt import stop_requested
from fleet.outcome import HostOutcome
from fleet.pool import run_pool
from inventory.models import Host
from winhost.cmdline import Command
from winhost.connection import Connection, ConnectionStats, Result, Stdin
from winhost.errors import CommandTimeout, host_problem
from winhost.open import open_connection
from winhost.probe import HostFacts, gather_facts

log = logging.getLogger(__name__)

#: Seconds a host gets for its whole check (connect, probe, judge) unless told otherwise.
DEFAULT_CHECK_DEADLINE = 45.0
NOT_CHECKED = "not checked: the run was interrupted by Ctrl-C; run it again"

Connector = Callable[[Host], Connection]
#: How a check ended for a host.
HostStatus = Literal["compliant", "drift", "unreachable"]


@dataclass
class HostAudit(HostOutcome):
    """One host's check: its findings, or the error that kept it from being checked."""

    findings: list[Finding] = field(default_factory=list)
    #: per service with app.releases: running, wanted, recent history (``releases.summary``)
    releases: list[dict[str, Any]] = field(default_factory=list)
    #: The probe's facts, kept only when asked (``keep_facts``): ``pytest checks`` judges them.
    facts: HostFacts | None = field(default=None, repr=False, compare=False)

    @property
    def status(self) -> HostStatus:
        if self.error:
            return "unreachable"
        return "drift" if any(not f.ok for f in self.findings) else "compliant"


class Deadline:
    """A connection whose commands share one deadline: each ``run`` gets at most what is left.

    Past the deadline a command is not sent; :class:`CommandTimeout` says which limit it was.
    """

    def __init__(self, connection: Connection, seconds: float) -> None:
        self.connection = connection
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.host = connection.host
        self.stats: ConnectionStats = connection.stats  # the same object: counts go through

    @property
    def oem_codepage(self) -> int | None:
        return self.connection.oem_codepage

    @oem_codepage.setter
    def oem_codepage(self, value: int | None) -> None:  # the probe's finding reaches the real one
        self.connection.oem_codepage = value

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def run(self, command: Command | str, *, timeout: float | None = None,
            idempotent: bool = False, stdin: Stdin | None = None) -> Result:
        left = self.remaining()
        if left <= 0:
            raise CommandTimeout(self.host, f"no time left of the {self.seconds:.0f}s check "
                                 "deadline")
        limit = left if timeout is None else min(timeout, left)
        if stdin is None:  # the audit sends none; a connection needs no stdin parameter for it
            return self.connection.run(command, timeout=limit, idempotent=idempotent)
        return self.connection.run(command, timeout=limit, idempotent=idempotent, stdin=stdin)

    def close(self) -> None:
        self.connection.close()


def within(host: Host, seconds: float) -> Host:
    """``host`` with WinRM timeouts that fit ``seconds``: a host that accepts the connection
    but never answers costs three read timeouts (the first try and two retries), not 90 s."""
    conn = host.connection
    read = max(2, min(conn.read_timeout, int(seconds / 3.5)))
    operation = max(1, min(conn.operation_timeout, read - 2))
    if (read, operation) == (conn.read_timeout, conn.operation_timeout):
        return host
    bounded = conn.model_copy(update={"read_timeout": read, "operation_timeout": operation})
    return host.model_copy(update={"connection": bounded})


def _timeout_problem(exc: CommandTimeout, deadline: float, host: str) -> str:
    return (f"no answer within the check deadline of {deadline:.0f}s (the probe was stopped; the "
            "host is hung or overloaded); fix: look at the host (is WinRM or its disk stuck?), or "
            f"raise connection.check_deadline / --deadline if it is only slow")


def audit_host(
    host: Host, *, deadline: float | None = None, connector: Connector | None = None,
    keep_facts: bool = False,
) -> HostAudit:
    """Check one host; never raises (an error is the audit's ``error``)."""
    audit = HostAudit(host.name)
    seconds = deadline or host.connection.check_deadline or DEFAULT_CHECK_DEADLINE
    started = time.monotonic()
    try:
        connection = (connector or open_connection)(within(host, seconds))
    except Exception as exc:  # the per-host boundary: the other hosts go on
        log.debug("%s: connect failed", host.name, exc_info=True)
        audit.error = "could not be checked: " + host_problem(exc, host.name)
        return audit
    try:
        limited = Deadline(connection, seconds)
        facts = gather_facts(limited, desired.probe_spec(host))
        audit.findings = judge_all(host, facts)
        audit.releases = releases.summary(host, facts)
        audit.elapsed = facts.elapsed
        if keep_facts:
            audit.facts = facts
    except CommandTimeout as exc:
        audit.error = "could not be checked: " + _timeout_problem(exc, seconds, host.name)
    except Exception as exc:  # secrets, transport, probe, parsers, bugs: this host only
        log.debug("%s: check failed", host.name, exc_info=True)
        audit.error = "could not be checked: " + host_problem(exc, host.name)
    finally:
        try:
            connection.close()
        except Exception:  # closing is best effort
            log.debug("%s: close failed", host.name, exc_info=True)
        audit.http_requests = connection.stats.http_requests
        audit.commands = connection.stats.commands
        if not audit.elapsed:
            audit.elapsed = time.monotonic() - started
    return audit


def audit_fleet(
    hosts: Sequence[Host],
    *,
    parallel: int = 8,
    on_done: Callable[[HostAudit], None] | None = None,
    deadline: float | None = None,
    connector: Connector | None = None,
    keep_facts: bool = False,
    processes: int = 1,
) -> list[HostAudit]:
    """Check every host (up to ``parallel`` at a time); results in inventory order.

    After a Ctrl-C, hosts not yet started are reported as not checked. ``keep_facts`` keeps
    each host's facts on its audit (memory grows with the fleet: only for those who judge them).
    ``processes`` > 1 splits a large fleet over that many worker processes
    (:mod:`fleet.processes`; ``connector`` must then pickle); a small one stays here.
    """
    from fleet.processes import run_in_processes, worker_count

    workers = worker_count(len(hosts), parallel, processes)
    if workers > 1:
        job = partial(audit_threads, deadline=deadline, connector=connector,
                      keep_facts=keep_facts)
        return run_in_processes(hosts, job, HostAudit, processes=workers, parallel=parallel,
                                on_done=on_done)
    results: list[HostAudit | None] = [None] * len(hosts)

    def report(i: int, audit: HostAudit) -> None:
        results[i] = audit
        if on_done is not None:
            try:
                on_done(audit)
            except Exception:  # a display problem never loses a result
                log.debug("on_done failed", exc_info=True)

    audit_threads(list(enumerate(hosts)), parallel=parallel, report=report, deadline=deadline,
                  connector=connector, keep_facts=keep_facts)
    return [a for a in results if a is not None]


def audit_threads(
    hosts: Sequence[tuple[int, Host]],
    *,
    parallel: int,
    report: Callable[[int, HostAudit], None],
    deadline: float | None = None,
    connector: Connector | None = None,
    keep_facts: bool = False,
) -> None:
    """Check ``(index, host)`` pairs with a pool of ``parallel`` threads; ``report(index,
    audit)`` as each host ends (from its thread; it must not raise)."""

    def one(item: tuple[int, Host]) -> None:
        i, host = item
        if stop_requested():
            audit = HostAudit(host.name, error=NOT_CHECKED)
        else:
            audit = audit_host(host, deadline=deadline, connector=connector,
                               keep_facts=keep_facts)
        report(i, audit)

    run_pool(hosts, one, parallel=parallel)
