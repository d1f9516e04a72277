"""Drift history: what changed between runs, exit codes, atomic reports, escaped HTML."""

from __future__ import annotations

import json
import time

from compliance.audit import HostAudit
from compliance.drift import (
    EXIT_COMPLIANT,
    EXIT_DRIFT,
    EXIT_UNCHECKED,
    build_report,
    compare,
    exit_code,
    load_latest,
    save_report,
)
from compliance.finding import Finding
from compliance.render import drift_html


def audit(host, failing=(), error=""):
    findings = [Finding(r, host, r not in failing, "X", "Y") for r in ("a", "b", "c")]
    return HostAudit(host, [] if error else findings, error)


def report(*audits):
    return build_report(list(audits), "inv.yml", time.time())


def test_exit_codes():
    assert exit_code(report(audit("h1"))) == EXIT_COMPLIANT
    assert exit_code(report(audit("h1", ["a"]))) == EXIT_DRIFT
    assert exit_code(report(audit("h1", ["a"]), audit("h2", error="refused"))) == EXIT_UNCHECKED


def test_new_fixed_still_and_unreachable():
    before = report(audit("h1", ["a", "b"]), audit("h2", ["a"]), audit("h3", ["c"]))
    now = report(audit("h1", ["b", "c"]), audit("h2"), audit("h3", error="timeout"))
    changes = compare(before, now)
    assert changes.new == [("h1", "c")]
    assert changes.fixed == [("h1", "a"), ("h2", "a")]
    assert changes.still == [("h1", "b")]
    assert changes.unreachable == ["h3"]  # its old drift is neither fixed nor new


def test_history_and_latest_pointer(tmp_path):
    first = report(audit("h1", ["a"]))
    save_report(tmp_path, first, "<html>")
    assert load_latest(tmp_path)["hosts"]["h1"]["status"] == "drift"
    second = report(audit("h1"))
    folder = save_report(tmp_path, second, "<html>")
    assert load_latest(tmp_path)["hosts"]["h1"]["status"] == "compliant"
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2
    assert json.loads((folder / "drift.json").read_text())["summary"]["compliant"] == 1
    assert not list(tmp_path.rglob("*.tmp"))


def test_corrupt_latest_is_ignored_not_fatal(tmp_path):
    (tmp_path / "latest.json").write_text("{not json")
    assert load_latest(tmp_path) is None


def test_html_escapes_what_hosts_report():
    bad = HostAudit("h1", [Finding("a", "h1", False, "<b>", "<script>x</script>")])
    rendered = drift_html(report(bad), compare(None, report(bad)))
    assert "<script>x" not in rendered and "&lt;script&gt;" in rendered
