"""Drift reports for people: HTML (Jinja2, autoescaped) and a terminal summary (rich).

Both put what needs attention first and stay short for a big, healthy fleet: drifting and
unreachable hosts in full (failing requirements with expected, found and the fix), every
compliant host as one line (in HTML an expandable ``<details>``), values as Windows shows them
(:mod:`compliance.display`).
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from compliance.display import plain_cause, short_cause, windows_text
from compliance.drift import DriftChanges, DriftReport, HostEntry
from inventory.secrets import redact

#: Order of hosts in every report: what needs attention first.
STATUS_ORDER = {"drift": 0, "unreachable": 1, "compliant": 2}


_BACKTICKS = re.compile(r"`([^`]+)`")


def windows_html(text: Any) -> Markup:
    """A value as Windows shows it: each quoted Python string as ``<code>`` without quotes;
    a command in backticks (the fixes: `sc config …`) as ``<code>`` too."""
    out = []
    for part, literal in windows_text(str(text or "")):
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


def drift_html(report: DriftReport, changes: DriftChanges) -> str:
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
    )
    return redact(html)


def _since(name: str, entry: HostEntry, changes: DriftChanges,
           new: dict[str, list[str]]) -> str:
    if entry.status == "unreachable":
        return "newly unreachable" if name in changes.newly_unreachable else "still unreachable"
    return "new drift" if name in new else "still drifting"


def print_drift(console: Console, report: DriftReport, changes: DriftChanges) -> None:
    """Only the hosts that are not compliant, what changed, and one count line."""
    attention = [(n, e) for n, e in ordered_hosts(report) if e.status != "compliant"]
    new = _by_host(changes.new)
    if attention:
        table = Table(title=f"tacfleet drift {report.started}: hosts that are not compliant")
        for column in ("host", "status", "since last run", "failing requirements / cause"):
            table.add_column(column, overflow="fold")
        for name, entry in attention:
            failing = [f.label for f in entry.failing]
            style = {"drift": "red", "unreachable": "yellow"}.get(entry.status, "")
            detail = plain_cause(entry.error) if entry.error else ", ".join(failing)
            table.add_row(name, f"[{style}]{entry.status}[/{style}]",
                          _since(name, entry, changes, new), rich_escape(redact(detail)))
        console.print(table)
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
