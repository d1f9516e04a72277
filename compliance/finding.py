"""A requirement's verdict on one host, and the finding it makes (the verdict, named)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """What a requirement's judge decides: whether it holds, and if not expected, found and
    the fix. The requirement's registration names it (``Requirement.__call__``)."""

    ok: bool
    expected: str = ""
    found: str = ""
    fix: str = ""
    skipped: bool = False


def skip(why: str) -> Verdict:
    """A requirement that does not apply to this host (nothing to judge): ``why`` is shown."""
    return Verdict(True, found=why, skipped=True)


@dataclass(frozen=True)
class Finding:
    """Whether one requirement holds on one host, and if not: expected, found and the fix."""

    requirement: str
    host: str
    ok: bool
    expected: str = ""
    found: str = ""
    fix: str = ""
    skipped: bool = False
    #: the service judged, on a host with several services ("" for host-wide requirements)
    service: str = ""

    @property
    def where(self) -> str:
        """``host`` or ``host · service``."""
        return f"{self.host} · {self.service}" if self.service else self.host

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.where}: {self.requirement}: ok ({self.found or self.expected})"
        text = f"{self.where}: expected {self.expected}, found {self.found}"
        return f"{text} — fix: {self.fix}" if self.fix else text
