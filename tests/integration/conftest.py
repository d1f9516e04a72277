"""A real WinRM endpoint on 127.0.0.1 (commands run by /bin/sh) for the connection's tests."""

from __future__ import annotations

import os
import secrets
import shutil
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
def fresh_sandbox(suffix: str = "", *, locale: str | None = None) -> Iterator[dict]:
    """A host from the bare image under this run's name; stopped and (unless named by the user)
    removed afterwards."""
    from sandbox import control, layout

    name = sandbox_name(suffix)
    control.down(name)
    control.reset(name)
    info = control.up(name, control.free_port_pair(), locale=locale)
    try:
        yield info
    finally:
        control.down(name)
        if not os.environ.get("TACFLEET_TEST_SANDBOX"):
            shutil.rmtree(layout.Paths(name).root, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox_host(tmp_path_factory) -> Iterator[SandboxHost]:
    """A fresh sandbox host from the bare image, shared by the session's sandbox tests."""
    from sandbox import control

    with fresh_sandbox() as info:
        inventory = control.write_inventory(
            info, tmp_path_factory.mktemp("inventory") / "hosts.yml",
            app_port=control.free_port_pair())
        yield SandboxHost(info, inventory)
