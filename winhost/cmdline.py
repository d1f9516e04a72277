r"""The one builder of every command line sent to a host.

The product's own commands are ``Command`` objects: one Windows program by its full path, run
directly by WinRS (``WINRS_SKIP_CMD_SHELL``), its arguments quoted by the C runtime's rules only,
so no inventory value ever meets cmd.exe's parser (``%``, ``!``, ``^``, ``&``, ``(``…) and the
limit is CreateProcess's 32,767 characters. ``system32()`` names Windows' own programs by full
path, never by PATH.

The rest of this module builds lines for ``cmd.exe /c`` (how WinRS runs a plain string), kept
for users' own testinfra commands (``cmd_arg``) and for the tests that tamper with a sandbox host
through cmd.exe (``build``, ``and_then``). They follow Windows' cmd.exe as documented in ``cmd /?``
and observed phase by phase (not Wine's, which is more lenient):

* Program: written bare when it holds only ``[A-Za-z0-9_.:\\-]``, else in plain quotes (inside
  quotes cmd.exe takes ``& ( ) ^`` and spaces literally; a caret-escaped ``^"`` would NOT open a
  quoted program name). ``%`` and ``!`` in a program are refused: cmd.exe expands them even
  inside quotes and no escape works there.
* ``/C`` quote processing: a line that starts with a quote has its first and its last quote
  stripped unless it holds exactly two quotes around an executable's name; so a line with a
  quoted program is wrapped in one more pair of quotes, which ``/C`` strips (``""C:\x y\a.exe"
  arg"``) — such a line always holds four quotes or more.
* Arguments: quoted for the C runtime's argv splitter (CommandLineToArgvW rules), then every
  metacharacter ``( ) % ! ^ " < > & |`` is escaped with ``^`` outside quotes (cmd.exe never
  enters quote mode on an escaped ``^"``, so ``& | < > ( )`` stay escaped everywhere; the approach
  of node's cross-spawn).
* ``%`` expansion runs before carets are read, so ``^%`` alone does not stop ``%PATH:a=b%``: every
  ``%`` is written ``^%^`` + next character (an argument holding ``%`` is always quoted, so a next
  character exists). Every name cmd.exe can then look up starts with ``^`` or ends with ``^``,
  which no variable has; cmd.exe leaves an undefined ``%name%`` as typed on a command line and
  then drops the carets. ``^!`` covers ``!x!`` while delayed expansion is off (cmd.exe's
  default; with ``DelayedExpansion`` switched on in the registry ``!`` cannot be passed).

Refused, with ``UnsafeArgument``: NUL, CR and LF (cmd.exe ends or truncates the line there).
Lines longer than cmd.exe's 8191 characters raise ``CommandTooLong``.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import zlib
from dataclasses import dataclass

from winhost.errors import CommandError

MAX_LINE = 8191
MAX_DIRECT = 32767  # CreateProcess's lpCommandLine limit, without cmd.exe
DEFAULT_SYSTEM_ROOT = "C:\\Windows"
_META = re.compile(r'([()%!^"<>&|])')
_NEEDS_QUOTES = re.compile(r'[\s"]|^$')


class UnsafeArgument(CommandError):
    """An argument that cannot be passed through cmd.exe intact."""


class CommandTooLong(CommandError):
    """A command line over cmd.exe's limit."""


@dataclass(frozen=True)
class Raw:
    """A token the builder passes through untouched (redirects such as ``2>&1`` or ``>nul``)."""

    text: str


def _check(arg: str) -> None:
    for bad, name in (
        ("\0", "a NUL character"),
        ("\r", "a carriage return"),
        ("\n", "a line feed"),
    ):
        if bad in arg:
            raise UnsafeArgument(
                f"argument {arg[:60]!r} contains {name}, which cmd.exe cannot pass to a program"
            )


def quote_arg(arg: str) -> str:
    """Quote one argument so the C runtime's argv splitter gives it back unchanged."""
    _check(arg)
    if not _NEEDS_QUOTES.search(arg):
        return arg
    out = ['"']
    backslashes = 0
    for ch in arg:
        if ch == "\\":
            backslashes += 1
            continue
        if ch == '"':
            out.append("\\" * (2 * backslashes + 1) + '"')
        else:
            out.append("\\" * backslashes + ch)
        backslashes = 0
    out.append("\\" * (2 * backslashes) + '"')
    return "".join(out)


def cmd_escape(text: str) -> str:
    """Escape cmd.exe metacharacters with ``^`` so cmd.exe passes ``text`` through literally.

    The character after a ``%`` is escaped too, so no ``%name%`` (nor ``%name:a=b%``) that
    cmd.exe's first phase looks up can name a real variable; ``text`` must not end with ``%``
    (``cmd_arg`` quotes such an argument so it cannot)."""
    _check(text)
    out: list[str] = []
    after_percent = False
    for ch in text:
        out.append(f"^{ch}" if after_percent or _META.fullmatch(ch) else ch)
        after_percent = ch == "%"
    if after_percent:
        raise UnsafeArgument(f"{text[:60]!r} ends with '%', which cmd.exe could expand")
    return "".join(out)


def cmd_arg(arg: str) -> str:
    """One argument for a ``cmd.exe /c`` line: quoted for the C runtime, then escaped."""
    quoted = quote_arg(arg)
    if "%" in arg and not quoted.startswith('"'):
        quoted = f'"{quoted}"'  # nothing to double: no space, quote or backslash-before-quote
    return cmd_escape(quoted)


@dataclass(frozen=True)
class Command:
    """One program run directly (no cmd.exe): ``argv[0]`` a full path, the rest its arguments."""

    argv: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.argv:
            raise UnsafeArgument("a command needs a program")
        program = self.argv[0]
        if '"' in program or program.endswith("\\") or not _ABSOLUTE.match(program):
            raise UnsafeArgument(
                f"program {program[:80]!r} must be a full Windows path without quotes"
            )
        for arg in self.argv:
            _check(arg)
        if len(self.line) > MAX_DIRECT:
            raise CommandTooLong(
                f"command line is {len(self.line)} characters; CreateProcess takes {MAX_DIRECT}"
            )

    @property
    def program(self) -> str:
        return self.argv[0]

    @functools.cached_property
    def line(self) -> str:
        """The lpCommandLine CreateProcess gets: the program in plain quotes (CreateProcess
        reads the program name up to the closing quote, with no escapes), then each argument
        quoted for the C runtime's argv splitter."""
        program = f'"{self.argv[0]}"'
        return " ".join([program, *(quote_arg(a) for a in self.argv[1:])])

    def __str__(self) -> str:
        return self.line


_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:\\|\\\\)")


def command(program: str, *args: str) -> Command:
    """A program (full path) and its arguments, to run without cmd.exe."""
    return Command((program, *args))


def packed_script(source: bytes) -> str:
    """A ``python -c`` program that runs ``source``, sent zlib-compressed and base64-encoded in
    the command line: a host-side script with no file written on the host."""
    packed = base64.b64encode(zlib.compress(source, 9)).decode("ascii")
    return f"import base64,zlib;exec(zlib.decompress(base64.b64decode('{packed}')))"


def system32(name: str, system_root: str = DEFAULT_SYSTEM_ROOT) -> str:
    r"""Full path of a Windows program: ``<SystemRoot>\System32\<name>`` (never PATH)."""
    return f"{system_root.rstrip(chr(92))}\\System32\\{name}"


def local_system32(name: str) -> str:
    """``system32(name)`` on the Windows machine tacfleet itself runs on (its SystemRoot)."""
    return system32(name, os.environ.get("SYSTEMROOT") or DEFAULT_SYSTEM_ROOT)


_BARE_PROGRAM = re.compile(r"^[A-Za-z0-9_.:\\-]+$")


def cmd_program(program: str) -> str:
    """The program of a ``cmd.exe /c`` line: bare if plainly safe, else in plain quotes."""
    _check(program)
    if _BARE_PROGRAM.match(program):
        return program
    for bad in '%!"':
        if bad in program:
            raise UnsafeArgument(
                f"program {program[:80]!r} contains {bad!r}, which cmd.exe cannot take in a "
                "program name (it expands % and ! even inside quotes); run it as a Command "
                "(no cmd.exe), or rename the folder"
            )
    return f'"{program}"'


def _token(part: str | Raw) -> str:
    return part.text if isinstance(part, Raw) else cmd_arg(part)


def _checked(inner: str) -> str:
    """The line as sent: wrapped in one more pair of quotes when it starts with a quote.

    ``cmd /?``: unless the line holds exactly two quotes around an executable's name, ``/C``
    strips the first quote and the last one; the wrapper is what it strips."""
    line = f'"{inner}"' if inner.startswith('"') else inner
    if len(line) > MAX_LINE:
        raise CommandTooLong(f"command line is {len(line)} characters; cmd.exe takes {MAX_LINE}")
    return line


def _inner(line: str) -> str:
    """A built line without the ``/C`` wrapper (built lines start with a quote only if wrapped)."""
    return line[1:-1] if line.startswith('"') else line


def build(program: str, *args: str | Raw) -> str:
    """A complete line for ``cmd.exe /c``: program and arguments quoted, then escaped."""
    return _checked(" ".join([cmd_program(program), *(_token(p) for p in args)]))


def and_then(*lines: str) -> str:
    """Run built lines while each succeeds (``&&``); the exit code is the first failure's."""
    return _checked(" && ".join(_inner(line) for line in lines))


def split_argv(line: str) -> list[str]:
    """Split a command line as the C runtime does (CommandLineToArgvW, post-2008 rules)."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        current: list[str] = []
        in_quotes = False
        while i < n and (in_quotes or line[i] not in " \t"):
            if line[i] == "\\":
                start = i
                while i < n and line[i] == "\\":
                    i += 1
                count = i - start
                if i < n and line[i] == '"':
                    current.append("\\" * (count // 2))
                    if count % 2:
                        current.append('"')
                        i += 1
                else:
                    current.append("\\" * count)
                continue
            if line[i] == '"':
                if in_quotes and i + 1 < n and line[i + 1] == '"':
                    current.append('"')
                    i += 2
                    continue
                in_quotes = not in_quotes
                i += 1
                continue
            current.append(line[i])
            i += 1
        args.append("".join(current))
