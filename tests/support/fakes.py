"""The night run's fakes: connections that record every command line and answer the probe
with a document (``probe_doc``), an exit code or an exception, a four-host inventory holding a
canary secret, and ``pytest checks`` run as a user runs it. Used by the night-run, host-lock,
run-log and JUnit tests; the fakes exercise the real engine, audit, drift report and CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from compliance.desired import probe_spec
from inventory import Host
from inventory.secrets import resolve_password
from provision import hostlock
from tests.support import ROOT
from tests.support.probe_doc import compliant_doc
from winhost.cmdline import Command
from winhost.connection import ConnectionStats, Result, Stdin
from winhost.probe import MARKER, probe_command

CANARY = "canary-5e1f-night-run"
NSSM_SHA = "eee9c44c29c2be011f1f1e43bb8c3fca888cb81053022ec5a0060035de16d848"

Answer = Callable[["FakeConnection", str, float | None], Result]


class FakeConnection:
    """Records every command line; ``answer`` returns a Result or raises, per command."""

    def __init__(self, host: Host, answer: Answer) -> None:
        self.host = host.name
        self.entry = host
        self.stats = ConnectionStats()
        self.sent: list[str] = []
        self.stdin: list[bytes] = []  # each command's standard input, when it had one
        self.locks: list[str] = []
        self.answer = answer
        self.lock: Answer = free_lock
        self.closed = False

    def run(self, command: Command | str, *, timeout: float | None = None,
            idempotent: bool = False, stdin: Stdin | None = None) -> Result:
        text = command.line if isinstance(command, Command) else command
        if stdin is not None:  # what a host would read: the bytes, in order
            self.stdin.append(stdin if isinstance(stdin, bytes) else b"".join(stdin))
        if hostlock.bootstrap() in text:  # the host lock: recorded apart, taken by default
            self.locks.append(text)
            return self.lock(self, text, timeout)
        self.sent.append(text)
        self.stats.commands += 1
        self.stats.http_requests += 4
        return self.answer(self, text, timeout)

    def close(self) -> None:
        self.closed = True


def free_lock(conn: FakeConnection, text: str, timeout: float | None) -> Result:
    answer = {"acquired": True, "path": "C:\\ProgramData\\tacfleet\\tacdemo.lock"}
    return Result(0, hostlock.MARK + json.dumps(answer) + "\r\n", "")


def is_probe(conn: FakeConnection, text: str) -> bool:
    return text == probe_command(probe_spec(conn.entry)).line


def probe_answer(doc: dict[str, Any]) -> Result:
    return Result(0, MARKER + json.dumps(doc) + "\r\n", "")


def compliant(conn: FakeConnection, text: str, timeout: float | None) -> Result:
    if is_probe(conn, text):
        return probe_answer(compliant_doc(conn.entry))
    return Result(0, "", "")


FLEET = r"""
all:
  vars:
    connection: {address: 127.0.0.1, port: 1, https: false, user: deploy,
                 password_env: H5_PASSWORD}
    python: {base: C:\Python311\python.exe, venv: C:\PythonEnvs\tacdemo, wheelhouse: C:\wheels}
    app:
      name: tacdemo
      package: tacdemo==1.0.0
      tac_file: C:\Apps\tacdemo\my_tacfile.tac
      port: 58080
      environment:
        TACDEMO_PORT: "58080"
        DB_PASSWORD: {env: H5_DB_PASSWORD}
    service: {name: tacdemo, display_name: Tacdemo, description: Runs tacdemo}
    nssm: {sha256: NSSM_SHA}
hosts:
  good: {}
  drifted: {}
  nosecret: {connection: {password_env: H5_UNSET_PASSWORD}}
  hung: {}
""".replace("NSSM_SHA", NSSM_SHA)



def connector(answers: dict[str, Answer], made: dict[str, FakeConnection],
              every: list[FakeConnection] | None = None) -> Callable:
    """Like ``winhost.open.open_connection``: the password is read first (an unset one raises).

    ``made`` keeps each host's latest connection, ``every`` all of them.
    """

    def connect(host: Host) -> FakeConnection:
        resolve_password(host.connection, host=host.name)
        conn = FakeConnection(host, answers.get(host.name, compliant))
        made[host.name] = conn
        if every is not None:
            every.append(conn)
        return conn

    return connect


def run_pytest_checks(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pytest checks ARGS`` in a process of its own, from the repository's root."""
    return subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "checks"),
                           "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
