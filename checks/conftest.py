"""Fixtures of the compliance suite: ``spec`` (the inventory entry), ``facts`` (one cached probe
per host), ``host`` (a testinfra Host over the same WinRM shell).

Tests are parametrized over the selected hosts. A host that cannot be reached fails one test,
``test_host_reachable``, with the cause; its other tests are skipped naming that cause.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from checks.session import FleetSession
from compliance.finding import Finding
from inventory.errors import InventoryError, format_problems
from inventory.models import Host
from inventory.secrets import redact
from winhost.facts import HostFacts


def pytest_configure(config: pytest.Config) -> None:
    """Load the inventory and select hosts as the invoke tasks do; a problem is a usage error.

    A bad or missing inventory, an unknown host or a selection of no host ends the run with the
    tasks' one-line message and exit 4 (pytest's usage error), never INTERNALERROR. Tracebacks
    never show local variables (a frame may hold the environment or a password) and default to
    the short style.
    """
    config.option.showlocals = False
    if getattr(config.option, "tbstyle", "auto") in ("auto", "long"):
        config.option.tbstyle = "short"
    try:
        config.stash[SESSION] = FleetSession.from_options(
            config.getoption("tacfleet_inventory"),
            config.getoption("tacfleet_host"),
            config.getoption("hosts", None),
            deadline=config.getoption("tacfleet_deadline", None),
        )
    except InventoryError as exc:
        if os.environ.get("TACFLEET_DEBUG", "") not in ("", "0"):
            raise
        text = format_problems(exc.problems) if len(exc.problems) > 1 else str(exc)
        raise pytest.UsageError(text) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None:
        session.close()


SESSION = pytest.StashKey[FleetSession]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" in metafunc.fixturenames:
        names = metafunc.config.stash[SESSION].host_names
        metafunc.parametrize("target", names, ids=names, scope="session")


@pytest.fixture(scope="session")
def fleet(request: pytest.FixtureRequest) -> FleetSession:
    return request.config.stash[SESSION]


@pytest.fixture(scope="session")
def spec(fleet: FleetSession, target: str) -> Host:
    return fleet.spec(target)


@pytest.fixture(scope="session")
def facts(fleet: FleetSession, target: str) -> HostFacts:
    facts, error = fleet.facts(target)
    if facts is None:
        pytest.skip(f"{target} not checked: {error} (see test_host_reachable)")
    return facts


@pytest.fixture(scope="session")
def host(fleet: FleetSession, target: str, facts: HostFacts) -> Iterator[object]:
    yield fleet.testinfra_host(target)


def require(finding: Finding) -> None:
    """Fail with "HOST: expected X, found Y — fix: …" (no traceback), or skip a moot check."""
    if finding.skipped:
        pytest.skip(f"{finding.host}: {finding.found}")
    if not finding.ok:
        pytest.fail(redact(finding.message), pytrace=False)
