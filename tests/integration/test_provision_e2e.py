"""The product end to end on the sandbox host: plan, provision, comply, stay idempotent, heal drift.

One scenario in order (each step needs the previous one's host), through the real pywinrm client
over NTLM on 127.0.0.1 and real Windows programs under Wine.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from inventory import load_inventory
from provision.fleet import provision_one as provision
from provision.model import Status
from tests.integration.helpers import assert_pytest_checks_pass, failing
from winhost.cmdline import command, system32

pytestmark = pytest.mark.sandbox
ROOT = Path(__file__).resolve().parents[2]


def test_provision_a_bare_host_then_nothing_to_do_then_heal_drift(sandbox_host):
    from sandbox import control

    control.reset(sandbox_host.info["name"])  # bare, whatever other tests did before
    host = load_inventory(sandbox_host.inventory).host("sandbox")

    plan = provision(host, check_only=True)
    assert not plan.error and plan.count(Status.WOULD_CHANGE) >= 8, plan.summary
    assert "service_exists" in failing(host), "the plan must not have changed the host"

    first = provision(host)
    assert not first.error and first.count(Status.FAILED) == 0, [
        (s.step, s.message) for s in first.steps if s.status is Status.FAILED] or first.error
    assert failing(host) == {}
    with urllib.request.urlopen(f"http://127.0.0.1:{host.app.port}/", timeout=10) as answer:
        assert json.loads(answer.read()) == {"app": "tacdemo", "version": "1.0.0"}

    second = provision(host)
    assert second.changed == 0, second.summary
    # lock, probe, release: the host lock makes a no-op run 3 commands
    assert second.commands <= 3 and second.http_requests <= 13, second.summary

    # Someone changes the service by hand: the checks say exactly what and where.
    with sandbox_host.connect() as conn:
        demand = command(system32("sc.exe"), "config", host.service.name, "start=", "demand")
        assert conn.run(demand).rc == 0
    drift = failing(host)
    assert set(drift) == {"start_type"}
    assert "expected delayed-auto, found demand" in drift["start_type"]

    healed = provision(host)
    assert [s.step for s in healed.steps if s.status is Status.CHANGED] == ["start_type"]
    assert failing(host) == {}


def test_pytest_checks_command_line_passes_on_the_provisioned_host(sandbox_host):
    """`pytest checks --host NAME --inventory FILE`, as a user runs it (after the scenario)."""
    assert_pytest_checks_pass(sandbox_host.inventory)
