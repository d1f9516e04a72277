"""Take the app off a host: stop and remove the service; with ``purge`` the venv too.

In the order Windows needs: stop and wait for STOPPED (the service's processes hold nssm.exe and
the venv's python.exe), delete, wait until the service control manager has forgotten it (until
then a reinstall fails with 1072, marked for deletion), and only then remove files. All of it runs
as one command on the host, bounded; a stop that is already pending is waited for, not repeated.
"""

from __future__ import annotations

from compliance import desired
from inventory.models import Host
from provision.hostops import host_ops
from provision.model import HostRun, Status, StepResult
from winhost.cmdline import Command, system32
from winhost.connection import Connection
from winhost.probe import gather_facts

#: How long the service may take to reach STOPPED, and to be forgotten after its deletion.
STOP_SECONDS = 120
GONE_SECONDS = 60


def deprovision_host(host: Host, connection: Connection, *, purge: bool = False) -> HostRun:
    """Idempotent: what is already gone is reported ok."""
    run = HostRun(host=host.name, check_only=False)
    facts = gather_facts(connection, desired.probe_spec(host))
    sc = system32("sc.exe", facts.system_root)
    base = host.python.base
    steps: list[tuple[str, str, bool, list[Command]]] = []
    for unit in host.units():  # every service of the host, then (purge) every venv
        name = unit.service.name
        steps.append((
            "service removed", name if host.multi else "",
            facts.for_service(name).service.exists,
            [host_ops(base, ("stop", sc, name, str(STOP_SECONDS)), ("delete", sc, name),
                      ("gone", sc, name, str(GONE_SECONDS)))],
        ))
    if purge:  # with app.releases, the release root: every release's venv
        venvs = {(u.python.release_root or u.python.venv).lower(): u for u in host.units()}
        for unit in venvs.values():
            path = unit.python.release_root or unit.python.venv
            there = facts.for_service(unit.service.name).venv.exists or bool(
                unit.python.release_root and facts.dir_exists(path))
            steps.append(("venv removed", path if host.multi else "", there,
                          [host_ops(base, ("rmtree", path))]))
    timeout = STOP_SECONDS + GONE_SECONDS + 60
    for title, service, present, commands in steps:
        result = StepResult(title.split()[0], title, Status.OK, service=service)
        if present:
            result.commands = [c.line for c in commands]
            outcomes = [connection.run(c, timeout=timeout) for c in commands]
            last = outcomes[-1]
            result.status = Status.CHANGED if last.rc == 0 else Status.FAILED
            result.rc = last.rc
            if last.rc != 0:
                result.output = (last.stdout + last.stderr).strip()[-1000:]
        run.steps.append(result)
        if result.status is Status.FAILED:
            break  # files stay while the service may still hold them
    run.commands = connection.stats.commands
    run.http_requests = connection.stats.http_requests
    return run
