"""Drift reports for people: HTML (Jinja2, autoescaped) and a terminal summary (rich)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from compliance.drift import DriftChanges
from inventory.secrets import redact

_ENV = Environment(
    loader=PackageLoader("compliance", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)


def drift_html(report: dict[str, Any], changes: DriftChanges) -> str:
    html = _ENV.get_template("drift.html.j2").render(report=report, changes=asdict(changes))
    return redact(html)


def print_drift(console: Console, report: dict[str, Any], changes: DriftChanges) -> None:
    table = Table(title=f"tacfleet drift {report['started']}")
    for column in ("host", "status", "failing requirements"):
        table.add_column(column)
    for name, entry in report["hosts"].items():
        failing = [f["requirement"] for f in entry["findings"] if not f["ok"]]
        style = {"compliant": "green", "drift": "red", "unreachable": "yellow"}[entry["status"]]
        detail = redact(entry["error"] or ", ".join(failing))
        table.add_row(name, f"[{style}]{entry['status']}[/{style}]", escape(detail))
    console.print(table)
    for label, pairs in (
        ("new drift", changes.new),
        ("fixed", changes.fixed),
        ("still drifting", changes.still),
    ):
        if pairs:
            console.print(f"{label}: " + ", ".join(f"{h}:{r}" for h, r in pairs))
    if changes.unreachable:
        console.print("unreachable: " + ", ".join(changes.unreachable))
    summary = report["summary"]
    console.print(
        f"{summary['compliant']} compliant, {summary['drift']} drifting, "
        f"{summary['unreachable']} unreachable in {report['duration']:.1f}s"
    )
