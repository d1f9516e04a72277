"""Inventory values holding cmd.exe's metacharacters reach the host as typed (issue 10).

Every product command runs without cmd.exe, so a display name or description with ``%PATH%``,
``!x!``, ``^``, ``&``, parentheses and non-ASCII letters is set exactly, judged compliant, and
the next provision changes nothing; so is an app.environment value, which travels over
standard input instead of a command line.
"""

from __future__ import annotations

import pytest

from compliance import desired
from inventory import load_inventory
from provision.fleet import provision_one as provision
from provision.model import Status
from tests.integration.helpers import failing
from winhost.probe import gather_facts

pytestmark = pytest.mark.sandbox

DISPLAY = "Tacdemo %PATH% !x! ^ & (1) é漢"
DESCRIPTION = 'Runs 100% of "tacdemo" %PATH:a=b% !x! ^^ <a|b> & (done) — ü'
#: an environment value goes over standard input into the registry (``setenv``), as typed
ENV_VALUE = 'a "quoted" %PATH% !x! ^ & (1) = é漢 \\share\\'


def test_metacharacters_in_names_arrive_as_typed(sandbox_host):
    # No reset: the host as the provision modules before this one left it (named to run after
    # them); the names are set with the same nssm/sc commands on a new service and a changed one.
    base = load_inventory(sandbox_host.inventory).host("sandbox")
    host = base.model_copy(update={"service": base.service.model_copy(
        update={"display_name": DISPLAY, "description": DESCRIPTION}), "app": base.app.model_copy(
        update={"environment": {**base.app.environment, "TYPED": ENV_VALUE}})})

    first = provision(host)
    assert not first.error and first.count(Status.FAILED) == 0, [
        (s.step, s.message) for s in first.steps if s.status is Status.FAILED] or first.error
    with sandbox_host.connect() as conn:
        facts = gather_facts(conn, desired.probe_spec(host))
    assert facts.service.display_name == DISPLAY
    assert facts.service.description == DESCRIPTION
    assert f"TYPED={ENV_VALUE}" in facts.service.param("AppEnvironmentExtra")
    assert failing(host) == {}
    assert provision(host).changed == 0
