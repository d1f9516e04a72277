"""A requirement's verdict on one host (and one of its services, on a host with several)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """Whether one requirement holds, and if not: expected, found and the fix."""

    requirement: str
    host: str
    ok: bool
    expected: str = ""
    found: str = ""
    hint: str = ""
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
        return f"{text} — fix: {self.hint}" if self.hint else text
