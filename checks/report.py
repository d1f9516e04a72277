"""What ``pytest checks`` prints: one line per failed requirement, then a summary for the fleet.

Each check test carries its host and requirement as ``user_properties`` (set at collection; they
travel with xdist's reports and become JUnit ``<property>`` elements). :class:`FleetReport`
collects the outcomes the controller sees and writes, at the end, how many hosts fail each
requirement and how many requirements each host fails, with lists capped so that 1,000 hosts
stay readable (``-v``: uncapped).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Pseudo-requirement of ``test_host_reachable``: a host that could not be checked at all.
REACHABLE = "reachable"
#: Names shown per requirement, and hosts listed, before "+N more" (not with ``-v``).
NAMES_SHOWN = 5
HOSTS_SHOWN = 10


def properties(report: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in getattr(report, "user_properties", ()) or ()}


def one_line(report: Any) -> str:
    """A failed report's message on one line (the crash message of an assert, the whole text
    of a ``pytest.fail``)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None and not isinstance(report.longrepr, str) \
        else report.longreprtext
    return " ".join(str(text).split())


def failure_line(host: str, requirement: str, message: str) -> str:
    """``HOST REQUIREMENT: expected X, found Y — fix: Z`` (the message's own host prefix
    dropped)."""
    message = message.removeprefix("Failed: ")
    message = message.removeprefix(f"{host}: ")
    service = requirement.partition(" · ")[2]
    message = message.removeprefix(f"{host} · {service}: ") if service else message
    return f"{host} {requirement}: {message}"


def counted(number: float, noun: str, plural: str = "") -> str:
    """``1 host``, ``2 hosts``, ``6 HTTP requests``, ``6.5 HTTP requests`` (an average shows
    its decimal only when it has one)."""
    shown = f"{number:.0f}" if float(number).is_integer() else f"{number:.1f}"
    return f"{shown} {noun if shown == '1' else plural or noun + 's'}"


def _names(names: list[str], cap: int | None) -> str:
    if cap is None or len(names) <= cap:
        return ", ".join(names)
    return ", ".join(names[:cap]) + f", +{len(names) - cap} more"


@dataclass
class FleetReport:
    """Outcomes per host and requirement, as the controller's reports arrive."""

    hosts: dict[str, None] = field(default_factory=dict)  # seen, in order
    failures: dict[str, list[str]] = field(default_factory=dict)  # host -> requirements
    unreachable: dict[str, str] = field(default_factory=dict)  # host -> cause
    probes: list[dict[str, Any]] = field(default_factory=list)  # each process's probe_stats()

    def add(self, host: str, requirement: str, failed: bool, message: str = "") -> str | None:
        """Record one outcome; return the failure's line (None for a pass or a skip)."""
        self.hosts.setdefault(host, None)
        if not failed:
            return None
        if requirement == REACHABLE:
            self.unreachable[host] = message
        else:
            self.failures.setdefault(host, []).append(requirement)
        return failure_line(host, requirement, message)

    def summary(self, *, verbose: bool = False) -> list[str]:
        """The closing lines: counts, failing requirements, hosts with failures, unreachable."""
        cap_names = None if verbose else NAMES_SHOWN
        cap_hosts = None if verbose else HOSTS_SHOWN
        failing = [h for h in self.hosts if h in self.failures and h not in self.unreachable]
        compliant = len(self.hosts) - len(failing) - len(self.unreachable)
        lines = [f"{counted(len(self.hosts), 'host')}: {compliant} compliant, {len(failing)} "
                 f"failing, {len(self.unreachable)} unreachable"]
        lines += self._probe_lines()
        by_requirement: dict[str, list[str]] = {}
        for host in failing:
            for requirement in dict.fromkeys(self.failures[host]):
                by_requirement.setdefault(requirement, []).append(host)
        if by_requirement:
            width = max(len(r) for r in by_requirement)
            lines.append("failing requirements (hosts failing it):")
            for requirement, names in sorted(by_requirement.items(), key=lambda kv: -len(kv[1])):
                lines.append(f"  {requirement:<{width}} {len(names):>5}  "
                             f"{_names(names, cap_names)}")
        if failing:
            counts = Counter({h: len(self.failures[h]) for h in failing})
            ranked = counts.most_common()
            shown = ranked if cap_hosts is None else ranked[:cap_hosts]
            width = max(len(h) for h, _ in shown)
            lines.append(f"hosts with failures ({len(failing)}, most first):")
            for host, count in shown:
                lines.append(f"  {host:<{width}} {count:>3}  "
                             f"{_names(list(dict.fromkeys(self.failures[host])), cap_names)}")
            if len(ranked) > len(shown):
                lines.append(f"  +{len(ranked) - len(shown)} more hosts with failures (-v lists "
                             "them all)")
        if self.unreachable:
            lines.append(f"unreachable ({len(self.unreachable)}): "
                         f"{_names(list(self.unreachable), cap_hosts)}")
        return lines

    def _probe_lines(self) -> list[str]:
        if not self.probes:
            return []
        hosts = sum(p["hosts"] for p in self.probes)
        if not hosts:
            return []
        seconds = max(p["seconds"] for p in self.probes)  # workers probe at the same time
        requests = sum(p["http_requests"] for p in self.probes) / hosts
        commands = sum(p["commands"] for p in self.probes) / hosts
        where = f" by {len(self.probes)} workers" if len(self.probes) > 1 else ""
        return [f"probed {counted(hosts, 'host')} once each{where} in {seconds:.1f} s: "
                f"{counted(round(requests, 1), 'HTTP request')} and "
                f"{counted(round(commands, 1), 'command')} per host"]
