"""Drift made by hand on the sandbox host: the checks name it, plan shows it, provision heals it.

Also: a provision cut off at every step (the connection dropped after the step's change ran but
before its answer came back) converges on the next run.
"""

from __future__ import annotations

import time

import pytest

from inventory import load_inventory
from provision.fleet import provision_one as provision
from provision.model import Status
from tests.integration.helpers import failing
from winhost.cmdline import build, command, system32

pytestmark = pytest.mark.sandbox


def _tampers(host):
    svc, venv = host.service.name, host.python.venv
    nssm = host.nssm.path
    return {
        "delete the tac file": (
            build("python.exe", "-c", "import os, sys; os.remove(sys.argv[1])",
                  host.app.tac_file),
            {"tac_file", "app_directory"}),
        "change the start type": (
            command(system32("sc.exe"), "config", svc, "start=", "demand"), {"start_type"}),
        "change the account": (
            command(system32("sc.exe"), "config", svc, "obj=", "LocalSystem"), {"service_account"}),
        "change AppDirectory": (
            build(nssm, "set", svc, "AppDirectory", "C:\\windows\\temp"), {"app_directory"}),
        "uninstall Twisted": (
            build(venv + "\\Scripts\\python.exe", "-m", "pip", "uninstall", "-y", "twisted"),
            {"twisted_importable", "packages_installed", "twistd_help"}),
        # pip's metadata still says Twisted is installed: only a reinstall heals it (issue 16.9)
        "break twistd, metadata intact": (
            build(venv + "\\Scripts\\python.exe", "-c",
                  "import twisted.scripts.twistd as m; open(m.__file__, 'w').write('raise "
                  "SystemExit(3)')"),
            {"twistd_help"}),
        # Issue 16 item 1: an explicit Everyone:(OI)(CI)F; provisioning must remove it
        "grant Everyone full control": (
            build("C:\\Windows\\System32\\icacls.exe", host.app.app_directory, "/grant",
                  "*S-1-1-0:(OI)(CI)F"),
            {"permissions"}),
        "stop the service": (
            command(system32("sc.exe"), "stop", svc), {"service_running", "app_answering"}),
    }


TAMPERS = ["delete the tac file", "change the start type", "change the account",
           "change AppDirectory", "uninstall Twisted", "break twistd, metadata intact",
           "grant Everyone full control", "stop the service"]


@pytest.fixture
def host(sandbox_host):
    host = load_inventory(sandbox_host.inventory).host("sandbox")
    run = provision(host)  # start from a compliant host, whatever ran before
    assert not run.error and run.count(Status.FAILED) == 0, run.summary
    return host


@pytest.mark.parametrize("tamper", TAMPERS)
def test_tamper_is_found_planned_and_healed(sandbox_host, host, tamper):
    command, expected = _tampers(host)[tamper]
    with sandbox_host.connect() as conn:
        result = conn.run(command, timeout=300)
    assert result.rc == 0, result.stdout + result.stderr
    found = failing(host)
    deadline = time.monotonic() + 30  # a stop may still be pending when nssm returns
    while set(found) != expected and time.monotonic() < deadline:
        time.sleep(1)
        found = failing(host)
    assert set(found) == expected, found
    for message in found.values():
        assert message.startswith(f"{host.name}: expected ") and ", found " in message

    plan = provision(host, check_only=True)
    assert plan.count(Status.WOULD_CHANGE) >= 1 and not plan.error, plan.summary
    assert set(found) == set(failing(host)), "plan must not change the host"

    healed = provision(host)
    assert not healed.error and healed.count(Status.FAILED) == 0, [
        (s.step, s.message) for s in healed.steps if s.status is Status.FAILED]
    assert failing(host) == {}


def test_provision_cut_off_at_every_step_converges(sandbox_host):
    """Each run drops the connection right after one step's first change ran on the host."""
    from sandbox import control

    control.reset(sandbox_host.info["name"])  # a bare host again: every step has work to do
    host = load_inventory(sandbox_host.inventory).host("sandbox")
    faults = control.fault_switch(sandbox_host.info["name"])
    interrupted: list[str] = []
    dropped: list[str] = []
    for _ in range(20):
        plan = provision(host, check_only=True)
        assert not plan.error, plan.error
        todo = [s for s in plan.steps if s.status is Status.WOULD_CHANGE and s.commands]
        if not todo:
            break
        step = todo[0]
        # the command line alone: a plan shows a command's masked standard input after it
        line = step.commands[0].partition(" (standard input: ")[0]
        faults.update(drop_on=line)
        run = provision(host)
        faults.update(drop_on="")
        if not run.error and not run.failed and run.changed == 0:
            continue  # what the plan saw was settling by itself (a service still starting)
        assert "lost during a change" in run.error, (step.step, run.summary())
        interrupted.append(step.step)
        dropped.append(line)
    # Every run got further: no command was cut off twice (a step with several commands, like
    # the tac upload, may be cut off once per command).
    assert len(set(dropped)) == len(dropped), interrupted
    assert len(set(interrupted)) >= 8, interrupted
    final = provision(host)
    assert final.changed == 0 and not final.error, final.summary
    assert failing(host) == {}
