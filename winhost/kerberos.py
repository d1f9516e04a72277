"""Kerberos credentials for WinRM, checked before the first request so failures read as one line.

Where the ticket comes from (``connection`` in the inventory):

- a password reference (``password_env``/``password_file``/``password_keyring``): tacfleet gets
  a ticket-granting ticket for ``user`` itself (GSSAPI, as ``kinit`` would) into a private
  credential cache of this run — a ``DIR:`` collection in a 0700 temp folder, removed at exit;
- ``keytab_file``: the same, with the key from the keytab;
- neither: the user's own ticket cache (``kinit`` beforehand; ``KRB5CCNAME`` as usual).

pywinrm's Kerberos client (pykerberos) reads the process's ``KRB5CCNAME``, so once a password or
keytab is used this run points ``KRB5CCNAME`` at its private collection; a ticket already in the
user's default cache is copied in first, so hosts relying on it keep working in the same run.

Before connecting, :func:`prepare` asks the KDC for the service ticket ``HTTP/<host>`` as the
first WinRM request would, so an expired ticket, an unknown SPN, a stopped KDC or a skewed clock
is reported with its cause instead of pywinrm's "credentials were rejected".

On a Windows controller Kerberos is SSPI's (pyspnego through sspilib), which has no credential
cache to fill and no keytabs: a referenced password goes with each security context (as
``runas /netonly`` would give it), and without one the Windows logon session's tickets are used;
failures are judged by their SSPI status code, not by their translated text.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from winhost.errors import AuthenticationFailed, HostUnreachable, TacfleetError


class KerberosUnavailable(TacfleetError):
    """The optional Kerberos packages are not installed."""

    fix = "pip install 'tacfleet[kerberos]'"


#: Windows' Kerberos: SSPI, credentials per security context (see the module).
SSPI = sys.platform == "win32"

_lock = threading.Lock()
_private: str | None = None  # DIR: collection of this run, once a password or keytab was used


@dataclass(frozen=True)
class Spn:
    """The service principal a host is reached by: ``HTTP/<hostname>``."""

    hostname: str

    @property
    def gss_name(self) -> str:
        return f"HTTP@{self.hostname}"


def _gssapi() -> Any:
    try:
        import gssapi
        import gssapi.raw
    except ImportError:
        raise KerberosUnavailable("transport kerberos needs the gssapi and pykerberos packages, "
                                  "which are not installed: pip install 'tacfleet[kerberos]'"
                                  ) from None
    return gssapi


def _collection() -> str:
    """This run's private credential-cache collection; KRB5CCNAME points at it from now on."""
    global _private
    if _private is None:
        folder = tempfile.mkdtemp(prefix="tacfleet-krb5cc-")
        atexit.register(shutil.rmtree, folder, True)
        _private = f"DIR:{folder}"
        _adopt_default_cache(_private)
        os.environ["KRB5CCNAME"] = _private
    return _private


def _adopt_default_cache(collection: str) -> None:
    """Copy the user's current default ticket (if any) into ``collection``."""
    gssapi = _gssapi()
    try:
        creds = gssapi.Credentials(usage="initiate")
        if creds.lifetime:
            gssapi.raw.store_cred_into({"ccache": collection}, creds, usage="initiate",
                                       overwrite=True, set_default=True)
    except gssapi.exceptions.GSSError:
        pass  # no usable default ticket: nothing to keep


def _short(exc: BaseException) -> str:
    """GSSAPI's minor (mechanism) message when it has one: it names the Kerberos cause."""
    text = str(exc)
    with contextlib.suppress(Exception):
        text = exc.gen_message()  # type: ignore[attr-defined]
    text = " ".join(str(text).split())
    if "Minor (" in text and "): " in text.rsplit("Minor (", 1)[1]:
        minor = text.rsplit("Minor (", 1)[1].split("): ", 1)[1]
        if minor and "unknown error code" not in minor.lower() and minor != "Success":
            text = minor
    return text[:200]


def _kinit(host: str, principal: str, *, password: SecretStr | None, keytab: str | None) -> None:
    gssapi = _gssapi()
    name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
    with _lock:
        ccache = _collection()
        try:
            if keytab:
                gssapi.Credentials(name=name, usage="initiate",
                                   store={"client_keytab": keytab, "ccache": ccache})
                return
            assert password is not None
            creds = gssapi.raw.acquire_cred_with_password(
                name, password.get_secret_value().encode(), usage="initiate").creds
            gssapi.raw.store_cred_into({"ccache": ccache}, creds, usage="initiate",
                                       overwrite=True)
        except gssapi.exceptions.GSSError as exc:
            raise _explain(host, exc, principal, source="keytab " + keytab if keytab
                           else "its password reference") from None


class KerberosFailed(AuthenticationFailed):
    """Kerberos could not authenticate; the message names the cause, ``fix`` the remedy."""

    def __init__(self, host: str, message: str, fix: str) -> None:
        super().__init__(host, message)
        self.fix = fix


class KdcUnreachable(HostUnreachable):
    """No KDC of the user's realm answers."""

    fix = ("start the KDC, or correct the realm's kdc = <host>:<port> in krb5.conf (KRB5_CONFIG "
           "or /etc/krb5.conf)")


def _explain(host: str, exc: BaseException, principal: str, *, source: str) -> Exception:
    """One line with the cause for a GSSAPI failure, and its fix."""
    text = _short(exc)
    low = text.lower()
    who = principal or "the user"
    if type(exc).__name__ == "ExpiredCredentialsError":
        low = "expired"
    if "cannot contact any kdc" in low or "cannot find kdc" in low:
        return KdcUnreachable(host, f"Kerberos: no KDC answers for {who}'s realm ({text})")
    if "clock skew" in low:
        return KerberosFailed(host, f"Kerberos: this machine's clock and the KDC's differ by "
                              f"more than the allowed skew, 5 minutes ({text})",
                              "synchronise the clocks (NTP) of this machine, the KDC and the host")
    if "expired" in low:
        return KerberosFailed(host, f"Kerberos: the ticket of {who} has expired",
                              f"run kinit {principal}".rstrip() + ", or reference a password "
                              "or keytab_file in the inventory")
    if "not found in kerberos database" in low or "server not found" in low:
        return KerberosFailed(host, f"Kerberos: the KDC knows no such principal ({text})",
                              "set kerberos_hostname_override to the host's name in its SPN "
                              "HTTP/<name> (setspn -L <computer>), or correct user")
    if any(w in low for w in ("password incorrect", "preauthentication failed",
                              "decrypt integrity check failed")) and "ticket cache" not in source:
        return KerberosFailed(host, f"Kerberos: the KDC refused the key of {who} from {source}",
                              "correct the password (or keytab) the inventory references")
    if any(w in low for w in ("no credentials", "no kerberos credentials", "not found",
                              "can't find client principal")):
        return KerberosFailed(host, f"Kerberos: no ticket for {who} ({text})",
                              f"run kinit {principal}".rstrip() + ", or reference a password "
                              "or keytab_file in the inventory")
    return KerberosFailed(host, f"Kerberos: {text}",
                          "run klist and kinit; check krb5.conf (KRB5_CONFIG)")


def client_credentials(principal: str, password: str | None) -> tuple[str | None, str | None]:
    """(username, password) for pyspnego's Kerberos client. SSPI: the principal and its
    password, or neither (the logon session's tickets); elsewhere the principal alone, its
    ticket being in the cache :func:`prepare` filled."""
    if SSPI:
        return (principal, password) if password else (None, None)
    return principal or None, None


#: SSPI status codes (winerror) of the Kerberos failures a user can fix, language-independent.
SEC_E_TARGET_UNKNOWN = 0x80090303
SEC_E_LOGON_DENIED = 0x8009030C
SEC_E_NO_CREDENTIALS = 0x8009030E
SEC_E_NO_AUTHENTICATING_AUTHORITY = 0x80090311
SEC_E_WRONG_PRINCIPAL = 0x80090322
SEC_E_TIME_SKEW = 0x80090324
STATUS_LOGON_FAILURE = 0xC000006D
STATUS_PASSWORD_EXPIRED = 0xC0000071


def sspi_status(exc: BaseException) -> int | None:
    """The SSPI status (unsigned) under a pyspnego error, when it carries one."""
    code = getattr(getattr(exc, "base_error", None), "winerror", None)
    return code & 0xFFFFFFFF if isinstance(code, int) else None


def explain_sspi(host: str, exc: BaseException, principal: str, *, password: bool) -> Exception:
    """One line with the cause of an SSPI Kerberos failure (by its status code), and its fix."""
    code = sspi_status(exc)
    who = principal or "your Windows logon"
    status = f"0x{code:08X}" if code is not None else type(exc).__name__
    if code == SEC_E_NO_AUTHENTICATING_AUTHORITY:
        err = KdcUnreachable(host, f"Kerberos: no domain controller (KDC) answers for {who} "
                             f"(SSPI {status})")
        err.fix = ("start the KDC, or make a domain controller of the realm reachable from "
                   "this machine (nltest /dsgetdc:<domain> finds one); Windows has no krb5.conf")
        return err
    if code == SEC_E_TIME_SKEW:
        return KerberosFailed(host, f"Kerberos: this machine's clock and the KDC's differ by "
                              f"more than the allowed skew, 5 minutes (SSPI {status})",
                              "synchronise the clocks (w32tm /resync) of this machine, the KDC "
                              "and the host")
    if code in (SEC_E_TARGET_UNKNOWN, SEC_E_WRONG_PRINCIPAL):
        return KerberosFailed(host, f"Kerberos: the KDC knows no service principal for the host "
                              f"(SSPI {status})", "set kerberos_hostname_override to the host's "
                              "name in its SPN HTTP/<name> (setspn -L <computer>)")
    if code in (SEC_E_LOGON_DENIED, STATUS_LOGON_FAILURE) and password:
        return KerberosFailed(host, f"Kerberos: the KDC refused the password of {who} from its "
                              f"password reference (SSPI {status})",
                              "correct the password the inventory references")
    if code == STATUS_PASSWORD_EXPIRED:
        return KerberosFailed(host, f"Kerberos: the password of {who} has expired (SSPI "
                              f"{status})", "change it (Ctrl+Alt+Del), then the reference")
    if code in (SEC_E_NO_CREDENTIALS, SEC_E_LOGON_DENIED, STATUS_LOGON_FAILURE):
        return KerberosFailed(host, f"Kerberos: {who} has no ticket for the host's realm "
                              f"(SSPI {status})", "sign in with a domain account (klist shows "
                              "its tickets), or reference the principal's password")
    return KerberosFailed(host, f"Kerberos: SSPI refused the service ticket for the host "
                          f"(SSPI {status}: {_short(exc)})",
                          "run klist; check the realm and the host's SPN (setspn -L <computer>)")


def _prepare_sspi(host: str, *, principal: str, hostname: str, password: SecretStr | None,
                  keytab: str | None, delegate: bool) -> None:
    """:func:`prepare` on Windows: one SSPI context asks the KDC for ``HTTP/<hostname>``."""
    import spnego
    import spnego.exceptions

    if keytab:
        raise KerberosFailed(host, "Kerberos: keytab_file is MIT Kerberos's; Windows' Kerberos "
                             "(SSPI) takes a password or the logon session's tickets",
                             "reference the principal's password (password_env, password_file "
                             "or password_keyring), or remove keytab_file to use your logon")
    user, secret = client_credentials(principal, password.get_secret_value() if password
                                      else None)
    flags = spnego.ContextReq.default
    if delegate:
        flags |= spnego.ContextReq.delegate
    try:
        spnego.client(user, secret, hostname=hostname, service="HTTP", protocol="kerberos",
                      context_req=flags).step()
    except spnego.exceptions.SpnegoError as exc:
        raise explain_sspi(host, exc, principal, password=secret is not None) from None


def prepare(host: str, *, principal: str, hostname: str, password: SecretStr | None = None,
            keytab: str | None = None, delegate: bool = False) -> None:
    """Have a ticket for ``principal`` (from ``password``, ``keytab`` or the user's cache) and
    the service ticket for ``HTTP/<hostname>``; raise a one-line HostError otherwise."""
    if SSPI:
        _prepare_sspi(host, principal=principal, hostname=hostname, password=password,
                      keytab=keytab, delegate=delegate)
        return
    gssapi = _gssapi()
    if password is not None or keytab:
        _kinit(host, principal, password=password, keytab=keytab)
    try:
        name = gssapi.Name(principal, gssapi.NameType.kerberos_principal) if principal else None
        creds = gssapi.Credentials(name=name, usage="initiate")
        if creds.lifetime == 0:
            raise KerberosFailed(host, f"Kerberos: the ticket of {principal or 'the user'} has "
                                 "expired", "run kinit, or reference a password or keytab_file")
        flags = [gssapi.RequirementFlag.mutual_authentication]
        if delegate:
            flags.append(gssapi.RequirementFlag.delegate_to_peer)
        ctx = gssapi.SecurityContext(
            name=gssapi.Name(Spn(hostname).gss_name, gssapi.NameType.hostbased_service),
            creds=creds, usage="initiate", flags=flags)
        ctx.step()  # asks the KDC for the service ticket; nothing is sent to the host
    except gssapi.exceptions.GSSError as exc:
        raise _explain(host, exc, principal, source="the ticket cache") from None
