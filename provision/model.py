"""Plans and results of provisioning steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from fleet.outcome import HostOutcome
from winhost.cmdline import Command
from winhost.connection import Stdin


class Status(StrEnum):
    OK = "ok"
    WOULD_CHANGE = "would change"
    CHANGED = "changed"
    WOULD_FAIL = "would fail"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Action:
    """One command that changes the host (a program by full path, no cmd.exe), and what for."""

    why: str
    command: Command
    timeout: float = 600.0
    #: the command stops the service and starts it again itself (an in-use file replaced):
    #: every change before it is live, no further restart is owed for them
    restarts: bool = False
    #: what to do when the command's program does not exist on the host
    missing_fix: str = ""
    #: reads the command's output: "" when it shows success, else why not (the action fails)
    check: Callable[[str], str] | None = None
    #: run (its result unread) when this action fails, to leave nothing half-done behind
    cleanup: Command | None = None
    #: the program's standard input (streamed over WinRS), when it reads one
    stdin: Stdin | None = field(default=None, repr=False)
    #: what the standard input carries, as a plan shows it (secrets masked: ``NAME=***``)
    stdin_shown: str = ""
    #: the command switches the release (``app.releases``): once it ran, even a failure of it
    #: may have left the new release in place, so a failure rolls back
    switches: bool = False


    @property
    def shown(self) -> str:
        """The command line as a plan and a report show it, with what its standard input
        carries (masked) when that says more than the line: a secret read by the host."""
        line = self.command.line
        return f"{line} (standard input: {self.stdin_shown})" if self.stdin_shown else line


@dataclass(frozen=True)
class Blocked:
    """A step that cannot proceed; the message says why and how to fix it."""

    message: str


@dataclass
class StepResult:
    step: str
    title: str
    status: Status
    reasons: list[str] = field(default_factory=list)  # the findings that made it change
    restart: str = ""  # "restart: yes/no, because …" for a step that (would) change
    commands: list[str] = field(default_factory=list)  # the lines sent (Command.line)
    message: str = ""
    output: str = ""
    rc: int | None = None
    elapsed: float = 0.0
    #: the service the step worked on, on a host with several ("" for host-wide steps)
    service: str = ""
    #: what made it (would) change: (requirement, expected, found) per failing requirement
    changes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The step's title, with its service on a host with several (``title · service``)."""
        return f"{self.title} · {self.service}" if self.service else self.title


@dataclass
class HostRun(HostOutcome):
    """One host's provisioning (or plan): its steps, or the error that stopped it."""

    check_only: bool = field(kw_only=True)
    steps: list[StepResult] = field(default_factory=list, kw_only=True)
    #: per service whose release failed after its switch: "rolled back to X: why" (app.releases)
    rolled_back: list[str] = field(default_factory=list, kw_only=True)

    def count(self, *statuses: Status) -> int:
        return sum(1 for s in self.steps if s.status in statuses)

    @property
    def failed(self) -> bool:
        return bool(self.error) or self.count(Status.FAILED, Status.WOULD_FAIL) > 0

    @property
    def changed(self) -> int:
        return self.count(Status.CHANGED, Status.WOULD_CHANGE)

    @property
    def upgraded(self) -> bool:
        """Did a release pass its health gate in this run (``app.releases``)?"""
        return any(s.step == "release_gate" and s.status is Status.CHANGED for s in self.steps)

    @property
    def outcome(self) -> str:
        """``rolled back``, ``failed``, ``upgraded``, ``changed`` or ``unchanged``."""
        if self.rolled_back:
            return "rolled back"
        if self.failed:
            return "failed"
        return "upgraded" if self.upgraded else "changed" if self.changed else "unchanged"

    def summary(self) -> str:
        if self.error:
            what = "checked" if self.check_only else "provisioned"
            return f"{self.host}: could not be {what}: {self.error}"
        verb = "would change" if self.check_only else "changed"
        back = "".join(f"; {line}" for line in self.rolled_back)
        skipped = self.count(Status.SKIPPED)
        return (
            f"{self.host}: ok={self.count(Status.OK)} {verb}={self.changed} "
            f"failed={self.count(Status.FAILED, Status.WOULD_FAIL)}"
            + (f" (not configured: {skipped} step(s))" if skipped else "")
            + f" commands={self.commands} http={self.http_requests} "
            f"time={self.elapsed:.1f}s{back}"
        )
