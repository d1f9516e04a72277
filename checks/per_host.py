"""``pytest checks --per-host``: one test per host, judging every selected requirement.

pytest's own cost per test (collecting, reordering, six hook calls) is what makes 24 tests per
host slow at fleet scale; with ``--per-host`` each host is one test, ``test_host[web01]``
(:mod:`checks.test_host`), that judges the requirements from the host's cached findings and fails
with one line per failed requirement (``web01 start_type: expected …, found …, fix: …``).

``-m`` and ``-k`` select requirements as they select the per-requirement tests: a requirement is
judged if the expression matches its test's names (``test_start_type``, its module
``test_service.py``, its area, the host's name, ``test_host[web01]``) and marker (its area).
A host with no requirement selected has no test. Each host's JUnit case carries ``host`` and
``requirement`` (``*``) properties and one ``failed`` property per failed requirement.

pytest has no public API that evaluates a ``-k``/``-m`` expression against names other than a
collected item's own, so this module uses the ones pytest itself uses (``_pytest.mark``'s
``Expression``, ``KeywordMatcher``, ``MarkMatcher``); ``tests/unit/checks/test_per_host.py``
fails if a pytest upgrade changes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from _pytest.mark import KeywordMatcher, MarkMatcher
from _pytest.mark.expression import Expression

from compliance.finding import Finding
from compliance.requirements import REQUIREMENTS
from inventory.secrets import redact

#: The ``requirement`` property of a per-host test: it judges them all.
ALL = "*"
#: The test function of a host and its parameter holding the requirements it judges.
FUNCTION = "test_host"
PARAM = "requirements"


def enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("tacfleet_per_host", False))


def _expression(config: pytest.Config, option: str, what: str) -> Expression | None:
    text = (getattr(config.option, option, "") or "").strip()
    if not text:
        return None
    try:
        return Expression.compile(text)
    except SyntaxError as exc:
        raise pytest.UsageError(f"Wrong expression passed to '{what}': {text}: {exc.msg}"
                                ) from None


class Selection:
    """Which requirements ``-k``/``-m`` select for a host (all of them without either)."""

    def __init__(self, config: pytest.Config) -> None:
        self.keyword = _expression(config, "keyword", "-k")
        self.mark = _expression(config, "markexpr", "-m")

    def __call__(self, host: str) -> tuple[str, ...]:
        return tuple(r.id for r in REQUIREMENTS.values() if self._selects(r.id, r.area, host))

    def _selects(self, requirement: str, area: str, host: str) -> bool:
        if self.mark is not None and not self.mark.evaluate(
                MarkMatcher.from_markers([getattr(pytest.mark, area).mark])):
            return False
        if self.keyword is None:
            return True
        names = {"checks", f"test_{area}.py", f"test_{requirement}",
                 f"test_{requirement}[{host}]", host, area, f"{FUNCTION}.py",
                 f"{FUNCTION}[{host}]"}
        return self.keyword.evaluate(KeywordMatcher(names))


def deselect_others(config: pytest.Config, items: list[pytest.Item]) -> list[pytest.Item]:
    """Apply ``-k``/``-m`` as pytest does to every test but the per-host ones (their
    requirements were selected at parametrization); return the deselected tests."""
    keyword = _expression(config, "keyword", "-k")
    mark = _expression(config, "markexpr", "-m")
    dropped = []
    for item in items:
        if getattr(item, "originalname", "") == FUNCTION:
            continue
        if (keyword is not None and not keyword.evaluate(KeywordMatcher.from_item(item))) or (
                mark is not None
                and not mark.evaluate(MarkMatcher.from_markers(item.iter_markers()))):
            dropped.append(item)
    return dropped


def label(finding: Finding) -> str:
    """The requirement as the summary names it (``start_type · api`` on a multi-service
    host)."""
    return f"{finding.requirement} · {finding.service}" if finding.service else finding.requirement


def judge(findings: Iterable[Finding], host: str, requirements: Iterable[str]) -> None:
    """Fail with one line per failed requirement among ``requirements`` (skipped ones are
    moot: they pass)."""
    wanted = set(requirements)
    failed = [f for f in findings if f.requirement in wanted and not f.ok and not f.skipped]
    if failed:
        lines = [redact(f"{host} {label(f)}: {f.message.removeprefix(f.where + ': ')}")
                 for f in failed]
        failure = pytest.fail.Exception("\n".join(lines), pytrace=False)
        failure.labels = [label(f) for f in failed]  # type: ignore[attr-defined]
        raise failure


def failed_properties(call: Any) -> list[tuple[str, str]]:
    """``failed`` properties for the report of a per-host test's call."""
    excinfo = getattr(call, "excinfo", None)
    if excinfo is None:
        return []
    value = excinfo.value
    if not isinstance(value, pytest.fail.Exception):
        return []
    return [("failed", lab) for lab in getattr(value, "labels", ["reachable"])]


def report_lines(report: Any, host: str) -> list[tuple[str, str]]:
    """(requirement, message) of each failure a per-host test's report carries."""
    labels = [str(v) for k, v in report.user_properties if k == "failed"]
    text = str(report.longreprtext)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(labels) != len(lines):  # not our failure (an error in the test itself)
        return [("reachable" if not labels else labels[0], " ".join(text.split()))]
    return [(lab, line.removeprefix(f"{host} {lab}: ").removeprefix(f"{host}: "))
            for lab, line in zip(labels, lines, strict=True)]


class Plugin:
    """Under ``--per-host``: ``-k``/``-m`` apply to the per-host tests' requirements (chosen at
    parametrization), so pytest's own deselection must not see them on the tests themselves."""

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]
                                      ) -> Any:
        dropped = deselect_others(config, items) + [
            i for i in items if getattr(i, "originalname", "") == FUNCTION
            and not i.callspec.params[PARAM]]  # type: ignore[attr-defined]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            gone = set(map(id, dropped))
            items[:] = [i for i in items if id(i) not in gone]
        saved = config.option.keyword, config.option.markexpr
        config.option.keyword = config.option.markexpr = ""
        try:
            return (yield)
        finally:
            config.option.keyword, config.option.markexpr = saved
