"""Drift reports for people: HTML (Jinja2, autoescaped) and a terminal summary (rich).

Both put what needs attention first and stay short for a big, healthy fleet: drifting and
unreachable hosts in full (failing requirements with expected, found and the fix), every
compliant host as one line (in HTML an expandable ``<details>``), values as Windows shows them
(:mod:`compliance.display`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from rich.console import Console
from rich.text import Text

from compliance.display import as_text, plain_cause, short_cause, windows_plain, windows_text
from compliance.drift import DriftChanges, DriftReport, HostEntry
from inventory.secrets import redact

#: Order of hosts in every report: what needs attention first.
STATUS_ORDER = {"drift": 0, "unreachable": 1, "compliant": 2}


_BACKTICKS = re.compile(r"`([^`]+)`")


def windows_html(text: Any) -> Markup:
    """A value as Windows shows it: each quoted Python string as ``<code>`` without quotes;
    a command in backticks (the fixes: `sc config …`) as ``<code>`` too."""
    out = []
    for part, literal in windows_text(as_text(text)):
        if literal:
            out.append(Markup("<code>{}</code>").format(part))
            continue
        last = 0
        for match in _BACKTICKS.finditer(part):
            out.append(escape(part[last:match.start()]))
            out.append(Markup("<code>{}</code>").format(match.group(1)))
            last = match.end()
        out.append(escape(part[last:]))
    return Markup("").join(out)


#: A whole value that is a Windows path or account (``C:\Python311``, ``NT SERVICE\tacdemo``).
_WINDOWS_NAME = re.compile(r"[^,;`()\s][^,;`()]*\\[^,;`()]*\Z")


def value_html(value: Any) -> Markup:
    """A ``drift.json`` value (typed: text, a number, a list) as the report shows it: a path or
    account as ``<code>``, a list's items each so, other text as :func:`windows_html`."""
    if isinstance(value, list):
        return Markup(", ").join(value_html(v) for v in value)
    if isinstance(value, str) and _WINDOWS_NAME.match(value):
        return Markup("<code>{}</code>").format(value)
    return windows_html(value)


def anchor(name: str) -> str:
    """An element id for a host (ids may not hold spaces; other odd characters become _)."""
    return "host-" + re.sub(r"[^A-Za-z0-9_.:-]", "_", name)


_ENV = Environment(
    loader=PackageLoader("compliance", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["windows"] = windows_html
_ENV.filters["value"] = value_html
_ENV.filters["anchor"] = anchor
_ENV.filters["plain_cause"] = plain_cause
_ENV.filters["short_cause"] = short_cause


def ordered_hosts(report: DriftReport) -> list[tuple[str, HostEntry]]:
    """Drifting, then unreachable, then compliant hosts; inventory order within each."""
    items = list(report.hosts.items())
    return sorted(items, key=lambda item: STATUS_ORDER.get(item[1].status, 3))


def _by_host(pairs: list[tuple[str, str]] | list[list[str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for host, requirement in pairs:
        grouped.setdefault(host, []).append(requirement)
    return grouped


def run_log_href(report: DriftReport, reports: Path | None) -> str:
    """The link to the run's log from ``<reports>/<run>/drift.html``: relative when the log
    is under ``reports`` (the default: the folder can be moved or served as a whole), else
    a file URL; "" without a log."""
    if not report.run_log:
        return ""
    log = Path(report.run_log)
    if reports is not None:
        base = reports.resolve()
        if log.is_relative_to(base):
            return quote(Path(os.path.relpath(log, base / "run")).as_posix())
    return log.as_uri() if log.is_absolute() else quote(log.as_posix())


def drift_html(report: DriftReport, changes: DriftChanges, reports: Path | None = None) -> str:
    """The report as one HTML page; ``reports``: the folder it is saved under (for the link
    to the run log)."""
    hosts = ordered_hosts(report)
    attention = [(n, e) for n, e in hosts if e.status != "compliant"]
    compliant = [(n, e) for n, e in hosts if e.status == "compliant"]
    html = _ENV.get_template("drift.html.j2").render(
        report=report,
        changes=changes,
        new_by_host=_by_host(changes.new),
        fixed_by_host=_by_host(changes.fixed),
        still_by_host=_by_host(changes.still),
        attention=attention,
        compliant=compliant,
        remediated=report.remediated,
        run_log=run_log_href(report, reports),
    )
    return redact(html)


def _since(name: str, entry: HostEntry, changes: DriftChanges,
           new: dict[str, list[str]]) -> str:
    if changes.first_run:
        return "first run"
    if entry.status == "unreachable":
        return "newly unreachable" if name in changes.newly_unreachable else "still unreachable"
    return "new drift" if name in new else "still drifting"


def print_drift(console: Console, report: DriftReport, changes: DriftChanges) -> None:
    """Only the hosts that are not compliant, each failing requirement with expected, found
    and the fix (or the cause that kept the host from being checked), what changed, and one
    count line. Plain lines: whole values in a pipe or log, wrapped at words on a terminal."""
    attention = [(n, e) for n, e in ordered_hosts(report) if e.status != "compliant"]
    new = _by_host(changes.new)
    whole = not console.is_terminal

    def say(text: str, style: str = "") -> None:
        console.print(Text(redact(text), style=style), soft_wrap=whole)

    if attention:
        say(f"tacfleet drift {report.started}: {len(attention)} host(s) not compliant", "bold")
    for name, entry in attention:
        where = f"{name} ({entry.address})" if entry.address else name
        last = (f"; last compliant {entry.last_compliant}" if entry.last_compliant
                else "; not compliant in any run kept" if not changes.first_run else "")
        style = {"drift": "red", "unreachable": "yellow"}.get(entry.status, "")
        say(f"{where}: {entry.status} ({_since(name, entry, changes, new)}{last})", style)
        if entry.error:
            say(f"  {plain_cause(entry.error)}")
        for f in entry.failing:
            say(f"  {f.label}: expected {windows_plain(f.expected)}, found "
                f"{windows_plain(f.found)}")
            if f.fix:
                say(f"    fix: {windows_plain(f.fix)}", "cyan")
    if changes.fixed:
        fixed = _by_host(changes.fixed)
        console.print("fixed: " + "; ".join(f"{h}: {', '.join(r)}" for h, r in fixed.items()),
                      markup=False)
    if changes.recovered:
        console.print("reachable again: " + ", ".join(changes.recovered), markup=False)
    remediated = report.remediated
    if remediated:
        console.print(f"remediated: {', '.join(remediated.hosts)} "
                      f"(provision exit {remediated.provision_exit})", markup=False)
    summary = report.summary
    console.print(
        f"{summary.compliant} compliant, {summary.drift} drifting, "
        f"{summary.unreachable} unreachable in {report.duration:.1f}s",
        markup=False,
    )
