r"""``icacls`` for the sandbox host, with security-descriptor semantics (Wine has none).

Wine 8's icacls.exe is a stub and its file-security API keeps nothing, so this stand-in keeps each
object's own DACL in ``C:\ProgramData\tacfleet-sandbox\acls.json``: its explicit entries and
whether inheritance is blocked (``P``). Inherited entries are computed from the parent chain, as
Windows propagates them: the drive root carries what Windows Server gives ``C:\`` (so a new
folder shows ``BUILTIN\Users:(I)(CI)(AD)`` and ``(I)(CI)(WD)``), and a folder inside one whose
inheritance was removed inherits that folder's inheritable entries instead.

Supported (Microsoft Learn, "icacls"): display, also of a whole tree (``/T``);
``/save FILE`` (UTF-16LE: the object's name, then its DACL as SDDL); ``/setowner NAME``;
``/grant[:r]`` and ``/deny`` with names or ``*SID``;
``/remove[:g|:d]``; ``/inheritance:e|d|r``; ``/reset``. Account names are shown in the host's
language (English or German) and names are accepted in that language only, as on Windows.
``/setowner USER`` records the owner (``icacls /save`` does not save owners, as on Windows);
``security`` serves it to ``GetNamedSecurityInfoW`` and ``localuser`` records the local user as
owner (and CREATOR OWNER's heir) of what it makes. Wine runs every process as one user, so
nothing is enforced for the host's programs; the local user's file operations
(``localuser``) are allowed or refused by this model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import sys
from dataclasses import dataclass

STORE = os.path.join(os.environ.get("PROGRAMDATA", "C:\\ProgramData"), "tacfleet-sandbox",
                     "acls.json")

SYSTEM, ADMINS, USERS, CREATOR_OWNER = "S-1-5-18", "S-1-5-32-544", "S-1-5-32-545", "S-1-3-0"
CREATOR_GROUP = "S-1-3-1"
#: SID → display name per language (Windows translates these; ``NT SERVICE`` stays).
NAMES = {
    SYSTEM: {"en": "NT AUTHORITY\\SYSTEM", "de": "NT-AUTORITÄT\\SYSTEM"},
    ADMINS: {"en": "BUILTIN\\Administrators", "de": "VORDEFINIERT\\Administratoren"},
    USERS: {"en": "BUILTIN\\Users", "de": "VORDEFINIERT\\Benutzer"},
    CREATOR_OWNER: {"en": "CREATOR OWNER", "de": "ERSTELLER-BESITZER"},
    CREATOR_GROUP: {"en": "CREATOR GROUP", "de": "ERSTELLERGRUPPE"},
    "S-1-1-0": {"en": "Everyone", "de": "Jeder"},
    "S-1-5-11": {"en": "NT AUTHORITY\\Authenticated Users",
                 "de": "NT-AUTORITÄT\\Authentifizierte Benutzer"},
    "S-1-5-19": {"en": "NT AUTHORITY\\LOCAL SERVICE", "de": "NT-AUTORITÄT\\LOKALER DIENST"},
    "S-1-5-20": {"en": "NT AUTHORITY\\NETWORK SERVICE", "de": "NT-AUTORITÄT\\NETZWERKDIENST"},
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464": {
        "en": "NT SERVICE\\TrustedInstaller", "de": "NT SERVICE\\TrustedInstaller"},
}
#: SDDL's two-letter aliases, as ConvertSecurityDescriptorToStringSecurityDescriptor writes them.
ALIASES = {SYSTEM: "SY", ADMINS: "BA", USERS: "BU", CREATOR_OWNER: "CO", CREATOR_GROUP: "CG",
           "S-1-1-0": "WD", "S-1-5-11": "AU", "S-1-5-19": "LS", "S-1-5-20": "NS"}
MESSAGES = {
    "en": {"done": "Successfully processed {ok} files; Failed processing {bad} files",
           "processed": "processed file: {path}",
           "missing": "{path}: The system cannot find the file specified.",
           "nomap": "{name}: No mapping between account names and security IDs was done.",
           "invalid": 'Invalid parameter "{arg}"'},
    "de": {"done": "{ok} Dateien erfolgreich verarbeitet, bei {bad} Dateien ist ein Fehler "
                   "aufgetreten.",
           "processed": "Bearbeitete Datei: {path}",
           "missing": "{path}: Das System kann die angegebene Datei nicht finden.",
           "nomap": "{name}: Zuordnungen von Kontennamen und Sicherheitskennungen wurden nicht "
                    "durchgeführt.",
           "invalid": 'Ungültiger Parameter "{arg}"'},
}

# -- rights --------------------------------------------------------------------------------------
#: icacls' simple rights (``F``, ``M`` …) and specific rights (``(DE,WD)``) as access masks.
SIMPLE = {"F": 0x1F01FF, "M": 0x1301BF, "RX": 0x1200A9, "R": 0x120089, "W": 0x100116,
          "D": 0x110000, "N": 0}
SPECIFIC = {"DE": 0x10000, "RC": 0x20000, "WDAC": 0x40000, "WO": 0x80000, "S": 0x100000,
            "AS": 0x1000000, "MA": 0x2000000, "GR": 0x80000000, "GW": 0x40000000,
            "GE": 0x20000000, "GA": 0x10000000, "RD": 0x1, "WD": 0x2, "AD": 0x4, "REA": 0x8,
            "WEA": 0x10, "X": 0x20, "DC": 0x40, "RA": 0x80, "WA": 0x100}
#: How icacls writes specific rights when it shows them (``D`` for delete, ``Rc``).
_SHOWN = {"DE": "D", "RC": "Rc"}
_SDDL_WHOLE = {0x1F01FF: "FA", 0x120089: "FR", 0x120116: "FW", 0x1200A0: "FX"}
_SDDL_LETTERS = {"GA": 0x10000000, "GR": 0x80000000, "GW": 0x40000000, "GX": 0x20000000,
                 "RC": 0x20000, "SD": 0x10000, "WD": 0x40000, "WO": 0x80000, "CC": 0x1,
                 "DC": 0x2, "LC": 0x4, "SW": 0x8, "RP": 0x10, "WP": 0x20, "DT": 0x40,
                 "LO": 0x80, "CR": 0x100}
_FLAGS = ("OI", "CI", "IO", "NP")
_SID = re.compile(r"^S-1-\d+(?:-\d+)+$", re.IGNORECASE)


#: The sandbox host's local non-admin user (``localuser``): a local account's SID (the machine's
#: domain part, RID 1001: the first user made on the machine) and its Unix uid in the prefix.
LOCAL_USER = "S-1-5-21-2147205410-3302471012-2410397817-1001"
LOCAL_USER_NAME = "SANDBOX\\alice"
LOCAL_UID = 1001


def foreign(path: str) -> bool:
    """Is ``path`` another Unix user's file (the local user's, ``localuser``), by Wine's own
    answer on the sandbox host (by ``stat`` elsewhere, for tests)?"""
    if sys.platform == "win32":
        from tacfleet_standins.security import wine_owner, wine_user

        seen = wine_owner(path)
        return seen is not None and seen != wine_user()
    try:
        return os.lstat(path).st_uid != os.geteuid()
    except OSError:
        return False


class IcaclsError(Exception):
    """A failure icacls reports with a message and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Ace:
    """One access-control entry: ``A``/``D``, inheritance flags, mask, SID, inherited or not."""

    kind: str
    flags: tuple[str, ...]
    mask: int
    sid: str
    inherited: bool = False

    def to_json(self) -> list[object]:
        return [self.kind, list(self.flags), self.mask, self.sid]

    @classmethod
    def from_json(cls, data: list) -> Ace:
        return cls(str(data[0]), tuple(data[1]), int(data[2]), str(data[3]))


#: ``C:\`` on Windows Server 2016-2022 (protected; what every new folder under it inherits).
DRIVE_ROOT = (
    Ace("A", ("OI", "CI"), SIMPLE["F"], SYSTEM),
    Ace("A", ("OI", "CI"), SIMPLE["F"], ADMINS),
    Ace("A", ("OI", "CI"), SIMPLE["RX"], USERS),
    Ace("A", ("CI",), SPECIFIC["AD"], USERS),
    Ace("A", ("CI", "IO"), SPECIFIC["WD"], USERS),
    Ace("A", ("OI", "CI", "IO"), SIMPLE["F"], CREATOR_OWNER),
)


def language() -> str:
    """``de`` on a German host (Windows' UI language), else ``en``."""
    forced = os.environ.get("TACFLEET_STANDIN_LANGUAGE")
    if forced:
        return forced
    try:
        import ctypes

        langid = ctypes.windll.kernel32.GetUserDefaultUILanguage()
    except (ImportError, AttributeError, OSError):
        return "en"
    return "de" if langid & 0x3FF == 0x07 else "en"


def virtual_account_sid(service: str) -> str:
    """``NT SERVICE\\<service>``: S-1-5-80- and SHA-1 of the upper-cased UTF-16LE name."""
    digest = hashlib.sha1(service.upper().encode("utf-16-le")).digest()
    return "S-1-5-80-" + "-".join(str(n) for n in struct.unpack("<5I", digest))


def resolve(name: str, lang: str) -> str:
    """A principal as icacls takes it (``*SID`` or a name in the host's language) → SID."""
    if name.startswith("*"):
        if not _SID.match(name[1:]):
            raise IcaclsError(MESSAGES[lang]["nomap"].format(name=name), 1332)
        return name[1:].upper()
    lowered = name.lower()
    domain, _, account = lowered.rpartition("\\")
    if domain == "nt service" and account:
        return virtual_account_sid(account)
    for sid, names in NAMES.items():
        shown = names[lang].lower()
        if lowered in (shown, shown.rpartition("\\")[2]):
            return sid
    raise IcaclsError(MESSAGES[lang]["nomap"].format(name=name), 1332)


def display_name(sid: str, lang: str, known: dict[str, str]) -> str:
    if sid in NAMES:
        return NAMES[sid][lang]
    return known.get(sid, sid)


def parse_perm(text: str) -> tuple[tuple[str, ...], int]:
    """``(OI)(CI)RX`` / ``(CI)(AD)`` / ``(DE,WD)`` / ``F`` → (flags, mask); ValueError if bad."""
    flags: list[str] = []
    rest = text
    while True:
        m = re.match(r"^\((OI|CI|IO|NP)\)", rest, re.IGNORECASE)
        if not m:
            break
        flags.append(m.group(1).upper())
        rest = rest[m.end():]
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    mask = 0
    if not rest:
        raise ValueError(text)
    if rest.upper() in SIMPLE:
        mask = SIMPLE[rest.upper()]
    else:
        for word in rest.split(","):
            upper = word.strip().upper()
            if upper in SPECIFIC:
                mask |= SPECIFIC[upper]
            elif upper in SIMPLE and "," in rest:
                mask |= SIMPLE[upper]
            else:
                raise ValueError(text)
    order = [f for f in _FLAGS if f in flags]
    return tuple(order), mask


def show_rights(mask: int) -> str:
    """A mask as icacls shows it: ``(F)``, ``(RX)``, ``(AD)``, ``(W,D,Rc,DC)``."""
    for name, value in SIMPLE.items():
        if value and mask == value:
            return f"({name})"
    parts: list[str] = []
    left = mask
    for name in ("F", "M", "RX", "R", "W"):
        if SIMPLE[name] & left == SIMPLE[name] and left & ~0x100000:
            parts.append(name)
            left &= ~SIMPLE[name]
    for name, value in SPECIFIC.items():
        if left & value:
            parts.append(_SHOWN.get(name, name))
            left &= ~value
    if left:
        parts.append(f"0x{left:x}")
    return "(" + ",".join(parts) + ")"


def sddl_rights(mask: int) -> str:
    if mask in _SDDL_WHOLE:
        return _SDDL_WHOLE[mask]
    letters, left = [], mask
    for name, value in _SDDL_LETTERS.items():
        if left & value:
            letters.append(name)
            left &= ~value
    return "".join(letters) if not left else f"0x{mask:x}"


def sddl(aces: list[Ace], protected: bool) -> str:
    """The DACL as ``icacls /save`` writes it: ``D:PAI(A;OICI;FA;;;SY)…``."""
    out = ["D:" + ("P" if protected else "") + "AI"]
    for ace in aces:
        flags = "".join(f for f in ("OI", "CI", "NP", "IO") if f in ace.flags)
        flags += "ID" if ace.inherited else ""
        who = ALIASES.get(ace.sid, ace.sid)
        out.append(f"({ace.kind};{flags};{sddl_rights(ace.mask)};;;{who})")
    return "".join(out)


# -- the store and inheritance -------------------------------------------------------------------
class Store:
    """Explicit DACLs by object (lower-cased absolute path) plus names seen for virtual SIDs."""

    def __init__(self, path: str = "") -> None:
        self.path = path or STORE
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            data = {}
        if not isinstance(data.get("objects"), dict):
            data = {"objects": {}, "names": {}}
        self.objects: dict[str, dict] = data["objects"]
        self.names: dict[str, str] = data.get("names", {})

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"objects": self.objects, "names": self.names}, fh, indent=1)
        os.replace(tmp, self.path)

    @staticmethod
    def key(path: str) -> str:
        return os.path.normcase(os.path.abspath(path)).rstrip("\\/") or os.sep

    def own(self, path: str) -> tuple[list[Ace], bool]:
        """The object's explicit entries and whether inheritance is blocked."""
        entry = self.objects.get(self.key(path))
        if entry is None:
            return [], False
        return [Ace.from_json(a) for a in entry["aces"]], bool(entry["protected"])

    def set_own(self, path: str, aces: list[Ace], protected: bool) -> None:
        entry = self.objects.setdefault(self.key(path), {})
        entry.update(aces=[a.to_json() for a in canonical(aces)], protected=protected)

    def _identity(self, path: str) -> dict:
        """The entry's owner fields when they are this very file's (made by the same Unix user
        as when they were recorded), else nothing: a file deleted and made again is new."""
        entry = self.objects.get(self.key(path)) or {}
        if "owner" in entry and bool(entry.get("foreign")) == foreign(path):
            return entry
        return {}

    def owner(self, path: str) -> str:
        """The owner: recorded by ``/setowner`` or ``localuser`` for this very file; else the
        local user for its files, Administrators for the rest (an administrator's elevated
        token makes objects owned by BUILTIN\\Administrators)."""
        return str(self._identity(path).get("owner")
                   or (LOCAL_USER if foreign(path) else ADMINS))

    def creator(self, path: str) -> str | None:
        """Who made the object, when it was the local user (CREATOR OWNER's entries become its)."""
        found = self._identity(path).get("creator")
        return str(found) if found else None

    def set_owner(self, path: str, sid: str, *, creator: bool = False,
                  other_user: bool | None = None) -> None:
        """Record ``sid`` as the owner of this very file (``other_user``: it is, or is about to
        be, another Unix user's file; by default as Wine sees it now)."""
        entry = self.objects.setdefault(self.key(path), {"aces": [], "protected": False})
        entry.update(owner=sid, foreign=foreign(path) if other_user is None else other_user)
        if creator:
            entry["creator"] = sid

    def dacl(self, path: str) -> tuple[list[Ace], bool]:
        """Explicit entries, then what the parent passes down unless blocked (canonical order)."""
        absolute = os.path.abspath(path)  # no trailing separator, except on a drive root
        parent = os.path.dirname(absolute)
        if parent == absolute:
            if self.key(absolute) not in self.objects:
                return list(DRIVE_ROOT), True
            return self.own(absolute)
        aces, protected = self.own(absolute)
        if not protected:
            creator = self.creator(absolute) if os.path.lexists(absolute) else None
            aces = aces + inherit(self.dacl(parent)[0], os.path.isdir(absolute), creator)
        return canonical(aces), protected


def inherit(parent: list[Ace], container: bool, creator: str | None = None) -> list[Ace]:
    """The entries a child gets from its parent's inheritable ones (Windows' propagation).

    A CREATOR OWNER entry becomes, on an object its ``creator`` made, an entry for the creator
    itself (Windows substitutes the creator's SID when the object is created)."""
    out: list[Ace] = []
    for ace in parent:
        flags = set(ace.flags)
        heir = creator and ace.sid == CREATOR_OWNER and (
            ("CI" in flags) if container else ("OI" in flags))
        if heir:
            out.append(Ace(ace.kind, (), ace.mask, str(creator), True))
        if container and "CI" in flags:
            if "NP" in flags:
                new: set[str] = set()
            else:
                new = flags - {"IO"}
            if ace.sid in (CREATOR_OWNER, CREATOR_GROUP) and "NP" not in flags:
                new |= {"IO"}
        elif container and "OI" in flags and "NP" not in flags:
            new = {"OI", "IO"}
        elif not container and "OI" in flags:
            new = set()
            if ace.sid in (CREATOR_OWNER, CREATOR_GROUP):
                continue
        else:
            continue
        out.append(Ace(ace.kind, tuple(f for f in _FLAGS if f in new), ace.mask, ace.sid, True))
    return out


def canonical(aces: list[Ace]) -> list[Ace]:
    """Explicit denies, explicit grants, inherited denies, inherited grants (stable)."""
    return sorted(aces, key=lambda a: (a.inherited, a.kind != "D"))


def show(path: str, store: Store, lang: str = "en") -> str:
    """``icacls PATH`` as Windows prints it, summary line included."""
    return _block(path, store, lang) + MESSAGES[lang]["done"].format(ok=1, bad=0) + "\r\n"


def show_tree(path: str, store: Store, lang: str = "en") -> str:
    """``icacls PATH /T``: the object, then every object below it (a folder before what it
    holds, names in order, as NTFS lists them), each block ended by a blank line."""
    paths = [path]
    if os.path.isdir(path):
        for top, dirs, files in os.walk(path):
            dirs.sort(key=str.lower)
            for name in sorted([*dirs, *files], key=str.lower):
                paths.append(os.path.join(top, name))
        paths = [paths[0], *sorted(paths[1:], key=lambda p: p.lower().split(os.sep))]
    text = "".join(_block(p, store, lang) for p in paths)
    return text + MESSAGES[lang]["done"].format(ok=len(paths), bad=0) + "\r\n"


def _block(path: str, store: Store, lang: str) -> str:
    """One object's lines as icacls shows them, and the blank line after them."""
    aces, _ = store.dacl(path)
    lines: list[str] = []
    for ace in aces:
        who = display_name(ace.sid, lang, store.names)
        marks = ("(I)" if ace.inherited else "") + "".join(f"({f})" for f in ace.flags)
        marks += "(DENY)" if ace.kind == "D" else ""
        lines.append(f"{who}:{marks}{show_rights(ace.mask)}")
    pad = " " * (len(path) + 1)
    body = [f"{path} {lines[0]}" if lines else path, *(pad + line for line in lines[1:]), ""]
    return "\r\n".join(body) + "\r\n"


# -- operations ----------------------------------------------------------------------------------
def _grant(aces: list[Ace], sid: str, flags: tuple[str, ...], mask: int, replace: bool,
           ) -> list[Ace]:
    if replace:
        aces = [a for a in aces if not (a.kind == "A" and a.sid == sid)]
    for i, ace in enumerate(aces):
        if ace.kind == "A" and ace.sid == sid and ace.flags == flags:
            aces[i] = Ace("A", flags, ace.mask | mask, sid)
            return aces
    return [*aces, Ace("A", flags, mask, sid)]


def _deny(aces: list[Ace], sid: str, flags: tuple[str, ...], mask: int) -> list[Ace]:
    out = []
    for ace in aces:
        if ace.kind == "A" and ace.sid == sid:
            left = ace.mask & ~mask
            if left:
                out.append(Ace("A", ace.flags, left, sid))
            continue
        out.append(ace)
    for i, ace in enumerate(out):
        if ace.kind == "D" and ace.sid == sid and ace.flags == flags:
            out[i] = Ace("D", flags, ace.mask | mask, sid)
            return out
    return [Ace("D", flags, mask, sid), *out]


def apply(path: str, ops: list[str], store: Store, lang: str) -> None:
    """Apply ``/grant``, ``/deny``, ``/remove``, ``/inheritance``, ``/reset`` to ``path``."""
    own, protected = store.own(path)
    i = 0
    while i < len(ops):
        op = ops[i].lower()
        values: list[str] = []
        j = i + 1
        while j < len(ops) and not ops[j].startswith("/"):
            values.append(ops[j])
            j += 1
        if op == "/reset" and not values:
            own, protected = [], False
        elif op.startswith("/inheritance:") and not values and op[-1] in "edr" \
                and len(op) == len("/inheritance:e"):
            mode = op[-1]
            if mode == "e":
                protected = False
            elif mode == "d":
                inherited, _ = store.dacl(path)
                own = own + [Ace(a.kind, a.flags, a.mask, a.sid) for a in inherited
                             if a.inherited]
                protected = True
            else:
                protected = True
        elif op in ("/grant", "/grant:r", "/deny") and values:
            for spec in values:
                who, _, perm = spec.rpartition(":")
                if not who:
                    raise IcaclsError(MESSAGES[lang]["invalid"].format(arg=spec), 87)
                try:
                    flags, mask = parse_perm(perm)
                except ValueError:
                    raise IcaclsError(MESSAGES[lang]["invalid"].format(arg=spec), 87) from None
                sid = resolve(who, lang)
                if who.lower().startswith("nt service\\"):
                    store.names[sid] = "NT SERVICE\\" + who.split("\\", 1)[1]
                if op == "/deny":
                    own = _deny(own, sid, flags, mask)
                else:
                    own = _grant(own, sid, flags, mask, op == "/grant:r")
        elif op in ("/remove", "/remove:g", "/remove:d") and values:
            kinds = {"/remove": "AD", "/remove:g": "A", "/remove:d": "D"}[op]
            for who in values:
                sid = resolve(who, lang)
                own = [a for a in own if not (a.sid == sid and a.kind in kinds)]
        else:
            raise IcaclsError(MESSAGES[lang]["invalid"].format(arg=ops[i]), 87)
        i = j
    store.set_own(path, own, protected)


def save(path: str, target: str, store: Store) -> None:
    """``/save``: UTF-16LE, the object's name on one line and its DACL's SDDL on the next."""
    aces, protected = store.dacl(path)
    name = os.path.basename(os.path.abspath(path).rstrip("\\/")) or path
    text = f"{name}\r\n{sddl(aces, protected)}\r\n"
    with open(target, "wb") as fh:
        fh.write(text.encode("utf-16-le"))


def _encoding() -> str:
    try:
        import ctypes

        cp = ctypes.windll.kernel32.GetConsoleOutputCP() or ctypes.windll.kernel32.GetOEMCP()
        return "utf-8" if cp == 65001 else f"cp{cp}"
    except (ImportError, AttributeError, OSError):
        return "utf-8"


def _out(text: str) -> None:
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), text.encode(_encoding(), "replace"))


def run(args: list[str], store: Store | None = None, lang: str | None = None) -> tuple[str, int]:
    """The whole command: (what icacls prints, exit code)."""
    lang = lang or language()
    text = MESSAGES[lang]
    if not args or args[0] in ("/?", "-?"):
        usage = "ICACLS name [/T] | /save aclfile | /setowner user | /grant[:r] Sid:perm | " \
                "/deny Sid:perm | /remove[:g|:d] Sid | /inheritance:e|d|r | /reset  " \
                "(sandbox stand-in)\r\n"
        return usage, 0 if args else 87
    path, ops = args[0], args[1:]
    failed = text["done"].format(ok=0, bad=1) + "\r\n"
    if not os.path.exists(path):
        return text["missing"].format(path=path) + "\r\n" + failed, 2
    store = store or Store()
    try:
        if not ops:
            return show(path, store, lang), 0
        if [op.lower() for op in ops] == ["/t"]:
            return show_tree(path, store, lang), 0
        if ops[0].lower() == "/setowner":
            if len(ops) != 2:
                raise IcaclsError(text["invalid"].format(arg=" ".join(ops)), 87)
            store.set_owner(path, resolve(ops[1], lang))
            store.save()
        elif ops[0].lower() == "/save":
            if len(ops) != 2:
                raise IcaclsError(text["invalid"].format(arg=" ".join(ops)), 87)
            save(path, ops[1], store)
        else:
            apply(path, ops, store, lang)
            store.save()
    except IcaclsError as exc:
        return f"{exc}\r\n{failed}", exc.code
    return (text["processed"].format(path=path) + "\r\n"
            + text["done"].format(ok=1, bad=0) + "\r\n"), 0


def main(argv: list[str] | None = None) -> int:
    output, rc = run(list(sys.argv[1:] if argv is None else argv))
    _out(output)
    return rc


if __name__ == "__main__":
    sys.exit(main())
