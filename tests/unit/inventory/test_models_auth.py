"""Issue 12: the inventory's Kerberos/certificate fields and the one-line missing-extra report."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pydantic import ValidationError

from inventory import models
from inventory.models import ConnectionSettings, missing_extra
from winhost.open import transport_options


def test_missing_kerberos_packages_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "kerberos" else real(name, *a))
    problem, fix = missing_extra("kerberos") or ("", "")
    assert "kerberos" in problem and fix == "pip install 'tacfleet[kerberos]'"
    with pytest.raises(ValidationError) as info:
        ConnectionSettings(address="h", transport="kerberos")
    assert "pip install 'tacfleet[kerberos]'" in str(info.value)


def test_missing_credssp_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert missing_extra("credssp") == (
        "credssp needs Python packages that are not installed (requests_credssp)",
        "pip install 'tacfleet[credssp]'")
    assert missing_extra("ntlm") is None


def test_kerberos_needs_no_password_but_a_principal_with_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "missing_extra", lambda transport: None)
    assert ConnectionSettings(address="10.0.0.5", transport="kerberos").needs_password is False
    with pytest.raises(ValidationError, match="needs the principal"):
        ConnectionSettings(address="h", transport="kerberos", password_env="PW")
    keytab = tmp_path / "u.keytab"
    keytab.write_bytes(b"\x05\x02")
    with pytest.raises(ValidationError, match="a keytab and a password reference"):
        ConnectionSettings(address="h", transport="kerberos", user="u@R", password_env="PW",
                   keytab_file=keytab)
    with pytest.raises(ValidationError, match="only used with transport: kerberos"):
        ConnectionSettings(address="h", user="u", password_env="PW", keytab_file=keytab)


def test_kerberos_and_certificate_settings_reach_pywinrm(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "missing_extra", lambda transport: None)
    from inventory.models import Host

    base = {"name": "web01", "app": {"name": "A", "tac_file": r"C:\A\a.tac"},
            "service": {"name": "a"}}
    kerb = Host.model_validate({**base, "connection": {
        "address": "10.0.0.5", "transport": "kerberos", "kerberos_delegation": True,
        "kerberos_hostname_override": "web01.corp.example"}})
    assert transport_options(kerb) == {"kerberos_delegation": True,
                                       "kerberos_hostname_override": "web01.corp.example"}
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("y")
    certificate = Host.model_validate({**base, "connection": {
        "address": "web01", "transport": "certificate", "cert_pem": str(cert),
        "cert_key_pem": str(key)}})
    assert transport_options(certificate) == {"cert_pem": str(cert), "cert_key_pem": str(key)}
