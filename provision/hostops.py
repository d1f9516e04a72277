"""One command that runs a list of steps under the host's own Python (stdlib only, no cmd.exe).

cmd.exe built-ins (``mkdir``, ``rmdir /s /q``, ``copy /y``) and ``&&`` chains are replaced by
this small script: each step is a file operation or a program run by full path, done in order,
stopping at the first failure with that failure's exit code. Every value (path, name, data) goes
as an argument; the script's source holds none, so nothing from the inventory is ever parsed as
Python or by cmd.exe.

Arguments after the source: ``<n> <op> <arg>…`` groups, ``n`` counting the op and its args.
Ops: ``mkdir PATH…`` (with parents, existing ok), ``rmtree PATH`` (absent ok), ``copy SRC DST``,
``write PATH MODE B64`` (MODE ``wb`` or ``ab``; parent folders created), ``receive PATH SIZE
OFFSET PREFIX`` (the next SIZE - OFFSET bytes of standard input into PATH after its first
OFFSET bytes, whose SHA-256 must be PREFIX; parent folders created; ``provision.upload``),
``replace SRC DST``
(atomic rename over DST), ``run PROGRAM ARG…``, ``settle SC_EXE SERVICE SECONDS`` (wait while
``SC_EXE query SERVICE`` reports a ``_PENDING`` state), ``verify PATH SHA256`` (the file's
SHA-256, else it is removed and the run fails), ``stop SC_EXE SERVICE SECONDS`` (stop the
service if it runs and wait for STOPPED; an absent service is fine; a stop already pending is
waited for; still not STOPPED after SECONDS fails with the state it is stuck in), ``start SC_EXE
SERVICE SECONDS`` (start it again only if ``stop`` stopped it in this command, then wait for
RUNNING), ``delete SC_EXE SERVICE`` (``sc delete``; already gone or marked for deletion is
fine), ``gone SC_EXE SERVICE SECONDS`` (wait until the service control manager no longer
knows the service: 1060), ``protect ICACLS PATH GRANT…`` (a folder tacfleet writes into,
protected before its first byte: a missing one is created with its security descriptor in the
same call, ``CreateDirectoryW`` with ``O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)``, so no other
user ever holds a right on it; then ``ICACLS PATH /inheritance:r /grant:r GRANT…`` (by SID)
sets its whole DACL; an owner other than Administrators, SYSTEM or TrustedInstaller is set to
Administrators (``/setowner``); a folder created here that is not empty after that was
written into by someone else: what is in it is removed and the op fails).

Security: a part (``receive``) is written only into a file this command creates exclusively; a
part kept from an earlier run is continued only when Administrators or SYSTEM own it (else it
is removed and the op fails: the next run sends the file whole). Owners are read by SID with
``GetNamedSecurityInfoW`` and ``ConvertSidToStringSidW``, and admin-only folders made, by the
lock script's own ``owner_sid`` and ``create_protected`` (:func:`shared_source`), so the two
host scripts have one of each.

Secrets never travel as arguments (a command line is kept by process-creation auditing, event
4688, and Sysmon); two ops read them from standard input instead, SIZE bytes each, in the order
of the ops: ``setenv SERVICE SIZE`` (a UTF-8 JSON list of ``NAME=value`` entries written as the
service's NSSM ``AppEnvironmentExtra``, REG_MULTI_SZ in
``HKLM\\SYSTEM\\CurrentControlSet\\Services\\<SERVICE>\\Parameters``, as ``nssm set``
stores it; an empty list removes the value, as nssm does) and ``runfile PARENT NAME SIZE
PROGRAM ARG…`` (the bytes read go into a file in a fresh folder ``PARENT\\tacfleet-<32 random
hex>`` made administrators-only in the call that creates it, as ``protect`` makes one; the
program runs, its standard input NUL, with the environment variable NAME naming that file, in
its environment only, and the folder is removed after, whether it succeeded or not: pip's
``NETRC``, so the index credentials are on no command line, not even on the one of the pip pip
starts itself to install build requirements). :func:`secret_stdin` encodes them; no message
repeats what was read.

A program that ends with 0xC0000142 (STATUS_DLL_INIT_FAILED: it failed before running any of its
own code, as processes of a non-interactive session do when the desktop heap is exhausted) is run
once more; any other exit code stands.

Service states are read from ``sc query``'s ``STATE : <n> <NAME>`` line by the number and the
state constant, which Windows prints untranslated in every language.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from importlib import resources

from winhost.cmdline import Command

_BODY = """\


def rmtree(path):
    def unlock(func, p, _exc):
        os.chmod(p, stat.S_IWRITE)
        func(p)
    if os.path.isdir(path):
        shutil.rmtree(path, onerror=unlock)
    elif os.path.lexists(path):
        os.remove(path)


def call(argv, **options):
    # A process that ends with STATUS_DLL_INIT_FAILED never ran its own code (desktop heap
    # exhausted in a non-interactive session), so running it once more is always safe.
    proc = subprocess.run(argv, **options)
    if proc.returncode == 0xC0000142:
        time.sleep(1)
        proc = subprocess.run(argv, **options)
    return proc


def settle(sc, service, seconds):
    end = time.time() + float(seconds)
    while time.time() < end:
        out = call([sc, 'query', service], capture_output=True).stdout
        if b'_PENDING' not in out:
            return
        time.sleep(1)


STATE = re.compile(rb':\\s*[1-7]\\s+(STOPPED|START_PENDING|STOP_PENDING|RUNNING|'
                   rb'CONTINUE_PENDING|PAUSE_PENDING|PAUSED)\\b')
stopped_here = set()


class Failed(Exception):
    pass


def state(sc, service):
    proc = call([sc, 'query', service], capture_output=True)
    if proc.returncode == 1060 or b'FAILED 1060:' in proc.stdout:
        return 'GONE'
    found = STATE.search(proc.stdout)
    if found is None:
        raise Failed('%s query %s: exit code %d, no state in %r'
                     % (sc, service, proc.returncode, proc.stdout[-200:]))
    return found.group(1).decode()


def wait(sc, service, seconds, wanted):
    end = time.time() + float(seconds)
    now = state(sc, service)
    while now not in wanted and time.time() < end:
        time.sleep(0.5)
        now = state(sc, service)
    return now


def stop(sc, service, seconds):
    now = state(sc, service)
    if now in ('GONE', 'STOPPED'):
        return
    if now == 'START_PENDING':
        now = wait(sc, service, seconds, ('RUNNING', 'STOPPED', 'GONE'))
    if now not in ('STOP_PENDING', 'STOPPED', 'GONE'):
        rc = call([sc, 'stop', service], capture_output=True).returncode
        if rc not in (0, 1061, 1062):
            raise Failed('%s stop %s: exit code %d' % (sc, service, rc))
        stopped_here.add(service)
    now = wait(sc, service, seconds, ('STOPPED', 'GONE'))
    if now not in ('STOPPED', 'GONE'):
        raise Failed('service %s is still %s %s s after the stop; it holds its files. Find '
                     'what keeps it from stopping (its log), or end its process, then run '
                     'again' % (service, now, seconds))


def start(sc, service, seconds):
    if service not in stopped_here:
        return
    rc = call([sc, 'start', service], capture_output=True).returncode
    if rc not in (0, 1056):
        raise Failed('%s start %s: exit code %d' % (sc, service, rc))
    now = wait(sc, service, seconds, ('RUNNING', 'STOPPED', 'GONE'))
    if now != 'RUNNING':
        raise Failed('service %s is %s after the start, not RUNNING' % (service, now))


def delete(sc, service):
    rc = call([sc, 'delete', service], capture_output=True).returncode
    if rc not in (0, 1060, 1072):  # 1072: already marked for deletion, gone once released
        raise Failed('%s delete %s: exit code %d' % (sc, service, rc))


def gone(sc, service, seconds):
    now = wait(sc, service, seconds, ('GONE',))
    if now != 'GONE':
        raise Failed('service %s is still known (%s) %s s after its deletion: a process or a '
                     'handle (services.msc, Event Viewer) keeps it marked for deletion; close it '
                     'and run again' % (service, now, seconds))


def protect(icacls, path, *grants):
    made = False
    if not os.path.isdir(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        made = create_protected(path)
    if os.path.islink(path) or getattr(os.lstat(path), 'st_reparse_tag', 0) \
            or not os.path.isdir(path):
        raise Failed('%s is a link or a file' % path)
    for args in (['/inheritance:r', '/grant:r', *grants], ['/setowner', '*' + ADMIN_OWNERS[0]]):
        if args[0] == '/setowner' and (owner_sid(path) in ADMIN_OWNERS or made):
            break
        rc = call([icacls, path, *args], capture_output=True).returncode
        if rc:
            raise Failed('%s %s %s: exit code %d' % (icacls, path, ' '.join(args[:2]), rc))
    if owner_sid(path) not in ADMIN_OWNERS:
        raise Failed('%s is owned by %s, not Administrators' % (path, owner_sid(path)))
    found = os.listdir(path) if made else []
    for name in found:
        rmtree(os.path.join(path, name))
    if found:
        raise Failed('%s was written into (%s) by another user: removed' % (path, found[:5]))


def receive(path, size, offset, prefix):
    size, offset = int(size), int(offset)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if offset and owner_sid(path) not in ADMIN_OWNERS:
        owner = owner_sid(path)
        os.remove(path)
        raise Failed('%s is owned by %s, not by an admin: removed, run again' % (path, owner))
    if offset:
        digest, left = hashlib.sha256(), offset
        with open(path, 'rb') as f:
            while left:
                block = f.read(min(left, 1 << 20))
                if not block:
                    break
                digest.update(block)
                left -= len(block)
        if left or digest.hexdigest() != prefix:
            os.remove(path)
            raise Failed('the %d bytes of %s kept from an earlier upload are not the start of '
                         'this file: removed; run again to send it whole' % (offset, path))
    # Each block is written as it arrives (os.read returns what the pipe holds), unbuffered:
    # a process ended mid-file (its shell deleted after a dropped connection) leaves every
    # byte it was given in the part, for the next run to continue from.
    done = offset
    try:
        if not offset and os.path.lexists(path):
            os.remove(path)  # a new file, never one someone else made
        with open(path, 'r+b' if offset else 'xb', buffering=0) as f:
            f.seek(offset)
            f.truncate()
            while done < size:
                block = os.read(0, min(size - done, 1 << 20))
                if not block:
                    raise Failed('standard input ended after %d of %d bytes of %s (the '
                                 'connection dropped?): they are kept, the next run sends '
                                 'the rest' % (done, size, path))
                view = memoryview(block)
                while view:
                    view = view[f.write(view):]
                done += len(block)
    except OSError as exc:
        # ENOSPC is ERROR_DISK_FULL; a quota (ERROR_DISK_QUOTA_EXCEEDED, 1295) has no errno of
        # its own and arrives as EINVAL: the free space decides.
        if exc.errno == errno.ENOSPC or _free(path) < size - done:
            raise Failed('the disk is full: %s has %d of its %d bytes (kept); free space on '
                         'that drive, then run again to send the rest' % (path, done, size))
        raise


def _free(path):
    try:
        return shutil.disk_usage(os.path.dirname(path)).free
    except OSError:
        return 1 << 62  # unknown: not taken for a full disk


def take(size):
    size, data = int(size), b''
    while len(data) < size:
        block = os.read(0, size - len(data))
        if not block:
            raise Failed('standard input ended after %d of %d bytes' % (len(data), size))
        data += block
    return data


def setenv(service, size):
    import json, winreg
    entries = json.loads(take(size).decode('utf-8'))
    if not isinstance(entries, list) or not all(
            isinstance(e, str) and '=' in e[1:] and '\\0' not in e for e in entries):
        raise Failed('the environment for %s is not a list of NAME=value entries' % service)
    path = r'SYSTEM\\CurrentControlSet\\Services\\%s\\Parameters' % service
    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path, 0, winreg.KEY_SET_VALUE) as key:
        if entries:
            winreg.SetValueEx(key, 'AppEnvironmentExtra', 0, winreg.REG_MULTI_SZ, entries)
        else:
            try:
                winreg.DeleteValue(key, 'AppEnvironmentExtra')
            except FileNotFoundError:
                pass


def runfile(parent, name, size, *argv):
    data = take(size)
    folder = os.path.join(parent, 'tacfleet-' + os.urandom(16).hex())
    if not create_protected(folder):
        raise Failed('%s exists already: nothing was written there' % folder)
    try:
        path = os.path.join(folder, 'secret')
        with open(path, 'xb') as f:
            f.write(data)
        env = dict(os.environ)
        env[name] = path
        return call(list(argv), env=env, stdin=subprocess.DEVNULL).returncode
    finally:
        rmtree(folder)


def verify(path, sha256):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    if digest.hexdigest() != sha256.lower():
        os.remove(path)
        raise Failed('%s has sha256 %s, not %s: removed, nothing replaced'
                     % (path, digest.hexdigest(), sha256))


def main(argv):
    i = 0
    while i < len(argv):
        n = int(argv[i])
        op, args = argv[i + 1], argv[i + 2:i + 1 + n]
        i += 1 + n
        try:
            if op == 'mkdir':
                for p in args:
                    os.makedirs(p, exist_ok=True)
            elif op == 'rmtree':
                rmtree(args[0])
            elif op == 'copy':
                shutil.copy(args[0], args[1])
            elif op == 'write':
                os.makedirs(os.path.dirname(args[0]), exist_ok=True)
                with open(args[0], args[1]) as f:
                    f.write(base64.b64decode(args[2]))
            elif op == 'replace':
                os.replace(args[0], args[1])
            elif op == 'settle':
                settle(*args)
            elif op in ('receive', 'verify', 'stop', 'start', 'delete', 'gone', 'protect'):
                globals()[op](*args)
            elif op == 'run':
                rc = call(args).returncode
                if rc:
                    print('tacfleet: %s exited %d' % (args[0], rc), file=sys.stderr)
                    return rc
            elif op == 'runfile':
                rc = runfile(*args)
                if rc:
                    print('tacfleet: %s exited %d' % (args[3], rc), file=sys.stderr)
                    return rc
            elif op == 'setenv':
                setenv(*args)
            else:
                print('tacfleet: unknown step %r' % op, file=sys.stderr)
                return 2
        except (OSError, ValueError, Failed) as exc:
            print('tacfleet: %s failed: %s' % (op, exc), file=sys.stderr)
            return 1
    return 0


sys.exit(main(sys.argv[1:]))
"""

#: What the host scripts share, taken from ``hostlock_script.py`` (the lock script): the owner
#: of a path by SID and a folder made administrators-only in the call that creates it.
SHARED = ("ADMIN_OWNERS", "owner_sid", "create_protected")


def shared_source(names: Sequence[str] = SHARED) -> str:
    """The source of the lock script's top-level definitions ``names``, in its order: one
    function of each for both host scripts, each script still one program on the host."""
    source = resources.files("provision").joinpath("hostlock_script.py").read_text("utf-8")
    found: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            name = node.name
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        else:
            continue
        if name in names:
            found.append(ast.get_source_segment(source, node) or "")
    if len(found) != len(names):
        raise RuntimeError(f"hostlock_script.py lacks one of {names}")
    return "\n\n\n".join(found) + "\n\n\n"


_SOURCE = ("import base64, ctypes, errno, hashlib, os, re, shutil, stat, subprocess, sys, time\n"
           "from ctypes import wintypes\n\n\n" + shared_source() + _BODY)

#: The ``-c`` argument: the source with its newlines escaped (a command line holds no line break).
BOOTSTRAP = f"exec({_SOURCE!r})"

Op = Sequence[str]


def host_ops(python: str, *ops: Op) -> Command:
    """One Command running ``ops`` (each ``(op, arg, …)``) in order under ``python``."""
    argv: list[str] = []
    for op in ops:
        argv += [str(len(op)), *op]
    return Command((python, "-I", "-c", BOOTSTRAP, *argv))


def secret_stdin(*secrets: bytes) -> tuple[list[str], bytes]:
    """The SIZE arguments of ``setenv`` / ``runfile`` ops reading ``secrets`` in that order, and
    the standard input carrying them (``Action.stdin``)."""
    return [str(len(s)) for s in secrets], b"".join(secrets)


def environment_stdin(entries: Sequence[str]) -> bytes:
    """``NAME=value`` entries as ``setenv`` (and the release's tac check) read them from
    standard input: a UTF-8 JSON list."""
    return json.dumps(list(entries), ensure_ascii=False).encode("utf-8")


def decode_ops(argv: Sequence[str]) -> list[tuple[str, ...]]:
    """The ops of a ``host_ops`` command's argv (for tests and reports)."""
    rest = list(argv[4:])
    found: list[tuple[str, ...]] = []
    while rest:
        n = int(rest[0])
        found.append(tuple(rest[1 : 1 + n]))
        rest = rest[1 + n :]
    return found


def failure_reason(stderr: str) -> str:
    """Why a ``host_ops`` command failed, in its own words (its last ``tacfleet:`` line, e.g.
    ``verify failed: … has sha256 …``), or ""."""
    lines = [line.strip() for line in stderr.splitlines() if line.startswith("tacfleet: ")]
    return lines[-1].removeprefix("tacfleet: ") if lines else ""


def is_host_ops(command: Command) -> bool:
    return len(command.argv) >= 4 and command.argv[3] == BOOTSTRAP
