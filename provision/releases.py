r"""Releases side by side (``app.releases``): the switch, the health gate, the rollback, pruning.

Each release is a venv of its own under ``<root>\releases`` (``inventory.releases``), built and
checked by the ordinary steps while the service still runs the previous one. The switch is one
registry value, NSSM's ``Application`` (AppParameters runs twistd from whichever venv's python
that is, ``desired.TWISTD_FROM_ANY_VENV``): RegSetValueExW replaces a value atomically, so a
host is on the old release or the new one, never on neither; a junction would also be atomic to
swap, but NTFS has no rename over an existing junction, so its swap is a delete and a create.

Every switch, pass of the gate and rollback appends one JSON line to
``<root>\releases\tacfleet-history.jsonl`` (who, when, from, to, why). A switch not yet
followed by a ``deployed`` or ``rollback`` line is pending: the next run restarts the service
(the switched-to release may never have started) and runs the gate again.
"""

from __future__ import annotations

import base64
import getpass
import json
import socket
import time
from functools import cache
from importlib import resources
from typing import Any

from compliance import desired
from compliance.releases import Switch, prunable, release_python, root
from inventory.models import Host
from inventory.releases import history_path, releases_dir
from inventory.winpath import win_join
from provision.hostops import Op, environment_stdin, host_ops
from provision.model import Action
from winhost.cmdline import Command, command, packed_script, system32
from winhost.probe import HostFacts
from winhost.untrusted import strip_controls

#: Loads the tac file with the new release's python, in AppDirectory and with the app's
#: environment (standard input: JSON ``NAME=value`` list, never the command line) as the
#: service would: a tac (or the app it imports) that raises fails here, before the switch.
_LOADS_TAC = b"""\
import json, os, sys, traceback
tac, folder = sys.argv[1], sys.argv[2]
for item in json.loads(sys.stdin.buffer.read() or b"[]"):
    name, _, value = item.partition("=")
    os.environ[name] = value
os.chdir(folder)
sys.path.insert(0, folder)
try:
    from twisted.application.service import loadApplication
    loadApplication(tac, "python")
except BaseException:
    lines = traceback.format_exc().strip().splitlines()
    sys.stderr.write("\\n".join(lines[-8:]) + "\\n")
    sys.stderr.write("tacfleet: the tac file does not load with this release: %s\\n" % lines[-1])
    sys.exit(1)
"""

GATE_MARK = "TACFLEET-GATE "


def entry(action: str, from_name: str | None, to_name: str, *, why: str = "",
          from_python: str | None = None, to_python: str | None = None) -> dict[str, Any]:
    """One history line: ``switch``, ``deployed`` or ``rollback``, by whom and when."""
    return {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "by": f"{getpass.getuser()}@{socket.gethostname()}", "action": action,
            "from": from_name, "to": to_name, "from_python": from_python,
            "to_python": to_python, "why": why}


def history_op(host: Host, line: dict[str, Any]) -> Op:
    data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
    return ("write", history_path(root(host)), "ab", base64.b64encode(data).decode("ascii"))


def loads_tac(host: Host, why: str) -> Action:
    """The new release's python loads the tac file in AppDirectory (nothing is started)."""
    env = environment_stdin(host.app.environment_extra if host.app.environment else [])
    return Action(why, command(desired.venv_python(host), "-c", packed_script(_LOADS_TAC),
                               host.app.tac_file, host.app.app_directory), timeout=300,
                  stdin=env)


@cache
def _gate_source() -> str:
    return packed_script(resources.files("provision").joinpath("health_gate_script.py")
                         .read_bytes())


def gate_command(host: Host, system_root: str, *, settle: bool = True) -> Command:
    health = host.app.health
    return command(host.python.base, "-I", "-c", _gate_source(), system32("sc.exe", system_root),
                   host.service.name, str(host.app.port), health.path or "-",
                   str(health.timeout_s), str(health.settle_s if settle else 0),
                   host.service.stderr or "-", host.service.stdout or "-")


def gate_verdict(stdout: str) -> str:
    """"" when the gate's answer says the app is healthy, else why not (with its last log)."""
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith(GATE_MARK)), None)
    if line is None:
        return f"the health gate gave no answer: {stdout[-300:]!r}"
    doc = strip_controls(json.loads(line[len(GATE_MARK):]))  # the app's log lines: untrusted
    if doc.get("ok"):
        return ""
    log = doc.get("log") or []
    return str(doc.get("why")) + (" | last log lines: " + " / ".join(log[-5:]) if log else "")


def gate_action(host: Host, facts: HostFacts, why: str, *, settle: bool = True) -> Action:
    health = host.app.health
    return Action(why, gate_command(host, facts.system_root, settle=settle),
                  timeout=health.timeout_s + health.settle_s + 120, check=gate_verdict)


def restart_ops(host: Host, facts: HostFacts) -> list[Op]:
    """Stop the service (waiting for STOPPED), then start it; a stopped one is started."""
    sc = system32("sc.exe", facts.system_root)
    name = host.service.name
    return [("stop", sc, name, "120"), ("settle", sc, name, "90"), ("run", sc, "start", name)]


def rollback_actions(host: Host, facts: HostFacts, switch: Switch, why: str) -> list[Action]:
    """Back to ``switch.from_python``: one registry value, a restart, the gate (the old release
    must answer again), one history line."""
    back = switch.from_python or ""
    line = entry("rollback", switch.to_name, switch.from_name, why=why,
                 from_python=release_python(host, switch.to_name), to_python=back)
    return [
        Action(f"switch back to {switch.from_name} (NSSM Application) and restart",
               host_ops(host.python.base, ("run", host.nssm.path, "set", host.service.name,
                                           "Application", back),
                        history_op(host, line), *restart_ops(host, facts)),
               timeout=400),
        gate_action(host, facts, f"check that {switch.from_name} answers again", settle=False),
    ]


def prune_ops(host: Host, facts: HostFacts) -> list[Op]:
    """Remove the oldest release folders beyond ``app.keep_releases`` (``prunable``)."""
    return [("rmtree", win_join(releases_dir(root(host)), name)) for name in prunable(host, facts)]
