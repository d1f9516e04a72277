"""A lean WinRM transport: keep-alive ``http.client``, NTLM or Kerberos through pyspnego, sealed.

A drop-in for pywinrm's ``Transport`` under pywinrm's own ``Protocol`` (its envelopes and their
parsing are reused): ``send_message(xml) -> xml`` raising pywinrm's exceptions, so
``WSManFaultError`` and ``InvalidCredentialsError`` mean what they mean with pywinrm. What it
saves per host, measured in ``bench/fleet_check.py`` (issue 13):

- no requests/urllib3 layer and no environment scan per request (proxies, CA bundles): one
  ``http.client`` connection per host, kept alive (the security context belongs to it);
- the authentication token sent up front: NTLM takes 2 requests (negotiate, authenticate)
  instead of pywinrm's 3, Kerberos 1; over HTTPS the last leg carries the first envelope;
- the NTLM credential as its NT hash, computed once per password and process: pyspnego
  otherwise derives the LM hash too (pure-Python DES, ~0.8 ms) for every context, which
  NTLMv2 never uses;
- message encryption (MS-WSMV 2.2.9.1.1, ``multipart/encrypted``) framed here around pyspnego's
  ``wrap_winrm``/``unwrap_winrm``, byte for byte as pywinrm and Windows frame it.

Connection-level failures raise ``WireError`` (``WireTimeout``, ``WireTLSError``) with the cause's
type and text; TLS validates the host's certificate by default (``ca_file`` or the system
store). CredSSP, certificates and Basic stay on pywinrm (``winhost.winrm_connection``).

What a host (or a machine in the path) sends is not trusted (issue 32); an answer is refused,
the connection closed and ``AnswerRefused`` raised (never retried: it is no network hiccup) when

- the connection seals (HTTP) and an answer after authentication is not sealed, whatever its
  status (``UnsealedAnswer``: "unsealed answer: possible tampering"): a machine in the path can
  let the real handshake through and forge every answer after it; a sealed answer whose
  signature does not verify is the same;
- its body is larger than ``answer_limit(max_envelope_kb)`` (twice the host's MaxEnvelopeSizekb
  plus the encryption framing; ``AnswerTooLarge``): refused from its Content-Length before
  reading, or, chunked or delimited by the connection's close, as soon as it passes the limit
  (never more than the limit in memory).
"""

from __future__ import annotations

import base64
import functools
import http.client
import select
import ssl
import struct
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import spnego
from spnego.channel_bindings import GssChannelBindings
from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMTransportError
from winrm.protocol import Protocol

from winhost.connection import ConnectionStats
from winhost.kerberos import client_credentials

BOUNDARY = b"--Encrypted Boundary"
PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
_PART_HEADER = b"\tContent-Type: application/octet-stream\r\n"
_END = BOUNDARY + b"--\r\n"
#: multipart/encrypted boundaries, part headers and the signature around a sealed envelope.
ENCRYPTION_FRAMING = 1024
#: Bytes read from an answer at a time when its length is not announced.
_READ_BLOCK = 65536
#: The transports this module speaks; the others stay on pywinrm.
AUTH_METHODS = ("ntlm", "kerberos")
_SOAP = "application/soap+xml;charset=UTF-8"
_REJECTED = "the specified credentials were rejected by the server"


class WireError(Exception):
    """The HTTP exchange failed below WinRM (refused, reset, closed); the text names the cause."""


class WireTimeout(WireError):
    """No answer within the read timeout (or no TCP connection within it)."""


class WireTLSError(WireError):
    """The TLS handshake failed (untrusted or mismatched certificate, protocol)."""


class AnswerRefused(Exception):
    """An answer tacfleet will not use (module docstring); the connection was closed."""


class UnsealedAnswer(AnswerRefused):
    """An answer on a sealing connection that is not sealed (or does not unseal)."""


class AnswerTooLarge(AnswerRefused):
    """An answer body larger than ``answer_limit``."""


def answer_limit(max_envelope_kb: int) -> int:
    """The largest answer body read: twice the envelope size plus the encryption framing
    (a host answers within the MaxEnvelopeSize the request names, at most its own)."""
    return 2 * (max_envelope_kb * 1024 + ENCRYPTION_FRAMING)


def read_body(response: http.client.HTTPResponse, limit: int) -> bytes:
    """The answer's body, at most ``limit`` bytes of it ever held: ``AnswerTooLarge`` from its
    Content-Length before reading, or while reading a chunked or close-delimited body."""
    if response.length is not None:
        if response.length > limit:
            raise AnswerTooLarge(f"an answer of {response.length} bytes (Content-Length) "
                                 f"exceeds the {limit}-byte limit")
        return response.read()
    parts: list[bytes] = []
    size = 0
    while True:
        part = response.read(min(_READ_BLOCK, limit + 1 - size))
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > limit:
            how = "chunked" if response.chunked else "read until the connection closes"
            raise AnswerTooLarge(f"an answer body ({how}) passed the {limit}-byte limit")
        parts.append(part)


# -- message encryption framing ------------------------------------------------------------------
def seal(context: Any, message: bytes) -> bytes:
    """``message`` sealed with ``context`` (pyspnego), framed as ``multipart/encrypted``."""
    header, data, padding = context.wrap_winrm(message)
    return b"".join((
        BOUNDARY, b"\r\n\tContent-Type: ", PROTOCOL.encode(),
        b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=",
        str(len(message) + padding).encode(), b"\r\n",
        BOUNDARY, b"\r\n", _PART_HEADER, struct.pack("<i", len(header)), header, data, _END,
    ))


def unseal(context: Any, body: bytes) -> bytes:
    """The plain message of a ``multipart/encrypted`` body sealed by the peer of ``context``.

    Raises ``ValueError`` for a body that is not framed as WinRM frames it or whose length does
    not match its header (pyspnego raises its own error for a bad signature).
    """
    parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
    if not parts or len(parts) % 2:
        raise ValueError("an encrypted answer without its header and payload parts")
    message = []
    for head, payload in zip(parts[0::2], parts[1::2], strict=True):
        _, found, length = head.rpartition(b"Length=")
        if not found:
            raise ValueError("an encrypted answer without the length of its content")
        if payload.endswith(_END):
            payload = payload[: -len(_END)]
        payload = payload.removeprefix(_PART_HEADER)
        if len(payload) < 4:
            raise ValueError("an encrypted answer part too short for its signature")
        size = struct.unpack("<i", payload[:4])[0]
        plain = context.unwrap_winrm(payload[4:4 + size], payload[4 + size:])
        if len(plain) != int(length.strip()):
            raise ValueError("the decrypted length does not match the encrypted answer's header")
        message.append(plain)
    return b"".join(message)


# -- credentials and TLS, once per process ---------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _nt_hash(password: str) -> str:
    """The NT hash (MD4 of UTF-16LE) pyspnego would derive, once per distinct password."""
    from spnego._ntlm_raw.crypto import ntowfv1

    return ntowfv1(password).hex()


@functools.lru_cache(maxsize=32)
def _tls_context(ca_file: str | None, validate: bool) -> ssl.SSLContext:
    """One client TLS context per CA file (loading a CA store costs milliseconds)."""
    if not validate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_file)


def tls_channel_bindings(der: bytes) -> GssChannelBindings:
    """RFC 5929 ``tls-server-end-point`` of the host's certificate (what Windows' CBT checks)."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes

    try:
        algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    except (UnsupportedAlgorithm, ValueError):
        algorithm = None
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest.finalize())


def _negotiate_token(response: http.client.HTTPResponse) -> bytes | None:
    """The token of the answer's ``WWW-Authenticate: Negotiate <token>``, if any."""
    for value in response.msg.get_all("WWW-Authenticate") or []:
        for item in value.split(","):
            scheme, _, token = item.strip().partition(" ")
            if scheme.lower() in ("negotiate", "kerberos", "ntlm") and token.strip():
                try:
                    return base64.b64decode(token.strip())
                except ValueError:
                    return None
    return None


class _Headers:
    """An answer's headers as ``http.client`` and this module read them (``get``,
    ``get_all``, ``items``), without the ``email`` package (~35 µs an answer)."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def get(self, name: str, failobj: Any = None) -> Any:
        name = name.lower()
        return next((v for k, v in self._items if k.lower() == name), failobj)

    def get_all(self, name: str, failobj: Any = None) -> Any:
        name = name.lower()
        return [v for k, v in self._items if k.lower() == name] or failobj

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


#: http.client's limits for an answer's header block.
_MAX_HEADERS, _MAX_LINE = 100, 65536


def _header_lines(fp: Any) -> list[tuple[str, str]]:
    """Header lines up to the blank one, with ``http.client``'s limits."""
    items: list[tuple[str, str]] = []
    for _ in range(_MAX_HEADERS + 1):
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return items
        name, _, value = line.decode("iso-8859-1").partition(":")
        items.append((name.strip(), value.strip()))
    raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


class _Response(http.client.HTTPResponse):
    """``http.client``'s answer, its headers read by ``_header_lines`` (``begin`` as the
    standard library's, which parses them with the ``email`` package)."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            _header_lines(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _Headers(_header_lines(self.fp))
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding and encoding.lower() == "chunked")
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (204, 304) or 100 <= status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class LeanTransport:
    """pywinrm's ``Transport`` interface over one keep-alive connection (see the module)."""

    def __init__(self, endpoint: str, *, username: str, password: str, auth: str = "ntlm",
                 cert_validation: bool = True, ca_file: str | None = None,
                 read_timeout: float = 30, stats: ConnectionStats | None = None,
                 kerberos_hostname_override: str | None = None,
                 kerberos_delegation: bool = False, service: str = "HTTP",
                 max_envelope_kb: int = 500) -> None:
        if auth not in AUTH_METHODS:
            raise ValueError(f"the lean transport speaks {' and '.join(AUTH_METHODS)}, "
                             f"not {auth!r}")
        url = urlsplit(endpoint)
        self.endpoint = endpoint
        self.auth = auth
        self.username = username
        self.https = url.scheme.lower() == "https"
        self._host = url.hostname or ""
        self._port = url.port or (5986 if self.https else 5985)
        self._path = url.path or "/wsman"
        self._seal = not self.https  # HTTP: every message sealed (AllowUnencrypted=false)
        self._tls = _tls_context(ca_file, cert_validation) if self.https else None
        self._timeout = read_timeout
        self.max_answer = answer_limit(max_envelope_kb)
        self._spn_host = kerberos_hostname_override or self._host
        self._delegate = kerberos_delegation
        self._service = service
        # NTLM needs only the NT hash; Kerberos the ticket cache winhost.kerberos filled, or on
        # Windows (SSPI) the password itself with each context.
        self._credential = (spnego.NTLMHash(username=username, nt_hash=_nt_hash(password))
                            if auth == "ntlm" else None)
        self._kerberos = (client_credentials(username, password or None)
                          if auth == "kerberos" else (None, None))  # NTLM: no password kept
        self.stats = stats or ConnectionStats()
        self._conn: http.client.HTTPConnection | None = None
        self._context: Any = None
        self._ready = False  # authenticated on the current connection

    def __repr__(self) -> str:
        return f"LeanTransport(endpoint={self.endpoint!r}, auth={self.auth!r})"

    # -- pywinrm's Transport interface ---------------------------------------------------------
    def send_message(self, message: str | bytes) -> bytes:
        """Send one envelope, return the answer's envelope; authenticate first when needed."""
        if isinstance(message, str):
            message = message.encode("utf-8")
        if self._ready and self._closed_by_host():
            self.close_session()  # idle too long: a new connection authenticates again
        if not self._ready:
            answer = self._authenticate(message)
            if answer is not None:
                return answer
        if self._seal:
            status, response, body = self._post(seal(self._context, message),
                                                {"Content-Type": CONTENT_TYPE})
        else:
            status, response, body = self._post(message, {"Content-Type": _SOAP})
        return self._answer(status, response, body)

    def close_session(self) -> None:
        """Close the TCP connection; its security context dies with it."""
        conn, self._conn = self._conn, None
        self._context, self._ready = None, False
        if conn is not None:
            conn.close()

    def _closed_by_host(self) -> bool:
        """Did the host close the idle keep-alive connection (readable with nothing owed)?"""
        sock = self._conn.sock if self._conn is not None else None
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    # -- authentication --------------------------------------------------------------------------
    def _new_context(self) -> Any:
        bindings = None
        sock = self._conn.sock if self._conn is not None else None
        if isinstance(sock, ssl.SSLSocket):
            der = sock.getpeercert(binary_form=True)
            bindings = tls_channel_bindings(der) if der else None
        if self.auth == "ntlm":
            return spnego.client(self._credential, hostname=self._host, service=self._service,
                                 protocol="ntlm", channel_bindings=bindings,
                                 options=spnego.NegotiateOptions.use_ntlm)
        flags = spnego.ContextReq.default
        if self._delegate:
            flags |= spnego.ContextReq.delegate
        user, secret = self._kerberos
        return spnego.client(user, secret, hostname=self._spn_host,
                             service=self._service, protocol="kerberos",
                             channel_bindings=bindings, context_req=flags)

    def _authenticate(self, message: bytes) -> bytes | None:
        """Run the handshake on a fresh connection; over HTTPS its last leg carries ``message``
        and its answer is returned (None when the handshake went alone, as sealing needs)."""
        self.close_session()
        self._connect()
        try:
            context = self._context = self._new_context()
            token = context.step()
        except spnego.exceptions.SpnegoError as exc:  # no ticket, unknown SPN, no credentials
            self.close_session()
            raise InvalidCredentialsError(f"no {self.auth} token: {exc}") from None
        while True:
            # NTLM's authenticate message completes the client side; Kerberos sends one token.
            last = context.complete or self.auth == "kerberos"
            body = message if last and not self._seal else b""
            headers = {"Authorization": f"Negotiate {base64.b64encode(token).decode()}"}
            if body:
                headers["Content-Type"] = _SOAP
            status, response, data = self._post(body, headers)
            reply = _negotiate_token(response)
            if status == 401 and reply and not context.complete and not last:
                token = self._step(context, reply)
                continue
            if status == 401:
                self.close_session()
                raise InvalidCredentialsError(_REJECTED)
            if reply and not context.complete:  # Kerberos: the host's AP-REP (mutual auth)
                self._step(context, reply)
            if not context.complete:
                self.close_session()
                raise InvalidCredentialsError("the host did not complete the authentication")
            self._ready = True
            return self._answer(status, response, data) if body else None

    def _step(self, context: Any, token: bytes) -> bytes:
        try:
            return context.step(token) or b""
        except spnego.exceptions.SpnegoError as exc:
            self.close_session()
            raise InvalidCredentialsError(f"{self.auth} authentication failed: {exc}") from None

    # -- HTTP ----------------------------------------------------------------------------------
    def _connect(self) -> None:
        if self.https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._tls)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        conn.response_class = _Response
        self._conn = conn
        self._guard(conn.connect)

    def _guard(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        """``call`` with socket, TLS and HTTP failures raised as ``WireError`` (connection
        closed: the security context is gone with it)."""
        try:
            return call(*args, **kwargs)
        except TimeoutError as exc:
            self.close_session()
            raise WireTimeout(f"{type(exc).__name__}: no answer within {self._timeout:g}s "
                              f"({exc})") from None
        except ssl.SSLError as exc:
            self.close_session()
            raise WireTLSError(f"{type(exc).__name__}: {exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            self.close_session()
            raise WireError(f"{type(exc).__name__}: {exc or 'connection closed'}") from None

    def _post(self, body: bytes,
              headers: dict[str, str]) -> tuple[int, http.client.HTTPResponse, bytes]:
        conn = self._conn
        if conn is None:
            raise WireError("ConnectionError: the connection to the host was closed")
        headers = {"User-Agent": "Python WinRM client", **headers}
        self.stats.http_requests += 1

        def exchange() -> tuple[http.client.HTTPResponse, bytes]:
            conn.request("POST", self._path, body=body, headers=headers)
            response = conn.getresponse()
            return response, read_body(response, self.max_answer)

        try:
            response, data = self._guard(exchange)
        except AnswerTooLarge as exc:
            self.close_session()
            raise AnswerTooLarge(f"{self.endpoint}: {exc}") from None
        if response.will_close:  # the host ends the connection, and its security context
            conn.close()
            self._conn, self._ready = None, False
        return response.status, response, data

    def _answer(self, status: int, response: http.client.HTTPResponse, body: bytes) -> bytes:
        """The envelope of an answer: unsealed, or pywinrm's error for its status."""
        if status == 401:
            self.close_session()
            raise InvalidCredentialsError(_REJECTED)
        content_type = response.getheader("Content-Type", "")
        sealed = f'protocol="{PROTOCOL}"' in content_type
        if self._seal and not sealed:
            self.close_session()
            raise UnsealedAnswer(f"unsealed answer: possible tampering (HTTP {status}, "
                                 f"{len(body)} bytes of {content_type[:60] or 'no type'!r} "
                                 f"from {self.endpoint})")
        if sealed:
            if self._context is None:
                raise WireError("ConnectionError: a sealed answer after the connection closed")
            try:
                body = unseal(self._context, body)
            except (ValueError, spnego.exceptions.SpnegoError) as exc:
                self.close_session()
                if self._seal:
                    raise UnsealedAnswer(f"unsealed answer: possible tampering (HTTP {status}: "
                                         f"it does not unseal: {exc})") from None
                raise WinRMTransportError("http", status, f"unreadable sealed answer: {exc}"
                                          ) from None
        if status != 200:
            raise WinRMTransportError("http", status, body.decode("utf-8", "replace"))
        return body


class _Captured(Exception):
    """Carries an envelope pywinrm built, instead of sending it."""

    def __init__(self, message: str) -> None:
        super().__init__("captured")
        self.message = message


class _CaptureTransport:
    def send_message(self, message: str) -> bytes:
        raise _Captured(message)

    def close_session(self) -> None:
        pass


#: Stand-ins pywinrm renders into an envelope once; each request replaces them.
_MESSAGE_ID, _SHELL_ID, _COMMAND_ID, _LINE = (
    "tacfleet-message-id", "tacfleet-shell-id", "tacfleet-command-id", "tacfleet-command-line")
#: The stand-in data of a Send template, and its base64 text as the envelope holds it.
_SEND_DATA = b"tacfleet-send-data"
_SEND_TEXT = base64.b64encode(_SEND_DATA).decode("ascii")


@functools.lru_cache(maxsize=64)
def _template(action: str, operation_timeout: int, option: int | bool) -> str:
    """The envelope pywinrm's ``Protocol`` builds for ``action``, with stand-ins for the
    message, shell and command ids and the command line (xmltodict costs ~0.15 ms an envelope;
    a template and four replacements, microseconds)."""
    protocol = Protocol.__new__(Protocol)
    protocol.operation_timeout_sec = operation_timeout
    protocol.transport = _CaptureTransport()  # type: ignore[assignment]
    build = protocol.build_wsman_header
    protocol.build_wsman_header = (  # type: ignore[method-assign]
        lambda action, resource_uri, shell_id=None, message_id=None:
        build(action, resource_uri, shell_id, _MESSAGE_ID))
    calls: dict[str, Callable[[], object]] = {
        "create": lambda: protocol.open_shell(codepage=int(option)),
        "command": lambda: protocol.run_command(_SHELL_ID, _LINE, skip_cmd_shell=bool(option)),
        "receive": lambda: protocol.get_command_output_raw(_SHELL_ID, _COMMAND_ID),
        "signal": lambda: protocol.cleanup_command(_SHELL_ID, _COMMAND_ID),
        "send": lambda: protocol.send_command_input(_SHELL_ID, _COMMAND_ID, _SEND_DATA,
                                                    end=bool(option)),
        "delete": lambda: protocol.close_shell(_SHELL_ID, close_session=False),
    }
    try:
        calls[action]()
    except _Captured as captured:
        return captured.message
    raise AssertionError(f"pywinrm sent no envelope for {action}")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    return _text(value).replace('"', "&quot;")


class LeanProtocol(Protocol):
    """pywinrm's ``Protocol`` over a ``LeanTransport``: the same envelopes (rendered once by
    pywinrm, then filled in), the same fault handling (``Protocol.send_message``)."""

    def __init__(self, transport: LeanTransport, *, operation_timeout: int = 20,
                 read_timeout: int = 30) -> None:
        if not 1 <= operation_timeout < read_timeout:
            raise ValueError("read_timeout must exceed operation_timeout, and both must be "
                             "at least 1 second")
        # Not Protocol.__init__: it builds a requests-based Transport this protocol never uses.
        self.read_timeout_sec = read_timeout
        self.operation_timeout_sec = operation_timeout
        self.max_env_sz = Protocol.DEFAULT_MAX_ENV_SIZE
        self.locale = Protocol.DEFAULT_LOCALE
        self.transport = transport  # type: ignore[assignment]
        self.username = transport.username
        self.password = None
        self.service = "HTTP"

    def _envelope(self, action: str, option: int | bool = 0, *, shell_id: str = "",
                  command_id: str = "", line: str = "") -> tuple[str, str]:
        """(envelope, message id) for ``action``."""
        message_id = str(uuid.uuid4())
        text = _template(action, int(self.operation_timeout_sec), option)
        text = text.replace(_MESSAGE_ID, message_id).replace(_SHELL_ID, _text(shell_id))
        text = text.replace(_COMMAND_ID, _attribute(command_id))
        return text.replace(_LINE, _text(line)), message_id

    @staticmethod
    def _relates_to(answer: bytes, message_id: str) -> None:
        for node in ET.fromstring(answer).iter():
            if node.tag.endswith("RelatesTo"):
                if (node.text or "").strip().lower().removeprefix("uuid:") == message_id:
                    return
                break
        raise WinRMError("the host's answer does not relate to the request sent")

    def open_shell(self, i_stream: str = "stdin", o_stream: str = "stdout stderr",
                   working_directory: str | None = None, env_vars: dict[str, str] | None = None,
                   noprofile: bool = False, codepage: int = 437, lifetime: None = None,
                   idle_timeout: str | int | None = None) -> str:
        if (i_stream, o_stream, working_directory, env_vars, noprofile, idle_timeout) != (
                "stdin", "stdout stderr", None, None, False, None):
            return super().open_shell(i_stream, o_stream, working_directory, env_vars,
                                      noprofile, codepage, lifetime, idle_timeout)
        envelope, _ = self._envelope("create", int(codepage))
        for node in ET.fromstring(self.send_message(envelope)).iter():
            if node.get("Name") == "ShellId" and node.text:
                return node.text
        raise WinRMError("the host's answer to Create names no ShellId")

    def run_command(self, shell_id: str, command: str, arguments: Any = (),
                    console_mode_stdin: bool = True, skip_cmd_shell: bool = False) -> str:
        if arguments or not console_mode_stdin:
            return super().run_command(shell_id, command, arguments, console_mode_stdin,
                                       skip_cmd_shell)
        envelope, _ = self._envelope("command", bool(skip_cmd_shell), shell_id=shell_id,
                                     line=command)
        for node in ET.fromstring(self.send_message(envelope)).iter():
            if node.tag.endswith("CommandId") and node.text:
                return node.text
        raise WinRMError("the host's answer to Command names no CommandId")

    def get_command_output_raw(self, shell_id: str,
                               command_id: str) -> tuple[bytes, bytes, int, bool]:
        envelope, _ = self._envelope("receive", shell_id=shell_id, command_id=command_id)
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        done, code = False, -1
        for node in ET.fromstring(self.send_message(envelope)).iter():
            tag = node.tag
            if tag.endswith("Stream") and node.text:
                name = node.get("Name")
                if name in ("stdout", "stderr"):
                    (stdout if name == "stdout" else stderr).append(
                        base64.b64decode(node.text.encode("ascii")))
            elif tag.endswith("CommandState") and node.get("State", "").endswith(
                    "CommandState/Done"):
                done = True
            elif tag.endswith("ExitCode") and done:
                code = int(node.text or -1)
        return b"".join(stdout), b"".join(stderr), code, done

    def send_command_input(self, shell_id: str, command_id: str, stdin_input: str | bytes,
                           end: bool = False) -> None:
        """WinRS Send of standard input: pywinrm's envelope, its data put in as base64 text
        (no XML rendering of a 500 KB string)."""
        data = stdin_input.encode("437") if isinstance(stdin_input, str) else stdin_input
        envelope, _ = self._envelope("send", bool(end), shell_id=shell_id,
                                     command_id=command_id)
        self.send_message(envelope.replace(_SEND_TEXT, base64.b64encode(data).decode("ascii")))

    def cleanup_command(self, shell_id: str, command_id: str) -> None:
        envelope, message_id = self._envelope("signal", shell_id=shell_id,
                                              command_id=command_id)
        self._relates_to(self.send_message(envelope), message_id)

    def close_shell(self, shell_id: str, close_session: bool = True) -> None:
        try:
            envelope, message_id = self._envelope("delete", shell_id=shell_id)
            answer = self.send_message(envelope)
        finally:
            if close_session:
                self.transport.close_session()
        self._relates_to(answer, message_id)
