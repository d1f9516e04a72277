"""Python on the host: base interpreter, venv, packages, twistd."""

import pytest

from checks.conftest import require
from compliance.requirements import REQUIREMENTS

pytestmark = pytest.mark.python


def test_base_python(spec, facts):
    require(REQUIREMENTS["base_python"](spec, facts))


def test_base_tools(spec, facts):
    require(REQUIREMENTS["base_tools"](spec, facts))


def test_venv_exists(spec, facts):
    require(REQUIREMENTS["venv_exists"](spec, facts))


def test_venv_base(spec, facts):
    require(REQUIREMENTS["venv_base"](spec, facts))


def test_twisted_importable(spec, facts):
    require(REQUIREMENTS["twisted_importable"](spec, facts))


def test_pywin32_installed(spec, facts):
    require(REQUIREMENTS["pywin32_installed"](spec, facts))


def test_packages_installed(spec, facts):
    require(REQUIREMENTS["packages_installed"](spec, facts))


def test_twistd_help(spec, facts):
    require(REQUIREMENTS["twistd_help"](spec, facts))
