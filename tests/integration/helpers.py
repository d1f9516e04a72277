"""What the sandbox integration tests ask of a host, in one place."""

from __future__ import annotations

from compliance.audit import audit_host
from inventory.models import Host


def failing(host: Host) -> dict[str, str]:
    """Requirement -> message of every check the host fails now (it must be reachable)."""
    audit = audit_host(host)
    assert not audit.error, audit.error
    return {f.requirement: f.message for f in audit.findings if not f.ok}
