"""A real WinRM endpoint on 127.0.0.1 (commands run by /bin/sh) for the connection's tests."""

from __future__ import annotations

import os
import secrets
import socket
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
ROOT = Path(__file__).resolve().parents[2]


def _free_port_pair() -> int:
    """A port P with P and P+1 free on 127.0.0.1 (HTTP and HTTPS listeners)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65000:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair on 127.0.0.1")


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
    info = control.up(name, _free_port_pair())
    app_port = _free_port_pair()
    text = (ROOT / "inventory" / "hosts.yml").read_text()
    text = (text.replace("port: 55985", f"port: {info['endpoint'].rsplit(':', 1)[1][:-6]}")
                .replace("~/.cache/tacfleet/sandbox/default/password", info["password_file"])
                .replace("../sandbox/demoapp", str(ROOT / "sandbox" / "demoapp"))
                .replace("port: 58080", f"port: {app_port}")
                .replace('TACDEMO_PORT: "58080"', f'TACDEMO_PORT: "{app_port}"'))
    inventory = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    inventory.write_text(text)
    try:
        yield SandboxHost(info, inventory)
    finally:
        control.down(name)
