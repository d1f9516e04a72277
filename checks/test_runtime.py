"""The running service and the app it serves."""

import re

import pytest

from checks.conftest import require
from compliance.requirements import REQUIREMENTS
from winhost.cmdline import system32

pytestmark = pytest.mark.runtime


def test_service_running(spec, facts):
    require(REQUIREMENTS["service_running"](spec, facts))


def test_app_answering(spec, facts):
    require(REQUIREMENTS["app_answering"](spec, facts))


def test_service_state_agrees_with_testinfra(spec, host, facts):
    """A second opinion through testinfra's API on the same shell: `sc query` says 4 RUNNING.

    sc.exe by its full path, without cmd.exe; the state's number and constant name are printed
    the same in every display language (only the labels are translated).
    """
    sc = system32("sc.exe", facts.system_root)
    out = host.backend.run_argv(sc, "query", spec.service.name)
    assert re.search(r"\b4\s+RUNNING\b", out.stdout), (
        f"{spec.name}: expected `sc query {spec.service.name}` to say RUNNING, "
        f"found exit code {out.rc}: {out.stdout.strip()[:200]}"
    )
