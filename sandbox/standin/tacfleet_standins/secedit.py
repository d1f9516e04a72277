r"""``secedit`` for the sandbox host: the user rights a Windows LSA would report.

Wine 8's LSA keeps no user rights: ``LsaEnumerateAccountsWithUserRight`` answers
STATUS_NO_MORE_ENTRIES (nobody) for every right, and Wine has no secedit.exe. This stand-in at
``C:\Windows\System32\secedit.exe`` serves ``secedit /export /cfg FILE [/areas USER_RIGHTS]
[/quiet]`` (Microsoft Learn, "secedit /export"): an INF file in UTF-16LE with a BOM, whose
``[Privilege Rights]`` section lists ``Right = *SID,*SID``. The holders are Windows Server's
defaults for the rights tacfleet reads (SeServiceLogonRight: ``NT SERVICE\ALL SERVICES``,
*S-1-5-80-0), unless ``C:\ProgramData\tacfleet-sandbox\rights.json`` (``{"Right": [SIDs]}``)
says otherwise, as a domain GPO that sets a right replaces the host's list.
Anything else is refused (exit 1) rather than guessed.
"""

from __future__ import annotations

import json
import os
import sys

STORE = os.path.join(os.environ.get("PROGRAMDATA", "C:\\ProgramData"), "tacfleet-sandbox",
                     "rights.json")
#: Windows Server's default holders (Local Security Policy, User Rights Assignment).
DEFAULTS = {"SeServiceLogonRight": ["S-1-5-80-0"]}


def holders() -> dict[str, list[str]]:
    rights = {k: list(v) for k, v in DEFAULTS.items()}
    try:
        with open(STORE, encoding="utf-8") as handle:
            rights.update(json.load(handle))
    except FileNotFoundError:
        pass
    return rights


def export_inf(rights: dict[str, list[str]]) -> str:
    lines = ["[Unicode]", "Unicode=yes", "[Privilege Rights]"]
    lines += [f"{right} = " + ",".join(f"*{sid}" for sid in sids)
              for right, sids in sorted(rights.items()) if sids]
    lines += ["[Version]", 'signature="$CHICAGO$"', "Revision=1", ""]
    return "\r\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    lowered = [a.lower() for a in args]
    if not lowered or lowered[0] != "/export" or "/cfg" not in lowered:
        sys.stdout.write("sandbox: the secedit stand-in serves only "
                         "/export /cfg FILE [/areas USER_RIGHTS] [/quiet]\r\n")
        return 1
    at = lowered.index("/cfg") + 1
    if at >= len(args):
        sys.stdout.write("sandbox: /cfg needs a file name\r\n")
        return 1
    if "/areas" in lowered:
        areas = set()
        for value in args[lowered.index("/areas") + 1:]:
            if value.startswith("/"):
                break
            areas.add(value.upper())
        if areas - {"USER_RIGHTS"}:
            sys.stdout.write(f"sandbox: the secedit stand-in exports USER_RIGHTS only, not "
                             f"{sorted(areas - {'USER_RIGHTS'})}\r\n")
            return 1
    with open(args[at], "wb") as handle:
        handle.write(b"\xff\xfe" + export_inf(holders()).encode("utf-16-le"))
    if "/quiet" not in lowered:
        sys.stdout.write("The task has completed successfully.\r\n")
    return 0
