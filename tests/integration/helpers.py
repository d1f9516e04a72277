"""What the sandbox integration tests ask of a host, in one place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from compliance.audit import audit_host
from inventory.models import Host

ROOT = Path(__file__).resolve().parents[2]


def failing(host: Host) -> dict[str, str]:
    """Requirement -> message of every check the host fails now (it must be reachable)."""
    audit = audit_host(host)
    assert not audit.error, audit.error
    return {f.requirement: f.message for f in audit.findings if not f.ok}


def assert_pytest_checks_pass(inventory: Path, host: str = "sandbox") -> None:
    """`pytest checks --host HOST --inventory FILE`, as a user runs it: every check passes."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "checks", "--host", host, "--inventory", str(inventory),
         "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
