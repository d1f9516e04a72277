"""Shared fixtures for unit tests: the authentic Windows samples in tests/data/samples, the night
run's fleet file, no pending Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleet.interrupt import STOP
from tests.support import SAMPLES
from tests.support.fakes import CANARY, FLEET


@pytest.fixture
def sample() -> Callable[[str], str]:
    def read(name: str) -> str:
        return (SAMPLES / name).read_bytes().decode("utf-8")

    return read


@pytest.fixture(autouse=True)
def _clean_stop() -> Iterator[None]:
    """Every test starts and ends without a pending Ctrl-C (``fleet.interrupt.STOP``)."""
    STOP.clear()
    yield
    STOP.clear()


@pytest.fixture
def fleet_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The night run's four hosts (``tests.support.fakes.FLEET``) and their secrets' variables."""
    monkeypatch.setenv("H5_PASSWORD", CANARY + "-pw")
    monkeypatch.setenv("H5_DB_PASSWORD", CANARY)
    monkeypatch.setenv("DB_ADMIN_PASSWORD", CANARY + "-admin")
    monkeypatch.delenv("H5_UNSET_PASSWORD", raising=False)
    monkeypatch.delenv("TACFLEET_DEBUG", raising=False)
    path = tmp_path / "fleet.yml"
    path.write_text(FLEET, encoding="utf-8")
    return path

