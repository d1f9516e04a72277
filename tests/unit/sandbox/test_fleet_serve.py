"""The simulated fleet's request parsing (sandbox.fleet.serve): HTTP/1.1 as http.server reads it,
over a real socket pair, and the stock clients (pywinrm, the lean transport) through one host."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest

from sandbox.fleet.serve import _parse_request


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    parse_request = _parse_request
    seen: ClassVar[list[tuple[str, str, dict[str, str | None]]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.seen.append((self.path, body.decode(), {
            k: self.headers.get(k) for k in ("Authorization", "content-type", "X-Twice")}))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def exchange(raw: bytes) -> bytes:
    """Serve one connection that sends ``raw``; everything the handler answered."""
    client, server = socket.socketpair()
    _Echo.seen = []

    def serve() -> None:
        try:
            _Echo(server, ("127.0.0.1", 1), None)  # type: ignore[arg-type]  # server: unused
        finally:
            server.shutdown(socket.SHUT_RDWR)  # the client reads to the end

    thread = threading.Thread(target=serve)
    thread.start()
    client.sendall(raw)
    client.shutdown(socket.SHUT_WR)
    answer = b""
    while chunk := client.recv(65536):
        answer += chunk
    thread.join(5)
    client.close()
    server.close()
    return answer


def test_keep_alive_requests_with_headers_by_any_case():
    one = (b"POST /wsman HTTP/1.1\r\nHost: h\r\nAuthorization: Negotiate TlRMTVNT\r\n"
           b"Content-Type: multipart/encrypted;protocol=\"x\"\r\nX-Twice: a\r\nX-twice: b\r\n"
           b"Content-Length: 5\r\n\r\nhello")
    two = b"POST /second HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
    answer = exchange(one + two)
    assert answer.count(b"HTTP/1.1 200") == 2  # one connection, both answered
    assert _Echo.seen == [
        ("/wsman", "hello", {"Authorization": "Negotiate TlRMTVNT",
                             "content-type": 'multipart/encrypted;protocol="x"',
                             "X-Twice": "a, b"}),
        ("/second", "", {"Authorization": None, "content-type": None, "X-Twice": None})]


def test_connection_close_and_http_1_0_end_the_connection():
    answer = exchange(b"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                      b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert answer.count(b"200") == 1
    assert exchange(b"POST / HTTP/1.0\r\n\r\nPOST / HTTP/1.0\r\n\r\n").count(b"200") == 1


@pytest.mark.parametrize("raw, status", [
    (b"POST /wsman\r\n\r\n", b"400"),
    (b"POST /wsman HTTP/2.0\r\n\r\n", b"505"),
    (b"POST / HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(101)) + b"\r\n",
     b"431"),
    (b"POST / HTTP/1.1\r\nX: " + b"v" * 70000 + b"\r\n\r\n", b"431"),
])
def test_bad_requests_are_answered_as_http_server_does(raw, status):
    answer = exchange(raw)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:80]
    assert _Echo.seen == []


@pytest.mark.parametrize("client", ["lean", "pywinrm"])
def test_a_simulated_host_serves_both_clients(client, tmp_path):
    """Real NTLM and sealing through the fleet's parser: tacfleet's lean transport and
    unmodified pywinrm (what stock testinfra uses) both run the recorded command."""
    import secrets

    from pydantic import SecretStr

    from sandbox.executor import ExecResult
    from sandbox.fleet.serve import SimulatedFleet
    from sandbox.fleet.transcript import Transcript
    from winhost.winrm_connection import WinRMConnection

    line = r'"C:\Windows\System32\whoami.exe" /user'
    transcript = Transcript({line: ExecResult(0, b"sim\\tacfleet S-1-5-21\r\n", b"")})
    password = secrets.token_urlsafe(12)
    with SimulatedFleet(transcript, 2, user="fleetunit", password=password,
                        state_dir=tmp_path) as fleet:
        with WinRMConnection("sim", fleet.endpoints[1], user="fleetunit",
                             password=SecretStr(password), client=client) as conn:
            from winhost.cmdline import Command

            result = conn.run(Command((r"C:\Windows\System32\whoami.exe", "/user")))
        stats = fleet.stats()
    assert (result.rc, result.stdout.strip()) == (0, "sim\\tacfleet S-1-5-21")
    assert stats["hosts"][1]["http_requests"] == (6 if client == "lean" else 7)
    assert stats["hosts"][0]["http_requests"] == 0 and stats["unknown_commands"] == 0
    assert stats["total"]["open_shells"] == 0
