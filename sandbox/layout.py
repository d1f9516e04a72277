"""Where a named sandbox host keeps its files (one decision, used by the daemon and the tasks)."""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from sandbox.host.image import cache_root

USER = "tacfleet"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$")


class Paths:
    """``<cache>/<name>/``: prefix/, password (0600), state.json, requests.log, stats.json…"""

    def __init__(self, name: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"sandbox name {name!r}: use letters, digits, '-' or '_' "
                             "(up to 31 characters), e.g. --name web01")
        self.name = name
        self.root = cache_root() / name
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    @property
    def prefix(self) -> Path:
        return self.root / "prefix"

    @property
    def password(self) -> Path:
        return self.root / "password"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    def read_password(self) -> str:
        """The host's password, generated on first use into a 0600 file; never printed."""
        if not self.password.exists():
            fd = os.open(self.password, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(24) + "\n")
        return self.password.read_text().strip()


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
