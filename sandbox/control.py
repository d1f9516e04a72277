"""Lifecycle of the sandbox host for the Invoke tasks: up, down, reset, status.

The Wine host (``sandbox.host``) and its WinRM endpoint (``sandbox.winrm``) are wired here once
both exist; until then every call says so plainly instead of failing with an import error.
"""

from __future__ import annotations

from typing import Any


class SandboxUnavailable(RuntimeError):
    """The sandbox host cannot be started on this checkout or machine."""


def _require() -> Any:
    import importlib.util

    missing = [m for m in ("sandbox.host", "sandbox.winrm") if importlib.util.find_spec(m) is None]
    if missing:
        raise SandboxUnavailable(
            f"the sandbox Windows host is not part of this checkout yet ({', '.join(missing)} "
            "missing): see the open sandbox issue; point --inventory at a real Windows host"
        )
    raise SandboxUnavailable("the sandbox's lifecycle is not wired yet")


def up(name: str, port: int) -> dict[str, Any]:
    return _require()


def down(name: str) -> None:
    _require()


def reset(name: str) -> None:
    _require()


def status(name: str) -> dict[str, Any]:
    return _require()
