"""What Windows' sc.exe prints, byte for byte (see shared/samples); pure functions, no I/O."""

from __future__ import annotations

import hashlib
import locale
import struct
from dataclasses import dataclass, field

TYPES = {0x1: "KERNEL_DRIVER", 0x2: "FILE_SYSTEM_DRIVER", 0x10: "WIN32_OWN_PROCESS",
         0x20: "WIN32_SHARE_PROCESS", 0x110: "WIN32_OWN_PROCESS (interactive)",
         0x120: "WIN32_SHARE_PROCESS (interactive)"}
STARTS = {0: "BOOT_START", 1: "SYSTEM_START", 2: "AUTO_START", 3: "DEMAND_START", 4: "DISABLED"}
ERRORS = {0: "IGNORE", 1: "NORMAL", 2: "SEVERE", 3: "CRITICAL"}
MESSAGES = {
    2: "The system cannot find the file specified.",
    5: "Access is denied.",
    87: "The parameter is incorrect.",
    1060: "The specified service does not exist as an installed service.",
    1057: "The account name is invalid or does not exist, or the password is invalid for the "
          "account name specified.",
    1072: "The specified service has been marked for deletion.",
    1052: "The requested control is not valid for this service.",
    1053: "The service did not respond to the start or control request in a timely fashion.",
    1056: "An instance of the service is already running.",
    1058: "The service cannot be started, either because it is disabled or because it has no "
          "enabled devices associated with it.",
    1061: "The service cannot accept control messages at this time.",
    1062: "The service has not been started.",
    1639: "Invalid command line argument. Consult the Windows Installer SDK for detailed command "
          "line help.",
}
#: ``sc query``'s names for a status's service type and state.
STATUS_TYPES = {0x1: "KERNEL_DRIVER", 0x2: "FILE_SYSTEM_DRIVER", 0x10: "WIN32_OWN_PROCESS",
                0x20: "WIN32_SHARE_PROCESS", 0x30: "WIN32", 0x50: "USER_OWN_PROCESS",
                0x60: "USER_SHARE_PROCESS"}
STATES = {1: "STOPPED", 2: "START_PENDING", 3: "STOP_PENDING", 4: "RUNNING",
          5: "CONTINUE_PENDING", 6: "PAUSE_PENDING", 7: "PAUSED"}

#: ``sc config`` option words (lower case, with their ``=``) → field of ConfigChange.
_OPTIONS = {"type=": "type", "start=": "start", "error=": "error", "binpath=": "binary_path",
            "group=": "group", "tag=": "tag", "depend=": "depend", "obj=": "account",
            "displayname=": "display_name", "password=": "password"}
_START_WORDS = {"boot": (0, False), "system": (1, False), "auto": (2, False),
                "demand": (3, False), "disabled": (4, False), "delayed-auto": (2, True)}
_TYPE_WORDS = {"own": 0x10, "share": 0x20, "kernel": 0x1, "filesys": 0x2}
_ERROR_WORDS = {"normal": 1, "severe": 2, "critical": 3, "ignore": 0}


@dataclass
class ServiceConfig:
    """Everything ``sc qc`` shows."""

    name: str
    type: int
    start: int
    delayed: bool
    error: int
    binary_path: str
    group: str
    tag: int
    display_name: str
    dependencies: list[str]
    account: str


@dataclass
class ConfigChange:
    """The options of one ``sc config`` call (None = no change)."""

    type: int | None = None
    start: int | None = None
    delayed: bool | None = None
    error: int | None = None
    binary_path: str | None = None
    group: str | None = None
    tag: str | None = None
    depend: list[str] | None = None
    account: str | None = None
    display_name: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass
class ServiceStatus:
    """SERVICE_STATUS(_PROCESS): what ``sc query`` / ``start`` / ``stop`` print."""

    type: int
    state: int
    controls: int
    win32_exit: int
    service_exit: int
    checkpoint: int
    wait_hint: int
    pid: int | None = None
    flags: int | None = None


def status(name: str, st: ServiceStatus) -> str:
    """``sc query`` (and, with a PID, ``sc start``'s) output, as in sc_query_running.txt."""
    accepts = ["STOPPABLE" if st.controls & 1 else "NOT_STOPPABLE",
               "PAUSABLE" if st.controls & 2 else "NOT_PAUSABLE",
               "ACCEPTS_SHUTDOWN" if st.controls & 4 else "IGNORES_SHUTDOWN"]
    lines = [
        "",
        f"SERVICE_NAME: {name} ",
        f"        TYPE               : {st.type:x}  {STATUS_TYPES.get(st.type & 0xFF, '')}  ",
        f"        STATE              : {st.state}  {STATES.get(st.state, '')} ",
        f"                                ({', '.join(accepts)})",
        f"        WIN32_EXIT_CODE    : {st.win32_exit}  (0x{st.win32_exit:x})",
        f"        SERVICE_EXIT_CODE  : {st.service_exit}  (0x{st.service_exit:x})",
        f"        CHECKPOINT         : 0x{st.checkpoint:x}",
        f"        WAIT_HINT          : 0x{st.wait_hint:x}",
    ]
    if st.pid is not None:
        lines += [f"        PID                : {st.pid}",
                  f"        FLAGS              : {'' if not st.flags else st.flags}"]
    return "\r\n".join(lines) + "\r\n"


def showsid(name: str, sid: str, active: bool) -> str:
    """``sc showsid``: the service's virtual-account SID and whether the service exists."""
    return (f"\r\nNAME: {name}\r\nSERVICE SID: {sid}\r\n"
            f"STATUS: {'Active' if active else 'Inactive'}\r\n")


def virtual_account_sid(service: str) -> str:
    """``S-1-5-80-`` and the SHA-1 of the upper-cased name in UTF-16LE as five LE uint32."""
    digest = hashlib.sha1(service.upper().encode("utf-16-le")).digest()
    return "S-1-5-80-" + "-".join(str(n) for n in struct.unpack("<5I", digest))


def console_encoding() -> str:
    """sc.exe writes in the console's output code page; with no console, the OEM one."""
    try:
        import ctypes

        cp = ctypes.windll.kernel32.GetConsoleOutputCP() or ctypes.windll.kernel32.GetOEMCP()
        return "utf-8" if cp == 65001 else f"cp{cp}"
    except (ImportError, AttributeError, OSError):
        return locale.getpreferredencoding(False)


def _code(value: int, names: dict[int, str]) -> str:
    # "2   AUTO_START": the number, padded to four columns, then the name.
    return f"{value:<4}{names.get(value, '')}".rstrip() if value in names else f"{value:x}"


def qc(cfg: ServiceConfig) -> str:
    """``sc qc`` output, as in sc_qc_delayed_auto.txt."""
    start = f"{cfg.start:<4}{STARTS.get(cfg.start, '')}" + ("  (DELAYED)" if cfg.delayed else "")
    deps = cfg.dependencies or [""]
    lines = [
        "[SC] QueryServiceConfig SUCCESS",
        "",
        f"SERVICE_NAME: {cfg.name}",
        f"        TYPE               : {cfg.type:<4x}{TYPES.get(cfg.type, '')}".rstrip(),
        f"        START_TYPE         : {start}".rstrip(),
        f"        ERROR_CONTROL      : {cfg.error:<4}{ERRORS.get(cfg.error, '')}".rstrip(),
        f"        BINARY_PATH_NAME   : {cfg.binary_path}".rstrip(),
        f"        LOAD_ORDER_GROUP   : {cfg.group}".rstrip(),
        f"        TAG                : {cfg.tag}",
        f"        DISPLAY_NAME       : {cfg.display_name}".rstrip(),
        f"        DEPENDENCIES       : {deps[0]}".rstrip(),
        *(f"                           : {d}" for d in deps[1:]),
        f"        SERVICE_START_NAME : {cfg.account}",
        "",
    ]
    return "\r\n".join(lines) + "\r\n"


def qdescription(name: str, description: str) -> str:
    """``sc qdescription`` output (header as Windows prints QueryServiceConfig2)."""
    return ("[SC] QueryServiceConfig2 SUCCESS\r\n\r\n"
            f"SERVICE_NAME: {name}\r\nDESCRIPTION:  {description}\r\n")


def failure(api: str, code: int) -> str:
    """``[SC] OpenService FAILED 1060:`` and the system message, as sc.exe prints errors."""
    message = MESSAGES.get(code, f"Windows error {code}.")
    return f"[SC] {api} FAILED {code}:\r\n\r\n{message}\r\n\r\n"


def usage(verb: str) -> str:
    return (f"DESCRIPTION:\r\n        sc {verb} <service name> ...\r\n"
            "USAGE:\r\n        sc <server> " + verb + " [service name] <option1> <option2>...\r\n")


def parse_options(args: list[str]) -> ConfigChange:
    """``start= delayed-auto obj= "NT SERVICE\\x"``: each option word ends with ``=``, its value
    is the next argument (sc.exe requires the space after the ``=``)."""
    change = ConfigChange()
    i = 0
    while i < len(args):
        word = args[i].lower()
        if word not in _OPTIONS:
            raise ValueError(f"[SC] unknown option {args[i]!r}: options are {' '.join(_OPTIONS)} "
                             "(each followed by a space and its value)")
        if i + 1 >= len(args):
            raise ValueError(f"[SC] option {args[i]} needs a value after a space")
        value = args[i + 1]
        attr = _OPTIONS[word]
        if attr == "start":
            if value.lower() not in _START_WORDS:
                raise ValueError(f"[SC] start= {value}: expected one of {', '.join(_START_WORDS)}")
            change.start, change.delayed = _START_WORDS[value.lower()]
        elif attr == "type":
            if value.lower() not in _TYPE_WORDS:
                raise ValueError(f"[SC] type= {value}: expected one of {', '.join(_TYPE_WORDS)}")
            change.type = _TYPE_WORDS[value.lower()]
        elif attr == "error":
            if value.lower() not in _ERROR_WORDS:
                raise ValueError(f"[SC] error= {value}: expected one of {', '.join(_ERROR_WORDS)}")
            change.error = _ERROR_WORDS[value.lower()]
        elif attr == "depend":
            change.depend = [d for d in value.split("/") if d]
        else:
            setattr(change, attr, value)
        i += 2
    return change
