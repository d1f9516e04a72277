"""A hostile network and hostile hosts, against the real fleet entry point (issue 32, the wire).

Two simulated hosts (``sandbox.fleet``: real WinRM endpoints on 127.0.0.1 answering from the
recorded sandbox host, NTLM sealed over HTTP; no Wine) checked by ``invoke drift``'s function:
the first healthy, the second behind an interposed endpoint (``Interposer``, a small HTTP proxy
on 127.0.0.1 that lets the real NTLM handshake through) that then answers in plaintext, sends a
400 MB body or a chunked body without end; or the second host itself prints terminal escape
sequences. Each time the hostile host is failed and named, the healthy one is unaffected, the
controller's memory stays bounded, and no control character reaches the report or the run log.
"""

from __future__ import annotations

import json
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tacfleet_cli
from sandbox.executor import ExecResult
from sandbox.fleet.inventory import load_fleet, probe_lines, write_fleet_inventory
from sandbox.fleet.serve import DEFAULT_TRANSCRIPT, SimulatedFleet
from sandbox.fleet.transcript import Transcript
from sandbox.winrm import soap
from tests.integration.helpers import password_file, simulated_fleet
from winhost.probe import MARKER, read_probe_output

USER = "hostile"  # one NTLM user per module: clear of the other fleet tests' users
#: What the controller may grow by while a host sends 400 MB or streams without end.
MEMORY_BOUND = 64 * 1024 * 1024
HUGE = 400 * 1024 * 1024
#: What a hostile host prints: erase the line, go back to its start, print "ok"; set the
#: terminal's title; a C1 CSI (U+009B) and DEL.
ESCAPES = "\x1b[2K\rok \x1b]0;title\x07 \x9b31m red\x7f"


# -- the interposed endpoint -------------------------------------------------------------------
def _read_message(stream) -> tuple[bytes, dict[str, str], bytes] | None:
    """One HTTP message with a Content-Length body: (head, headers, body); None at the end."""
    head = b""
    while True:
        line = stream.readline(65537)
        if not line:
            return None
        head += line
        if line in (b"\r\n", b"\n"):
            break
    headers = {}
    for raw in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = raw.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return head, headers, body


def _forged_answers(probe_stdout: bytes) -> Iterator[bytes]:
    """The plaintext answers a machine in the path forges, in order: a shell, a command, the
    recorded compliant probe answer (exit 0), then a generic answer for whatever follows."""
    req = soap.Request(action="forged", message_id="uuid:forged", operation_timeout=20)
    yield soap.created(req, "http://127.0.0.1/wsman", "FORGED-SHELL")
    yield soap.command_started(req, "FORGED-COMMAND")
    yield soap.received(req, "FORGED-COMMAND", probe_stdout, b"", 0)
    while True:
        yield soap.deleted(req)


class Interposer:
    """A proxy on 127.0.0.1 in front of one endpoint: requests and answers pass unchanged until
    the first sealed request (the handshake is real), then ``mode`` decides the answer:
    ``unsealed`` (forged plaintext answers), ``huge`` (400 MB announced by Content-Length),
    ``huge-close`` (400 MB until the connection closes), ``endless`` (chunked, never ending).
    Bodies are streamed from a 64 KiB block, never built."""

    def __init__(self, upstream: int, mode: str, probe_stdout: bytes = b"") -> None:
        self.upstream, self.mode, self.probe_stdout = upstream, mode, probe_stdout
        self.sent = 0  # bytes of hostile body sent
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()

    def __enter__(self) -> Interposer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        forged = _forged_answers(self.probe_stdout)
        with client, socket.create_connection(("127.0.0.1", self.upstream)) as up:
            downstream, upstream = client.makefile("rb"), up.makefile("rb")
            try:
                while (request := _read_message(downstream)) is not None:
                    head, headers, body = request
                    sealed = headers.get("content-type", "").startswith("multipart/encrypted")
                    if sealed and self.mode == "unsealed":
                        fake = next(forged)
                        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml;"
                                       b"charset=UTF-8\r\nContent-Length: %d\r\n\r\n"
                                       % len(fake) + fake)
                        continue
                    up.sendall(head + body)
                    answer = _read_message(upstream)
                    if answer is None:
                        return
                    if sealed:  # sealed as the request was, as far as its headers go
                        self._hostile(client, headers["content-type"])
                        return
                    client.sendall(answer[0] + answer[2])
            except OSError:  # the controller closed the connection: what it should do
                return

    def _hostile(self, client: socket.socket, sealed: str) -> None:
        block = b"A" * 65536
        if self.mode == "endless":
            client.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {sealed}\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n".encode())
            chunk = b"%x\r\n" % len(block) + block + b"\r\n"
            while not self._stop.is_set():
                client.sendall(chunk)
                self.sent += len(block)
            return
        length = f"Content-Length: {HUGE}\r\n" if self.mode == "huge" else "Connection: close\r\n"
        client.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {sealed}\r\n{length}\r\n".encode())
        while self.sent < HUGE:
            client.sendall(block)
            self.sent += len(block)


# -- two simulated hosts and their inventory ----------------------------------------------------
@dataclass
class Fleet:
    sim: SimulatedFleet
    folder: Path
    secret: Path
    line: str
    recorded: ExecResult

    def inventory(self, ports: list[int]) -> Path:
        path = self.folder / "fleet.yml"
        return write_fleet_inventory(path, ports, password_file=self.secret, user=USER)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    password, secret = password_file(tmp_path)
    probe = write_fleet_inventory(tmp_path / "probe.yml", [1], password_file=secret, user=USER)
    (line,) = probe_lines(load_fleet(probe))
    transcript = Transcript.load(DEFAULT_TRANSCRIPT)
    (recorded,) = [a for a in transcript.answers.values() if MARKER.encode() in a.stdout]
    transcript.add(line, recorded)  # this tree's probe line, should it differ from the recording
    with simulated_fleet(transcript, 2, user=USER, password=password, folder=tmp_path) as sim:
        yield Fleet(sim, tmp_path, secret, line, recorded)


@dataclass
class Run:
    code: int
    hosts: dict[str, dict]
    report: str  # drift.json and drift.html as written
    log: str  # the run log
    peak: int  # the controller's peak traced memory during the run, bytes


def drift(fleet: Fleet, ports: list[int]) -> Run:
    """``invoke drift`` over ``ports`` (in process, its run log written), memory traced."""
    inventory, reports, log = fleet.inventory(ports), fleet.folder / "reports", \
        fleet.folder / "drift.log"
    tracemalloc.start()
    try:
        code = tacfleet_cli.logged("drift", str(log), tacfleet_cli.drift, str(inventory), None,
                                   folder=str(reports), reports=str(reports), parallel=2,
                                   processes=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    run = json.loads((reports / "latest.json").read_text())["run"]
    text = (reports / run / "drift.json").read_text() + (reports / run / "drift.html").read_text()
    hosts = json.loads((reports / run / "drift.json").read_text())["hosts"]
    return Run(code, hosts, text, log.read_text(encoding="utf-8"), peak)


def assert_one_host_failed(run: Run, why: str) -> str:
    """sim0002 failed and named with ``why``, sim0001 compliant; sim0002's error."""
    assert run.code not in (0, 3), run.code  # a failed host, never "unexpected … report it"
    assert run.hosts["sim0001"]["status"] == "compliant", run.hosts["sim0001"]
    failed = run.hosts["sim0002"]
    assert failed["status"] == "unreachable", failed
    error = failed["error"]
    assert why in error and "unexpected" not in error and "fix:" in error, error
    assert why in run.log and "sim0002" in run.log
    return str(error)


def test_answers_in_plaintext_after_a_real_handshake_are_refused(fleet: Fleet) -> None:
    """The interposer forges every answer after the real NTLM handshake, the probe's one the
    recorded compliant answer: the host is failed as tampered with, never found compliant."""
    with Interposer(fleet.sim.ports[1], "unsealed", fleet.recorded.stdout) as proxy:
        run = drift(fleet, [fleet.sim.ports[0], proxy.port])
    error = assert_one_host_failed(run, "unsealed answer: possible tampering")
    assert "network path" in error  # the fix
    assert fleet.sim.stats()["hosts"][1]["commands"] == 0  # nothing reached the real host


@pytest.mark.parametrize("mode", ["huge", "huge-close", "endless"])
def test_an_answer_too_large_or_without_end_is_cut_off(fleet: Fleet, mode: str) -> None:
    """400 MB announced, 400 MB until the connection closes, a chunked body without end: the
    host is failed and named with the limit, and the controller holds no more than it."""
    with Interposer(fleet.sim.ports[1], mode) as proxy:
        run = drift(fleet, [fleet.sim.ports[0], proxy.port])
        sent = proxy.sent
    error = assert_one_host_failed(run, "-byte limit")
    assert "max_envelope_kb 500" in error
    assert run.peak < MEMORY_BOUND, f"peak {run.peak / 2**20:.0f} MiB"
    if mode == "huge":
        assert sent < HUGE  # refused from its Content-Length, not read
    else:
        assert 1_000_000 < sent < HUGE  # read up to the limit (plus what the socket buffered)


def _hostile_transcript(fleet: Fleet, answer: ExecResult) -> Transcript:
    transcript = Transcript(dict(fleet.sim.transcript.answers))
    transcript.add(fleet.line, answer)
    return transcript


def test_escape_sequences_a_host_prints_never_reach_the_report_or_the_log(fleet: Fleet) -> None:
    """sim0002's probe fails printing escape sequences (raw on stdout and stderr): its error in
    the drift report, the HTML and the run log carries the text without a control character."""
    raw = ESCAPES.encode("utf-8")
    fleet.sim.executors[1].transcript = _hostile_transcript(
        fleet, ExecResult(1, b"probe " + raw + b"\r\n", b"failed " + raw + b"\r\n"))
    run = drift(fleet, fleet.sim.ports)
    error = assert_one_host_failed(run, "[2Kok ]0;title 31m red")
    for text in (error, run.report, run.log):
        assert not any(c in text for c in "\x1b\x07\r\x9b\x7f"), repr(text)


def test_escape_sequences_inside_the_probes_json_are_stripped_from_the_facts(fleet: Fleet) -> None:
    """JSON carries ESC as ``\\u001b``: every string of the parsed probe answer is stripped."""
    from compliance import desired
    from winhost.open import open_connection
    from winhost.probe import gather_facts

    doc = read_probe_output(fleet.recorded.stdout.decode("utf-8"))
    doc["service"]["key"]["DisplayName"] = ESCAPES
    doc["hostname"] = ESCAPES
    stdout = (MARKER + json.dumps(doc) + "\r\n").encode("utf-8")
    assert b"\\u001b" in stdout
    fleet.sim.executors[1].transcript = _hostile_transcript(
        fleet, ExecResult(0, ESCAPES.encode() + b"\r\n" + stdout, b""))
    (_, host) = load_fleet(fleet.inventory(fleet.sim.ports))
    connection = open_connection(host)
    try:
        facts = gather_facts(connection, desired.probe_spec(host))
    finally:
        connection.close()
    assert facts.hostname == facts.service.display_name == "[2Kok ]0;title 31m red"


# -- Windows' operation timeout (w:TimedOut, 2150858793) on a slow or newly started host ---------
def test_an_operation_timeout_on_create_is_retried_and_the_run_succeeds(fleet: Fleet) -> None:
    fleet.sim.set_faults(1, timeout_on={"create": 1})
    run = drift(fleet, fleet.sim.ports)
    assert run.code == 0 and {h["status"] for h in run.hosts.values()} == {"compliant"}
    assert fleet.sim.stats()["hosts"][1]["faults"] == 1


def test_an_operation_timeout_on_every_command_fails_that_host_with_the_fix(fleet: Fleet) -> None:
    """The probe (a read) is sent three times, each answered with the timeout: the host is
    failed with the lost-connection fix; never "unexpected … report it" (exit 3)."""
    fleet.sim.set_faults(1, timeout_on={"command": 3})
    run = drift(fleet, fleet.sim.ports)
    error = assert_one_host_failed(run, "operation timeout")
    assert "run the same command again" in error


def test_doctor_names_an_operation_timeout_instead_of_aborting(fleet: Fleet) -> None:
    from winhost.doctor import FAIL, OK, diagnose

    (_, host) = load_fleet(fleet.inventory(fleet.sim.ports))
    fleet.sim.set_faults(1, timeout_on={"create": 1})
    layers = {layer.name: layer for layer in diagnose(host, timeout=5)}
    assert layers["authentication"].status == OK  # Create retried
    fleet.sim.set_faults(1, timeout_on={"command": 3})
    layers = {layer.name: layer for layer in diagnose(host, timeout=5)}
    auth = layers["authentication"]
    assert auth.status == FAIL and "operation timeout" in auth.detail, auth
    assert "run the same command again" in auth.fix
