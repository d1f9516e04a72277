"""A connection's failure in tacfleet's words (``winhost.errors.connection_words``), from real
failures on loopback (refused, timed out, TLS with an untrusted certificate) and the exceptions
Python's resolver and urllib3 raise for a name that does not resolve."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading

import pytest
import requests
import urllib3

from winhost.errors import connection_words


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("TACFLEET_DEBUG", raising=False)


def test_refused():
    port = _closed_port()
    with pytest.raises(requests.ConnectionError) as caught:
        requests.post(f"http://127.0.0.1:{port}/wsman", timeout=5)
    assert connection_words(caught.value, "127.0.0.1", port) == (
        f"connection refused on 127.0.0.1:{port}")


def test_name_not_found():
    resolver = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert connection_words(resolver, "web01.example.com", 5986) == (
        "web01.example.com: name not found (DNS)")
    conn = urllib3.connection.HTTPSConnection("web01.example.com", 5986)
    wrapped = urllib3.exceptions.NameResolutionError("web01.example.com", conn, resolver)
    assert connection_words(requests.ConnectionError(wrapped), "web01.example.com", 5986) == (
        "web01.example.com: name not found (DNS)")


def test_no_answer_in_time():
    with socket.socket() as server:  # accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with pytest.raises(requests.Timeout) as caught:
            requests.post(f"http://127.0.0.1:{port}/wsman", timeout=0.5)
    assert connection_words(caught.value, "127.0.0.1", port) == (
        f"no answer from 127.0.0.1:{port} in time (read timeout)")


def test_connect_timeout_as_urllib3_says_it():
    conn = urllib3.connection.HTTPConnection("web01", 5985)
    exc = urllib3.exceptions.ConnectTimeoutError(
        conn, "Connection to web01 timed out. (connect timeout=5)")
    assert connection_words(requests.ConnectTimeout(exc), "web01", 5985) == (
        "timed out connecting to web01:5985")


def test_an_untrusted_certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def serve() -> None:
            raw, _ = server.accept()
            try:
                context.wrap_socket(raw, server_side=True).close()
            except (ssl.SSLError, OSError):
                raw.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with pytest.raises(requests.exceptions.SSLError) as caught:
            requests.post(f"https://127.0.0.1:{port}/wsman", timeout=5)
        thread.join(5)
    assert connection_words(caught.value, "127.0.0.1", port) == (
        "TLS: certificate not trusted (self-signed certificate)")


def test_the_exception_class_only_with_debug(monkeypatch):
    port = _closed_port()
    with pytest.raises(OSError) as caught:
        socket.create_connection(("127.0.0.1", port), timeout=5)
    assert "Error" not in connection_words(caught.value, "127.0.0.1", port)
    monkeypatch.setenv("TACFLEET_DEBUG", "1")
    assert "ConnectionRefusedError" in connection_words(caught.value, "127.0.0.1", port)
