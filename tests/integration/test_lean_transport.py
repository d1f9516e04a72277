"""The lean WinRM transport (winhost.wsman_transport) against the real endpoint on 127.0.0.1:
request counts beside pywinrm's, TLS validation, and a keep-alive connection the host closed."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from winhost.errors import AuthenticationFailed, HostUnreachable
from winhost.winrm_connection import WinRMConnection


def one_command(endpoint, url: str, client: str, **kw) -> int:
    """HTTP requests of a one-command check, as the client and the server counted them."""
    before = endpoint.server.stats()["http_requests"]
    conn = WinRMConnection("h1", url, user=endpoint.user, password=SecretStr(endpoint.password),
                           client=client, **kw)
    assert conn.run("echo one").stdout.strip() == "one"
    conn.close()
    assert conn.stats.http_requests == endpoint.server.stats()["http_requests"] - before
    return conn.stats.http_requests


def test_one_command_costs_six_requests_over_http_and_five_over_https(endpoint):
    """NTLM's negotiate goes with the first request: 2 handshake requests (sealed HTTP), and over
    HTTPS the authenticate request carries the Create; pywinrm needs one more on each."""
    https = endpoint.server.https_endpoint
    ca = {"ca_file": endpoint.server.ca_file}
    counts = {client: [one_command(endpoint, endpoint.url, client),
                       one_command(endpoint, https, client, **ca)]
              for client in ("lean", "pywinrm")}
    assert counts == {"lean": [6, 5], "pywinrm": [7, 6]}
    assert endpoint.server.stats()["open_shells"] == 0


def test_an_untrusted_certificate_is_refused(endpoint):
    conn = WinRMConnection("h1", endpoint.server.https_endpoint, user=endpoint.user,
                           password=SecretStr(endpoint.password), retries=0, client="lean")
    with pytest.raises(HostUnreachable, match=r"TLS: certificate not trusted \(") as info:
        conn.run("echo hi", idempotent=True)
    assert endpoint.password not in str(info.value)
    assert endpoint.server.stats()["http_requests"] == 0  # nothing sent to an unknown host


def test_wrong_password_over_https(endpoint):
    conn = WinRMConnection("h1", endpoint.server.https_endpoint, user=endpoint.user,
                           password=SecretStr("not-it"), ca_file=endpoint.server.ca_file,
                           client="lean")
    with pytest.raises(AuthenticationFailed, match="rejected the credentials"):
        conn.run("echo hi")
    assert endpoint.server.stats()["open_shells"] == 0


def test_a_connection_the_host_closed_authenticates_again(endpoint):
    """An idle keep-alive connection the host closed: the next request sees it before sending
    and authenticates on a new one; the shell (the user's, not the connection's) goes on."""
    conn = WinRMConnection("h1", endpoint.url, user=endpoint.user,
                           password=SecretStr(endpoint.password), client="lean")
    assert conn.run("echo first").stdout.strip() == "first"
    wire = conn._protocol.transport  # type: ignore[union-attr]
    wire._conn.sock.shutdown(socket.SHUT_RDWR)  # as the host's idle timeout would
    before = endpoint.server.stats()
    assert conn.run("echo second").stdout.strip() == "second"
    after = endpoint.server.stats()
    assert conn.stats.retries == 0 and after["shells_created"] == before["shells_created"]
    assert after["connections"] == before["connections"] + 1
    conn.close()
    assert endpoint.server.stats()["open_shells"] == 0


def test_the_pywinrm_client_is_still_one_switch_away(endpoint):
    with pytest.raises(ValueError, match="not one of lean, pywinrm"):
        WinRMConnection("h1", endpoint.url, user="u", password=SecretStr("p"), client="curl")
    conn = WinRMConnection("h1", endpoint.url, user=endpoint.user,
                           password=SecretStr(endpoint.password), client="pywinrm")
    assert conn.run("echo old").stdout.strip() == "old"
    assert type(conn._protocol.transport).__name__ != "LeanTransport"  # type: ignore[union-attr]
    conn.close()


# -- Kerberos: a real MIT KDC (sandbox.kdc) and the endpoint's GSSAPI acceptor, no Wine ----------
@pytest.fixture
def realm_endpoint(tmp_path, monkeypatch):
    """An endpoint on 127.0.0.1 that accepts Kerberos for HTTP/<name>.sandbox.test."""
    from sandbox.executor import PosixShellExecutor
    from sandbox.kdc import Kdc
    from sandbox.winrm.server import WinRMServer
    from winhost import kerberos

    kdc = Kdc(tmp_path / "kdc", "lean-krb")
    kdc.create()
    kdc.start()
    monkeypatch.setenv("KRB5_CONFIG", str(kdc.krb5_conf))
    monkeypatch.setenv("KRB5_KTNAME", str(kdc.keytab))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'user.ccache'}")
    monkeypatch.setattr(kerberos, "_private", None)  # no private cache from an earlier test
    password = kdc.password_file("tacfleet").read_text().strip()
    server = WinRMServer(PosixShellExecutor(), user="tacfleet", password=password,
                         state_dir=tmp_path / "state").start()
    try:
        kerberos.prepare("h1", principal=kdc.principal("tacfleet"), hostname=kdc.hostname,
                         password=SecretStr(password))
        yield server, kdc
    finally:
        server.stop()
        kdc.stop()


@pytest.mark.parametrize("https", [False, True])
def test_kerberos_sealed_over_http_and_over_https(realm_endpoint, https):
    server, kdc = realm_endpoint
    url = server.https_endpoint if https else server.endpoint
    before = server.stats()["http_requests"]
    with WinRMConnection("h1", url, user=kdc.principal("tacfleet"), password=SecretStr(""),
                         transport="kerberos", ca_file=server.ca_file if https else None,
                         options={"kerberos_hostname_override": kdc.hostname},
                         client="lean") as conn:
        assert [conn.run(f"echo k{i}").stdout.strip() for i in range(2)] == ["k0", "k1"]
    # one request authenticates (the AP-REQ; over HTTPS it carries the Create), then the shell
    handshake = 0 if https else 1
    assert server.stats()["http_requests"] - before == handshake + 1 + 2 * 3 + 1 - 1
    assert conn.stats.http_requests == server.stats()["http_requests"] - before
    assert server.stats()["open_shells"] == 0


def test_a_ticket_for_another_service_is_rejected(realm_endpoint):
    server, kdc = realm_endpoint
    other = kdc.other_service.split("/", 1)[1].split("@")[0]
    conn = WinRMConnection("h1", server.endpoint, user=kdc.principal("tacfleet"),
                           password=SecretStr(""), transport="kerberos",
                           options={"kerberos_hostname_override": other}, client="lean")
    with pytest.raises(AuthenticationFailed, match=r"rejected the Kerberos ticket.*SPN"):
        conn.run("echo no")


def test_no_ticket_is_a_one_line_authentication_error(realm_endpoint, tmp_path, monkeypatch):
    """A ticket cache emptied after ``kerberos.prepare`` (expired, kdestroy): one line."""
    server, kdc = realm_endpoint
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty.ccache'}")
    conn = WinRMConnection("h1", server.endpoint, user=kdc.principal("tacfleet"),
                           password=SecretStr(""), transport="kerberos",
                           options={"kerberos_hostname_override": kdc.hostname}, client="lean")
    with pytest.raises(AuthenticationFailed, match="rejected the Kerberos ticket"):
        conn.run("echo no")
    assert server.stats()["http_requests"] == 0  # nothing to send without a ticket
