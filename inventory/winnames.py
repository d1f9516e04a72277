r"""Windows names: service names, service accounts, and how to compare them.

Windows allows a service name of 1-256 characters without ``/``, ``\`` or control characters and
compares it case-insensitively. tacfleet accepts a safer subset, ``[A-Za-z][A-Za-z0-9_.-]*``, so a
name never needs quoting in cmd.exe, works in ``NT SERVICE\<name>`` and as a file name (logs).
"""

from __future__ import annotations

import hashlib
import re
import struct
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

SERVICE_NAME_MAX = 256
_SAFE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
VIRTUAL_ACCOUNT_DOMAIN = "NT SERVICE"

#: Built-in service accounts, by lower-case spelling, mapped to the spelling ``sc qc`` prints.
_BUILTIN_ACCOUNTS = {
    "localsystem": "LocalSystem",
    ".\\localsystem": "LocalSystem",
    "nt authority\\system": "LocalSystem",
    "nt authority\\localservice": "NT AUTHORITY\\LocalService",
    "localservice": "NT AUTHORITY\\LocalService",
    "nt authority\\local service": "NT AUTHORITY\\LocalService",
    "nt authority\\networkservice": "NT AUTHORITY\\NetworkService",
    "networkservice": "NT AUTHORITY\\NetworkService",
    "nt authority\\network service": "NT AUTHORITY\\NetworkService",
}


def _err(problem: str, fix: str) -> PydanticCustomError:
    ctx = {"problem": problem, "fix": fix}
    return PydanticCustomError("tacfleet", "{problem}; fix: {fix}", ctx)


def _suggest_name(value: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", value).strip("_") or "my_service"
    return cleaned if cleaned[0].isalpha() else "svc_" + cleaned


def check_service_name(value: str) -> str:
    """Validate a Windows service name against tacfleet's safe set."""
    if not value:
        raise _err("service name is empty", "write a name such as my_service")
    if len(value) > SERVICE_NAME_MAX:
        raise _err(f"is {len(value)} characters; Windows allows {SERVICE_NAME_MAX}",
                   "choose a shorter name")
    if "/" in value or "\\" in value:
        raise _err("Windows forbids '/' and '\\' in a service name",
                   f"use {_suggest_name(value)!r}")
    if any(ord(c) < 32 for c in value):
        raise _err("contains a control character", "remove it")
    if not _SAFE_NAME.match(value):
        raise _err(
            "tacfleet service names start with a letter and use only letters, digits, _ . -",
            f"use {_suggest_name(value)!r}",
        )
    return value


def check_safe_name(value: str) -> str:
    """Validate an app or host name: a letter or digit, then letters, digits, ``_ . -``."""
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", value):
        raise _err("names use 1-64 letters, digits, _ . - and start with a letter or digit",
                   f"use {_suggest_name(value)!r}")
    return value


def check_label(value: str) -> str:
    """Validate a display name or description: no control characters (no line breaks)."""
    if any(ord(c) < 32 for c in value):
        raise _err("contains a control character or line break; Windows shows one line",
                   "write it on one line")
    return value


#: A Windows service name within tacfleet's safe set.
ServiceName = Annotated[str, AfterValidator(check_service_name)]
#: An app (or host) name: safe in file names, folder names and command lines.
SafeName = Annotated[str, AfterValidator(check_safe_name)]
#: One line of text shown by Windows (service display name, description).
Label = Annotated[str, AfterValidator(check_label)]


def virtual_account(service: str) -> str:
    r"""The virtual service account of a service: ``NT SERVICE\<service>``."""
    return f"{VIRTUAL_ACCOUNT_DOMAIN}\\{service}"


def canonical_account(account: str) -> str:
    r"""An account name spelt as Windows reports it (``LocalSystem``, ``NT SERVICE\x``...).

    Folds the aliases of the built-in accounts and the case of ``NT SERVICE``; other names are
    returned trimmed. Compare with :func:`same_account`, which also ignores case.
    """
    text = account.strip()
    lowered = text.casefold()
    if lowered in _BUILTIN_ACCOUNTS:
        return _BUILTIN_ACCOUNTS[lowered]
    domain, sep, user = text.partition("\\")
    if sep and domain.casefold() == VIRTUAL_ACCOUNT_DOMAIN.casefold():
        return virtual_account(user)
    return text


def account_key(account: str) -> str:
    """A case-insensitive key for sets and dicts of account names."""
    return canonical_account(account).casefold()


def same_account(a: str, b: str) -> bool:
    r"""True when two spellings name the same account (``nt service\X`` == ``NT SERVICE\x``)."""
    return account_key(a) == account_key(b)


def is_virtual_account(account: str) -> bool:
    r"""True for ``NT SERVICE\<name>``."""
    return canonical_account(account).startswith(VIRTUAL_ACCOUNT_DOMAIN + "\\")


def is_builtin_account(account: str) -> bool:
    """True for LocalSystem, LocalService and NetworkService."""
    return account.strip().casefold() in _BUILTIN_ACCOUNTS


def is_gmsa(account: str) -> bool:
    r"""True for a group managed service account (``DOMAIN\name$``): needs no password."""
    domain, sep, user = account.strip().partition("\\")
    return bool(sep and domain and len(user) > 1 and user.endswith("$"))


# -- SIDs: what Windows stores in security descriptors, the same in every language -------------
ADMINISTRATORS_SID = "S-1-5-32-544"
USERS_SID = "S-1-5-32-545"
SYSTEM_SID = "S-1-5-18"
CREATOR_OWNER_SID = "S-1-3-0"
TRUSTED_INSTALLER_SID = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
_BUILTIN_SIDS = {
    "LocalSystem": SYSTEM_SID,
    "NT AUTHORITY\\LocalService": "S-1-5-19",
    "NT AUTHORITY\\NetworkService": "S-1-5-20",
}


def virtual_account_sid(service: str) -> str:
    r"""The SID of ``NT SERVICE\<service>``, computed as Windows does (``sc showsid``).

    ``S-1-5-80-`` and the SHA-1 of the upper-cased service name in UTF-16LE, read as five
    little-endian 32-bit numbers.
    """
    digest = hashlib.sha1(service.upper().encode("utf-16-le")).digest()
    return "S-1-5-80-" + "-".join(str(n) for n in struct.unpack("<5I", digest))


def account_sid(account: str) -> str | None:
    """The SID of a virtual or built-in account, known offline; None for other accounts."""
    canonical = canonical_account(account)
    if canonical in _BUILTIN_SIDS:
        return _BUILTIN_SIDS[canonical]
    if is_virtual_account(canonical):
        return virtual_account_sid(canonical.partition("\\")[2])
    return None
