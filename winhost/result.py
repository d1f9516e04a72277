"""The result of one command run on a host."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """Exit code, decoded output and wall time of one command."""

    rc: int
    stdout: str
    stderr: str
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rc == 0
