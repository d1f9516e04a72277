"""The Windows service and its NSSM configuration."""

import pytest

from checks.conftest import require
from compliance.finding import Finding

pytestmark = pytest.mark.service


def test_nssm_verified(finding: Finding) -> None:
    require(finding)


def test_service_exists(finding: Finding) -> None:
    require(finding)


def test_service_application(finding: Finding) -> None:
    require(finding)


def test_tac_file(finding: Finding) -> None:
    require(finding)


def test_app_directory(finding: Finding) -> None:
    require(finding)


def test_display_name(finding: Finding) -> None:
    require(finding)


def test_description(finding: Finding) -> None:
    require(finding)


def test_start_type(finding: Finding) -> None:
    require(finding)


def test_logs_rotated(finding: Finding) -> None:
    require(finding)


def test_restart_policy(finding: Finding) -> None:
    require(finding)
