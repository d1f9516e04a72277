"""One command that runs a list of steps under the host's own Python (stdlib only, no cmd.exe).

cmd.exe built-ins (``mkdir``, ``rmdir /s /q``, ``copy /y``) and ``&&`` chains are replaced by
this small script: each step is a file operation or a program run by full path, done in order,
stopping at the first failure with that failure's exit code. Every value (path, name, data) goes
as an argument; the script's source holds none, so nothing from the inventory is ever parsed as
Python or by cmd.exe.

Arguments after the source: ``<n> <op> <arg>…`` groups, ``n`` counting the op and its args.
Ops: ``mkdir PATH…`` (with parents, existing ok), ``rmtree PATH`` (absent ok), ``copy SRC DST``,
``write PATH MODE B64`` (MODE ``wb`` or ``ab``; parent folders created), ``replace SRC DST``
(atomic rename over DST), ``run PROGRAM ARG…``, ``settle SC_EXE SERVICE SECONDS`` (wait while
``SC_EXE query SERVICE`` reports a ``_PENDING`` state).
"""

from __future__ import annotations

from collections.abc import Sequence

from winhost.cmdline import Command

_SOURCE = """\
import base64, os, shutil, stat, subprocess, sys, time


def rmtree(path):
    def unlock(func, p, _exc):
        os.chmod(p, stat.S_IWRITE)
        func(p)
    if os.path.isdir(path):
        shutil.rmtree(path, onerror=unlock)
    elif os.path.lexists(path):
        os.remove(path)


def settle(sc, service, seconds):
    end = time.time() + float(seconds)
    while time.time() < end:
        out = subprocess.run([sc, 'query', service], capture_output=True).stdout
        if b'_PENDING' not in out:
            return
        time.sleep(1)


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
            elif op == 'run':
                rc = subprocess.run(args).returncode
                if rc:
                    print('tacfleet: %s exited %d' % (args[0], rc), file=sys.stderr)
                    return rc
            else:
                print('tacfleet: unknown step %r' % op, file=sys.stderr)
                return 2
        except (OSError, ValueError) as exc:
            print('tacfleet: %s failed: %s' % (op, exc), file=sys.stderr)
            return 1
    return 0


sys.exit(main(sys.argv[1:]))
"""

#: The ``-c`` argument: the source with its newlines escaped (a command line holds no line break).
BOOTSTRAP = f"exec({_SOURCE!r})"

Op = Sequence[str]


def host_ops(python: str, *ops: Op) -> Command:
    """One Command running ``ops`` (each ``(op, arg, …)``) in order under ``python``."""
    argv: list[str] = []
    for op in ops:
        argv += [str(len(op)), *op]
    return Command((python, "-I", "-c", BOOTSTRAP, *argv))


def decode_ops(argv: Sequence[str]) -> list[tuple[str, ...]]:
    """The ops of a ``host_ops`` command's argv (for tests and reports)."""
    rest = list(argv[4:])
    found: list[tuple[str, ...]] = []
    while rest:
        n = int(rest[0])
        found.append(tuple(rest[1 : 1 + n]))
        rest = rest[1 + n :]
    return found


def is_host_ops(command: Command) -> bool:
    return len(command.argv) >= 4 and command.argv[3] == BOOTSTRAP
