"""HTTP requests and time for N commands: tacfleet's connection vs the stock clients.

Runs the sandbox's WinRM endpoint on 127.0.0.1 (commands executed by /bin/sh, so this measures
the protocol and authentication cost, not Windows), or with ``--sandbox NAME`` a running Wine
sandbox host, and drives it with:
  - tacfleet's WinRMConnection (one NTLM session, one shell, reused) on its lean transport
    (winhost.wsman_transport) and on pywinrm's (``client="pywinrm"``),
  - pytest-testinfra's stock ``winrm://`` backend (new Protocol and shell per command),
  - pywinrm's ``Session.run_cmd`` (also a new shell per command).

    python bench/connection_requests.py [--commands 20] [--sandbox NAME]

Writes bench/results/connection_requests.json and prints a table, with the client process's
CPU seconds per run (the endpoint runs in the same process when it is in-process, so compare
the CPU column between rows of one run only).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import testinfra  # noqa: E402
import winrm  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from sandbox.executor import PosixShellExecutor  # noqa: E402
from sandbox.winrm.server import WinRMServer  # noqa: E402
from winhost.winrm_connection import WinRMConnection  # noqa: E402


class _Counter:
    """HTTP requests as the endpoint counted them: in process, or a sandbox host's stats."""

    def __init__(self, server: WinRMServer | None = None, sandbox: str | None = None) -> None:
        self._server, self._sandbox = server, sandbox

    def __call__(self) -> int:
        if self._server is not None:
            return self._server.stats()["http_requests"]
        from sandbox import control

        return int(control.status(self._sandbox or "default")["http_requests"])


def measure(count: _Counter, label: str, run: Callable[[], None]) -> dict[str, object]:
    before = count()
    started, cpu = time.perf_counter(), time.process_time()
    run()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"client": label, "http_requests": count() - before, "seconds": round(elapsed, 3),
            "cpu_seconds": round(cpu, 3)}


def compare(endpoint: str, user: str, password: str, n: int, count: _Counter,
            command: str, expect: str) -> list[dict[str, object]]:
    def tacfleet(client: str) -> Callable[[], None]:
        def run() -> None:
            conn = WinRMConnection("bench", endpoint, user=user, password=SecretStr(password),
                                   client=client)
            for _ in range(n):
                assert conn.run(command).stdout.strip() == expect
            conn.close()

        return run

    def stock_testinfra() -> None:
        port = endpoint.split(":")[2].split("/")[0]
        host = testinfra.get_host(
            f"winrm://{user}:{password}@127.0.0.1:{port}?no_ssl=true&no_verify_ssl=true"
        )
        for _ in range(n):
            assert host.run(command).stdout.strip() == expect

    def pywinrm_session() -> None:
        session = winrm.Session(endpoint, auth=(user, password), transport="ntlm")
        for _ in range(n):
            assert session.run_cmd(command).std_out.strip() == expect.encode()

    return [measure(count, "tacfleet WinRMConnection", tacfleet("lean")),
            measure(count, "tacfleet on pywinrm's transport", tacfleet("pywinrm")),
            measure(count, "testinfra winrm:// (stock)", stock_testinfra),
            measure(count, "pywinrm Session.run_cmd", pywinrm_session)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20)
    parser.add_argument("--sandbox", metavar="NAME",
                        help="measure against this running Wine sandbox host instead of an "
                             "in-process endpoint whose commands /bin/sh runs")
    args = parser.parse_args()
    n = args.commands
    if args.sandbox:
        from sandbox import control

        info = control.status(args.sandbox)
        if not info["running"]:
            raise SystemExit(f"sandbox {args.sandbox!r} is not running: invoke sandbox.up "
                             f"--name {args.sandbox}")
        password = Path(info["password_file"]).read_text().strip()
        rows = compare(info["endpoint"], info["user"], password, n,
                       _Counter(sandbox=args.sandbox), "python.exe --version", "Python 3.11.9")
        where = f"the Wine sandbox host {args.sandbox!r} (python.exe --version)"
    else:
        user, password = "bench", secrets.token_urlsafe(16)
        with tempfile.TemporaryDirectory() as state:
            server = WinRMServer(PosixShellExecutor(), user=user, password=password,
                                 state_dir=Path(state))
            server.start()
            try:
                rows = compare(server.endpoint, user, password, n, _Counter(server=server),
                               "echo hi", "hi")
            finally:
                server.stop()
        where = "an in-process endpoint (/bin/sh: protocol and authentication cost only)"
    for row in rows:
        row["per_command"] = round(int(str(row["http_requests"])) / n, 2)
    print(f"{n} commands, one host, NTLM with message encryption over HTTP on 127.0.0.1, "
          f"against {where}")
    print(f"{'client':<34}{'HTTP requests':>15}{'per command':>13}{'seconds':>10}{'CPU s':>8}")
    for row in rows:
        print(f"{row['client']:<34}{row['http_requests']:>15}{row['per_command']:>13}"
              f"{row['seconds']:>10}{row['cpu_seconds']:>8}")
    name = "connection_requests_sandbox.json" if args.sandbox else "connection_requests.json"
    out = ROOT / "bench" / "results" / name
    out.write_text(json.dumps({"commands": n, "target": where, "results": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
