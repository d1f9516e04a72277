"""A real WinRM endpoint on 127.0.0.1 (commands run by /bin/sh) for the connection's tests."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from sandbox.executor import PosixShellExecutor
from sandbox.winrm.server import WinRMServer
from winhost.winrm_connection import WinRMConnection


@dataclass
class Endpoint:
    server: WinRMServer
    url: str
    user: str
    password: str


@pytest.fixture
def endpoint(tmp_path) -> Iterator[Endpoint]:
    password = secrets.token_urlsafe(16)
    server = WinRMServer(PosixShellExecutor(), user="tacfleet", password=password,
                         state_dir=tmp_path)
    server.start()
    try:
        yield Endpoint(server, server.endpoint, "tacfleet", password)
    finally:
        server.stop()


# -- the sandbox Windows host (Wine) ---------------------------------------------------------------


@dataclass
class SandboxHost:
    info: dict
    inventory: Path

    @property
    def password(self) -> str:
        return Path(self.info["password_file"]).read_text().strip()

    def connect(self) -> WinRMConnection:
        return WinRMConnection(self.info["name"], self.info["endpoint"], user=self.info["user"],
                               password=SecretStr(self.password))


def sandbox_name(suffix: str = "") -> str:
    """This run's own sandbox name: ``$TACFLEET_TEST_SANDBOX`` or ``pytest-<pid>``, so two test
    runs on one machine never reset each other's host."""
    return (os.environ.get("TACFLEET_TEST_SANDBOX") or f"pytest-{os.getpid()}") + suffix


@contextmanager
def fresh_sandbox(suffix: str = "", *, locale: str | None = None,
                  realm: bool = False) -> Iterator[dict]:
    """A host from the bare image under this run's name; stopped and (unless named by the user,
    or a shell was left open on it) removed afterwards. Ends with a failure naming the host and
    its request log when the endpoint's counters show an open shell (``shells_left_open``)."""
    from sandbox import control, layout

    name = sandbox_name(suffix)
    control.down(name)
    control.reset(name)
    info = control.up(name, control.free_port_pair(), locale=locale, realm=realm)
    leak = None
    _RUNNING.add(name)
    try:
        yield info
        leak = shells_left_open(name)
    finally:
        _RUNNING.discard(name)
        control.down(name)
        if not os.environ.get("TACFLEET_TEST_SANDBOX") and leak is None:
            shutil.rmtree(layout.Paths(name).root, ignore_errors=True)
    if leak is not None and name not in _REPORTED:
        pytest.fail(leak, pytrace=False)


#: Sandbox hosts started by ``fresh_sandbox`` and still up (the session's shared host).
_RUNNING: set[str] = set()
#: Hosts whose leak a module's check already reported (reported once, kept for inspection).
_REPORTED: set[str] = set()


@pytest.fixture(scope="module", autouse=True)
def no_shell_left_open(request, tmp_path_factory) -> Iterator[None]:
    """After each test module, the hosts still up must show no open shell: a module fixture's
    ``control.reset`` restarts the endpoint and its counters, so the end of the session alone
    would see only the last module's shells. A leak's request log is copied aside (the next
    reset deletes it)."""
    yield
    keep = tmp_path_factory.getbasetemp() / f"shell-leak-{request.module.__name__}"
    leaks = {name: leak for name in sorted(_RUNNING)
             if (leak := shells_left_open(name, keep=keep))}
    _REPORTED.update(leaks)
    if leaks:
        pytest.fail("\n".join(leaks.values()), pytrace=False)


def shells_left_open(name: str, *, settle: float = 5.0, keep: Path | None = None) -> str | None:
    """Why the host ``name`` fails "no shell left open", or None: its endpoint's counters
    (``stats.json``, written after every request) must show zero open shells once the last
    Delete has been answered (``settle`` seconds at most). ``keep``: copy the request log there.
    A host a test stopped has no shells (stopping its endpoint deleted them)."""
    from sandbox import control, layout

    if not control.status(name)["running"]:
        return None
    root = layout.Paths(name).root
    deadline = time.monotonic() + settle
    while True:
        stats = layout.read_json(root / "stats.json") or {}
        open_shells = stats.get("open_shells")
        if open_shells == 0:
            return None
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    log = root / "requests.log"
    if keep is not None and log.is_file():
        keep.mkdir(parents=True, exist_ok=True)
        log = Path(shutil.copy(log, keep / f"{name}.requests.log"))
    return (f"sandbox host {name!r}: {open_shells} WinRS shell(s) left open after its tests "
            f"(created {stats.get('shells_created')}, idle-deleted "
            f"{stats.get('idle_shells_deleted')}); a client dropped a shell without a Delete. "
            f"Kept for you: {log} lists each request (look for a Create without its Delete)")


@pytest.fixture(scope="session")
def sandbox_host(tmp_path_factory) -> Iterator[SandboxHost]:
    """A fresh sandbox host from the bare image, shared by the session's sandbox tests; its
    teardown fails the session if any test left a WinRS shell open on it."""
    from sandbox import control

    with fresh_sandbox() as info:
        inventory = control.write_inventory(
            info, tmp_path_factory.mktemp("inventory") / "hosts.yml",
            app_port=control.free_port_pair())
        yield SandboxHost(info, inventory)
