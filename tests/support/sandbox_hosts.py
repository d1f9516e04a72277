"""The sandbox hosts the integration tests start: a fresh host from the bare image under this
run's own name (``fresh_sandbox``), a handle to one (``SandboxHost``), and the check that no test
left a WinRS shell open on it (``shells_left_open``). The fixtures are in
``tests/integration/conftest.py``."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from winhost.winrm_connection import WinRMConnection


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
                  realm: bool = False, offline: bool = False) -> Iterator[dict]:
    """A host from the bare image under this run's name; stopped and (unless named by the user,
    or a shell was left open on it) removed afterwards. Ends with a failure naming the host and
    its request log when the endpoint's counters show an open shell (``shells_left_open``)."""
    from sandbox import control, layout

    name = sandbox_name(suffix)
    control.down(name)
    control.reset(name)
    info = control.up(name, control.free_port_pair(), locale=locale, realm=realm,
                      offline=offline)
    leak = None
    RUNNING.add(name)
    try:
        yield info
        leak = shells_left_open(name)
    finally:
        RUNNING.discard(name)
        control.down(name)
        if not os.environ.get("TACFLEET_TEST_SANDBOX") and leak is None:
            shutil.rmtree(layout.Paths(name).root, ignore_errors=True)
    if leak is not None and name not in REPORTED:
        pytest.fail(leak, pytrace=False)


#: Sandbox hosts started by ``fresh_sandbox`` and still up (the session's shared host).
RUNNING: set[str] = set()
#: Hosts whose leak a module's check already reported (reported once, kept for inspection).
REPORTED: set[str] = set()


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
