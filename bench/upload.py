"""What sending a file from the controller costs, old way and new, measured side by side.

On a real (Wine) sandbox host over NTLM-sealed HTTP (tacfleet's lean transport), files of
``--sizes`` MB of random bytes go to ``C:\\tacfleet-bench``:
  - ``stream`` (now): one command, the host's Python reading the file over WinRS standard
    input in Sends just under MaxEnvelopeSizekb, SHA-256 verified, renamed into place
    (``provision.upload``);
  - ``cmdline`` (before): base64 in ``host_ops`` command lines of up to 32,767 characters, one
    host process per chunk (sizes up to ``--cmdline-max-mb``: at ~33 KB/s a 25 MB file takes
    over ten minutes);
  - ``limit``: the endpoint's own loopback ceiling, no Wine behind it: the same bytes in ONE
    Send to a simulated host (``sandbox.fleet``, a separate process) whose MaxEnvelopeSizekb
    fits them.
Then ``--fleet`` simulated hosts receive ``--fleet-mb`` MB each in parallel, from a controller
process of its own, which reports its CPU seconds per MB sent and its peak RSS; the same with
``--fleet-small`` hosts, and ``--fleet`` hosts with a file a tenth the size, show what RSS grows
with: the number of connections (a Send's buffers each), never hosts × file size.

    python bench/upload.py [--name bench-upload-$USER] [--sizes 1,10,25] [--json]

Writes bench/results/upload.json; ``--json`` prints one JSON object per measurement
(``{"size_mb", "mb_per_s", "http_requests", "commands", "path"}``), else a table.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FOLDER = "C:\\tacfleet-bench"


def cmdline_commands(python: str, destination: str, data: bytes) -> list[Any]:
    """Before: base64 chunks as ``write`` ops in command lines of up to 32,767 characters,
    the last one verifying and renaming (what ``provision.upload`` did until this change)."""
    from compliance.desired import upload_part
    from provision.hostops import host_ops
    from winhost.cmdline import MAX_DIRECT

    part, sha = upload_part(destination), hashlib.sha256(data).hexdigest()
    done = [("verify", part, sha), ("replace", part, destination)]
    overhead = len(host_ops(python, ("write", part, "ab", ""), *done).line)
    chunk = (MAX_DIRECT - overhead - 64) // 4 * 4
    encoded = base64.b64encode(data).decode("ascii")
    pieces = [encoded[i : i + chunk] for i in range(0, len(encoded), chunk)] or [""]
    return [host_ops(python, ("write", part, "wb" if i == 0 else "ab", piece),
                     *(done if i == len(pieces) - 1 else []))
            for i, piece in enumerate(pieces)]


def _measure(conn: Any, size_mb: float, path: str, send: Any, *args: Any) -> dict[str, Any]:
    """``send(conn, *args)`` timed, with the requests and commands it cost."""
    before = (conn.stats.commands, conn.stats.http_requests)
    started = time.perf_counter()
    send(conn, *args)
    seconds = time.perf_counter() - started
    return {"size_mb": size_mb, "path": path, "seconds": round(seconds, 3),
            "mb_per_s": round(size_mb / seconds, 2),
            "http_requests": conn.stats.http_requests - before[1],
            "commands": conn.stats.commands - before[0]}


def _stream(conn: Any, python: str, source: Path, destination: str) -> None:
    from provision.upload import FileUpload, upload_action

    action = upload_action("bench", python, [FileUpload.of(source, destination)])
    result = conn.run(action.command, stdin=action.stdin, timeout=action.timeout)
    assert result.rc == 0, result.stderr


def _cmdline(conn: Any, python: str, source: Path, destination: str) -> None:
    for command in cmdline_commands(python, destination, source.read_bytes()):
        result = conn.run(command, timeout=600)
        assert result.rc == 0, result.stderr


def _random_file(folder: Path, size_mb: float) -> Path:
    path = folder / f"random-{size_mb:g}MB.bin"
    with path.open("wb") as f:
        left = int(size_mb * 1_000_000)
        while left:
            block = os.urandom(min(left, 1 << 20))
            f.write(block)
            left -= len(block)
    return path


class _Fleet:
    """``python -m sandbox.fleet.serve`` in a process of its own, and its inventory."""

    def __init__(self, folder: Path, hosts: int, max_envelope_kb: int = 500) -> None:
        self.password = folder / "fleet-password"
        self.password.write_text("bench-" + os.urandom(8).hex())
        self.password.chmod(0o600)
        self.inventory = folder / f"fleet-{hosts}.yml"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox.fleet.serve", "--hosts", str(hosts),
             "--password-file", str(self.password), "--state-dir", str(folder / "fleet"),
             "--inventory-out", str(self.inventory), "--max-envelope-kb", str(max_envelope_kb)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        json.loads(self.proc.stdout.readline())  # ready

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(30)


def _limit(folder: Path, source: Path, size_mb: float) -> dict[str, Any]:
    """The same bytes in one Send to a simulated host (no Wine): the endpoint's ceiling."""
    from inventory import load_inventory
    from winhost.open import open_connection

    kb = source.stat().st_size * 4 // 3 // 1024 + 64
    fleet = _Fleet(folder, 1, max_envelope_kb=kb)
    try:
        host = load_inventory(fleet.inventory).hosts[0]
        host = host.model_copy(update={"connection": host.connection.model_copy(
            update={"max_envelope_kb": kb})})
        conn = open_connection(host)
        try:
            _stream(conn, host.python.base, source, FOLDER + "\\warm.bin")  # shell, NTLM
            return _measure(conn, size_mb, "limit", _stream, host.python.base, source,
                            FOLDER + "\\" + source.name)
        finally:
            conn.close()
    finally:
        fleet.stop()


def fleet_worker(inventory: Path, source: Path) -> dict[str, Any]:
    """In a process of its own: every host of ``inventory`` receives ``source`` at once."""
    from inventory import load_inventory
    from provision.upload import FileUpload, upload_action
    from winhost.open import open_connection

    hosts = list(load_inventory(inventory).hosts)
    baseline = _rss_mb()
    action = upload_action("bench", hosts[0].python.base,
                           [FileUpload.of(source, FOLDER + "\\" + source.name)])

    def send(host: Any) -> int:
        conn = open_connection(host)
        try:
            result = conn.run(action.command, stdin=action.stdin, timeout=action.timeout)
            assert result.rc == 0, result.stderr
            return conn.stats.http_requests
        finally:
            conn.close()

    cpu = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(len(hosts)) as pool:
        requests = list(pool.map(send, hosts))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    sent_mb = source.stat().st_size * len(hosts) / 1e6
    return {"hosts": len(hosts), "file_mb": round(source.stat().st_size / 1e6, 1),
            "sent_mb": round(sent_mb, 1), "seconds": round(wall, 2),
            "mb_per_s": round(sent_mb / wall, 1), "cpu_ms_per_mb": round(cpu * 1000 / sent_mb, 1),
            "http_requests_per_host": max(requests),
            "rss_before_mb": round(baseline, 1), "peak_rss_mb": round(_rss_mb("VmHWM"), 1)}


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory now (``VmRSS``) or at its peak (``VmHWM``), in MB, from
    /proc: not ``ru_maxrss``, which Linux carries over ``exec`` from the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _fleet(folder: Path, hosts: int, source: Path) -> dict[str, Any]:
    fleet = _Fleet(folder, hosts)
    try:
        out = subprocess.run([sys.executable, __file__, "--fleet-worker", str(fleet.inventory),
                              str(source)], cwd=ROOT, capture_output=True, text=True,
                             timeout=600, check=True)
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result
    finally:
        fleet.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default=f"bench-upload-{getpass.getuser()}",
                        help="sandbox host (reset, then stopped)")
    parser.add_argument("--sizes", default="1,10,25", help="MB, comma-separated")
    parser.add_argument("--cmdline-max-mb", type=float, default=1.0,
                        help="largest size also sent the old way (it runs at ~33 KB/s)")
    parser.add_argument("--fleet", type=int, default=20, help="simulated hosts in parallel")
    parser.add_argument("--fleet-small", type=int, default=5, help="the same with fewer hosts")
    parser.add_argument("--fleet-mb", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--fleet-worker", nargs=2, metavar=("INVENTORY", "FILE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fleet_worker:
        print(json.dumps(fleet_worker(Path(args.fleet_worker[0]), Path(args.fleet_worker[1]))))
        return 0
    from inventory import load_inventory
    from sandbox import control
    from winhost.open import open_connection

    sizes = [float(s) for s in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    fleets: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tacfleet-bench-upload-") as tmp:
        folder = Path(tmp)
        files = {size: _random_file(folder, size) for size in sizes}
        control.down(args.name)
        control.reset(args.name)
        info = control.up(args.name, control.free_port_pair())
        try:
            inventory = control.write_inventory(info, folder / "hosts.yml",
                                                app_port=control.free_port_pair())
            host = load_inventory(inventory).host("sandbox")
            python = host.python.base
            conn = open_connection(host)
            try:
                _stream(conn, python, files[sizes[0]], FOLDER + "\\warm.bin")  # shell, NTLM
                for size, source in files.items():
                    dest = FOLDER + "\\" + source.name
                    rows.append(_measure(conn, size, "stream", _stream, python, source, dest))
                    if size <= args.cmdline_max_mb:
                        rows.append(_measure(conn, size, "cmdline", _cmdline, python, source,
                                             dest))
            finally:
                conn.close()
        finally:
            control.down(args.name)
        rows += [_limit(folder, source, size) for size, source in files.items()]
        fleet_file = _random_file(folder, args.fleet_mb)
        small_file = _random_file(folder, args.fleet_mb / 10)
        for hosts, source in ((args.fleet_small, fleet_file), (args.fleet, fleet_file),
                              (args.fleet, small_file)):
            fleets.append(_fleet(folder, hosts, source))
    out = ROOT / "bench" / "results" / "upload.json"
    out.write_text(json.dumps({"sizes": rows, "fleet": fleets}, indent=2) + "\n")
    if args.json:
        for row in rows:
            print(json.dumps({k: row[k] for k in ("size_mb", "mb_per_s", "http_requests",
                                                  "commands", "path")}))
        for fleet in fleets:
            print(json.dumps({"path": "fleet", **fleet}))
        return 0
    print(f"{'size':>6} {'path':<8} {'MB/s':>8} {'seconds':>8} {'HTTP':>6} {'commands':>8}")
    for row in sorted(rows, key=lambda r: (r["size_mb"], r["path"])):
        print(f"{row['size_mb']:>4g}MB {row['path']:<8} {row['mb_per_s']:>8} "
              f"{row['seconds']:>8} {row['http_requests']:>6} {row['commands']:>8}")
    for fleet in fleets:
        print(f"{fleet['hosts']} hosts × {fleet['file_mb']} MB: {fleet['seconds']} s, "
              f"{fleet['mb_per_s']} MB/s, {fleet['cpu_ms_per_mb']} ms CPU/MB, peak RSS "
              f"{fleet['peak_rss_mb']} MB (before {fleet['rss_before_mb']} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
