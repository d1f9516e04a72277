"""Python on the host: base interpreter, venv, packages, twistd."""

import pytest

from checks.conftest import require
from compliance.finding import Finding

pytestmark = pytest.mark.python


def test_base_python(finding: Finding) -> None:
    require(finding)


def test_base_tools(finding: Finding) -> None:
    require(finding)


def test_venv_exists(finding: Finding) -> None:
    require(finding)


def test_venv_base(finding: Finding) -> None:
    require(finding)


def test_twisted_importable(finding: Finding) -> None:
    require(finding)


def test_pywin32_installed(finding: Finding) -> None:
    require(finding)


def test_packages_installed(finding: Finding) -> None:
    require(finding)


def test_twistd_help(finding: Finding) -> None:
    require(finding)


def test_wheels_shipped(finding: Finding) -> None:
    require(finding)


def test_bundle_shipped(finding: Finding) -> None:
    require(finding)
