"""Many simulated Windows hosts in one process: one WinRM endpoint per loopback port.

Each host is a real ``sandbox.winrm.server.WinRMServer`` (its NTLM acceptor, message sealing,
WinRS shells, fault switches and counters) whose executor replays a transcript; a command that
reads standard input (an upload) takes it all and exits 0. What is shared
is the plumbing: instead of one ``ThreadingHTTPServer`` plus a polling ``serve_forever`` thread
per host (1,000 hosts = 1,000 threads waking five times a second), ONE selector thread accepts
on every listening socket and hands each accepted TCP connection to a thread running that
host's own request handler for the life of the connection (HTTP/1.1 keep-alive; the NTLM
context belongs to the connection); the thread then waits for the next connection rather than
ending. Idle hosts cost one file descriptor and no thread.

Per-request costs of the single-host endpoint that the fleet does without, as its CPU is
shared with the controller being measured on the same machine: rewriting ``stats.json`` after
every request (the counters stay exact in memory: ``stats()``), appending to ``requests.log``
(``request_log=True`` keeps it), rereading ``faults.json`` (the fleet's faults are set in
process: ``set_faults``, the ``faults`` command) and parsing each request's headers with the
``email`` package (``_parse_request``: the same HTTP/1.1 rules, a quarter of the fleet's CPU
before), formatting the ``Date`` header per answer (once a second here) and starting a thread
per connection (reused here). What stays per request, as on a real host: reading and parsing
the SOAP request, NTLM sealing and unsealing (its keys are per connection, so no answer can
be sealed ahead), rendering the answer. And since every simulated host accepts the same
password, the NTLM acceptor's per-connection LM hash (pure-Python DES in pyspnego) is computed
once per process (``_cache_lm_hash``).

    fleet = SimulatedFleet(Transcript.load(path), 100, user="tacfleet", password=pw,
                           state_dir=folder).start()
    fleet.endpoints          # ["http://127.0.0.1:PORT/wsman", ...]
    fleet.servers[3].faults.update(http_500=2)
    fleet.stop()

As a process (the benchmark runs the fleet apart from the controller it measures)::

    python -m sandbox.fleet.serve --hosts 1000 --password-file FILE --state-dir DIR \
        [--latency-ms 50] [--transcript FILE] [--inventory-out FILE]

prints one JSON line ``{"ports": [...], "endpoints": [...]}`` when ready, then reads commands on
stdin, one per line, answering each with one JSON line: ``stats``, ``faults all|INDEX k=v ...``,
``quit``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http
import json
import logging
import queue
import resource
import selectors
import socket
import sys
import threading
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

from sandbox.fleet.transcript import ReplayExecutor, Transcript
from sandbox.winrm.server import WinRMServer

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DEFAULT_TRANSCRIPT = HERE / "transcripts" / "compliant.json"
#: Connections idle this long are closed by the host (frees their thread).
IDLE_TIMEOUT = 120.0


def raise_nofile_limit(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit if ``needed`` descriptors may not fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = hard if hard == resource.RLIM_INFINITY else max(soft, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise OSError(f"{needed} file descriptors needed, RLIMIT_NOFILE allows {soft}")
    return int(soft)


def _cache_lm_hash() -> None:
    """Memoize pyspnego's LM hash: the acceptor recomputes it (DES, in Python) per connection.

    Only the simulation process needs this (all its hosts share one password); it changes no
    result, only the fleet's CPU time.
    """
    import spnego._ntlm as ntlm

    if not hasattr(ntlm.lmowfv1, "cache_info"):
        ntlm.lmowfv1 = functools.lru_cache(maxsize=64)(ntlm.lmowfv1)


class _Headers(dict[str, str]):
    """Request headers by lower-cased name (what the WinRM handler reads: ``get``)."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)


_MAX_HEADERS = 100
_MAX_LINE = 65536


def _parse_request(self: Any) -> bool:
    """``BaseHTTPRequestHandler.parse_request`` for HTTP/1.0 and 1.1 without the ``email``
    package: the request line, then header lines up to the blank one (repeated names joined
    with ", "), keep-alive as the version and ``Connection`` say; errors answered as it does."""
    self.command = None
    self.request_version = self.default_request_version
    self.close_connection = True
    line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
    self.requestline = line
    words = line.split()
    if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
        self.request_version = "HTTP/1.1"  # answer with a status line (0.9 would have none)
        unsupported = len(words) == 3 and words[2].startswith("HTTP/")
        self.send_error(http.HTTPStatus.HTTP_VERSION_NOT_SUPPORTED if unsupported else
                        http.HTTPStatus.BAD_REQUEST, f"Bad request line {line[:80]!r}")
        return False
    self.command, self.path, self.request_version = words
    headers = _Headers()
    for _ in range(_MAX_HEADERS + 1):
        raw = self.rfile.readline(_MAX_LINE + 1)
        if len(raw) > _MAX_LINE:
            self.send_error(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
            return False
        if raw in (b"\r\n", b"\n", b""):
            break
        name, colon, value = str(raw, "iso-8859-1").partition(":")
        if not colon or not name.strip() or name != name.strip():
            self.send_error(http.HTTPStatus.BAD_REQUEST, "Malformed header line")
            return False
        key, value = name.lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    else:
        self.send_error(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
        return False
    self.headers = headers
    connection = headers.get("connection", "").lower()
    self.close_connection = connection == "close" or (
        self.request_version == "HTTP/1.0" and connection != "keep-alive")
    return True


class _NoServer:
    """Stands in for socketserver's server object; the WinRM handler never uses it."""


_date_cache: tuple[int, str] = (0, "")


def _date_time_string(self: Any, timestamp: float | None = None) -> str:
    """The ``Date`` header, formatted once per second rather than once per answer."""
    global _date_cache
    if timestamp is not None:
        return formatdate(timestamp, usegmt=True)
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class _ConnectionThreads:
    """Threads that serve one TCP connection each and then wait for the next: starting a thread
    per connection was a tenth of the fleet's CPU. Never bounded: a connection never waits for
    another to end (an idle keep-alive connection holds its thread, as before)."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Any, *args: Any) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                thread = threading.Thread(target=self._run, name="fleet-conn", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._work.put((fn, *args))

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            fn, *args = item
            fn(*args)
            with self._lock:
                self._idle += 1

    def stop(self) -> None:
        for _ in self._threads:
            self._work.put(None)
        self._threads.clear()


class SimulatedFleet:
    """``n_hosts`` WinRM endpoints on 127.0.0.1, all answering from one transcript."""

    def __init__(self, transcript: Transcript | str | Path, n_hosts: int, *,
                 latency_ms: int = 0, user: str = "tacfleet", password: str,
                 state_dir: str | Path, host: str = "127.0.0.1", base_port: int = 0,
                 backlog: int = 128, request_log: bool = False,
                 stats_file: bool = False, max_envelope_kb: int = 500) -> None:
        if not isinstance(transcript, Transcript):
            transcript = Transcript.load(transcript)
        self.transcript = transcript
        self.n_hosts = n_hosts
        self.latency_ms = latency_ms
        self.user = user
        self._password = password
        self.state_dir = Path(state_dir)
        self._host = host
        self._base_port = base_port
        self._backlog = backlog
        self._request_log = request_log
        self._stats_file = stats_file
        self._max_envelope_kb = max_envelope_kb
        self.servers: list[WinRMServer] = []
        self.executors: list[ReplayExecutor] = []
        self.ports: list[int] = []
        self._sockets: list[socket.socket] = []
        self._selector: selectors.BaseSelector | None = None
        self._stop = threading.Event()
        self._acceptor: threading.Thread | None = None
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._threads = _ConnectionThreads()

    @property
    def endpoints(self) -> list[str]:
        return [s.endpoint for s in self.servers]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SimulatedFleet:
        # listening sockets + a connection (and its NTLM handshake) per client in flight
        raise_nofile_limit(self.n_hosts + 1024)
        _cache_lm_hash()
        self._selector = selectors.DefaultSelector()
        try:
            for i in range(self.n_hosts):
                self._add_host(i)
        except BaseException:
            self.stop()
            raise
        self._acceptor = threading.Thread(target=self._accept_loop, name="fleet-acceptor",
                                          daemon=True)
        self._acceptor.start()
        return self

    def _add_host(self, i: int) -> None:
        assert self._selector is not None
        executor = ReplayExecutor(self.transcript, sink_uploads=True)  # bench/upload.py
        srv = WinRMServer(executor, user=self.user, password=self._password,
                          state_dir=self.state_dir / f"sim{i + 1:04d}", host=self._host,
                          https_port=None, persist_stats=self._stats_file,
                          request_log=self._request_log,
                          max_envelope_kb=self._max_envelope_kb)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._base_port + i if self._base_port else 0))
        sock.listen(self._backlog)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        srv.endpoint = f"http://{self._host}:{port}/wsman"
        srv.faults.in_process_only()  # set_faults: no faults.json read per request
        if self.latency_ms:
            srv.faults.update(latency_ms=self.latency_ms)
        handler = srv.handler_class(tls=False, timeout=IDLE_TIMEOUT,
                                    parse_request=_parse_request,
                                    date_time_string=_date_time_string)
        self._selector.register(sock, selectors.EVENT_READ, handler)
        self._sockets.append(sock)
        self.servers.append(srv)
        self.executors.append(executor)
        self.ports.append(port)

    def _accept_loop(self) -> None:
        assert self._selector is not None
        while not self._stop.is_set():
            try:
                events = self._selector.select(timeout=0.25)
            except (OSError, ValueError):
                if self._stop.is_set():
                    return
                raise
            for key, _ in events:
                try:
                    conn, addr = key.fileobj.accept()  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    log.warning("accept failed: %s", exc)
                    continue
                conn.setblocking(True)
                self._threads.submit(self._serve_connection, conn, addr, key.data)

    def _serve_connection(self, conn: socket.socket, addr: Any, handler: type) -> None:
        with self._conn_lock:
            self._connections.add(conn)
        try:
            handler(conn, addr, _NoServer())  # handles every request of the connection
        except OSError:
            pass  # the client went away (or a drop_after fault closed it)
        except Exception:
            log.exception("simulated host connection failed")
        finally:
            with self._conn_lock:
                self._connections.discard(conn)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
            self._acceptor = None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        with self._conn_lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._threads.stop()
        for srv in self.servers:
            srv.stop()  # no listeners of its own: closes its shells, forgets the user

    def __enter__(self) -> SimulatedFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and counters -----------------------------------------------------------------
    def set_faults(self, which: int | None = None, **values: Any) -> None:
        """Fault switches on host ``which`` (0-based index) or, with None, on every host."""
        targets = self.servers if which is None else [self.servers[which]]
        for srv in targets:
            srv.faults.update(**values)

    def stats(self) -> dict[str, Any]:
        """Per-host counters (``hosts``, in order) and their sum (``total``)."""
        per_host = [srv.stats() for srv in self.servers]
        total: dict[str, int] = {}
        for stats in per_host:
            for key, value in stats.items():
                total[key] = total.get(key, 0) + value
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "hosts": per_host,
            "total": total,
            "unknown_commands": sum(len(e.unknown) for e in self.executors),
            "open_connections": len(self._connections),
            "threads": threading.active_count(),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        }


# -- process front end (used by bench/fleet_check.py) ------------------------------------------
def _parse_value(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def _command(fleet: SimulatedFleet, line: str) -> dict[str, Any]:
    words = line.split()
    if not words:
        return {"ok": True}
    if words[0] == "stats":
        return {"ok": True, **fleet.stats()}
    if words[0] == "faults" and len(words) >= 2:
        which = None if words[1] == "all" else int(words[1])
        values = dict(w.split("=", 1) for w in words[2:])
        fleet.set_faults(which, **{k: _parse_value(v) for k, v in values.items()})
        return {"ok": True}
    return {"ok": False, "error": f"unknown command {line!r}; stats | faults all|N k=v | quit"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--transcript", default=str(DEFAULT_TRANSCRIPT))
    parser.add_argument("--password-file", required=True,
                        help="the simulated hosts' password (mode 0600)")
    parser.add_argument("--user", default="tacfleet")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--base-port", type=int, default=0, help="0 = ports the kernel picks")
    parser.add_argument("--inventory-out", help="also write an inventory of the simulated hosts")
    parser.add_argument("--max-envelope-kb", type=int, default=500,
                        help="the hosts' MaxEnvelopeSizekb (Windows' default 500)")
    parser.add_argument("--request-log", action="store_true",
                        help="keep each host's requests.log (off: it costs CPU per request)")
    args = parser.parse_args(argv)
    password = Path(args.password_file).read_text(encoding="utf-8").rstrip("\r\n")
    fleet = SimulatedFleet(args.transcript, args.hosts, latency_ms=args.latency_ms,
                           user=args.user, password=password, state_dir=args.state_dir,
                           base_port=args.base_port, request_log=args.request_log,
                           max_envelope_kb=args.max_envelope_kb).start()
    try:
        if args.inventory_out:
            from sandbox.fleet.inventory import write_fleet_inventory

            write_fleet_inventory(args.inventory_out, fleet.ports,
                                  password_file=args.password_file, user=args.user)
        print(json.dumps({"ports": fleet.ports, "endpoints": fleet.endpoints}), flush=True)
        for line in sys.stdin:
            if line.strip() == "quit":
                break
            try:
                answer = _command(fleet, line)
            except (ValueError, IndexError, TypeError) as exc:
                answer = {"ok": False, "error": str(exc)}
            print(json.dumps(answer), flush=True)
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
