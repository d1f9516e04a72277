"""Controller CPU per host of a full check, lean transport vs pywinrm's, interleaved.

The simulated fleet (``sandbox.fleet``, its own process) answers; this process audits its hosts
one after another in one thread (``compliance.audit.audit_host``), so its CPU seconds are the
check's own cost per host, without thread switching or the machine's other load mixed into a
pool's figure. Rounds alternate the clients (``winhost.winrm_connection`` ``client=``), so a
change in the machine's load hits both alike.

    python bench/transport_cpu.py [--hosts 200] [--rounds 3]

Prints one line per round and the medians; writes bench/results/transport_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

RESULTS = ROOT / "bench" / "results" / "transport_cpu.json"
CLIENTS = ("lean", "pywinrm")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()

    from fleet_check import FleetProcess

    from compliance.audit import audit_host
    from sandbox.fleet.inventory import load_fleet
    from winhost import winrm_connection

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="tacfleet-transport-") as tmp:
        work = Path(tmp)
        password = work / "password"
        password.write_text(secrets.token_urlsafe(16))
        os.chmod(password, 0o600)
        fleet = FleetProcess(args.hosts, work, password)
        try:
            hosts = load_fleet(str(fleet.inventory))
            for client in CLIENTS:  # imports and first-use caches outside the measurement
                winrm_connection.DEFAULT_CLIENT = client
                audit_host(hosts[0])
            for round_ in range(args.rounds):
                for client in CLIENTS:
                    winrm_connection.DEFAULT_CLIENT = client
                    before = fleet.ask("stats")
                    cpu = time.process_time()
                    audits = [audit_host(h) for h in hosts]
                    cpu = time.process_time() - cpu
                    after = fleet.ask("stats")
                    n = len(hosts)
                    row = {
                        "round": round_, "client": client, "hosts": n,
                        "controller_cpu_ms_per_host": round(cpu / n * 1000, 2),
                        "fleet_cpu_ms_per_host": round(
                            (after["cpu_seconds"] - before["cpu_seconds"]) / n * 1000, 2),
                        "requests_per_host": (after["total"]["http_requests"]
                                              - before["total"]["http_requests"]) / n,
                        "compliant": sum(a.status == "compliant" for a in audits),
                        "load_avg_1min": round(os.getloadavg()[0], 2),
                    }
                    rows.append(row)
                    print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        finally:
            fleet.close()
    summary = {}
    for client in CLIENTS:
        mine = [r for r in rows if r["client"] == client]
        summary[client] = {
            "controller_cpu_ms_per_host": round(statistics.median(
                float(r["controller_cpu_ms_per_host"]) for r in mine), 2),  # type: ignore[arg-type]
            "requests_per_host": mine[0]["requests_per_host"],
            "all_compliant": all(r["compliant"] == r["hosts"] for r in mine)}
        print(f"{client:8} median controller CPU {summary[client]['controller_cpu_ms_per_host']}"
              f" ms/host, {summary[client]['requests_per_host']} requests/host")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"benchmark": "bench/transport_cpu.py",
                                          "cpus": os.cpu_count(), "summary": summary,
                                          "rounds": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
