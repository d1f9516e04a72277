"""One compliance run over selected hosts: the inventory, and one probe per host, done up front.

``probe(names)`` checks the hosts with the fleet engine ``invoke drift`` uses
(:func:`compliance.audit.audit_fleet`: a bounded pool, the per-host boundary, the check deadline,
each host's shell closed as soon as its one probe answered) and keeps each host's facts and
findings; the tests then only judge what is cached. A host asked for but not probed yet (a
worker given a host it did not expect) is probed alone. No lock is held while probing. A large
fleet's probe can be split over worker processes as drift's is (``TACFLEET_PROCESSES=N``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import testinfra.host

from compliance.audit import HostAudit, audit_fleet, within
from compliance.finding import Finding
from inventory import Host, Inventory, load_inventory, resolve_inventory_path
from inventory.rerun import runnable
from inventory.secrets import redact
from winhost.connection import Connection
from winhost.open import open_connection
from winhost.probe import HostFacts
from winhost.testinfra_backend import testinfra_host

#: Hosts probed at a time unless ``--parallel`` says otherwise (bench/fleet_check.py: past 64
#: threads one controller process only adds switching).
DEFAULT_PARALLEL = 64


def probe_processes() -> int:
    """Worker processes the probe of a large fleet is split over (:mod:`fleet.processes`):
    ``TACFLEET_PROCESSES`` (default 1: on a 2-CPU controller 2 measured slower, see README),
    always 1 inside an xdist worker (already one of many)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return 1
    try:
        return max(1, int(os.environ.get("TACFLEET_PROCESSES", "") or 1))
    except ValueError:
        return 1


@dataclass
class FleetSession:
    inventory: Inventory
    hosts: list[Host]
    deadline: float | None = None
    parallel: int = DEFAULT_PARALLEL
    processes: int = field(default_factory=probe_processes)
    probe_seconds: float = 0.0  # wall time this process spent probing
    _audits: dict[str, HostAudit] = field(default_factory=dict)
    _connections: dict[str, Connection] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # guards the dicts only
    _by_name: dict[str, Host] = field(default_factory=dict, init=False, repr=False)
    _findings: dict[str, dict[str, Finding]] = field(default_factory=dict, init=False,
                                                     repr=False)

    def __post_init__(self) -> None:
        self._by_name = {h.name: h for h in self.hosts}

    @classmethod
    def from_options(
        cls,
        inventory: str | None,
        selection: str | None,
        hostspecs: Any = None,
        *,
        deadline: float | None = None,
        parallel: int | None = None,
    ) -> FleetSession:
        """Load and select as the invoke tasks do (their errors: InventoryError, one line)."""
        loaded = load_inventory(resolve_inventory_path(inventory))
        if not selection and hostspecs:
            selection = ",".join(
                spec.split("://", 1)[-1].rsplit("@", 1)[-1].split(":", 1)[0].split("?", 1)[0]
                for spec in (hostspecs if isinstance(hostspecs, list) else [hostspecs])
            )
        hosts = loaded.select(selection) if selection else list(loaded.hosts)
        return cls(loaded, hosts, deadline=deadline, parallel=parallel or DEFAULT_PARALLEL)

    @property
    def host_names(self) -> list[str]:
        return [h.name for h in self.hosts]

    @property
    def unit_targets(self) -> list[str]:
        """Targets of a per-service check: ``host``, or ``host/service`` for each service of a
        host with several."""
        return [f"{h.name}/{u.service.name}" if h.multi else h.name
                for h in self.hosts for u in h.units()]

    def entry(self, name: str) -> Host:
        """The host's entry; for ``host/service``, that service's unit (``Host.units``)."""
        host_name, _, service = name.partition("/")
        host = self._by_name[host_name]
        units = host.units()
        if not host.multi:  # the one unit (with app.releases, its venv is the release's)
            return units[0]
        return next((u for u in units if u.service.name == service), host)

    # -- probing -----------------------------------------------------------------------------
    def probe(self, names: Iterable[str], parallel: int | None = None) -> None:
        """Probe every host of ``names`` not probed yet, ``parallel`` at a time, once each."""
        with self._lock:
            wanted = [n for n in dict.fromkeys(names) if n not in self._audits]
        if not wanted:
            return
        started = time.monotonic()
        audits = audit_fleet([self.entry(n) for n in wanted], parallel=parallel or self.parallel,
                             deadline=self.deadline, keep_facts=True,
                             processes=self.processes)
        with self._lock:
            self.probe_seconds += time.monotonic() - started
            for audit in audits:
                self._audits[audit.host] = audit

    def probe_stats(self) -> dict[str, Any]:
        """What the probes of this process cost: hosts, wall seconds, requests and commands."""
        with self._lock:
            audits = list(self._audits.values())
        return {"hosts": len(audits), "seconds": round(self.probe_seconds, 3),
                "http_requests": sum(a.http_requests for a in audits),
                "commands": sum(a.commands for a in audits),
                "unreachable": sum(1 for a in audits if a.error)}

    def audit(self, name: str) -> HostAudit:
        """The host's probe and verdicts (probing it now if nobody did)."""
        name = name.partition("/")[0]
        audit = self._audits.get(name)
        if audit is None:
            self.probe([name], parallel=1)
            audit = self._audits[name]
        return audit

    def facts(self, name: str) -> tuple[HostFacts | None, str]:
        """The host's facts from its one probe; or None and why it could not be checked."""
        audit = self.audit(name)
        facts = audit.facts
        if facts is not None and "/" in name:  # one service's view
            facts = facts.for_service(self.entry(name).service.name)
        error = runnable(audit.error, audit.host, self.inventory.path)
        return facts, redact(error.removeprefix("could not be checked: "))

    def findings(self, name: str) -> dict[str, Finding]:
        """Requirement -> the host's finding, judged once from the cached facts; for
        ``host/service`` (or a host with several services) that service's (the first's)."""
        found = self._findings.get(name)
        if found is None:
            service = self.entry(name).service.name
            found = self._findings[name] = {  # fixes runnable as printed (inventory.rerun)
                f.requirement: replace(f, fix=runnable(f.fix, f.host, self.inventory.path))
                for f in self.audit(name).findings if f.service in ("", service)}
        return found

    # -- users' own commands (opt-in tests): a connection of their own, closed at the end ----
    def connection(self, name: str) -> Connection:
        name = name.partition("/")[0]
        with self._lock:
            conn = self._connections.get(name)
        if conn is None:
            entry = self.entry(name)
            seconds = self.deadline or entry.connection.check_deadline
            conn = open_connection(within(entry, seconds))
            with self._lock:
                self._connections[name] = conn
        return conn

    def testinfra_host(self, name: str) -> testinfra.host.Host:
        return testinfra_host(self.connection(name))

    def close(self, name: str | None = None) -> None:
        """Close the connection of host ``name`` (if any), or of every host."""
        with self._lock:
            if name is None:
                connections = list(self._connections.values())
                self._connections.clear()
            else:
                connections = [c for c in (self._connections.pop(name, None),) if c]
        for conn in connections:
            with contextlib.suppress(Exception):  # best effort; the verdicts are what matter
                conn.close()
