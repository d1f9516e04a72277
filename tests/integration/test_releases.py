"""Releases side by side on the sandbox host (``app.releases``): a second service, ``reldemo``,
whose app versions are real wheels built here (``tests.support.release_app``), each installed
into a venv of its own under ``C:\\PythonEnvs\\reldemo\\releases`` by the venv's pip under Wine.

A good upgrade switches NSSM's Application and passes the health gate while a probe on this
machine asks the app every 100 ms; a release whose tac file cannot load is never switched to; a
release that exits after 5 s, or answers 500 on its health path, is rolled back automatically
and the old release answers again. The tests run in order on one module-wide service, removed at
the end (the session's tacdemo service is not touched).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tacfleet_cli as cli
from compliance import desired, releases
from compliance.audit import audit_host
from inventory import load_inventory
from inventory.models import Host
from provision.deprovision import deprovision_host
from provision.fleet import provision_one as provision
from provision.hostops import host_ops
from provision.model import HostRun, Status
from tests.support import release_app
from tests.support.sandbox_hosts import SandboxHost
from winhost.probe import gather_facts

pytestmark = pytest.mark.sandbox


@dataclass
class Rel:
    sandbox: SandboxHost
    inventory: Path
    wheels: Path
    port: int

    def host(self) -> Host:
        return load_inventory(self.inventory).host("sandbox")

    def unit(self) -> Host:
        return self.host().units()[0]


@pytest.fixture(scope="module")
def rel(sandbox_host, tmp_path_factory) -> Iterator[Rel]:
    from sandbox import control

    folder = tmp_path_factory.mktemp("releases")
    wheels, port = folder / "wheels", control.free_port_pair()
    tac = release_app.write_tac(folder / "reldemo.tac")
    inventory = release_app.release_inventory(sandbox_host.inventory, folder / "hosts.yml", port,
                                              wheels, tac)
    yield Rel(sandbox_host, inventory, wheels, port)
    host = load_inventory(inventory).host("sandbox")
    with sandbox_host.connect() as conn:
        removed = deprovision_host(host, conn, purge=True)
        conn.run(host_ops(host.python.base, ("rmtree", host.app.app_directory),
                          *(("rmtree", f"{host.python.wheelhouse}\\{w.name}")
                            for w in wheels.glob("*.whl"))))
    assert not removed.failed, removed.summary()


def failure(run: HostRun) -> str:
    return run.summary() + " " + str([(s.step, s.status.value, s.message)
                                      for s in run.steps if s.status is not Status.OK])


def ok(run: HostRun) -> list[str]:
    assert not run.failed and not run.error, failure(run)
    return [s.step for s in run.steps if s.status is Status.CHANGED]


def running_release(rel: Rel) -> str | None:
    unit = rel.unit()
    with rel.sandbox.connect() as conn:
        facts = gather_facts(conn, desired.probe_spec(rel.host())).for_service("reldemo")
    return releases.running(unit, facts)


def test_a_good_upgrade_switches_the_release_while_the_app_keeps_answering(rel):
    release_app.build("1.0.0", "good", rel.wheels)
    first = rel.unit()
    assert ok(provision(rel.host()))  # a new service: the first release, gated
    assert release_app.version(rel.port) == "1.0.0"
    assert running_release(rel) == releases.wanted(first)

    release_app.build("1.1.0", "good", rel.wheels)
    second = rel.unit()
    assert releases.wanted(second).startswith("1.1.0-")
    with release_app.Downtime(rel.port) as probe:
        changed = ok(provision(rel.host()))
    assert {"venv", "packages", "service", "running", "release_gate"} <= set(changed), changed
    assert probe.versions == ["1.0.0", "1.1.0"], probe.versions
    print(f"good upgrade: longest time without an answer {probe.longest:.1f} s")
    assert probe.longest <= 10, probe.longest
    assert release_app.version(rel.port) == "1.1.0"

    again = provision(rel.host())
    assert ok(again) == [] and again.commands <= 3, failure(again)  # lock, probe, release
    audit = audit_host(rel.host())
    failing = [f.message for f in audit.findings if not f.ok and not f.skipped]
    assert not failing, failing


def test_a_release_whose_tac_file_cannot_load_is_never_switched_to(rel):
    before = running_release(rel)
    bad = release_app.build("1.2.0", "import", rel.wheels)
    try:
        with release_app.Downtime(rel.port) as probe:
            run = provision(rel.host())
        assert run.failed and not run.rolled_back, failure(run)
        step = next(s for s in run.steps if s.status is Status.FAILED)
        assert step.step == "service" and "does not load" in step.message, failure(run)
        assert "broken at import" in step.message, step.message
        assert probe.versions == ["1.1.0"] and probe.longest == 0, probe
        assert running_release(rel) == before
    finally:
        bad.unlink()


@pytest.mark.parametrize(("mode", "why"), [("exits", "stopped answering"),
                                           ("500", "answered 500")])
def test_a_release_that_fails_its_health_gate_is_rolled_back(rel, mode, why):
    before = running_release(rel)
    bad = release_app.build("1.3.0" if mode == "exits" else "1.4.0", mode, rel.wheels)
    try:
        with release_app.Downtime(rel.port) as probe:
            run = provision(rel.host())
        assert run.failed and len(run.rolled_back) == 1, failure(run)
        assert f"rolled back to {before}" in run.rolled_back[0], run.rolled_back
        assert why in run.rolled_back[0], run.rolled_back
        back = next(s for s in run.steps if s.step == "rollback")
        assert back.status is Status.CHANGED, failure(run)
        print(f"{mode}: rolled back in {back.elapsed:.1f} s, longest time without an answer "
              f"{probe.longest:.1f} s")
        assert back.elapsed <= 30, back.elapsed
        assert release_app.version(rel.port) == "1.1.0" and running_release(rel) == before

        again = provision(rel.host())  # a rolled-back release is not deployed again
        assert again.failed, failure(again)
        assert any("was rolled back" in s.message for s in again.steps), failure(again)
        assert running_release(rel) == before
    finally:
        bad.unlink()


def test_invoke_rollback_goes_back_to_the_release_before_and_provision_keeps_it_there(rel):
    current, log = running_release(rel), rel.inventory.parent / "rollback.log"
    with release_app.Downtime(rel.port) as probe:
        code = cli.logged("rollback", str(log), cli.rollback, str(rel.inventory), "sandbox")
    text = log.read_text()
    assert code == 0, text
    assert release_app.version(rel.port) == "1.0.0", text  # the release 1.1.0 was switched from
    back = running_release(rel)
    assert back is not None and back.startswith("1.0.0-") and back != current
    assert f"rolled back from {current} to {back} (by hand" in text, text
    print(f"invoke rollback: longest time without an answer {probe.longest:.1f} s")
    assert probe.longest <= 10 and probe.versions == ["1.1.0", "1.0.0"], probe

    again = provision(rel.host())  # the inventory still asks for 1.1.0, rolled back by hand
    assert again.failed and any("by hand" in s.message for s in again.steps), failure(again)
    assert release_app.version(rel.port) == "1.0.0"
    code = cli.logged("rollback", str(log), cli.rollback, str(rel.inventory), "sandbox",
                      to="1.1.0")
    assert code == 0 and release_app.version(rel.port) == "1.1.0", log.read_text()


def release_folders(rel: Rel) -> list[str]:
    with rel.sandbox.connect() as conn:
        facts = gather_facts(conn, desired.probe_spec(rel.host())).for_service("reldemo")
    return sorted(r.name for r in facts.releases.names) if facts.releases else []


def test_a_connection_lost_between_the_switch_and_the_gate_is_finished_by_the_next_run(rel):
    from sandbox import control

    release_app.build("1.5.0", "good", rel.wheels)
    wanted = releases.wanted(rel.unit())
    faults = control.fault_switch(rel.sandbox.info["name"])
    # the switch runs to its end on the host, then the answer carrying its result is lost
    faults.update(drop_on="Application C:\\PythonEnvs\\reldemo\\releases\\")
    try:
        cut = provision(rel.host())
    finally:
        faults.clear()
    assert cut.error and not cut.rolled_back, failure(cut)
    assert running_release(rel) == wanted  # switched, but the old release still runs
    assert release_app.version(rel.port) == "1.1.0"

    with release_app.Downtime(rel.port) as probe:
        done = provision(rel.host())  # the gate is owed: restart the release, gate it
    assert "release_gate" in ok(done), failure(done)
    gate = next(s for s in done.steps if s.step == "release_gate")
    assert len(gate.commands) == 3, gate.commands  # restart, gate, the deployed line
    assert probe.versions == ["1.1.0", "1.5.0"], probe
    folders = release_folders(rel)  # 1.0.0 1.1.0 1.2.0 1.3.0 1.4.0 1.5.0 built so far
    assert len(folders) == 3 and wanted in folders, folders  # pruned to keep_releases
    assert any(f.startswith("1.1.0-") for f in folders)  # the previous one is kept


def test_a_disk_too_full_for_the_new_release_leaves_the_old_one_running(rel):
    from sandbox import control
    from sandbox.host.prefix import WinePrefix

    name, folder = rel.sandbox.info["name"], "C:\\PythonEnvs\\reldemo\\releases"
    host_folder = WinePrefix(Path(rel.sandbox.info["prefix"])).host_path(folder)
    # what the folder takes in blocks (a venv is thousands of small files), as tmpfs counts it
    used = sum(p.lstat().st_blocks * 512 for p in host_folder.rglob("*")) // 1024
    wheel = release_app.build("1.6.0", "good", rel.wheels)
    before, answering = running_release(rel), release_app.version(rel.port)
    control.limit_disk(name, folder, used + 2048)  # 2 MiB free: no room for a venv of Twisted
    try:
        with release_app.Downtime(rel.port) as probe:
            run = provision(rel.host())
        assert run.failed and not run.rolled_back, failure(run)
        failed = next(s for s in run.steps if s.status is Status.FAILED)
        assert failed.step in ("venv", "packages"), failure(run)
        assert probe.versions == [answering] and probe.longest == 0, probe
    finally:
        control.unlimit_disk(name)  # the running release's files are left as they were
        wheel.unlink()
    assert running_release(rel) == before and release_app.version(rel.port) == answering
