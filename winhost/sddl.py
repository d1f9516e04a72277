r"""Security descriptors in SDDL, as ``icacls <folder> /save`` writes them: alike in every language.

Grammar (Microsoft Learn, "Security Descriptor String Format" and "ACE Strings"):
``O:<sid>G:<sid>D:<flags>(ace)(ace)…S:<flags>(ace)…``, every part optional; DACL/SACL flags
``P`` (protected), ``AI`` (auto-inherited), ``AR`` (auto-inherit required),
``NO_ACCESS_CONTROL`` (a null DACL: everyone has full access). An ACE is
``(type;flags;rights;object_guid;inherit_object_guid;sid[;(resource attribute)])``: rights as
letters (``FA``, ``0x1200a9``…), the SID as a two-letter alias (``BA``) or ``S-1-…``.

Masks are compared after mapping the generic bits to the file-specific rights they stand for
(GENERIC_ALL → FILE_ALL_ACCESS …), as the I/O manager does for files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

# -- access masks ----------------------------------------------------------------------------------
GENERIC_READ = 0x80000000
GENERIC_WRITE = 0x40000000
GENERIC_EXECUTE = 0x20000000
GENERIC_ALL = 0x10000000
DELETE = 0x10000
READ_CONTROL = 0x20000
WRITE_DAC = 0x40000
WRITE_OWNER = 0x80000
SYNCHRONIZE = 0x100000
FILE_READ_DATA = 0x1  # list folder
FILE_WRITE_DATA = 0x2  # add file
FILE_APPEND_DATA = 0x4  # add subfolder
FILE_READ_EA = 0x8
FILE_WRITE_EA = 0x10
FILE_EXECUTE = 0x20  # traverse
FILE_DELETE_CHILD = 0x40
FILE_READ_ATTRIBUTES = 0x80
FILE_WRITE_ATTRIBUTES = 0x100
FILE_ALL_ACCESS = 0x1F01FF
FILE_GENERIC_READ = 0x120089
FILE_GENERIC_WRITE = 0x120116
FILE_GENERIC_EXECUTE = 0x1200A0

#: icacls' simple rights as masks (what ``icacls /grant x:(OI)(CI)RX`` writes).
FULL = FILE_ALL_ACCESS
MODIFY = 0x1301BF
READ_EXECUTE = 0x1200A9
READ = FILE_GENERIC_READ
SIMPLE_RIGHTS = {"F": FULL, "M": MODIFY, "RX": READ_EXECUTE, "R": READ}

#: Rights letters of ACE strings (sddl.h: SDDL_FILE_ALL …, SDDL_CREATE_CHILD …).
RIGHTS_LETTERS = {
    "GA": GENERIC_ALL,
    "GR": GENERIC_READ,
    "GW": GENERIC_WRITE,
    "GX": GENERIC_EXECUTE,
    "FA": FILE_ALL_ACCESS,
    "FR": FILE_GENERIC_READ,
    "FW": FILE_GENERIC_WRITE,
    "FX": FILE_GENERIC_EXECUTE,
    "KA": 0xF003F,
    "KR": 0x20019,
    "KW": 0x20006,
    "KX": 0x20019,
    "RC": READ_CONTROL,
    "SD": DELETE,
    "WD": WRITE_DAC,
    "WO": WRITE_OWNER,
    "CC": 0x1,
    "DC": 0x2,
    "LC": 0x4,
    "SW": 0x8,
    "RP": 0x10,
    "WP": 0x20,
    "DT": 0x40,
    "LO": 0x80,
    "CR": 0x100,
    "NR": 0x2,  # mandatory label: no read-up / write-up / execute-up
    "NW": 0x1,
    "NX": 0x4,
}

#: Bits that let a principal change a folder or what is in it.
WRITE_BITS: dict[int, str] = {
    FILE_WRITE_DATA: "write data/add file",
    FILE_APPEND_DATA: "append/add subfolder",
    FILE_WRITE_EA: "write extended attributes",
    FILE_WRITE_ATTRIBUTES: "write attributes",
    FILE_DELETE_CHILD: "delete subfolders and files",
    DELETE: "delete",
    WRITE_DAC: "change permissions",
    WRITE_OWNER: "take ownership",
}
WRITE_MASK = sum(WRITE_BITS) | GENERIC_WRITE | GENERIC_ALL

_GENERIC_MAP = (
    (GENERIC_READ, FILE_GENERIC_READ),
    (GENERIC_WRITE, FILE_GENERIC_WRITE),
    (GENERIC_EXECUTE, FILE_GENERIC_EXECUTE),
    (GENERIC_ALL, FILE_ALL_ACCESS),
)


def file_mask(mask: int) -> int:
    """The mask with generic bits replaced by the file rights they grant (MapGenericMask)."""
    for generic, specific in _GENERIC_MAP:
        if mask & generic:
            mask = (mask & ~generic) | specific
    return mask


def write_rights(mask: int) -> list[str]:
    """Names of the write-class rights in a mask (after generic mapping), in a stable order."""
    mapped = file_mask(mask)
    return [name for bit, name in WRITE_BITS.items() if mapped & bit]


def grants_write(mask: int) -> bool:
    return bool(mask & WRITE_MASK)


def rights_name(mask: int) -> str:
    """icacls' short name of a mask (``F``, ``M``, ``RX``, ``R``), else its hex value."""
    mapped = file_mask(mask)
    for name, value in SIMPLE_RIGHTS.items():
        if mapped == value:
            return name
    return f"0x{mask:x}"


# -- SIDs ----------------------------------------------------------------------------------------
#: SID string aliases (Microsoft Learn, "SID Strings") that do not depend on a domain.
SID_ALIASES = {
    "AA": "S-1-5-32-579",
    "AC": "S-1-15-2-1",
    "AN": "S-1-5-7",
    "AO": "S-1-5-32-548",
    "AS": "S-1-18-1",
    "AU": "S-1-5-11",
    "BA": "S-1-5-32-544",
    "BG": "S-1-5-32-546",
    "BO": "S-1-5-32-551",
    "BU": "S-1-5-32-545",
    "CD": "S-1-5-32-574",
    "CG": "S-1-3-1",
    "CO": "S-1-3-0",
    "CY": "S-1-5-32-569",
    "ED": "S-1-5-9",
    "ER": "S-1-5-32-573",
    "HA": "S-1-5-32-578",
    "HI": "S-1-16-12288",
    "IS": "S-1-5-32-568",
    "IU": "S-1-5-4",
    "LS": "S-1-5-19",
    "LU": "S-1-5-32-559",
    "LW": "S-1-16-4096",
    "ME": "S-1-16-8192",
    "MP": "S-1-16-8448",
    "MU": "S-1-5-32-558",
    "NO": "S-1-5-32-556",
    "NS": "S-1-5-20",
    "NU": "S-1-5-2",
    "OW": "S-1-3-4",
    "PO": "S-1-5-32-550",
    "PS": "S-1-5-10",
    "PU": "S-1-5-32-547",
    "RA": "S-1-5-32-575",
    "RC": "S-1-5-12",
    "RD": "S-1-5-32-555",
    "RE": "S-1-5-32-552",
    "RM": "S-1-5-32-580",
    "RS": "S-1-5-32-553",
    "RU": "S-1-5-32-554",
    "SI": "S-1-16-16384",
    "SO": "S-1-5-32-549",
    "SS": "S-1-18-2",
    "SU": "S-1-5-6",
    "SY": "S-1-5-18",
    "WD": "S-1-1-0",
    "WR": "S-1-5-33",
}

#: English names of well-known SIDs, for messages only (never for comparisons).
WELL_KNOWN_NAMES = {
    "S-1-1-0": "Everyone",
    "S-1-2-0": "LOCAL",
    "S-1-3-0": "CREATOR OWNER",
    "S-1-3-1": "CREATOR GROUP",
    "S-1-3-4": "OWNER RIGHTS",
    "S-1-5-2": "NT AUTHORITY\\NETWORK",
    "S-1-5-4": "NT AUTHORITY\\INTERACTIVE",
    "S-1-5-6": "NT AUTHORITY\\SERVICE",
    "S-1-5-7": "NT AUTHORITY\\ANONYMOUS LOGON",
    "S-1-5-11": "NT AUTHORITY\\Authenticated Users",
    "S-1-5-18": "NT AUTHORITY\\SYSTEM",
    "S-1-5-19": "NT AUTHORITY\\LOCAL SERVICE",
    "S-1-5-20": "NT AUTHORITY\\NETWORK SERVICE",
    "S-1-5-32-544": "BUILTIN\\Administrators",
    "S-1-5-32-545": "BUILTIN\\Users",
    "S-1-5-32-546": "BUILTIN\\Guests",
    "S-1-5-32-547": "BUILTIN\\Power Users",
    "S-1-5-32-548": "BUILTIN\\Account Operators",
    "S-1-5-32-549": "BUILTIN\\Server Operators",
    "S-1-5-32-551": "BUILTIN\\Backup Operators",
    "S-1-5-32-555": "BUILTIN\\Remote Desktop Users",
    "S-1-5-80-0": "NT SERVICE\\ALL SERVICES",
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464": (
        "NT SERVICE\\TrustedInstaller"
    ),
    "S-1-15-2-1": "APPLICATION PACKAGE AUTHORITY\\ALL APPLICATION PACKAGES",
    "S-1-15-2-2": "APPLICATION PACKAGE AUTHORITY\\ALL RESTRICTED APPLICATION PACKAGES",
}


def sid_from_alias(text: str) -> str:
    """A full SID for an SDDL SID field; a domain-relative alias (``DA``, ``LA``…) stays as is."""
    text = text.strip()
    if text.upper().startswith("S-"):
        return text.upper()
    return SID_ALIASES.get(text.upper(), text.upper())


def sid_name(sid: str) -> str:
    """An English name for a well-known SID (messages only), else the SID itself."""
    return WELL_KNOWN_NAMES.get(sid, sid)


# -- the parsed form -----------------------------------------------------------------------------
ACE_FLAGS = {"OI", "CI", "NP", "IO", "ID", "SA", "FA", "TP", "CR"}
_ALLOW_TYPES = {"A", "OA", "XA", "ZA"}
_DENY_TYPES = {"D", "OD", "XD"}


class SddlError(ValueError):
    """A string that is not a security descriptor in SDDL."""


@dataclass(frozen=True)
class Ace:
    """One access-control entry of a DACL."""

    kind: Literal["allow", "deny"]
    sid: str
    mask: int
    inherited: bool
    flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def applies_here(self) -> bool:
        """Does it apply to the folder itself (not inherit-only)?"""
        return "IO" not in self.flags

    @property
    def inherits_to_all(self) -> bool:
        """Is it inherited by files and subfolders at every depth ((OI)(CI), no NP)?"""
        return {"OI", "CI"} <= self.flags and "NP" not in self.flags



@dataclass(frozen=True)
class SecurityDescriptor:
    """The parts of an SDDL string; ``dacl`` None when the string has no ``D:`` part."""

    owner: str | None = None
    group: str | None = None
    dacl: tuple[Ace, ...] | None = None
    dacl_flags: frozenset[str] = frozenset()
    null_dacl: bool = False

    @property
    def protected(self) -> bool:
        return "P" in self.dacl_flags


_SID_FIELD = re.compile(r"S-1-[0-9]+(?:-[0-9]+)*|[A-Z]{2}", re.IGNORECASE)
_ACL_FLAG = re.compile(r"NO_ACCESS_CONTROL|P|AI|AR")


def parse_mask(text: str) -> int:
    """An ACE's rights field: a number (``0x1200a9``, ``2032127``) or rights letters."""
    text = text.strip()
    if not text:
        return 0
    if text[0].isdigit():
        try:
            return int(text, 0)
        except ValueError:
            raise SddlError(f"bad access mask {text!r}") from None
    if len(text) % 2:
        raise SddlError(f"bad rights {text!r}: letters come in pairs (FA, RC, WD…)")
    mask = 0
    for i in range(0, len(text), 2):
        letters = text[i : i + 2].upper()
        if letters not in RIGHTS_LETTERS:
            raise SddlError(f"unknown right {letters!r} in {text!r}")
        mask |= RIGHTS_LETTERS[letters]
    return mask


def parse_ace(text: str) -> Ace | None:
    """One ACE string without its parentheses; None for a type that is not allow/deny (audit…)."""
    fields = text.split(";", 5)
    if len(fields) != 6:
        raise SddlError(f"ACE {text!r} has {len(fields)} fields; want 6")
    kind_text, flag_text, rights, _guid, _inherit_guid, rest = fields
    sid_text = rest.split(";", 1)[0]  # a conditional/resource ACE carries more after the SID
    kind_text = kind_text.strip().upper()
    if len(flag_text) % 2:
        raise SddlError(f"bad ACE flags {flag_text!r} in ({text})")
    flags = {flag_text[i : i + 2].upper() for i in range(0, len(flag_text), 2)}
    unknown = flags - ACE_FLAGS
    if unknown:
        raise SddlError(f"unknown ACE flag(s) {sorted(unknown)} in ({text})")
    if not _SID_FIELD.fullmatch(sid_text.strip()):
        raise SddlError(f"bad SID {sid_text!r} in ({text})")
    if kind_text in _ALLOW_TYPES:
        kind: Literal["allow", "deny"] = "allow"
    elif kind_text in _DENY_TYPES:
        kind = "deny"
    else:
        return None
    return Ace(kind, sid_from_alias(sid_text), parse_mask(rights), "ID" in flags, frozenset(flags))


def _aces(text: str, i: int) -> tuple[list[str], int]:
    """The parenthesised ACE strings from ``i`` on (resource attributes nest parentheses)."""
    found: list[str] = []
    while i < len(text) and text[i] == "(":
        depth, start = 0, i
        while i < len(text):
            if text[i] == "(":
                depth += 1
            elif text[i] == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if depth:
            raise SddlError(f"unclosed ACE at {text[start:start + 40]!r}")
        found.append(text[start + 1 : i])
        i += 1
    return found, i


def parse(text: str) -> SecurityDescriptor:
    """Parse an SDDL security descriptor string (whitespace between parts is ignored)."""
    sddl = "".join(text.split())
    if not sddl:
        raise SddlError("empty SDDL string")
    sids: dict[str, str] = {}
    acls: dict[str, tuple[frozenset[str], list[str]]] = {}
    i = 0
    while i < len(sddl):
        tag = sddl[i : i + 2].upper()
        if tag not in ("O:", "G:", "D:", "S:") or tag in sids or tag in acls:
            raise SddlError(f"unexpected {sddl[i:i + 20]!r} in {sddl[:80]!r}")
        i += 2
        if tag in ("O:", "G:"):
            match = _SID_FIELD.match(sddl, i)
            if not match:
                raise SddlError(f"bad owner/group SID at {sddl[i:i + 20]!r}")
            sids[tag] = sid_from_alias(match.group(0))
            i = match.end()
            continue
        flags: set[str] = set()
        while (flag := _ACL_FLAG.match(sddl, i)) and not sddl.startswith("S:", i):
            flags.add(flag.group(0))
            i = flag.end()
        ace_texts, i = _aces(sddl, i)
        acls[tag] = (frozenset(flags), ace_texts)
    owner, group = sids.get("O:"), sids.get("G:")
    if "D:" not in acls:
        return SecurityDescriptor(owner=owner, group=group)
    dacl_flags, texts = acls["D:"]
    aces = tuple(a for t in texts if (a := parse_ace(t)) is not None)
    return SecurityDescriptor(
        owner=owner,
        group=group,
        dacl=aces,
        dacl_flags=dacl_flags - {"NO_ACCESS_CONTROL"},
        null_dacl="NO_ACCESS_CONTROL" in dacl_flags,
    )
