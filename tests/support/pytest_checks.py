"""The compliance suite run as a user or CI runs it: ``python -m pytest checks --inventory FILE``
in a process of its own (its conftest, its plugin options, its exit code)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def run_checks(inventory: Path, *args: str, timeout: float = 300
               ) -> subprocess.CompletedProcess[str]:
    """``pytest checks --inventory INVENTORY ARGS…`` from the repository's root, its output
    captured as text (no cache, no bytecode written)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "checks"), "-p", "no:cacheprovider",
         "--inventory", str(inventory), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
