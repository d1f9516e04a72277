"""The health gate script (``provision/health_gate_script.py``) run as the host runs it, by a
Python with ``-I -c`` and its arguments, against a real HTTP server on loopback. ``sc.exe`` is a
small program here that prints ``sc query``'s English lines with the state a file holds."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.releases import GATE_MARK, gate_verdict

SCRIPT = Path(__file__).resolve().parents[3] / "provision" / "health_gate_script.py"


class App:
    """An HTTP app on 127.0.0.1: ``status`` for /health (200 for /), ``up`` False stops it."""

    def __init__(self) -> None:
        self.status = 200
        self.answers_left: int | None = None  # stop after this many more answers
        self.stopped_at: float | None = None
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code = app.status if self.path == "/health" else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if app.answers_left is not None:
                    app.answers_left -= 1
                    if app.answers_left == 0:
                        threading.Thread(target=app.stop).start()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.stopped_at is None:
            self.stopped_at = time.monotonic()
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def app() -> Iterator[App]:
    served = App()
    yield served
    served.stop()


@pytest.fixture
def sc(tmp_path: Path) -> Path:
    """A stand-in for sc.exe: ``sc query NAME`` prints the state in ``<tmp>/state``."""
    state = tmp_path / "state"
    state.write_text("4  RUNNING")
    program = tmp_path / "sc"
    program.write_text(f"#!{sys.executable}\nimport sys\n"
                       f"print('SERVICE_NAME: ' + sys.argv[2])\n"
                       f"print('        STATE              : ' + open({str(state)!r}).read())\n")
    program.chmod(0o755)
    return program


def gate(sc: Path, port: int, path: str, timeout_s: float, settle_s: float,
         log: str = "-") -> dict[str, object]:
    out = subprocess.run([sys.executable, "-I", "-c", SCRIPT.read_text(), str(sc), "reldemo",
                          str(port), path, str(timeout_s), str(settle_s), log],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith(GATE_MARK))
    doc: dict[str, object] = json.loads(line[len(GATE_MARK):])
    assert gate_verdict(out) == ("" if doc["ok"] else gate_verdict(out))
    return doc


def test_an_app_that_answers_and_goes_on_answering_passes(app, sc):
    doc = gate(sc, app.port, "/health", 10, 1.5)
    assert doc["ok"] is True and doc["why"] == "", doc


def test_the_port_alone_is_checked_without_a_path(app, sc):
    app.status = 500  # not asked for: only the port must answer
    assert gate(sc, app.port, "-", 10, 0.5)["ok"] is True


def test_a_500_on_the_health_path_fails_with_the_status(app, sc):
    app.status = 500
    doc = gate(sc, app.port, "/health", 1.5, 0)
    assert doc["ok"] is False and "GET /health answered 500" in str(doc["why"]), doc


def test_an_app_that_stops_answering_while_it_settles_fails(app, sc, tmp_path):
    log = tmp_path / "reldemo.err.log"
    log.write_text("starting\nTraceback (most recent call last):\nSystemExit: 3\n"
                   '"GET /health HTTP/1.1" 200 0 "-" "tacfleet-health-gate"\n')
    app.answers_left = 3  # the app answers the gate, then stops while it settles
    doc = gate(sc, app.port, "/health", 10, 30, str(log))
    assert doc["ok"] is False and "stopped answering" in str(doc["why"]), doc
    assert app.stopped_at is not None
    # it fails at the break (two missed polls), not at the end of settle_s (30 s)
    assert time.monotonic() - app.stopped_at < 20
    assert doc["log"][-1] == "SystemExit: 3", doc


def test_nothing_listening_fails_at_the_timeout(sc):
    doc = gate(sc, 1, "/health", 1.0, 0)  # port 1: nothing listens there
    assert doc["ok"] is False and str(doc["why"]).startswith("not answering 1 s"), doc


def test_a_stopped_service_is_named(app, sc, tmp_path):
    (tmp_path / "state").write_text("1  STOPPED")
    doc = gate(sc, app.port, "/health", 1.0, 0)
    assert doc["ok"] is False and "the service is STOPPED" in str(doc["why"]), doc


def test_the_verdict_names_the_failure_and_the_last_log_lines():
    out = GATE_MARK + json.dumps({"ok": False, "why": "GET /health answered 500",
                                  "log": ["a", "b"]})
    assert gate_verdict(out) == "GET /health answered 500 | last log lines: a / b"
    assert gate_verdict(GATE_MARK + json.dumps({"ok": True})) == ""
    assert gate_verdict("no answer").startswith("the health gate gave no answer")
