"""The fleet package is neutral: provision and compliance import it, it imports neither."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fleet_imports_neither_provision_nor_compliance():
    modules = sorted(p.stem for p in (ROOT / "fleet").glob("*.py") if p.stem != "__init__")
    assert {"select", "pool", "processes", "outcome", "interrupt", "progress", "runlog"} <= set(
        modules)
    code = (f"import sys\nfor m in {modules!r}: __import__('fleet.' + m)\n"
            "print(sorted({n.split('.')[0] for n in sys.modules} & "
            "{'provision', 'compliance', 'checks', 'tacfleet_cli', 'tasks'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"
