"""The tacfleet command a fix names, runnable as printed: on the same host and inventory.

A requirement's fix says what to run in words a judge can write without knowing the run
(``run `invoke provision```); before any output shows it (terminal, plan, provision report,
``drift.json``/``drift.html``, alerts, JUnit properties, pytest's failure lines), :func:`runnable`
completes each tacfleet command in it with ``--host NAME`` (the host the finding is about) and
``--inventory PATH`` (the inventory the run read, as an absolute path: a fix pasted in another
folder, another shell without ``$TACFLEET_INVENTORY``, or on a shared machine where the default
inventory is someone else's sandbox, still acts on that host of that inventory).
:func:`command` is the one builder of such a line, quoted for the user's shell.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Tasks that select hosts (``--host``) of an inventory (``--inventory``); and those that only
#: read an inventory.
HOST_TASKS = frozenset({"provision", "plan", "deprovision", "rollback", "bundle", "doctor",
                        "facts", "check", "drift", "drift.run"})
INVENTORY_TASKS = HOST_TASKS | {"schedule", "inventory.validate"}
#: A tacfleet command in a fix: `invoke TASK ARGS` in backticks.
_IN_TEXT = re.compile(r"`(?:invoke|tacfleet) ([a-z][a-z._-]*)((?: [^`]*)?)`")
_SELECTION = {"--host": 1, "-H": 1, "--inventory": 1, "-i": 1}


def program() -> str:
    """``invoke`` in a checkout (its tasks.py), ``tacfleet`` for the installed tool."""
    checkout = (ROOT / "pyproject.toml").is_file() and (ROOT / "tasks.py").is_file()
    return "invoke" if checkout else "tacfleet"


def quote(arg: str) -> str:
    """``arg`` as the user's shell reads it back: POSIX quoting, or Windows' (cmd, PowerShell)."""
    if sys.platform == "win32":
        return subprocess.list2cmdline([arg])
    return shlex.quote(arg)


def inventory_arg(path: str | os.PathLike[str] | None) -> str | None:
    """The inventory as a fix spells it: absolute, so it means the same file from anywhere."""
    return str(Path(path).expanduser().absolute()) if path else None


def command(task: str, *args: str, host: str | None = None,
            inventory: str | os.PathLike[str] | None = None) -> str:
    """``invoke TASK ARGS --host HOST --inventory PATH``, each part quoted for the shell; the
    selection only for a task that takes it."""
    parts = [program(), task, *args]
    if host and task in HOST_TASKS:
        parts += ["--host", host]
    spelled = inventory_arg(inventory)
    if spelled and task in INVENTORY_TASKS:
        parts += ["--inventory", spelled]
    return " ".join(quote(p) if i > 1 else p for i, p in enumerate(parts))


def _without_selection(args: Sequence[str]) -> list[str]:
    kept: list[str] = []
    skip = 0
    for arg in args:
        if skip:
            skip -= 1
        elif arg in _SELECTION:
            skip = _SELECTION[arg]
        elif not arg.startswith(("--host=", "--inventory=")):
            kept.append(arg)
    return kept


def runnable(text: str, host: str | None, inventory: str | os.PathLike[str] | None) -> str:
    """``text`` with each tacfleet command in backticks rebuilt by :func:`command` for ``host``
    (the one the fix is about; None for a fix about the whole inventory) and ``inventory``
    (None: left as written)."""
    if not text or "`" not in text:
        return text

    def rebuilt(match: re.Match[str]) -> str:
        try:
            args = shlex.split(match.group(2))
        except ValueError:  # not a command line after all
            return match.group(0)
        line = command(match.group(1), *_without_selection(args), host=host,
                       inventory=inventory)
        return f"`{line}`"

    return _IN_TEXT.sub(rebuilt, text)
