"""The lean transport's message encryption framing and credentials, against pyspnego itself."""

from __future__ import annotations

import datetime as dt
import hashlib
import struct

import pytest
import spnego
import spnego._ntlm
from winrm.encryption import Encryption

from winhost import wsman_transport as wire
from winhost.wsman_transport import LeanTransport, seal, unseal

ENVELOPE = (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
            b'<rsp:Stream Name="stdout">aGVsbG8gw6kg4oKsIA==</rsp:Stream></s:Body>'
            b'</s:Envelope>') * 20


@pytest.fixture
def ntlm_pair(tmp_path, monkeypatch) -> tuple[spnego.ContextProxy, spnego.ContextProxy]:
    """An NTLM client (the lean transport's credential) and pyspnego's acceptor, handshaken."""
    users = tmp_path / "users"
    users.write_text(":ops:pw-unit-1\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    transport = LeanTransport("http://127.0.0.1:1/wsman", username="ops", password="pw-unit-1")
    client = spnego.client(transport._credential, hostname="127.0.0.1", protocol="ntlm",
                           options=spnego.NegotiateOptions.use_ntlm)
    server = spnego.server(protocol="ntlm")
    server.step(client.step(server.step(client.step())))
    assert client.complete and server.complete
    return client, server


def test_sealed_both_ways_round_trip(ntlm_pair):
    client, server = ntlm_pair
    assert unseal(server, seal(client, ENVELOPE)) == ENVELOPE
    assert unseal(client, seal(server, ENVELOPE)) == ENVELOPE
    for i in range(3):  # sequence numbers advance on both sides
        assert unseal(server, seal(client, ENVELOPE[i:])) == ENVELOPE[i:]


def test_the_sandbox_endpoint_reads_what_the_lean_transport_seals(ntlm_pair):
    """The Windows-style acceptor's framing (sandbox.winrm.auth), both directions."""
    from sandbox.winrm import auth

    client, server = ntlm_pair
    endpoint = auth.ConnectionAuth("ops", "pw-unit-1", tls=False)
    endpoint._ctx = server
    content_type = wire.CONTENT_TYPE
    assert endpoint.unwrap(content_type, seal(client, ENVELOPE)) == ENVELOPE
    answer_type, answer = endpoint.wrap(ENVELOPE)
    assert f'protocol="{wire.PROTOCOL}"' in answer_type
    assert unseal(client, answer) == ENVELOPE


class _Fixed:
    """A context whose wrap result is fixed, to compare the framing byte for byte."""

    def __init__(self) -> None:
        self.session_security = self

    def wrap_winrm(self, data: bytes) -> tuple[bytes, bytes, int]:
        return b"S" * 16, data[::-1], 0

    def wrap(self, data: bytes) -> tuple[bytes, bytes]:  # requests_ntlm's session_security
        return data[::-1], b"S" * 16

    def unwrap_winrm(self, header: bytes, data: bytes) -> bytes:
        if header != b"S" * 16:
            raise ValueError("bad signature")
        return data[::-1]


def test_framing_is_byte_for_byte_pywinrms():
    class Session:
        auth = _Fixed()

    pywinrm = Encryption(Session(), "ntlm")  # type: ignore[arg-type]
    expected = pywinrm._encrypt_message(ENVELOPE, "h") + Encryption.MIME_BOUNDARY + b"--\r\n"
    assert seal(_Fixed(), ENVELOPE) == expected


def test_a_captured_windows_answer_is_parsed():
    """The layout Windows answers with: header part, then the octet-stream part whose payload is
    the signature length (little-endian), the signature and the sealed bytes; then the end."""
    sealed = b"<s:Envelope>done</s:Envelope>"[::-1]
    captured = (b"--Encrypted Boundary\r\n"
                b"\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n"
                b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=29\r\n"
                b"--Encrypted Boundary\r\n"
                b"\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<i", 16) + b"S" * 16 + sealed
                + b"--Encrypted Boundary--\r\n")
    assert unseal(_Fixed(), captured) == b"<s:Envelope>done</s:Envelope>"
    with pytest.raises(ValueError, match="length does not match"):
        unseal(_Fixed(), captured.replace(b"Length=29", b"Length=30"))
    with pytest.raises(ValueError, match="bad signature"):
        unseal(_Fixed(), captured.replace(b"S" * 16, b"T" * 16))
    with pytest.raises(ValueError, match="header and payload"):
        unseal(_Fixed(), b"<s:Envelope/>")


def test_a_tampered_message_fails_its_signature(ntlm_pair):
    client, server = ntlm_pair
    body = bytearray(seal(client, ENVELOPE))
    body[-40] ^= 1  # a byte of the sealed payload
    with pytest.raises(spnego.exceptions.SpnegoError):
        unseal(server, bytes(body))


def test_ntlm_never_computes_the_lm_hash(monkeypatch, tmp_path):
    """pyspnego derives the LM hash (pure-Python DES) for a password credential; NTLMv2 never
    uses it, and the lean transport hands pyspnego the NT hash only."""
    def forbidden(password: str) -> bytes:
        raise AssertionError("the LM hash was computed")

    monkeypatch.setattr(spnego._ntlm, "lmowfv1", forbidden)
    wire._nt_hash.cache_clear()
    transport = LeanTransport("http://127.0.0.1:1/wsman", username="ops", password="pw-lm-2")
    context = spnego.client(transport._credential, hostname="h", protocol="ntlm",
                            options=spnego.NegotiateOptions.use_ntlm)
    assert context.step()  # the negotiate message
    with pytest.raises(AssertionError, match="LM hash"):
        spnego.client("ops", "pw-lm-2", hostname="h", protocol="ntlm",
                      options=spnego.NegotiateOptions.use_ntlm)  # what requests_ntlm does
    from spnego._ntlm_raw.crypto import ntowfv1

    assert transport._credential.nt_hash == ntowfv1("pw-lm-2").hex()


def test_no_secret_in_the_repr():
    transport = LeanTransport("https://h:5986/wsman", username="ops", password="pw-repr-3")
    text = repr(transport) + repr(transport.__dict__.get("_credential"))
    assert "pw-repr-3" not in text and wire._nt_hash("pw-repr-3") not in text


def test_channel_bindings_hash_the_certificate_as_rfc5929_says():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "h")])
    now = dt.datetime.now(dt.UTC)
    # (a SHA-1 or MD5 signature would be hashed with SHA-256; cryptography no longer signs so)
    for algorithm, digest in ((hashes.SHA384(), hashlib.sha384),
                              (hashes.SHA512(), hashlib.sha512)):
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(1).not_valid_before(now)
                .not_valid_after(now + dt.timedelta(days=1)).sign(key, algorithm))
        der = cert.public_bytes(Encoding.DER)
        bindings = wire.tls_channel_bindings(der)
        assert bindings.application_data == b"tls-server-end-point:" + digest(der).digest()


def test_only_ntlm_and_kerberos():
    with pytest.raises(ValueError, match="ntlm and kerberos"):
        LeanTransport("http://h/wsman", username="u", password="p", auth="credssp")


# -- envelopes: pywinrm's, rendered once and filled in ---------------------------------------------
class _Recorder:
    """Records the envelope; answers with a canned reply."""

    username = "u"

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sent: list[str] = []

    def send_message(self, message: str | bytes) -> bytes:
        self.sent.append(message if isinstance(message, str) else message.decode())
        return self.reply

    def close_session(self) -> None:
        pass


FIXED = "6f1c2e8a-1b7d-4c55-9a0e-2d4b8f0c1e33"
RELATES = (f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
           f'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header>'
           f'<a:RelatesTo>uuid:{FIXED.upper()}</a:RelatesTo></s:Header><s:Body/></s:Envelope>'
           ).encode()


@pytest.mark.parametrize("call", [
    lambda p: p.open_shell(codepage=65001),
    lambda p: p.open_shell(codepage=437),
    lambda p: p.run_command("S-1", 'C:\\x.exe "a b" & <c> \u00e9\u20ac \'q\'',
                            skip_cmd_shell=True),
    lambda p: p.run_command("S-1", "echo %PATH% ^& x"),
    lambda p: p.get_command_output_raw("S-1", "C-2"),
    lambda p: p.cleanup_command("S-1", "C-2"),
    lambda p: p.close_shell("S-1", close_session=False),
])
def test_envelopes_are_pywinrms_byte_for_byte(call, monkeypatch):
    import uuid

    from winrm.protocol import Protocol

    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(FIXED))
    reply = RELATES.replace(b"<s:Body/>", b'<s:Body><w:Selector xmlns:w="x" Name="ShellId">S-1'
                            b"</w:Selector><rsp:CommandId xmlns:rsp=\"y\">C-2</rsp:CommandId>"
                            b"</s:Body>")
    ours, theirs = _Recorder(reply), _Recorder(reply)
    lean = wire.LeanProtocol(LeanTransport("http://h/wsman", username="u", password="p"),
                             operation_timeout=20, read_timeout=30)
    lean.transport = ours  # type: ignore[assignment]
    stock = Protocol("http://h/wsman", transport="plaintext", username="u", password="p",
                     operation_timeout_sec=20, read_timeout_sec=30)
    stock.transport = theirs  # type: ignore[assignment]
    assert call(lean) == call(stock)
    assert ours.sent == theirs.sent and len(ours.sent) == 1


def test_receive_reads_streams_and_the_exit_code():
    answer = (b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
              b'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body>'
              b'<rsp:ReceiveResponse><rsp:Stream Name="stdout" CommandId="C">aGVs</rsp:Stream>'
              b'<rsp:Stream Name="stderr" CommandId="C">ZXJy</rsp:Stream>'
              b'<rsp:Stream Name="stdout" CommandId="C">bG8=</rsp:Stream>'
              b'<rsp:Stream Name="stdout" CommandId="C" End="true"></rsp:Stream>'
              b'<rsp:CommandState CommandId="C" State="http://schemas.microsoft.com/wbem/wsman/'
              b'1/windows/shell/CommandState/Done"><rsp:ExitCode>3</rsp:ExitCode>'
              b'</rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>')
    lean = wire.LeanProtocol(LeanTransport("http://h/wsman", username="u", password="p"))
    lean.transport = _Recorder(answer)  # type: ignore[assignment]
    assert lean.get_command_output_raw("S", "C") == (b"hello", b"err", 3, True)
    running = answer.replace(b"CommandState/Done", b"CommandState/Running").replace(
        b"<rsp:ExitCode>3</rsp:ExitCode>", b"")
    lean.transport = _Recorder(running)  # type: ignore[assignment]
    assert lean.get_command_output_raw("S", "C") == (b"hello", b"err", -1, False)


def test_an_answer_to_another_request_is_refused():
    from winrm.exceptions import WinRMError

    lean = wire.LeanProtocol(LeanTransport("http://h/wsman", username="u", password="p"))
    lean.transport = _Recorder(RELATES)  # type: ignore[assignment]
    with pytest.raises(WinRMError, match="does not relate"):
        lean.cleanup_command("S", "C")


# -- answers read without the email package ---------------------------------------------------
def _answer(raw: bytes) -> tuple[object, bytes]:
    import socket

    client, server = socket.socketpair()
    server.sendall(raw)
    server.close()
    response = wire._Response(client, method="POST")
    response.begin()
    body = response.read()
    client.close()
    return response, body


def test_an_answer_with_repeated_headers_and_a_chunked_body():
    response, body = _answer(
        b"HTTP/1.1 401 \r\nWWW-Authenticate: Negotiate\r\nwww-authenticate: CredSSP\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert (response.status, body) == (401, b"hello")  # type: ignore[attr-defined]
    assert response.getheader("WWW-Authenticate") == "Negotiate, CredSSP"  # type: ignore[attr-defined]
    assert not response.will_close  # type: ignore[attr-defined]


def test_an_answer_that_closes_the_connection():
    response, body = _answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n"
                             b"\r\nokEXTRA")
    assert body == b"ok" and response.will_close  # type: ignore[attr-defined]
    response, body = _answer(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
    assert body == b"until the end" and response.will_close  # type: ignore[attr-defined]


def test_a_header_block_past_the_limits_is_refused():
    import http.client

    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        _answer(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n")
    with pytest.raises(http.client.LineTooLong):
        _answer(b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n")
