"""One compliance run over selected hosts: inventory, one connection and one probe per host."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import testinfra.host

from compliance import desired
from inventory import Host, Inventory, load_inventory, resolve_inventory_path
from winhost.connect import connect
from winhost.connection import Connection
from winhost.errors import HostError
from winhost.facts import HostFacts, gather_facts
from winhost.probe import ProbeError
from winhost.testinfra_backend import testinfra_host


@dataclass
class FleetSession:
    inventory: Inventory
    hosts: list[Host]
    _connections: dict[str, Connection] = field(default_factory=dict)
    _facts: dict[str, tuple[HostFacts | None, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_options(
        cls, inventory: str | None, selection: str | None, hostspecs: Any = None
    ) -> FleetSession:
        loaded = load_inventory(resolve_inventory_path(inventory))
        if not selection and hostspecs:
            selection = ",".join(
                spec.split("://", 1)[-1].rsplit("@", 1)[-1].split(":", 1)[0].split("?", 1)[0]
                for spec in (hostspecs if isinstance(hostspecs, list) else [hostspecs])
            )
        hosts = loaded.select(selection) if selection else list(loaded.hosts)
        return cls(loaded, hosts)

    @property
    def host_names(self) -> list[str]:
        return [h.name for h in self.hosts]

    def spec(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def connection(self, name: str) -> Connection:
        if name not in self._connections:
            self._connections[name] = connect(self.spec(name))
        return self._connections[name]

    def facts(self, name: str) -> tuple[HostFacts | None, str]:
        """The host's facts from one probe, cached; or None and the reason it failed."""
        with self._lock:
            if name not in self._facts:
                try:
                    spec = self.spec(name)
                    found = gather_facts(self.connection(name), desired.probe_spec(spec))
                    self._facts[name] = (found, "")
                except (HostError, ProbeError, OSError, ValueError) as exc:
                    self._facts[name] = (None, str(exc))
            return self._facts[name]

    def testinfra_host(self, name: str) -> testinfra.host.Host:
        return testinfra_host(self.connection(name))

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()
