"""What the sandbox integration tests ask of a host, in one place."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from compliance.audit import audit_host
from inventory.models import Host
from sandbox.fleet.inventory import fleet_inventory_data
from sandbox.fleet.serve import DEFAULT_TRANSCRIPT, SimulatedFleet
from tests.support.pytest_checks import run_checks

ROOT = Path(__file__).resolve().parents[2]


def failing(host: Host) -> dict[str, str]:
    """Requirement -> message of every check the host fails now (it must be reachable)."""
    audit = audit_host(host)
    assert not audit.error, audit.error
    return {f.requirement: f.message for f in audit.findings if not f.ok}


def assert_pytest_checks_pass(inventory: Path, host: str = "sandbox") -> None:
    """`pytest checks --host HOST --inventory FILE`, as a user runs it: every check passes."""
    proc = run_checks(inventory, "--host", host, "-q")
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


@contextmanager
def fleet_and_inventory(folder: Path, hosts: int, *, user: str,
                        change: Callable[[dict[str, Any]], None] | None = None,
                        ) -> Iterator[tuple[SimulatedFleet, Path, str]]:
    """``hosts`` simulated hosts answering from the default transcript with a fresh password,
    and their inventory ``folder/fleet.yml`` (``change`` edits its data first): the fleet, the
    inventory and the password; the fleet is stopped afterwards."""
    password, secret = password_file(folder)
    with simulated_fleet(DEFAULT_TRANSCRIPT, hosts, user=user, password=password,
                         folder=folder) as sim:
        data = fleet_inventory_data(sim.ports, password_file=secret, user=user)
        if change is not None:
            change(data)
        inventory = folder / "fleet.yml"
        inventory.write_text(yaml.safe_dump(data, sort_keys=False))
        yield sim, inventory, password
