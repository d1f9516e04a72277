"""Python on the host: base interpreter, venv, packages, twistd."""

import pytest

from checks.conftest import require

pytestmark = pytest.mark.python


def test_base_python(judged):
    require(judged["base_python"])


def test_base_tools(judged):
    require(judged["base_tools"])


def test_venv_exists(judged):
    require(judged["venv_exists"])


def test_venv_base(judged):
    require(judged["venv_base"])


def test_twisted_importable(judged):
    require(judged["twisted_importable"])


def test_pywin32_installed(judged):
    require(judged["pywin32_installed"])


def test_packages_installed(judged):
    require(judged["packages_installed"])


def test_twistd_help(judged):
    require(judged["twistd_help"])


def test_wheels_shipped(judged):
    require(judged["wheels_shipped"])
