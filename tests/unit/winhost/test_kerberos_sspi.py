"""Kerberos on a Windows controller (SSPI): the credentials pyspnego gets and the one line each
SSPI status code becomes. The codes are Microsoft's (winerror.h / ntstatus.h); Windows gives them
whatever the language of its messages. End to end under Wine: test_controller_on_windows.py."""

from __future__ import annotations

import pytest
import spnego.exceptions
from pydantic import SecretStr

from winhost import kerberos
from winhost.errors import HostUnreachable


class WinError(Exception):
    """What sspilib raises: a Windows error with its status code, signed as Windows has it."""

    def __init__(self, code: int, text: str = "Der Zielprinzipalname ist falsch") -> None:
        super().__init__(text)
        self.winerror = code - (1 << 32) if code & 0x80000000 else code


def sspi_failure(code: int) -> spnego.exceptions.SpnegoError:
    return spnego.exceptions.SpnegoError(base_error=WinError(code))


@pytest.mark.parametrize(("code", "password", "says", "fix"), [
    (kerberos.SEC_E_NO_AUTHENTICATING_AUTHORITY, True, "no domain controller (KDC) answers",
     "nltest /dsgetdc"),
    (kerberos.SEC_E_TIME_SKEW, True, "differ by more than the allowed skew", "w32tm /resync"),
    (kerberos.SEC_E_TARGET_UNKNOWN, False, "knows no service principal for the host",
     "kerberos_hostname_override"),
    (kerberos.SEC_E_LOGON_DENIED, True, "refused the password of ops@CORP.TEST",
     "correct the password"),
    (kerberos.STATUS_LOGON_FAILURE, True, "refused the password", "correct the password"),
    (kerberos.SEC_E_NO_CREDENTIALS, False, "ops@CORP.TEST has no ticket for the host's realm",
     "sign in with a domain account"),
    (0x80090304, False, "SSPI refused the service ticket for the host (SSPI 0x80090304",
     "setspn -L"),
])
def test_each_sspi_status_is_one_line_with_its_fix(code, password, says, fix):
    err = kerberos.explain_sspi("web01", sspi_failure(code), "ops@CORP.TEST", password=password)
    text = str(err)
    assert text.startswith("web01: Kerberos: ") and says in text, text
    assert f"0x{code:08X}" in text and "\n" not in text
    assert fix in err.fix  # type: ignore[attr-defined]


def test_no_kdc_is_an_unreachable_host_not_a_refusal():
    err = kerberos.explain_sspi("web01", sspi_failure(kerberos.SEC_E_NO_AUTHENTICATING_AUTHORITY),
                                "", password=False)
    assert isinstance(err, HostUnreachable) and "your Windows logon" in str(err)


def test_the_code_decides_not_the_translated_text():
    german = spnego.exceptions.SpnegoError(base_error=WinError(kerberos.SEC_E_TIME_SKEW,
                                                               "Die Uhrzeit weicht ab"))
    assert "allowed skew" in str(kerberos.explain_sspi("h", german, "", password=False))
    assert kerberos.sspi_status(spnego.exceptions.NoCredentialError(context_msg="no code")) is None


def test_credentials_go_with_the_context_on_windows_and_through_the_cache_elsewhere(
        monkeypatch):
    monkeypatch.setattr(kerberos, "SSPI", False)
    assert kerberos.client_credentials("ops@CORP.TEST", "pw") == ("ops@CORP.TEST", None)
    assert kerberos.client_credentials("", None) == (None, None)
    monkeypatch.setattr(kerberos, "SSPI", True)
    assert kerberos.client_credentials("ops@CORP.TEST", "pw") == ("ops@CORP.TEST", "pw")
    assert kerberos.client_credentials("ops@CORP.TEST", None) == (None, None)  # the logon


def test_a_keytab_on_windows_is_refused_with_the_way_that_works(monkeypatch):
    monkeypatch.setattr(kerberos, "SSPI", True)
    with pytest.raises(kerberos.KerberosFailed) as caught:
        kerberos.prepare("web01", principal="ops@CORP.TEST", hostname="web01.corp.test",
                         password=SecretStr("pw-unit-2"), keytab="C:\\keys\\ops.keytab")
    assert "keytab_file is MIT Kerberos's" in str(caught.value)
    assert "password_env" in caught.value.fix and "pw-unit-2" not in str(caught.value)
