"""``--per-host``: which requirements -k/-m select, and the one line per failed requirement."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from checks.per_host import ALL, Selection, failed_properties, judge, report_lines
from compliance.finding import Finding
from compliance.requirements import REQUIREMENTS


def _selection(keyword: str = "", markexpr: str = "") -> Selection:
    config = SimpleNamespace(option=SimpleNamespace(keyword=keyword, markexpr=markexpr))
    return Selection(cast(pytest.Config, config))  # only config.option is read


def test_without_k_or_m_every_requirement_is_judged():
    assert _selection()("web01") == tuple(REQUIREMENTS)


def test_m_selects_by_area_and_k_by_name_module_or_host():
    service = _selection(markexpr="service")("web01")
    assert service and all(REQUIREMENTS[r].area == "service" for r in service)
    assert _selection(keyword="account")("web01") == ("service_account",)
    assert _selection(keyword="test_security.py")("web01") == tuple(
        r for r, req in REQUIREMENTS.items() if req.area == "security")
    assert _selection(keyword="not start_type", markexpr="service")("web01") == tuple(
        r for r in service if r != "start_type")
    assert _selection(keyword="web02 and account")("web01") == ()
    assert _selection(keyword="web01")("web01") == tuple(REQUIREMENTS)
    assert _selection(keyword="test_host")("web01") == tuple(REQUIREMENTS)


def test_a_bad_expression_is_a_usage_error_naming_it():
    with pytest.raises(pytest.UsageError, match="'-k': start_type and"):
        _selection(keyword="start_type and")


def _failed(requirement: str, service: str = "") -> Finding:
    return Finding(requirement, "web01", False, "delayed-auto", "auto", "run `invoke provision`",
                   service=service)


def test_judge_fails_with_one_line_per_selected_failed_requirement():
    findings = [_failed("start_type", "api"), _failed("service_account"),
                Finding("tac_file", "web01", True, "x", "x"),
                Finding("app_answering", "web01", False, "an answer", "moot", skipped=True)]
    with pytest.raises(pytest.fail.Exception) as caught:
        judge(findings, "web01", ["start_type", "tac_file", "app_answering"])
    assert str(caught.value).splitlines() == [
        "web01 start_type · api: expected delayed-auto, found auto — fix: run `invoke provision`"]
    assert failed_properties(SimpleNamespace(excinfo=caught)) == [("failed", "start_type · api")]
    judge(findings, "web01", ["tac_file", "app_answering"])  # passes


def test_report_lines_pair_each_failed_property_with_its_line():
    report = SimpleNamespace(
        user_properties=[("host", "web01"), ("requirement", ALL), ("failed", "start_type"),
                         ("failed", "service_account")],
        longreprtext="web01 start_type: expected a, found b\nweb01 service_account: expected c")
    assert report_lines(report, "web01") == [("start_type", "expected a, found b"),
                                             ("service_account", "expected c")]
