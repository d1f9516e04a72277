r"""Windows' cmd.exe command-line rules, as pure functions (standard library only).

From ``cmd /?`` and Microsoft Learn ("cmd", "Command shell overview"), and the parse phases
documented from experiments on Windows (Stack Overflow 4094699, "How does the Windows Command
Interpreter parse scripts", command-line context). Used by the sandbox's command agent, which
holds every line run through cmd.exe to these rules because Wine's cmd.exe is more lenient,
and by the product's unit tests, which hold the product's lines to them.

Order for ``cmd.exe /c <line>``:
1. ``/c`` quote processing (:func:`strip_c_quotes`);
2. percent expansion, before carets are read (:func:`expand_percent`): an undefined ``%NAME%``
   stays as typed and the scan goes on at its closing ``%``; ``%%`` stays ``%%``;
3. special characters, carets and quotes (:func:`commands`, :func:`command_name`): ``^x`` is a
   literal ``x`` (a ``^"`` is a quote *character* and opens no quoted region), ``&``, ``|``, ``<``,
   ``>`` outside quotes separate or redirect, and the command name ends at the first space or
   delimiter (``,;=`` and tab) outside quotes.
"""

from __future__ import annotations

import ntpath
import os
import re
from collections.abc import Callable, Iterator, Mapping

SPECIAL = set("&<>()@^|")
DELIMITERS = set(" \t,;=")
OPERATORS = set("&|<>")
NOT_RECOGNIZED = ("'{name}' is not recognized as an internal or external command,\r\n"
                  "operable program or batch file.\r\n")
NOT_FOUND_EXIT = 9009
#: cmd.exe's internal commands (``help`` on Windows Server 2022), lower case.
INTERNAL = frozenset({
    "assoc", "break", "call", "cd", "chdir", "cls", "color", "copy", "date", "del", "dir", "echo",
    "endlocal", "erase", "exit", "for", "ftype", "goto", "if", "md", "mkdir", "mklink", "move",
    "path", "pause", "popd", "prompt", "pushd", "rd", "rem", "ren", "rename", "rmdir", "set",
    "setlocal", "shift", "start", "time", "title", "type", "ver", "verify", "vol"})


def strip_c_quotes(line: str, is_executable: Callable[[str], bool]) -> str:
    """``cmd /?``: keep the quotes only when there are exactly two, no special character
    ``&<>()@^|`` between them, whitespace between them, and the quoted string names an
    executable file; otherwise, if the first character is a quote, strip it and the last quote
    on the line (keeping the text after it)."""
    text = line.lstrip(" \t")
    quotes = [i for i, c in enumerate(text) if c == '"']
    if len(quotes) == 2:
        inner = text[quotes[0] + 1:quotes[1]]
        if not (SPECIAL & set(inner)) and any(c in " \t" for c in inner) \
                and is_executable(inner):
            return text
    if text.startswith('"'):
        last = text.rfind('"')
        return text[1:last] + text[last + 1:] if last > 0 else text[1:]
    return text


def _lookup(name: str, env: Mapping[str, str]) -> str | None:
    wanted = name.upper()
    for key, value in env.items():
        if key.upper() == wanted:
            return value
    return None


def _modify(value: str, spec: str) -> str | None:
    """``%VAR:~start,len%`` and ``%VAR:old=new%``; None when the form is not valid."""
    if spec.startswith("~"):
        m = re.fullmatch(r"~(-?\d+)?(?:,(-?\d+))?", spec)
        if not m:
            return None
        start = int(m.group(1) or 0)
        start = max(len(value) + start, 0) if start < 0 else min(start, len(value))
        if m.group(2) is None:
            return value[start:]
        length = int(m.group(2))
        end = len(value) + length if length < 0 else start + length
        return value[start:max(end, start)]
    old, eq, new = spec.partition("=")
    if not eq or not old:
        return None
    if old.startswith("*"):
        idx = value.lower().find(old[1:].lower())
        return value if idx < 0 else new + value[idx + len(old) - 1:]
    return re.sub(re.escape(old), lambda _m: new, value, flags=re.IGNORECASE)


def expand_percent(line: str, env: Mapping[str, str]) -> str:
    """Command-line percent expansion (names compared case-insensitively)."""
    out: list[str] = []
    i = 0
    while i < len(line):
        if line[i] != "%":
            out.append(line[i])
            i += 1
            continue
        close = line.find("%", i + 1)
        if close < 0:
            out.append(line[i:])
            break
        name = line[i + 1:close]
        base, colon, spec = name.partition(":")
        value = _lookup(base, env) if base else None
        if value is not None and colon:
            value = _modify(value, spec)
        if value is None:
            out.append("%" + name)  # kept as typed; the closing % may open the next one
            i = close
            continue
        out.append(value)
        i = close + 1
    return "".join(out)


def _scan(text: str) -> Iterator[tuple[str, str]]:
    """The caret phase's reading of a stretch, piece by piece: ``("quoted", c)`` inside a quoted
    region (its closing quote included), ``("escaped", "^x")``, ``("caret", "^")`` (a last lone
    caret) or ``("plain", c)``; a plain ``"`` opens a quoted region, an escaped one does not."""
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            yield "quoted", c
            quoted = c != '"'
        elif c == "^" and i + 1 < len(text):
            yield "escaped", text[i:i + 2]
            i += 1
        elif c == "^":
            yield "caret", c
        else:
            yield "plain", c
            quoted = c == '"'
        i += 1


def unescape(text: str) -> str:
    """The caret phase on one stretch: ``^x`` → ``x`` outside quotes; quotes toggle regions,
    a caret-escaped quote does not."""
    return "".join(piece[-1] if role == "escaped" else "" if role == "caret" else piece
                   for role, piece in _scan(text))


def commands(line: str) -> list[str]:
    """The commands of a line, split at ``&``, ``&&``, ``|``, ``||`` outside quotes and not
    escaped, each still as typed (carets and quotes kept)."""
    parts: list[str] = []
    current: list[str] = []
    for role, piece in _scan(line):
        if role == "plain" and piece in "&|":  # a doubled operator leaves an empty part
            parts.append("".join(current))
            current = []
        else:
            current.append(piece)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def command_name(command: str) -> str:
    """The command name cmd.exe reads: leading delimiters and ``@`` skipped, carets removed,
    quotes kept; ends at the first delimiter, operator or ``(`` ``)`` outside a quoted region
    (a ``^"`` is a literal quote and opens none)."""
    out: list[str] = []
    quoted = False
    i = 0
    text = command.lstrip(" \t,;=@")
    while i < len(text):
        c = text[i]
        if quoted:
            out.append(c)
            quoted = c != '"'
        elif c == "^":
            if i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
        elif c in DELIMITERS or c in OPERATORS or c in "()":
            break
        else:
            out.append(c)
            quoted = c == '"'
        i += 1
    return "".join(out)


def find_program(name: str, env: Mapping[str, str], cwd: str,
                 exists: Callable[[str], bool] = os.path.isfile) -> str | None:
    """Where cmd.exe finds an external command: as a path, or in the current folder then each
    PATH folder, trying the name and then each PATHEXT extension. None if not found."""
    bare = name.replace('"', "")
    if not bare:
        return None
    exts = [""] if ntpath.splitext(bare)[1] else []
    exts += [e for e in (_lookup("PATHEXT", env) or ".COM;.EXE;.BAT;.CMD").split(";") if e]
    if "\\" in bare or "/" in bare or ":" in bare:
        folders = [""]
    else:
        folders = [cwd, *[p for p in (_lookup("PATH", env) or "").split(";") if p]]
    for folder in folders:
        for ext in exts:
            candidate = ntpath.join(folder, bare + ext) if folder else bare + ext
            if exists(candidate):
                return candidate
    return None


def check_line(line: str, env: Mapping[str, str], cwd: str,
               exists: Callable[[str], bool] = os.path.isfile) -> tuple[str, str] | None:
    """What Windows' ``cmd.exe /c <line>`` does differently from running it: None when every
    command name resolves; else ``(kind, message)`` with kind ``"not-recognized"`` (cmd prints
    ``message`` and exits 9009)."""
    def executable(path: str) -> bool:
        return find_program(path, env, cwd, exists) is not None

    expanded = expand_percent(strip_c_quotes(line, executable), env)
    for command in commands(expanded):
        name = command_name(command)
        if not name.replace('"', ""):
            continue
        if name.lower().rstrip(".") in INTERNAL or re.fullmatch(r"[A-Za-z]:", name):
            continue
        if find_program(name, env, cwd, exists) is None:
            return "not-recognized", NOT_RECOGNIZED.format(name=name)
    return None


def wine_expands_differently(line: str, env: Mapping[str, str]) -> str | None:
    """Wine's cmd.exe reads carets before it expands ``%`` (measured: it expands ``^%PATH^%``),
    Windows' does not. The text Windows leaves as typed that Wine would expand, else None."""
    if "%" not in line:
        return None
    windows = unescape(expand_percent(line, env))
    wine = expand_percent(unescape(line), env)
    if windows == wine:
        return None
    found = re.findall(r"%[^%]+%", unescape(line))
    for candidate in found:
        if expand_percent(candidate, env) != candidate:
            return candidate
    return found[0] if found else "%"
