"""What several test modules share that is not a fixture (fixtures live in the conftest files):
the repository's paths, probe documents (``probe_doc``), a silent loopback listener
(``loopback``) and the night run's fake connections (``fakes``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Authentic outputs of Windows programs (see its README) and inventories for the tests.
DATA = ROOT / "tests" / "data"
SAMPLES = DATA / "samples"


def sample_files(prefix: str) -> list[Path]:
    """The samples whose file name starts with ``prefix``, sorted."""
    return sorted(SAMPLES.glob(f"{prefix}*.txt"))
