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
    #: skipped because the inventory does not ask for it (not because of what the host lacks)
    not_configured: bool = False


def skip(why: str, *, not_configured: bool = False) -> Verdict:
    """A requirement that does not apply to this host (nothing to judge): ``why`` is shown.
    ``not_configured``: the inventory does not ask for it (no offline wheelhouse, no shipped
    wheels, no releases), so a step that only makes it true does not apply at all; otherwise
    it is moot for now (no base Python yet) and may apply once an earlier step ran."""
    return Verdict(True, found=why, skipped=True, not_configured=not_configured)


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
    #: skipped because the inventory does not ask for it (:func:`skip`)
    not_configured: bool = False

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
