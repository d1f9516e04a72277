"""The Windows service and its NSSM configuration."""

import pytest

from checks.conftest import require

pytestmark = pytest.mark.service


def test_nssm_verified(judged):
    require(judged["nssm_verified"])


def test_service_exists(judged):
    require(judged["service_exists"])


def test_service_application(judged):
    require(judged["service_application"])


def test_tac_file(judged):
    require(judged["tac_file"])


def test_app_directory(judged):
    require(judged["app_directory"])


def test_display_name(judged):
    require(judged["display_name"])


def test_description(judged):
    require(judged["description"])


def test_start_type(judged):
    require(judged["start_type"])


def test_logs_rotated(judged):
    require(judged["logs_rotated"])


def test_restart_policy(judged):
    require(judged["restart_policy"])
