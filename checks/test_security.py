"""Least privilege: the service's account and what it may touch."""

import pytest

from checks.conftest import require
from compliance.finding import Finding

pytestmark = pytest.mark.security


def test_service_account(finding: Finding) -> None:
    require(finding)


def test_permissions(finding: Finding) -> None:
    require(finding)


def test_logon_right(finding: Finding) -> None:
    require(finding)


def test_base_python_protected(finding: Finding) -> None:
    require(finding)


def test_owners(finding: Finding) -> None:
    require(finding)
