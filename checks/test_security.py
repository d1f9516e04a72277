"""Least privilege: the service's account and what it may touch."""

import pytest

from checks.conftest import require

pytestmark = pytest.mark.security


def test_service_account(judged):
    require(judged["service_account"])


def test_permissions(judged):
    require(judged["permissions"])


def test_logon_right(judged):
    require(judged["logon_right"])
