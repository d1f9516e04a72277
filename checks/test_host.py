"""One test per host (``--per-host``): every selected requirement judged from the cached facts."""

import pytest

from checks.per_host import judge
from checks.session import FleetSession


def test_host(fleet: FleetSession, target: str, requirements: tuple[str, ...]) -> None:
    facts, error = fleet.facts(target)
    if facts is None:
        pytest.fail(f"{target}: could not be checked: {error}", pytrace=False)
    judge(fleet.audit(target).findings, target, requirements)
