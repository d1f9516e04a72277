r"""Owners, DACLs and user rights as Windows' security APIs report them, from the sandbox's models.

Wine keeps no security descriptors: ``GetNamedSecurityInfoW`` answers every file with one
default descriptor whose owner is Wine's own user for a file of the prefix's Unix user, and
another SID for a file of any other Unix user. On Windows, an object made by an administrator
over WinRM (an elevated token) is owned by ``BUILTIN\Administrators``, one made by a local user
by that user, and ``icacls /setowner`` changes it; its DACL is what ``icacls`` set and inherited.
Wine's LSA keeps no user rights either: ``LsaEnumerateAccountsWithUserRight`` names nobody.

So the sandbox host's Python (``tacfleet_security_model.pth`` in the image's
``Lib\site-packages``, as ``wine_retry``) answers ``GetNamedSecurityInfoW``'s owner and DACL
for files from the ``icacls`` stand-in's store (a descriptor made from the model's SDDL by
Windows' own converter, so the caller's ``ConvertSecurityDescriptorToStringSecurityDescriptorW``
and ``LocalFree`` work as on Windows), and ``LsaEnumerateAccountsWithUserRight`` from the
``secedit`` stand-in's rights. The owner is what ``/setowner`` or the local user
(``localuser``) recorded for that very file, else Administrators. Which file is "that very
file" is Wine's own answer: the local user's files belong to another Unix user (the sandbox
chowns what it makes), so a file the administrator later deletes and makes again under the
same name is the administrator's, as on Windows. Everything else the calls return is Wine's.
The product calls the Windows API unchanged; only the sandbox's Python has this layer.
"""

from __future__ import annotations

import ctypes
from typing import Any

OWNER_SECURITY_INFORMATION = 1
DACL_SECURITY_INFORMATION = 4
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
    """Write ``value`` where the caller's out-parameter points (``byref(x)`` or ``pointer(x)``)."""
    target = _target(pointer_arg)
    if target is not None:
        target.value = value


class _Forwarding:
    """A foreign function wrapped: attributes (``argtypes``, ``restype``) go to the real one."""

    def __init__(self, real: Any) -> None:
        object.__setattr__(self, "_real", real)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real, name, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _target(pointer_arg: Any) -> Any:
    """The ctypes object a ``byref(x)`` or ``pointer(x)`` argument points at, or None."""
    target = getattr(pointer_arg, "_obj", None)
    if target is None and hasattr(pointer_arg, "contents"):
        target = pointer_arg.contents
    return target


def model_sddl(path: str, info: int) -> str:
    """The security descriptor the model gives ``path``: its owner and its DACL in SDDL."""
    from tacfleet_standins.icacls import Store, sddl

    store = Store()
    text = "O:" + store.owner(path) if info & OWNER_SECURITY_INFORMATION else ""
    if info & DACL_SECURITY_INFORMATION:
        text += sddl(*store.dacl(path))
    return text


def _descriptor(text: str) -> int:
    """A self-relative descriptor (LocalAlloc'd, as Windows' own) from SDDL."""
    vp = ctypes.c_void_p
    convert = _real("advapi32", "ConvertStringSecurityDescriptorToSecurityDescriptorW")
    convert.argtypes = [ctypes.c_wchar_p, ctypes.c_ulong, ctypes.POINTER(vp), vp]
    out = vp()
    if not convert(text, 1, ctypes.byref(out), None):
        raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
    return int(out.value or 0)


def _parts(descriptor: int) -> tuple[int, int]:
    """The owner SID and the DACL inside ``descriptor`` (pointers into it)."""
    vp, flag = ctypes.c_void_p, ctypes.c_int
    owner, dacl, present, defaulted = vp(), vp(), flag(), flag()
    get_owner = _real("advapi32", "GetSecurityDescriptorOwner")
    get_owner.argtypes = [vp, ctypes.POINTER(vp), ctypes.POINTER(flag)]
    get_owner(descriptor, ctypes.byref(owner), ctypes.byref(defaulted))
    get_dacl = _real("advapi32", "GetSecurityDescriptorDacl")
    get_dacl.argtypes = [vp, ctypes.POINTER(flag), ctypes.POINTER(vp), ctypes.POINTER(flag)]
    get_dacl(descriptor, ctypes.byref(present), ctypes.byref(dacl), ctypes.byref(defaulted))
    return int(owner.value or 0), int(dacl.value or 0) if present.value else 0


class _SecurityFromModel(_Forwarding):
    """``GetNamedSecurityInfoW`` with the owner and DACL of a file taken from the model: the
    caller gets a descriptor made from the model's SDDL, its owner and DACL pointing into it
    (as Windows' do), and frees it with ``LocalFree`` as usual."""

    def __call__(self, name: Any, kind: int, info: int, *out: Any) -> Any:
        rc = self._real(name, kind, info, *out)
        wanted = info & (OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION)
        if rc or kind != SE_FILE_OBJECT or not wanted or not isinstance(name, str):
            return rc
        owner, _group, dacl, _sacl, whole = (list(out) + [None] * 5)[:5]
        holder = _target(whole) if whole is not None else None
        if holder is None:  # no descriptor asked for: only the owner can be served
            if owner is not None and info & OWNER_SECURITY_INFORMATION:
                from tacfleet_standins.icacls import Store

                _store_into(owner, _sid_pointer(Store().owner(name)))
            return rc
        descriptor = _descriptor(model_sddl(name, info))
        free = _real("kernel32", "LocalFree")
        free.argtypes = [ctypes.c_void_p]
        free(holder.value)  # Wine's own descriptor, replaced by the model's
        holder.value = descriptor
        model_owner, model_dacl = _parts(descriptor)
        if owner is not None and info & OWNER_SECURITY_INFORMATION:
            _store_into(owner, model_owner)
        if dacl is not None and info & DACL_SECURITY_INFORMATION:
            _store_into(dacl, model_dacl)
        return rc


STATUS_NO_MORE_ENTRIES = 0x8000001A
HEAP_ZERO_MEMORY = 0x8


class _RightsFromModel(_Forwarding):
    """``LsaEnumerateAccountsWithUserRight`` answered from the secedit stand-in's rights (Wine's
    LSA keeps none and names nobody): an array of SID pointers and the SIDs in one block of the
    process heap, which ``LsaFreeMemory`` frees, as Windows' LSA returns it."""

    def __call__(self, policy: Any, right: Any, buffer: Any, count: Any) -> Any:
        from tacfleet_standins.secedit import holders

        text = _target(right)
        wanted = (text.Buffer or "")[: text.Length // 2].lower() if text is not None else ""
        sids: list[str] = next((v for k, v in holders().items() if k.lower() == wanted), [])
        if not sids or text is None:
            return STATUS_NO_MORE_ENTRIES
        pointers = [_sid_pointer(sid) for sid in sids]
        length = _real("advapi32", "GetLengthSid")
        length.argtypes = [ctypes.c_void_p]
        sizes = [int(length(p)) for p in pointers]
        width = ctypes.sizeof(ctypes.c_void_p)
        heap = _real("kernel32", "GetProcessHeap")
        heap.restype = ctypes.c_void_p
        alloc = _real("kernel32", "HeapAlloc")
        alloc.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_size_t]
        alloc.restype = ctypes.c_void_p
        block = int(alloc(heap(), HEAP_ZERO_MEMORY, width * len(sids) + sum(sizes)))
        at = block + width * len(sids)
        for n, (pointer, size) in enumerate(zip(pointers, sizes, strict=True)):
            ctypes.memmove(at, pointer, size)
            ctypes.c_void_p.from_address(block + n * width).value = at
            at += size
        _store_into(buffer, block)
        _store_into(count, len(sids))
        return 0


_MODELLED = {"getnamedsecurityinfow": _SecurityFromModel,
             "lsaenumerateaccountswithuserright": _RightsFromModel}


def _getitem(self: Any, name: str) -> Any:
    func = _real_getitem(self, name)
    wrapper = _MODELLED.get(str(name).lower())
    if wrapper and "advapi32" in str(getattr(self, "_name", "")).lower():
        return wrapper(func)
    return func


def install() -> None:
    """Serve owners from the model in this (the sandbox host's) Python; no-op off Windows."""
    import os

    if os.name == "nt" and ctypes.CDLL.__getitem__ is not _getitem:
        ctypes.CDLL.__getitem__ = _getitem  # type: ignore[method-assign]
