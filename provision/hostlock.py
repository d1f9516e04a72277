r"""A lock on the host before provisioning, so a rerun never races an abandoned run.

``%ProgramData%\tacfleet\<service>.lock`` is created exclusively by the host's base Python
(:mod:`provision.hostlock_script`), holding the run's id, this controller and its PID, and the
WinRS shell the run's commands run in. When a lock is already there:

- held by a run of **this** controller whose process is gone (killed, crashed): the run is
  abandoned. tacfleet waits (up to ``TAKEOVER_WAIT``) for the command its shell still runs —
  typically a ``pip install`` — to finish, ends what still runs after that, takes the lock,
  and reports both. Only the processes of an abandoned WinRM shell are ever ended: the lock's
  shell must be a live ``winrshost.exe`` created when the lock says; otherwise nothing is ended
  and the note says why;
- held by a live run, or by another controller: the host is busy; it is that host's error
  (:class:`HostLocked`) with the holder named, and the other hosts go on.

Every command is a :class:`winhost.cmdline.Command`: the base Python by full path, the script
and every value in argv, no cmd.exe.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from inventory.models import Host
from winhost.cmdline import Command, packed_script
from winhost.connection import Connection
from winhost.errors import HostError, ProgramNotFound
from winhost.untrusted import strip_controls

MARK = "TACFLEET-LOCK "
#: How long a takeover waits for an abandoned run's last command before ending it.
TAKEOVER_WAIT = 600.0
RUN_ID = uuid.uuid4().hex[:12]


class HostLocked(HostError):
    """Another run holds the host's lock."""

    fix = ("wait for that run to finish; if it is dead (its controller was lost), delete the "
           "lock file named here on the host and run again")


@dataclass
class Lock:
    """What taking the lock found and did (``notes`` are printed with the host's result)."""

    held: bool
    path: str = ""
    notes: list[str] = field(default_factory=list)


@cache
def bootstrap() -> str:
    """The ``-c`` program that runs the lock script (packed; stdlib only, no file on the host)."""
    return packed_script(resources.files("provision").joinpath("hostlock_script.py").read_bytes())


def lock_command(host: Host, op: str, record: dict[str, Any], wait: float = 0) -> Command:
    """The base Python running the lock script: ``OP SERVICE RECORD WAIT`` in argv."""
    return Command((host.python.base, "-I", "-c", bootstrap(), op, host.service.name,
                    json.dumps(record, separators=(",", ":")), str(int(wait))))


def our_record() -> dict[str, Any]:
    return {"run": RUN_ID, "controller": socket.gethostname(), "pid": os.getpid()}


def _answer(connection: Connection, command: Command, timeout: float) -> dict[str, Any]:
    result = connection.run(command, timeout=timeout)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(MARK):
            try:
                data: dict[str, Any] = strip_controls(json.loads(line[len(MARK):]))
                return data
            except ValueError:
                break
    tail = (result.stderr or result.stdout).strip()[-300:]
    raise HostError(connection.host, f"the host lock could not be taken (exit code "
                    f"{result.rc}): {tail}")


def _alive_here(pid: object) -> bool:
    """Is ``pid`` a live process on this controller (a PID we cannot judge counts as live)?"""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _abandoned(holder: dict[str, Any]) -> bool:
    """A run of this controller whose process is gone (only then is taking over safe)."""
    return holder.get("controller") == socket.gethostname() and not _alive_here(holder.get("pid"))


def _describe(holder: dict[str, Any]) -> str:
    return (f"run {holder.get('run', '?')} from {holder.get('controller', '?')} "
            f"(pid {holder.get('pid', '?')})")


def _forged(answer: dict[str, Any]) -> list[str]:
    """Notes naming the lock files the host removed as forged (not owned by Administrators or
    SYSTEM: tacfleet did not write them)."""
    return [f"ignored and removed {item.get('path', '?')}: owned by {item.get('owner', '?')}, "
            "not by Administrators or SYSTEM (a forged lock: tacfleet did not write it)"
            for item in answer.get("ignored") or [] if isinstance(item, dict)]


def acquire(connection: Connection, host: Host, *, wait: float = TAKEOVER_WAIT) -> Lock:
    """Take the host's lock, taking over an abandoned run's; :class:`HostLocked` if busy.

    A host without its base Python has nothing of ours running: no lock is needed yet.
    """
    record = our_record()
    try:
        first = _answer(connection, lock_command(host, "acquire", record), 60)
    except ProgramNotFound:
        return Lock(False, notes=["no host lock: the base Python is not installed yet"])
    forged = _forged(first)
    if first.get("acquired"):
        return Lock(True, first.get("path", ""), forged)
    holder = first.get("holder") or {}
    busy = first.get("busy") or []
    if not _abandoned(holder):
        running = f"; its shell still runs {', '.join(p['exe'] for p in busy)}" if busy else ""
        raise HostLocked(connection.host, f"{first.get('path', 'the lock')} is held by "
                         f"{_describe(holder)}{running}")
    taken = _answer(connection, lock_command(host, "takeover", record, wait), wait + 120)
    if not taken.get("acquired"):
        raise HostLocked(connection.host, f"{taken.get('path', 'the lock')} was taken by "
                         f"{_describe(taken.get('holder') or {})}")
    notes = [*forged, *_forged(taken), f"took over the lock of abandoned {_describe(holder)}"]
    if taken.get("waited"):
        notes.append(f"waited {taken['waited']}s for its last command to finish")
    if taken.get("ended"):
        notes.append("ended what it still ran: " + ", ".join(
            f"{p['exe']} (pid {p['pid']})" for p in taken["ended"]))
    elif taken.get("spared"):
        notes.append(f"ended no process: {taken['spared']}")
    return Lock(True, taken.get("path", ""), notes)


def release(connection: Connection, host: Host, lock: Lock) -> None:
    """Remove our lock (best effort: a lock left behind is taken over by the next run)."""
    if lock.held:
        _answer(connection, lock_command(host, "release", our_record()), 60)
