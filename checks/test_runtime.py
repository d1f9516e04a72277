"""The running service and the app it serves."""

import re

import pytest
import testinfra.host

from checks.conftest import require
from compliance.finding import Finding
from inventory.models import Host
from winhost.cmdline import system32
from winhost.probe import HostFacts

pytestmark = pytest.mark.runtime


def test_service_running(finding: Finding) -> None:
    require(finding)


def test_app_answering(finding: Finding) -> None:
    require(finding)


def test_release_gated(finding: Finding) -> None:
    require(finding)


def test_releases_pruned(finding: Finding) -> None:
    require(finding)


@pytest.mark.second_opinion
def test_service_state_agrees_with_testinfra(entry: Host, host: testinfra.host.Host,
                                              facts: HostFacts) -> None:
    """A second opinion through testinfra's API: `sc query` says 4 RUNNING.

    Opt-in (``--second-opinion``): it sends a second command over a second shell per host,
    which the probe's own reading of the service control manager already answers; it stays as
    the model of a user's own testinfra test. sc.exe by its full path, without cmd.exe; the
    state's number and constant name are printed the same in every display language.
    """
    sc = system32("sc.exe", facts.system_root)
    out = host.backend.run_argv(sc, "query", entry.service.name)
    assert re.search(r"\b4\s+RUNNING\b", out.stdout), (
        f"{entry.name}: expected `sc query {entry.service.name}` to say RUNNING, "
        f"found exit code {out.rc}: {out.stdout.strip()[:200]}"
    )
