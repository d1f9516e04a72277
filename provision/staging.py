r"""A fresh, randomly named, administrators-only folder on a host that has no Python yet.

The base Python's installer is written, verified and run from ``<SystemRoot>\Temp\tacfleet-
<32 hex digits>`` (``secrets.token_hex``), never from a fixed name: ``<SystemRoot>\Temp`` lets
every user create files (``BUILTIN\Users:(CI)(S,WD,AD,X)``), so a fixed name can be pre-created
by a local user, who stays its owner and swaps the file between the SHA-256 check and the run.
The folder is made with what every Windows Server has (cmd.exe's ``mkdir``, icacls):

1. ``cmd.exe /d /c mkdir FOLDER``: fails if the name exists, so the folder is new and owned
   by Administrators (made by an administrator). Users cannot list ``<SystemRoot>\Temp`` (no
   ``RD`` there), so its 128-bit random name cannot be learnt, nor guessed.
2. ``icacls FOLDER /inheritance:r /grant:r *S-1-5-32-544:(OI)(CI)F *S-1-5-18:(OI)(CI)F``:
   Administrators and SYSTEM only, by SID (any language), inheritance from Temp removed.
3. ``icacls FOLDER /T``: its entries are exactly those two, none inherited, and it holds
   nothing (``/T`` shows every object below it, ``FOLDER\…``): whatever could have been made in
   it before step 2 would show, the step fails and nothing is written there.

Only then is the installer written into it, its SHA-256 verified there and run from there;
nobody but an administrator or SYSTEM can change it in between. The folder is removed after
(``rmdir /s /q``), also when a step fails (``Action.cleanup``).

The same holds for the base Python's install folder (``TargetDir``) before the installer
writes into it (``target_dir_actions``): made (or, left by an earlier run, taken over: owner
Administrators), its DACL Administrators and SYSTEM full, ``BUILTIN\Users`` read & execute
(what python.org's all-users install under Program Files gets), checked to hold exactly that
and nothing else: nobody can plant a ``.pth`` in its site-packages, which the administrator's
probes would run.

The random name holds only ``[0-9a-f]``, so it is safe for cmd.exe; the check of what
``icacls`` shows reads its structure and rights (``(OI)(CI)(F)``), never the account names,
which Windows translates.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from winhost.cmdline import Command, command, system32

ADMINISTRATORS, SYSTEM, USERS = "*S-1-5-32-544", "*S-1-5-18", "*S-1-5-32-545"
#: The grants of the staging folder, and the rights ``icacls`` then shows for each.
STAGING_GRANTS = (f"{ADMINISTRATORS}:(OI)(CI)F", f"{SYSTEM}:(OI)(CI)F")
STAGING_SHOWN = ("(OI)(CI)(F)", "(OI)(CI)(F)")
#: The base Python's install folder: Administrators and SYSTEM full, Users read & execute.
TARGET_GRANTS = (*STAGING_GRANTS, f"{USERS}:(OI)(CI)RX")
TARGET_SHOWN = (*STAGING_SHOWN, "(OI)(CI)(RX)")
PREFIX = "tacfleet-"
_SAFE = re.compile(r"^[A-Za-z]:\\[A-Za-z0-9_.\\-]+$")
#: Letters cmd.exe reads inside a quoted argument: ``%`` (expanded even there) and ``!``
#: (expanded when delayed expansion is on; ``/v:off`` switches it off as well).
_CMD_QUOTED_BAD = re.compile(r'[%!"\x00-\x1f]')


class UnsafeForCmd(ValueError):
    """A path that cmd.exe would parse rather than take as it is."""


def safe_for_cmd(path: str) -> str:
    """``path`` when cmd.exe takes it as it is: ``[A-Za-z0-9_.-]`` and backslashes."""
    if not _SAFE.match(path) or "\\\\" in path:
        raise UnsafeForCmd(
            f"the path {path!r} holds characters cmd.exe would parse (only letters, digits, "
            "'_', '.', '-' and '\\' are sent through it): the host's SystemRoot must be a plain "
            "path such as C:\\Windows, or install the base Python by hand")
    return path


def cmd_literal(path: str) -> str:
    r"""``path`` as one argument cmd.exe's ``mkdir`` takes literally: a plain one
    (``safe_for_cmd``), or one with a space, which the C runtime's quoting wraps in a plain pair
    of quotes, inside which cmd.exe reads ``& ( ) ^ , ;`` and spaces literally; ``%`` and ``!``
    are refused (cmd.exe expands them even inside quotes)."""
    if _SAFE.match(path) and "\\\\" not in path:
        return path
    if (" " in path and not _CMD_QUOTED_BAD.search(path) and re.match(r"^[A-Za-z]:\\", path)
            and not path.endswith("\\")):
        return path
    raise UnsafeForCmd(
        f"the install folder {path!r} cannot be created with cmd.exe's mkdir as it is written "
        "(a folder without a space may hold only letters, digits, '_', '.', '-' and '\\'; "
        "none may hold '%' or '!'): choose such a python.base, or install the base Python "
        "by hand (PrependPath=0)")


def cmd(system_root: str, *args: str) -> Command:
    """``cmd.exe /d /v:off /c ARGS``: no AutoRun, no delayed expansion."""
    return command(system32("cmd.exe", system_root), "/d", "/v:off", "/c", *args)


@dataclass(frozen=True)
class Staging:
    r"""One staging folder: ``<SystemRoot>\Temp\tacfleet-<32 hex>``, its commands."""

    system_root: str
    folder: str

    @classmethod
    def new(cls, system_root: str, token: str | None = None) -> Staging:
        """A folder name nobody can guess (``secrets.token_hex(16)``) under the host's Temp."""
        name = PREFIX + (token if token is not None else secrets.token_hex(16))
        folder = f"{system_root.rstrip(chr(92))}\\Temp\\{name}"
        return cls(system_root, safe_for_cmd(folder))

    def path(self, name: str) -> str:
        return safe_for_cmd(f"{self.folder}\\{name}")

    def make(self) -> Command:
        """``mkdir`` of the folder: fails when it exists."""
        return cmd(self.system_root, "mkdir", self.folder)

    def protect(self) -> Command:
        return icacls_protect(self.system_root, self.folder, STAGING_GRANTS)

    def verify(self) -> Command:
        return icacls_tree(self.system_root, self.folder)

    def check(self) -> Callable[[str], str]:
        return tree_check(self.folder, STAGING_SHOWN, "the staging folder")

    def remove(self) -> Command:
        """``rmdir /s /q`` of the folder and all it holds."""
        return cmd(self.system_root, "rmdir", "/s", "/q", self.folder)

    def remove_with(self, target: str) -> Command:
        """``remove`` and the same of ``target`` (an install folder this run made: what a
        failed install left in it is removed, so the next run can make it anew)."""
        return cmd(self.system_root, "rmdir", "/s", "/q", self.folder, "&", "rmdir", "/s", "/q",
                   cmd_literal(target))


def icacls_protect(system_root: str, folder: str, grants: tuple[str, ...]) -> Command:
    """``icacls FOLDER /inheritance:r /grant:r GRANT…``: these entries and nothing else."""
    return command(system32("icacls.exe", system_root), folder, "/inheritance:r", "/grant:r",
                   *grants)


def icacls_tree(system_root: str, folder: str) -> Command:
    """``icacls FOLDER /T``: the folder's entries, then every object below it."""
    return command(system32("icacls.exe", system_root), folder, "/T")


def _entries(output: str, folder: str) -> tuple[list[str], list[str]]:
    """(the folder's rights as icacls shows them, the objects shown below it)."""
    lowered = folder.lower()
    rights: list[str] = []
    below: list[str] = []
    in_folder = False
    for line in output.splitlines():
        if line.lower().startswith(lowered + "\\"):
            below.append(line.strip())
            in_folder = False
            continue
        if line.lower().startswith(lowered + " "):
            in_folder = True
            line = line[len(folder):]
        elif not line.startswith(" ") or not line.strip():
            in_folder = False
            continue
        if in_folder:
            rights.append(line.strip().rpartition(":")[2])
    return rights, below


def tree_check(folder: str, wanted: tuple[str, ...], what: str) -> Callable[[str], str]:
    """A check of ``icacls FOLDER /T``'s output: "" when the folder's entries are exactly
    ``wanted`` (none inherited) and nothing is below it, else why not."""

    def check(output: str) -> str:
        rights, below = _entries(output, folder)
        if below:
            shown = "; ".join(below[:3])
            return (f"{what} {folder} is not empty ({shown}): something was made in it before "
                    "its access was limited to administrators; nothing was written or run "
                    "there: find who made it, remove it, run again")
        if sorted(rights) != sorted(wanted):
            return (f"{what} {folder} has the entries {rights or 'none'}, not "
                    f"{list(wanted)} (Administrators and SYSTEM by SID, nothing inherited): "
                    "nothing was written or run there; check the host's icacls.exe")
        return ""

    return check


def target_dir_actions(system_root: str, target: str) -> tuple[Command, ...]:
    r"""The install folder, before the installer writes into it: made when missing (``if not
    exist … mkdir``), owned by Administrators (``icacls /setowner``: a folder a user made first
    stays theirs otherwise, and an owner may always rewrite its DACL), its DACL set
    (``TARGET_GRANTS``), then ``icacls /T`` to verify it (``tree_check(target, TARGET_SHOWN,
    …)``): an entry left by anyone else, or anything in it, fails the check, and nothing is
    run. An empty folder a failed or cut-off run left behind passes, so the step can simply be
    run again. ``UnsafeForCmd`` for a folder cmd.exe would parse (``cmd_literal``)."""
    literal = cmd_literal(target)
    icacls = system32("icacls.exe", system_root)
    return (cmd(system_root, "if", "not", "exist", literal, "mkdir", literal),
            command(icacls, target, "/setowner", ADMINISTRATORS),
            icacls_protect(system_root, target, TARGET_GRANTS),
            icacls_tree(system_root, target))
