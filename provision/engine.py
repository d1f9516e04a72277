"""Run the steps on one host: plan from facts, apply what differs, verify by re-probing."""

from __future__ import annotations

import time
from collections.abc import Callable

from compliance import desired, releases
from compliance.finding import Finding
from compliance.requirements import REQUIREMENTS, needs_restart, restart_note
from fleet import activity
from fleet.interrupt import INTERRUPTED, stop_requested
from inventory.models import Host
from provision import releases as release_ops
from provision.hostops import failure_reason
from provision.model import Blocked, HostRun, Status, StepResult
from provision.steps import SERVICE_UP, STEPS, Context, Step
from winhost.cmdline import Command
from winhost.connection import Connection
from winhost.errors import HostError, ProgramNotFound, TacfleetError, host_problem
from winhost.probe import HostFacts, gather_facts

#: The message of a step that does not apply (``skipped``): the inventory asks for none of it.
NOT_CONFIGURED = "not configured"

#: How long a started service may take to reach RUNNING and answer on its port.
SETTLE_SECONDS = 90.0
SETTLE_POLL = 3.0

OnStep = Callable[[str, StepResult], None]


def failing(findings: list[Finding]) -> list[Finding]:
    """The findings a step must act on: failed, not skipped as moot."""
    return [f for f in findings if not f.ok and not f.skipped]


def provision_host(
    host: Host,
    connection: Connection,
    *,
    check_only: bool = False,
    force_recreate: bool = False,
    adopt: bool = False,
    on_step: OnStep | None = None,
) -> HostRun:
    """Bring ``host`` to its inventory entry (or, with ``check_only``, say what that would take)."""
    run = HostRun(host=host.name, check_only=check_only)
    started = time.monotonic()
    spec = desired.probe_spec(host)
    try:
        activity.doing(host.name, "probing the host's facts")
        facts = gather_facts(connection, spec)  # one probe: every service's facts
        changed_before = False
        for index, unit in enumerate(host.units()):
            ctx = Context(unit, facts.for_service(unit.service.name), force_recreate, adopt,
                          changed_before=changed_before)
            go_on = _run_unit(run, ctx, connection, check_only, on_step, first=index == 0)
            facts = ctx.full_facts or facts
            changed_before = changed_before or bool(ctx.changed)
            if not go_on:
                break
    except TacfleetError as exc:  # steps done so far stay in the run
        run.error = host_problem(exc, host.name)
    finally:
        activity.done(host.name)
        run.elapsed = time.monotonic() - started
        run.commands = connection.stats.commands
        run.http_requests = connection.stats.http_requests
    return run


def _run_unit(run: HostRun, ctx: Context, connection: Connection, check_only: bool,
              on_step: OnStep | None, *, first: bool) -> bool:
    """The steps for one service of the host; False when the run must stop (a failure, Ctrl-C).

    Host-wide steps run once, with the first service: they read only what every unit of the
    host shares (the base Python, NSSM), so any service's view would do."""
    host = ctx.host
    for step in STEPS:
        if step.scope == "host" and not first:
            continue
        if stop_requested():  # Ctrl-C: the current command has finished; start no new step
            run.error = INTERRUPTED
            if ctx.switch is not None and ctx.switch.this_run:
                _roll_back(run, ctx, connection, on_step, "interrupted (Ctrl-C) after the switch")
            return False
        activity.doing(host.name, step.title)
        result = run_step(step, ctx, connection, check_only)
        if host.multi and step.scope == "service":
            result.service = host.service.name
        run.steps.append(result)
        if on_step:
            on_step(host.name, result)
        if result.status is Status.FAILED and ctx.switch is not None:
            _roll_back(run, ctx, connection, on_step, result.message)
            return False
        if result.status in (Status.FAILED, Status.WOULD_FAIL):
            return False
        if result.status is Status.CHANGED and not stop_requested():
            ctx.full_facts = _settle(step, ctx, connection)
            ctx.facts = ctx.full_facts.for_service(host.service.name)
            still = _left(ctx, failing(step.findings(ctx)))
            if still:
                result.status = Status.FAILED
                result.message = "applied, but still: " + "; ".join(f.message for f in still)
                if on_step:
                    on_step(host.name, result)
                if ctx.switch is not None:
                    _roll_back(run, ctx, connection, on_step, result.message)
                return False
            if step.ends_switch:  # the release passed its gate: it stays, whatever follows
                ctx.switch = None
    return True


def _left(ctx: Context, findings: list[Finding]) -> list[Finding]:
    """The findings this step must still answer for: after a release switch the health gate
    (``release_gate``, polling every 0.25 s for ``timeout_s``) judges whether the app answers,
    not the start's re-probe every few seconds."""
    if ctx.switch is None:
        return findings
    return [f for f in findings if f.requirement != "app_answering"]


def _roll_back(run: HostRun, ctx: Context, connection: Connection, on_step: OnStep | None,
               why: str) -> None:
    """A release that failed after its switch goes back to the one it replaced (one registry
    value, a restart, the old release's gate); ``run.rolled_back`` says so. A first release has
    nothing to go back to: the run says that instead."""
    switch, host = ctx.switch, ctx.host
    ctx.switch = None
    if switch is None:
        return
    result = StepResult("rollback", f"roll back to {switch.from_name or 'nothing'}",
                        Status.FAILED, reasons=[f"release {switch.to_name}: {why}"])
    if not switch.from_python:
        result.message = (f"release {switch.to_name} failed and there is no earlier release "
                          "to go back to: fix the app and run again")
    else:
        plan = release_ops.rollback_actions(host, ctx.facts, switch, why)
        result.commands = [a.command.line for a in plan]
        started = time.monotonic()
        for action in plan:
            outcome = connection.run(action.command, timeout=action.timeout)
            refused = action.check(outcome.stdout) if action.check and outcome.rc == 0 else ""
            if outcome.rc != 0 or refused:
                reason = refused or f"exit code {outcome.rc}: {failure_reason(outcome.stderr)}"
                result.message = f"{action.why}: {reason}"
                break
        else:
            result.status = Status.CHANGED
            result.message = f"{switch.from_name} answers again"
        result.elapsed = time.monotonic() - started
    if host.multi:
        result.service = host.service.name
    run.steps.append(result)
    run.rolled_back.append(f"{host.service.name}: rolled back to {switch.from_name}: {why}"
                           if result.status is Status.CHANGED else
                           f"{host.service.name}: release {switch.to_name} failed, not rolled "
                           f"back: {result.message}")
    if on_step:
        on_step(host.name, result)


def run_step(step: Step, ctx: Context, connection: Connection, check_only: bool) -> StepResult:
    """Plan one step on one unit from its facts and, unless ``check_only``, apply it."""
    judged = step.findings(ctx)
    findings = failing(judged)
    forced = [name for name in step.forced_by if name in ctx.changed]
    restart = step.restarts_for_changes and bool(ctx.restart_for)
    result = StepResult(step.name, step.title, Status.OK)
    if not findings and not forced and not restart:
        if judged and all(f.not_configured for f in judged):  # the inventory asks for none
            result.status = Status.SKIPPED
            result.message = NOT_CONFIGURED + ": " + "; ".join(dict.fromkeys(
                f.found for f in judged))
        return result
    result.changes = [(f.requirement, f.expected, f.found) for f in findings]
    result.reasons = [f.message for f in findings] or (
        [f"follows changes in: {', '.join(forced)}"] if forced else
        [f"follows changes that need a restart: {', '.join(ctx.restart_for)}"])
    beside = (step.beside_running and ctx.host.app.releases
              and releases.running(ctx.host, ctx.facts) != releases.wanted(ctx.host))
    if ctx.facts.service.state != "RUNNING":
        pass  # nothing runs, so nothing is restarted (no note): the last step starts it
    elif beside:
        result.restart = ("restart: no, because it builds the new release beside the running "
                          "one (the switch to it restarts)")
    elif step.restarts_for_changes:
        result.restart = restart_note(list(ctx.restart_for))[1] if ctx.restart_for else ""
    elif findings:
        result.restart = restart_note([f.requirement for f in findings])[1]
    plan = step.actions(ctx)
    if isinstance(plan, Blocked):
        if check_only and (ctx.changed or ctx.changed_before):
            result.status = Status.WOULD_CHANGE
            result.message = "decided after the earlier changes are applied"
            return result
        result.status = Status.WOULD_FAIL if check_only else Status.FAILED
        result.message = plan.message
        return result
    result.commands = [a.shown for a in plan]
    ctx.changed.add(step.name)
    if step.restarts_for_changes or any(a.restarts for a in plan):
        ctx.restart_for.clear()  # the (re)start makes every change so far live
        if ctx.facts.service.state == "RUNNING":  # it was stopped and will be started again
            ctx.restarted.add(step.name)
    elif not beside:
        ctx.restart_for.extend(
            f.requirement for f in findings
            if needs_restart(f.requirement) and f.requirement not in ctx.restart_for)
    if check_only:
        result.status = Status.WOULD_CHANGE
        return result
    started = time.monotonic()
    for action in plan:
        activity.doing(ctx.host.name, action.why)
        try:
            outcome = (connection.run(action.command, timeout=action.timeout)
                       if action.stdin is None else
                       connection.run(action.command, timeout=action.timeout, stdin=action.stdin))
        except ProgramNotFound as exc:  # nothing ran: this step fails, saying what to do
            result.status = Status.FAILED
            result.message = f"{action.why}: {str(exc).removeprefix(exc.host + ': ')}" + (
                f"; {action.missing_fix}" if action.missing_fix else "")
            result.commands = result.commands[: plan.index(action) + 1]
            if action.cleanup is not None:
                _clean_up(connection, action.cleanup, result)
            break
        refused = action.check(outcome.stdout) if action.check and outcome.rc == 0 else ""
        if outcome.rc != 0 or refused:
            if action.switches:  # part of the switch may be on the host: roll it back
                ctx.switch = ctx.planned_switch
            result.status = Status.FAILED
            result.rc = outcome.rc
            why = failure_reason(outcome.stderr)
            result.message = f"{action.why}: {refused or f'exit code {outcome.rc}'}" + (
                f": {why}" if why and not refused else "")
            result.output = (outcome.stdout + outcome.stderr).strip()[-2000:]
            result.commands = result.commands[: plan.index(action) + 1]
            if action.cleanup is not None:
                _clean_up(connection, action.cleanup, result)
            break
    else:
        result.status = Status.CHANGED
        ctx.switch = ctx.planned_switch or ctx.switch  # the release switch is on the host now
    ctx.planned_switch = None
    result.elapsed = time.monotonic() - started
    return result


def _clean_up(connection: Connection, command: Command, result: StepResult) -> None:
    """Run a failed action's cleanup; its own failure is noted, never raised."""
    result.commands.append(command.line)
    try:
        outcome = connection.run(command, timeout=120)
    except HostError as exc:
        result.message += f" (cleanup failed: {exc})"
        return
    if outcome.rc != 0:
        result.message += f" (cleanup failed: exit code {outcome.rc})"


def _settle(step: Step, ctx: Context, connection: Connection) -> HostFacts:
    """Re-probe after a change (the whole host's facts); a service that was (re)started gets
    time to come up."""
    spec = desired.probe_spec(ctx.host)
    name = ctx.host.name
    activity.doing(name, f"re-probing the host after '{step.title}'")
    facts = gather_facts(connection, spec)
    if not step.restarts_for_changes and step.name not in ctx.restarted:
        return facts
    app = ctx.host.app  # a release's start is bounded by its gate's timeout_s
    deadline = time.monotonic() + (app.health.timeout_s if app.releases else SETTLE_SECONDS)
    probes = 1
    while time.monotonic() < deadline and not stop_requested():
        ctx.facts = facts.for_service(ctx.host.service.name)
        up = [REQUIREMENTS[r](ctx.host, ctx.facts) for r in SERVICE_UP]
        if not _left(ctx, failing(step.findings(ctx))) and not _left(ctx, failing(up)):
            break
        probes += 1
        activity.doing(name, f"{_waiting_for(ctx)} (re-probe {probes})")
        time.sleep(SETTLE_POLL)
        facts = gather_facts(connection, spec)
    return facts


def _waiting_for(ctx: Context) -> str:
    """What a settle waits for: ``waiting for the service to run`` and/or ``port 8080``."""
    service, port = ctx.host.service.name, ctx.host.app.port
    if ctx.facts.service.state != "RUNNING" or port is None:
        return f"waiting for the service {service} to run"
    return f"waiting for port {port} (service {service} running)"
