"""Windows-side launcher of the sandbox host: runs inside Wine under C:\\Python311\\python.exe.

Wine's own ``wine cmd /c ...`` re-quotes argv on the way in, which mangles inner quotes. This agent
instead hands each command line to CreateProcess verbatim, as WinRS does on a real host: as
``cmd.exe /c <line>`` by default (Python's subprocess with a str command line does exactly that),
or, for ``"shell": false`` (WinRS' WINRS_SKIP_CMD_SHELL), as the program's own command line.

Lines run through cmd.exe are first held to Windows' cmd.exe rules (``cmdexe.py``, copied beside
this file), where Wine's cmd.exe is more lenient: a command name Windows would not find exits 9009
with Windows' message; a ``%`` that Windows leaves as typed but Wine would expand is refused.

Files in use need no help from the agent: Wine, like Windows, refuses to open for writing, delete
or rename another file over an executable or DLL that a running process has mapped (measured:
``os.replace`` over the running service's nssm.exe and ``os.remove`` of the venv's python.exe or
python311.dll fail with winerror 5, ERROR_ACCESS_DENIED, as on Windows), while renaming the
running file itself succeeds, as on Windows. tests/integration/test_production_safety.py holds
the sandbox to it.

Each command runs in a job object of its own, as WinRS runs a shell's commands in the shell's
job: the process is created suspended, assigned, then resumed, so every process it starts is in
the job too, and ``JOBOBJECT_BASIC_ACCOUNTING_INFORMATION.ActiveProcesses`` counts them (Wine
keeps that count, measured) for the endpoint's MaxProcessesPerShell, and a terminated command
ends with every process of its job (TerminateJobObject), as WinRS ends it; before, a child that
outlived ``taskkill /T`` under Wine held the output pipes open for PIPE_GRACE.

Protocol on stdin/stdout, one JSON object per line (standard library only):
  in:  {"op": "run", "id": N, "line": "...", "codepage": 65001, "timeout": 1800, "shell": true,
        "stdin": false}  (stdin true: a pipe, fed by "input"; else NUL)
       {"op": "input", "id": N, "data": "<base64>", "end": false}  (end: the pipe is closed)
       {"op": "kill", "id": N}
       {"op": "count", "query": Q, "ids": [N, ...]}
  out: {"id": N, "started": true} | {"id": N, "winerror": 2, "message": "..."}  (shell false,
       before anything else about N)
       {"id": N, "rc": 0, "stdout": "<base64>", "stderr": "<base64>"}
       {"query": Q, "processes": {"N": active processes in N's job, ...}}  (ids still running)
  first line out: {"ready": true, "pid": ..., "cwd": ...}
"""

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cmdexe  # beside this file in the prefix

CONTROL_C_EXIT = -1073741510  # what WinRS reports for a command terminated by Signal
TIMED_OUT = 258  # WAIT_TIMEOUT

_lock = threading.Lock()
_procs: dict = {}  # id -> Popen
_jobs: dict = {}  # id -> job object handle
_killed: set = set()
_inputs: dict = {}  # id -> queue of (bytes, end) for the command's standard input

CREATE_SUSPENDED = 0x4
JOB_OBJECT_LIMIT_BREAKAWAY_OK = 0x800
JobObjectBasicAccountingInformation = 1
JobObjectExtendedLimitInformation = 9


def _kernel32():
    import ctypes
    from ctypes import wintypes

    k = ctypes.WinDLL("kernel32", use_last_error=True)
    k.CreateJobObjectW.restype = wintypes.HANDLE
    k.OpenProcess.restype = wintypes.HANDLE
    return k


def _in_job(proc):
    """Put a process created suspended into a job object of its own, then resume it; the job
    handle (None when Windows refused one) is kept for ``count``. The process runs either way."""
    import ctypes
    from ctypes import wintypes

    k = _kernel32()
    process = wintypes.HANDLE(int(proc._handle))  # CreateProcess' handle: all access
    job = None
    try:
        job = k.CreateJobObjectW(None, None)
        # Breakaway allowed, as for a program that asks for it (CREATE_BREAKAWAY_FROM_JOB).
        limits = (ctypes.c_byte * 144)()  # JOBOBJECT_EXTENDED_LIMIT_INFORMATION (x64)
        ctypes.c_uint32.from_buffer(limits, 16).value = JOB_OBJECT_LIMIT_BREAKAWAY_OK
        k.SetInformationJobObject(wintypes.HANDLE(job), JobObjectExtendedLimitInformation,
                                  limits, ctypes.sizeof(limits))
        if job and not k.AssignProcessToJobObject(wintypes.HANDLE(job), process):
            k.CloseHandle(wintypes.HANDLE(job))
            job = None
    finally:
        ctypes.WinDLL("ntdll").NtResumeProcess(process)
    return job


def _active(job):
    """ActiveProcesses of a job object (JOBOBJECT_BASIC_ACCOUNTING_INFORMATION)."""
    import ctypes
    from ctypes import wintypes

    info = (ctypes.c_uint32 * 12)()  # 4 LARGE_INTEGERs, then 4 DWORDs
    if not _kernel32().QueryInformationJobObject(
            wintypes.HANDLE(job), JobObjectBasicAccountingInformation, info,
            ctypes.sizeof(info), None):
        return 1
    return int(info[10])


def reply(message):
    data = json.dumps(message) + "\n"
    with _lock:
        sys.stdout.write(data)
        sys.stdout.flush()


def _oem(text):
    try:
        import ctypes

        return text.encode(f"cp{ctypes.windll.kernel32.GetOEMCP()}", "replace")
    except (ImportError, AttributeError, OSError, LookupError):
        return text.encode("utf-8")


def _folder_exists(line):
    """Does the folder of the line's program (its first C-runtime token) exist?"""
    text = line.lstrip()
    if text.startswith('"'):
        program = text[1:].split('"', 1)[0]
    else:
        program = text.split(None, 1)[0] if text else ""
    folder = os.path.dirname(program)
    return not folder or os.path.isdir(folder)


def _stricter_than_wine(line, cwd):
    """Windows' cmd.exe verdict on a line Wine's cmd.exe would run: (rc, stderr) or None."""
    env = dict(os.environ)
    verdict = cmdexe.check_line(line, env, cwd)
    if verdict is not None:
        return cmdexe.NOT_FOUND_EXIT, verdict[1]
    literal = cmdexe.wine_expands_differently(line, env)
    if literal is not None:
        return 1, (f"sandbox: Windows' cmd.exe would leave {literal} as typed on this line (it "
                   "expands % before it reads ^), but Wine's cmd.exe would expand it, so the "
                   "sandbox cannot run the line as Windows would; run the program directly (WinRS "
                   "without cmd.exe) instead\r\n")
    return None


#: After the program exits, how long to wait for its pipes to reach end-of-file.
PIPE_GRACE = 5.0


def _collect(proc, timeout):
    """Wait for the program to exit, not for end-of-file, as WinRS does.

    A Wine system process the program starts on the way (Wine's service manager, restarted by
    an SCM call such as ``nssm install``) inherits its pipes and holds them open for the life of
    the prefix: ``communicate()`` would wait forever (measured: ``nssm install`` hung).
    """
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def pump(stream, into):
        for block in iter(lambda: stream.read1(65536), b""):
            into.append(block)

    readers = [threading.Thread(target=pump, args=(s, chunks[k]), daemon=True)
               for s, k in ((proc.stdout, "out"), (proc.stderr, "err"))]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return b"", b"sandbox: command timed out and was terminated\r\n", True
    for reader in readers:
        reader.join(PIPE_GRACE)
    return b"".join(chunks["out"]), b"".join(chunks["err"]), False


def run(request):
    ident = request["id"]
    shell = request.get("shell", True)
    cwd = os.environ.get("USERPROFILE") or os.getcwd()
    line = request["line"]
    if shell:
        refused = _stricter_than_wine(line, cwd)
        if refused is not None:
            reply({"id": ident, "rc": refused[0], "stdout": "",
                   "stderr": base64.b64encode(_oem(refused[1])).decode()})
            return
        comspec = os.environ.get("COMSPEC", "C:\\windows\\system32\\cmd.exe")
        line = f'"{comspec}" /c {line}'
    try:
        proc = subprocess.Popen(
            line,
            stdin=subprocess.PIPE if request.get("stdin") else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            creationflags=CREATE_SUSPENDED,
        )
    except OSError as exc:
        if not shell:
            code = exc.winerror or 2
            if code == 2 and not _folder_exists(line):
                code = 3  # ERROR_PATH_NOT_FOUND: the program's folder itself is missing
            reply({"id": ident, "winerror": code, "message": exc.strerror or str(exc)})
            return
        reply({"id": ident, "rc": exc.winerror or 1, "stdout": "",
               "stderr": base64.b64encode(str(exc).encode()).decode()})
        return
    job = _in_job(proc)
    if proc.stdin is not None:
        threading.Thread(target=_write_input, args=(ident, proc), daemon=True).start()
    if not shell:
        reply({"id": ident, "started": True})
    with _lock:
        _procs[ident] = proc
        if job:
            _jobs[ident] = job
    out, err, timed_out = _collect(proc, request.get("timeout") or None)
    rc = TIMED_OUT if timed_out else proc.returncode
    with _lock:
        _procs.pop(ident, None)
        pending = _inputs.pop(ident, None)
        job = _jobs.pop(ident, None)
    if pending is not None:
        pending.put((b"", True))  # the writer, if still waiting for input, ends too
    if job:
        from ctypes import wintypes

        _kernel32().CloseHandle(wintypes.HANDLE(job))
    with _lock:
        if ident in _killed:
            _killed.discard(ident)
            rc = CONTROL_C_EXIT
    reply({"id": ident, "rc": rc, "stdout": base64.b64encode(out).decode(),
           "stderr": base64.b64encode(err).decode()})


def kill(request):
    with _lock:
        proc = _procs.get(request["id"])
        if proc is None:
            return
        _killed.add(request["id"])
        job = _jobs.get(request["id"])
    if job:  # as WinRS ends a terminated command: every process of its job
        from ctypes import wintypes

        if _kernel32().TerminateJobObject(wintypes.HANDLE(job), 1):
            return
    # /T: cmd.exe's children too; fall back to the process itself.
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(f"taskkill /F /T /PID {proc.pid}", stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    if proc.poll() is None:
        proc.kill()


def _input_queue(ident):
    import queue

    with _lock:
        return _inputs.setdefault(ident, queue.Queue())


def feed(request):
    """Standard input sent for a command (WinRS Send): queued until its process takes it."""
    _input_queue(request["id"]).put((base64.b64decode(request.get("data") or ""),
                                     bool(request.get("end"))))


def _write_input(ident, proc):
    """Write the command's queued input to its stdin pipe in order; close it at the end."""
    pending = _input_queue(ident)
    try:
        while True:
            data, end = pending.get()
            if data:
                proc.stdin.write(data)
                proc.stdin.flush()
            if end:
                break
    except OSError:
        pass  # the program closed its standard input or ended: the rest is dropped, as WinRS
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()


def count(request):
    counts = {}
    with _lock:
        for ident in request.get("ids", ()):
            if ident in _procs:
                job = _jobs.get(ident)
                counts[str(ident)] = _active(job) if job else 1
    reply({"query": request["query"], "processes": counts})


def main():
    reply({"ready": True, "pid": os.getpid(), "cwd": os.getcwd()})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") == "run":
            threading.Thread(target=run, args=(request,), daemon=True).start()
        elif request.get("op") == "kill":
            threading.Thread(target=kill, args=(request,), daemon=True).start()
        elif request.get("op") == "count":
            count(request)
        elif request.get("op") == "input":
            feed(request)
    # stdin closed: the Linux side is gone; stop everything still running.
    for ident in list(_procs):
        kill({"id": ident})


if __name__ == "__main__":
    main()
