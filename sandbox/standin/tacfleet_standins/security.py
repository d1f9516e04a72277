r"""Owners as Windows' security API reports them, served from the sandbox's ACL model.

Wine keeps no security descriptors: ``GetNamedSecurityInfoW`` answers every file with one
default descriptor whose owner is Wine's own user for a file of the prefix's Unix user, and
another SID for a file of any other Unix user. On Windows, an object made by an administrator
over WinRM (an elevated token) is owned by ``BUILTIN\Administrators``, one made by a local user
by that user, and ``icacls /setowner`` changes it.

So the sandbox host's Python (``tacfleet_security_model.pth`` in the image's
``Lib\site-packages``, as ``wine_retry``) answers the owner part of ``GetNamedSecurityInfoW``
for files from the ``icacls`` stand-in's store: what ``/setowner`` or the local user
(``localuser``) recorded for that very file, else Administrators. Which file is "that very
file" is Wine's own answer: the local user's files belong to another Unix user (the sandbox
chowns what it makes), so a file the administrator later deletes and makes again under the
same name is the administrator's, as on Windows. Everything else the call returns is Wine's.
The product calls the Windows API unchanged; only the sandbox's Python has this layer.
"""

from __future__ import annotations

import ctypes
from typing import Any

OWNER_SECURITY_INFORMATION = 1
SE_FILE_OBJECT = 1
_KEEP: list[Any] = []  # SIDs handed out (LocalAlloc'd by Windows' converter; never freed)
_real_getitem = ctypes.CDLL.__getitem__


def _real(library: str, name: str) -> Any:
    return _real_getitem(ctypes.WinDLL(library, use_last_error=True), name)  # type: ignore[attr-defined]


def wine_owner(path: str) -> str | None:
    """The owner SID Wine itself reports for ``path`` (its Unix user's view), or None."""
    vp = ctypes.c_void_p
    get = _real("advapi32", "GetNamedSecurityInfoW")
    get.argtypes = [ctypes.c_wchar_p, ctypes.c_int, ctypes.c_ulong, ctypes.POINTER(vp), vp, vp,
                    vp, ctypes.POINTER(vp)]
    owner, sd, text = vp(), vp(), vp()
    if get(path, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, ctypes.byref(owner), None, None,
           None, ctypes.byref(sd)):
        return None
    free = _real("kernel32", "LocalFree")
    free.argtypes = [vp]
    try:
        convert = _real("advapi32", "ConvertSidToStringSidW")
        convert.argtypes = [vp, ctypes.POINTER(vp)]
        if not convert(owner, ctypes.byref(text)):
            return None
        value = ctypes.wstring_at(text.value) if text.value else None
        free(text)
        return value
    finally:
        free(sd)


def wine_user() -> str | None:
    """Wine's own user's SID (the owner it reports for the prefix's own files)."""
    import os

    return wine_owner(os.environ.get("SYSTEMROOT", "C:\\windows"))


def _sid_pointer(sid: str) -> int:
    vp = ctypes.c_void_p
    convert = _real("advapi32", "ConvertStringSidToSidW")
    convert.argtypes = [ctypes.c_wchar_p, ctypes.POINTER(vp)]
    out = vp()
    if not convert(sid, ctypes.byref(out)):
        raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
    _KEEP.append(out)
    return int(out.value or 0)


def _store_into(pointer_arg: Any, value: int) -> None:
    """Write ``value`` where the caller's ``PSID *`` points (``byref(x)`` or ``pointer(x)``)."""
    target = getattr(pointer_arg, "_obj", None)
    if target is None and hasattr(pointer_arg, "contents"):
        target = pointer_arg.contents
    if target is not None:
        target.value = value


class _OwnerFromModel:
    """``GetNamedSecurityInfoW`` with the owner taken from the model (attributes forwarded)."""

    def __init__(self, real: Any) -> None:
        object.__setattr__(self, "_real", real)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real, name, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __call__(self, name: Any, kind: int, info: int, owner: Any = None, *rest: Any) -> Any:
        rc = self._real(name, kind, info, owner, *rest)
        if rc == 0 and kind == SE_FILE_OBJECT and info & OWNER_SECURITY_INFORMATION \
                and owner is not None and isinstance(name, str):
            from tacfleet_standins.icacls import Store

            _store_into(owner, _sid_pointer(Store().owner(name)))
        return rc


def _getitem(self: Any, name: str) -> Any:
    func = _real_getitem(self, name)
    if name == "GetNamedSecurityInfoW" and "advapi32" in str(getattr(self, "_name", "")).lower():
        return _OwnerFromModel(func)
    return func


def install() -> None:
    """Serve owners from the model in this (the sandbox host's) Python; no-op off Windows."""
    import os

    if os.name == "nt" and ctypes.CDLL.__getitem__ is not _getitem:
        ctypes.CDLL.__getitem__ = _getitem  # type: ignore[method-assign]
