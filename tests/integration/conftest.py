"""A real WinRM endpoint on 127.0.0.1 (commands run by /bin/sh) for the connection's tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def sandbox_host(tmp_path_factory) -> Iterator[SandboxHost]:
    """A fresh sandbox host from the bare image, shared by the session's sandbox tests."""
    from sandbox import control

    name = os.environ.get("TACFLEET_TEST_SANDBOX", "pytest")
    control.down(name)
    control.reset(name)
    info = control.up(name, control.free_port_pair())
    inventory = control.write_inventory(info, tmp_path_factory.mktemp("inventory") / "hosts.yml",
                                        app_port=control.free_port_pair())
    try:
        yield SandboxHost(info, inventory)
    finally:
        control.down(name)
