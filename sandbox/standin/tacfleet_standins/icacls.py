"""``icacls`` for the sandbox host: Wine 8's icacls.exe is a stub that prints nothing.

Wine has no NTFS security descriptors on its Unix-backed drive, so this stand-in keeps each
folder's explicit entries in ``C:\\ProgramData\\tacfleet-sandbox\\acls.json`` and shows them
above the entries every folder on a Windows Server system drive inherits, in icacls' display
format. Supported: ``icacls PATH``, ``icacls PATH /grant[:r] PRINCIPAL:PERMS [...]``,
``icacls PATH /remove[:g] PRINCIPAL``, ``icacls PATH /reset``. Enforcement: none (Wine runs
everything as one user), which the sandbox README states.
"""

from __future__ import annotations

import json
import os
import re
import sys

STORE = os.path.join(os.environ.get("PROGRAMDATA", "C:\\ProgramData"), "tacfleet-sandbox",
                     "acls.json")
#: What a new folder under C:\ inherits on Windows Server (the drive root's entries).
INHERITED = [
    "BUILTIN\\Administrators:(I)(OI)(CI)(F)",
    "NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)",
    "BUILTIN\\Users:(I)(OI)(CI)(RX)",
    "CREATOR OWNER:(I)(OI)(CI)(IO)(F)",
]
_PERMS = re.compile(r"^(?:\((?:OI|CI|IO|NP|I)\))*(?:\((?:[A-Z]+(?:,[A-Z]+)*)\)|[A-Z]+)$")


def _key(path: str) -> str:
    return os.path.normcase(os.path.abspath(path)).rstrip("\\")


def _load() -> dict[str, list[str]]:
    try:
        with open(STORE, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def _save(store: dict[str, list[str]]) -> None:
    os.makedirs(os.path.dirname(STORE), exist_ok=True)
    tmp = STORE + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(store, fh, indent=1)
    os.replace(tmp, STORE)


def _principal(entry: str) -> str:
    return entry.rsplit(":", 1)[0].lower()


def _normalise(perms: str) -> str:
    """``(OI)(CI)RX`` → ``(OI)(CI)(RX)``, as icacls displays a grant."""
    head = "".join(re.findall(r"\((?:OI|CI|IO|NP|I)\)", perms))
    rest = perms[len(head):]
    return head + (rest if rest.startswith("(") else f"({rest})")


def show(path: str, store: dict[str, list[str]]) -> str:
    entries = store.get(_key(path), []) + INHERITED
    pad = " " * (len(path) + 1)
    lines = [f"{path} {entries[0]}", *(pad + e for e in entries[1:]), ""]
    return "\r\n".join(lines) + "\r\nSuccessfully processed 1 files; Failed processing 0 files\r\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("/?", "-?"):
        print("ICACLS name /grant[:r] Sid:perm [...] | /remove[:g] Sid | /reset  (sandbox)")
        return 0 if args else 87
    path, ops = args[0], args[1:]
    if not os.path.exists(path):
        sys.stdout.write(f"{path}: The system cannot find the file specified.\r\n"
                         "Successfully processed 0 files; Failed processing 1 files\r\n")
        return 2
    store = _load()
    key = _key(path)
    if not ops:
        sys.stdout.write(show(path, store))
        return 0
    entries = list(store.get(key, []))
    i = 0
    while i < len(ops):
        op = ops[i].lower()
        if op == "/reset":
            entries = []
            i += 1
            continue
        if op in ("/grant", "/grant:r", "/remove", "/remove:g") and i + 1 < len(ops):
            j = i + 1
            while j < len(ops) and not ops[j].startswith("/"):
                spec = ops[j]
                if op.startswith("/grant"):
                    who, _, perms = spec.rpartition(":")
                    if not who or not _PERMS.match(perms):
                        sys.stdout.write(f"Invalid parameter \"{spec}\"\r\n")
                        return 87
                    entries = [e for e in entries if _principal(e) != who.lower()]
                    entries.append(f"{who}:{_normalise(perms)}")
                else:
                    entries = [e for e in entries if _principal(e) != spec.lower()]
                j += 1
            i = j
            continue
        sys.stdout.write(f"Invalid parameter \"{ops[i]}\"\r\n")
        return 87
    store[key] = entries
    _save(store)
    sys.stdout.write(f"processed file: {path}\r\n"
                     "Successfully processed 1 files; Failed processing 0 files\r\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
