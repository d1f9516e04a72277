"""How a provisioning run goes: the options of ``invoke provision`` (and ``plan``) as one value.

Each option is declared once, here, with its default and its help text; the Invoke task takes
them as parameters (Invoke reads flags from the task's signature, defaulting to
:data:`DEFAULTS`), builds one :class:`ProvisionOptions` with :meth:`ProvisionOptions.from_flags`
and passes it down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


def _option(default: Any, help: str, flag: str = "") -> Any:
    return field(default=default, metadata={"help": help, "flag": flag})


@dataclass(frozen=True)
class ProvisionOptions:
    """One provisioning run's options (``--host``/``--inventory``/``--log`` are every task's)."""

    check: bool = _option(False, "show the plan and change nothing (same as --dry-run and "
                                 "`invoke plan`)")
    verbose: bool = _option(False, "show why each step changes and every command line in "
                                   "full (secrets masked)")
    diff: bool = _option(False, "show each changing step's requirements as found (-) and "
                                "expected (+)")
    detailed_exitcode: bool = _option(False, "exit 0 when nothing changes or would change, 2 "
                                             "when something does, 1 on any error (CI)")
    as_json: bool = _option(False, "print machine-readable results instead of the table",
                            flag="json")
    force_recreate: bool = _option(False, "rebuild a venv that was made by another Python")
    adopt: bool = _option(False, "take over an existing service that runs something else")
    parallel: int = _option(4, "hosts to work on at once (default 4)")
    batch: str | None = _option(None, "roll out in batches of this many hosts or this share "
                                      "(e.g. 10%)")
    max_fail: str = _option("0", "stop the rollout when a batch has more failed hosts (count "
                                 "or %, default 0)")
    canary: int = _option(0, "first provision this many hosts alone, then the rest in --batch "
                             "batches (default 0: none)")
    rollback_on_stop: bool = _option(True, "when a batch stops the rollout, roll back its hosts "
                                           "that were upgraded, so the batch is on one release "
                                           "(--no-rollback-on-stop keeps them)")
    shard: str | None = _option(None, "only shard i of n of the selected hosts (e.g. 2/4), for "
                                      "CI matrices")

    #: Task flags that only spell another option: ``--dry-run`` is ``--check``.
    ALIASES: ClassVar[dict[str, str]] = {"dry_run": "check"}

    @classmethod
    def flag_help(cls) -> dict[str, str]:
        """Each task flag (Invoke's parameter name) with its help text."""
        helps = {f.metadata["flag"] or f.name: f.metadata["help"] for f in fields(cls)}
        return helps | {alias: f"alias of --{option}" for alias, option in cls.ALIASES.items()}

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> ProvisionOptions:
        """The options from a task's parameters by flag name (others, like ``host``, ignored);
        an alias set to true sets its option."""
        values = {f.name: flags[f.metadata["flag"] or f.name] for f in fields(cls)
                  if (f.metadata["flag"] or f.name) in flags}
        for alias, option in cls.ALIASES.items():
            if flags.get(alias):
                values[option] = True
        return cls(**values)


#: The defaults, for the task's parameters.
DEFAULTS = ProvisionOptions()
