"""How a provisioning run is shown: live lines per step, a summary table, JSON."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from compliance.display import windows_plain
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


#: A step line's status column: the widest, "would change (123.4s)".
_STATUS_WIDTH = 22


class StepPrinter:
    """Prints one line per finished step. Not on a terminal (a pipe, a file, a CI log): plain
    lines with every value whole, never wrapped or cut. On a terminal: the title column is as
    wide as the terminal allows (its words wrap within it), the status never breaks.

    A step that does not apply (``skipped``: not configured) is not printed. ``show_commands``
    (a plan): each changing step's reasons and commands, long arguments shown by their size;
    ``verbose``: the same with every command line whole (secrets masked, standard input never
    shown); ``diff``: each changing step's requirements as found (``-``) and expected (``+``).
    """

    def __init__(self, console: Console, *, verbose: bool = False, show_commands: bool = False,
                 diff: bool = False):
        self.console = console
        self.verbose = verbose
        self.show_commands = show_commands
        self.diff = diff

    def __call__(self, host: str, result: StepResult) -> None:
        """One step's lines, printed at once (hosts run in parallel: a step's lines stay
        together); secrets (passwords, app.environment values) shown as ``***``."""
        if result.status is Status.SKIPPED:
            return
        lines: list[RenderableType] = [self._line(host, result)]
        changing = result.status is not Status.OK
        if changing and (self.verbose or self.show_commands):
            lines += [self._detail(f"    because {redact(r)}", "dim") for r in result.reasons]
        if self.diff and changing:
            lines += self._diff(result)
        if result.restart and changing:
            lines.append(self._detail(f"    {redact(result.restart)}", "dim"))
        if self.show_commands or self.verbose or result.status is Status.FAILED:
            for command in result.commands:
                line = command if self.verbose else shown(command)
                lines.append(self._detail(f"    $ {redact(line)}", "cyan"))
        if result.message:
            lines.append(self._detail(f"    {redact(result.message)}", _STYLE[result.status]))
        if result.output:
            lines.append(self._detail(redact(result.output), "dim"))
        self.console.print(Group(*lines), soft_wrap=not self.console.is_terminal)

    def _line(self, host: str, result: StepResult) -> RenderableType:
        style = _STYLE[result.status]
        status = Text(str(result.status), style=style)
        if result.elapsed:
            status.append(f" ({result.elapsed:.1f}s)")
        if not self.console.is_terminal:
            return Text.assemble(host, "  ", result.label, "  ", status)
        width = max(12, min(48, self.console.width - len(host) - _STATUS_WIDTH - 4))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(width=width)
        grid.add_column(no_wrap=True)
        grid.add_row(host, result.label, status)
        return grid

    def _diff(self, result: StepResult) -> list[RenderableType]:
        lines: list[RenderableType] = []
        for requirement, expected, found in result.changes:
            lines += [self._detail(f"    ~ {requirement}", "bold"),
                      self._detail(f"      - found:    {redact(windows_plain(found))}", "red"),
                      self._detail(f"      + expected: {redact(windows_plain(expected))}",
                                   "green")]
        return lines

    @staticmethod
    def _detail(text: str, style: str) -> Text:
        """An indented detail line: whole off a terminal; on one, wrapped at words."""
        return Text(text, style=style)


def note(run: HostRun) -> str:
    """What the summary says about a host beyond its counts (its error, a rollback, ...)."""
    failed = run.count(Status.FAILED, Status.WOULD_FAIL)
    text = run.error or ("compliant, nothing to do" if not run.changed and not failed else "")
    if run.rolled_back:
        text = "; ".join([*run.rolled_back, *([text] if text else [])])
    elif run.upgraded:
        text = "upgraded (health gate passed)"
    return redact(text)


def summary_table(runs: list[HostRun], *, notes: bool = True) -> Table:
    """The counts per host; ``notes``: with the note column (wide terminals only)."""
    check = any(r.check_only for r in runs)
    table = Table(title="tacfleet plan" if check else "tacfleet provision")
    table.add_column("host", overflow="fold")
    table.add_column("ok", justify="right")
    table.add_column("would change" if check else "changed", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("commands", justify="right")
    table.add_column("HTTP", justify="right")
    table.add_column("time", justify="right")
    if notes:
        table.add_column("note")
    for run in runs:
        failed = run.count(Status.FAILED, Status.WOULD_FAIL)
        row = [run.host, str(run.count(Status.OK)), str(run.changed),
               f"[red]{failed}[/red]" if failed else "0", str(run.commands),
               str(run.http_requests), f"{run.elapsed:.1f}s"]
        table.add_row(*map(escape, row[:3]), row[3], *row[4:],
                      *([escape(note(run))] if notes else []))
    return table


#: Below this many columns the summary table leaves its note column out (the lines say it).
WIDE = 120


def print_summary(console: Console, runs: list[HostRun]) -> None:
    """The run's summary: on a terminal a table that fits its width, then one line per host
    (counts, and the error or note in full); off a terminal, only the lines."""
    if console.is_terminal:
        console.print(summary_table(runs, notes=console.width >= WIDE))
    for run in runs:
        extra = note(run)
        line = run.summary()
        if extra and not run.error and not run.rolled_back:
            line += f" ({extra})"
        console.print(line, markup=False, soft_wrap=not console.is_terminal)


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
