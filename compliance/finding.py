"""A requirement's verdict on one host."""

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

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.host}: {self.requirement}: ok ({self.found or self.expected})"
        text = f"{self.host}: expected {self.expected}, found {self.found}"
        return f"{text} — fix: {self.hint}" if self.hint else text
