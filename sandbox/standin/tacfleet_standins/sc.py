"""``sc`` for the sandbox host: what Wine 8's sc.exe lacks, in the formats Windows prints.

Runs inside Wine under the base Windows CPython (standard library and ctypes only). pip makes a
real console-script launcher (a PE ``.exe``); the image copies it to
``C:\\Windows\\System32\\sc.exe``, where Windows' own sc.exe lives, and the prefix's
``WINEDLLOVERRIDES`` (``sc.exe=n``) makes Wine run that file instead of its builtin.

- ``qc``: Wine's service manager (QueryServiceConfigW) plus the registry value
  ``DelayedAutostart``, which Wine's manager does not keep.
- ``qdescription``: QueryServiceConfig2W(SERVICE_CONFIG_DESCRIPTION).
- ``config``: ChangeServiceConfigW for type/start/error/binPath/obj/DisplayName; the delayed flag
  of ``start= delayed-auto`` goes to the registry value ``DelayedAutostart`` as Windows stores
  it, because Wine's manager neither keeps nor reads it.
- ``query``/``queryex``, ``start``, ``stop``, ``delete``: OpenSCManagerW/OpenServiceW and
  QueryServiceStatusEx/StartServiceW/ControlService/DeleteService, printed as Windows prints them,
  with Windows' exit codes (1060 no such service, 1056 already running, 1062 not started, 1072
  marked for deletion).
- ``showsid``: the virtual account's SID, computed (SHA-1 of the upper-cased name).
Anything else is refused (exit 1639) rather than guessed.
"""

from __future__ import annotations

import os
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
        _write(f"sandbox: the sc stand-in has no {verb or '(no command)'!r}; it serves "
               f"{', '.join(sorted(_HANDLERS))}\r\n")
        return 1639
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


def _query(scm, args: list[str]) -> tuple[str, int]:
    if not args:
        return ("sandbox: `sc query` without a service name is not supported by the "
                "stand-in\r\n", 1639)
    status = scm.query_status(args[0])
    status.pid = status.flags = None  # `sc query` shows no PID and FLAGS; `queryex` does
    return formats.status(args[0], status), 0


def _queryex(scm, args: list[str]) -> tuple[str, int]:
    if not args:
        return formats.usage("queryex"), 1639
    return formats.status(args[0], scm.query_status(args[0])), 0


def _start(scm, args: list[str]) -> tuple[str, int]:
    if not args:
        return formats.usage("start"), 1639
    return formats.status(args[0], scm.start(args[0], args[1:])), 0


def _stop(scm, args: list[str]) -> tuple[str, int]:
    if not args:
        return formats.usage("stop"), 1639
    return formats.status(args[0], scm.stop(args[0])), 0


def _delete(scm, args: list[str]) -> tuple[str, int]:
    if not args:
        return formats.usage("delete"), 1639
    scm.delete(args[0])
    return "[SC] DeleteService SUCCESS\r\n", 0


def _showsid(scm, args: list[str]) -> tuple[str, int]:
    if not args:
        return formats.usage("showsid"), 1639
    name = args[0]
    return formats.showsid(name, formats.virtual_account_sid(name), scm.exists(name)), 0


_HANDLERS = {"qc": _qc, "qdescription": _qdescription, "config": _config, "query": _query,
             "queryex": _queryex, "start": _start, "stop": _stop, "delete": _delete,
             "showsid": _showsid}


if __name__ == "__main__":
    sys.exit(main())
