"""One compliance run over selected hosts: inventory, one connection and one probe per host."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import testinfra.host

from compliance import desired
from compliance.audit import Deadline, within
from inventory import Host, Inventory, load_inventory, resolve_inventory_path
from inventory.secrets import redact
from winhost.connect import connect
from winhost.connection import Connection
from winhost.errors import CommandTimeout, host_problem
from winhost.facts import HostFacts, gather_facts
from winhost.testinfra_backend import testinfra_host


@dataclass
class FleetSession:
    inventory: Inventory
    hosts: list[Host]
    _connections: dict[str, Connection] = field(default_factory=dict)
    _facts: dict[str, tuple[HostFacts | None, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    deadline: float | None = None

    @classmethod
    def from_options(
        cls,
        inventory: str | None,
        selection: str | None,
        hostspecs: Any = None,
        *,
        deadline: float | None = None,
    ) -> FleetSession:
        """Load and select as the invoke tasks do (their errors: InventoryError, one line)."""
        loaded = load_inventory(resolve_inventory_path(inventory))
        if not selection and hostspecs:
            selection = ",".join(
                spec.split("://", 1)[-1].rsplit("@", 1)[-1].split(":", 1)[0].split("?", 1)[0]
                for spec in (hostspecs if isinstance(hostspecs, list) else [hostspecs])
            )
        hosts = loaded.select(selection) if selection else list(loaded.hosts)
        return cls(loaded, hosts, deadline=deadline)

    @property
    def host_names(self) -> list[str]:
        return [h.name for h in self.hosts]

    def spec(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def connection(self, name: str) -> Connection:
        if name not in self._connections:
            spec = self.spec(name)
            seconds = self.deadline or spec.connection.check_deadline
            self._connections[name] = connect(within(spec, seconds))
        return self._connections[name]

    def facts(self, name: str) -> tuple[HostFacts | None, str]:
        """The host's facts from one probe, cached; or None and the reason it failed."""
        with self._lock:
            if name not in self._facts:
                spec = self.spec(name)
                seconds = self.deadline or spec.connection.check_deadline
                try:
                    limited = Deadline(self.connection(name), seconds)
                    found = gather_facts(limited, desired.probe_spec(spec))
                    self._facts[name] = (found, "")
                except CommandTimeout:
                    self._facts[name] = (None, f"no answer within the check deadline of "
                                         f"{seconds:.0f}s (the probe was stopped); fix: look at "
                                         "the host, or raise connection.check_deadline")
                except Exception as exc:  # the per-host boundary: other hosts are still checked
                    self._facts[name] = (None, redact(host_problem(exc, name)))
            return self._facts[name]

    def testinfra_host(self, name: str) -> testinfra.host.Host:
        return testinfra_host(self.connection(name))

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()
