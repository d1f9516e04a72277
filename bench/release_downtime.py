"""Downtime of release upgrades and rollbacks (``app.releases``) on a sandbox host.

A sandbox host from the bare image gets the release-test app (``reldemo``, real wheels built
here: ``tests/support/release_app.py``) as a service of its own. While each run goes on, a probe
on this machine asks the app every 100 ms; the figure is the longest time without an answer.
Scenarios, in order: first deploy, a good upgrade, a release whose tac raises at import (never
switched to), one that exits 5 s after it starts, one that answers 500 on /health (both rolled
back automatically: the rollback step's seconds are from the failed gate to the old release
answering again), and ``invoke rollback`` to the release before.

    python bench/release_downtime.py [--name bench-releases-$USER]

Writes bench/results/release_downtime.json and prints one line per scenario.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inventory import load_inventory  # noqa: E402 (after the path)
from provision.fleet import provision_one  # noqa: E402
from provision.model import HostRun, Status  # noqa: E402
from tests.support import release_app  # noqa: E402

#: (scenario, version, mode): what each run ships; the bad ones are removed after their run.
SCENARIOS = [("first deploy", "1.0.0", "good"), ("good upgrade", "1.1.0", "good"),
             ("tac raises at import", "1.2.0", "import"), ("exits after 5 s", "1.3.0", "exits"),
             ("500 on /health", "1.4.0", "500")]


def measure(inventory: Path, port: int, work: Any) -> tuple[HostRun, dict[str, Any]]:
    started = time.perf_counter()
    with release_app.Downtime(port) as probe:
        run = work(load_inventory(inventory).host("sandbox"))
    rollback = next((s for s in run.steps if s.step == "rollback"), None)
    return run, {
        "seconds": round(time.perf_counter() - started, 1),
        "longest_without_answer_s": round(probe.longest, 1),
        "versions_answering": probe.versions,
        "outcome": run.outcome,
        "rollback_s": round(rollback.elapsed, 1) if rollback else None,
        "rolled_back": rollback is not None and rollback.status is Status.CHANGED,
        "commands": run.commands, "http_requests": run.http_requests,
    }


def main() -> int:
    from sandbox import control

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default=f"bench-releases-{getpass.getuser()}")
    name = parser.parse_args().name
    control.down(name)
    control.reset(name)
    info = control.up(name, control.free_port_pair())
    results: dict[str, Any] = {"host": "sandbox (Wine)", "probe_interval_s": 0.1}
    try:
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        wheels, port = folder / "wheels", control.free_port_pair()
        tac = release_app.write_tac(folder / "reldemo.tac")
        single = control.write_inventory(info, folder / "sandbox.yml")
        inventory = release_app.release_inventory(single, folder / "hosts.yml", port, wheels, tac)
        for scenario, version, mode in SCENARIOS:
            wheel = release_app.build(version, mode, wheels)
            _run, results[scenario] = measure(inventory, port, provision_one)
            if mode != "good":
                wheel.unlink()
            print(f"{scenario}: {results[scenario]}", flush=True)

        def back(host: Any) -> HostRun:
            from functools import partial

            from provision.rollback import rollback_host

            return provision_one(host, body=partial(rollback_host))

        _run, results["invoke rollback"] = measure(inventory, port, back)
        print(f"invoke rollback: {results['invoke rollback']}", flush=True)
    finally:
        control.down(name)
    out = ROOT / "bench" / "results" / "release_downtime.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
