"""Uploads over standard input: the host-side ``receive`` op run for real (the host's script is
standard-library Python, run here with this machine's interpreter on POSIX paths), and the
controller's choice of what to send again after a cut-off upload."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from compliance.desired import upload_part
from provision.upload import FileUpload, Payload, upload_action
from winhost.probe import FileFact

PY = "C:\\Python311\\python.exe"  # the host's; replaced by this machine's in ``_run``


def _run(action, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The action's command as the host runs it, with this Python instead of the host's."""
    argv = [sys.executable, *action.command.argv[1:]]
    data = b"".join(action.stdin) if stdin is None else stdin
    return subprocess.run(argv, input=data, capture_output=True, timeout=60)


def _file(path: Path, size: int, seed: int = 1) -> Path:
    path.write_bytes(hashlib.shake_256(bytes([seed])).digest(size))
    return path


def test_files_arrive_verified_and_renamed_in_one_command(tmp_path):
    a, b = _file(tmp_path / "a.whl", 3_000_000), _file(tmp_path / "b.whl", 10, seed=2)
    host = tmp_path / "host" / "wheelhouse"
    uploads = [FileUpload.of(f, str(host / f.name)) for f in (a, b)]
    action = upload_action("send", PY, uploads)
    assert action.stdin.size == 3_000_010 and len(action.command.line) < 16_000
    done = _run(action)
    assert done.returncode == 0, done.stderr
    assert (host / "a.whl").read_bytes() == a.read_bytes()
    assert (host / "b.whl").read_bytes() == b.read_bytes()
    assert sorted(p.name for p in host.iterdir()) == ["a.whl", "b.whl"]  # no part left


def test_a_corrupted_upload_never_reaches_the_final_path(tmp_path):
    src = _file(tmp_path / "x.whl", 100_000)
    dest = tmp_path / "host" / "x.whl"
    action = upload_action("send", PY, [FileUpload.of(src, str(dest))])
    data = bytearray(src.read_bytes())
    data[50_000] ^= 0xFF
    done = _run(action, bytes(data))
    assert done.returncode == 1 and b"has sha256" in done.stderr
    assert not dest.exists() and not Path(upload_part(str(dest))).exists()


def test_a_cut_off_upload_keeps_its_bytes_and_the_next_run_sends_only_the_rest(tmp_path):
    src = _file(tmp_path / "big.whl", 2_000_000)
    dest = tmp_path / "host" / "big.whl"
    part = Path(upload_part(str(dest)))
    first = upload_action("send", PY, [FileUpload.of(src, str(dest))])
    done = _run(first, src.read_bytes()[:1_234_567])  # the connection dropped here
    assert done.returncode == 1 and b"1234567 of 2000000 bytes" in done.stderr
    assert b"the next run sends the rest" in done.stderr
    assert part.stat().st_size == 1_234_567 and not dest.exists()

    kept = FileFact(path=str(part), exists=True, size=1_234_567, owner="S-1-5-32-544",
                    sha256=hashlib.sha256(part.read_bytes()).hexdigest())
    again = FileUpload.of(src, str(dest), kept=kept)
    assert again.offset == 1_234_567 and again.remaining == 765_433
    action = upload_action("send", PY, [again])
    assert action.stdin.size == 765_433  # only the rest goes over the wire
    done = _run(action)
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == src.read_bytes() and not part.exists()


def test_a_part_that_is_not_this_files_start_is_sent_again_whole(tmp_path):
    src = _file(tmp_path / "w.whl", 50_000)
    other = FileFact(path="p", exists=True, size=1000, sha256="0" * 64)
    assert FileUpload.of(src, "C:\\w.whl", kept=other).offset == 0
    longer = FileFact(path="p", exists=True, size=60_000, sha256="0" * 64)
    assert FileUpload.of(src, "C:\\w.whl", kept=longer).offset == 0
    assert FileUpload.of(src, "C:\\w.whl", kept=FileFact(path="p")).offset == 0


def test_a_part_changed_between_probe_and_upload_is_removed_on_the_host(tmp_path):
    src = _file(tmp_path / "w.whl", 50_000)
    dest = tmp_path / "host" / "w.whl"
    part = Path(upload_part(str(dest)))
    part.parent.mkdir(parents=True)
    part.write_bytes(src.read_bytes()[:1000])
    kept = FileFact(path=str(part), exists=True, size=1000, owner="S-1-5-32-544",
                    sha256=hashlib.sha256(part.read_bytes()).hexdigest())
    action = upload_action("send", PY, [FileUpload.of(src, str(dest), kept=kept)])
    part.write_bytes(b"x" * 1000)  # another run wrote it meanwhile
    done = _run(action)
    assert done.returncode == 1 and b"are not the start of this file" in done.stderr
    assert not part.exists() and not dest.exists()


def test_the_payload_is_read_from_disk_as_it_goes_and_again_for_a_retry(tmp_path):
    src = _file(tmp_path / "f", 3 * (1 << 20) + 5)
    payload = Payload((FileUpload.of(src, "C:\\f"),))
    sizes = [len(b) for b in payload]
    assert max(sizes) == 1 << 20 and sum(sizes) == src.stat().st_size
    assert b"".join(payload) == src.read_bytes()  # iterable again
    assert "bytes" in repr(payload) and str(src) not in repr(payload)


@pytest.mark.parametrize("size", [0, 1])
def test_tiny_files_go_too(tmp_path, size):
    src = _file(tmp_path / "t", size) if size else tmp_path / "t"
    if not size:
        src.write_bytes(b"")
    dest = tmp_path / "host" / "t"
    done = _run(upload_action("send", PY, [FileUpload.of(src, str(dest))]))
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == src.read_bytes()
