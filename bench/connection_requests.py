"""HTTP requests and time for N commands: tacfleet's connection vs the stock clients.

Runs the sandbox's WinRM endpoint on 127.0.0.1 (commands executed by /bin/sh, so this measures
the protocol and authentication cost, not Windows) and drives it with:
  - tacfleet's WinRMConnection (one NTLM session, one shell, reused),
  - pytest-testinfra's stock ``winrm://`` backend (new Protocol and shell per command),
  - pywinrm's ``Session.run_cmd`` (also a new shell per command).

    python bench/connection_requests.py [--commands 20]

Writes bench/results/connection_requests.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import testinfra  # noqa: E402
import winrm  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from sandbox.executor import PosixShellExecutor  # noqa: E402
from sandbox.winrm.server import WinRMServer  # noqa: E402
from winhost.winrm_connection import WinRMConnection  # noqa: E402


def measure(server: WinRMServer, label: str, run: callable) -> dict[str, object]:  # type: ignore[valid-type]
    before = server.stats()["http_requests"]
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    requests = server.stats()["http_requests"] - before
    return {"client": label, "http_requests": requests, "seconds": round(elapsed, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20)
    args = parser.parse_args()
    n = args.commands
    user, password = "bench", secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as state:
        server = WinRMServer(PosixShellExecutor(), user=user, password=password,
                             state_dir=Path(state))
        server.start()
        try:
            def tacfleet() -> None:
                conn = WinRMConnection("bench", server.endpoint, user=user,
                                       password=SecretStr(password))
                for _ in range(n):
                    assert conn.run("echo hi").stdout.strip() == "hi"
                conn.close()

            def stock_testinfra() -> None:
                port = server.endpoint.split(":")[2].split("/")[0]
                host = testinfra.get_host(
                    f"winrm://{user}:{password}@127.0.0.1:{port}?no_ssl=true&no_verify_ssl=true"
                )
                for _ in range(n):
                    assert host.run("echo hi").stdout.strip() == "hi"

            def pywinrm_session() -> None:
                session = winrm.Session(server.endpoint, auth=(user, password), transport="ntlm")
                for _ in range(n):
                    assert session.run_cmd("echo hi").std_out.strip() == b"hi"

            rows = [measure(server, "tacfleet WinRMConnection", tacfleet),
                    measure(server, "testinfra winrm:// (stock)", stock_testinfra),
                    measure(server, "pywinrm Session.run_cmd", pywinrm_session)]
        finally:
            server.stop()
    for row in rows:
        row["per_command"] = round(int(row["http_requests"]) / n, 2)  # type: ignore[arg-type]
    print(f"{n} commands, one host, NTLM with message encryption over HTTP on 127.0.0.1")
    print(f"{'client':<30}{'HTTP requests':>15}{'per command':>13}{'seconds':>10}")
    for row in rows:
        print(f"{row['client']:<30}{row['http_requests']:>15}{row['per_command']:>13}"
              f"{row['seconds']:>10}")
    out = ROOT / "bench" / "results" / "connection_requests.json"
    out.write_text(json.dumps({"commands": n, "results": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
