"""Prometheus metrics of a drift run, read back with prometheus-client's own parser."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from compliance.audit import HostAudit
from compliance.drift import Remediation, build_report
from compliance.finding import Finding
from compliance.metrics import write_metrics


def samples(path):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(path.read_text())
            for s in family.samples}


def test_per_host_and_requirement_series_remediations_and_run_time(tmp_path):
    audits = [HostAudit("web01", [Finding("start_type", "web01", False, "a", "b"),
                                  Finding("venv", "web01", True)], elapsed=0.42),
              HostAudit("web02", [Finding("start_type", "web02", True)]),
              HostAudit("web03", error="could not be checked: refused")]
    report = build_report(audits, "inv.yml", time.time() - 3)
    report = report.model_copy(update={"remediated": Remediation(hosts=["web02"],
                                                                 provision_exit=0)})
    path = write_metrics(tmp_path / "node" / "tacfleet.prom", report)
    got = samples(path)
    assert got[("tacfleet_requirement_compliant", (("host", "web01"),
                                                   ("requirement", "start_type")))] == 0
    assert got[("tacfleet_requirement_compliant", (("host", "web01"),
                                                   ("requirement", "venv")))] == 1
    assert got[("tacfleet_host_reachable", (("host", "web03"),))] == 0
    assert got[("tacfleet_host_compliant", (("host", "web02"),))] == 1
    assert got[("tacfleet_host_check_seconds", (("host", "web01"),))] == 0.42
    assert got[("tacfleet_host_remediated", (("host", "web02"),))] == 1
    assert got[("tacfleet_drift_remediations", ())] == 1
    assert got[("tacfleet_drift_hosts", (("status", "unreachable"),))] == 1
    assert abs(got[("tacfleet_drift_last_run_timestamp_seconds", ())] - (time.time() - 3)) < 2
    assert got[("tacfleet_drift_duration_seconds", ())] >= 2.9
    assert [p.name for p in path.parent.iterdir()] == ["tacfleet.prom"]  # renamed into place
