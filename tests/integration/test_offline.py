r"""An air-gapped host on the sandbox, end to end: ``invoke bundle``, then a bare host that
reaches nothing but its own loopback (``sandbox.up --offline``: a network namespace) provisioned
to compliant with every byte from the controller — the installer over the certutil path, every
wheel streamed into ``<base folder>\tacfleet-wheelhouse``, nssm from its wheel — and the faults
an upload meets: a corrupted chunk, a full disk (the next run sends only the rest). The tests
share one host, in order; real pywinrm-compatible NTLM over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from compliance.desired import upload_part
from inventory import load_inventory
from inventory.models import Host
from provision.bundle import build
from provision.fleet import provision_one as provision
from provision.model import HostRun, Status
from sandbox.host.image import cache_root
from tests.integration.helpers import failing
from tests.support.sandbox_hosts import SandboxHost, fresh_sandbox
from tests.support.wheels import make_wheel
from winhost.cmdline import command

pytestmark = pytest.mark.sandbox

BASE = "C:\\Py311Offline\\python.exe"
WHEELHOUSE = "C:\\Py311Offline\\tacfleet-wheelhouse"


@pytest.fixture(scope="module")
def offline_host(tmp_path_factory) -> Iterator[SandboxHost]:
    from sandbox import control

    folder = tmp_path_factory.mktemp("offline")
    with fresh_sandbox("-offline", offline=True) as info:
        path = control.write_offline_inventory(info, folder / "hosts.yml", base=BASE,
                                               app_port=control.free_port_pair())
        yield SandboxHost(info, path)


def _host(sandbox: SandboxHost, *, extra: str | None = None) -> Host:
    """The offline entry, its bundle built (from the image's wheel cache: no index) first."""
    data = yaml.safe_load(sandbox.inventory.read_text())
    if extra:
        data["hosts"]["sandbox"]["python"]["packages"] = ["Twisted", "pywin32", extra]
        sandbox.inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    links = [str(cache_root() / "downloads" / "wheels"), str(sandbox.inventory.parent / "extra")]
    build(list(load_inventory(sandbox.inventory, check_files=False).hosts), find_links=links,
          no_index=True)
    return load_inventory(sandbox.inventory).host("sandbox")  # validated with its bundle


def _on_host(sandbox: SandboxHost, windows_path: str) -> Path:
    from sandbox.host.prefix import WinePrefix

    return WinePrefix(Path(sandbox.info["prefix"])).host_path(windows_path)


def _step(run: HostRun, name: str):
    return next(s for s in run.steps if s.step == name)


def test_the_offline_host_reaches_nothing_but_its_own_loopback(offline_host):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    threading.Thread(target=lambda: listener.accept(), daemon=True).start()
    script = (f"import socket\ntry:\n socket.create_connection(('127.0.0.1', {port}), 5)\n"
              " print('reached the controller')\nexcept OSError as exc:\n"
              " print('refused', exc)\nown = socket.create_server(('127.0.0.1', 0))\n"
              "socket.create_connection(own.getsockname(), 5)\nprint('own loopback')")
    try:
        with offline_host.connect() as conn:
            result = conn.run(command("C:\\Python311\\python.exe", "-c",
                                      f"exec({script!r})"), timeout=60)
    finally:
        listener.close()
    assert result.rc == 0, result.stderr
    assert "refused" in result.stdout and "reached" not in result.stdout
    assert "own loopback" in result.stdout


def test_a_bare_offline_host_is_provisioned_from_the_bundle_alone(offline_host):
    host = _host(offline_host)
    assert host.python.host_wheelhouse == WHEELHOUSE
    run = provision(host)
    assert not run.failed, run.error or [(s.step, s.message) for s in run.steps
                                         if s.status is Status.FAILED]
    assert _step(run, "base_python").status is Status.CHANGED  # the installer from the bundle
    assert _step(run, "bundle").status is Status.CHANGED
    sent = [c for s in run.steps for c in s.commands]
    assert not any("C:\\wheels" in c or "curl" in c or "index-url" in c for c in sent)
    install = next(c for c in _step(run, "packages").commands if " pip install " in c)
    assert f"--no-index --only-binary=:all: --find-links {WHEELHOUSE}" in install
    assert failing(host) == {}
    again = provision(host)
    assert again.changed == 0 and again.commands == 2  # nothing sent: lock, probe, release


@pytest.fixture(scope="module")
def big_wheel(offline_host) -> Path:
    """A 3 MB wheel of a new package the app now needs."""
    extra = offline_host.inventory.parent / "extra"
    path = make_wheel(extra, "bigdemo", "1.0")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("bigdemo/blob.bin", os.urandom(3_000_000), zipfile.ZIP_STORED)
    return path


def test_a_corrupted_chunk_fails_the_host_and_leaves_nothing_at_the_final_path(
        offline_host, big_wheel):
    from sandbox import control

    host = _host(offline_host, extra="bigdemo")
    faults = control.fault_switch(offline_host.info["name"])
    faults.update(corrupt_send=1)
    try:
        run = provision(host)
    finally:
        faults.clear()
    step = _step(run, "bundle")
    assert step.status is Status.FAILED and "has sha256" in step.message, step.message
    final = _on_host(offline_host, f"{WHEELHOUSE}\\{big_wheel.name}")
    assert not final.exists() and not Path(upload_part(str(final))).exists()
    assert "bundle_shipped" in failing(host)


def test_a_full_disk_fails_the_host_and_the_next_run_sends_only_the_rest(
        offline_host, big_wheel):
    from sandbox import control

    host = _host(offline_host, extra="bigdemo")
    folder = _on_host(offline_host, WHEELHOUSE)
    used = sum(p.stat().st_size for p in folder.iterdir()) // 1024
    control.limit_disk(offline_host.info["name"], WHEELHOUSE, used + 1024)
    try:
        run = provision(host)
        step = _step(run, "bundle")
        assert step.status is Status.FAILED and "the disk is full" in step.message, step.message
        final = folder / big_wheel.name
        part = Path(upload_part(str(final)))
        assert not final.exists() and 0 < part.stat().st_size < big_wheel.stat().st_size
    finally:
        control.unlimit_disk(offline_host.info["name"])
    run = provision(host)
    assert not run.failed, run.error or [(s.step, s.message) for s in run.steps
                                         if s.status is Status.FAILED]
    receive = re.search(rf"receive \S+{re.escape(big_wheel.name)}\S* (\d+) (\d+) ",
                        _step(run, "bundle").commands[0])
    assert receive and 0 < int(receive.group(2)) < int(receive.group(1))  # only the rest
    assert failing(host) == {}
    assert provision(host).commands == 2
