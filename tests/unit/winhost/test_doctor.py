"""``invoke doctor``'s lines and its walk, without a host (the layers run against the sandbox in
tests/integration/test_auth_sandbox.py)."""

from __future__ import annotations

import socket

from inventory.models import Host
from winhost.doctor import FAIL, OK, SKIP, Layer, diagnose


def host(**connection: object) -> Host:
    return Host.model_validate({
        "name": "web01", "app": {"name": "A", "tac_file": r"C:\A\a.tac"},
        "service": {"name": "a"},
        "connection": {"address": "127.0.0.1", "user": "u", "password_env": "PW", "https": False,
                       **connection}})


def test_a_line_carries_the_fix_only_when_it_fails() -> None:
    assert Layer("tcp", OK, "127.0.0.1:5985 accepts connections", "x").line() == \
        "[  ok] tcp: 127.0.0.1:5985 accepts connections"
    assert Layer("tcp", FAIL, "refused", "start WinRM").line() == \
        "[FAIL] tcp: refused; fix: start WinRM"


def test_the_first_failing_layer_stops_the_walk() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    layers = list(diagnose(host(port=port), timeout=2))
    assert [(layer.name, layer.status) for layer in layers] == [
        ("name resolution", OK), ("tcp", FAIL), ("tls", SKIP), ("winrm listener", SKIP),
        ("kerberos", SKIP), ("authentication", SKIP), ("command", SKIP),
        ("shell quotas", SKIP), ("base python", SKIP)]
    assert "nothing accepts TCP" in layers[1].detail and "winrm quickconfig" in layers[1].fix


def test_an_unresolvable_name_is_the_first_layer() -> None:
    layers = list(diagnose(host(address="no-such-host.invalid"), timeout=2))
    assert layers[0].status == FAIL
    assert layers[0].detail == "no-such-host.invalid: name not found (DNS)"
