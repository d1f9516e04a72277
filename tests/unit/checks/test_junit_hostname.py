"""`pytest checks --junitxml`: each case names its host as the ``hostname`` attribute where
pytest keeps one (junit_family xunit1/legacy) and as the ``host`` property always."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from tests.support.fakes import run_pytest_checks


@pytest.mark.parametrize("family", ["xunit1", "xunit2"])
def test_each_case_carries_its_host(fleet_file, tmp_path, family):
    junit = tmp_path / "junit.xml"
    done = run_pytest_checks("--inventory", str(fleet_file), "--host", "good,drifted",
                             f"--junitxml={junit}", "-o", f"junit_family={family}",
                             "--check-deadline", "5", env={**os.environ,
                                                           "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 1, done.stdout + done.stderr  # port 1: both unreachable
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    hosts = {c.get("name"): next(p.get("value") for p in c.iter("property")
                                 if p.get("name") == "host") for c in cases}
    assert len(cases) >= 40 and set(hosts.values()) == {"good", "drifted"}
    assert all(f"[{h}]" in name for name, h in hosts.items())
    if family == "xunit1":
        assert {c.get("name"): c.get("hostname") for c in cases} == hosts
    else:  # the strict schema: hostname belongs to the testsuite, pytest drops it on a case
        assert all(c.get("hostname") is None for c in cases)
