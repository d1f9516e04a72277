"""A bare air-gapped host to compliant, against a bare online host, in one run.

Two sandbox hosts from the bare image, one after the other:
  - online: the sandbox inventory as the demo provisions it (the image's Python, pip installing
    from the host's own ``C:\\wheels``);
  - offline: ``sandbox.up --offline`` (it reaches nothing but its own loopback), ``python.offline``
    with a bundle built here by ``invoke bundle`` (from the image's wheel cache, ``--no-index``):
    the installer sent over the certutil path, every wheel streamed from the controller.
Then a second provision of each (nothing to do).

    python bench/offline_provision.py [--name bench-offline-$USER]

Writes bench/results/offline_provision.json and prints seconds, commands and HTTP requests.
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


def _provision(path: Path) -> dict[str, Any]:
    from inventory import load_inventory
    from provision.fleet import provision_one

    host = load_inventory(path).host("sandbox")
    started = time.perf_counter()
    run = provision_one(host)
    assert not run.failed, run.error or [(s.step, s.message) for s in run.steps if s.message]
    return {"seconds": round(time.perf_counter() - started, 1), "commands": run.commands,
            "http_requests": run.http_requests, "changed": run.changed}


def _offline_inventory(info: dict[str, Any], folder: Path) -> tuple[Path, dict[str, Any]]:
    """The host's inventory made offline, and what ``invoke bundle`` took and made for it."""
    from inventory import load_inventory
    from inventory.bundle import load_lock
    from provision.bundle import build
    from sandbox import control
    from sandbox.host.image import cache_root

    path = control.write_offline_inventory(info, folder / "offline.yml",
                                           base="C:\\Py311Offline\\python.exe",
                                           app_port=control.free_port_pair())
    started = time.perf_counter()
    build(list(load_inventory(path, check_files=False).hosts),
          find_links=[str(cache_root() / "downloads" / "wheels")], no_index=True)
    seconds = time.perf_counter() - started
    lock = load_lock(folder / "bundle")
    return path, {"seconds": round(seconds, 1), "files": len(lock.files),
                  "mb": round(sum(f.size for f in lock.files) / 1e6, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default=f"bench-offline-{getpass.getuser()}")
    args = parser.parse_args()
    from sandbox import control

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tacfleet-bench-offline-") as tmp:
        folder = Path(tmp)
        for kind in ("online", "offline"):
            name = f"{args.name}-{kind}"
            control.down(name)
            control.reset(name)
            info = control.up(name, control.free_port_pair(), offline=kind == "offline")
            try:
                if kind == "online":
                    path = control.write_inventory(info, folder / "online.yml",
                                                   app_port=control.free_port_pair())
                else:
                    path, results["bundle"] = _offline_inventory(info, folder)
                results[kind] = {"bare": _provision(path), "again": _provision(path)}
            finally:
                control.down(name)
    results["ratio"] = round(results["offline"]["bare"]["seconds"]
                             / results["online"]["bare"]["seconds"], 2)
    out = ROOT / "bench" / "results" / "offline_provision.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
