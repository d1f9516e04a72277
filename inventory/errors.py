"""Problems found in an inventory: one readable line each, never a traceback, never a secret."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from winhost.errors import TacfleetError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an inventory, with where it is and how to fix it.

    ``hosts`` lists the hosts it affects (several when the value comes from shared vars);
    ``origin`` names where a shared value was written (``all.vars``, ``group web``);
    ``value`` is already shortened and redacted, or ``None`` when there is no value to show.
    """

    file: str
    message: str
    fix: str = ""
    hosts: tuple[str, ...] = ()
    field: str = ""
    value: str | None = None
    line: int | None = None
    column: int | None = None
    origin: str = ""

    @property
    def host(self) -> str | None:
        """The first host affected, if any."""
        return self.hosts[0] if self.hosts else None

    @property
    def location(self) -> str:
        """``FILE``, ``FILE:LINE`` or ``FILE:LINE:COLUMN``."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        parts = [self.location]
        if self.hosts:
            parts.append(("host " if len(self.hosts) == 1 else "hosts ") + ", ".join(self.hosts))
        elif self.origin:
            parts.append(self.origin)
        if self.field:
            shared = f" (set in {self.origin})" if self.hosts and self.origin else ""
            parts.append(self.field + shared)
        body = self.message if self.value is None else f"value '{self.value}' — {self.message}"
        text = ": ".join(parts) + ": " + body
        if not self.fix:
            return text
        from inventory.rerun import runnable  # a tacfleet command in the fix: for this file

        fix = runnable(self.fix, self.host if len(self.hosts) == 1 else None, self.file)
        return f"{text}; fix: {fix}"


class InventoryError(TacfleetError):
    """An inventory that cannot be used; ``problems`` lists every problem found.

    Each problem's line already carries its fix, so ``fix`` stays empty.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class SelectionError(InventoryError):
    """A host pattern named hosts or groups the inventory does not have."""


class SecretError(InventoryError):
    """A password reference that cannot be resolved (the message never holds the secret)."""


def format_problems(problems: Iterable[Problem], *, file: str | None = None) -> str:
    """Every problem on its own line, then a one-line summary (for CLIs and CI logs)."""
    problems = list(problems)
    if not problems:
        return f"{file}: OK" if file else "OK"
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [str(p) for p in problems]
    lines.append(f"{len(problems)} {noun}" + (f" in {file}" if file else ""))
    return "\n".join(lines)
