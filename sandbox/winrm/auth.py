"""Authentication as a Windows WinRM listener does it, with pyspnego as the NTLM acceptor.

- NTLM (raw, as pywinrm sends it, or SPNEGO-wrapped, as pypsrp does) on any listener; over HTTP
  every message after the handshake must be sealed (``multipart/encrypted``), as Windows'
  ``AllowUnencrypted=false`` requires.
- Kerberos (raw GSS tokens as pywinrm sends them, or SPNEGO) under ``Negotiate`` when the sandbox
  runs a realm: pyspnego accepts through GSSAPI with the key of ``HTTP/<host>`` from the keytab
  ``KRB5_KTNAME`` names (``sandbox.kdc``); a ticket for another service cannot be decrypted and is
  refused with 401; sealing works as for NTLM (pyspnego's ``wrap_winrm``).
- CredSSP (pyspnego's acceptor: TLS, then NTLM or Kerberos inside, then the delegated password,
  which must be the user's), sealed with the CredSSP TLS session (MS-WSMV 2.2.9.1.3).
- Basic only over HTTPS; plain-HTTP Basic is refused with 401.
- Certificates on HTTPS (``Authorization: …/secprofile/https/mutual``) when the host has a client
  CA (``sandbox.pki``): the handshake validates chain, expiry and revocation, the UPN maps to the
  user.

The NTLM context lives with the TCP connection: one ``ConnectionAuth`` per HTTP/1.1 connection.
pyspnego's acceptor reads credentials from the file ``NTLM_USER_FILE`` names; one such file serves
every endpoint in the process (``register``), so user names must be unique per process.
"""

from __future__ import annotations

import atexit
import base64
import hmac
import os
import shutil
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import spnego
import spnego.exceptions

from sandbox import pki

BOUNDARY = b"--Encrypted Boundary"
PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
CREDSSP_PROTOCOL = "application/HTTP-CredSSP-session-encrypted"

_store_lock = threading.Lock()
_store: dict[str, str] = {}
_users: dict[str, int] = {}  # endpoints serving each user in this process
_store_file: Path | None = None


def register(user: str, password: str) -> None:
    """Add ``user`` to this process's NTLM credential file (0600, private temp folder)."""
    with _store_lock:
        key = user.lower()
        known = _store.get(key)
        if known is not None and not hmac.compare_digest(known, password):
            raise ValueError(f"user {user!r} is already served with another password in this "
                             "process; give each sandbox endpoint its own user name")
        _store[key] = password
        _users[key] = _users.get(key, 0) + 1
        _write()


def unregister(user: str) -> None:
    """One endpoint serving ``user`` stopped; forget the user when it was the last."""
    with _store_lock:
        key = user.lower()
        _users[key] = _users.get(key, 1) - 1
        if _users[key] <= 0:
            _users.pop(key, None)
            _store.pop(key, None)
            _write()


def _write() -> None:
    """Rewrite the credential file (caller holds the lock)."""
    global _store_file
    if _store_file is None:
        folder = tempfile.mkdtemp(prefix="tacfleet-ntlm-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _store_file = Path(folder) / "users"
    lines = "".join(f":{u}:{p}\n" for u, p in _store.items())
    fd = os.open(_store_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(lines)
    os.environ["NTLM_USER_FILE"] = str(_store_file)


def _is_kerberos(token: bytes) -> bool:
    """A raw Kerberos GSS token (OID 1.2.840.113554.1.2.2) or SPNEGO offering Kerberos first."""
    krb5 = bytes.fromhex("2a864886f712010202")
    ms_krb5 = bytes.fromhex("2a864882f712010202")
    head = token[:64]
    return krb5 in head or ms_krb5 in head


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def _same_user(principal: str, user: str) -> bool:
    """``user@REALM`` names the endpoint's user (the realm is the sandbox's own KDC's)."""
    return principal.partition("@")[0].rpartition("\\")[2].lower() == user.lower()


class Unauthorized(Exception):
    """Answer 401 with these WWW-Authenticate values."""

    def __init__(self, reason: str, challenge: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.challenge = challenge or ["Negotiate"]


@dataclass
class Step:
    """Outcome of an Authorization header: a token to send back and whether we are done."""

    header: str | None
    complete: bool


class ConnectionAuth:
    """Authentication state of one TCP connection."""

    def __init__(self, user: str, password: str, *, tls: bool, peer_cert: bytes | None = None,
                 ) -> None:
        self._user = user
        self._password = password
        self.tls = tls
        self._peer_cert = peer_cert  # DER, validated in the TLS handshake (sandbox.pki)
        self.scheme = ""
        self._ctx: spnego.ContextProxy | None = None
        self.authenticated = False
        self.username = ""

    def offer(self) -> list[str]:
        """The schemes this listener offers in a 401 (CredSSP as with Auth/CredSSP=true)."""
        base = ["Negotiate", "CredSSP"]
        return [*base, "Basic realm=\"WSMAN\""] if self.tls else base

    def authorize(self, header: str) -> Step:
        """Process one ``Authorization`` header; raise Unauthorized when it fails."""
        scheme, _, value = header.strip().partition(" ")
        scheme_l = scheme.lower()
        if scheme_l == "basic":
            return self._basic(value)
        if scheme_l == pki.MUTUAL:
            return self._certificate()
        if scheme_l not in ("negotiate", "ntlm", "credssp"):
            raise Unauthorized(f"authentication scheme {scheme!r} is not enabled", self.offer())
        try:
            token = base64.b64decode(value)
        except ValueError:
            raise Unauthorized("malformed authentication token", self.offer()) from None
        credssp = scheme_l == "credssp"
        if self._ctx is None or self._ctx.complete or credssp != (self.scheme == "CredSSP"):
            self._ctx = spnego.server(protocol="credssp" if credssp else "negotiate")
            self.authenticated = False
        self.scheme = "CredSSP" if credssp else scheme
        kerberos = not credssp and _is_kerberos(token)
        try:
            out = self._ctx.step(token)
        except Exception as exc:  # pyspnego raises SpnegoError, GSSError or worse on a bad token
            self._ctx = None
            if kerberos:
                raise Unauthorized(f"the Kerberos ticket was refused: {_short(exc)}",
                                   self.offer()) from None
            raise Unauthorized("the user name or password is incorrect", self.offer()) from None
        reply = f"{scheme} {base64.b64encode(out).decode()}" if out else None
        if self._ctx.complete and credssp:
            self._delegated()
        if self._ctx.complete:
            principal = self._ctx.client_principal or ""
            if "@" in principal and not _same_user(principal, self._user):
                self._ctx = None
                raise Unauthorized(f"{principal} is not an administrator of this host "
                                   "(access denied)", self.offer())
            self.authenticated = True
            self.username = principal
        return Step(reply, self._ctx.complete)

    def _delegated(self) -> None:
        """CredSSP hands the user's password to the host: it must be the authenticated user's."""
        creds = getattr(getattr(self._ctx, "_ts_credential", None), "credentials", None)
        user = str(getattr(creds, "username", "") or "")
        password = str(getattr(creds, "password", "") or "")
        if not (_same_user(user, self._user)
                and hmac.compare_digest(password.encode(), self._password.encode())):
            self._ctx = None
            raise Unauthorized("the delegated CredSSP credentials are not the user's",
                               self.offer())

    def _certificate(self) -> Step:
        """WinRM's certificate mapping: the client certificate's UPN names the local user."""
        if not self.tls:
            raise Unauthorized("certificate authentication needs HTTPS", self.offer())
        user = pki.mapped_user(self._peer_cert)
        if user is None:
            raise Unauthorized("no client certificate, or one without a UPN and Client "
                               "Authentication", self.offer())
        if user.lower() != self._user.lower():
            raise Unauthorized(f"no certificate mapping for {user}@localhost", self.offer())
        self.scheme = "Certificate"
        self.username = user
        self.authenticated = True
        return Step(None, True)

    def _basic(self, value: str) -> Step:
        if not self.tls:
            # Windows: Basic is refused unless the listener is HTTPS (AllowUnencrypted=false).
            raise Unauthorized("Basic authentication over HTTP is refused; use HTTPS",
                               self.offer())
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except ValueError:
            raise Unauthorized("malformed Basic credentials", self.offer()) from None
        ok_user = user.rpartition("\\")[2].lower() == self._user.lower()
        if not (ok_user and hmac.compare_digest(password.encode(), self._password.encode())):
            raise Unauthorized("the user name or password is incorrect", self.offer())
        self.scheme = "Basic"
        self.username = user
        return Step(None, True)

    # -- message encryption (MS-WSMV 2.2.9.1.1) -----------------------------------------------
    @property
    def can_seal(self) -> bool:
        return self._ctx is not None and self._ctx.complete

    def unwrap(self, content_type: str, body: bytes) -> bytes:
        """Open a ``multipart/encrypted`` body sealed with this connection's NTLM session."""
        credssp = self.scheme == "CredSSP"
        if not self.can_seal or (CREDSSP_PROTOCOL if credssp else PROTOCOL) not in content_type:
            raise Unauthorized("encrypted message for a connection that did not authenticate")
        assert self._ctx is not None
        message = b""
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        for header, payload in zip(parts[0::2], parts[1::2], strict=False):
            length = int(header.split(b"Length=")[1].split(b"\r\n")[0])
            if payload.endswith(BOUNDARY + b"--\r\n"):
                payload = payload[: -len(BOUNDARY + b"--\r\n")]
            data = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
            if credssp:  # MS-WSMV 2.2.9.1.3: trailer length, then TLS records of the session
                plain = self._ctx.unwrap(data[4:]).data
                if len(plain) != length:
                    raise Unauthorized("encrypted message length does not match its header")
                message += plain
                continue
            sig_len = struct.unpack("<i", data[:4])[0]
            signature, sealed = data[4: 4 + sig_len], data[4 + sig_len:]
            plain = self._ctx.unwrap_winrm(signature, sealed)
            if len(plain) != length:
                raise Unauthorized("encrypted message length does not match its header")
            message += plain
        return message

    def wrap(self, message: bytes) -> tuple[str, bytes]:
        """Seal ``message``; returns (Content-Type, body)."""
        assert self._ctx is not None
        protocol = PROTOCOL
        if self.scheme == "CredSSP":
            protocol = CREDSSP_PROTOCOL
            sealed = self._ctx.wrap(message).data
            signature = b""  # the client reads the trailer length and ignores it
            trailer = struct.pack("<i", len(sealed) - len(message) - 5)  # TLS record overhead
        else:
            signature, sealed, _pad = self._ctx.wrap_winrm(message)
            trailer = struct.pack("<i", len(signature)) + signature
        body = (
            BOUNDARY + b"\r\n"
            b"\tContent-Type: " + protocol.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode() + b"\r\n"
            + BOUNDARY + b"\r\n"
            b"\tContent-Type: application/octet-stream\r\n"
            + trailer + sealed
            + BOUNDARY + b"--\r\n"
        )
        return f'multipart/encrypted;protocol="{protocol}";boundary="Encrypted Boundary"', body
