"""Nightly drift detection: audit the fleet, compare with the last run, keep a history.

Reports live in ``reports/<timestamp>/`` (``drift.json`` for machines, ``drift.html`` for
people); ``reports/latest.json`` names the newest. Every file is written to a temporary name
and renamed into place, so a crash never leaves a half-written report or history.

``drift.json`` (format 3) grows with the drift, not with the fleet: a requirement that holds
keeps only the fact found (``{"requirement", "ok": true, "found"}``); only a failing one carries
``expected``, ``found`` and ``fix`` (format 2 called it ``hint``; it is still read). The host is
the key, never repeated inside; on a host with several services each per-service finding names
its ``service``. The report is typed (:class:`DriftReport` and its parts, pydantic) and written
by its model: a field a run did not set is not written.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field

from compliance.audit import HostAudit, HostStatus
from compliance.display import json_value, plain_cause
from compliance.finding import Finding
from inventory.frozen import Frozen
from inventory.private_files import private_folder
from inventory.secrets import redact_data

EXIT_COMPLIANT, EXIT_DRIFT, EXIT_UNCHECKED = 0, 1, 2
FORMAT = 3
STATUSES: tuple[HostStatus, ...] = ("compliant", "drift", "unreachable")


class ReportFinding(Frozen):
    """One finding in ``drift.json``: the fact for a requirement that holds, all for a failure
    (a field left ``None`` is not written)."""

    requirement: str
    ok: bool
    service: str | None = None
    #: typed JSON values (text, a number, a list), never a Python repr (:func:`json_value`)
    expected: Any = None
    found: Any = None
    #: format 2 wrote it as ``hint``: a previous run's report is read either way
    fix: str | None = Field(None, validation_alias=AliasChoices("fix", "hint"))
    skipped: bool | None = None

    @classmethod
    def of(cls, finding: Finding) -> ReportFinding:
        fact = {"found": json_value(finding.found)} if finding.ok else {
            "expected": json_value(finding.expected), "found": json_value(finding.found),
            "fix": finding.fix}
        return cls(requirement=finding.requirement, ok=finding.ok,
                   service=finding.service or None, skipped=finding.skipped or None, **fact)

    @property
    def label(self) -> str:
        """``requirement``, or ``requirement · service`` for one service of a host with
        several."""
        return f"{self.requirement} · {self.service}" if self.service else self.requirement


class HostEntry(Frozen):
    """One host in ``drift.json`` (the host's name is its key)."""

    status: HostStatus
    #: the host's address (``connection.address``), for the person who has to go there
    address: str | None = None
    #: when this host was last seen compliant (a run's ``started``), from the reports folder's
    #: history; None: not in any run kept there
    last_compliant: str | None = None
    error: str = ""
    http_requests: int = 0
    commands: int = 0
    elapsed: float = 0.0
    findings: list[ReportFinding] = Field(default_factory=list)
    #: per service with app.releases: ``service``, ``running``, ``wanted``, ``history``
    releases: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def failing(self) -> list[ReportFinding]:
        return [f for f in self.findings if not f.ok]


class Summary(Frozen):
    """Hosts by status."""

    compliant: int = 0
    drift: int = 0
    unreachable: int = 0

    @classmethod
    def of(cls, hosts: dict[str, HostEntry]) -> Summary:
        return cls(**{s: sum(1 for h in hosts.values() if h.status == s) for s in STATUSES})


class RemediatedStep(Frozen):
    title: str
    status: str
    reasons: list[str] = Field(default_factory=list)


class Remediation(Frozen):
    """What ``--remediate`` did: the hosts provisioned, per host the steps that changed or
    failed, the hosts that could not be provisioned (``errors``) or failed."""

    hosts: list[str]
    provision_exit: int
    steps: dict[str, list[RemediatedStep]] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)
    failed: list[str] = Field(default_factory=list)


class DriftChanges(Frozen):
    """What changed since the previous run: (host, requirement label) pairs and host names."""

    new: list[tuple[str, str]] = Field(default_factory=list)
    fixed: list[tuple[str, str]] = Field(default_factory=list)
    still: list[tuple[str, str]] = Field(default_factory=list)
    unreachable: list[str] = Field(default_factory=list)
    #: unreachable now, checked (or unknown) in the previous run
    newly_unreachable: list[str] = Field(default_factory=list)
    #: unreachable in the previous run, checked now
    recovered: list[str] = Field(default_factory=list)
    #: no previous run in the reports folder: nothing is new or fixed, only found
    first_run: bool | None = None


class DriftReport(Frozen):
    """A run's ``drift.json`` (the fields a run did not set are not written)."""

    format: int = FORMAT
    started: str
    duration: float
    inventory: str
    summary: Summary
    hosts: dict[str, HostEntry]
    merged_from: list[str] | None = None
    remediated: Remediation | None = None
    shard: str | None = None
    interrupted: bool | None = None
    changes: DriftChanges | None = None
    #: the run log of the ``invoke drift`` that wrote this report (``fleet.runlog``)
    run_log: str | None = None

    def failing_pairs(self) -> set[tuple[str, str]]:
        return {(host, f.label) for host, entry in self.hosts.items() for f in entry.failing}

    def unreachable_hosts(self) -> set[str]:
        return {h for h, e in self.hosts.items() if e.status == "unreachable"}

    def exit_code(self) -> int:
        if self.summary.unreachable:
            return EXIT_UNCHECKED
        return EXIT_DRIFT if self.summary.drift else EXIT_COMPLIANT

    def dumps(self) -> str:
        """Compact JSON, one host per line (readable with ``jq``, diffable line by line)."""
        head = self.model_dump(mode="json", exclude_none=True, exclude={"hosts"})
        hosts = ",\n".join(
            f"  {json.dumps(name)}: "
            f"{json.dumps(entry.model_dump(mode='json', exclude_none=True), separators=(',', ':'))}"
            for name, entry in self.hosts.items())
        body = json.dumps(head, separators=(",", ":"))[:-1]
        return f'{body},"hosts":{{\n{hosts}\n}}}}\n'


def compare(previous: DriftReport | None, current: DriftReport) -> DriftChanges:
    """What changed since the previous report (hosts unchecked now are left out of it)."""
    now = current.failing_pairs()
    before = previous.failing_pairs() if previous else set()
    unreachable = sorted(current.unreachable_hosts())
    was_unreachable = previous.unreachable_hosts() if previous else set()
    checked_before = {p for p in before if p[0] not in unreachable}
    return DriftChanges(
        new=sorted(now - before),
        fixed=sorted(checked_before - now),
        still=sorted(now & before),
        unreachable=unreachable,
        # a first run into an empty folder knows of nothing that was reachable before
        newly_unreachable=[h for h in unreachable if h not in was_unreachable] if previous
        else [],
        recovered=sorted(h for h in was_unreachable
                         if h in current.hosts and h not in unreachable),
        first_run=True if previous is None else None,
    )


def with_history(previous: DriftReport | None, current: DriftReport) -> DriftReport:
    """``current`` with each host's ``last_compliant``: this run's start for a compliant host,
    else what the previous run knew (its start, if the host was compliant then)."""
    hosts = {}
    for name, entry in current.hosts.items():
        before = previous.hosts.get(name) if previous else None
        if entry.status == "compliant":
            last = current.started
        elif before is None:
            last = None
        else:
            last = previous.started if before.status == "compliant" and previous else (
                before.last_compliant)
        hosts[name] = entry.model_copy(update={"last_compliant": last})
    return current.model_copy(update={"hosts": hosts})


def host_entry(audit: HostAudit) -> HostEntry:
    """One host's audit as it is reported; every secret tacfleet resolved is ``***`` in it."""
    entry = HostEntry(
        status=audit.status,
        error=plain_cause(audit.error) if audit.error else "",
        http_requests=audit.http_requests,
        commands=audit.commands,
        elapsed=round(audit.elapsed, 3),
        findings=[ReportFinding.of(f) for f in audit.findings],
        releases=audit.releases,
    )
    return HostEntry.model_validate(redact_data(entry.model_dump(exclude_none=True)))


def with_runnable_fixes(entry: HostEntry, host: str, inventory: str) -> HostEntry:
    """``entry`` with each tacfleet command its fixes and error name completed with ``--host``
    and ``--inventory`` (:func:`inventory.rerun.runnable`): pasted, it acts on this host of this
    inventory."""
    from inventory.rerun import runnable

    findings = [f.model_copy(update={"fix": runnable(f.fix, host, inventory)}) if f.fix else f
                for f in entry.findings]
    return entry.model_copy(update={"error": runnable(entry.error, host, inventory),
                                    "findings": findings})


def build_report(audits: list[HostAudit], inventory: str, started: float,
                 addresses: dict[str, str] | None = None) -> DriftReport:
    """The run's report; every secret tacfleet resolved is ``***`` in it (and so in the HTML).
    ``addresses``: each host's address, by name."""
    hosts = {a.host: with_runnable_fixes(host_entry(a), a.host, inventory) for a in audits}
    for name, address in (addresses or {}).items():
        if name in hosts:
            hosts[name] = hosts[name].model_copy(update={"address": address})
    return DriftReport(
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        duration=round(time.time() - started, 3),
        inventory=inventory,
        summary=Summary.of(hosts),
        hosts=hosts,
    )


def merge_reports(reports: list[DriftReport]) -> DriftReport:
    """One report from the shards' reports (a host checked by two shards: the later run wins)."""
    ordered = sorted(reports, key=lambda r: r.started)
    hosts: dict[str, HostEntry] = {}
    for report in ordered:
        hosts.update(report.hosts)
    return DriftReport(
        started=ordered[0].started,
        duration=round(max(r.duration for r in ordered), 3),
        inventory=", ".join(sorted({r.inventory for r in ordered})),
        summary=Summary.of(hosts),
        hosts=dict(sorted(hosts.items())),
        merged_from=[r.shard or r.started for r in ordered],
    )


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


def load_latest(reports: Path) -> DriftReport | None:
    """The newest run in ``reports`` (None: none, or one this version cannot read)."""
    pointer = reports / "latest.json"
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["run"]
        return DriftReport.model_validate_json((reports / name / "drift.json").read_bytes())
    except (OSError, ValueError, KeyError, TypeError):  # pydantic's ValidationError: ValueError
        return None


class ReportsNotWritable(ValueError):
    """The reports folder cannot be written: said before any host is checked."""


def ready_reports(reports: Path) -> None:
    """Make ``reports`` and prove a file can be written there, before a night's checks: an
    account that may not write it learns that in a second, not at dawn."""
    try:
        reports.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=reports, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ReportsNotWritable(
            f"drift: --reports {reports}: cannot be written ({exc.strerror or exc}); fix: give "
            "the account that runs tacfleet (the scheduled task's) write access to it, or pass "
            "--reports <a folder it may write>") from None


def save_report(reports: Path, report: DriftReport, html: str) -> Path:
    """Write the run's folder, then move the ``latest`` pointer: readers never see half a run.
    ``reports`` is private to the user (its files are 0600; on Windows its DACL, inherited)."""
    private_folder(reports)
    stamp = report.started.replace(":", "").replace("-", "")
    folder = reports / stamp
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = reports / f"{stamp}-{suffix}"
    atomic_write(folder / "drift.json", report.dumps())
    atomic_write(folder / "drift.html", html)
    atomic_write(reports / "latest.json", json.dumps({"run": folder.name}))
    return folder
