"""Take the app off a host: stop and remove the service; with ``purge`` the venv too."""

from __future__ import annotations

from compliance import desired
from inventory.models import Host
from provision.hostops import host_ops
from provision.model import HostRun, Status, StepResult
from winhost.cmdline import DEFAULT_SYSTEM_ROOT, Command, command, system32
from winhost.connection import Connection
from winhost.facts import gather_facts


def deprovision_host(host: Host, connection: Connection, *, purge: bool = False) -> HostRun:
    """Idempotent: what is already gone is reported ok."""
    run = HostRun(host=host.name, check_only=False)
    facts = gather_facts(connection, desired.probe_spec(host))
    sc = system32("sc.exe", getattr(facts, "system_root", "") or DEFAULT_SYSTEM_ROOT)
    steps: list[tuple[str, bool, list[Command]]] = [
        (
            "service removed",
            facts.service.exists,
            [command(sc, "stop", host.service.name), command(sc, "delete", host.service.name)],
        ),
    ]
    if purge:
        steps.append(
            (
                "venv removed",
                facts.venv.exists,
                [host_ops(host.python.base, ("rmtree", host.python.venv))],
            )
        )
    for title, present, commands in steps:
        result = StepResult(title.split()[0], title, Status.OK)
        if present:
            result.commands = [c.line for c in commands]
            outcomes = [connection.run(c, timeout=120) for c in commands]
            last = outcomes[-1]
            result.status = Status.CHANGED if last.rc == 0 else Status.FAILED
            result.rc = last.rc
            if last.rc != 0:
                result.output = (last.stdout + last.stderr).strip()[-1000:]
        run.steps.append(result)
    run.commands = connection.stats.commands
    run.http_requests = connection.stats.http_requests
    return run
