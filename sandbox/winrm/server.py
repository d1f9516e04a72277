"""A WinRM (WS-Management / WinRS) endpoint on 127.0.0.1 for the unmodified WinRM clients.

HTTP/1.1 with keep-alive (the NTLM context belongs to the TCP connection), one thread per
connection. Commands go to an ``Executor``; this module knows nothing about Wine.

Refused before reading, as a hardened Windows listener does: a body larger than MaxEnvelopeSizekb
(default 500) plus the encryption framing is answered 413 and the connection closed unread; a
request that is not authenticated has at most ``UNAUTHENTICATED_BODY_LIMIT`` bytes read (more: 401
and the connection closed). Each bad request costs one log line, never a traceback.

    server = WinRMServer(executor, user="tacfleet", password=pw, state_dir=folder)
    server.start(); server.endpoint  # http://127.0.0.1:PORT/wsman
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from sandbox import pki
from sandbox.executor import ExecResult, Executor, Job
from sandbox.winrm import auth, soap
from sandbox.winrm.faults import Faults
from sandbox.winrm.shells import DEFAULT_IDLE_TIMEOUT, Shells
from sandbox.winrm.tls import ensure_certificate

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")

#: Windows' default MaxEnvelopeSizekb.
MAX_ENVELOPE_KB = 500
#: multipart/encrypted boundaries, part headers and the NTLM signature around a sealed envelope.
ENCRYPTION_FRAMING = 1024
#: The most of a body read before the request is authenticated (a Create or an NTLM step).
UNAUTHENTICATED_BODY_LIMIT = 64 * 1024


class _DropConnection(Exception):
    """Fault injection: close the TCP connection instead of answering."""


class _HangingJob:
    """A command that never finishes until terminated (fault injection)."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def wait(self, timeout: float) -> ExecResult | None:
        if self._stop.wait(timeout):
            return ExecResult(-1073741510, b"", b"")  # STATUS_CONTROL_C_EXIT
        return None

    def terminate(self) -> None:
        self._stop.set()

    def processes(self) -> int:
        return 0 if self._stop.is_set() else 1

    def send_input(self, data: bytes, end: bool) -> None:
        pass  # it never reads


class _FaultyExecutor:
    def __init__(self, inner: Executor, faults: Faults) -> None:
        self._inner = inner
        self._faults = faults

    def start(self, cmdline: str, *, codepage: int = 437, shell: bool = True,
              stdin: bool = False) -> Job:
        if self._faults.hangs(cmdline):
            return _HangingJob()
        if stdin:  # only then: executors that predate stdin (and shell=False) still serve
            return self._inner.start(cmdline, codepage=codepage, shell=shell, stdin=True)
        if shell:  # the protocol's default: executors that predate shell=False still serve it
            return self._inner.start(cmdline, codepage=codepage)
        return self._inner.start(cmdline, codepage=codepage, shell=False)


class _Stats:
    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._path = path
        self.values = {"http_requests": 0, "auth_failures": 0, "faults": 0,
                       "dropped_connections": 0, "connections": 0, "refused_requests": 0,
                       "corrupted_sends": 0}

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.values[key] += n

    def snapshot(self, shells: Shells) -> dict[str, int]:
        with self._lock:
            return {**self.values, "shells_created": shells.created,
                    "commands": shells.commands, "open_shells": len(shells),
                    "idle_shells_deleted": shells.reaped}

    def save(self, shells: Shells) -> None:
        data = json.dumps(self.snapshot(shells))
        tmp = self._path.with_suffix(".tmp")
        with self._lock:
            tmp.write_text(data)
            os.replace(tmp, self._path)


class _Listener(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, never a traceback (the default prints one to stderr, i.e. daemon.out)."""
        exc = sys.exc_info()[1]
        log.warning("connection from %s ended: %s: %.300s", client_address[0],
                    type(exc).__name__, exc)


class ServerView(Protocol):
    """What a request handler uses of its WinRM server (``WinRMServer``), and nothing more."""

    max_body: int
    faults: Faults

    def authenticator(self, *, tls: bool, peer_cert: bytes | None) -> auth.ConnectionAuth: ...
    def count(self, key: str, n: int = 1) -> None: ...
    def record(self, client: str, what: str, status: int) -> None: ...
    def dispatch(self, req: soap.Request, tls: bool, client_ip: str = "127.0.0.1") -> bytes: ...
    def save_stats(self) -> None: ...


class WinRMServer:
    """One sandbox host's WinRM listeners: HTTP (NTLM, sealed) and HTTPS (NTLM or Basic).

    Windows' limits, on by default at Windows' defaults: ``max_shells`` per user
    (MaxShellsPerUser, 30), ``max_processes`` per shell (MaxProcessesPerShell, 25),
    ``max_operations`` per user (MaxConcurrentOperationsPerUser, 1,500), ``idle_timeout`` seconds
    before an unused shell is deleted (IdleTimeout, 7,200,000 ms) and ``max_envelope_kb``
    (MaxEnvelopeSizekb, 500) for a request.
    """

    def __init__(self, executor: Executor, *, user: str, password: str, state_dir: Path,
                 host: str = "127.0.0.1", port: int = 0, https_port: int | None = 0,
                 max_shells: int = 30, idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 max_envelope_kb: int = MAX_ENVELOPE_KB, persist_stats: bool = True,
                 request_log: bool = True, max_processes: int = 25,
                 max_operations: int = 1500) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the sandbox endpoint listens on loopback only, not {host!r}")
        auth.register(user, password)
        self.user = user
        self._password = password
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.faults = Faults(self.state_dir / "faults.json")
        self.shells = Shells(_FaultyExecutor(executor, self.faults), max_shells=max_shells,
                             idle_timeout=idle_timeout, max_processes=max_processes,
                             max_operations=max_operations)
        self.max_body = max_envelope_kb * 1024 + ENCRYPTION_FRAMING
        self._stopping = threading.Event()
        self._stats = _Stats(self.state_dir / "stats.json")
        self._log_lock = threading.Lock()
        self._log_path = self.state_dir / "requests.log" if request_log else None
        self._persist_stats = persist_stats
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self._bind = (host, port, https_port)
        self._drop_when_done: set[str] = set()
        self.endpoint = ""
        self.https_endpoint = ""
        self.ca_file = ""

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> WinRMServer:
        host, port, https_port = self._bind
        http = self._listen(host, port, tls=False)
        self.endpoint = f"http://{host}:{http.server_address[1]}/wsman"
        if https_port is not None:
            cert, key = ensure_certificate(self.state_dir)
            https = self._listen(host, https_port, tls=True)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            pki.client_context(context, self.state_dir / "pki")  # certificate mapping (issue 12)
            https.socket = context.wrap_socket(https.socket, server_side=True)
            self.https_endpoint = f"https://{host}:{https.server_address[1]}/wsman"
            self.ca_file = str(cert)
        for srv in self._servers:
            thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                                      name=f"winrm-{srv.server_address[1]}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._stopping.clear()
        reaper = threading.Thread(target=self._reap_idle_shells, name="winrm-idle", daemon=True)
        reaper.start()
        self._threads.append(reaper)
        self.save_stats()
        return self

    def _reap_idle_shells(self) -> None:
        """Delete shells idle past ``idle_timeout`` (their commands terminated), as WinRS does."""
        interval = min(30.0, max(0.05, self.shells.idle_timeout / 4))
        while not self._stopping.wait(interval):
            gone = self.shells.reap()
            for shell_id in gone:
                self.record("-", f"idle shell {shell_id} deleted after "
                                 f"{self.shells.idle_timeout:g} s; its commands terminated", 0)
            if gone:
                self.save_stats()

    def handler_class(self, *, tls: bool, **attributes: Any) -> type[BaseHTTPRequestHandler]:
        """The request handler bound to this server, for any listener that serves it."""
        return type("Handler", (_Handler,), {"winrm": self, "tls": tls, **attributes})

    def _listen(self, host: str, port: int, *, tls: bool) -> ThreadingHTTPServer:
        srv = _Listener((host, port), self.handler_class(tls=tls))
        self._servers.append(srv)
        return srv

    def stop(self) -> None:
        self._stopping.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self.shells.close_all()
        self._servers.clear()
        auth.unregister(self.user)

    def __enter__(self) -> WinRMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def authenticator(self, *, tls: bool, peer_cert: bytes | None) -> auth.ConnectionAuth:
        """The authentication state of one new TCP connection (this server's user)."""
        return auth.ConnectionAuth(self.user, self._password, tls=tls, peer_cert=peer_cert)

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to one of the counters ``stats()`` reports."""
        self._stats.add(key, n)

    def save_stats(self) -> None:
        """Write ``stats.json`` for readers in other processes (unless ``persist_stats=False``)."""
        if self._persist_stats:
            self._stats.save(self.shells)

    def stats(self) -> dict[str, int]:
        """Counters readable by tests and benchmarks (also in ``stats.json``)."""
        return self._stats.snapshot(self.shells)

    # -- request log (secrets redacted) ------------------------------------------------------
    def record(self, client: str, what: str, status: int) -> None:
        if self._log_path is None:
            return
        line = what.replace(self._password, "********") if self._password else what
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with self._log_lock, self._log_path.open("a", encoding="utf-8") as fh:
            fh.write(f"{stamp} {client} {status} {line}\n")

    # -- one SOAP request --------------------------------------------------------------------
    def dispatch(self, req: soap.Request, tls: bool, client_ip: str = "127.0.0.1") -> bytes:
        """The answer to one request (a ``soap.SoapError`` for a fault); ``client_ip``: the
        address it came from, which Create's answer names (rsp:ClientIP)."""
        if req.action == "create":
            info = soap.ShellInfo(self.user, client_ip, self.shells.idle_timeout)
            return soap.created(req, self.https_endpoint if tls else self.endpoint,
                                self.shells.create(req.codepage), info)
        if req.action == "command":
            command_id = self.shells.start(req.shell_id, req.command_line,
                                           shell=not req.skip_cmd_shell, stdin=req.stdin_pipe)
            if self.faults.take_drop_on(req.command_line):
                self._drop_when_done.add(command_id)
            return soap.command_started(req, command_id)
        if req.action == "receive":
            # Answer before the client's OperationTimeout, as Windows does, with TimedOut; at
            # most the client's MaxEnvelopeSize, the rest in the next answers.
            wait = max(0.05, min(req.operation_timeout - 1.0, req.operation_timeout * 0.8))
            out, err, rc = self.shells.receive(req.shell_id, req.command_id, wait,
                                               _output_budget(req.max_envelope))
            if rc is not None and req.command_id in self._drop_when_done:
                self._drop_when_done.discard(req.command_id)
                raise _DropConnection
            return soap.received(req, req.command_id or "", out, err, rc)
        if req.action == "signal":
            self.shells.signal(req.shell_id, req.command_id)
            return soap.signalled(req)
        if req.action == "send":
            damaged = self.faults.corrupt(req.stdin)
            if damaged is not None:
                self.count("corrupted_sends")
            self.shells.send(req.shell_id, req.command_id,
                             req.stdin if damaged is None else damaged, req.stdin_end)
            return soap.sent(req)
        self.shells.delete(req.shell_id)
        return soap.deleted(req)


#: Bytes of a Receive answer around its streams (SOAP header, elements, the exit code).
RECEIVE_OVERHEAD = 2048


def _output_budget(max_envelope: int | None) -> int | None:
    """Output bytes that fit one Receive answer of ``max_envelope`` bytes, base64-encoded."""
    if max_envelope is None:
        return None
    return max(1024, (max_envelope - RECEIVE_OVERHEAD) * 3 // 4)


def _describe(req: soap.Request) -> str:
    """The request as the request log shows it: the action, and a command's program.

    Arguments are counted, never written: they can carry an app's secrets (``nssm set …
    AppEnvironmentExtra NAME=value``), and a log must not.
    """
    direct = " direct" if req.skip_cmd_shell else ""
    line = req.command_line or ""
    if line.startswith('"'):
        program, _, rest = line[1:].partition('"')
    else:
        program, _, rest = line.partition(" ")
    shown = f" {program}" + (f" (+{len(rest.strip())} characters of arguments)" if rest.strip()
                             else "") if line else ""
    return req.action + direct + shown


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    winrm: ServerView
    tls: bool

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes: without NODELAY, Nagle plus the client's
        # delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = self.connection.getpeercert(binary_form=True) if self.tls else None
        self._auth = self.winrm.authenticator(tls=self.tls, peer_cert=peer)
        self.winrm.count("connections")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def _machine(self) -> str:
        """The host's name as the client addressed it (a WSManFault's ``Machine``)."""
        return (self.headers.get("Host") or "127.0.0.1").rsplit(":", 1)[0].strip("[]")

    def _client(self) -> str:
        return f"{self.client_address[0]}:{self.client_address[1]}"

    def _reply(self, status: int, body: bytes = b"", content_type: str = "",
               headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for key, value in headers or []:
            self.send_header(key, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _unauthorized(self, reason: str, challenge: list[str], *, close: bool = False) -> None:
        self.winrm.count("auth_failures")
        self.winrm.record(self._client(), f"401 {reason}", 401)
        headers = [("WWW-Authenticate", c) for c in challenge]
        if close:
            headers.append(("Connection", "close"))
            self.close_connection = True
        self._reply(401, headers=headers)

    def _refuse(self, status: int, why: str) -> None:
        """A bad request: one log line, the status, and the connection closed unread."""
        winrm = self.winrm
        winrm.count("refused_requests")
        winrm.record(self._client(), f"refused: {why}", status)
        log.warning("%s: refused with %d: %s", self._client(), status, why)
        self.close_connection = True
        self._reply(status, headers=[("Connection", "close")])

    def log_error(self, format: str, *args: Any) -> None:
        """http.server's own refusals (bad request line, headers too long, timeouts): one line."""
        self.winrm.count("refused_requests")
        log.warning("%s: %s", self._client(), (format % args)[:300])

    def _declared_length(self) -> int | None:
        """The body size the request announces; None when refused (already answered)."""
        if self.headers.get("Transfer-Encoding"):
            self._refuse(411, "a chunked body is not accepted; send Content-Length")
            return None
        raw = self.headers.get("Content-Length", "0").strip() or "0"
        if not raw.isdigit():
            self._refuse(400, f"malformed Content-Length {raw[:40]!r}")
            return None
        return int(raw)

    def _discard(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def _authenticate(self) -> tuple[auth.Step | None, auth.Unauthorized | None]:
        """Check the Authorization header (before any body is read): (step, refusal)."""
        header = self.headers.get("Authorization")
        if header:
            try:
                step = self._auth.authorize(header)
            except auth.Unauthorized as exc:
                return None, exc
            if not step.complete:
                return step, auth.Unauthorized("authentication continues",
                                               [step.header or "Negotiate"])
            return step, None
        if not self._auth.authenticated:
            return None, auth.Unauthorized("no credentials", self._auth.offer())
        return None, None

    def do_POST(self) -> None:
        winrm = self.winrm
        winrm.count("http_requests")
        length = self._declared_length()
        if length is None:
            return
        if length > winrm.max_body:
            self._refuse(413, f"a body of {length} bytes exceeds the {winrm.max_body}-byte limit "
                              "(MaxEnvelopeSizekb plus the encryption framing)")
            return
        if self.path.split("?")[0].rstrip("/").lower() != "/wsman":
            if length > UNAUTHENTICATED_BODY_LIMIT:
                self._refuse(404, f"unknown path {self.path[:80]!r}")
                return
            self._discard(length)
            self._reply(404)
            return
        # Faults apply to every answer, the authentication handshake's 401s included.
        latency, drop, fail = winrm.faults.on_request()
        if latency:
            time.sleep(latency)
        if drop:
            self._drop("fault: connection dropped")
            return
        step, refusal = self._authenticate()
        if refusal is not None:
            # Read a small body so the connection stays usable for the NTLM handshake; never more.
            small = length <= UNAUTHENTICATED_BODY_LIMIT
            if small:
                self._discard(length)
            self._unauthorized(refusal.reason, refusal.challenge, close=not small)
            return
        body = self.rfile.read(length) if length else b""
        try:
            self._post(body, step, fail)
        finally:
            winrm.save_stats()

    def _drop(self, why: str) -> None:
        self.winrm.count("dropped_connections")
        self.winrm.record(self._client(), why, 0)
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _post(self, body: bytes, step: auth.Step | None, fail: bool) -> None:
        winrm = self.winrm
        extra = [("WWW-Authenticate", step.header)] if step and step.header else []
        if not body:  # pywinrm's empty POST that only sets up the NTLM context
            self._reply(200, headers=extra)
            return
        content_type = self.headers.get("Content-Type", "")
        sealed = content_type.startswith(("multipart/encrypted", "multipart/x-multi-encrypted"))
        try:
            if sealed:
                body = self._auth.unwrap(content_type, body)
            elif not self.tls:
                raise auth.Unauthorized("unencrypted traffic is refused on HTTP "
                                        "(AllowUnencrypted=false)")
        except auth.Unauthorized as exc:
            self._unauthorized(exc.reason, self._auth.offer())
            return
        req: soap.Request | None = None
        try:
            req = soap.parse_request(body)
            if fail:
                winrm.count("faults")
                raise soap.SoapError("w:InternalError", 2147943515,
                                     "injected fault: the service is temporarily unavailable")
            if winrm.faults.take_timeout(req.action):
                winrm.count("faults")
                raise soap.timed_out()
            answer, status = winrm.dispatch(req, self.tls, self.client_address[0]), 200
            what = _describe(req)
        except _DropConnection:
            self._drop("fault: connection dropped after the command finished")
            return
        except soap.SoapError as exc:
            answer, status = soap.fault(req.message_id if req else "", exc, self._machine()), 500
            what = f"fault {exc.subcode} {exc.code} {_describe(req) if req else ''}"
        except Exception as exc:  # one line, no traceback: a bad request must not fill the logs
            log.warning("%s: endpoint error %s: %.300s", self._client(), type(exc).__name__,
                        exc)
            error = soap.SoapError("w:InternalError", 2147500037, f"endpoint error: {exc}")
            answer, status = soap.fault(req.message_id if req else "", error,
                                        self._machine()), 500
            what = f"error {type(exc).__name__}"
        if not (req and req.action == "receive" and status == 500):
            winrm.record(self._client(), what, status)
        if sealed:
            ctype, payload = self._auth.wrap(answer)
            self._reply(status, payload, ctype, extra)
        else:
            self._reply(status, answer, "application/soap+xml;charset=UTF-8", extra)
