"""Shared fixtures for unit tests: the authentic Windows samples in tests/data/samples."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleet.interrupt import STOP

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def sample_files(prefix: str) -> list[Path]:
    return sorted(SAMPLES.glob(f"{prefix}*.txt"))


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
