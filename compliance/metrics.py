"""A drift run as Prometheus metrics, for node_exporter's textfile collector (``--metrics``).

Written with prometheus-client's text exposition into a temporary file in the same folder and
renamed over the target (``write_to_textfile``), so the collector never reads half a file.
Point the collector at the folder (``--collector.textfile.directory``) and name the file
``*.prom``. Series (``host``, ``requirement`` labels):

- ``tacfleet_requirement_compliant``: 1 holds, 0 drifting (hosts that were checked);
- ``tacfleet_host_compliant``, ``tacfleet_host_reachable``, ``tacfleet_host_drifting_requirements``,
  ``tacfleet_host_check_seconds``, ``tacfleet_host_remediated`` (1 if this run provisioned it);
- ``tacfleet_drift_hosts{status}``, ``tacfleet_drift_last_run_timestamp_seconds``,
  ``tacfleet_drift_duration_seconds``, ``tacfleet_drift_remediations`` (hosts provisioned).
"""

from __future__ import annotations

import calendar
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from compliance.drift import DriftReport


def registry_for(report: DriftReport) -> CollectorRegistry:
    """The run's metrics in a registry of their own (never the process's global one)."""
    registry = CollectorRegistry(auto_describe=True)

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labels, registry=registry)

    requirement = gauge("tacfleet_requirement_compliant",
                        "1 if the requirement holds on the host, 0 if it drifted",
                        ("host", "requirement"))
    compliant = gauge("tacfleet_host_compliant", "1 if every requirement holds", ("host",))
    reachable = gauge("tacfleet_host_reachable", "1 if the host could be checked", ("host",))
    drifting = gauge("tacfleet_host_drifting_requirements",
                     "requirements that do not hold on the host", ("host",))
    seconds = gauge("tacfleet_host_check_seconds", "seconds the host's check took", ("host",))
    remediated = gauge("tacfleet_host_remediated",
                       "1 if this run provisioned the host to fix drift", ("host",))
    by_status = gauge("tacfleet_drift_hosts", "hosts by status in the last run", ("status",))
    last_run = gauge("tacfleet_drift_last_run_timestamp_seconds",
                     "when the last drift run started (Unix time)")
    duration = gauge("tacfleet_drift_duration_seconds", "how long the last drift run took")
    remediations = gauge("tacfleet_drift_remediations",
                         "hosts the last run provisioned to fix drift")

    fixed = set(report.remediated.hosts if report.remediated else [])
    for host, entry in report.hosts.items():
        checked = entry.status != "unreachable"
        reachable.labels(host).set(1 if checked else 0)
        compliant.labels(host).set(1 if entry.status == "compliant" else 0)
        remediated.labels(host).set(1 if host in fixed else 0)
        if entry.elapsed:
            seconds.labels(host).set(entry.elapsed)
        if not checked:
            continue
        for finding in entry.findings:
            requirement.labels(host, finding.label).set(1 if finding.ok else 0)
        drifting.labels(host).set(len(entry.failing))
    for status, count in report.summary.model_dump().items():
        by_status.labels(status).set(count)
    last_run.set(calendar.timegm(time.strptime(report.started, "%Y-%m-%dT%H:%M:%SZ")))
    duration.set(report.duration)
    remediations.set(len(fixed))
    return registry


def write_metrics(path: str | Path, report: DriftReport) -> Path:
    """Write the run's metrics to ``path`` atomically (temp file + rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(target), registry_for(report))
    return target
