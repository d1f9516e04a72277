r"""File operations as the sandbox host's local non-admin user, allowed by the ACL model.

Wine runs every process as one Unix user, so nothing stops a program of the prefix from writing
anywhere. This tool is how a test acts as a local user who is not an administrator
(``SANDBOX\alice``: ``LOCAL_USER``, in BUILTIN\Users, Authenticated Users, Everyone and
INTERACTIVE): each operation is done only when the modelled effective access of that token
allows it (the ``icacls`` stand-in's store, inheritance from ``C:\``'s Windows Server DACL,
CREATOR OWNER entries given to the creator, the owner's implicit READ_CONTROL and WRITE_DAC),
and what it makes is recorded as the user's (the controller-side wrapper,
``sandbox.control.local_user``, also gives the file to another Unix user so the record follows
that very file).

    python -m tacfleet_standins.localuser OP PATH [TEXT]

OP: ``mkdir`` (FILE_ADD_SUBDIRECTORY on the parent), ``create`` (a new file: FILE_ADD_FILE on
the parent; an existing one: FILE_WRITE_DATA on it), ``append`` (FILE_APPEND_DATA on the file),
``delete`` (DELETE on it or FILE_DELETE_CHILD on its parent), ``access`` (print the user's
effective rights on PATH); TEXT ``b64:<base64>`` is decoded first. Prints ``LOCALUSER ok
<what>`` and exits 0, or ``Access is denied.`` and exits 5 (ERROR_ACCESS_DENIED) as Windows'
file API fails for that user.
"""

from __future__ import annotations

import os
import sys

from tacfleet_standins.icacls import LOCAL_USER, LOCAL_USER_NAME, Store

#: The local user's token: its own SID, BUILTIN\Users, Authenticated Users, Everyone,
#: INTERACTIVE (an interactive logon), LOCAL.
TOKEN = (LOCAL_USER, "S-1-5-32-545", "S-1-5-11", "S-1-1-0", "S-1-5-4", "S-1-2-0")
FILE_ADD_FILE, FILE_ADD_SUBDIRECTORY, FILE_APPEND_DATA = 0x2, 0x4, 0x4
FILE_WRITE_DATA, FILE_DELETE_CHILD, DELETE = 0x2, 0x40, 0x10000
READ_CONTROL, WRITE_DAC = 0x20000, 0x40000
_GENERIC = ((0x80000000, 0x120089), (0x40000000, 0x120116), (0x20000000, 0x1200A0),
            (0x10000000, 0x1F01FF))
ACCESS_DENIED = 5


def effective(store: Store, path: str, token: tuple[str, ...] = TOKEN) -> int:
    """The access mask ``token`` holds on ``path`` (Windows' access check, in DACL order)."""
    aces, _ = store.dacl(path)
    granted = READ_CONTROL | WRITE_DAC if store.owner(path) in token else 0
    denied = 0
    for ace in aces:
        if "IO" in ace.flags or ace.sid not in token:
            continue
        mask = ace.mask
        for generic, specific in _GENERIC:
            if mask & generic:
                mask = (mask & ~generic) | specific
        if ace.kind == "D":
            denied |= mask & ~granted
        else:
            granted |= mask & ~denied
    return granted


def _allowed(store: Store, path: str, right: int) -> bool:
    return bool(effective(store, path, TOKEN) & right)


def act(op: str, path: str, text: str = "", store: Store | None = None) -> tuple[int, str]:
    """Do ``op`` on ``path`` as the local user if the model allows it: (exit code, message)."""
    store = store or Store()
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    exists = os.path.lexists(path)
    if op == "access":
        return 0, f"LOCALUSER access 0x{effective(store, path):x}"
    if op == "mkdir":
        if exists:
            return 183, "Cannot create a file when that file already exists."
        if not _allowed(store, parent, FILE_ADD_SUBDIRECTORY):
            return ACCESS_DENIED, "Access is denied."
        os.mkdir(path)
    elif op in ("create", "append"):
        need_parent = not exists
        right = FILE_ADD_FILE if need_parent else (
            FILE_WRITE_DATA if op == "create" else FILE_APPEND_DATA)
        if not _allowed(store, parent if need_parent else path, right):
            return ACCESS_DENIED, "Access is denied."
        with open(path, "w" if op == "create" else "a", encoding="utf-8") as handle:
            handle.write(text)
        if not need_parent:
            return 0, f"LOCALUSER ok {op} {path}"
    elif op == "delete":
        if not exists:
            return 2, "The system cannot find the file specified."
        if not (_allowed(store, path, DELETE) or _allowed(store, parent, FILE_DELETE_CHILD)):
            return ACCESS_DENIED, "Access is denied."
        os.rmdir(path) if os.path.isdir(path) else os.remove(path)
        return 0, f"LOCALUSER ok delete {path}"
    else:
        return 87, f"unknown operation {op!r}"
    store.names[LOCAL_USER] = LOCAL_USER_NAME
    store.set_owner(path, LOCAL_USER, creator=True, other_user=True)  # chowned next
    store.save()
    return 0, f"LOCALUSER made {path}"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 3):
        print(__doc__)
        return 87
    text = args[2] if len(args) == 3 else ""
    if text.startswith("b64:"):  # any bytes through a command line
        import base64

        text = base64.b64decode(text[4:]).decode("utf-8")
    rc, message = act(args[0], args[1], text)
    print(message)
    return rc


if __name__ == "__main__":
    sys.exit(main())
