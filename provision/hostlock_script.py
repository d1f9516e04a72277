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

The folder is admin-only: created with a protected security descriptor (``CreateDirectoryW``),
its DACL set again by SID with icacls on every run (an open folder is repaired) and its owner
set to Administrators if it is anyone else. A lock file not owned by Administrators or SYSTEM
was not written by tacfleet (a local user forged it): it is removed, never read, and named in
the answer (``ignored``). A takeover ends only descendants of the abandoned shell (created after
it, found by parentage), never a system process, this command's own ancestors, or anything when
the recorded shell is one of those.
"""

import ctypes
import json
import os
import subprocess
import sys
import time
from ctypes import wintypes

MARK = "TACFLEET-LOCK "
ADMIN_OWNERS = ("S-1-5-32-544", "S-1-5-18",
                "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464")
ADMIN_ONLY = ("*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F")
#: Processes a takeover never ends, nor anything under them (Windows' own, by image name).
SYSTEM_IMAGES = {"system", "registry", "smss.exe", "csrss.exe", "wininit.exe", "winlogon.exe",
                 "services.exe", "lsass.exe", "lsaiso.exe", "svchost.exe", "fontdrvhost.exe",
                 "dwm.exe", "memory compression", "secure system"}
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


def ancestors(table, pid):
    """``pid`` and the chain of its parents (by the snapshot)."""
    parent_of = {p: parent for p, parent, _exe in table}
    chain = []
    while pid and pid not in chain:
        chain.append(pid)
        pid = parent_of.get(pid)
    return chain


def refused(table, pid, exe):
    """Why ``pid`` must never be ended (or its tree searched), or None."""
    if not isinstance(pid, int) or pid <= 4:
        return f"pid {pid!r} is a system pid"
    if str(exe).lower() in SYSTEM_IMAGES:
        return f"pid {pid} is {exe}, a Windows process"
    if pid in ancestors(table, os.getpid()):
        return f"pid {pid} is an ancestor of this command"
    return None


def running_under(shell, shell_created):
    """Processes the shell still runs (its descendants), only while it is the same process.

    Nothing when that shell is also ours (a host whose commands share one parent process):
    then its commands cannot be told from this run's, and none is waited for or ended. Nothing
    when the recorded shell is a Windows process or one of this command's ancestors; such
    processes found under it are skipped too.
    """
    if not isinstance(shell, int) or not shell or shell_created is None \
            or created(shell) != shell_created:
        return []
    if shell == os.getppid():
        return []
    table = processes()
    names = {pid: exe for pid, _parent, exe in table}
    if refused(table, shell, names.get(shell, "")):
        return []
    result, parents = [], {shell: shell_created}
    changed = True
    while changed:
        changed = False
        for pid, parent, exe in table:
            if parent in parents and pid not in parents and pid != os.getpid():
                if refused(table, pid, exe):
                    parents[pid] = None  # never searched below, never ended
                    continue
                born = created(pid)
                since = parents[parent]
                if born is not None and since is not None and born >= since:  # not a reused PID
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


def owner_sid(path):
    """The owner's SID (GetNamedSecurityInfoW); off Windows (tests) a file of this user counts
    as Administrators'."""
    if sys.platform != "win32":
        uid = os.lstat(path).st_uid
        return ADMIN_OWNERS[0] if uid == os.geteuid() else f"uid:{uid}"
    adv = ctypes.WinDLL("advapi32", use_last_error=True)
    k = ctypes.WinDLL("kernel32", use_last_error=True)
    k.LocalFree.argtypes = [ctypes.c_void_p]
    vp = ctypes.c_void_p
    get = adv.GetNamedSecurityInfoW
    get.argtypes = [ctypes.c_wchar_p, ctypes.c_int, ctypes.c_ulong, ctypes.POINTER(vp), vp, vp,
                    vp, ctypes.POINTER(vp)]
    owner, sd, text = vp(), vp(), vp()
    rc = get(path, 1, 1, ctypes.byref(owner), None, None, None, ctypes.byref(sd))
    if rc:
        raise OSError(rc, f"cannot read the owner of {path} (error {rc})")
    try:
        adv.ConvertSidToStringSidW.argtypes = [vp, ctypes.POINTER(vp)]
        if not adv.ConvertSidToStringSidW(owner, ctypes.byref(text)):
            raise ctypes.WinError(ctypes.get_last_error())
        try:
            return ctypes.wstring_at(text)
        finally:
            k.LocalFree(text)
    finally:
        k.LocalFree(sd)


def create_protected(path):
    """The folder, admin-only from its first instant (no other user ever holds a right)."""
    if os.name != "nt":
        os.makedirs(path, 0o700, exist_ok=True)
        return
    adv = ctypes.WinDLL("advapi32", use_last_error=True)
    k = ctypes.WinDLL("kernel32", use_last_error=True)
    k.LocalFree.argtypes = [ctypes.c_void_p]
    vp = ctypes.c_void_p

    class Attributes(ctypes.Structure):
        _fields_ = [("nLength", wintypes.DWORD), ("lpSecurityDescriptor", vp),
                    ("bInheritHandle", wintypes.BOOL)]

    sd = vp()
    convert = adv.ConvertStringSecurityDescriptorToSecurityDescriptorW
    convert.argtypes = [ctypes.c_wchar_p, wintypes.DWORD, ctypes.POINTER(vp), vp]
    if not convert("O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", 1, ctypes.byref(sd), None):
        raise ctypes.WinError(ctypes.get_last_error())
    try:
        attributes = Attributes(ctypes.sizeof(Attributes), sd, 0)
        k.CreateDirectoryW.argtypes = [ctypes.c_wchar_p, ctypes.POINTER(Attributes)]
        if not k.CreateDirectoryW(path, ctypes.byref(attributes)):
            error = ctypes.get_last_error()
            if error != 183:  # ERROR_ALREADY_EXISTS
                raise ctypes.WinError(error)
    finally:
        k.LocalFree(sd)


def secure_folder(folder):
    """Create the lock folder admin-only, or make an existing one so (DACL and owner)."""
    if not os.path.isdir(folder):
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        create_protected(folder)
    root = os.environ.get("SYSTEMROOT") or "C:\\Windows"
    icacls = os.path.join(root, "System32", "icacls.exe")
    if os.name != "nt":
        return
    run = subprocess.run([icacls, folder, "/inheritance:r", "/grant:r", *ADMIN_ONLY],
                         capture_output=True)
    if run.returncode:
        raise OSError(f"{icacls} {folder}: exit code {run.returncode}")
    if owner_sid(folder) not in ADMIN_OWNERS:
        subprocess.run([icacls, folder, "/setowner", "*S-1-5-32-544"], capture_output=True,
                       check=True)


def drop_forged(path, ignored):
    """Remove a lock file someone other than Administrators or SYSTEM owns (not tacfleet's);
    True when one was removed (named in ``ignored``)."""
    try:
        owner = owner_sid(path)
    except OSError:
        return False
    if owner in ADMIN_OWNERS:
        return False
    os.remove(path)
    ignored.append({"path": path, "owner": owner})
    return True


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
    secure_folder(folder)
    ignored: list[dict[str, str]] = []  # not evaluated at run time (3.8-safe)
    if os.path.lexists(path):
        drop_forged(path, ignored)
    if op == "acquire":
        try:
            write_new(path, record)
            return {"acquired": True, "path": path, "ignored": ignored}
        except FileExistsError:
            held = read(path)
            if held.get("run") == record["run"]:
                return {"acquired": True, "path": path, "ignored": ignored}
            busy = running_under(held.get("shell"), held.get("shell_created"))
            return {"acquired": False, "path": path, "holder": held, "busy": busy,
                    "ignored": ignored}
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
            "ended": ended, "ignored": ignored}


if __name__ == "__main__":
    answer = main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
    sys.stdout.write(MARK + json.dumps(answer) + "\n")
