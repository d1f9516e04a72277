r"""Put controller-side files on a host with its Python: streamed over WinRS standard input.

One command carries a batch of files: ``host_ops`` with, per file, ``receive PART SIZE OFFSET
PREFIX`` (read SIZE - OFFSET bytes of standard input into ``<destination>.tacfleet-upload``),
then its finish ops (by default: verify its SHA-256, rename it over the destination). The files'
bytes follow each other on standard input, read from disk block by block while the Sends go
out (each just under the host's MaxEnvelopeSizekb), so the controller holds no copy of a file
and no command line carries data.

Nothing is ever half there: a file reaches its final path only by the rename after its SHA-256
matched (a corrupted part is removed). An upload cut off (a dropped connection, a full disk)
keeps the bytes received in the part; the next run's probe sees its size and SHA-256 (the part
is among the probe's files), and when they are those of the file's first bytes, only the rest
is sent. The host checks that again before appending (``PREFIX``: their SHA-256; a part that
changed in between is removed and the command fails, and the next run sends the file whole).

A part is continued only when Administrators or SYSTEM own it (the probe reads its owner, and
the host checks again before appending): one a local user made (``*.tacfleet-upload``
pre-created to keep write access to what tacfleet then puts in it) is removed and the file is
sent whole into a new file the command creates exclusively. Parts are written only into
folders tacfleet created protected (``hostops`` ``protect``) or admin-only ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compliance.desired import ADMIN_OWNERS, upload_part
from inventory.bundle import sha256_of
from provision.hostops import Op, host_ops
from provision.model import Action
from winhost.probe import FileFact

#: Bytes read from a controller file at a time.
BLOCK = 1 << 20
#: Seconds an upload command may take beyond the transfer itself (at 250 KB/s).
_BASE_TIMEOUT = 600


@dataclass(frozen=True)
class FileUpload:
    """One controller file bound for one host path; its first ``offset`` bytes are already
    there (in the part), and ``prefix`` is their SHA-256 ("-" when none are)."""

    source: Path
    destination: str
    sha256: str
    size: int
    offset: int = 0
    prefix: str = "-"

    @classmethod
    def of(cls, source: Path, destination: str, sha256: str | None = None,
           kept: FileFact | None = None) -> FileUpload:
        """The upload of ``source``; ``kept``: the probe's fact of its part on the host, whose
        bytes are kept when their SHA-256 is that of as many first bytes of ``source``."""
        size = source.stat().st_size
        sha256 = sha256 or sha256_of(source)
        if kept and kept.exists and kept.size and kept.size <= size and kept.sha256 \
                and kept.owner in ADMIN_OWNERS:  # a part someone else made is never continued
            prefix = _prefix_sha256(source, kept.size)
            if prefix == kept.sha256.lower():
                return cls(source, destination, sha256, size, kept.size, prefix)
        return cls(source, destination, sha256, size)

    @property
    def part(self) -> str:
        return upload_part(self.destination)

    @property
    def remaining(self) -> int:
        return self.size - self.offset

    def receive(self) -> tuple[str, ...]:
        return ("receive", self.part, str(self.size), str(self.offset), self.prefix)

    def verified_rename(self) -> Sequence[Op]:
        return [("verify", self.part, self.sha256), ("replace", self.part, self.destination)]


@dataclass(frozen=True)
class Payload:
    """The bytes of a batch of uploads, in order, read from disk as they are sent (iterable
    again for every run of the command: a retry reads them anew)."""

    uploads: tuple[FileUpload, ...]
    size: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", sum(u.remaining for u in self.uploads))

    def __iter__(self) -> Iterator[bytes]:
        for upload in self.uploads:
            left = upload.remaining
            with upload.source.open("rb") as f:
                f.seek(upload.offset)
                while left:
                    block = f.read(min(BLOCK, left))
                    if not block:
                        raise OSError(f"{upload.source} became shorter while it was sent")
                    left -= len(block)
                    yield block

    def __repr__(self) -> str:
        return f"Payload({len(self.uploads)} files, {self.size} bytes)"


def _prefix_sha256(path: Path, size: int) -> str:
    """SHA-256 of the first ``size`` bytes of ``path``."""
    digest, left = hashlib.sha256(), size
    with path.open("rb") as f:
        while left:
            block = f.read(min(BLOCK, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def upload_action(why: str, python: str, uploads: Sequence[FileUpload], *,
                  before: Sequence[Op] = (),
                  finish: Callable[[FileUpload], Sequence[Op]] = FileUpload.verified_rename,
                  restarts: bool = False, extra_timeout: float = 0) -> Action:
    """One command that receives ``uploads`` (after the ``before`` ops) and finishes each
    (``finish``: verify and rename by default); its timeout grows with the bytes sent."""
    ops: list[Op] = list(before)
    for upload in uploads:
        ops += [upload.receive(), *finish(upload)]
    payload = Payload(tuple(uploads))
    timeout = _BASE_TIMEOUT + extra_timeout + payload.size / 250_000
    return Action(why, host_ops(python, *ops), timeout=timeout, stdin=payload,
                  restarts=restarts)


def megabytes(size: int) -> str:
    """``size`` bytes as people read them in a plan (``1.2 MB``, ``340 KB``)."""
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(size, 1) / 1e3:.0f} KB"
