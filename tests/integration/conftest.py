"""Integration fixtures: a real WinRM endpoint on 127.0.0.1 (commands run by /bin/sh) for the
connection's tests; the session's sandbox hosts (``tests/support/sandbox_hosts.py``), checked
for open shells after every module; the sandbox modules' order. ``invoke test`` runs the sandbox
modules in two pytest processes side by side (``tacfleet_cli.SECOND_SANDBOX_STREAM``), each with
session hosts of its own; the order below holds in each."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sandbox.executor import PosixShellExecutor
from sandbox.winrm.server import WinRMServer
from tests.support.sandbox_hosts import (
    REPORTED,
    RUNNING,
    SandboxHost,
    fresh_sandbox,
    shells_left_open,
)


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


@pytest.fixture(scope="module", autouse=True)
def no_shell_left_open(request, tmp_path_factory) -> Iterator[None]:
    """After each test module, the hosts still up must show no open shell: a module fixture's
    ``control.reset`` restarts the endpoint and its counters, so the end of the session alone
    would see only the last module's shells. A leak's request log is copied aside (the next
    reset deletes it)."""
    yield
    keep = tmp_path_factory.getbasetemp() / f"shell-leak-{request.module.__name__}"
    leaks = {name: leak for name in sorted(RUNNING)
             if (leak := shells_left_open(name, keep=keep))}
    REPORTED.update(leaks)
    if leaks:
        pytest.fail("\n".join(leaks.values()), pytrace=False)


@pytest.fixture(scope="session")
def sandbox_host(tmp_path_factory) -> Iterator[SandboxHost]:
    """A fresh sandbox host from the bare image, shared by the session's sandbox tests; its
    teardown fails the session if any test left a WinRS shell open on it. It runs a Kerberos
    realm too (``control.up(realm=True)``), so the authentication tests need no host of their
    own (NTLM works as before)."""
    from sandbox import control

    with fresh_sandbox(realm=True) as info:
        inventory = control.write_inventory(
            info, tmp_path_factory.mktemp("inventory") / "hosts.yml",
            app_port=control.free_port_pair())
        yield SandboxHost(info, inventory)


@pytest.fixture(scope="session")
def german_host(tmp_path_factory) -> Iterator[SandboxHost]:
    """A fresh German-language sandbox host (``locale="de_DE"``: its programs print German in
    cp850), shared by the modules that need one; its inventory is not written."""
    with fresh_sandbox("-de", locale="de_DE") as info:
        yield SandboxHost(info, tmp_path_factory.mktemp("de") / "unused.yml")


#: Sandbox modules that provision the session's host from its bare image run before the other
#: sandbox modules: the first of them finds the host still bare, so no module before it pays a
#: full provision that the reset to the bare image then throws away.
BARE_FIRST = ("test_provision_e2e.py",)
#: Modules that leave the session's host deprovisioned run last among the modules that use a
#: provisioned host: just before the installer module, which resets the host to its bare image
#: anyway (else the module after them would provision the service again).
BEFORE_RESET = ("test_production_safety.py",)
RESET_AT_START = "test_python_installer.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = [item for item in items if item.path.name in BARE_FIRST]
    late = [item for item in items if item.path.name in BEFORE_RESET]
    if not first and not late:
        return
    rest = [item for item in items if item.path.name not in BARE_FIRST + BEFORE_RESET]
    sandbox = [n for n, item in enumerate(rest) if item.get_closest_marker("sandbox")]
    start = sandbox[0] if sandbox else len(rest)
    reset = next((n for n, item in enumerate(rest) if item.path.name == RESET_AT_START),
                 sandbox[-1] + 1 if sandbox else len(rest))
    items[:] = [*rest[:start], *first, *rest[start:reset], *late, *rest[reset:]]
