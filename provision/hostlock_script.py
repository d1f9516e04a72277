"""tacfleet's lock on a host: run by the host's base Python (``-I -c``), no import of tacfleet.

argv: ``OP SERVICE RECORD_JSON WAIT_SECONDS``; OP is ``acquire``, ``takeover`` or ``release``.
The lock is ``%ProgramData%\\tacfleet\\<SERVICE>.lock``, created exclusively (``O_EXCL``), holding
the run's record plus the PID and creation time of this command's parent: the WinRS shell
every command of that run runs in. Prints one line ``TACFLEET-LOCK <json>``.

- acquire: take the lock, or report the holder and the processes its shell still runs.
- takeover (the controller decided the holder is abandoned): wait up to WAIT_SECONDS for the
  holder's shell to have no running command, end whatever still runs after that (reported),
  then write our record in its place.
- release: remove the lock if it is ours.
"""

import ctypes
import json
import os
import sys
import time
from ctypes import wintypes

MARK = "TACFLEET-LOCK "
STILL_ACTIVE = 259
QUERY, TERMINATE = 0x1000, 0x0001


def _kernel32():
    k = ctypes.WinDLL("kernel32", use_last_error=True)
    k.OpenProcess.restype = wintypes.HANDLE
    k.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    k.CloseHandle.argtypes = [wintypes.HANDLE]
    k.GetExitCodeProcess.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]
    k.GetProcessTimes.argtypes = [wintypes.HANDLE] + [ctypes.POINTER(ctypes.c_ulonglong)] * 4
    k.TerminateProcess.argtypes = [wintypes.HANDLE, wintypes.UINT]
    k.CreateToolhelp32Snapshot.restype = wintypes.HANDLE
    k.CreateToolhelp32Snapshot.argtypes = [wintypes.DWORD, wintypes.DWORD]
    for name in ("Process32FirstW", "Process32NextW"):
        getattr(k, name).argtypes = [wintypes.HANDLE, ctypes.POINTER(_Entry)]
    return k


class _Entry(ctypes.Structure):
    _fields_ = [("dwSize", wintypes.DWORD), ("cntUsage", wintypes.DWORD),
                ("th32ProcessID", wintypes.DWORD), ("th32DefaultHeapID", ctypes.c_size_t),
                ("th32ModuleID", wintypes.DWORD), ("cntThreads", wintypes.DWORD),
                ("th32ParentProcessID", wintypes.DWORD), ("pcPriClassBase", ctypes.c_long),
                ("dwFlags", wintypes.DWORD), ("szExeFile", ctypes.c_wchar * 260)]


def created(pid):
    """The creation time of live process ``pid`` (FILETIME ticks), or None."""
    if not pid or os.name != "nt":
        return None
    k = _kernel32()
    handle = k.OpenProcess(QUERY, False, pid)
    if not handle:
        return None
    try:
        code = wintypes.DWORD()
        if not k.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value != STILL_ACTIVE:
            return None
        times = [ctypes.c_ulonglong() for _ in range(4)]
        if not k.GetProcessTimes(handle, *[ctypes.byref(t) for t in times]):
            return None
        return times[0].value
    finally:
        k.CloseHandle(handle)


def processes():
    """[(pid, parent pid, exe name)] of every process (Toolhelp snapshot)."""
    if os.name != "nt":
        return []
    k = _kernel32()
    snap = k.CreateToolhelp32Snapshot(2, 0)  # TH32CS_SNAPPROCESS
    if not snap or snap == wintypes.HANDLE(-1).value:
        return []
    found = []
    try:
        entry = _Entry()
        entry.dwSize = ctypes.sizeof(_Entry)
        ok = k.Process32FirstW(snap, ctypes.byref(entry))
        while ok:
            found.append((entry.th32ProcessID, entry.th32ParentProcessID, entry.szExeFile))
            ok = k.Process32NextW(snap, ctypes.byref(entry))
    finally:
        k.CloseHandle(snap)
    return found


def running_under(shell, shell_created):
    """Processes the shell still runs (its descendants), only while it is the same process.

    Nothing when that shell is also ours (a host whose commands share one parent process):
    then its commands cannot be told from this run's, and none is waited for or ended.
    """
    if not shell or shell_created is None or created(shell) != shell_created:
        return []
    if shell == os.getppid():
        return []
    table = processes()
    result, parents = [], {shell: shell_created}
    changed = True
    while changed:
        changed = False
        for pid, parent, exe in table:
            if parent in parents and pid not in parents and pid != os.getpid():
                born = created(pid)
                if born is not None and born >= parents[parent]:  # not a reused parent PID
                    parents[pid] = born
                    result.append({"pid": pid, "exe": exe, "created": born})
                    changed = True
    return result


def end(process):
    """Terminate one process if it is still the one we saw; True when it was ended."""
    if created(process["pid"]) != process["created"]:
        return False
    k = _kernel32()
    handle = k.OpenProcess(TERMINATE, False, process["pid"])
    if not handle:
        return False
    try:
        return bool(k.TerminateProcess(handle, 1))
    finally:
        k.CloseHandle(handle)


def read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def write_new(path, record):
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle)


def main(op, service, record_json, wait):
    folder = os.path.join(os.environ.get("PROGRAMDATA") or "C:\\ProgramData", "tacfleet")
    path = os.path.join(folder, service + ".lock")
    record = json.loads(record_json)
    shell = os.getppid()
    record.update(shell=shell, shell_created=created(shell), since=time.time())
    if op == "release":
        held = read(path)
        if held.get("run") == record["run"]:
            os.remove(path)
        return {"released": held.get("run") == record["run"], "path": path}
    os.makedirs(folder, exist_ok=True)
    if op == "acquire":
        try:
            write_new(path, record)
            return {"acquired": True, "path": path}
        except FileExistsError:
            held = read(path)
            if held.get("run") == record["run"]:
                return {"acquired": True, "path": path}
            busy = running_under(held.get("shell"), held.get("shell_created"))
            return {"acquired": False, "path": path, "holder": held, "busy": busy}
    # takeover: the controller says the holder is abandoned
    held = read(path)
    waited, ended = 0.0, []
    started = time.time()
    busy = running_under(held.get("shell"), held.get("shell_created"))
    while busy and time.time() - started < wait:
        time.sleep(1)
        busy = running_under(held.get("shell"), held.get("shell_created"))
    waited = time.time() - started
    for process in busy:
        if end(process):
            ended.append(process)
    if read(path).get("run") != held.get("run"):  # someone else took it meanwhile
        return {"acquired": False, "path": path, "holder": read(path), "busy": []}
    tmp = path + "." + str(os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.replace(tmp, path)
    return {"acquired": True, "path": path, "previous": held, "waited": round(waited, 1),
            "ended": ended}


if __name__ == "__main__":
    answer = main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
    sys.stdout.write(MARK + json.dumps(answer) + "\n")
