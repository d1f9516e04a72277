"""``invoke rollback``: put a host's services back on an earlier release by hand (``app.releases``).

The target is ``--to VERSION`` (a release folder named ``VERSION`` or ``VERSION-<hash>``), else
the release the running one was switched from (the history), else the newest other release
folder. The rollback is the automatic one's: one registry value (NSSM's Application), a restart,
the gate on the release gone back to, a ``rollback`` history line. The next ``invoke provision``
then refuses to deploy the release rolled back from again until the inventory asks for another
(or ``--force-recreate``).
"""

from __future__ import annotations

import time

from compliance import desired, releases
from compliance.releases import Switch
from inventory.models import Host
from provision import releases as release_ops
from provision.hostops import failure_reason
from provision.model import HostRun, Status, StepResult
from winhost.connection import Connection
from winhost.errors import TacfleetError, host_problem
from winhost.probe import HostFacts, gather_facts


def target(unit: Host, facts: HostFacts, to: str | None) -> tuple[str, str] | str:
    """``(name, python)`` of the release to go back to, or why there is none."""
    now = releases.running(unit, facts)
    folders = sorted((r for r in (facts.releases.names if facts.releases else []) if r.python),
                     key=lambda r: r.mtime, reverse=True)
    known = ", ".join(r.name for r in folders) or "none"
    if to is not None:
        match = [r for r in folders if r.name == to or r.name.startswith(to + "-")]
        if not match:
            return f"no release {to} on the host (it has: {known})"
        name = match[0].name
    else:
        back = next((line for line in reversed(releases.history(facts))
                     if line.get("to") == now and line.get("action") in ("switch", "deployed")
                     and line.get("from_python")), None)
        if back is not None:
            return str(back.get("from")), str(back["from_python"])
        other = [r for r in folders if r.name != now]
        if not other:
            return f"no earlier release on the host to go back to (it has: {known})"
        name = other[0].name
    return name, releases.release_python(unit, name)


def rollback_host(host: Host, connection: Connection, *, to: str | None = None,
                  reason: str = "by hand: invoke rollback") -> HostRun:
    """Each service of ``host`` with ``app.releases`` back on its earlier release."""
    run = HostRun(host=host.name, check_only=False)
    started = time.monotonic()
    try:
        facts = gather_facts(connection, desired.probe_spec(host))
        for unit in host.units():
            result = _roll_back_unit(unit, facts.for_service(unit.service.name), connection, to,
                                     reason)
            run.steps.append(result)
            if result.status is Status.CHANGED:
                run.rolled_back.append(f"{unit.service.name}: {result.message}")
    except TacfleetError as exc:
        run.error = host_problem(exc, host.name)
    finally:
        run.elapsed = time.monotonic() - started
        run.commands = connection.stats.commands
        run.http_requests = connection.stats.http_requests
    return run


def _roll_back_unit(unit: Host, facts: HostFacts, connection: Connection,
                    to: str | None, reason: str) -> StepResult:
    result = StepResult("rollback", "roll back to an earlier release", Status.FAILED,
                        service=unit.service.name if unit.multi else "")
    if not unit.app.releases:
        result.status, result.message = Status.OK, "app.releases is off: nothing to roll back"
        return result
    now = releases.running(unit, facts) or "none of ours"
    chosen = target(unit, facts, to)
    if isinstance(chosen, str):
        result.message = chosen
        return result
    name, python = chosen
    if name == now:
        result.status, result.message = Status.OK, f"already on {name}"
        return result
    switch = Switch(python, name, now)
    started = time.monotonic()
    for action in release_ops.rollback_actions(unit, facts, switch, reason):
        result.commands.append(action.command.line)
        outcome = connection.run(action.command, timeout=action.timeout)
        refused = action.check(outcome.stdout) if action.check and outcome.rc == 0 else ""
        if outcome.rc != 0 or refused:
            reason = refused or failure_reason(outcome.stderr) or f"exit code {outcome.rc}"
            result.message = f"{action.why}: {reason}"
            break
    else:
        result.status = Status.CHANGED
        result.message = f"rolled back from {now} to {name} ({reason}), which answers"
    result.elapsed = time.monotonic() - started
    return result
