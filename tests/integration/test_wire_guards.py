"""The connection against Windows' operation timeouts, endless output and forged answers, over
real HTTP and NTLM on 127.0.0.1 (the loopback ``endpoint``: sandbox.winrm's server, commands run
by /bin/sh), for the lean transport and pywinrm's (issue 32)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from tests.integration.test_hostile_endpoint import Interposer
from winhost.errors import (
    ConnectionLost,
    HostError,
    OutputTooLarge,
    OversizedAnswer,
    TamperedAnswer,
    explain,
)
from winhost.winrm_connection import WinRMConnection


def connect(ep, url: str | None = None, **kw) -> WinRMConnection:
    return WinRMConnection("h1", url or ep.url, user=ep.user, password=SecretStr(ep.password),
                           **kw)


def test_the_endpoint_answers_an_operation_timeout_as_windows_does(endpoint) -> None:
    """HTTP 500, SOAP 1.2 fault s:Receiver / w:TimedOut, WSManFault 2150858793 in s:Detail,
    Windows' reason text (pypsrp's recording of a real host): pywinrm reads it as its
    operation timeout."""
    from winrm.exceptions import WinRMOperationTimeoutError

    from winhost.wsman_transport import LeanProtocol, LeanTransport

    endpoint.server.faults.update(timeout_on="create=1")
    wire = LeanTransport(endpoint.url, username=endpoint.user, password=endpoint.password)
    protocol = LeanProtocol(wire)
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.open_shell()
    shell = protocol.open_shell()  # one only
    protocol.close_shell(shell)
    assert endpoint.server.stats()["faults"] == 1


def test_an_operation_timeout_answering_create_is_retried(endpoint) -> None:
    endpoint.server.faults.update(timeout_on={"create": 2})
    with connect(endpoint) as conn:
        assert conn.run("echo ok").stdout == "ok\n"
    assert conn.stats.retries == 2 and conn.stats.shells_opened == 1
    assert endpoint.server.stats()["open_shells"] == 0


def test_create_timing_out_every_time_is_one_host_error_with_its_fix(endpoint) -> None:
    endpoint.server.faults.update(timeout_on={"create": 10})
    conn = connect(endpoint, retries=1)
    with pytest.raises(HostError) as caught:
        conn.run("echo never")
    line = explain(caught.value)
    assert "operation timeout" in line and "nothing ran" in line
    assert "operation_timeout" in caught.value.fix
    conn.close()


@pytest.mark.parametrize("idempotent", [False, True])
def test_an_operation_timeout_answering_command_is_a_lost_connection(endpoint,
                                                                      idempotent) -> None:
    """A change is not sent again (it may have run); a read is, then gives up the same way."""
    endpoint.server.faults.update(timeout_on={"command": 3})
    conn = connect(endpoint)
    with pytest.raises(ConnectionLost) as caught:
        conn.run("echo change", idempotent=idempotent)
    assert "operation timeout" in str(caught.value)
    assert caught.value.fix == ConnectionLost.fix  # "run the same command again: …"
    left = endpoint.server.faults.current().timeout_on.get("command", 0)
    assert left == (0 if idempotent else 2)  # a read was tried three times, a change once
    endpoint.server.faults.clear()
    assert conn.run("echo after").stdout == "after\n"  # the connection goes on
    conn.close()
    assert endpoint.server.stats()["open_shells"] == 0


def test_timeouts_answering_signal_and_delete_never_spoil_a_result(endpoint) -> None:
    endpoint.server.faults.update(timeout_on={"signal": 1, "delete": 1})
    conn = connect(endpoint)
    assert conn.run("echo one").stdout == "one\n"
    assert conn.run("echo two").stdout == "two\n"  # Signal of the first: a timeout
    conn.close()  # Delete: a timeout, logged
    assert endpoint.server.faults.current().timeout_on == {}


def test_output_comes_in_envelope_sized_answers_and_is_capped(endpoint) -> None:
    """The endpoint answers at most the client's MaxEnvelopeSize per Receive (as WinRS does):
    1 MB of output arrives whole over several answers; past ``max_output`` the command is cut
    off with one clear error, and the connection goes on."""
    line = "head -c 1000000 /dev/zero | tr '\\000' a"
    with connect(endpoint) as conn:
        before = endpoint.server.stats()["http_requests"]
        assert conn.run(line).stdout == "a" * 1_000_000
        assert endpoint.server.stats()["http_requests"] - before >= 2 + 1_000_000 // 153_600
    with connect(endpoint, max_output=300_000) as conn:
        with pytest.raises(OutputTooLarge, match="passed 300000 bytes"):
            conn.run(line)
        assert conn.run("echo still").stdout == "still\n"


@pytest.mark.parametrize(("transport", "client"),
                         [("ntlm", "lean"), ("ntlm", "pywinrm"), ("credssp", "lean")])
def test_a_plaintext_answer_after_a_real_handshake_is_refused(endpoint, transport,
                                                               client) -> None:
    """Sealed over HTTP by the lean transport, by pywinrm (``TACFLEET_WINRM_CLIENT=pywinrm``)
    and by CredSSP (always pywinrm's): the interposer lets the real handshake through, then
    forges a plaintext answer to the first sealed request."""
    with connect(endpoint, transport=transport, client=client) as conn:
        assert conn.run("echo sealed").stdout == "sealed\n"  # the path works unforged
    commands = endpoint.server.stats()["commands"]
    with Interposer(urlsplit(endpoint.url).port or 0, "unsealed") as proxy:
        conn = connect(endpoint, f"http://127.0.0.1:{proxy.port}/wsman", transport=transport,
                       client=client)
        with pytest.raises(TamperedAnswer, match="unsealed answer: possible tampering"):
            conn.run("echo forged")
        conn.close()
    assert endpoint.server.stats()["commands"] == commands  # nothing reached the host


@pytest.mark.parametrize("mode", ["huge", "huge-close", "endless"])
@pytest.mark.parametrize(("transport", "client"), [("ntlm", "pywinrm"), ("credssp", "lean")])
def test_pywinrms_path_caps_answers_too(endpoint, transport, client, mode) -> None:
    """pywinrm's transport (the switch, CredSSP) refuses 400 MB from its Content-Length and
    cuts off a body without one at the limit, as the lean transport does."""
    with Interposer(urlsplit(endpoint.url).port or 0, mode) as proxy:
        conn = connect(endpoint, f"http://127.0.0.1:{proxy.port}/wsman", transport=transport,
                       client=client)
        with pytest.raises(OversizedAnswer, match="-byte limit"):
            conn.run("echo big")
        conn.close()
        assert proxy.sent < 64 * 1024 * 1024
