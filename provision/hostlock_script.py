"""tacfleet's lock on a host: run by the host's base Python (``-I -c``), no import of tacfleet.

argv: ``OP SERVICE RECORD_JSON WAIT_SECONDS``; OP is ``acquire``, ``takeover`` or ``release``.
The lock is ``%ProgramData%\\tacfleet\\<SERVICE>.lock``, created exclusively (``O_EXCL``), holding
the run's record plus the PID, creation time and image name of this command's parent: the WinRS
shell's host process (``winrshost.exe``) every command of that run runs in. Prints one line
``TACFLEET-LOCK <json>``.

- acquire: take the lock, or report the holder and the processes its shell still runs.
- takeover (the controller decided the holder is abandoned): wait up to WAIT_SECONDS for the
  holder's shell to have no running command, end whatever still runs after that (reported),
  then write our record in its place.
- release: remove the lock if it is ours.

The folder is admin-only: created with a protected security descriptor (``CreateDirectoryW``),
its DACL set again by SID with icacls on every run (an open folder is repaired) and its owner
set to Administrators if it is anyone else. A lock file not owned by Administrators or SYSTEM
was not written by tacfleet (a local user forged it): it is removed, never read, and named in
the answer (``ignored``). A takeover ends only descendants of the abandoned WinRM shell (created
after it, found by parentage), and only when the lock's shell is one (an allowlist): the pid is
alive, is ``winrshost.exe`` (the WinRM shell's host process, parent of each command of its shell),
recorded as such, and was created when the record says (not a reused pid); never this command's
own shell or ancestors. Otherwise the lock is taken over and nothing is ended; the answer says why
(``spared``).
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
#: The image of a WinRM shell's host process, the parent of every command of that shell: the
#: only process whose tree a takeover ends.
SHELL_HOST = "winrshost.exe"
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
    if pid in ancestors(table, os.getpid()):
        return f"pid {pid} is an ancestor of this command"
    return None


def not_a_shell(table, held):
    """Why the lock's recorded shell is not an abandoned WinRM shell whose processes may be
    ended, or None. Only a live ``winrshost.exe`` (the WinRM shell's host process, the parent
    of every command of its shell), recorded as such, created when the record says (not a
    reused pid), and not this command's own shell or ancestor, is one."""
    shell, since = held.get("shell"), held.get("shell_created")
    if not isinstance(shell, int) or isinstance(shell, bool) or not isinstance(since, int):
        return "the lock names no shell"
    now = created(shell)
    if now is None:
        return f"its shell (pid {shell}) is gone"
    if now != since:
        return f"pid {shell} is another process than the lock's shell (started at another time)"
    exe = {pid: name for pid, _parent, name in table}.get(shell, "")
    if str(exe).lower() != SHELL_HOST:
        return f"pid {shell} is {exe or 'unknown'}, not {SHELL_HOST} (a WinRM shell's host)"
    if str(held.get("shell_exe", "")).lower() != SHELL_HOST:
        return f"the lock does not record its shell (pid {shell}) as {SHELL_HOST}"
    if shell == os.getppid() or refused(table, shell, exe):
        return f"pid {shell} is this command's own shell"
    return None


def running_under(held, table=None):
    """(the processes the lock's shell still runs, why none may be ended or None).

    Only an abandoned WinRM shell's commands are found (:func:`not_a_shell`): its descendants
    created after it (by parentage and creation time, so no reused pid), never this command's
    ancestors."""
    table = processes() if table is None else table
    why = not_a_shell(table, held)
    if why is not None:
        return [], why
    shell = held["shell"]
    result, parents = [], {shell: held["shell_created"]}
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
    return result, None


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
    """The folder, admin-only from its first instant (no other user ever holds a right); True
    when made here, False when it was there already (its parent must exist)."""
    if os.name != "nt":
        try:
            os.mkdir(path, 0o700)
            return True
        except FileExistsError:
            return False
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
            return False
        return True
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
    exe = {pid: name for pid, _parent, name in processes()}.get(shell, "")
    record.update(shell=shell, shell_created=created(shell), shell_exe=exe, since=time.time())
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
            busy, _why = running_under(held)
            return {"acquired": False, "path": path, "holder": held, "busy": busy,
                    "ignored": ignored}
    return takeover(path, held=read(path), record=record, wait=wait, ignored=ignored)


def takeover(path, held, record, wait, ignored):
    """The controller says the holder is abandoned: wait for its shell's commands, end what
    still runs (only an abandoned WinRM shell's: ``spared`` says why nothing else was), then
    write our record in its place."""
    started = time.time()
    busy, spared = running_under(held)
    while busy and time.time() - started < wait:
        time.sleep(1)
        busy, spared = running_under(held)
    waited = time.time() - started
    ended = [process for process in busy if end(process)]
    if read(path).get("run") != held.get("run"):  # someone else took it meanwhile
        return {"acquired": False, "path": path, "holder": read(path), "busy": []}
    tmp = path + "." + str(os.getpid())
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.replace(tmp, path)
    return {"acquired": True, "path": path, "previous": held, "waited": round(waited, 1),
            "ended": ended, "spared": spared, "ignored": ignored}


if __name__ == "__main__":
    answer = main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
    sys.stdout.write(MARK + json.dumps(answer) + "\n")
