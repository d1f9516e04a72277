"""What every fleet run keeps per host, whatever it did: provisioning's ``HostRun`` and the
audit's ``HostAudit`` extend :class:`HostOutcome`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HostOutcome:
    """One host's outcome: ``error`` ("cause; fix: …") when it could not be worked on, and what
    working on it cost."""

    host: str
    error: str = field(default="", kw_only=True)
    elapsed: float = field(default=0.0, kw_only=True)
    commands: int = field(default=0, kw_only=True)
    http_requests: int = field(default=0, kw_only=True)
