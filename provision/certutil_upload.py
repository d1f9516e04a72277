r"""Put a controller-side file on a host that has no Python: cmd.exe's ``echo`` and certutil.

A bare Windows Server (2016 has no curl.exe, and the base Python is what is being installed)
has no program that writes data it is given into a file, except cmd.exe: the file's base64
text goes in lines appended by ``cmd.exe /d /c >>FILE.b64 echo TEXT`` (base64's alphabet
``A-Z a-z 0-9 + / =`` holds none of cmd.exe's metacharacters, and ``echo`` prints it as given),
each command line at most cmd.exe's 8,191 characters; then ``certutil -f -decode FILE.b64
FILE`` writes the binary and ``certutil -hashfile FILE SHA256`` prints its hash, which must be
the pinned one before anything runs it (``hash_check``). Both programs are in every Windows
Server's System32; no PowerShell.

Only tacfleet's own paths (under ``<SystemRoot>\Temp``) meet cmd.exe here, never an inventory
value; they are refused (``UnsafeForCmd``) unless made of ``[A-Za-z0-9_.-]`` and backslashes.

Cost: about 6,070 bytes of the file per command (8,191 characters less the command's own
text): a 25 MB installer is about 4,100 commands, some 12,000 HTTP requests with the lean
transport (Command, Receive, Signal each). Streaming the text over WinRS standard input (the
WS-Management Send, about 370 KB of it per 500 KB envelope) would take about 100 requests, but
needs a program that writes its standard input to a file, which a bare host has only as
``cmd.exe /c findstr "^" > FILE``, and the sandbox's Wine has no working findstr.exe.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from winhost.cmdline import MAX_LINE, Command, system32

#: Suffix of the base64 text file the ``echo`` commands write beside the destination.
B64_SUFFIX = ".b64"
_SAFE = re.compile(r"^[A-Za-z]:\\[A-Za-z0-9_.\\-]+$")
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2} ?){32}$")


class UnsafeForCmd(ValueError):
    """A path that cmd.exe would parse rather than take as it is."""


class HashfileError(ValueError):
    """certutil's ``-hashfile`` output holds no single SHA-256."""


def _safe(path: str) -> str:
    if not _SAFE.match(path) or "\\\\" in path:
        raise UnsafeForCmd(
            f"the path {path!r} holds characters cmd.exe would parse (only letters, digits, "
            "'_', '.', '-' and '\\' are sent through it): the host's SystemRoot must be a plain "
            "path such as C:\\Windows, or install the base Python by hand")
    return path


def _cmd(system_root: str, *args: str) -> Command:
    return Command((system32("cmd.exe", system_root), "/d", "/c", *args))


def echo_commands(system_root: str, destination: str, data: bytes, *,
                  limit: int = MAX_LINE) -> list[Command]:
    r"""Commands that write ``data`` as base64 lines to ``destination + ".b64"``: the first
    creates the file (``>``), the rest append (``>>``); each line at most ``limit``."""
    target = _safe(destination + B64_SUFFIX)
    overhead = len(_cmd(system_root, f">>{target}", "echo", "").line)
    chunk = (limit - overhead) // 4 * 4
    if chunk <= 0:
        raise UnsafeForCmd(f"the path {destination!r} leaves no room for data in a command line")
    if not data:  # "echo" with no text reports its state ("ECHO is on.") instead
        raise ValueError("an empty file cannot be sent with echo")
    encoded = base64.b64encode(data).decode("ascii")
    pieces = [encoded[i : i + chunk] for i in range(0, len(encoded), chunk)]
    return [_cmd(system_root, (">" if i == 0 else ">>") + target, "echo", piece)
            for i, piece in enumerate(pieces)]


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
