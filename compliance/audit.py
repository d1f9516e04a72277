"""Judge many hosts at once: one probe per host, every requirement, no pytest needed."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from compliance import desired
from compliance.finding import Finding
from compliance.requirements import judge_all
from inventory.models import Host
from winhost.connect import connect
from winhost.errors import HostError
from winhost.facts import gather_facts
from winhost.probe import ProbeError


@dataclass
class HostAudit:
    host: str
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    http_requests: int = 0
    commands: int = 0
    elapsed: float = 0.0

    @property
    def status(self) -> str:
        if self.error:
            return "unreachable"
        return "drift" if any(not f.ok for f in self.findings) else "compliant"


def audit_host(host: Host) -> HostAudit:
    audit = HostAudit(host.name)
    try:
        connection = connect(host)
    except (HostError, ValueError, OSError) as exc:
        audit.error = str(exc)
        return audit
    try:
        facts = gather_facts(connection, desired.probe_spec(host))
        audit.findings = judge_all(host, facts)
        audit.elapsed = facts.elapsed
    except (HostError, ProbeError) as exc:
        audit.error = str(exc)
    finally:
        connection.close()
        audit.http_requests = connection.stats.http_requests
        audit.commands = connection.stats.commands
    return audit


def audit_fleet(
    hosts: Sequence[Host],
    *,
    parallel: int = 8,
    on_done: Callable[[HostAudit], None] | None = None,
) -> list[HostAudit]:
    """Check every host (up to ``parallel`` at a time); results in inventory order."""

    def one(host: Host) -> HostAudit:
        audit = audit_host(host)
        if on_done is not None:
            on_done(audit)
        return audit

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, hosts))
