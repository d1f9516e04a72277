"""How a provisioning run is shown: live lines per step, a summary table, JSON."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inventory.secrets import redact, redact_data
from provision.model import HostRun, Status, StepResult

_STYLE = {
    Status.OK: "green",
    Status.CHANGED: "yellow",
    Status.WOULD_CHANGE: "yellow",
    Status.FAILED: "bold red",
    Status.WOULD_FAIL: "bold red",
    Status.SKIPPED: "dim",
}


#: A command-line argument longer than this is shown by its size: host_ops' script (about 4 KB)
#: and the base64 chunks of an upload (32 KB each; an installer is over a thousand of them).
LONG_ARGUMENT = 160
_ARGUMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\S+')


def shown(line: str) -> str:
    """A command line as printed and reported: every long argument replaced by its size."""
    return _ARGUMENT.sub(
        lambda m: m[0] if len(m[0]) <= LONG_ARGUMENT else f"<{len(m[0]):,} characters>", line)


class StepPrinter:
    """Prints one line per finished step (plain text in CI logs: rich detects no terminal)."""

    def __init__(self, console: Console, *, verbose: bool = False, show_commands: bool = False):
        self.console = console
        self.verbose = verbose
        self.show_commands = show_commands

    def __call__(self, host: str, result: StepResult) -> None:
        """One step's lines; secrets (passwords, app.environment values) shown as ``***``."""
        style = _STYLE[result.status]
        timing = f" ({result.elapsed:.1f}s)" if result.elapsed else ""
        self.console.print(
            f"{escape(host)}  {escape(result.label):<48} [{style}]{result.status}[/{style}]{timing}"
        )
        if result.status is not Status.OK and (self.verbose or self.show_commands):
            for reason in result.reasons:
                self.console.print(f"    because {escape(redact(reason))}", style="dim")
        if result.restart and result.status is not Status.OK:
            self.console.print(f"    {escape(redact(result.restart))}", style="dim")
        if self.show_commands or self.verbose or result.status is Status.FAILED:
            for command in result.commands:
                self.console.print(f"    $ {escape(redact(shown(command)))}", style="cyan",
                                   soft_wrap=True)
        if result.message:
            self.console.print(f"    {escape(redact(result.message))}", style=style)
        if result.output:
            self.console.print(escape(redact(result.output)), style="dim", soft_wrap=True)


def summary_table(runs: list[HostRun]) -> Table:
    check = any(r.check_only for r in runs)
    table = Table(title="tacfleet plan" if check else "tacfleet provision")
    table.add_column("host")
    table.add_column("ok", justify="right")
    table.add_column("would change" if check else "changed", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("commands", justify="right")
    table.add_column("HTTP", justify="right")
    table.add_column("time", justify="right")
    table.add_column("note")
    for run in runs:
        failed = run.count(Status.FAILED, Status.WOULD_FAIL)
        note = run.error or ("compliant, nothing to do" if not run.changed and not failed else "")
        if run.rolled_back:
            note = "; ".join([*run.rolled_back, *([note] if note else [])])
        elif run.upgraded:
            note = "upgraded (health gate passed)"
        table.add_row(
            run.host,
            str(run.count(Status.OK)),
            str(run.changed),
            f"[red]{failed}[/red]" if failed else "0",
            str(run.commands),
            str(run.http_requests),
            f"{run.elapsed:.1f}s",
            escape(redact(note)),
        )
    return table


def runs_json(runs: list[HostRun]) -> str:
    def encode(run: HostRun) -> dict[str, Any]:
        data = asdict(run)  # the keys in the order the JSON has always had
        data = {"host": data.pop("host"), "check_only": data.pop("check_only"),
                "steps": data.pop("steps"), **data}
        for step in data["steps"]:
            step["commands"] = [shown(line) for line in step["commands"]]
        data["summary"] = run.summary()
        data["failed"] = run.failed
        data["outcome"] = run.outcome
        return data

    return redact(json.dumps(redact_data([encode(r) for r in runs]), indent=2, default=str))
