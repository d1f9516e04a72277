"""How ``connection.kind: local`` runs a program (``run_process``): streamed stdin reaches it
part by part, output and exit code come back, a deadline kills it. A real child process here
(this machine's Python); the Windows side runs in test_controller_on_windows.py."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

from winhost.local_connection import run_process

ECHO = ("import sys, hashlib; data = sys.stdin.buffer.read(); "
        "print(len(data), hashlib.sha256(data).hexdigest()); sys.stderr.write('done')")


def test_streamed_stdin_arrives_whole_and_part_by_part():
    pulled: list[int] = []

    def parts() -> Iterator[bytes]:
        for i in range(64):  # 64 MiB in all: more than any pipe buffers, so it must stream
            pulled.append(i)
            yield bytes([i]) * (1 << 20)

    rc, out, err = run_process([sys.executable, "-c", ECHO], parts(), timeout=60)
    expected = hashlib.sha256(b"".join(bytes([i]) * (1 << 20) for i in range(64))).hexdigest()
    assert rc == 0 and err == b"done"
    assert out.split() == [str(64 << 20).encode(), expected.encode()]
    assert pulled == list(range(64))


def test_bytes_stdin_and_no_stdin():
    assert run_process([sys.executable, "-c", ECHO], b"abc", timeout=30)[1].startswith(b"3 ")
    rc, out, _ = run_process([sys.executable, "-c", ECHO], None, timeout=30)
    assert rc == 0 and out.startswith(b"0 ")  # NUL: reads end-of-file at once


def test_a_program_that_stops_reading_ends_the_feed_and_gives_its_exit_code():
    rc, _, _ = run_process([sys.executable, "-c", "import sys; sys.exit(3)"],
                           iter([b"x" * (1 << 20)] * 32), timeout=30)
    assert rc == 3


@pytest.mark.parametrize("stdin", [None, iter([b"never read"])])
def test_past_the_deadline_the_program_is_killed(stdin):
    with pytest.raises(subprocess.TimeoutExpired):
        run_process([sys.executable, "-c", "import time; time.sleep(30)"], stdin, timeout=1)
