"""Least privilege: the service's account and what it may touch."""

import pytest

from checks.conftest import require
from compliance.requirements import REQUIREMENTS

pytestmark = pytest.mark.security


def test_service_account(spec, facts):
    require(REQUIREMENTS["service_account"](spec, facts))


def test_permissions(spec, facts):
    require(REQUIREMENTS["permissions"](spec, facts))


def test_logon_right(spec, facts):
    require(REQUIREMENTS["logon_right"](spec, facts))
