"""What the sandbox integration tests ask of a host, in one place."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from compliance.audit import audit_host
from inventory.models import Host
from sandbox.fleet.serve import SimulatedFleet

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


def password_file(folder: Path) -> tuple[str, Path]:
    """A fresh random password and the 0600 file an inventory references it by."""
    password = secrets.token_urlsafe(16)
    path = folder / "password"
    path.write_text(password)
    os.chmod(path, 0o600)
    return password, path


@contextmanager
def simulated_fleet(transcript: Any, hosts: int, *, user: str, password: str,
                    folder: Path) -> Iterator[SimulatedFleet]:
    """``hosts`` simulated hosts answering from ``transcript`` (started; stopped afterwards)."""
    sim = SimulatedFleet(transcript, hosts, user=user, password=password,
                         state_dir=folder / "state").start()
    try:
        yield sim
    finally:
        sim.stop()
