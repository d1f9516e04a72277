"""What the Invoke tasks do, as plain functions returning exit codes (so tests can reach them).

The command-line boundary: every task ends in one readable line (or one line per inventory
problem) and a documented exit code, never a traceback unless ``--debug`` (or
``TACFLEET_DEBUG=1``). Exit codes (docs/tasks.md's table):

- 0 done / compliant; 1 a host failed or drifted; 2 bad input (inventory, selection, option) or,
  for ``drift`` and ``facts``, a host that could not be checked; 3 an unexpected error (a bug:
  rerun with ``--debug``); 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console

from fleet.interrupt import EXIT_INTERRUPTED, graceful_interrupt
from fleet.runlog import TeeConsole
from inventory import (
    Host,
    InventoryError,
    format_problems,
    load_inventory,
    resolve_inventory_path,
)
from inventory import validate as validate_file
from inventory.secrets import redact, redact_data
from provision.options import DEFAULTS, ProvisionOptions
from winhost.errors import TacfleetError, explain, host_problem

if TYPE_CHECKING:
    from compliance.drift import DriftReport, Remediation
    from compliance.notify import Target
    from provision.model import HostRun
    from provision.report import StepPrinter

ROOT = Path(__file__).resolve().parent
console: Console = TeeConsole(highlight=False)  # both also print into the open run log
err_console: Console = TeeConsole(stderr=True, highlight=False, soft_wrap=True)  # one line each

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNCHECKED, EXIT_INTERNAL = 0, 1, 2, 2, 3
F = TypeVar("F", bound=Callable[..., int])
_debug = False


def set_debug(enabled: bool) -> None:
    """``--debug``: unexpected errors show their traceback; tacfleet's own log goes to stderr."""
    global _debug
    _debug = enabled or os.environ.get("TACFLEET_DEBUG", "") not in ("", "0")
    if _debug:
        os.environ["TACFLEET_DEBUG"] = "1"  # `invoke check` passes it on to pytest
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        for name in ("provision", "compliance", "fleet", "winhost", "checks", "inventory"):
            logger = logging.getLogger(name)
            logger.setLevel(logging.DEBUG)
            if not logger.handlers:
                logger.addHandler(handler)


def debugging() -> bool:
    return _debug or os.environ.get("TACFLEET_DEBUG", "") not in ("", "0")


def friendly(func: F) -> F:
    """The command-line boundary: one readable message and the documented exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            err_console.print("interrupted: run the same command again to finish", markup=False)
            return EXIT_INTERRUPTED
        except InventoryError as exc:  # bad inventory, unknown host, empty selection, secret
            if debugging():
                raise
            err_console.print(format_problems(exc.problems) if len(exc.problems) > 1
                              else str(exc), markup=False)
            return EXIT_USAGE
        except (TacfleetError, RuntimeError, ValueError) as exc:  # bad option, SandboxUnavailable
            if debugging():
                raise
            err_console.print(explain(exc) if isinstance(exc, TacfleetError) else str(exc),
                              markup=False)
            return EXIT_USAGE
        except Exception as exc:  # a bug: still one line, unless asked for the traceback
            if debugging():
                raise
            err_console.print(f"tacfleet: {explain(exc)}", markup=False)
            return EXIT_INTERNAL

    return wrapper  # type: ignore[return-value]


def logged(task: str, log: str | None, func: Callable[..., int], *args: Any,
           folder: str = "reports", **kwargs: Any) -> int:
    """``func(*args, **kwargs)`` (a task's function) with its run log (``fleet.runlog``):
    ``--log PATH``, ``-`` for none, by default ``<folder>/<task>-<UTC time>.log``."""
    from fleet.runlog import log_path, run_log
    from provision.report import shown

    path = log_path(task, log, folder)
    try:
        with run_log(task, path, shorten=shown) as record:
            code = func(*args, **kwargs)
            if record is not None:
                record.code = code
    except OSError as exc:
        _say(f"cannot write the run log {path}: {exc.strerror or exc}; fix: --log PATH "
             "(a writable file) or --log - (no run log)")
        return EXIT_USAGE
    if path is not None:
        _say(f"run log: {path}")
    return code


def _hosts(inventory: str | None, selection: str | None) -> list[Host]:
    loaded = load_inventory(resolve_inventory_path(inventory))
    return loaded.select(selection) if selection else list(loaded.hosts)


def _say(text: str) -> None:
    err_console.print(text, markup=False)


def usage(text: str) -> int:
    """A bad option or argument: ``text`` (one line with its fix) on stderr; exit 2."""
    _say(text)
    return EXIT_USAGE


@friendly
def validate(inventory: str | None) -> int:
    """The inventory as plan and provision will read it: its files present and each host's
    secrets resolvable (never shown); every problem at once, exit 2 if any."""
    path = resolve_inventory_path(inventory)
    problems = validate_file(path, check_secrets=True)
    if problems:
        err_console.print(format_problems(problems, file=str(path)), markup=False)
        return EXIT_USAGE
    count = len(load_inventory(path).hosts)
    console.print(f"{path}: ok ({count} {'host' if count == 1 else 'hosts'}; files and "
                  "secrets found)", markup=False, soft_wrap=True)
    return EXIT_OK


@friendly
def inventory_schema(output: str | None = None, *, markdown: bool = False) -> int:
    """The inventory's JSON Schema (``markdown``: its reference page) to stdout or ``output``."""
    from inventory.schema import reference_markdown, schema_text

    text = reference_markdown() if markdown else schema_text()
    if not output or output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(output).expanduser().write_text(text, encoding="utf-8")
    except OSError as exc:
        _say(f"{output}: cannot write it ({exc.strerror}); fix: give a path in a folder you "
             "may write, or - for standard output")
        return EXIT_USAGE
    _say(f"wrote {output}")
    return EXIT_OK


@friendly
def bundle(inventory: str | None, selection: str | None, *, dest: str | None = None,
           find_links: list[str] | None = None, no_index: bool = False) -> int:
    """Build the offline hosts' bundle (``provision.bundle``); a table per set."""
    from rich.table import Table

    from provision.bundle import BundleBuildError, build

    path = resolve_inventory_path(inventory)
    loaded = load_inventory(path, check_files=False)  # the bundle is what is being built
    hosts = loaded.select(selection) if selection else list(loaded.hosts)
    try:
        reports = build(hosts, Path(dest) if dest else None, find_links=find_links or (),
                        no_index=no_index)
    except BundleBuildError as exc:
        _say(explain(exc))
        return EXIT_FAILED
    table = Table("Python", "hosts", "files", "new", "kept", "removed", "MB", "seconds",
                  title="invoke bundle")
    for r in reports:
        table.add_row(r.python, str(len(r.names)), str(r.files), str(r.new), str(r.kept),
                      str(r.removed), f"{r.size / 1e6:.1f}", f"{r.seconds:.1f}")
    console.print(table)
    for folder in dict.fromkeys(r.folder for r in reports):
        console.print(f"bundle: {folder} (lock: {folder / 'bundle.lock.json'})", markup=False)
    return EXIT_OK


#: ``--detailed-exitcode``: something changed (or would change), nothing failed.
EXIT_CHANGES = 2


def provision(inventory: str | None, selection: str | None,
              options: ProvisionOptions = DEFAULTS) -> int:
    """Provision (or plan); a first Ctrl-C finishes current commands, prints, exits 130.
    ``--detailed-exitcode`` (Terraform's): 0 nothing to do, 2 changes, 1 any error."""
    pending: list[bool] = []
    code = _provision_task(inventory, selection, options, pending)
    if not options.detailed_exitcode or code == EXIT_INTERRUPTED:
        return code
    return EXIT_FAILED if code else EXIT_CHANGES if pending else EXIT_OK


@friendly
def _provision_task(inventory: str | None, selection: str | None, options: ProvisionOptions,
                    pending: list[bool]) -> int:
    from fleet.select import shard as shard_hosts

    hosts = shard_hosts(_hosts(inventory, selection), options.shard)
    with graceful_interrupt(_say) as stop:
        runs: list[HostRun] = []
        code = _provision(hosts, options, collect=runs, inventory=resolve_inventory_path(inventory))
        pending.extend(True for r in runs if r.changed)
        if stop.is_set():
            _say("interrupted: the steps above ran; run the same command again to finish")
            return EXIT_INTERRUPTED
    return code


def _runnable_steps(on_step: Callable[[str, Any], None] | None, inventory: Path | None
                    ) -> Callable[[str, Any], None] | None:
    """``on_step`` shown each step with the tacfleet commands its reasons and message name
    completed for its host and ``inventory`` (``inventory.rerun``): runnable as printed."""
    from inventory.rerun import runnable

    if on_step is None or inventory is None:
        return on_step

    def shown(host: str, result: Any) -> None:
        result.reasons = [runnable(r, host, inventory) for r in result.reasons]
        result.message = runnable(result.message, host, inventory)
        on_step(host, result)

    return shown


def _provision(hosts: list[Host], options: ProvisionOptions,
               collect: list[HostRun] | None = None, *, inventory: Path | None = None) -> int:
    from fleet.runlog import active
    from fleet.select import parse_batch_options
    from provision.fleet import provision_rollout
    from provision.report import StepPrinter, print_summary, runs_json

    o = options
    parse_batch_options(o.batch, o.max_fail, len(hosts), o.canary)  # refused before any work
    live = console.is_terminal and not o.as_json
    printer = None if o.as_json else StepPrinter(console, verbose=o.verbose, diff=o.diff,
                                                 show_commands=o.check)
    log = active()
    with _progress(hosts, o, printer if live else None) as shown:
        on_step: Callable[[str, Any], None] | None = shown if live else printer
        if log is not None and (live or o.as_json):  # steps the terminal does not show: the log
            on_step = log.steps(on_step, StepPrinter(log.console))  # its commands: logged
        runs = provision_rollout(hosts, batch=o.batch, max_fail=o.max_fail, parallel=o.parallel,
                                 canary=o.canary, rollback_on_stop=o.rollback_on_stop,
                                 on_step=_runnable_steps(on_step, inventory),
                                 check_only=o.check,
                                 force_recreate=o.force_recreate, adopt=o.adopt)
    if inventory is not None:
        from inventory.rerun import runnable

        for run in runs:  # an unreachable host's fix: `invoke doctor --host … --inventory …`
            run.error = runnable(run.error, run.host, inventory)
    if collect is not None:
        collect.extend(runs)
    if o.as_json:
        text = runs_json(runs)
        print(text)
        if log is not None:
            log.console.print(text, markup=False, soft_wrap=True)
    else:
        print_summary(console, runs)
    return EXIT_FAILED if any(r.failed for r in runs) else EXIT_OK


def _progress(hosts: list[Host], options: ProvisionOptions,
              printer: StepPrinter | None) -> Any:
    """How a run shows progress: on a terminal a live line per host (every step printed above
    it for one host, a plan or ``--verbose``); off one, a first line now and heartbeat lines
    (``fleet.activity``); for ``--json``, nothing."""
    from fleet.activity import Heartbeat
    from provision.progress import FleetProgress

    names = [h.name for h in hosts]
    if options.as_json:
        return nullcontext()
    if console.is_terminal:
        each = len(hosts) == 1 or options.check or options.verbose
        return FleetProgress(console, names, printer=printer if each else None)
    what = "planning" if options.check else "provisioning"
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    console.print(f"{what} {len(names)} host(s): {shown}", markup=False, soft_wrap=True)
    return Heartbeat(lambda line: console.print(line, markup=False, soft_wrap=True))


@friendly
def deprovision(inventory: str | None, selection: str | None, *, purge: bool = False) -> int:
    from provision.deprovision import deprovision_host
    from winhost.open import open_connection

    code = EXIT_OK
    for host in _hosts(inventory, selection):
        try:
            with _closing(open_connection(host)) as conn:
                run = deprovision_host(host, conn, purge=purge)
        except Exception as exc:  # the per-host boundary: the other hosts go on
            if debugging():
                logging.getLogger("provision").debug("%s", host.name, exc_info=True)
            console.print(f"{host.name}: could not be deprovisioned: "
                          f"{_runnable_problem(exc, host.name, inventory)}", markup=False)
            code = EXIT_FAILED
            continue
        for step in run.steps:
            console.print(f"{host.name}  {step.label:<24} {step.status}", markup=False)
            if step.output:
                console.print(redact(step.output), markup=False)
        code = max(code, EXIT_FAILED if run.failed else EXIT_OK)
    return code


@friendly
def rollback(inventory: str | None, selection: str | None, *, to: str | None = None) -> int:
    """Each selected host's services with ``app.releases`` back on an earlier release; the
    host lock is taken as for a provision."""
    from functools import partial

    from provision.fleet import provision_one
    from provision.report import WIDE, summary_table
    from provision.rollback import rollback_host

    hosts = _hosts(inventory, selection)
    runs = [provision_one(h, body=partial(rollback_host, to=to)) for h in hosts]
    if console.is_terminal:  # off a terminal: the lines below, whole
        console.print(summary_table(runs, notes=console.width >= WIDE))
    for run in runs:
        for step in run.steps:
            if step.step == "rollback":
                console.print(f"{run.host}  {step.label}: {step.status}: {step.message}",
                              markup=False)
        console.print(run.summary(), markup=False)
    return EXIT_FAILED if any(r.failed for r in runs) else EXIT_OK


def _runnable_problem(exc: BaseException, host: str, inventory: str | None) -> str:
    """:func:`host_problem` with the tacfleet commands its fix names runnable as printed."""
    from inventory.rerun import runnable

    return runnable(host_problem(exc, host), host, resolve_inventory_path(inventory))


class _closing:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __enter__(self) -> Any:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


@friendly
def facts(inventory: str | None, selection: str | None) -> int:
    """Each host's facts as JSON, secrets masked (``redact_data``: AppEnvironmentExtra shows
    ``NAME=***``); a host that cannot be probed is one line on stderr (exit 2)."""
    from compliance import desired
    from winhost.open import open_connection
    from winhost.probe import gather_facts

    out = {}
    code = EXIT_OK
    for host in _hosts(inventory, selection):
        try:
            with _closing(open_connection(host)) as conn:
                found = gather_facts(conn, desired.probe_spec(host))
            out[host.name] = found.model_dump(mode="json")
        except Exception as exc:  # the per-host boundary
            if debugging():
                logging.getLogger("winhost").debug("%s", host.name, exc_info=True)
            _say(f"{host.name}: could not be checked: "
                 f"{_runnable_problem(exc, host.name, inventory)}")
            code = EXIT_UNCHECKED
    print(json.dumps(redact_data(out), indent=2))
    return code


@friendly
def doctor(inventory: str | None, selection: str | None) -> int:
    """Each host's connection layer by layer, one line each with a fix (exit 1 if one fails)."""
    from winhost.doctor import FAIL, diagnose

    code = EXIT_OK
    for host in _hosts(inventory, selection):
        console.print(f"{host.name} ({host.connection.endpoint}, {host.connection.transport})",
                      markup=False)
        for layer in diagnose(host):
            console.print("  " + redact(layer.line()), markup=False, soft_wrap=True)
            if layer.status == FAIL:
                code = EXIT_FAILED
    return code


def check(inventory: str | None, selection: str | None, pytest_args: str = "") -> int:
    """``pytest checks``; its exit code as is (0 pass, 1 failed, 4 usage error, 130 Ctrl-C).
    Run from the caller's folder (a relative ``--inventory`` means what the user typed), with
    tacfleet's options as a plugin, so an installed tool (no checkout, no root conftest.py)
    runs the same checks; there, pytest's cache would be written into the installed package,
    so it is off."""
    args = [sys.executable, "-m", "pytest", "-p", "checks.options", str(ROOT / "checks")]
    if not in_checkout():
        args += ["-p", "no:cacheprovider"]
    if inventory:
        args += ["--inventory", inventory]
    if selection:
        args += ["--host", selection]
    try:
        return subprocess.call([*args, *shlex.split(pytest_args)])
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


#: Hosts `invoke drift` checks at once: bench/fleet_check.py, 1,000 simulated hosts at 50 ms
#: (2 CPUs): 8 workers 57.7 s, 32 workers 23.7 s, 64 workers 19.2 s (the controller's CPU floor).
DRIFT_PARALLEL = 64


@friendly
def drift(
    inventory: str | None,
    selection: str | None,
    *,
    reports: str = "reports",
    remediate: bool = False,
    parallel: int = DRIFT_PARALLEL,
    shard: str | None = None,
    deadline: float | None = None,
    processes: int | None = None,
    notify: list[str] | None = None,
    notify_format: str | None = None,
    metrics: str | None = None,
) -> int:
    """Check the fleet and always write the report; a first Ctrl-C stops starting hosts."""
    from compliance.audit import audit_fleet
    from compliance.drift import build_report, ready_reports
    from compliance.notify import parse_target
    from fleet.progress import CheckProgress
    from fleet.select import shard as shard_hosts

    targets = [parse_target(t, notify_format) for t in notify or []]  # bad ones: before any work
    path = resolve_inventory_path(inventory)
    hosts = shard_hosts(_hosts(inventory, selection), shard)
    ready_reports(Path(reports))
    started = time.time()
    live = console.is_terminal and len(hosts) > 1
    processes = processes or os.cpu_count() or 1  # None/0: one worker process per CPU
    with graceful_interrupt(_say) as stop:
        with CheckProgress(console, len(hosts)) if live else nullcontext() as shown:
            audits = audit_fleet(hosts, parallel=parallel, on_done=shown, deadline=deadline,
                                 processes=processes)
        addresses = {h.name: h.connection.address for h in hosts if h.connection.address}
        report = build_report(audits, str(path), started, addresses)
        if remediate and not stop.is_set():
            drifted = [h for h, e in report.hosts.items() if e.status == "drift"]
            if drifted:
                console.print(f"remediating: {', '.join(drifted)}", markup=False)
                chosen = [h for h in hosts if h.name in drifted]
                runs: list[HostRun] = []
                code = _provision(chosen, ProvisionOptions(parallel=parallel), collect=runs,
                                  inventory=path)
                audits = audit_fleet(hosts, parallel=parallel, deadline=deadline,
                                     processes=processes)
                report = build_report(audits, str(path), started, addresses).model_copy(
                    update={"remediated": remediation(drifted, code, runs)})
        report = report.model_copy(update={"shard": shard or None,
                                           "interrupted": stop.is_set() or None})
        code = _publish(report, Path(reports), targets=targets, metrics=metrics)
        if stop.is_set():
            _say("interrupted: hosts not started are reported as not checked")
            return EXIT_INTERRUPTED
    return code


@friendly
def schedule(inventory: str | None, reports: str = "reports", at: str = "02:30",
             name: str = "tacfleet-drift", show: bool = False) -> int:
    """Register the nightly drift run with Task Scheduler (Windows), or print the crontab line;
    ``show``: print the task's XML instead of registering it."""
    import tempfile

    from compliance.nightly_task import nightly_run, parse_name
    from inventory.private_files import current_user_sid
    from winhost.cmdline import local_system32

    path = resolve_inventory_path(inventory)
    load_inventory(path)  # a bad inventory is said now, not at night
    run = nightly_run(path, Path(reports), at, ROOT if in_checkout() else Path.cwd())
    task = parse_name(name)
    if sys.platform != "win32":
        console.print("schedule: add this line with `crontab -e` (tacfleet leaves crontabs to "
                      "you):", markup=False)
        console.print(run.cron_line(), markup=False, soft_wrap=True)
        return 0
    xml = run.task_xml(current_user_sid())
    if show:
        console.print(xml, markup=False, soft_wrap=True)
        return 0
    schtasks = local_system32("schtasks.exe")
    with tempfile.TemporaryDirectory(prefix="tacfleet-task-") as folder:
        file = Path(folder) / "task.xml"
        file.write_text(xml, encoding="utf-16")  # with its BOM, as the XML declares
        done = subprocess.run([schtasks, "/Create", "/TN", task, "/XML", str(file), "/F"],
                              capture_output=True)
    if done.returncode:
        said = (done.stderr or done.stdout).decode("oem", errors="replace").strip()
        err_console.print(f"schedule: {schtasks} /Create /TN {task} failed (exit "
                          f"{done.returncode}): {said[-300:]}; fix: run as a user who may "
                          "create tasks (an administrator on a server)", markup=False)
        return 1
    console.print(f"scheduled: task {task!r} runs drift of {run.inventory} into {run.reports} "
                  f"daily at {run.at} as this user (S4U: no password stored); "
                  f"`{schtasks} /Query /TN {task} /XML` shows it", markup=False)
    return 0


def remediation(drifted: list[str], code: int, runs: list[HostRun]) -> Remediation:
    """What ``--remediate`` did, for the report: per host the steps that changed or failed."""
    from compliance.display import plain_cause
    from compliance.drift import RemediatedStep, Remediation
    from provision.model import Status

    steps: dict[str, list[RemediatedStep]] = {}
    errors: dict[str, str] = {}
    for run in runs:
        if run.error:
            errors[run.host] = plain_cause(redact(run.error))
        steps[run.host] = [
            RemediatedStep(title=s.label, status=str(s.status),
                           reasons=[redact(r) for r in s.reasons])
            for s in run.steps if s.status in (Status.CHANGED, Status.FAILED)
        ]
    failed = sorted(r.host for r in runs if r.failed)
    return Remediation(hosts=drifted, provision_exit=code, steps=steps, errors=errors,
                       failed=failed)


def _publish(report: DriftReport, folder: Path, *, targets: list[Target] | None = None,
             metrics: str | None = None) -> int:
    """Compare with the previous run in ``folder``, save, print, alert, export; the exit code.

    Writing metrics and sending alerts are best effort: a failure is one line, and the exit
    code stays the drift's.
    """
    from compliance.drift import compare, load_latest, save_report, with_history
    from compliance.render import drift_html, print_drift
    from fleet.runlog import active

    previous = load_latest(folder)
    changes = compare(previous, report)
    log = active()
    report = with_history(previous, report).model_copy(update={
        "changes": changes, "run_log": str(log.path.resolve()) if log else None})
    saved = save_report(folder, report, drift_html(report, changes, folder))
    print_drift(console, report, changes)
    console.print(f"reports: {saved / 'drift.json'}, {saved / 'drift.html'}", markup=False)
    if metrics:
        from compliance.metrics import write_metrics

        try:
            console.print(f"metrics: {write_metrics(metrics, report)}", markup=False)
        except OSError as exc:
            _say(f"metrics {metrics}: not written: {exc.strerror or exc}; fix: a writable path "
                 "(the node_exporter textfile folder)")
    if targets and report.interrupted:
        _say("notify: not sent: the run was interrupted (hosts not checked are not news)")
    elif targets:
        from compliance.notify import notify

        for outcome in notify(targets, report, folder, str((saved / "drift.html").resolve())):
            (_say if outcome.problem else console.print)(redact(outcome.line()))
    return report.exit_code()


@friendly
def drift_merge(sources: list[str], reports: str = "reports", *,
                notify: list[str] | None = None, notify_format: str | None = None,
                metrics: str | None = None) -> int:
    """Join the latest reports of several shards into one run in ``reports``."""
    from compliance.drift import load_latest, merge_reports, ready_reports
    from compliance.notify import parse_target

    targets = [parse_target(t, notify_format) for t in notify or []]
    ready_reports(Path(reports))

    loaded = []
    for source in sources:
        report = load_latest(Path(source))
        if report is None:
            err_console.print(f"{source}: no drift report found (expected {source}/latest.json "
                              "from `invoke drift --reports ...`)", markup=False)
            return 2
        loaded.append(report)
    return _publish(merge_reports(loaded), Path(reports), targets=targets, metrics=metrics)


@friendly
def sandbox_up(name: str, port: int, locale: str | None = None, *, realm: bool = False,
               offline: bool = False) -> int:
    from sandbox.control import up

    info = up(name, port, locale=locale, realm=realm, offline=offline)
    console.print(
        f"sandbox {name!r} up{' (offline)' if offline else ''}: {info['endpoint']} (user "
        f"{info['user']}, password in {info['password_file']})",
        markup=False,
    )
    if "kerberos" in info:
        krb = info["kerberos"]
        user = krb["principals"][info["user"]]
        console.print(
            f"realm {krb['realm']}: KDC {krb['kdc']}, service {krb['service']}; "
            f"export KRB5_CONFIG={krb['krb5_conf']}; user {user['principal']} "
            f"(password in {user['password_file']}, keytab {user['keytab']})",
            markup=False,
        )
    return 0


@friendly
def sandbox_down(name: str) -> int:
    from sandbox.control import down

    down(name, must_exist=True)  # a typo'd name is refused, naming the sandboxes there are
    console.print(f"sandbox {name!r} stopped", markup=False)
    return 0


@friendly
def sandbox_reset(name: str) -> int:
    from sandbox.control import reset

    reset(name)
    console.print(f"sandbox {name!r} reset to the bare image", markup=False)
    return 0


@friendly
def sandbox_status(name: str, *, as_json: bool = False) -> int:
    from sandbox.control import status

    info = status(name)
    if as_json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            console.print(f"{key:>16}: {value}", markup=False)
    return 0 if info.get("running") else 1


@friendly
def sandbox_fault(name: str, *, clear: bool = False, disk_full_kb: int = -1,
                  disk_path: str = "", **values: object) -> int:
    from sandbox.control import fault_switch, limit_disk, unlimit_disk

    faults = fault_switch(name)
    faults.current()
    if clear:
        faults.clear()
        unlimit_disk(name)
    if values:
        faults.update(**values)
    if disk_full_kb >= 0:
        if not disk_path:
            raise ValueError("--disk-full-kb needs --disk-path: the host folder to fill, e.g. "
                             "--disk-path C:\\ProgramData\\tacfleet")
        folder = limit_disk(name, disk_path, disk_full_kb)
        console.print(f"sandbox {name!r}: {disk_path} has {disk_full_kb} KiB ({folder})",
                      markup=False)
    console.print(f"sandbox {name!r} faults: {faults.settings}", markup=False)
    return 0


@friendly
def sandbox_record(name: str = "rec", port: int = 57985) -> int:
    """Refresh the simulated fleet's transcript from a freshly provisioned sandbox host."""
    import tempfile

    from sandbox import control
    from sandbox.fleet.record import record

    base = ROOT / "sandbox" / "fleet" / "transcripts"
    control.down(name)
    control.reset(name)
    info = control.up(name, port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inventory = control.write_inventory(info, Path(tmp) / "rec.yml",
                                                template=base / "compliant.inventory.yml")
            code = provision(str(inventory), "sandbox")
            if code != 0:
                return code
            record(inventory, "sandbox", base / "compliant.json", stock_checks=True)
    finally:
        control.down(name)
    console.print(f"recorded {base / 'compliant.json'}", markup=False)
    return 0


def demo_name() -> str:
    """The demo's own sandbox: ``demo-<user>``, so two people on one machine never share one."""
    import getpass
    import re

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = "user"
        if sys.platform != "win32":
            user = str(os.getuid())
    return "demo-" + (re.sub(r"[^A-Za-z0-9_-]", "-", user)[:26] or "user")


def demo_inventory(name: str) -> Path:
    """The demo host's inventory, kept in its sandbox folder: written the first time, with an
    app port of its own (two demos on one machine must not both listen on 58080), then reused
    with the endpoint's current port."""
    import yaml

    from sandbox import control, layout

    info = control.status(name)
    if not info["running"]:
        port = 55985 if name == "default" else control.free_port_pair()
        info = control.up(name, port)
    dest = layout.Paths(name).root / "inventory.yml"
    app_port = None
    if dest.exists():
        app_port = yaml.safe_load(dest.read_text(encoding="utf-8"))["hosts"]["sandbox"]["app"][
            "port"]
    elif name != "default":
        app_port = control.free_port_pair()
    return control.write_inventory(info, dest, app_port=app_port)


def demo(name: str | None = None) -> int:
    """Sandbox ``name`` up, provision it, run the compliance suite, print a short report."""
    name = name or demo_name()
    inventory: list[str] = []

    def start() -> int:
        inventory.append(str(demo_inventory(name)))
        console.print(f"sandbox {name!r}: inventory {inventory[0]}", markup=False)
        return 0

    steps: list[tuple[str, Callable[[], int]]] = [
        (f"start the sandbox Windows host {name!r}", friendly(start)),
        ("provision it", lambda: provision(inventory[0], "sandbox")),
        ("run the compliance checks", lambda: check(inventory[0], "sandbox", "-q")),
        ("drift report", lambda: drift(inventory[0], "sandbox")),
    ]
    for title, action in steps:
        console.rule(title)
        code = action()
        if code != 0:
            err_console.print(f"demo stopped at '{title}' (exit {code})", markup=False)
            return code
    console.print(
        f"demo done: the sandbox host {name!r} is provisioned and compliant. "
        f"`invoke sandbox.down --name {name}` stops it.",
        markup=False,
    )
    return 0


def mypy_runs() -> list[tuple[str, list[str]]]:
    """The three type checks (see ``[tool.mypy]`` in pyproject.toml): the controller; the
    controller as Windows sees it (``sys.platform == "win32"`` branches: ACLs, code pages,
    Ctrl-Break; the Linux-only sandbox it imports is not judged); the code that runs on the
    hosts (and their stand-ins) as win32 with Python 3.10."""
    host_side = sorted(str(p.relative_to(ROOT)) for p in
                       (ROOT / "sandbox/standin/tacfleet_standins").glob("*.py"))
    host_side += ["sandbox/host/agent.py", "winhost/probe/script.py",
                  "provision/hostlock_script.py", "provision/health_gate_script.py"]
    controller = ["inventory", "winhost", "fleet", "compliance", "provision", "checks",
                  "tacfleet_cli.py", "tacfleet_tasks.py", "tasks.py"]
    mypy = [sys.executable, "-m", "mypy"]
    return [
        ("mypy (controller)", mypy),
        ("mypy (Windows controller)", [*mypy, "--platform", "win32", "--follow-imports=silent",
                                       *controller]),
        ("mypy (host side)", [*mypy, "--platform", "win32", "--python-version", "3.10",
                              "--check-untyped-defs", *host_side]),
    ]


#: xdist workers for the tests without the Wine sandbox: they wait more than they compute
#: (user CPU 37 s of 89 s run one after another), so more workers than CPUs.
XDIST_WORKERS = 4


#: Sandbox modules that a second pytest process runs beside the first, on session hosts of its
#: own: one Wine stream leaves the CPUs 42 % idle (vmstat during test_provision_e2e). None of
#: them needs what the first process's modules provisioned: each provisions, resets or uses a
#: host of its own (``tests/integration/conftest.py`` orders both processes' modules).
SECOND_SANDBOX_STREAM = ("test_offline.py", "test_sandbox_host.py", "test_windows_fidelity.py",
                         "test_releases.py", "test_python_installer.py",
                         "test_production_safety.py")

Run = tuple[str, list[str]]


def suite_runs(*, quick: bool = False) -> list[list[Run]]:
    """The pytest runs of ``invoke test``, as stages of runs that go side by side: ``quick``,
    the unit tests; else the tests without the Wine sandbox (unit and loopback integration
    tests, over :data:`XDIST_WORKERS` processes), then the sandbox tests in two processes
    (:data:`SECOND_SANDBOX_STREAM`), each in file order on its own sandbox hosts."""
    pytest = [sys.executable, "-m", "pytest", "--durations=20"]  # where the time goes
    workers = ["-n", str(XDIST_WORKERS)]
    if quick:
        return [[("pytest (unit)", [*pytest, "tests/unit", *workers])]]
    second = [f"tests/integration/{name}" for name in SECOND_SANDBOX_STREAM]
    return [[("pytest (no sandbox)", [*pytest, "tests", "-m", "not sandbox", *workers])],
            [("pytest (sandbox)", [*pytest, "tests", "-m", "sandbox",
                                   *(f"--ignore={path}" for path in second)]),
             ("pytest (sandbox, second stream)", [*pytest, "-m", "sandbox", *second])]]


def run_side_by_side(runs: list[Run], env: dict[str, str]) -> list[tuple[str, int]]:
    """Run ``runs`` at once; the first prints as it goes, the others' output follows when all
    are done (a file each, so two pytest progress lines never interleave). Their exit codes."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tacfleet-test-") as folder:
        logs = [Path(folder) / f"run-{n}.log" for n in range(len(runs))]
        procs = []
        for (title, argv), log in zip(runs[1:], logs[1:], strict=True):
            console.print(f"{title}: started beside it, output follows at its end", markup=False)
            with log.open("wb") as out:
                procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out,
                                              stderr=subprocess.STDOUT))
        console.rule(runs[0][0])
        codes = [subprocess.call(runs[0][1], cwd=ROOT, env=env)]
        for (title, _), proc, log in zip(runs[1:], procs, logs[1:], strict=True):
            codes.append(proc.wait())
            console.rule(title)
            sys.stdout.write(log.read_text(encoding="utf-8", errors="replace"))
            sys.stdout.flush()
    return [(title, code) for (title, _), code in zip(runs, codes, strict=True)]


def in_checkout() -> bool:
    """Does tacfleet run from a checkout (tests, pyproject.toml), not as an installed tool?"""
    return (ROOT / "pyproject.toml").is_file() and (ROOT / "tests").is_dir()


def run_tests(*, quick: bool = False) -> int:
    """ruff, the docs (mkdocs), mypy, then pytest; stops at the first step that fails and
    names it."""
    if not in_checkout():
        err_console.print(f"test: the test suite is in a checkout of tacfleet, not in "
                          f"the installed tool ({ROOT}); clone the repository and run `bash "
                          "bootstrap.sh test` there", markup=False)
        return EXIT_USAGE
    stages = [[("ruff", [sys.executable, "-m", "ruff", "check", "."])],
              [("mkdocs", [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"])],
              *([run] for run in mypy_runs()), *suite_runs(quick=quick)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for stage in stages:
        failed = [(title, code) for title, code in run_side_by_side(stage, env) if code]
        for title, code in failed:
            err_console.print(f"invoke test: {title} failed (exit {code})", markup=False)
        if failed:
            return failed[0][1]
    return 0
