"""The service control manager through advapi32 (ctypes), and the service's registry key."""

from __future__ import annotations

import ctypes
import winreg
from ctypes import wintypes

from tacfleet_standins.scformat import ConfigChange, ServiceConfig, ServiceStatus

advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)

SC_MANAGER_CONNECT = 0x0001
SERVICE_QUERY_CONFIG = 0x0001
SERVICE_CHANGE_CONFIG = 0x0002
SERVICE_NO_CHANGE = 0xFFFFFFFF
SERVICE_CONFIG_DESCRIPTION = 1
ERROR_INSUFFICIENT_BUFFER = 122
SERVICES_KEY = r"SYSTEM\CurrentControlSet\Services"


class WinError(Exception):
    def __init__(self, api: str, code: int) -> None:
        super().__init__(f"{api} failed {code}")
        self.api = api
        self.code = code


class QUERY_SERVICE_CONFIGW(ctypes.Structure):
    _fields_ = [("dwServiceType", wintypes.DWORD), ("dwStartType", wintypes.DWORD),
                ("dwErrorControl", wintypes.DWORD), ("lpBinaryPathName", wintypes.LPWSTR),
                ("lpLoadOrderGroup", wintypes.LPWSTR), ("dwTagId", wintypes.DWORD),
                ("lpDependencies", ctypes.c_void_p), ("lpServiceStartName", wintypes.LPWSTR),
                ("lpDisplayName", wintypes.LPWSTR)]


class SERVICE_DESCRIPTIONW(ctypes.Structure):
    _fields_ = [("lpDescription", wintypes.LPWSTR)]


SC_HANDLE = wintypes.HANDLE
advapi32.OpenSCManagerW.restype = SC_HANDLE
advapi32.OpenSCManagerW.argtypes = [wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD]
advapi32.OpenServiceW.restype = SC_HANDLE
advapi32.OpenServiceW.argtypes = [SC_HANDLE, wintypes.LPCWSTR, wintypes.DWORD]
advapi32.CloseServiceHandle.argtypes = [SC_HANDLE]
advapi32.QueryServiceConfigW.argtypes = [SC_HANDLE, ctypes.c_void_p, wintypes.DWORD,
                                         ctypes.POINTER(wintypes.DWORD)]
advapi32.QueryServiceConfig2W.argtypes = [SC_HANDLE, wintypes.DWORD, ctypes.c_void_p,
                                          wintypes.DWORD, ctypes.POINTER(wintypes.DWORD)]
advapi32.ChangeServiceConfigW.argtypes = [
    SC_HANDLE, wintypes.DWORD, wintypes.DWORD, wintypes.DWORD, wintypes.LPCWSTR,
    wintypes.LPCWSTR, ctypes.c_void_p, wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.LPCWSTR,
    wintypes.LPCWSTR]


def _open(name: str, access: int) -> tuple[int, int]:
    scm = advapi32.OpenSCManagerW(None, None, SC_MANAGER_CONNECT)
    if not scm:
        raise WinError("OpenSCManager", ctypes.get_last_error())
    svc = advapi32.OpenServiceW(scm, name, access)
    if not svc:
        code = ctypes.get_last_error()
        advapi32.CloseServiceHandle(scm)
        raise WinError("OpenService", code)
    return scm, svc


def _close(*handles: int) -> None:
    for handle in handles:
        advapi32.CloseServiceHandle(handle)


def _query(svc: int, fn: str, *level: int) -> ctypes.Array[ctypes.c_char]:
    needed = wintypes.DWORD(0)
    call = getattr(advapi32, fn)
    call(svc, *level, None, 0, ctypes.byref(needed))
    buf = ctypes.create_string_buffer(max(needed.value, 1))
    if not call(svc, *level, buf, needed.value, ctypes.byref(needed)):
        raise WinError(fn.removesuffix("W"), ctypes.get_last_error())
    return buf


def _multi_sz(address: int | None) -> list[str]:
    items: list[str] = []
    while address:
        item = ctypes.wstring_at(address)
        if not item:
            break
        items.append(item)
        address += (len(item) + 1) * ctypes.sizeof(ctypes.c_wchar)
    return items


def _registry(name: str) -> dict[str, object]:
    """The values of the service's key (what Windows itself reads at boot)."""
    values: dict[str, object] = {}
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, f"{SERVICES_KEY}\\{name}") as key:
            i = 0
            while True:
                try:
                    value_name, data, _kind = winreg.EnumValue(key, i)
                except OSError:
                    break
                values[value_name.lower()] = data
                i += 1
    except OSError:
        pass
    return values


def query_config(name: str) -> ServiceConfig:
    scm, svc = _open(name, SERVICE_QUERY_CONFIG)
    try:
        buf = _query(svc, "QueryServiceConfigW")
        size = ctypes.sizeof(QUERY_SERVICE_CONFIGW)
        cfg = QUERY_SERVICE_CONFIGW.from_buffer_copy(buf.raw[:size])
        raw = ctypes.cast(buf, ctypes.POINTER(QUERY_SERVICE_CONFIGW)).contents
        reg = _registry(name)
        account = raw.lpServiceStartName or "LocalSystem"
        return ServiceConfig(
            name=name,
            type=cfg.dwServiceType,
            start=cfg.dwStartType,
            delayed=cfg.dwStartType == 2 and reg.get("delayedautostart") == 1,
            error=cfg.dwErrorControl,
            binary_path=raw.lpBinaryPathName or "",
            group=raw.lpLoadOrderGroup or "",
            tag=cfg.dwTagId,
            display_name=raw.lpDisplayName or "",
            dependencies=_multi_sz(raw.lpDependencies),
            account=account,
        )
    finally:
        _close(svc, scm)


def query_description(name: str) -> str:
    scm, svc = _open(name, SERVICE_QUERY_CONFIG)
    try:
        buf = _query(svc, "QueryServiceConfig2W", SERVICE_CONFIG_DESCRIPTION)
        desc = ctypes.cast(buf, ctypes.POINTER(SERVICE_DESCRIPTIONW)).contents
        return desc.lpDescription or ""
    finally:
        _close(svc, scm)


def change_config(name: str, change: ConfigChange) -> None:
    """Apply ``sc config``: Wine's manager for what it keeps, the registry for the rest.

    Wine's manager stores a virtual account given here (it is nssm's own LSA calls that crash
    under Wine); the service process still runs as Wine's one user.
    """
    scm, svc = _open(name, SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG)
    try:
        nc = SERVICE_NO_CHANGE
        deps = None
        if change.depend is not None:
            deps = ctypes.create_unicode_buffer("\0".join(change.depend) + "\0\0")
        ok = advapi32.ChangeServiceConfigW(
            svc,
            nc if change.type is None else change.type,
            nc if change.start is None else change.start,
            nc if change.error is None else change.error,
            change.binary_path, change.group, None, deps, change.account,
            change.password if change.account is None else (change.password or ""),
            change.display_name)
        if not ok:
            raise WinError("ChangeServiceConfig", ctypes.get_last_error())
    finally:
        _close(svc, scm)
    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, f"{SERVICES_KEY}\\{name}", 0,
                        winreg.KEY_SET_VALUE) as key:
        if change.start is not None:
            # Windows keeps the delayed flag beside Start=2; Wine's manager never reads it.
            winreg.SetValueEx(key, "DelayedAutostart", 0, winreg.REG_DWORD,
                              1 if change.delayed else 0)


# -- state: query, start, stop, delete ------------------------------------------------------------
SC_MANAGER_ENUMERATE_SERVICE = 0x0004
SERVICE_QUERY_STATUS = 0x0004
SERVICE_START = 0x0010
SERVICE_STOP = 0x0020
DELETE = 0x00010000
SERVICE_CONTROL_STOP = 1
SC_STATUS_PROCESS_INFO = 0


class SERVICE_STATUS(ctypes.Structure):
    _fields_ = [("dwServiceType", wintypes.DWORD), ("dwCurrentState", wintypes.DWORD),
                ("dwControlsAccepted", wintypes.DWORD), ("dwWin32ExitCode", wintypes.DWORD),
                ("dwServiceSpecificExitCode", wintypes.DWORD), ("dwCheckPoint", wintypes.DWORD),
                ("dwWaitHint", wintypes.DWORD)]


class SERVICE_STATUS_PROCESS(ctypes.Structure):
    _fields_ = [*SERVICE_STATUS._fields_, ("dwProcessId", wintypes.DWORD),
                ("dwServiceFlags", wintypes.DWORD)]


advapi32.QueryServiceStatusEx.argtypes = [SC_HANDLE, ctypes.c_int, ctypes.c_void_p,
                                          wintypes.DWORD, ctypes.POINTER(wintypes.DWORD)]
advapi32.StartServiceW.argtypes = [SC_HANDLE, wintypes.DWORD, ctypes.c_void_p]
advapi32.ControlService.argtypes = [SC_HANDLE, wintypes.DWORD, ctypes.POINTER(SERVICE_STATUS)]
advapi32.DeleteService.argtypes = [SC_HANDLE]


def _status(svc: int) -> ServiceStatus:
    status = SERVICE_STATUS_PROCESS()
    needed = wintypes.DWORD(0)
    if not advapi32.QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, ctypes.byref(status),
                                         ctypes.sizeof(status), ctypes.byref(needed)):
        raise WinError("QueryServiceStatusEx", ctypes.get_last_error())
    return ServiceStatus(
        type=status.dwServiceType, state=status.dwCurrentState,
        controls=status.dwControlsAccepted, win32_exit=status.dwWin32ExitCode,
        service_exit=status.dwServiceSpecificExitCode, checkpoint=status.dwCheckPoint,
        wait_hint=status.dwWaitHint, pid=status.dwProcessId, flags=status.dwServiceFlags)


def query_status(name: str) -> ServiceStatus:
    """``sc query``: QueryServiceStatusEx; a missing service fails as sc.exe names it."""
    try:
        scm, svc = _open(name, SERVICE_QUERY_STATUS)
    except WinError as exc:
        if exc.api == "OpenService":
            exc.api = "EnumQueryServicesStatus:OpenService"
        raise
    try:
        return _status(svc)
    finally:
        _close(svc, scm)


def start(name: str, args: list[str]) -> ServiceStatus:
    """``sc start``: StartServiceW, then the status right after (START_PENDING as a rule)."""
    scm, svc = _open(name, SERVICE_START | SERVICE_QUERY_STATUS)
    try:
        argv = (wintypes.LPCWSTR * max(len(args), 1))(*args)
        if not advapi32.StartServiceW(svc, len(args), argv if args else None):
            raise WinError("StartService", ctypes.get_last_error())
        return _status(svc)
    finally:
        _close(svc, scm)


def stop(name: str) -> ServiceStatus:
    """``sc stop``: ControlService(SERVICE_CONTROL_STOP); sc.exe prints the returned status."""
    scm, svc = _open(name, SERVICE_STOP | SERVICE_QUERY_STATUS)
    try:
        status = SERVICE_STATUS()
        if not advapi32.ControlService(svc, SERVICE_CONTROL_STOP, ctypes.byref(status)):
            raise WinError("ControlService", ctypes.get_last_error())
        return ServiceStatus(
            type=status.dwServiceType, state=status.dwCurrentState,
            controls=status.dwControlsAccepted, win32_exit=status.dwWin32ExitCode,
            service_exit=status.dwServiceSpecificExitCode, checkpoint=status.dwCheckPoint,
            wait_hint=status.dwWaitHint)
    finally:
        _close(svc, scm)


def delete(name: str) -> None:
    """``sc delete``: DeleteService (1072 when it is already marked for deletion)."""
    scm, svc = _open(name, DELETE)
    try:
        if not advapi32.DeleteService(svc):
            raise WinError("DeleteService", ctypes.get_last_error())
    finally:
        _close(svc, scm)


def exists(name: str) -> bool:
    try:
        scm, svc = _open(name, SERVICE_QUERY_STATUS)
    except WinError:
        return False
    _close(svc, scm)
    return True
