"""tacfleet's command line (Invoke). Thin: each task calls the library and formats its result.
``invoke`` in a checkout finds them through ``tasks.py``; the installed tool's ``tacfleet``
command (``main``) is the same program with the same tasks and exit codes.

invoke --list                 every task (tacfleet --list)
invoke provision --host NAME  bring hosts to their inventory entry
invoke plan --host NAME       what provision would do, changing nothing
invoke drift                  nightly compliance run with reports and history
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import invoke
from invoke import Argument, Collection, Context, Task

import tacfleet_cli as cli
from fleet.console_code_page import use_console_code_page
from provision.options import DEFAULTS, ProvisionOptions

#: The only short flags, each meaning one option in every task that has it. Invoke would invent
#: one per option and task (``-p`` was --parallel, --port, --purge or --pytest-args). ``-h`` is
#: help on every task (as in pytest, Ansible and most tools), so ``--host`` is ``-H``.
SHORT_FLAGS = {"host": "H", "inventory": "i", "debug": "d", "name": "n", "log": "l"}

#: What a number option takes: its type, least value and an example. A value Invoke cannot read
#: as one is one line and exit 2 (:class:`_Checked`), never Invoke's ValueError traceback.
NUMBERS: dict[str, tuple[type, float | None, str]] = {
    "parallel": (int, 1, "8"), "canary": (int, 0, "1"), "processes": (int, 0, "4"),
    "deadline": (float, 0, "30 or 1.5"), "port": (int, 1, "55985"),
}


def _bad_value(task: str, flag: str, value: str, expected: str, example: str) -> invoke.Exit:
    return invoke.Exit(f"{task}: {flag} {value!r}: expected {expected}; fix: e.g. "
                       f"{flag} {example} (invoke {task} -h lists the options)", code=2)


class _Checked(Argument):
    """A task's option whose value is read by tacfleet's rules (:data:`NUMBERS`): a bad value
    ends the run with one line naming the option, the value and what it takes (exit 2)."""

    task = ""

    def __repr__(self) -> str:  # how Invoke's parse errors name it ("Flag --host needed value")
        return f"--{(self.name or '').replace('_', '-')}"

    def set_value(self, value: Any, cast: bool = True) -> None:
        if not cast or self.kind not in (int, float):
            super().set_value(value, cast)
            return
        flag = f"--{(self.name or '').replace('_', '-')}"
        kind, least, example = NUMBERS.get(self.name or "", (self.kind, None, "1"))
        expected = "a whole number" if kind is int else "a number of seconds"
        if least is not None:
            expected += f" of {least:g} or more"
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise _bad_value(self.task, flag, str(value), expected, example) from None
        if (least is not None and number < least) or number != number:  # NaN is no number
            raise _bad_value(self.task, flag, str(value), expected, example)
        super().set_value(number, cast=False)


class _Task(Task[Callable[..., Any]]):
    """A task whose short flags come from ``SHORT_FLAGS`` alone (``auto_shortflags`` is off)
    and whose number options are read by :class:`_Checked`."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        arguments: list[Argument] = []
        for given in super().get_arguments(ignore_unknown_help):
            argument = _Checked(names=given.names, kind=given.kind, default=given.default,
                                help=given.help, positional=given.positional,
                                optional=given.optional, incrementable=given.incrementable,
                                attr_name=given.attr_name)
            argument.task = self.name.replace("_", "-")
            short = SHORT_FLAGS.get(argument.name or "")
            if short:
                argument.names = (*argument.names, short)
            arguments.append(argument)
        return arguments


use_console_code_page()  # the program's entry (invoke and tacfleet): before anything prints
task = functools.partial(invoke.task, klass=_Task, auto_shortflags=False)

INVENTORY_HELP = "inventory file (default: $TACFLEET_INVENTORY or inventory/hosts.yml)"
HOST_HELP = ("hosts: a comma list of host names, group names, globs on host names (web*, "
             "web0?) or all; !name, !group or !glob removes hosts (web,!web03); "
             "case-insensitive (default: every host in the inventory)")
DEBUG_HELP = "show the traceback of an unexpected error and tacfleet's debug log"
NOTIFY_HELP = ("alert on new drift, fixed drift or unreachable hosts (repeatable): a webhook URL "
               "(Slack and Teams payloads picked by its host), env:NAME holding one (use this "
               "for Slack/Teams URLs: they are secrets), or smtp://host:port?to=a@b")
NOTIFY_FORMAT_HELP = "webhook payload: json, slack or teams (default: by the URL's host)"


def log_help(default: str) -> str:
    return ("run log file: what the terminal shows and every command sent, secrets hidden "
            f"(default {default}-<UTC time>.log; - for none)")


METRICS_HELP = ("write Prometheus metrics to this file (node_exporter textfile collector, "
                "e.g. /var/lib/node_exporter/tacfleet.prom)")


@task(help={"inventory": INVENTORY_HELP, "debug": DEBUG_HELP})
def validate(c: Context, inventory: str | None = None, debug: bool = False) -> None:
    """Check an inventory file; list every problem at once (exit 2 if any)."""
    cli.set_debug(debug)
    sys.exit(cli.validate(inventory))


@task(help={"output": "write it to this file (default: standard output)",
            "markdown": "the inventory reference page (docs/reference/inventory.md) instead"})
def schema(c: Context, output: str | None = None, markdown: bool = False) -> None:
    """The inventory's JSON Schema, for editor completion."""
    sys.exit(cli.inventory_schema(output, markdown=markdown))


@task(help={"host": HOST_HELP, "inventory": INVENTORY_HELP, **ProvisionOptions.flag_help(),
            "debug": DEBUG_HELP, "log": log_help("reports/provision")})
def provision(  # the flags of ProvisionOptions (help, defaults: there), as Invoke reads them
    c: Context,
    host: str | None = None,
    inventory: str | None = None,
    check: bool = DEFAULTS.check,
    dry_run: bool = False,
    verbose: bool = DEFAULTS.verbose,
    diff: bool = DEFAULTS.diff,
    detailed_exitcode: bool = DEFAULTS.detailed_exitcode,
    json: bool = DEFAULTS.as_json,
    force_recreate: bool = DEFAULTS.force_recreate,
    adopt: bool = DEFAULTS.adopt,
    parallel: int = DEFAULTS.parallel,
    batch: str | None = DEFAULTS.batch,
    max_fail: str = DEFAULTS.max_fail,
    canary: int = DEFAULTS.canary,
    rollback_on_stop: bool = DEFAULTS.rollback_on_stop,
    shard: str | None = DEFAULTS.shard,
    debug: bool = False,
    log: str | None = None,
) -> None:
    """Bring hosts to the state their inventory entry describes, step by step."""
    cli.set_debug(debug)
    options = ProvisionOptions.from_flags(locals())
    sys.exit(cli.logged("provision", log, cli.provision, inventory, host, options))


@task(help={"host": HOST_HELP, "inventory": INVENTORY_HELP, "json": "machine-readable output",
            **{k: v for k, v in ProvisionOptions.flag_help().items()
               if k in ("verbose", "diff", "detailed_exitcode")},
            "debug": DEBUG_HELP})
def plan(c: Context, host: str | None = None, inventory: str | None = None, json: bool = False,
         verbose: bool = False, diff: bool = False, detailed_exitcode: bool = False,
         debug: bool = False) -> None:
    """Show what provision would do, step by step; change nothing."""
    cli.set_debug(debug)
    sys.exit(cli.provision(inventory, host, ProvisionOptions(
        check=True, verbose=verbose, as_json=json, diff=diff,
        detailed_exitcode=detailed_exitcode)))


@task(
    help={
        "host": HOST_HELP,
        "inventory": INVENTORY_HELP,
        "purge": "also delete the virtualenv",
        "debug": DEBUG_HELP,
        "log": log_help("reports/deprovision"),
    }
)
def deprovision(
    c: Context, host: str | None = None, inventory: str | None = None, purge: bool = False,
    debug: bool = False, log: str | None = None,
) -> None:
    """Stop and remove the service (and with --purge the venv); safe to repeat."""
    cli.set_debug(debug)
    sys.exit(cli.logged("deprovision", log, cli.deprovision, inventory, host, purge=purge))


@task(
    help={
        "host": HOST_HELP,
        "inventory": INVENTORY_HELP,
        "to": "the release to go back to: a version (1.2.0) or a release folder's name "
              "(1.2.0-0123abcd); default: the one the running release replaced",
        "debug": DEBUG_HELP,
        "log": log_help("reports/rollback"),
    }
)
def rollback(
    c: Context, host: str | None = None, inventory: str | None = None, to: str | None = None,
    debug: bool = False, log: str | None = None,
) -> None:
    """Put services with app.releases back on an earlier release.

    Switch, restart, health gate; the host lock is taken as for a provision."""
    cli.set_debug(debug)
    sys.exit(cli.logged("rollback", log, cli.rollback, inventory, host, to=to))


@task(help={"host": HOST_HELP + " (default: every offline host)", "inventory": INVENTORY_HELP,
            "dest": "build into this folder for every selected host (e.g. on a machine with "
                    "internet access, to carry to the controller)",
            "find_links": "also take wheels from these folders (comma list)",
            "no_index": "use no package index: only --find-links and python.ship_wheels",
            "debug": DEBUG_HELP})
def bundle(c: Context, host: str | None = None, inventory: str | None = None,
           dest: str | None = None, find_links: str = "", no_index: bool = False,
           debug: bool = False) -> None:
    """Fetch what offline hosts install into python.bundle, with a lock.

    Windows x64 wheels for their Python, the installer, nssm.
    Exit 0; 1 a download failed; 2 bad input."""
    cli.set_debug(debug)
    sys.exit(cli.bundle(inventory, host, dest=dest, no_index=no_index,
                        find_links=[f for f in find_links.split(",") if f]))


@task(help={"host": HOST_HELP, "inventory": INVENTORY_HELP, "debug": DEBUG_HELP})
def doctor(c: Context, host: str | None = None, inventory: str | None = None,
           debug: bool = False) -> None:
    """Why a host does not connect: each layer in one line with a fix.

    DNS, TCP, TLS, listener, Kerberos, authentication, command, quotas, Python.
    Exit 0 when all pass, 1 when one fails."""
    cli.set_debug(debug)
    sys.exit(cli.doctor(inventory, host))


@task(help={"host": HOST_HELP, "inventory": INVENTORY_HELP, "debug": DEBUG_HELP})
def facts(c: Context, host: str | None = None, inventory: str | None = None,
          debug: bool = False) -> None:
    """Print what one probe sees on each host, as JSON.

    Exit 2 if a host could not be probed."""
    cli.set_debug(debug)
    sys.exit(cli.facts(inventory, host))


@task(
    help={
        "host": HOST_HELP,
        "inventory": INVENTORY_HELP,
        "pytest_args": 'extra pytest arguments, e.g. "-m service --junitxml=out.xml"',
        "debug": DEBUG_HELP,
    }
)
def check(
    c: Context, host: str | None = None, inventory: str | None = None, pytest_args: str = "",
    debug: bool = False,
) -> None:
    """Run the compliance suite (`pytest checks`) against hosts.

    pytest's exit codes: 0 compliant, 1 a check failed, 4 bad input."""
    cli.set_debug(debug)
    sys.exit(cli.check(inventory, host, pytest_args))


@task(
    help={
        "host": HOST_HELP,
        "inventory": INVENTORY_HELP,
        "reports": "folder for reports and history (default reports/)",
        "remediate": "provision the drifted hosts, then check again",
        "parallel": f"hosts to check at once (default {cli.DRIFT_PARALLEL})",
        "shard": "only shard i of n of the selected hosts (e.g. 2/4); join with drift.merge",
        "deadline": "seconds a host gets for its whole check (default: the inventory's "
                    "connection.check_deadline, 45)",
        "processes": "worker processes for a large fleet (default: one per CPU; 1 = this one)",
        "notify": NOTIFY_HELP,
        "notify_format": NOTIFY_FORMAT_HELP,
        "metrics": METRICS_HELP,
        "debug": DEBUG_HELP,
        "log": log_help("<reports folder>/drift"),
    },
    iterable=["notify"],
)
def drift(  # argument order = short flags: -h -i -d as in the other tasks
    c: Context,
    host: str | None = None,
    inventory: str | None = None,
    debug: bool = False,
    reports: str = "reports",
    remediate: bool = False,
    parallel: int = cli.DRIFT_PARALLEL,
    shard: str | None = None,
    deadline: int = 0,  # seconds, read as a float (_Checked); int for Invoke's help
    notify: list[str] | None = None,
    notify_format: str | None = None,
    metrics: str | None = None,
    log: str | None = None,
    processes: int = 0,
) -> None:
    """Check the fleet, write JSON+HTML reports, say what changed (exit 0/1/2)."""
    cli.set_debug(debug)
    sys.exit(cli.logged("drift", log, cli.drift, inventory, host, folder=reports,
                       reports=reports, remediate=remediate,
                       parallel=parallel, shard=shard, deadline=deadline or None,
                       notify=notify, notify_format=notify_format, metrics=metrics,
                       processes=processes or None))


@task(help={"inventory": INVENTORY_HELP,
            "reports": "the nightly run's reports folder (default reports)",
            "at": "time of day, HH:MM 24 h (default 02:30)",
            "name": "the scheduled task's name (default tacfleet-drift)",
            "show": "print the task's XML, register nothing (Windows)"})
def schedule(c: Context, inventory: str | None = None, reports: str = "reports",
             at: str = "02:30", name: str = "tacfleet-drift", show: bool = False) -> None:
    """Schedule the nightly drift: a scheduled task (Windows) or a crontab line."""
    sys.exit(cli.schedule(inventory, reports, at, name, show))


@task(help={"sources": "comma list of the shards' report folders",
            "reports": "folder of the merged run (default reports)",
            "notify": NOTIFY_HELP, "notify_format": NOTIFY_FORMAT_HELP,
            "metrics": METRICS_HELP},
      iterable=["notify"])
def drift_merge(c: Context, sources: str = "", reports: str = "reports",
                notify: list[str] | None = None, notify_format: str | None = None,
                metrics: str | None = None) -> None:
    """Join the shards' latest drift reports into one run (exit 0/1/2)."""
    if not sources.strip():  # a flag, not a positional: one would eat -h as a folder
        sys.exit(cli.usage("drift.merge: --sources is missing; fix: --sources DIR1,DIR2 (the "
                           "shards' --reports folders)"))
    sys.exit(cli.drift_merge([s for s in sources.split(",") if s.strip()], reports=reports,
                             notify=notify, notify_format=notify_format, metrics=metrics))


@task(help={"name": "sandbox name (default 'default')", "port": "WinRM HTTP port (HTTPS = +1)",
            "locale": "the host's language as a Linux locale, e.g. de_DE (default: English)",
            "realm": "also run a Kerberos KDC (MIT) for the host; the endpoint accepts Kerberos",
            "offline": "an air-gapped host: its programs reach nothing but its own loopback "
                       "(a network namespace; root)"})
def sandbox_up(c: Context, name: str = "default", port: int = 55985, locale: str = "",
               realm: bool = False, offline: bool = False) -> None:
    """Start the sandbox Windows host (Wine) and its WinRM endpoint on 127.0.0.1."""
    sys.exit(cli.sandbox_up(name, port, locale or None, realm=realm, offline=offline))


@task(help={"name": "sandbox name"})
def sandbox_down(c: Context, name: str = "default") -> None:
    """Stop the sandbox host and its endpoint; leaves no Wine process behind."""
    sys.exit(cli.sandbox_down(name))


@task(help={"name": "sandbox name"})
def sandbox_reset(c: Context, name: str = "default") -> None:
    """Put the sandbox host back to the bare image (seconds)."""
    sys.exit(cli.sandbox_reset(name))


@task(help={"name": "sandbox name", "json": "print JSON (endpoint, user, password_file, ...)"})
def sandbox_status(c: Context, name: str = "default", json: bool = False) -> None:
    """Is the sandbox up, where is its endpoint, and what has it served."""
    sys.exit(cli.sandbox_status(name, as_json=json))


@task(help={
    "name": "sandbox name",
    "latency_ms": "add this many ms before every answer",
    "http_500": "answer the next N requests with HTTP 500 (a WSMan fault)",
    "drop_after": "drop the TCP connection after N more requests",
    "hang": "a command line containing this text never finishes until signalled",
    "drop_on": "the next command line containing this text runs, then the connection drops",
    "corrupt_send": "flip one byte in each of the next N WinRS Sends (data damaged on the way)",
    "timeout_on": "answer the next N requests of an operation with Windows' operation-timeout "
                  "fault (w:TimedOut), e.g. create=1,command=1",
    "disk_full_kb": "give --disk-path only this many KiB of space (a full disk; root)",
    "disk_path": "the host folder --disk-full-kb limits, e.g. C:\\ProgramData\\tacfleet",
    "clear": "switch every fault off, lift disk limits",
})
def sandbox_fault(c: Context, name: str = "default", latency_ms: int = -1, http_500: int = -1,
                  drop_after: int = -2, hang: str | None = None, drop_on: str | None = None,
                  corrupt_send: int = -1, disk_full_kb: int = -1, disk_path: str = "",
                  timeout_on: str | None = None, clear: bool = False) -> None:
    """Switch fault injection on a running sandbox host (for reliability tests)."""
    values: dict[str, object] = {"latency_ms": latency_ms, "http_500": http_500,
                                 "drop_after": drop_after, "hang": hang, "drop_on": drop_on,
                                 "corrupt_send": corrupt_send, "timeout_on": timeout_on}
    chosen = {k: v for k, v in values.items() if v not in (-1, -2, None)}
    sys.exit(cli.sandbox_fault(name, clear=clear, disk_full_kb=disk_full_kb,
                               disk_path=disk_path, **chosen))


@task(help={"name": "sandbox name to record on (reset first, stopped after)",
            "port": "its WinRM HTTP port (must match the transcript's inventory)"})
def sandbox_record(c: Context, name: str = "rec", port: int = 57985) -> None:
    """Provision a fresh sandbox host; re-record the simulated fleet's transcript."""
    sys.exit(cli.sandbox_record(name, port))


@task(help={"name": "sandbox name (default demo-<your user name>, so people sharing a "
                    "machine each get their own host)"})
def demo(c: Context, name: str = "") -> None:
    """The main job end to end on the sandbox: up, provision, check, report."""
    sys.exit(cli.demo(name or None))


@task(help={"quick": "only the unit tests (under a minute)"})
def test(c: Context, quick: bool = False) -> None:
    """Lint (ruff), type-check (mypy), then run the test suite."""
    sys.exit(cli.run_tests(quick=quick))


drift_ns = Collection("drift")
drift_ns.add_task(drift, "run", default=True)
drift_ns.add_task(drift_merge, "merge")
inventory_ns = Collection("inventory")
inventory_ns.add_task(validate)
inventory_ns.add_task(schema)
sandbox_ns = Collection("sandbox")
sandbox_ns.add_task(sandbox_up, "up")
sandbox_ns.add_task(sandbox_down, "down")
sandbox_ns.add_task(sandbox_reset, "reset")
sandbox_ns.add_task(sandbox_status, "status")
sandbox_ns.add_task(sandbox_fault, "fault")
sandbox_ns.add_task(sandbox_record, "record")

ns = Collection(provision, plan, rollback, deprovision, bundle, facts, doctor, check, schedule,
                demo, test)
ns.add_collection(drift_ns)
ns.add_collection(inventory_ns)
ns.add_collection(sandbox_ns)


def main() -> None:
    """The installed tool's ``tacfleet`` command: Invoke's program over these tasks, so
    ``tacfleet plan --host web01`` is ``invoke plan --host web01`` with the same exit codes."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("tacfleet")
    except PackageNotFoundError:  # run from a checkout that was never installed
        release = "unknown"
    Program(namespace=ns, name="tacfleet", binary="tacfleet", version=release).run()


class Program(invoke.Program):
    """Invoke's program whose parse errors (an unknown option, an option without its value)
    are one line and exit 2, as every other bad option of tacfleet's (Invoke exits 1)."""

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except invoke.ParseError as exc:
            task = getattr(getattr(exc, "context", None), "name", None)
            where = f"tacfleet {task} -h" if task else "tacfleet --list"
            raise invoke.Exit(f"{exc}; fix: `{where}` lists what it takes", code=2) from None


if __name__ == "__main__":  # ``python -m tacfleet_tasks drift …``: what a scheduled task runs
    main()
