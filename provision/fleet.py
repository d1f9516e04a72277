"""Provision many hosts at once with a bounded pool; one host's failure never stops the others."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence

from inventory.models import Host
from provision.engine import OnStep, provision_host
from provision.model import HostRun
from winhost.connect import connect
from winhost.errors import HostError


def provision_one(host: Host, *, on_step: OnStep | None = None, **options: bool) -> HostRun:
    """Connect, provision, close; a host that cannot be reached is a HostRun with an error."""
    try:
        connection = connect(host)
    except (HostError, ValueError, OSError) as exc:
        return HostRun(host=host.name, check_only=options.get("check_only", False), error=str(exc))
    try:
        run = provision_host(host, connection, on_step=on_step, **options)
    finally:
        connection.close()
    run.http_requests = connection.stats.http_requests  # the shell's Delete included, as audits
    return run


def provision_fleet(
    hosts: Sequence[Host], *, parallel: int = 4, on_step: OnStep | None = None, **options: bool
) -> list[HostRun]:
    """Run every host (up to ``parallel`` at a time); results in inventory order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(provision_one, host, on_step=on_step, **options) for host in hosts]
        return [f.result() for f in futures]
