"""The release switch and its faults, on a fake host that keeps NSSM's Application and the
history file as the real one would (``app.releases``): a failed gate rolls back, a run cut off
between the switch and the gate is finished by the next one, Ctrl-C after the switch goes back,
a host whose previous release was deleted by hand is told so, and a full disk leaves the old
release running. The real engine, steps and host-side op lists run; only the host is fake."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from compliance import desired, releases
from fleet import interrupt
from inventory import load_inventory
from inventory.models import Host
from provision import hostlock
from provision import releases as release_ops
from provision.engine import provision_host
from provision.hostops import decode_ops, is_host_ops
from provision.model import Status
from provision.rollback import rollback_host
from tests.support import ROOT
from tests.support.fakes import FakeConnection, free_lock, probe_answer
from tests.support.probe_doc import compliant_doc
from winhost.cmdline import Command
from winhost.connection import Result
from winhost.errors import HostError

OLD = "1.0.0-0000aaaa"


@pytest.fixture
def host(tmp_path: Path) -> Host:
    data = yaml.safe_load((ROOT / "inventory" / "hosts.yml").read_text())
    app = data["hosts"]["sandbox"]["app"]
    app.update(releases=True, health={"path": "/health", "settle_s": 1, "timeout_s": 5},
               tac_source=str(ROOT / "sandbox" / "demoapp" / "my_tacfile.tac"))
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    return load_inventory(path).host("sandbox")


@dataclass
class FakeHost:
    """NSSM's Application, the release folders and the history, as the host's commands leave
    them; the gate passes for the releases in ``healthy``."""

    unit: Host
    application: str
    names: list[str]
    healthy: set[str]
    history: list[dict[str, object]] = field(default_factory=list)
    loads: bool = True  # the new release's python loads the tac file
    disk_full: bool = False
    lost_after_switch: bool = False  # the connection drops once the switch is written
    stop_after_switch: bool = False  # Ctrl-C arrives while the switch command runs
    switch_fails: bool = False  # the switch command fails after Application is set
    prune_fails: bool = False  # an old release's folder cannot be removed
    restarts: int = 0

    def answer(self, conn: Conn, command: Command) -> Result:
        argv = command.argv
        if "virtualenv" in argv and self.disk_full:
            return Result(1, "", "OSError: [Errno 28] No space left on device")
        if release_ops._gate_source() in argv:
            name = releases.release_name(self.unit, self.application)
            ok = name in self.healthy
            doc = {"ok": ok, "why": "" if ok else "GET /health answered 500", "log": ["boom"]}
            return Result(0, release_ops.GATE_MARK + json.dumps(doc) + "\r\n", "")
        if "-c" in argv and argv[0].endswith("python.exe") and not is_host_ops(command):
            if command.line == conn.probe_line:
                return probe_answer(self.doc())
            return Result(0 if self.loads else 1, "",
                          "" if self.loads else "tacfleet: the tac file does not load: boom")
        if is_host_ops(command):
            switched = False
            for op in decode_ops(argv):
                if op[0] == "run" and op[2:3] == ("set",) and op[4] == "Application":
                    self.application = op[5]
                    switched = True
                elif op[0] == "write":
                    self.history.append(json.loads(base64.b64decode(op[3])))
                elif op[0] == "stop":
                    self.restarts += 1
                elif op[0] == "rmtree" and self.prune_fails:
                    return Result(1, "", "tacfleet: rmtree failed: [WinError 5] Access is denied")
                elif op[0] == "rmtree":
                    self.names = [n for n in self.names if not op[1].endswith("\\" + n)]
            if switched and self.lost_after_switch:  # it ran; its answer is lost
                self.lost_after_switch = False
                raise HostError(conn.host, "connection reset by peer")
            if switched and self.stop_after_switch:
                interrupt.STOP.set()
            if switched and self.switch_fails:  # Application set, a later set refused
                self.switch_fails = False
                return Result(1, "", "tacfleet: nssm.exe exited 5")
        if "virtualenv" in argv:
            self.names.append(releases.wanted(self.unit))
        return Result(0, "", "")

    def doc(self) -> dict[str, object]:
        doc = compliant_doc(self.unit)
        doc["service"]["parameters"]["Application"] = self.application
        doc["releases"] = {"path": "", "history": self.history,
                           "names": [{"name": n, "mtime": i, "python": True}
                                     for i, n in enumerate(self.names)]}
        here = releases.wanted(self.unit) in self.names
        doc["venv"].update(exists=here, python_exists=here, twistd_exists=here)
        if not here:
            doc["outputs"] = {}
        return doc


class Conn(FakeConnection):
    def __init__(self, fake: FakeHost, host: Host) -> None:
        super().__init__(host, lambda *_: Result(0, "", ""))
        from winhost.probe import probe_command

        self.probe_line = probe_command(desired.probe_spec(host)).line
        self.fake = fake

    def run(self, command, *, timeout=None, idempotent=False, stdin=None):  # type: ignore[override]
        if hostlock.bootstrap() in command.line:  # the host lock: free, as on a quiet host
            return free_lock(self, command.line, timeout)
        self.sent.append(command.line)
        self.stats.commands += 1
        return self.fake.answer(self, command)


def on_old(host: Host, **kw: object) -> tuple[FakeHost, Conn]:
    unit = host.units()[0]
    fake = FakeHost(unit, releases.release_python(unit, OLD), [OLD], {OLD}, **kw)  # type: ignore[arg-type]
    fake.history.append({"action": "deployed", "from": None, "to": OLD})
    return fake, Conn(fake, host)


@pytest.fixture(autouse=True)
def no_stop():
    interrupt.STOP.clear()
    yield
    interrupt.STOP.clear()


def test_a_healthy_release_is_switched_to_and_recorded(host):
    fake, conn = on_old(host)
    fake.healthy.add(releases.wanted(fake.unit))
    run = provision_host(host, conn)
    assert not run.failed, run.summary()
    assert releases.release_name(fake.unit, fake.application) == releases.wanted(fake.unit)
    assert [h["action"] for h in fake.history] == ["deployed", "switch", "deployed"]
    assert fake.history[1]["from"] == OLD and fake.history[1]["by"]


def test_a_failed_gate_rolls_back_to_the_release_before(host):
    fake, conn = on_old(host)
    run = provision_host(host, conn)
    assert run.failed and len(run.rolled_back) == 1, run.summary()
    assert run.rolled_back[0].startswith(f"tacdemo: rolled back to {OLD}: "), run.rolled_back
    assert "GET /health answered 500 | last log lines: boom" in run.rolled_back[0]
    assert fake.application == releases.release_python(fake.unit, OLD)
    assert [h["action"] for h in fake.history] == ["deployed", "switch", "rollback"]
    again = provision_host(host, conn)  # the rolled-back release is not deployed again
    assert again.failed and "was rolled back" in again.steps[-1].message, again.steps[-1]
    assert fake.application == releases.release_python(fake.unit, OLD)


def test_a_tac_that_does_not_load_is_never_switched_to(host):
    fake, conn = on_old(host, loads=False)
    run = provision_host(host, conn)
    assert run.failed and not run.rolled_back, run.summary()
    assert fake.application == releases.release_python(fake.unit, OLD)
    assert [h["action"] for h in fake.history] == ["deployed"]


def test_a_full_disk_leaves_the_old_release_running(host):
    fake, conn = on_old(host, disk_full=True)
    run = provision_host(host, conn)
    assert run.failed and run.steps[-1].step == "venv", run.summary()
    assert fake.application == releases.release_python(fake.unit, OLD) and fake.restarts == 0


def test_a_connection_lost_after_the_switch_is_finished_by_the_next_run(host):
    fake, conn = on_old(host, lost_after_switch=True)
    fake.healthy.add(releases.wanted(fake.unit))
    first = provision_host(host, conn)
    assert first.error and "connection reset" in first.error, first.summary()
    assert releases.pending(fake.unit, facts_now(fake)) is not None  # switched, gate owed
    second = provision_host(host, conn)  # the release may never have started: restart, gate
    assert not second.failed, second.summary()
    gate = next(s for s in second.steps if s.step == "release_gate")
    assert gate.status is Status.CHANGED and fake.restarts == 1, (gate, fake.restarts)
    assert [h["action"] for h in fake.history] == ["deployed", "switch", "deployed"]


def test_ctrl_c_after_the_switch_goes_back_to_the_old_release(host):
    fake, conn = on_old(host, stop_after_switch=True)
    run = provision_host(host, conn)
    assert run.error and run.rolled_back and "interrupted" in run.rolled_back[0], run.summary()
    assert fake.application == releases.release_python(fake.unit, OLD)


def test_a_previous_release_deleted_by_hand_is_named_by_rollback(host):
    fake, conn = on_old(host)
    fake.names = []  # the folder of the running release went too: nothing to go back to
    run = rollback_host(host, conn)
    assert run.failed and "no earlier release on the host" in run.steps[0].message, run.steps


def facts_now(fake: FakeHost):
    from winhost.probe import facts_from_probe

    spec = desired.probe_spec(fake.unit)
    return facts_from_probe("sandbox", spec, fake.doc())


def fleet_of(tmp_path: Path, count: int) -> list[Host]:
    data = yaml.safe_load((ROOT / "inventory" / "hosts.yml").read_text())
    entry = data["hosts"].pop("sandbox")
    entry["app"].update(releases=True, health={"path": "/health", "settle_s": 1, "timeout_s": 5},
                        tac_source=str(ROOT / "sandbox" / "demoapp" / "my_tacfile.tac"))
    entry["connection"].pop("password_file")
    entry["connection"]["password_env"] = "TACFLEET_TEST_UNUSED"
    data["hosts"] = {f"h{n:02d}": entry for n in range(1, count + 1)}
    path = tmp_path / "fleet.yml"
    path.write_text(yaml.safe_dump(data))
    return list(load_inventory(path).hosts)


def test_a_rollout_of_50_stops_at_the_batch_with_3_bad_hosts_and_rolls_that_batch_back(tmp_path):
    from provision.fleet import provision_rollout

    hosts = fleet_of(tmp_path, 50)
    bad = {"h12", "h15", "h18"}  # in the second batch of 10
    fakes: dict[str, FakeHost] = {}

    def connect(host: Host) -> Conn:
        if host.name not in fakes:
            fake, _ = on_old(host)
            if host.name not in bad:
                fake.healthy.add(releases.wanted(fake.unit))
            fakes[host.name] = fake
        return Conn(fakes[host.name], host)

    runs = provision_rollout(hosts, batch="10", max_fail="2", connector=connect)
    outcome = {r.host: r.outcome for r in runs}
    assert [h for h, o in outcome.items() if o == "upgraded"] == [f"h{n:02d}" for n in range(1, 11)]
    assert {h for h, o in outcome.items() if o == "rolled back"} == {
        f"h{n:02d}" for n in range(11, 21)}
    assert all(o == "failed" and "batch 2 of 5 had 3 failed host(s)" in r.error
               for r in runs[20:] for o in [r.outcome]), runs[20].error
    assert len(fakes) == 20  # hosts after the stopped batch were never connected to
    new = releases.wanted(fakes["h01"].unit)
    for name, fake in fakes.items():  # every host touched answers, on one release per batch
        running = releases.release_name(fake.unit, fake.application)
        assert running in fake.healthy and running == (new if name <= "h10" else OLD), name
    stopped = next(r for r in runs if r.host == "h11")
    assert "the rollout stopped: batch 2 of 5" in stopped.rolled_back[0], stopped.rolled_back


def test_a_canary_that_fails_stops_the_rollout_before_any_other_host(tmp_path):
    from provision.fleet import provision_rollout

    hosts = fleet_of(tmp_path, 6)
    made: list[str] = []

    def connect(host: Host) -> Conn:
        made.append(host.name)
        return on_old(host)[1]  # the new release fails its gate everywhere

    runs = provision_rollout(hosts, batch="50%", canary=1, connector=connect)
    assert made == ["h01"] and runs[0].outcome == "rolled back"
    assert all("the canary had 1 failed host(s)" in r.error for r in runs[1:]), runs[1].error


def test_after_a_good_deploy_the_oldest_release_beyond_keep_releases_is_removed(host):
    fake, conn = on_old(host)
    fake.names = ["0.1.0-0000000a", "0.2.0-0000000b", OLD]
    fake.healthy.add(releases.wanted(fake.unit))
    run = provision_host(host, conn)
    assert not run.failed, run.summary()
    pruned = next(s for s in run.steps if s.step == "prune_releases")
    assert pruned.status is Status.CHANGED, pruned
    assert fake.names == ["0.2.0-0000000b", OLD, releases.wanted(fake.unit)]
    again = provision_host(host, conn)
    assert not again.failed and again.changed == 0, again.summary()


def test_a_switch_command_that_fails_halfway_is_rolled_back(host):
    fake, conn = on_old(host, switch_fails=True)
    run = provision_host(host, conn)
    assert run.failed and run.rolled_back, run.summary()
    assert fake.application == releases.release_python(fake.unit, OLD)
    assert [h["action"] for h in fake.history] == ["deployed", "switch", "rollback"]


def test_a_prune_that_fails_after_the_gate_passed_rolls_nothing_back(host):
    fake, conn = on_old(host, prune_fails=True)
    fake.names = ["0.1.0-0000000a", "0.2.0-0000000b", OLD]
    fake.healthy.add(releases.wanted(fake.unit))
    run = provision_host(host, conn)
    assert run.failed and run.steps[-1].step == "prune_releases", run.summary()
    assert not run.rolled_back and run.outcome == "failed"
    assert releases.release_name(fake.unit, fake.application) == releases.wanted(fake.unit)
