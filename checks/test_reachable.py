"""Can the host be checked at all? One failure per unreachable host, naming the cause."""

import pytest

from checks.session import FleetSession


def test_host_reachable(fleet: FleetSession, target: str) -> None:
    facts, error = fleet.facts(target)
    if facts is None:
        pytest.fail(f"{target}: could not be checked: {error}", pytrace=False)
