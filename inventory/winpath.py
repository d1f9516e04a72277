r"""Windows paths on the managed host: the one validated type (``WinPath``) and its helpers.

A ``WinPath`` is a plain ``str`` holding an absolute drive path (``C:\Apps\x``) or a UNC path
(``\\server\share\x``), normalised: backslashes only, one between names, drive letter upper-case,
no trailing backslash (except a drive root ``C:\``). Strings keep every consumer simple (command
builders, JSON); compare them with :func:`same_path` / :func:`path_key`, because Windows file
names are case-insensitive.
"""

from __future__ import annotations

import contextlib
import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

#: Characters Windows refuses in a file name (``:`` is allowed only after the drive letter).
ILLEGAL_CHARS = frozenset('<>"|?*:')
#: Names Windows reserves for devices, with or without an extension (``NUL.txt`` too).
RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
#: Longest path the classic Win32 API (and so cmd.exe, sc.exe, NSSM) accepts: MAX_PATH - 1.
MAX_PATH = 259

_DRIVE = re.compile(r"^([A-Za-z]):(.*)$", re.S)
_YAML_ESCAPES = {"\t": r"\t", "\n": r"\n", "\r": r"\r", "\a": r"\a", "\b": r"\b", "\f": r"\f",
                 "\v": r"\v", "\x1b": r"\e", "\0": r"\0"}


class WinPathError(ValueError):
    """A string that is not an absolute Windows path; carries the problem and a fix."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; fix: {fix}")
        self.problem = problem
        self.fix = fix


def _control_char_error(value: str) -> WinPathError:
    bad = next(c for c in value if ord(c) < 32)
    if bad in _YAML_ESCAPES:
        return WinPathError(
            f"contains a control character (U+{ord(bad):04X}): YAML read {_YAML_ESCAPES[bad]} "
            "inside double quotes as an escape",
            "write Windows paths unquoted or in 'single quotes', e.g. 'C:\\temp\\app'",
        )
    return WinPathError(f"contains a control character (U+{ord(bad):04X})", "remove it")


def _check_name(name: str) -> None:
    illegal = sorted({c for c in name if c in ILLEGAL_CHARS})
    if illegal:
        chars = " ".join(illegal)
        raise WinPathError(
            f"the name '{name}' contains {chars}, which Windows forbids in file names",
            "remove or replace " + chars,
        )
    if name == "..":
        raise WinPathError("contains '..'", "write the folder it means, without '..'")
    if name.endswith((" ", ".")):
        raise WinPathError(
            f"the name '{name}' ends with a space or a dot, which Windows silently drops",
            f"write '{name.rstrip(' .')}'",
        )
    if name.split(".")[0].rstrip(" ").upper() in RESERVED_NAMES:
        raise WinPathError(
            f"'{name}' is a reserved device name on Windows", "choose another name"
        )


def parse_windows_path(value: str) -> str:
    """Validate an absolute Windows path and return it normalised; raise :class:`WinPathError`."""
    if not isinstance(value, str):
        raise WinPathError(f"expected a Windows path as text, got {type(value).__name__}",
                           "write it as text, e.g. 'C:\\Apps\\example'")
    text = value.strip(" ")
    if not text:
        raise WinPathError("is empty", "write an absolute path such as C:\\Apps\\example")
    if any(ord(c) < 32 for c in text):
        raise _control_char_error(text)
    if "/" in text:
        if text.startswith("/") and not text.startswith("//"):
            raise WinPathError(
                "is a POSIX path, not a Windows one",
                "use the path on the Windows host, e.g. C:\\Apps\\example",
            )
        raise WinPathError(
            "uses '/': cmd.exe tools such as sc.exe and icacls.exe read it as a switch",
            f"write it with backslashes: {text.replace('/', chr(92))}",
        )
    if text.startswith(("\\\\?\\", "\\\\.\\")):
        raise WinPathError("is a device or extended-length (\\\\?\\) path",
                           "write a plain drive path such as C:\\Apps\\example")
    if text.startswith("\\\\"):
        names = [n for n in text[2:].split("\\") if n and n != "."]
        if len(names) < 2:
            raise WinPathError("is an incomplete UNC path",
                               "write \\\\server\\share\\folder")
        for name in names:
            _check_name(name)
        result = "\\\\" + "\\".join(names)
    else:
        match = _DRIVE.match(text)
        if match is None:
            raise WinPathError(
                "is a relative path; the host needs an absolute one",
                f"write it from a drive, e.g. C:\\Apps\\{text.lstrip(chr(92))}",
            )
        drive, rest = match.group(1).upper(), match.group(2)
        if not rest.startswith("\\"):
            raise WinPathError(
                f"is relative to the current folder of drive {drive}:",
                f"write {drive}:\\{rest}",
            )
        names = [n for n in rest.split("\\") if n and n != "."]
        for name in names:
            _check_name(name)
        result = f"{drive}:\\" + "\\".join(names)
    if len(result) > MAX_PATH:
        raise WinPathError(f"is {len(result)} characters long; Windows tools stop at {MAX_PATH}",
                           "choose a shorter folder")
    return result


def _validate(value: str) -> str:
    try:
        return parse_windows_path(value)
    except WinPathError as exc:
        raise PydanticCustomError(
            "windows_path", "{problem}; fix: {fix}", {"problem": exc.problem, "fix": exc.fix}
        ) from None


#: An absolute Windows path on the managed host, normalised. Use it for every host-side path.
WinPath = Annotated[
    str,
    AfterValidator(_validate),
    WithJsonSchema({"type": "string", "description": "absolute Windows path (C:\\… or UNC)"}),
]


def _names(path: str) -> tuple[str, list[str]]:
    """Split a normalised path into its anchor (``C:\\`` or ``\\\\srv\\share``) and names."""
    if path.startswith("\\\\"):
        parts = path[2:].split("\\")
        return "\\\\" + "\\".join(parts[:2]), parts[2:]
    return path[:3], [n for n in path[3:].split("\\") if n]


def win_join(base: str, *names: str) -> str:
    """Join names onto a Windows path (``win_join('C:\\A', 'b', 'c.log')``) and normalise."""
    joined = "\\".join([base.rstrip("\\"), *(n.strip("\\") for n in names)])
    return parse_windows_path(joined)


def win_parent(path: str) -> str:
    """The folder holding ``path`` (a root is its own parent)."""
    anchor, names = _names(parse_windows_path(path))
    if not names:
        return anchor
    rest = "\\".join(names[:-1])
    if anchor.endswith("\\"):
        return anchor + rest
    return anchor + ("\\" + rest if rest else "")


def win_name(path: str) -> str:
    """The last name in the path (``my_tacfile.tac``); empty for a root."""
    _anchor, names = _names(parse_windows_path(path))
    return names[-1] if names else ""


def path_key(path: str) -> str:
    """A case-insensitive key for sets and dicts of Windows paths."""
    with contextlib.suppress(WinPathError):
        path = parse_windows_path(path)
    return path.casefold()


def same_path(a: str, b: str) -> bool:
    """True when two Windows paths name the same file (case-insensitive, normalised)."""
    return path_key(a) == path_key(b)


def is_within(path: str, folder: str) -> bool:
    """True when ``path`` is inside ``folder`` (at any depth), case-insensitively."""
    child, parent = path_key(path), path_key(folder).rstrip("\\")
    return child.startswith(parent + "\\") and child != parent


def relative_to(path: str, folder: str) -> str:
    """``path`` written relative to ``folder``; raises ``ValueError`` when it is not inside."""
    if not is_within(path, folder):
        raise ValueError(f"{path} is not inside {folder}")
    return parse_windows_path(path)[len(parse_windows_path(folder).rstrip("\\")) + 1 :]


def _no_percent(value: str) -> str:
    if "%" in value:
        raise PydanticCustomError(
            "tacfleet",
            "{problem}; fix: {fix}",
            {
                "problem": "contains '%', which NSSM expands when the service starts "
                "(it keeps Application, AppParameters, AppDirectory and AppStdout/AppStderr as "
                "REG_EXPAND_SZ), so the service would run with another value",
                "fix": "write it without '%'",
            },
        )
    return value


#: Refuses '%' in a value NSSM stores as REG_EXPAND_SZ (AppParameters: the app's arguments).
NSSM_EXPANDS = AfterValidator(_no_percent)
#: A host path NSSM stores as REG_EXPAND_SZ (the venv, the app folder, the tac file, the logs).
NssmPath = Annotated[WinPath, NSSM_EXPANDS]
