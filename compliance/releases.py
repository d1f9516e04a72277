r"""What a host's facts say about its releases (``app.releases``): which one NSSM starts,
whether its switch still owes the health gate, which were rolled back, which may be removed.

The facts are the release folders under ``<root>\releases`` and the history each deploy and
rollback appends to (``provision.releases``), read by the probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inventory.models import Host, venv_scripts
from inventory.releases import release_of, releases_dir
from inventory.winpath import same_path, win_join
from winhost.probe import HostFacts

#: Application is the root's own venv: the layout before ``app.releases`` was turned on.
BEFORE_RELEASES = "the venv before releases"


@dataclass(frozen=True)
class Switch:
    """A switch of one service from one release to another (pending until the gate passes)."""

    from_python: str | None  # Application before the switch (None: nothing to go back to)
    from_name: str
    to_name: str
    this_run: bool = True  # False: switched by an earlier run, its gate still owed


def root(host: Host) -> str:
    return host.python.release_root or host.python.venv


def release_name(host: Host, python: Any) -> str | None:
    """Which release an Application value is: a release's name, ``BEFORE_RELEASES``, or None
    (not this service's venvs)."""
    if not isinstance(python, str):
        return None
    if same_path(python, win_join(venv_scripts(root(host)), "python.exe")):
        return BEFORE_RELEASES
    return release_of(python, root(host))


def release_python(host: Host, name: str) -> str:
    r"""``<root>\releases\<name>\Scripts\python.exe``: what NSSM starts for release ``name``."""
    return win_join(venv_scripts(win_join(releases_dir(root(host)), name)), "python.exe")


def wanted(host: Host) -> str:
    """The release the inventory asks for (the unit's venv's folder name)."""
    return host.python.venv.rsplit("\\", 1)[-1]


def running(host: Host, facts: HostFacts) -> str | None:
    """The release NSSM starts (its Application), or None."""
    return release_name(host, facts.service.parameters.get("Application"))


def history(facts: HostFacts) -> list[dict[str, Any]]:
    return list(facts.releases.history) if facts.releases else []


def pending(host: Host, facts: HostFacts) -> Switch | None:
    """The switch to the running release whose gate has not passed (the last history line is
    that switch), or None."""
    lines = history(facts)
    now = running(host, facts)
    if not lines or now is None:
        return None
    last = lines[-1]
    if last.get("action") != "switch" or last.get("to") != now:
        return None
    return Switch(last.get("from_python"), str(last.get("from") or ""), now, this_run=False)


def rolled_back(facts: HostFacts, name: str) -> dict[str, Any] | None:
    """The last rollback away from release ``name``, if any."""
    return next((line for line in reversed(history(facts))
                 if line.get("action") == "rollback" and line.get("from") == name), None)


def prunable(host: Host, facts: HostFacts) -> list[str]:
    """The oldest release folders beyond ``app.keep_releases``, oldest first; never the running
    one, the one it was switched from (rollback's target) or the one the inventory asks for."""
    if facts.releases is None:
        return []
    keep = {wanted(host).lower()}
    now = running(host, facts)
    keep |= {now.lower()} if now else set()
    for line in reversed(history(facts)):
        if line.get("to") == now and line.get("action") in ("switch", "rollback"):
            keep.add(str(line.get("from") or "").lower())
            break
    ours = [r for r in facts.releases.names if release_of(
        win_join(releases_dir(root(host)), r.name, "Scripts", "python.exe"), root(host))]
    ours.sort(key=lambda r: r.mtime)
    extra = max(0, len(ours) - host.app.keep_releases)
    return [r.name for r in ours if r.name.lower() not in keep][:extra]


def summary(host: Host, facts: HostFacts) -> list[dict[str, Any]]:
    """Per service with ``app.releases``: the running release, the one the inventory asks for,
    and the last deploys and rollbacks (who, when, from, to, why) -- what drift reports show."""
    found = []
    for unit in host.units():
        if not unit.app.releases:
            continue
        view = facts.for_service(unit.service.name)
        lines = [{k: line.get(k) for k in ("at", "by", "action", "from", "to", "why")}
                 for line in history(view)[-10:]]
        found.append({"service": unit.service.name, "running": running(unit, view),
                      "wanted": wanted(unit), "history": lines})
    return found
