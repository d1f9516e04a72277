"""Fixtures of the compliance suite: ``spec`` (the inventory entry), ``facts`` (one cached probe
per host), ``host`` (a testinfra Host over the same WinRM shell).

Tests are parametrized over the selected hosts. A host that cannot be reached fails one test,
``test_host_reachable``, with the cause; its other tests are skipped naming that cause.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from checks.session import FleetSession
from compliance.finding import Finding
from inventory.models import Host
from winhost.facts import HostFacts


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SESSION] = FleetSession.from_options(
        config.getoption("tacfleet_inventory"),
        config.getoption("tacfleet_host"),
        config.getoption("hosts", None),
    )


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
        pytest.fail(finding.message, pytrace=False)
