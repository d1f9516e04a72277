"""Sandbox host lifecycle and the product's cost on one real (Wine) host, in one run.

    python bench/sandbox_provision.py [--cold]

Measures: bare image build (``--cold``: in a fresh cache, PyPI downloads included), warm start,
reset, memory per host; then on the reset host: a full provision, a no-op provision, a full
compliance check (library) and ``pytest checks`` (the suite a user runs) — with wall time,
commands and HTTP requests (counted by the client and by the endpoint). Writes
bench/results/sandbox_provision.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "bench"


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    return value, round(time.perf_counter() - started, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true",
                        help="build everything in a fresh cache (downloads from PyPI included)")
    args = parser.parse_args()
    if args.cold:
        os.environ["TACFLEET_SANDBOX_HOME"] = tempfile.mkdtemp(prefix="tacfleet-cold-")

    from compliance.audit import audit_host
    from inventory import load_inventory
    from provision.fleet import provision_one
    from sandbox import control
    from sandbox.host.image import build_image

    rows: dict[str, object] = {}
    _, rows["image_build_s"] = timed(lambda: build_image(progress=False))
    control.down(NAME)
    port = control.free_port_pair()
    _, rows["reset_s"] = timed(lambda: control.reset(NAME))
    info, rows["warm_start_s"] = timed(lambda: control.up(NAME, port))
    rows["memory_mb"] = control.status(NAME)["memory_mb"]

    inventory = control.write_inventory(info, Path(tempfile.mkdtemp()) / "hosts.yml",
                                        app_port=control.free_port_pair())
    host = load_inventory(inventory).host("sandbox")

    def served() -> int:
        return int(control.status(NAME)["http_requests"])

    def provision(label: str) -> None:
        before = served()
        run, seconds = timed(lambda: provision_one(host))
        rows[label] = {"seconds": seconds, "changed": run.changed, "commands": run.commands,
                       "http_requests_client": run.http_requests,
                       "http_requests_endpoint": served() - before, "error": run.error}

    try:
        provision("full_provision")
        provision("noop_provision")
        before = served()
        audit, seconds = timed(lambda: audit_host(host))
        rows["full_check"] = {"seconds": seconds, "requirements": len(audit.findings),
                              "failing": sum(not f.ok for f in audit.findings),
                              "commands": audit.commands,
                              "http_requests_client": audit.http_requests,
                              "http_requests_endpoint": served() - before}
        before = served()
        proc, seconds = timed(lambda: subprocess.run(
            [sys.executable, "-m", "pytest", "checks", "--host", "sandbox", "--inventory",
             str(inventory), "-q", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True,
            text=True, check=False))
        rows["pytest_checks"] = {"seconds": seconds, "exit": proc.returncode,
                                 "summary": proc.stdout.strip().splitlines()[-1],
                                 "http_requests_endpoint": served() - before}
    finally:
        control.down(NAME)

    name = "sandbox_provision_cold.json" if args.cold else "sandbox_provision.json"
    out = ROOT / "bench" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cold": args.cold, **rows}, indent=2) + "\n")
    for key, value in rows.items():
        print(f"{key:>16}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
