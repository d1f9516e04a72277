r"""Put a controller-side file on a host that has no Python: findstr, cmd.exe and certutil.

A bare Windows Server (2016 has no curl.exe, and the base Python is what is being installed)
has no program that writes data it is given into a file, except through cmd.exe's redirection:
the file's base64 text is streamed over WinRS standard input (the WS-Management Send, a pipe
with ``WINRS_CONSOLEMODE_STDIN=FALSE``) into ``cmd.exe /d /c findstr.exe /l /v _ >FILE.b64``
(findstr copies every line without ``_``, which base64 never holds); ``certutil -f -decode
FILE.b64 FILE`` writes the binary, and ``certutil -hashfile FILE SHA256`` prints its hash,
which must be the pinned one before anything runs it (``hash_check``). findstr, cmd.exe and
certutil are in every Windows Server's System32; no PowerShell.

Only tacfleet's own paths (a fresh, randomly named, administrators-only folder under
``<SystemRoot>\Temp``: ``provision.staging``) meet cmd.exe here, never an inventory value; they
are refused (``UnsafeForCmd``) unless made of ``[A-Za-z0-9_.-]`` and backslashes.

Cost for a 25 MB installer: 34 MB of base64 lines, read from disk as they go, in Sends just
under the host's MaxEnvelopeSizekb (``winhost.winrm_connection.stdin_part``: 90 at Windows'
default 500); with decode, verify and removal 4 commands (143 HTTP requests and 3.6 s on the
sandbox host with the former 256 KiB Sends). The
alternative without standard input, lines appended by ``cmd.exe /c >>FILE.b64 echo TEXT``
within cmd.exe's 8,191 characters, is about 4,150 commands, 12,460 requests and 280 s
(``bench/installer_upload.py``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from provision.staging import UnsafeForCmd, cmd, safe_for_cmd
from winhost.cmdline import Command, system32

__all__ = [
    "Base64Lines",
    "UnsafeForCmd",
    "decode_command",
    "hash_check",
    "hashfile_command",
    "parse_hashfile",
    "remove_command",
    "stream_command",
    "stream_text",
]

#: Suffix of the base64 text file written beside the destination.
B64_SUFFIX = ".b64"
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2} ?){32}$")


class HashfileError(ValueError):
    """certutil's ``-hashfile`` output holds no single SHA-256."""


_safe = safe_for_cmd
_cmd = cmd


#: Characters of base64 per line of the streamed text (findstr reads lines; certutil any).
LINE = 76


def stream_command(system_root: str, destination: str) -> Command:
    r"""``cmd.exe /d /c <System32>\findstr.exe /l /v _ >FILE.b64``: the command's standard
    input (``stream_text``), line by line, into the base64 file beside ``destination``."""
    findstr = _safe(system32("findstr.exe", system_root))
    return _cmd(system_root, findstr, "/l", "/v", "_", ">" + _safe(destination + B64_SUFFIX))


def stream_text(data: bytes) -> bytes:
    """``data`` as base64 lines of ``LINE`` characters, each ended by CR LF."""
    if not data:
        raise ValueError("an empty file cannot be sent")
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + LINE] + b"\r\n" for i in range(0, len(encoded), LINE))


#: Bytes of the file per block of lines: a whole number of lines (57 bytes make 76 characters).
_BLOCK = LINE // 4 * 3 * 16384


@dataclass(frozen=True)
class Base64Lines:
    """A controller file as ``stream_text`` writes it, read from disk block by block as it is
    sent (iterable again for a retry): no copy of the file in memory."""

    path: Path

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as f:
            while block := f.read(_BLOCK):
                yield stream_text(block)


def decode_command(system_root: str, destination: str) -> Command:
    """``certutil -f -decode`` of the base64 text into ``destination`` (overwritten)."""
    return Command((system32("certutil.exe", system_root), "-f", "-decode",
                    _safe(destination + B64_SUFFIX), _safe(destination)))


def hashfile_command(system_root: str, path: str) -> Command:
    """``certutil -hashfile PATH SHA256``; its output is read by ``parse_hashfile``."""
    return Command((system32("certutil.exe", system_root), "-hashfile", path, "SHA256"))


def remove_command(system_root: str, destination: str) -> Command:
    """``del /f /q`` of the destination and its base64 text (both tacfleet's own names)."""
    return _cmd(system_root, "del", "/f", "/q", _safe(destination),
                _safe(destination + B64_SUFFIX))


def parse_hashfile(output: str) -> str:
    """The SHA-256 (lowercase hex) in ``certutil -hashfile FILE SHA256``'s output.

    The hash is the one line of hex digits: 64 in a row on Windows 10 / Server 2016 and later,
    32 pairs separated by spaces on older ones. The lines around it are translated on other
    languages (``SHA256-Hash von …:``), so only the hex line is read; none, or more than one,
    is an error."""
    found = [line.strip().replace(" ", "").lower() for line in output.splitlines()
             if _HEX.match(line.strip())]
    if len(found) != 1:
        raise HashfileError(
            f"certutil -hashfile printed {len(found)} SHA-256 hashes, not one: "
            f"{output.strip()[-300:]!r}")
    return found[0]


def hash_check(expected: str) -> Callable[[str], str]:
    """A check of ``hashfile_command``'s output: "" when it is ``expected``, else why not."""

    def check(output: str) -> str:
        try:
            actual = parse_hashfile(output)
        except HashfileError as exc:
            return str(exc)
        if actual != expected.lower():
            return (f"the file on the host has SHA-256 {actual}, not {expected.lower()}: it was "
                    "changed on the way; it was removed and not run")
        return ""

    return check
