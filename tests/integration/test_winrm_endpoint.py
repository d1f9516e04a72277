"""The sandbox's WinRM endpoint as the stock clients see it: pywinrm and testinfra, unmodified."""

from __future__ import annotations

import pytest
import testinfra
import winrm
from pydantic import SecretStr
from winrm.exceptions import InvalidCredentialsError, WSManFaultError

from sandbox.winrm import soap
from winhost.errors import ConnectionLost
from winhost.winrm_connection import WinRMConnection


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


def test_request_log_redacts_the_password(endpoint):
    with WinRMConnection("h1", endpoint.url, user=endpoint.user,
                         password=SecretStr(endpoint.password)) as conn:
        conn.run(f"echo {endpoint.password}")
    log = (endpoint.server.state_dir / "requests.log").read_text()
    assert "command echo ********" in log
    assert endpoint.password not in log


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
