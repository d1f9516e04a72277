"""tacfleet's WinRM connection over real pywinrm, real HTTP and NTLM on 127.0.0.1."""

from __future__ import annotations

import socket
import time

import pytest
from pydantic import SecretStr

from winhost.errors import AuthenticationFailed, CommandTimeout, HostUnreachable
from winhost.winrm_connection import WinRMConnection


def connect(ep, password=None, **kw) -> WinRMConnection:
    return WinRMConnection("h1", ep.url, user=ep.user,
                           password=SecretStr(password or ep.password), **kw)


def test_twenty_commands_share_one_shell(endpoint):
    conn = connect(endpoint)
    before = endpoint.server.stats()["http_requests"]
    outputs = [conn.run(f"echo {i}").stdout.strip() for i in range(20)]
    conn.close()
    assert outputs == [str(i) for i in range(20)]
    stats = endpoint.server.stats()
    assert conn.stats.shells_opened == 1 and stats["shells_created"] == 1
    assert conn.stats.commands == 20
    # Every request the client sent is one the server saw: the count behind our claims.
    assert conn.stats.http_requests == stats["http_requests"] - before
    # handshake (3) + create + 20 x (command, receive, signal) + delete
    assert conn.stats.http_requests <= 3 + 1 + 20 * 3 + 1


def test_exit_code_and_streams(endpoint):
    with connect(endpoint) as conn:
        result = conn.run("echo out; echo err 1>&2; exit 3")
    assert (result.rc, result.stdout.strip(), result.stderr.strip()) == (3, "out", "err")


def test_wrong_password_is_a_clear_error_without_the_secret(endpoint):
    wrong = "not-" + endpoint.password
    conn = connect(endpoint, password=wrong)
    with pytest.raises(AuthenticationFailed) as info:
        conn.run("echo hi")
    assert "rejected" in str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(conn)


def test_own_deadline_terminates_a_hung_command(endpoint):
    conn = connect(endpoint, operation_timeout=1, read_timeout=3)
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="terminated"):
        conn.run("sleep 30", timeout=2)
    assert time.monotonic() - started < 10
    assert conn.run("echo still usable").stdout.strip() == "still usable"
    conn.close()


def test_unreachable_host():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    conn = WinRMConnection("h1", f"http://127.0.0.1:{port}/wsman", user="u",
                           password=SecretStr("p-secret"), retries=1)
    refused = r"h1: connection refused on 127\.0\.0\.1:\d+"  # in tacfleet's words
    with pytest.raises(HostUnreachable, match=refused) as info:
        conn.run("echo hi", idempotent=True)
    assert "p-secret" not in str(info.value)
    assert conn.stats.retries == 1


def test_one_command_costs_six_requests_over_http_and_five_over_https(endpoint):
    """A full check is one command: NTLM (2 legs: the first token goes with the first request;
    over HTTPS the last leg carries the Create), Create, Command, Receive, Delete; the last
    command's Signal is left to Delete."""
    counts = []
    for url, kw in ((endpoint.url, {}),
                    (endpoint.server.https_endpoint, {"ca_file": endpoint.server.ca_file})):
        before = endpoint.server.stats()["http_requests"]
        conn = connect(endpoint, **kw) if not url.startswith("https") else WinRMConnection(
            "h1", url, user=endpoint.user, password=SecretStr(endpoint.password), **kw)
        assert conn.run("echo one").stdout.strip() == "one"
        conn.close()
        assert conn.stats.http_requests == endpoint.server.stats()["http_requests"] - before
        counts.append(conn.stats.http_requests)
    assert counts == [6, 5]
    assert endpoint.server.stats()["open_shells"] == 0


def test_a_missing_program_is_program_not_found_and_the_connection_goes_on(endpoint):
    from winhost.cmdline import command, system32
    from winhost.errors import ProgramNotFound

    with connect(endpoint) as conn:
        with pytest.raises(ProgramNotFound):
            conn.run(command(system32("no-such-tool.exe"), "/query"))
        assert conn.run("echo next").stdout.strip() == "next"
    log = (endpoint.server.state_dir / "requests.log").read_text()
    fault = next(line for line in log.splitlines() if "no-such-tool.exe" in line)
    assert " 500 fault w:InternalError 2147942402 command direct " in fault


def test_a_broken_session_deletes_its_shell_so_retries_leave_none_open(endpoint):
    """A dropped connection kills the session's security context: the shell is deleted through
    a new session (it belongs to the user), so no shell is left to count against
    MaxShellsPerUser."""
    from winhost.errors import ConnectionLost

    conn = connect(endpoint)
    assert conn.run("echo warm").rc == 0
    endpoint.server.faults.update(drop_on="echo cut")
    with pytest.raises(ConnectionLost):
        conn.run("echo cut")
    assert len(endpoint.server.shells) == 0
    assert conn.run("echo again").stdout.strip() == "again"  # a fresh session and shell
    conn.close()
    stats = endpoint.server.stats()
    assert stats["open_shells"] == 0 and stats["shells_created"] == 2, stats


def test_a_long_run_takes_a_fresh_shell_before_the_operations_quota(tmp_path, monkeypatch):
    """Windows releases a shell's operations only when the shell is deleted: 12 commands under
    a quota of 5 operations pass because the connection renews its shell every 4."""
    from sandbox.executor import PosixShellExecutor
    from sandbox.winrm.server import WinRMServer
    from winhost import winrm_connection

    monkeypatch.setattr(winrm_connection, "SHELL_COMMANDS", 4)
    with WinRMServer(PosixShellExecutor(), user="ops", password="pw-ops-2", state_dir=tmp_path,
                     max_operations=5) as server:
        with WinRMConnection("h1", server.endpoint, user="ops",
                             password=SecretStr("pw-ops-2")) as conn:
            assert [conn.run(f"echo {i}").stdout.strip() for i in range(12)] == [
                str(i) for i in range(12)]
        assert conn.stats.shells_opened == 3
        assert server.stats()["open_shells"] == 0


def _server(tmp_path, **limits):
    from sandbox.executor import PosixShellExecutor
    from sandbox.winrm.server import WinRMServer

    return WinRMServer(PosixShellExecutor(), user="quota", password="pw-quota-1",
                       state_dir=tmp_path, **limits)


def test_a_command_refused_for_max_operations_renews_the_shell_and_runs_once(tmp_path):
    """MaxConcurrentOperationsPerUser in Windows 2012+'s shape (a WMI error, no WSManFault):
    the refused Command did not run, so a change is run in a fresh shell, once (Ansible's
    handling); the old shell is deleted, which releases its operations."""
    marker = tmp_path / "ran"
    with _server(tmp_path / "state", max_operations=2) as server:
        conn = WinRMConnection("q1", server.endpoint, user="quota",
                               password=SecretStr("pw-quota-1"))
        assert conn.run("echo 1").rc == 0 and conn.run("echo 2").rc == 0
        result = conn.run(f"echo change >> {marker}; echo done")  # not idempotent
        conn.close()
        stats = server.stats()
    assert result.stdout.strip() == "done" and marker.read_text() == "change\n"
    assert (conn.stats.retries, stats["shells_created"], stats["open_shells"]) == (1, 2, 0)


def test_a_shell_refused_for_max_shells_is_one_clear_error(tmp_path):
    """MaxShellsPerUser: Create refused (the user's other shells stay open until deleted or
    idle for 2 h), reported at once with the quota's own words and what to do; nothing ran."""
    import winrm

    from winhost.errors import HostError

    with _server(tmp_path, max_shells=1) as server:
        other = winrm.Protocol(server.endpoint, transport="ntlm", username="quota",
                               password="pw-quota-1")
        busy = other.open_shell()
        conn = WinRMConnection("q2", server.endpoint, user="quota",
                               password=SecretStr("pw-quota-1"))
        with pytest.raises(HostError) as info:
            conn.run("echo never")
        other.close_shell(busy)
        assert server.stats()["commands"] == 0
    text = str(info.value)
    assert "maximum number of 1 concurrent shells" in text and "nothing ran" in text
    assert "MaxShellsPerUser" in info.value.fix and conn.stats.retries == 0


def test_output_arrives_while_the_command_runs_over_several_receives(endpoint):
    """Windows answers a Receive with what a running command wrote (CommandState/Running); the
    client joins the answers, polling again after each operation timeout."""
    with connect(endpoint, operation_timeout=2, read_timeout=5) as conn:
        conn.run("echo warm")  # the handshake and the shell
        before = endpoint.server.stats()["http_requests"]
        result = conn.run("echo first; sleep 2.5; echo second")
        receives = endpoint.server.stats()["http_requests"] - before - 2  # Signal, Command
    assert (result.rc, result.stdout) == (0, "first\nsecond\n")
    assert receives >= 3  # Running with "first", TimedOut (after 1 s), "second" with Done
