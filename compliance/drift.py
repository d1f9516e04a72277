"""Nightly drift detection: audit the fleet, compare with the last run, keep a history.

Reports live in ``reports/<timestamp>/`` (``drift.json`` for machines, ``drift.html`` for
people); ``reports/latest.json`` names the newest. Every file is written to a temporary name
and renamed into place, so a crash never leaves a half-written report or history.

``drift.json`` (format 2) grows with the drift, not with the fleet: a requirement that holds
keeps only the fact found (``{"requirement", "ok": true, "found"}``); only a failing one carries
``expected``, ``found`` and the fix (``hint``). The host is the key, never repeated inside; on a
host with several services each per-service finding names its ``service``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.audit import HostAudit
from compliance.display import plain_cause
from compliance.finding import Finding
from inventory.secrets import redact_data

EXIT_COMPLIANT, EXIT_DRIFT, EXIT_UNCHECKED = 0, 1, 2


@dataclass
class DriftChanges:
    new: list[tuple[str, str]] = field(default_factory=list)
    fixed: list[tuple[str, str]] = field(default_factory=list)
    still: list[tuple[str, str]] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    #: unreachable now, checked (or unknown) in the previous run
    newly_unreachable: list[str] = field(default_factory=list)
    #: unreachable in the previous run, checked now
    recovered: list[str] = field(default_factory=list)


def label(finding: dict[str, Any]) -> str:
    """A ``drift.json`` finding's name: ``requirement``, or ``requirement · service`` for one
    service of a host with several."""
    service = finding.get("service")
    return f"{finding['requirement']} · {service}" if service else str(finding["requirement"])


def failing_pairs(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (host, label(f))
        for host, entry in report.get("hosts", {}).items()
        for f in entry.get("findings", [])
        if not f["ok"]
    }


def unreachable_hosts(report: dict[str, Any] | None) -> set[str]:
    hosts = (report or {}).get("hosts", {})
    return {h for h, e in hosts.items() if e.get("status") == "unreachable"}


def compare(previous: dict[str, Any] | None, current: dict[str, Any]) -> DriftChanges:
    """What changed since the previous report (hosts unchecked now are left out of it)."""
    now = failing_pairs(current)
    before = failing_pairs(previous) if previous else set()
    unreachable = sorted(unreachable_hosts(current))
    was_unreachable = unreachable_hosts(previous)
    checked_before = {p for p in before if p[0] not in unreachable}
    return DriftChanges(
        new=sorted(now - before),
        fixed=sorted(checked_before - now),
        still=sorted(now & before),
        unreachable=unreachable,
        newly_unreachable=[h for h in unreachable if h not in was_unreachable],
        recovered=sorted(h for h in was_unreachable
                         if h in current["hosts"] and h not in unreachable),
    )


def finding_entry(finding: Finding) -> dict[str, Any]:
    """One finding in ``drift.json``: the fact for a requirement that holds, all for a failure."""
    entry: dict[str, Any] = {"requirement": finding.requirement, "ok": finding.ok}
    if finding.service:
        entry["service"] = finding.service
    if finding.ok:
        entry["found"] = finding.found
    else:
        entry.update(expected=finding.expected, found=finding.found, hint=finding.fix)
    if finding.skipped:
        entry["skipped"] = True
    return entry


def build_report(audits: list[HostAudit], inventory: str, started: float) -> dict[str, Any]:
    """The run's report; every secret tacfleet resolved is ``***`` in it (and so in the HTML)."""
    hosts = {
        a.host: {
            "status": a.status,
            "error": plain_cause(a.error) if a.error else "",
            "http_requests": a.http_requests,
            "commands": a.commands,
            "elapsed": round(a.elapsed, 3),
            "findings": [finding_entry(f) for f in a.findings],
        }
        for a in audits
    }
    hosts = redact_data(hosts)
    counts = {
        s: sum(1 for h in hosts.values() if h["status"] == s)
        for s in ("compliant", "drift", "unreachable")
    }
    return {
        "format": 2,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration": round(time.time() - started, 3),
        "inventory": inventory,
        "summary": counts,
        "hosts": hosts,
    }


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from the shards' reports (a host checked by two shards: the later run wins)."""
    ordered = sorted(reports, key=lambda r: r["started"])
    hosts: dict[str, Any] = {}
    for report in ordered:
        hosts.update(report["hosts"])
    counts = {
        s: sum(1 for h in hosts.values() if h["status"] == s)
        for s in ("compliant", "drift", "unreachable")
    }
    return {
        "format": 2,
        "started": ordered[0]["started"],
        "duration": round(max(r["duration"] for r in ordered), 3),
        "inventory": ", ".join(sorted({r["inventory"] for r in ordered})),
        "summary": counts,
        "hosts": dict(sorted(hosts.items())),
        "merged_from": [r.get("shard", r["started"]) for r in ordered],
    }


def exit_code(report: dict[str, Any]) -> int:
    if report["summary"]["unreachable"]:
        return EXIT_UNCHECKED
    return EXIT_DRIFT if report["summary"]["drift"] else EXIT_COMPLIANT


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_report(report: dict[str, Any]) -> str:
    """Compact JSON, one host per line (readable with ``jq``, diffable line by line)."""
    head = {k: v for k, v in report.items() if k != "hosts"}
    hosts = ",\n".join(f"  {json.dumps(name)}: {json.dumps(entry, separators=(',', ':'))}"
                        for name, entry in report.get("hosts", {}).items())
    body = json.dumps(head, separators=(",", ":"))[:-1]
    joiner = "," if head else ""
    return f'{body}{joiner}"hosts":{{\n{hosts}\n}}}}\n'


def load_latest(reports: Path) -> dict[str, Any] | None:
    pointer = reports / "latest.json"
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["run"]
        loaded: dict[str, Any] = json.loads((reports / name / "drift.json").read_text("utf-8"))
        return loaded
    except (OSError, ValueError, KeyError):
        return None


def save_report(reports: Path, report: dict[str, Any], html: str) -> Path:
    """Write the run's folder, then move the ``latest`` pointer: readers never see half a run."""
    stamp: str = report["started"].replace(":", "").replace("-", "")
    folder = reports / stamp
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = reports / f"{stamp}-{suffix}"
    atomic_write(folder / "drift.json", dumps_report(report))
    atomic_write(folder / "drift.html", html)
    atomic_write(reports / "latest.json", json.dumps({"run": folder.name}))
    return folder
