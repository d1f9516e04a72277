"""tacfleet's pytest options and markers, as a plugin: ``pytest checks`` in a checkout loads it
from the root ``conftest.py``; the installed tool's ``tacfleet check`` passes ``-p checks.options``
(no checkout, no conftest.py above the installed ``checks`` package). The compliance fixtures
live in ``checks/conftest.py``.
"""

from __future__ import annotations

import pytest

#: The checks' markers (``-m python``, ``-m "not runtime"``).
MARKERS = {
    "python": "checks of the Python base, venv and packages",
    "service": "checks of the Windows service and NSSM",
    "security": "checks of the service account and file permissions",
    "runtime": "checks of the running service and the app",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, meaning in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tacfleet")
    group.addoption(
        "--host",
        dest="tacfleet_host",
        default=None,
        help="hosts to check: a name, a group or a comma list (default: every host)",
    )
    group.addoption(
        "--inventory",
        dest="tacfleet_inventory",
        default=None,
        help="inventory file (default: $TACFLEET_INVENTORY or inventory/hosts.yml)",
    )
    group.addoption(
        "--check-deadline",
        dest="tacfleet_deadline",
        type=float,
        default=None,
        help="seconds a host gets for its probe (default: connection.check_deadline, 45)",
    )
    group.addoption(
        "--parallel",
        dest="tacfleet_parallel",
        type=int,
        default=None,
        help="hosts probed at a time at the start of the run, over all xdist workers "
             "(default: 64)",
    )
    group.addoption(
        "--second-opinion",
        dest="tacfleet_second_opinion",
        action="store_true",
        default=False,
        help="also run the tests that send their own command to each host (testinfra's "
             "`sc query`): a second shell and command per host",
    )
    group.addoption(
        "--per-host",
        dest="tacfleet_per_host",
        action="store_true",
        default=False,
        help="one test per host judging every requirement -m/-k select, failing with one line "
             "per failed requirement (for fleets: pytest's cost per test is the bulk of a "
             "1,000-host run)",
    )
