"""The suite's "no shell left open" check (``conftest.shells_left_open``) sees a real leak.

A pywinrm client opens a WinRS shell on the shared sandbox host and drops it without a Delete:
the endpoint's counters show it, and the check names the host, the count and the request log;
once the shell is deleted the check passes again (so this module leaves nothing open).
"""

from __future__ import annotations

import time

import pytest
from winrm.protocol import Protocol

from tests.support.sandbox_hosts import shells_left_open

pytestmark = pytest.mark.sandbox


def _until_counted(name: str, *, open_shells: int, seconds: float = 10.0) -> None:
    """Wait until the endpoint's ``stats.json`` counts ``open_shells`` (it is written after the
    answer has gone, so a fast reader can see the count from before the request)."""
    from sandbox import layout

    path = layout.Paths(name).root / "stats.json"
    deadline = time.monotonic() + seconds
    while (layout.read_json(path) or {}).get("open_shells") != open_shells:
        assert time.monotonic() < deadline, f"{path} never counted {open_shells} open shell(s)"
        time.sleep(0.05)


def test_a_shell_dropped_without_delete_is_reported_then_cleared(sandbox_host, tmp_path):
    name = sandbox_host.info["name"]
    assert shells_left_open(name) is None
    protocol = Protocol(sandbox_host.info["endpoint"], transport="ntlm",
                        username=sandbox_host.info["user"], password=sandbox_host.password,
                        message_encryption="auto", server_cert_validation="ignore")  # HTTP
    shell = protocol.open_shell()
    try:
        _until_counted(name, open_shells=1)  # stats.json is written just after the answer
        leak = shells_left_open(name, settle=0.5, keep=tmp_path)
        assert leak is not None
        assert f"sandbox host {name!r}: 1 WinRS shell(s) left open" in leak
        assert str(tmp_path / f"{name}.requests.log") in leak
        assert (tmp_path / f"{name}.requests.log").is_file()
        assert sandbox_host.password not in leak
    finally:
        protocol.close_shell(shell)
    assert shells_left_open(name) is None
