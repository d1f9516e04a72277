"""Windows-side launcher of the sandbox host: runs inside Wine under C:\\Python311\\python.exe.

Wine's own ``wine cmd /c ...`` re-quotes argv on the way in, which mangles inner quotes. This agent
instead hands each command line to CreateProcess verbatim as ``cmd.exe /c <line>`` (Python's
subprocess with a str command line does exactly that), as WinRS does on a real host.

Protocol on stdin/stdout, one JSON object per line (standard library only):
  in:  {"op": "run", "id": N, "line": "...", "codepage": 65001, "timeout": 1800}
       {"op": "kill", "id": N}
  out: {"id": N, "rc": 0, "stdout": "<base64>", "stderr": "<base64>"}
  first line out: {"ready": true, "pid": ..., "cwd": ...}
"""

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading

CONTROL_C_EXIT = -1073741510  # what WinRS reports for a command terminated by Signal
TIMED_OUT = 258  # WAIT_TIMEOUT

_lock = threading.Lock()
_procs: dict = {}  # id -> Popen
_killed: set = set()


def reply(message):
    data = json.dumps(message) + "\n"
    with _lock:
        sys.stdout.write(data)
        sys.stdout.flush()


def run(request):
    ident = request["id"]
    comspec = os.environ.get("COMSPEC", "C:\\windows\\system32\\cmd.exe")
    try:
        proc = subprocess.Popen(
            f'"{comspec}" /c {request["line"]}',
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=os.environ.get("USERPROFILE") or None,
        )
    except OSError as exc:
        reply({"id": ident, "rc": exc.winerror or 1, "stdout": "",
               "stderr": base64.b64encode(str(exc).encode()).decode()})
        return
    with _lock:
        _procs[ident] = proc
    try:
        out, err = proc.communicate(timeout=request.get("timeout") or None)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = b"", b"sandbox: command timed out and was terminated\r\n"
        rc = TIMED_OUT
    with _lock:
        _procs.pop(ident, None)
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
    # /T: cmd.exe's children too; fall back to the process itself.
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(f"taskkill /F /T /PID {proc.pid}", stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    if proc.poll() is None:
        proc.kill()


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
    # stdin closed: the Linux side is gone; stop everything still running.
    for ident in list(_procs):
        kill({"id": ident})


if __name__ == "__main__":
    main()
