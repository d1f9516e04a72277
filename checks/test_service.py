"""The Windows service and its NSSM configuration."""

import pytest

from checks.conftest import require
from compliance.requirements import REQUIREMENTS

pytestmark = pytest.mark.service


def test_nssm_verified(spec, facts):
    require(REQUIREMENTS["nssm_verified"](spec, facts))


def test_service_exists(spec, facts):
    require(REQUIREMENTS["service_exists"](spec, facts))


def test_service_application(spec, facts):
    require(REQUIREMENTS["service_application"](spec, facts))


def test_tac_file(spec, facts):
    require(REQUIREMENTS["tac_file"](spec, facts))


def test_app_directory(spec, facts):
    require(REQUIREMENTS["app_directory"](spec, facts))


def test_display_name(spec, facts):
    require(REQUIREMENTS["display_name"](spec, facts))


def test_description(spec, facts):
    require(REQUIREMENTS["description"](spec, facts))


def test_start_type(spec, facts):
    require(REQUIREMENTS["start_type"](spec, facts))


def test_logs_rotated(spec, facts):
    require(REQUIREMENTS["logs_rotated"](spec, facts))


def test_restart_policy(spec, facts):
    require(REQUIREMENTS["restart_policy"](spec, facts))
