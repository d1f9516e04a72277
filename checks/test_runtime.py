"""The running service and the app it serves."""

import re

import pytest

from checks.conftest import require
from winhost.cmdline import system32

pytestmark = pytest.mark.runtime


def test_service_running(judged):
    require(judged["service_running"])


def test_app_answering(judged):
    require(judged["app_answering"])


@pytest.mark.second_opinion
def test_service_state_agrees_with_testinfra(spec, host, facts):
    """A second opinion through testinfra's API: `sc query` says 4 RUNNING.

    Opt-in (``--second-opinion``): it sends a second command over a second shell per host,
    which the probe's own reading of the service control manager already answers; it stays as
    the model of a user's own testinfra test. sc.exe by its full path, without cmd.exe; the
    state's number and constant name are printed the same in every display language.
    """
    sc = system32("sc.exe", facts.system_root)
    out = host.backend.run_argv(sc, "query", spec.service.name)
    assert re.search(r"\b4\s+RUNNING\b", out.stdout), (
        f"{spec.name}: expected `sc query {spec.service.name}` to say RUNNING, "
        f"found exit code {out.rc}: {out.stdout.strip()[:200]}"
    )
