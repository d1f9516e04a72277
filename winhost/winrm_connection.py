"""WinRM connection: one HTTP session and one shell per host per run, reused.

testinfra's stock winrm backend builds a new ``Protocol`` (an NTLM handshake) and a new shell for
every command; here the handshake and the shell happen once, then each command costs Command,
Receive (once per operation timeout while it runs) and Signal (sent before the next command; the
last command's is left to the shell's Delete).

NTLM and Kerberos go over ``winhost.wsman_transport`` (``http.client`` and pyspnego under
pywinrm's envelopes: 6 requests for a one-command check over sealed HTTP instead of 7, and about
half the controller CPU); CredSSP, certificates and Basic over pywinrm's own transport. The
environment variable ``TACFLEET_WINRM_CLIENT=pywinrm`` (read once) puts every transport back on
pywinrm, for an A/B measurement or a host the lean transport does not suit.

Answers are untrusted (issue 32). pywinrm takes a plaintext answer to a sealed request as it
comes (``Encryption.parse_encrypted_response``) and reads any body whole. So pywinrm's transport
is given, through requests' public extension points only, a transport adapter of ours
(``_GuardedAdapter``, mounted on the session pywinrm builds, in ``_GuardedTransport``, a
``Transport`` subclass built in place of pywinrm's, no monkeypatching): every answer to a sealed
request (CredSSP over HTTP; NTLM/Kerberos with ``TACFLEET_WINRM_CLIENT=pywinrm``) must be sealed
with the request's protocol, 401 aside, or the host fails with "unsealed answer: possible
tampering"; every body is capped as the lean transport caps it
(``winhost.wsman_transport.answer_limit``), from its Content-Length or while it is read. We
chose this over refusing those configurations: CredSSP over HTTP is a setup Windows supports
and the inventory allows, and the switch to pywinrm must keep working for A/B measurements.

A command's whole output (stdout and stderr over all its Receives) is capped too
(``max_output``, default ``MAX_OUTPUT`` = 32 MiB): a host that streams without end is cut off
(``OutputTooLarge``) long before the command's deadline.

Windows answers Create, Command, Signal or Delete with the operation-timeout fault (w:TimedOut,
WSManFault 2150858793) on a slow or newly booted host; pywinrm raises it as
``WinRMOperationTimeoutError``, which is no ``WinRMError``. Create is retried (nothing was sent
yet; ``retries`` times, short backoff); a timeout answering Command, Send or a later operation
is a lost connection (the command may or may not have run: ``ConnectionLost`` and its fix);
Signal and Delete are cleanup and never turn a result into an error.

Quota faults come, on Windows 2012 and later, as ``w:InternalError`` with a generic reason and
the code in a WMI error (pywinrm's ``wmierror_code``; ``fault_code`` reads either shape,
``fault_text`` the quota's own words). A Command refused for MaxConcurrentOperationsPerUser
(2150859174) did not run: the shell is deleted (which releases its operations) and the command
runs once more in a fresh one, changes too, as Ansible does. A Create refused for
MaxShellsPerUser (2150859173) is reported at once, with the fix: the user's other shells stay
open until deleted or idle for the host's IdleTimeout. Output arrives over as many Receives as
the host sends (Running with what is there, TimedOut when nothing came, then Done).
"""

from __future__ import annotations

import logging
import os
import re
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol
from winrm.transport import Transport

from inventory.secrets import redact, remember
from winhost import wsman_transport
from winhost.cmdline import Command
from winhost.connection import COMMANDS, ConnectionStats, Result, Stdin, decode_output, stdin_parts
from winhost.errors import (
    AuthenticationFailed,
    CommandTimeout,
    ConnectionLost,
    HostError,
    HostUnreachable,
    OutputTooLarge,
    OversizedAnswer,
    ProgramNotFound,
    TamperedAnswer,
    UsageError,
    connection_words,
)
from winhost.wsman_transport import (
    AUTH_METHODS,
    AnswerRefused,
    AnswerTooLarge,
    LeanProtocol,
    LeanTransport,
    UnsealedAnswer,
    WireError,
    WireTimeout,
    answer_limit,
)

log = logging.getLogger(__name__)
#: A process that ends with this (STATUS_DLL_INIT_FAILED) never ran its own code: Windows could
#: not initialise it (desktop heap of a non-interactive session exhausted). Run again.
STATUS_DLL_INIT_FAILED = 0xC0000142
#: Bytes of an envelope around one Send's data: the SOAP header and the Stream element.
SEND_OVERHEAD = 4096


def stdin_part(max_envelope_kb: int) -> int:
    """Standard input bytes per WinRS Send: as many as fit, base64-encoded (4 characters per
    3 bytes) with the SOAP around them, in the host's MaxEnvelopeSizekb (Windows' default 500:
    380,928 bytes a Send). Larger envelopes are refused by the host unread."""
    return (max_envelope_kb * 1024 - SEND_OVERHEAD) * 3 // 4


#: At Windows' default MaxEnvelopeSizekb.
STDIN_PART = stdin_part(500)
#: The most output (stdout and stderr over all Receives) one command may send back.
MAX_OUTPUT = 32 * 1024 * 1024
#: The WSManFault code of Windows' operation timeout (w:TimedOut).
OPERATION_TIMEOUT_CODE = 2150858793

#: Transport-level failures after which the session and shell are rebuilt.
_TRANSIENT: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    WinRMTransportError,
    WireError,
)
#: Failures after which the host is not asked to delete the shell (it did not answer).
_TIMEOUTS: tuple[type[BaseException], ...] = (requests.Timeout, WireTimeout)
#: The client for NTLM and Kerberos: "lean" (winhost.wsman_transport) or "pywinrm".
CLIENTS = ("lean", "pywinrm")
DEFAULT_CLIENT = os.environ.get("TACFLEET_WINRM_CLIENT", "lean").strip().lower() or "lean"
#: The host refused the credentials: pywinrm's error, or CredSSP's own (requests-credssp).
_REFUSED: tuple[type[BaseException], ...] = (InvalidCredentialsError,)
try:
    from requests_credssp.exceptions import AuthenticationException, NTStatusException

    _REFUSED = (InvalidCredentialsError, AuthenticationException, NTStatusException)
except ImportError:  # the credssp extra is not installed
    pass
#: Cleanup (Signal, Delete) that fails with these is logged, never raised: an operation timeout
#: or a refused answer there must not turn a command's result into an error.
_CLOSE_ERRORS: tuple[type[BaseException], ...] = (WinRMError, WinRMOperationTimeoutError,
                                                  AnswerRefused, *_TRANSIENT)
#: deleting a broken shell may also meet its dead security context
_DELETE_ERRORS: tuple[type[BaseException], ...] = (*_CLOSE_ERRORS, InvalidCredentialsError)
_RETRYABLE: tuple[type[BaseException], ...] = (WSManFaultError, WinRMOperationTimeoutError,
                                               *_TRANSIENT)
#: HRESULTs of a WSMan fault answering a Command whose program does not exist (Win32 errors 2
#: ERROR_FILE_NOT_FOUND and 3 ERROR_PATH_NOT_FOUND as 0x8007xxxx).
_NOT_FOUND_CODES = {0x80070002, 0x80070003}
#: Windows' quota faults (ERROR_WSMAN_QUOTA_MAX_SHELLS, ERROR_WSMAN_QUOTA_MAX_OPERATIONS): on
#: Windows 2012 and later in a ``p:MSFT_WmiError`` (pywinrm's ``wmierror_code``), before in an
#: ``f:WSManFault`` (``wsman_fault_code``).
QUOTA_MAX_SHELLS, QUOTA_MAX_OPERATIONS = 0x803381A5, 0x803381A6
#: The detail messages of a fault: WSManFault's (nested provider faults too) and a WMI error's.
_FAULT_MESSAGES = ("{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}Message",
                   "{http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError}Message")
#: Commands per shell before a fresh one (Windows' MaxConcurrentOperationsPerUser is 1,500 and a
#: shell's operations are released only when it is deleted; a GPO may lower it).
SHELL_COMMANDS = 500


def _not_found(exc: WSManFaultError) -> bool:
    """Does this fault say the program of a Command was not found?"""
    for value in (exc.wsman_fault_code, exc.code):
        try:
            code = int(value) if value is not None else None
        except (TypeError, ValueError):
            continue
        if code is not None and (code & 0xFFFFFFFF) in _NOT_FOUND_CODES:
            return True
    return False


def fault_code(exc: WSManFaultError) -> int | None:
    """The Windows code of a fault, from its WSManFault or its WMI error (unsigned 32 bits)."""
    for value in (exc.wsman_fault_code, exc.wmierror_code):
        if isinstance(value, int):
            return value & 0xFFFFFFFF
    return None


def fault_text(exc: WSManFaultError) -> str:
    """The fault's reason and, where it says more, its detail's message: Windows 2012+ gives
    quota faults a generic reason and the quota's words in the WMI error (``p:Message``)."""
    reason = " ".join((exc.reason or "").split())
    try:
        root = ET.fromstring(exc.response or "")
    except (ET.ParseError, ValueError):
        return reason
    for node in root.iter():
        if node.tag in _FAULT_MESSAGES:
            message = " ".join("".join(node.itertext()).split())
            if message and message != reason:
                return f"{reason} {message}".strip() if message not in reason else reason
    return reason


def _sealed_with(content_type: str) -> str | None:
    """The ``protocol="…"`` of a ``multipart/encrypted`` Content-Type (None: not sealed)."""
    if not content_type.lower().startswith(("multipart/encrypted", "multipart/x-multi-encrypted")):
        return None
    match = re.search(r'protocol="([^"]+)"', content_type)
    return match.group(1) if match else ""


class _BoundedBody:
    """A response's ``raw`` that hands out at most ``limit`` bytes, then raises
    ``AnswerTooLarge`` (requests reads it through ``stream``/``read``)."""

    def __init__(self, raw: Any, limit: int, endpoint: str) -> None:
        self._raw, self._limit, self._endpoint, self._size = raw, limit, endpoint, 0

    def read(self, amt: int | None = None, decode_content: bool | None = None,
             **kwargs: Any) -> bytes:
        if amt is None:
            return b"".join(self.stream(wsman_transport._READ_BLOCK, decode_content))
        data: bytes = self._raw.read(min(amt, self._limit + 1 - self._size),
                                     decode_content=decode_content, **kwargs)
        self._size += len(data)
        if self._size > self._limit:
            self._raw.close()
            raise AnswerTooLarge(f"{self._endpoint}: an answer body passed the "
                                 f"{self._limit}-byte limit")
        return data

    def stream(self, amt: int = 65536, decode_content: bool | None = None) -> Any:
        while data := self.read(amt, decode_content=decode_content):
            yield data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _GuardedAdapter(HTTPAdapter):
    """requests' adapter for pywinrm's session: counts every HTTP request (authentication
    handlers' resends too), refuses an unsealed answer to a sealed request (401 aside) and caps
    every answer body (module docstring)."""

    def __init__(self, stats: ConnectionStats, limit: int) -> None:
        super().__init__()
        self._stats, self._limit = stats, limit

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self._stats.http_requests += 1
        response = super().send(request, *args, **kwargs)
        length = response.headers.get("Content-Length", "").strip()
        if length.isdigit() and int(length) > self._limit:
            response.close()
            raise AnswerTooLarge(f"{request.url}: an answer of {length} bytes (Content-Length) "
                                 f"exceeds the {self._limit}-byte limit")
        wanted = _sealed_with(request.headers.get("Content-Type", ""))
        if wanted is not None and response.status_code != 401 and \
                _sealed_with(response.headers.get("Content-Type", "")) != wanted:
            response.close()
            raise UnsealedAnswer(f"unsealed answer: possible tampering (HTTP "
                                 f"{response.status_code} to a request sealed with {wanted})")
        if length.isdigit():
            # Bounded by its length; its raw answer stays urllib3's own, whose socket the
            # authentication handlers read for channel binding (CBT).
            return response
        if response.status_code == 401:
            response.close()
            raise AnswerTooLarge(f"{request.url}: a 401 answer without Content-Length")
        response.raw = _BoundedBody(response.raw, self._limit, str(request.url))
        return response


class _GuardedTransport(Transport):
    """pywinrm's transport with ``_GuardedAdapter`` mounted before its first request."""

    def __init__(self, *, stats: ConnectionStats, max_answer: int, **options: Any) -> None:
        super().__init__(**options)
        self.stats = stats
        self.max_answer = max_answer

    def _mount(self, session: requests.Session) -> None:
        adapter = _GuardedAdapter(self.stats, self.max_answer)
        session.mount("http://", adapter)
        session.mount("https://", adapter)

    def build_session(self) -> requests.Session:
        fresh = self.session is None
        session = super().build_session()  # NTLM/CredSSP over HTTP: the first request is in it
        if fresh and not isinstance(session.get_adapter(self.endpoint), _GuardedAdapter):
            self._mount(session)
        return session

    def setup_encryption(self, session: requests.Session) -> None:
        self._mount(session)
        super().setup_encryption(session)


class WinRMConnection:
    """Runs commands over WinRS on one host: a ``Command`` directly, a ``str`` via cmd.exe."""

    def __init__(
        self,
        host: str,
        endpoint: str,
        *,
        user: str,
        password: SecretStr,
        transport: str = "ntlm",
        cert_validation: bool = True,
        ca_file: str | None = None,
        operation_timeout: int = 20,
        read_timeout: int = 30,
        codepage: int = 65001,
        retries: int = 2,
        default_timeout: float = 600.0,
        options: dict[str, Any] | None = None,
        client: str | None = None,
        max_envelope_kb: int = 500,
        max_output: int = MAX_OUTPUT,
    ) -> None:
        client = client or DEFAULT_CLIENT
        if client not in CLIENTS:
            err = UsageError(f"WinRM client {client!r} is not one of {', '.join(CLIENTS)}")
            err.fix = "set TACFLEET_WINRM_CLIENT to lean or pywinrm, or unset it"
            raise err
        self.host = host
        self.endpoint = endpoint
        self.user = user
        self.transport = transport
        self.codepage = codepage
        self.oem_codepage: int | None = None
        self.retries = retries
        self.default_timeout = default_timeout
        self.stdin_part = stdin_part(max_envelope_kb)
        self.max_envelope_kb = max_envelope_kb
        self.max_output = max_output
        self.stats = ConnectionStats()
        self._password = password
        remember(password.get_secret_value())  # inventory.secrets.redact masks it from now on
        self._options: dict[str, Any] = {
            "transport": transport,
            "server_cert_validation": "validate" if cert_validation else "ignore",
            "ca_trust_path": ca_file,
            "operation_timeout_sec": operation_timeout,
            "read_timeout_sec": read_timeout,
            "message_encryption": "auto",
            **(options or {}),  # kerberos_hostname_override/_delegation, cert_pem/cert_key_pem
        }
        self._lean = client == "lean" and transport in AUTH_METHODS
        self._sent = False
        self._command_refused = False
        self._protocol: Protocol | None = None
        self._shell: str | None = None
        self._finished: str | None = None  # a Done command whose Signal is still owed
        self._in_shell = 0  # commands run in the current shell

    def __repr__(self) -> str:
        return (
            f"WinRMConnection(host={self.host!r}, endpoint={self.endpoint!r}, user={self.user!r})"
        )

    # -- session and shell -------------------------------------------------------------------
    def _open(self) -> tuple[Protocol, str]:
        if self._protocol is not None and self._shell is not None:
            if self._in_shell < SHELL_COMMANDS:
                return self._protocol, self._shell
            # Windows releases a shell's operations only when it is deleted: a fresh shell
            # before MaxConcurrentOperationsPerUser (1,500 by default) is reached.
            try:
                self._protocol.close_shell(self._shell, close_session=False)
            except _CLOSE_ERRORS as exc:
                log.debug("%s: close_shell failed: %s", self.host, redact(str(exc)))
            self._shell, self._finished = None, None
            self._shell = self._create_shell(self._protocol)
            self._in_shell = 0
            return self._protocol, self._shell
        self._in_shell = 0
        protocol = self._new_protocol()
        self._protocol = protocol
        self._shell = self._create_shell(protocol)
        return protocol, self._shell

    def _create_shell(self, protocol: Protocol) -> str:
        """A new shell (Create). Windows' operation timeout here is retried, ``retries`` times
        with a short backoff: nothing was sent to run yet."""
        attempt = 0
        while True:
            attempt += 1
            try:
                shell = protocol.open_shell(codepage=self.codepage)
            except WSManFaultError as exc:
                if fault_code(exc) != QUOTA_MAX_SHELLS:
                    raise
                self._discard(delete=False)  # no shell was opened
                raise self._shells_exhausted(exc) from None
            except WinRMOperationTimeoutError:
                if attempt <= self.retries:
                    log.debug("%s: Create answered with an operation timeout; again", self.host)
                    self._backoff(attempt)
                    continue
                self._discard(delete=False)
                err = HostError(self.host, f"{self.endpoint} answered Create with an operation "
                                f"timeout (WS-Management fault {OPERATION_TIMEOUT_CODE}) "
                                f"{attempt} times; no shell was opened and nothing ran")
                err.fix = ("the host is slow or has just started: run again in a minute, or "
                           "raise connection.operation_timeout")
                raise err from None
            self.stats.shells_opened += 1
            return shell

    def _shells_exhausted(self, exc: WSManFaultError) -> HostError:
        """Create refused: the user has MaxShellsPerUser shells open (not retried: they stay
        open until deleted or idle for the host's IdleTimeout, 2 h by default)."""
        err = HostError(self.host, f"{self.endpoint} refused to open a shell for {self.user!r}: "
                                   f"{redact(fault_text(exc))[:300]} (WS-Management fault "
                                   f"{QUOTA_MAX_SHELLS}); nothing ran")
        err.fix = ("close the other WinRM sessions of this user on the host (or wait for their "
                   "IdleTimeout), or raise its quota: winrm set winrm/config/winrs "
                   "@{MaxShellsPerUser=\"30\"}")
        return err

    def _new_protocol(self) -> Protocol:
        if self._lean:
            options = self._options
            wire = LeanTransport(
                self.endpoint, username=self.user, password=self._password.get_secret_value(),
                auth=self.transport, cert_validation=options["server_cert_validation"] != "ignore",
                ca_file=options["ca_trust_path"], read_timeout=options["read_timeout_sec"],
                stats=self.stats,
                kerberos_hostname_override=options.get("kerberos_hostname_override"),
                kerberos_delegation=bool(options.get("kerberos_delegation", False)),
                max_envelope_kb=self.max_envelope_kb)
            return LeanProtocol(wire, operation_timeout=options["operation_timeout_sec"],
                                read_timeout=options["read_timeout_sec"])
        return self._pywinrm_protocol()

    def _pywinrm_protocol(self) -> Protocol:
        """pywinrm's ``Protocol`` over ``_GuardedTransport`` (counted, sealed answers only,
        bounded bodies), built with the options ``Protocol`` gives its own transport."""
        options = dict(self._options)
        protocol = Protocol(self.endpoint, username=self.user,
                            password=self._password.get_secret_value(), **options)
        options.pop("operation_timeout_sec")
        options["auth_method"] = options.pop("transport")
        options["read_timeout_sec"] = protocol.read_timeout_sec
        protocol.transport = _GuardedTransport(
            stats=self.stats, max_answer=answer_limit(self.max_envelope_kb),
            endpoint=self.endpoint, username=self.user,
            password=self._password.get_secret_value(), service=protocol.service, **options)
        return protocol

    def _discard(self, *, delete: bool = True) -> None:
        """Drop a session that broke; the next command opens a fresh one.

        The shell is deleted first (best effort, one request): a shell left open counts against
        the account's MaxShellsPerUser (Windows' default 30, a GPO may lower it) until its
        IdleTimeout (2 h), so a run that retries would otherwise use up a deploy account's shells.
        ``delete=False`` after a read timeout: a host that does not answer would not answer the
        Delete either, and waiting for it would double the cost of a hung host.
        """
        if delete and self._protocol is not None and self._shell is not None:
            shell, broken = self._shell, self._protocol
            try:
                broken.close_shell(shell, close_session=False)
            except _DELETE_ERRORS:
                # The old session's security context died with its TCP connection (sealed
                # messages cannot be read on a new one): a new session deletes the shell, which
                # belongs to the user, not to the connection.
                broken.transport.close_session()
                try:
                    fresh = self._new_protocol()
                    fresh.close_shell(shell)
                except _DELETE_ERRORS as exc:
                    log.debug("%s: deleting a broken shell failed: %s", self.host,
                              redact(str(exc)))
        if self._protocol is not None:
            self._protocol.transport.close_session()
        self._protocol = None
        self._shell = None
        self._finished = None

    def _release_finished(self, protocol: Protocol, shell: str) -> None:
        """Signal the previous, finished command now that another one follows.

        The Signal of the last command is never sent: deleting the shell releases it, which
        saves one round trip per host for a one-command check.
        """
        if self._finished is not None:
            command_id, self._finished = self._finished, None
            try:
                protocol.cleanup_command(shell, command_id)
            except WinRMOperationTimeoutError:  # the Delete of the shell releases it anyway
                log.debug("%s: Signal answered with an operation timeout", self.host)

    def close(self) -> None:
        if self._protocol is not None and self._shell is not None:
            try:
                self._protocol.close_shell(self._shell)
            except _CLOSE_ERRORS as exc:  # closing is best effort
                log.debug("%s: close_shell failed: %s", self.host, redact(str(exc)))
        self._discard(delete=False)

    def __enter__(self) -> WinRMConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands ----------------------------------------------------------------------------
    def run(
        self, command: Command | str, *, timeout: float | None = None, idempotent: bool = False,
        stdin: Stdin | None = None,
    ) -> Result:
        """Run one command: a ``Command`` without cmd.exe (``WINRS_SKIP_CMD_SHELL``), a ``str``
        as ``cmd.exe /c <line>``. ``stdin``: the program's standard input, streamed with WinRS
        Send (``WINRS_CONSOLEMODE_STDIN=FALSE``: a pipe) in parts just under the host's
        MaxEnvelopeSizekb (``stdin_part``), the last one closing it; without it the program's
        standard input is left as WinRS gives it. A program that ends before reading all of it
        (a failure) stops the Sends: its exit code and output are returned as usual.

        A transport error before the command reached the host is retried for any command; after
        it was sent, only an ``idempotent`` one is retried (a change may or may not have run).
        A Command whose program does not exist raises ``ProgramNotFound`` (nothing ran). A
        process that ended with 0xC0000142 never ran either and is run again, changes too.
        """
        attempt = 0
        renewed = False  # the shell was renewed once for a refused Command (quota)
        while True:
            attempt += 1
            self._sent = False
            self._command_refused = False
            try:
                result = self._run_once(command, timeout or self.default_timeout, stdin)
                if result.rc == STATUS_DLL_INIT_FAILED and attempt <= self.retries:
                    log.debug("%s: the program never started (0xC0000142); again", self.host)
                    self._backoff(attempt)
                    continue
                return result
            except WSManFaultError as exc:
                if isinstance(command, Command) and self._command_refused and _not_found(exc):
                    raise ProgramNotFound(
                        self.host,
                        f"{command.program} does not exist on the host (WinRM fault "
                        f"{exc.wsman_fault_code or exc.code}); nothing ran",
                    ) from None
                self._discard()  # deleting the shell releases its operations on the host
                if self._command_refused and fault_code(exc) == QUOTA_MAX_OPERATIONS \
                        and not renewed:
                    # The Command itself was refused, so it did not run: a fresh shell and one
                    # more try, changes too (as Ansible does, ansible/ansible#83656).
                    log.debug("%s: Command refused by MaxConcurrentOperationsPerUser; "
                              "renewing the shell", self.host)
                    renewed = True
                    self.stats.retries += 1
                    continue
                if (idempotent or not self._sent) and attempt <= self.retries:
                    self._backoff(attempt)
                    continue
                raise self._classify(exc, idempotent) from None
            except AnswerRefused as exc:
                self._discard(delete=False)  # the answers of this path cannot be trusted
                raise self._refused(exc) from None
            except _REFUSED:
                self._discard(delete=False)  # no shell was opened with rejected credentials
                what = {"kerberos": "the Kerberos ticket of", "certificate":
                        "the client certificate of"}.get(self.transport, "the credentials of")
                hint = ("; is HTTP/<host> this host's SPN? (kerberos_hostname_override)"
                        if self.transport == "kerberos" else "")
                raise AuthenticationFailed(
                    self.host,
                    f"{self.endpoint} rejected {what} user {self.user!r}{hint}",
                ) from None
            except _RETRYABLE as exc:
                self._discard(delete=not isinstance(exc, _TIMEOUTS))
                safe_to_retry = idempotent or not self._sent
                if safe_to_retry and attempt <= self.retries:
                    self._backoff(attempt)
                    continue
                raise self._classify(exc, idempotent) from None

    def _send_input(self, protocol: Protocol, shell: str, command_id: str,
                    stdin: Stdin) -> None:
        """Feed the command's standard input. A fault answering a Send means the program
        is no longer reading (it ended, e.g. on a full disk): the Receives that follow
        bring its exit code and why; a second fault there is raised."""
        for part, last in stdin_parts(stdin, self.stdin_part):
            try:
                protocol.send_command_input(shell, command_id, part, end=last)
            except WSManFaultError as exc:
                log.debug("%s: Send refused (%s); reading the command's end", self.host,
                          exc.reason)
                return

    def _refused(self, exc: AnswerRefused) -> HostError:
        """The host error for an answer the transport refused (``wsman_transport``)."""
        text = redact(str(exc))[:300]
        if isinstance(exc, UnsealedAnswer):
            return TamperedAnswer(self.host, text)
        return OversizedAnswer(self.host, f"{text} (connection.max_envelope_kb "
                                          f"{self.max_envelope_kb})")

    def _classify(self, exc: BaseException, idempotent: bool) -> HostError:
        if isinstance(exc, WSManFaultError):
            code = fault_code(exc)
            text = redact(fault_text(exc))[:400]
            return HostError(self.host, f"WinRM fault{f' {code}' if code else ''}: {text}")
        if isinstance(exc, WinRMOperationTimeoutError):
            # Command, Send or Receive's end answered with TimedOut: it may or may not have run.
            return ConnectionLost(
                self.host,
                f"connection to {self.endpoint} lost: it answered with an operation timeout "
                f"(WS-Management fault {OPERATION_TIMEOUT_CODE}) after the command was sent, "
                "which may or may not have run",
            )
        text = str(exc) if isinstance(exc, WireError) else f"{type(exc).__name__}: {exc}"
        reason = redact(text)[:300]
        url = urlsplit(self.endpoint)
        if isinstance(exc, requests.ConnectionError | requests.Timeout | WireError):
            reason = redact(connection_words(exc, url.hostname, url.port))
        if self._sent and not idempotent:
            return ConnectionLost(
                self.host,
                f"connection to {self.endpoint} lost during a change ({reason}); "
                "run again: the next probe shows what was applied",
            )
        alert = re.search(r"alert (certificate [a-z ]+|unknown ca|bad certificate|"
                          r"handshake failure)|eof occurred", redact(text).lower())  # raw words
        if self.transport == "certificate" and isinstance(exc, requests.exceptions.SSLError) \
                and alert:  # TLS 1.3: the alert, or only the closed connection, reaches us
            why = (alert.group(1) or "it closed the connection").strip()
            err = AuthenticationFailed(self.host, f"{self.endpoint} refused the client "
                                       f"certificate in the TLS handshake ({why})")
            err.fix = ("use a certificate issued by the CA the host's certificate mapping "
                       "trusts, not expired or revoked (cert_pem, cert_key_pem)")
            return err
        if isinstance(exc, requests.ConnectionError | requests.Timeout | WireError):
            return HostUnreachable(self.host, reason)
        return HostError(self.host, reason)

    def _backoff(self, attempt: int) -> None:
        self.stats.retries += 1
        time.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))

    def _run_once(self, command: Command | str, timeout: float,
                  stdin: Stdin | None = None) -> Result:
        protocol, shell = self._open()
        self._release_finished(protocol, shell)
        started = time.monotonic()
        deadline = started + timeout
        if COMMANDS.isEnabledFor(logging.INFO):  # the run log (fleet.runlog)
            COMMANDS.info("%s %s", self.host, command.line if isinstance(command, Command)
                          else command)
        self._sent = True  # from here on the host may have started the command
        self._command_refused = True  # a fault now answers the Command request itself
        # WINRS_CONSOLEMODE_STDIN=FALSE: the program reads a pipe that Send feeds
        piped: dict[str, Any] = {} if stdin is None else {"console_mode_stdin": False}
        if isinstance(command, Command):
            command_id = protocol.run_command(shell, command.line, skip_cmd_shell=True, **piped)
        else:
            command_id = protocol.run_command(shell, command, **piped)
        self._command_refused = False
        self.stats.commands += 1
        self._in_shell += 1
        out: list[bytes] = []
        err: list[bytes] = []
        size = 0
        done = False
        try:
            if stdin is not None:
                self._send_input(protocol, shell, command_id, stdin)
            while True:
                if time.monotonic() > deadline:
                    raise CommandTimeout(
                        self.host,
                        f"command ran longer than {timeout:.0f}s and was terminated: "
                        f"{redact(str(command))[:200]}",
                    )
                try:
                    stdout, stderr, rc, done = protocol.get_command_output_raw(shell, command_id)
                except WinRMOperationTimeoutError:
                    continue  # still running: poll again
                out.append(stdout)
                err.append(stderr)
                size += len(stdout) + len(stderr)
                if size > self.max_output:
                    raise OutputTooLarge(
                        self.host,
                        f"the command's output passed {self.max_output} bytes and it was "
                        f"terminated: {redact(str(command))[:200]}",
                    )
                if done:
                    break
        finally:
            if done:
                self._finished = command_id
            else:  # cut off by our deadline or an error: stop it on the host now
                try:
                    protocol.cleanup_command(shell, command_id)
                except _CLOSE_ERRORS as exc:
                    self._discard(delete=not isinstance(exc, _TIMEOUTS))
        elapsed = time.monotonic() - started
        self.stats.seconds += elapsed
        return Result(
            rc,
            decode_output(b"".join(out), self.codepage, self.oem_codepage),
            decode_output(b"".join(err), self.codepage, self.oem_codepage),
            elapsed,
        )
