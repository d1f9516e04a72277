"""The running service and the app it serves."""

import pytest

from checks.conftest import require
from compliance.requirements import REQUIREMENTS

pytestmark = pytest.mark.runtime


def test_service_running(spec, facts):
    require(REQUIREMENTS["service_running"](spec, facts))


def test_app_answering(spec, facts):
    require(REQUIREMENTS["app_answering"](spec, facts))


def test_service_state_agrees_with_testinfra(spec, host, facts):
    """A second opinion through testinfra's API on the same shell: `sc query` says RUNNING."""
    out = host.run("sc.exe query %s", spec.service.name)
    assert "RUNNING" in out.stdout, (
        f"{spec.name}: expected `sc query {spec.service.name}` to say RUNNING, "
        f"found exit code {out.rc}: {out.stdout.strip()[:200]}"
    )
