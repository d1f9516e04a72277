"""``sc`` for the sandbox host: what Wine 8's sc.exe lacks, in the formats Windows prints.

Runs inside Wine under the base Windows CPython (standard library and ctypes only). pip installs it
as ``C:\\Python311\\Scripts\\sc.exe`` (a real console-script launcher), which is ahead of
System32 on the sandbox's PATH, so both ``sc`` and ``sc.exe`` reach it.

- ``qc``: Wine's service manager (QueryServiceConfigW) plus the registry value
  ``DelayedAutostart``, which Wine's manager does not keep.
- ``qdescription``: QueryServiceConfig2W(SERVICE_CONFIG_DESCRIPTION).
- ``config``: ChangeServiceConfigW for type/start/error/binPath/obj/DisplayName; the delayed flag
  of ``start= delayed-auto`` goes to the registry value ``DelayedAutostart`` as Windows stores
  it, because Wine's manager neither keeps nor reads it.
- everything else goes to Wine's own ``C:\\windows\\system32\\sc.exe`` unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tacfleet_standins import scformat as formats

__version__ = "1.0.0"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0].startswith("\\\\"):
        args = args[1:]  # "sc \\server qc x": the sandbox is the local machine
    verb = args[0].lower() if args else ""
    handler = _HANDLERS.get(verb)
    if handler is None:
        return _forward(args)
    from tacfleet_standins import scm

    try:
        text, rc = handler(scm, args[1:])
    except scm.WinError as exc:
        text, rc = formats.failure(exc.api, exc.code), exc.code
    _write(text)
    return rc


def _write(text: str) -> None:
    data = text.encode(formats.console_encoding())
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), data)


def _qc(scm, args: list[str]) -> tuple[str, int]:
    if not args:
        return formats.usage("qc"), 1
    return formats.qc(scm.query_config(args[0])), 0


def _qdescription(scm, args: list[str]) -> tuple[str, int]:
    if not args:
        return formats.usage("qdescription"), 1
    return formats.qdescription(args[0], scm.query_description(args[0])), 0


def _config(scm, args: list[str]) -> tuple[str, int]:
    if not args:
        return formats.usage("config"), 1
    try:
        options = formats.parse_options(args[1:])
    except ValueError as exc:
        return f"{exc}\r\n\r\n" + formats.usage("config"), 1639  # ERROR_INVALID_COMMAND_LINE
    scm.change_config(args[0], options)
    return "[SC] ChangeServiceConfig SUCCESS\r\n", 0


_HANDLERS = {"qc": _qc, "qdescription": _qdescription, "config": _config}


def _forward(args: list[str]) -> int:
    windir = os.environ.get("SYSTEMROOT", "C:\\windows")
    real = os.path.join(windir, "system32", "sc.exe")
    return subprocess.call([real, *args])


if __name__ == "__main__":
    sys.exit(main())
