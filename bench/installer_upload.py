"""What sending the base Python's installer to a host with no Python costs (issue 11).

Two receivers that need only what every Windows Server has, on a real (Wine) sandbox host over
tacfleet's WinRMConnection (lean transport), each followed by ``certutil -decode``, ``certutil
-hashfile … SHA256`` (checked) and the removal:
  - stream (what tacfleet does): the base64 text over WinRS standard input (Send, 256 KiB each)
    into ``cmd.exe /d /c findstr.exe /l /v _ >FILE.b64``, one command;
  - echo (the alternative without standard input): lines appended by ``cmd.exe /d /c
    >>FILE.b64 echo TEXT``, each command line within cmd.exe's 8,191 characters.

    python bench/installer_upload.py --name h4-bench [--mb 25] [--echo-mb 3]

The host must be running (``invoke sandbox.up --name …``). Writes
bench/results/installer_upload.json and prints commands, HTTP requests and seconds; the echo
figures are also scaled to the stream's size (commands and requests grow linearly).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROOT_DIR, DEST = "C:\\Windows", "C:\\Windows\\Temp\\tacfleet-bench-installer.exe"


def _echo_commands(data: bytes) -> list:  # type: ignore[type-arg]
    from winhost.cmdline import MAX_LINE, Command, system32

    def line(redirect: str, text: str) -> Command:
        return Command((system32("cmd.exe"), "/d", "/c", redirect + DEST + ".b64", "echo", text))

    chunk = (MAX_LINE - len(line(">>", "").line)) // 4 * 4
    encoded = base64.b64encode(data).decode()
    return [line(">" if i == 0 else ">>", encoded[i : i + chunk])
            for i in range(0, len(encoded), chunk)]


def _measure(conn, data: bytes, how: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from provision.certutil_upload import (
        decode_command,
        hashfile_command,
        parse_hashfile,
        remove_command,
        stream_command,
        stream_text,
    )

    before = (conn.stats.commands, conn.stats.http_requests)
    started = time.perf_counter()
    if how == "stream":
        result = conn.run(stream_command(ROOT_DIR, DEST), stdin=stream_text(data), timeout=1800)
        assert result.rc == 0, result.stderr
    else:
        for command in _echo_commands(data):
            result = conn.run(command)
            assert result.rc == 0, result.stderr
    sent = time.perf_counter() - started
    assert conn.run(decode_command(ROOT_DIR, DEST), timeout=600).rc == 0
    hashed = conn.run(hashfile_command(ROOT_DIR, DEST), timeout=600)
    assert parse_hashfile(hashed.stdout) == hashlib.sha256(data).hexdigest()
    assert conn.run(remove_command(ROOT_DIR, DEST)).rc == 0
    return {"bytes": len(data), "commands": conn.stats.commands - before[0],
            "http_requests": conn.stats.http_requests - before[1],
            "send_seconds": round(sent, 2),
            "seconds": round(time.perf_counter() - started, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="a running sandbox host")
    parser.add_argument("--mb", type=float, default=25.0, help="size sent by stream")
    parser.add_argument("--echo-mb", type=float, default=3.0, help="size sent by echo")
    args = parser.parse_args()

    from pydantic import SecretStr

    from provision.certutil_upload import remove_command
    from sandbox import control
    from winhost.winrm_connection import WinRMConnection

    info = control.status(args.name)
    if not info.get("running"):
        parser.error(f"sandbox host {args.name!r} is not running: invoke sandbox.up --name …")
    password = SecretStr(Path(info["password_file"]).read_text(encoding="utf-8").strip())
    results: dict[str, object] = {}
    with WinRMConnection(args.name, info["endpoint"], user=info["user"],
                         password=password) as conn:
        conn.run(remove_command(ROOT_DIR, DEST))  # a leftover of an earlier run
        results["stream"] = _measure(conn, os.urandom(int(args.mb * 1e6)), "stream")
        echo = _measure(conn, os.urandom(int(args.echo_mb * 1e6)), "echo")
    scale = args.mb / args.echo_mb
    echo["scaled_to_stream_size"] = {k: round(float(echo[k]) * scale)  # type: ignore[arg-type]
                                     for k in ("commands", "http_requests", "seconds")}
    results["echo"] = echo
    out = ROOT / "bench" / "results" / "installer_upload.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for how, row in results.items():
        print(f"{how:7} {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
