"""The sandbox's WinRM endpoint as the stock clients see it: pywinrm and testinfra, unmodified."""

from __future__ import annotations

import logging
import os
import socket
import time

import pytest
import testinfra
import winrm
from pydantic import SecretStr
from winrm.exceptions import InvalidCredentialsError, WSManFaultError

from sandbox.winrm import soap
from winhost.errors import ConnectionLost
from winhost.winrm_connection import WinRMConnection, fault_text


def content_types(protocol: winrm.Protocol) -> list[str]:
    """Record the Content-Type of every answer the client receives."""
    seen: list[str] = []
    session = protocol.transport.build_session()
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r.headers.get("Content-Type",
                                                                                   "")))
    return seen


def test_stock_testinfra_backend_runs_a_command(endpoint):
    port = endpoint.url.split(":")[2].split("/")[0]
    host = testinfra.get_host(f"winrm://{endpoint.user}:{endpoint.password}@127.0.0.1:{port}"
                              "?no_ssl=true&no_verify_ssl=true")
    result = host.run("echo stock")
    assert (result.rc, result.stdout.strip()) == (0, "stock")


def test_ntlm_over_http_answers_are_sealed(endpoint):
    protocol = winrm.Protocol(endpoint.url, transport="ntlm", username=endpoint.user,
                              password=endpoint.password)
    seen = content_types(protocol)
    shell = protocol.open_shell()
    cid = protocol.run_command(shell, "echo sealed")
    out, _err, rc = protocol.get_command_output(shell, cid)
    protocol.cleanup_command(shell, cid)
    protocol.close_shell(shell)
    assert (out.strip(), rc) == (b"sealed", 0)
    soap_answers = [t for t in seen if t]
    assert soap_answers and all(t.startswith("multipart/encrypted") for t in soap_answers), seen


def test_unencrypted_soap_over_http_is_refused(endpoint):
    protocol = winrm.Protocol(endpoint.url, transport="ntlm", username=endpoint.user,
                              password=endpoint.password, message_encryption="never")
    with pytest.raises(InvalidCredentialsError):
        protocol.open_shell()


def test_basic_only_over_https_with_a_validated_certificate(endpoint):
    https = winrm.Protocol(endpoint.server.https_endpoint, transport="basic",
                           username=endpoint.user, password=endpoint.password,
                           server_cert_validation="validate", ca_trust_path=endpoint.server.ca_file)
    shell = https.open_shell()
    cid = https.run_command(shell, "echo tls")
    assert https.get_command_output(shell, cid)[0].strip() == b"tls"
    https.close_shell(shell)
    plain = winrm.Protocol(endpoint.url, transport="basic", username=endpoint.user,
                           password=endpoint.password)
    with pytest.raises(InvalidCredentialsError):
        plain.open_shell()


def test_wrong_password_is_a_401_and_counted(endpoint):
    before = endpoint.server.stats()["auth_failures"]
    protocol = winrm.Protocol(endpoint.url, transport="ntlm", username=endpoint.user,
                              password="wrong-" + endpoint.password)
    with pytest.raises(InvalidCredentialsError):
        protocol.open_shell()
    assert endpoint.server.stats()["auth_failures"] > before


def test_unknown_shell_is_a_wsman_fault(endpoint):
    protocol = winrm.Protocol(endpoint.url, transport="ntlm", username=endpoint.user,
                              password=endpoint.password)
    with pytest.raises(WSManFaultError) as info:
        protocol.run_command("00000000-0000-0000-0000-000000000000", "echo x")
    assert info.value.wsman_fault_code == soap.INVALID_SELECTORS


def test_injected_500_is_retried_for_reads(endpoint):
    conn = WinRMConnection("h1", endpoint.url, user=endpoint.user,
                           password=SecretStr(endpoint.password))
    assert conn.run("echo warm").rc == 0
    endpoint.server.faults.update(http_500=1)
    assert conn.run("echo again", idempotent=True).stdout.strip() == "again"
    assert conn.stats.retries == 1 and endpoint.server.stats()["faults"] == 1
    conn.close()


def test_dropped_connection_during_a_change_is_reported_not_retried(endpoint):
    conn = WinRMConnection("h1", endpoint.url, user=endpoint.user,
                           password=SecretStr(endpoint.password))
    assert conn.run("echo warm").rc == 0
    endpoint.server.faults.update(drop_after=1)  # the Command goes through, its Receive drops
    with pytest.raises(ConnectionLost, match="lost during a change"):
        conn.run("echo change")
    assert conn.stats.retries == 0
    assert conn.run("echo recovered").stdout.strip() == "recovered"
    conn.close()


def test_request_log_keeps_programs_not_arguments(endpoint):
    """Arguments can hold secrets (an app's AppEnvironmentExtra values): the log counts them."""
    with WinRMConnection("h1", endpoint.url, user=endpoint.user,
                         password=SecretStr(endpoint.password)) as conn:
        conn.run(f"echo {endpoint.password} DB_PASSWORD=canary-7d1f")
    log = (endpoint.server.state_dir / "requests.log").read_text()
    assert "command echo (+" in log
    assert endpoint.password not in log and "canary-7d1f" not in log


def test_drop_after_a_change_ran_leaves_the_change_applied(endpoint, tmp_path):
    marker = tmp_path / "applied"
    conn = WinRMConnection("h1", endpoint.url, user=endpoint.user,
                           password=SecretStr(endpoint.password))
    endpoint.server.faults.update(drop_on="touch")
    with pytest.raises(ConnectionLost):
        conn.run(f"touch {marker}")
    assert marker.exists()  # the host did it; the client was never told
    assert conn.run("echo next").stdout.strip() == "next"  # one-shot: the next command is fine
    conn.close()


def test_two_endpoints_share_a_user_until_the_last_one_stops(endpoint, tmp_path):
    from sandbox.executor import PosixShellExecutor
    from sandbox.winrm.server import WinRMServer

    second = WinRMServer(PosixShellExecutor(), user=endpoint.user, password=endpoint.password,
                         state_dir=tmp_path / "second", https_port=None).start()
    second.stop()  # the first endpoint still serves the same user
    with WinRMConnection("h1", endpoint.url, user=endpoint.user,
                         password=SecretStr(endpoint.password)) as conn:
        assert conn.run("echo still").stdout.strip() == "still"


# -- WINRS_SKIP_CMD_SHELL: the program runs directly ------------------------------------------


def protocol_for(endpoint) -> winrm.Protocol:
    return winrm.Protocol(endpoint.url, transport="ntlm", username=endpoint.user,
                          password=endpoint.password)


def run(protocol: winrm.Protocol, line: str, *, skip_cmd_shell: bool) -> tuple[bytes, int]:
    shell = protocol.open_shell()
    try:
        cid = protocol.run_command(shell, line, skip_cmd_shell=skip_cmd_shell)
        out, _err, rc = protocol.get_command_output(shell, cid)
        return out, rc
    finally:
        protocol.close_shell(shell)


def test_skip_cmd_shell_runs_the_program_without_a_shell(endpoint):
    line = r'/usr/bin/printf [%s] 100% a&b %PATH% $HOME "two words" "say \"hi\""'
    protocol = protocol_for(endpoint)
    out, rc = run(protocol, line, skip_cmd_shell=True)
    # Split by the C runtime's rules only: %, &, $ arrive as typed.
    assert (out, rc) == (b'[100%][a&b][%PATH%][$HOME][two words][say "hi"]', 0)
    through_shell, _ = run(protocol, line, skip_cmd_shell=False)
    assert through_shell != out  # the same line through the shell is not the same command
    log = (endpoint.server.state_dir / "requests.log").read_text()
    assert "command direct /usr/bin/printf" in log


def test_missing_program_is_the_fault_winrs_sends(endpoint, tmp_path):
    protocol = protocol_for(endpoint)
    shell = protocol.open_shell()
    with pytest.raises(WSManFaultError) as info:
        protocol.run_command(shell, f"{tmp_path / 'missing.exe'} /?", skip_cmd_shell=True)
    fault = info.value
    assert fault.wsman_fault_code == 0x80070002 == 2147942402
    assert (fault.code, fault.fault_code, fault.fault_subcode) == (500, "s:Receiver",
                                                                   "w:InternalError")
    assert fault.reason == "The system cannot find the file specified. "
    with pytest.raises(WSManFaultError) as info:
        protocol.run_command(shell, f"{tmp_path / 'no-folder' / 'x.exe'}", skip_cmd_shell=True)
    assert info.value.wsman_fault_code == 0x80070003
    cid = protocol.run_command(shell, "echo the shell is still usable")
    assert protocol.get_command_output(shell, cid)[0].strip() == b"the shell is still usable"
    protocol.close_shell(shell)


# -- refused before reading (issue 16 item 7) ---------------------------------------------------


def port_of(endpoint) -> int:
    return int(endpoint.url.split(":")[2].split("/")[0])


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def raw_request(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(head.encode("latin-1"))
    return sock


def read_until_closed(sock: socket.socket, limit: int = 1 << 16) -> bytes:
    """Everything the server sends until it closes the connection (bounded)."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def post_head(port: int, length: int, extra: str = "") -> str:
    return (f"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/soap+xml;charset=UTF-8\r\n"
            f"{extra}Content-Length: {length}\r\n\r\n")


def test_huge_bodies_are_refused_unread_and_memory_stays_flat(endpoint):
    port = port_of(endpoint)
    before = rss_bytes()
    chunk = b"x" * (1 << 20)
    for _ in range(3):  # three connections announcing 300 MB each, as in the attack
        sock = raw_request(port, post_head(port, 300 * 1024 * 1024))
        with sock:
            assert sock.recv(4096).startswith(b"HTTP/1.1 413 "), "not refused before the body"
            sent = 0
            try:
                while sent < 64 * len(chunk):  # bounded: the server must hang up long before
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # the connection was closed unread
            assert sent < 64 * len(chunk), "the server kept reading the refused body"
    grown = rss_bytes() - before
    assert grown < 16 * 1024 * 1024, f"the endpoint's memory grew by {grown / 2**20:.0f} MiB"
    assert endpoint.server.stats()["refused_requests"] == 3
    # A normal client is unaffected.
    assert run(protocol_for(endpoint), "echo fine", skip_cmd_shell=False)[0].strip() == b"fine"


def test_an_unauthenticated_body_is_not_read_beyond_a_small_bound(endpoint):
    from sandbox.winrm.server import UNAUTHENTICATED_BODY_LIMIT

    port = port_of(endpoint)
    big = 2 * UNAUTHENTICATED_BODY_LIMIT  # within MaxEnvelopeSizekb, but nobody logged on
    assert big < endpoint.server.max_body
    with raw_request(port, post_head(port, big)) as sock:  # no body sent at all
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 401 ") and b"Connection: close" in answer
    # A small unauthenticated request is read and answered on a connection that stays open
    # (requests_ntlm resends its first request on it).
    with raw_request(port, post_head(port, 5) + "hello") as sock:
        assert sock.recv(4096).startswith(b"HTTP/1.1 401 ")
        sock.sendall(post_head(port, 0).encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 401 ")


def test_a_malformed_request_costs_one_log_line_and_no_traceback(endpoint, caplog, capfd):
    port = port_of(endpoint)
    caplog.set_level(logging.WARNING, logger="sandbox.winrm.server")
    bad = [
        post_head(port, 0).replace("Content-Length: 0", "Content-Length: lots"),
        "BREW /wsman HTTP/1.1\r\n\r\n",
        "\x16\x03\x01 not HTTP at all\r\n\r\n",
        post_head(port, 0, "Transfer-Encoding: chunked\r\n").replace("Content-Length: 0\r\n", ""),
    ]
    for head in bad:
        caplog.clear()
        with raw_request(port, head) as sock:
            answer = read_until_closed(sock)
        if answer.startswith(b"HTTP/"):  # http.server answers a garbled line without one
            assert answer.split(b" ")[1] in (b"400", b"411", b"501"), answer[:80]
        lines = [r for r in caplog.records if r.name == "sandbox.winrm.server"]
        assert len(lines) == 1, [r.getMessage() for r in lines]
        assert lines[0].exc_info is None and "\n" not in lines[0].getMessage()
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


# -- Windows' shell limits: IdleTimeout and MaxShellsPerUser -----------------------------------


@pytest.fixture
def short_idle(tmp_path):
    from sandbox.executor import PosixShellExecutor
    from sandbox.winrm.server import WinRMServer

    server = WinRMServer(PosixShellExecutor(), user="idle-user", password="idle-pw-123",
                         state_dir=tmp_path / "idle", https_port=None, idle_timeout=1.0).start()
    try:
        yield server
    finally:
        server.stop()


def test_an_idle_shell_is_deleted_and_its_command_terminated(short_idle, tmp_path):
    protocol = winrm.Protocol(short_idle.endpoint, transport="ntlm", username="idle-user",
                              password="idle-pw-123")
    # A command that outlives the idle timeout while its client polls is not idle.
    busy = protocol.open_shell()
    cid = protocol.run_command(busy, "sleep 2; echo polled")
    assert protocol.get_command_output(busy, cid)[0].strip() == b"polled"
    protocol.close_shell(busy)
    # A client that goes away leaves its shell and a running command behind.
    pid_file = tmp_path / "pid"
    shell = protocol.open_shell()
    protocol.run_command(shell, f"echo $$ > {pid_file}; exec sleep 60")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and short_idle.stats()["idle_shells_deleted"] == 0:
        time.sleep(0.1)
    stats = short_idle.stats()
    assert (stats["idle_shells_deleted"], stats["open_shells"]) == (1, 0)
    pid = int(pid_file.read_text())
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}"), "the idle shell's command still runs"
    with pytest.raises(WSManFaultError) as info:
        protocol.run_command(shell, "echo late")
    assert info.value.wsman_fault_code == soap.INVALID_SELECTORS
    assert "idle shell" in (short_idle.state_dir / "requests.log").read_text()


def test_the_31st_shell_is_refused_with_windows_quota_fault(endpoint):
    protocol = protocol_for(endpoint)
    shells = [protocol.open_shell() for _ in range(30)]
    with pytest.raises(WSManFaultError) as info:
        protocol.open_shell()
    # Windows 2012+'s shape: s:Sender, w:InternalError, a generic reason, the code and the
    # quota's words in a p:MSFT_WmiError (no f:WSManFault), no a:RelatesTo
    fault = info.value
    assert (fault.fault_code, fault.fault_subcode) == ("s:Sender", "w:InternalError")
    assert (fault.wsman_fault_code, fault.wmierror_code) == (None, 2150859173)
    assert fault.reason == soap.QUOTA_REASON
    assert "maximum number of 30 concurrent shells" in fault_text(fault)
    assert "RelatesTo" not in fault.response and "WSManFault" not in fault.response
    protocol.close_shell(shells.pop())
    shells.append(protocol.open_shell())  # a closed shell frees its place
    for shell in shells:
        protocol.close_shell(shell)
    assert endpoint.server.stats()["open_shells"] == 0


def test_the_26th_running_process_in_a_shell_is_refused(endpoint):
    """MaxProcessesPerShell (25): the shell's job object refuses another process."""
    protocol = protocol_for(endpoint)
    shell = protocol.open_shell()
    # direct commands: one process each (through the shell, each would be two)
    running = [protocol.run_command(shell, "sleep 30", skip_cmd_shell=True) for _ in range(25)]
    with pytest.raises(WSManFaultError) as info:
        protocol.run_command(shell, "echo one too many")
    assert info.value.wsman_fault_code == 0x80070000 | 1816  # ERROR_NOT_ENOUGH_QUOTA
    protocol.cleanup_command(shell, running[0])  # one ends: the next may start
    cid = protocol.run_command(shell, "echo fits")
    assert protocol.get_command_output(shell, cid)[0].strip() == b"fits"
    protocol.close_shell(shell)
    assert endpoint.server.stats()["open_shells"] == 0


def test_standard_input_sent_reaches_the_program_and_end_closes_it(endpoint):
    """WinRS Send: the bytes go to the program's stdin pipe in order (a command started with
    WINRS_CONSOLEMODE_STDIN=FALSE); End="true" closes it, so a program reading to the end
    finishes. A command started without it reads NUL."""
    protocol = protocol_for(endpoint)
    shell = protocol.open_shell()
    cid = protocol.run_command(shell, "wc -c", console_mode_stdin=False)
    protocol.send_command_input(shell, cid, b"x" * 300_000)
    protocol.send_command_input(shell, cid, b"tail\n", end=True)
    out, _, rc = protocol.get_command_output(shell, cid)
    assert (rc, out.strip()) == (0, b"300005")
    cid = protocol.run_command(shell, "wc -c")  # console mode: nothing to read
    assert protocol.get_command_output(shell, cid)[0].strip() == b"0"
    protocol.close_shell(shell)


def test_corrupt_send_flips_the_middle_byte_of_exactly_the_next_n_chunks(endpoint):
    """Fault ``corrupt_send=N``: the next N non-empty Send chunks reach the program's stdin with
    their middle byte XOR 0xFF; an empty chunk passes and counts nothing, later ones are intact."""
    endpoint.server.faults.update(corrupt_send=2)
    chunks = [b"", b"first chunk", b"second-chunk!", b"third", b"fourth chunk"]
    protocol = protocol_for(endpoint)
    shell = protocol.open_shell()
    cid = protocol.run_command(shell, "cat", console_mode_stdin=False)
    for n, chunk in enumerate(chunks):
        protocol.send_command_input(shell, cid, chunk, end=n == len(chunks) - 1)
    out, _, rc = protocol.get_command_output(shell, cid)
    protocol.close_shell(shell)
    received, at = [], 0
    for chunk in chunks:
        received.append(out[at:at + len(chunk)])
        at += len(chunk)
    assert (rc, at) == (0, len(out))
    damaged = [n for n, (sent, got) in enumerate(zip(chunks, received, strict=True))
               if sent != got]
    assert damaged == [1, 2]
    for n in damaged:
        sent, middle = chunks[n], len(chunks[n]) // 2
        assert [i for i in range(len(sent)) if sent[i] != received[n][i]] == [middle]
        assert received[n][middle] == sent[middle] ^ 0xFF
    assert endpoint.server.stats()["corrupted_sends"] == 2
    assert endpoint.server.faults.current().corrupt_send == 0


def test_the_processes_a_command_starts_count_against_max_processes(tmp_path):
    """MaxProcessesPerShell counts the shell's job object: a command's children count too, and
    the processes a finished child leaves no longer do."""
    from sandbox.executor import PosixShellExecutor
    from sandbox.winrm.server import WinRMServer

    with WinRMServer(PosixShellExecutor(), user="procs", password="pw-procs-1",
                     state_dir=tmp_path, max_processes=4) as server:
        protocol = winrm.Protocol(server.endpoint, transport="ntlm", username="procs",
                                  password="pw-procs-1")
        shell = protocol.open_shell()
        # one command, three processes: the shell and two children
        family = protocol.run_command(shell, "sleep 30 & sleep 30 & wait")
        deadline = time.monotonic() + 10
        while server.shells._shells[shell].commands and time.monotonic() < deadline:
            job = next(iter(server.shells._shells[shell].commands.values())).job
            if job.processes() == 3:
                break
            time.sleep(0.05)
        alone = protocol.run_command(shell, "sleep 30")  # the 4th process
        with pytest.raises(WSManFaultError) as info:
            protocol.run_command(shell, "echo one too many")
        assert info.value.wsman_fault_code == 0x80070000 | 1816  # ERROR_NOT_ENOUGH_QUOTA
        protocol.cleanup_command(shell, alone)  # terminated: three processes left
        cid = protocol.run_command(shell, "echo fits")
        assert protocol.get_command_output(shell, cid)[0].strip() == b"fits"
        protocol.cleanup_command(shell, family)
        protocol.close_shell(shell)
        assert server.stats()["open_shells"] == 0


def test_operations_are_released_only_with_their_shell(tmp_path):
    """MaxConcurrentOperationsPerUser (1,500 by default; 3 here): a long-lived shell runs out,
    a deleted shell gives its operations back. Windows' fault code and text."""
    from sandbox.executor import PosixShellExecutor
    from sandbox.winrm.server import WinRMServer

    with WinRMServer(PosixShellExecutor(), user="ops", password="pw-ops-1", state_dir=tmp_path,
                     max_operations=3) as server:
        protocol = winrm.Protocol(server.endpoint, transport="ntlm", username="ops",
                                  password="pw-ops-1")
        shell = protocol.open_shell()
        for i in range(3):
            cid = protocol.run_command(shell, f"echo {i}")
            protocol.get_command_output(shell, cid)
            protocol.cleanup_command(shell, cid)
        with pytest.raises(WSManFaultError) as info:
            protocol.run_command(shell, "echo 4")
        fault = info.value  # Windows 2012+'s shape (see the MaxShellsPerUser test)
        assert (fault.fault_code, fault.fault_subcode) == ("s:Receiver", "w:InternalError")
        assert (fault.wsman_fault_code, fault.wmierror_code) == (None, 2150859174)
        assert "maximum number of 3 concurrent operations" in fault_text(fault)
        assert "RelatesTo" not in fault.response and "WSManFault" not in fault.response
        protocol.close_shell(shell, close_session=False)
        fresh = protocol.open_shell()
        cid = protocol.run_command(fresh, "echo again")
        assert protocol.get_command_output(fresh, cid)[0].strip() == b"again"
        protocol.close_shell(fresh)
