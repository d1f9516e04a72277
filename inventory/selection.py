"""A loaded inventory (`Inventory`): its hosts, its groups, and host selection (``web01``, ``web``,
``a,b``, ``web*``, ``!web03``)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from inventory.errors import Problem, SelectionError
from inventory.models import Host


@dataclass(frozen=True)
class Inventory:
    """Validated hosts in file order, and each group's members."""

    path: Path
    hosts: tuple[Host, ...]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]

    def host(self, name: str) -> Host:
        """The host called ``name`` (case-insensitive); :class:`SelectionError` if unknown."""
        found = self._by_key().get(name.casefold())
        if found is None:
            self._unknown([name])
        return found

    def _by_key(self) -> dict[str, Host]:
        return {h.name.casefold(): h for h in self.hosts}

    def _unknown(self, tokens: list[str]) -> NoReturn:
        groups = ", ".join(self.groups) or "none"
        raise SelectionError([Problem(
            str(self.path),
            f"unknown host or group {', '.join(repr(t) for t in tokens)}",
            f"known hosts: {', '.join(self.names) or 'none'}; groups: {groups}",
        )])

    def select(self, pattern: str | None = None) -> list[Host]:
        """Hosts matching a pattern, in file order.

        The pattern is a comma-separated list of host names, group names, shell-style globs
        (``web*``) or ``all``; ``!name`` removes hosts. Names are case-insensitive. Empty or
        ``None`` selects every host. Unknown names, and a pattern that selects no host (``!web01``
        when web01 is the only host), raise :class:`SelectionError`.
        """
        tokens = [t.strip() for t in (pattern or "all").split(",") if t.strip()] or ["all"]
        by_key = self._by_key()
        groups = {g.casefold(): members for g, members in self.groups.items()}
        chosen: set[str] = set()
        unknown: list[str] = []
        includes = [t for t in tokens if not t.startswith("!")]
        for token in (includes or ["all"]) + [t for t in tokens if t.startswith("!")]:
            negate = token.startswith("!")
            key = token.lstrip("!").strip().casefold()
            if key in ("all", "*"):
                found = set(by_key)
            elif key in by_key:
                found = {key}
            elif key in groups:
                found = {m.casefold() for m in groups[key]}
            else:
                found = {k for k in by_key if fnmatch.fnmatchcase(k, key)}
                if not found:
                    unknown.append(token)
            chosen = chosen - found if negate else chosen | found
        if unknown:
            self._unknown(unknown)
        selected = [h for h in self.hosts if h.name.casefold() in chosen]
        if not selected:  # a run over nothing would look like a clean one
            raise SelectionError([Problem(
                str(self.path), f"--host {pattern!r} selects no host",
                f"name at least one host; known hosts: {', '.join(self.names) or 'none'}")])
        return selected
