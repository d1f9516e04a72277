"""Open the connection an inventory entry describes: ``open_connection(host)``.

Like testinfra's ``get_backend``: the entry's ``connection.kind`` and ``transport`` pick the
module (``local_connection``, ``winrm_connection``); optional packages, the client certificate
and Kerberos credentials are checked first, each failure one line with its fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from inventory.models import Host, missing_extra
from inventory.secrets import resolve_password
from winhost.connection import Connection
from winhost.errors import AuthenticationFailed, TacfleetError
from winhost.local_connection import LocalConnection
from winhost.winrm_connection import WinRMConnection


class MissingExtra(TacfleetError):
    """A transport needs optional Python packages that are not installed."""


def transport_options(host: Host) -> dict[str, Any]:
    """pywinrm ``Protocol`` options for the inventory's Kerberos and certificate settings."""
    conn = host.connection
    options: dict[str, Any] = {}
    if conn.transport == "kerberos":
        options["kerberos_delegation"] = conn.kerberos_delegation
        if conn.kerberos_hostname_override:
            options["kerberos_hostname_override"] = conn.kerberos_hostname_override
    if conn.transport == "certificate":
        options["cert_pem"] = str(conn.cert_pem)
        options["cert_key_pem"] = str(conn.cert_key_pem)
    return options


def _check_client_certificate(host: str, path: str) -> None:
    """A client certificate that is not (or no longer) valid is one line before any request."""
    import datetime as dt

    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        err = AuthenticationFailed(host, f"cert_pem {path} is not a PEM certificate ({exc})")
        err.fix = "point cert_pem at the client certificate (PEM) mapped on the host"
        raise err from None
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        when = (f"expired on {cert.not_valid_after_utc:%Y-%m-%d}" if now > cert.not_valid_after_utc
                else f"is valid only from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
        err = AuthenticationFailed(host, f"the client certificate {path} {when}")
        err.fix = "issue a new client certificate and map it on the host (certmapping)"
        raise err


def kerberos_password(host: Host) -> SecretStr | None:
    """The password to get a Kerberos ticket with, when the inventory references one."""
    conn = host.connection
    return resolve_password(conn, host=host.name) if conn.password_refs else None


def open_connection(host: Host) -> Connection:
    """A connection to ``host``; its password is read from its reference only now.

    Kerberos credentials are made ready first (``winhost.kerberos.prepare``): a failure there is
    one line naming the cause (KDC, password, expired ticket, unknown SPN, clock).
    """
    conn = host.connection
    if conn.kind == "local":
        return LocalConnection(host.name, codepage=conn.codepage)
    missing = missing_extra(conn.transport)
    if missing:
        err = MissingExtra(f"{host.name}: {missing[0]}")
        err.fix = missing[1]
        raise err
    password = SecretStr("")
    if conn.password_refs:
        password = resolve_password(conn, host=host.name)
    elif conn.needs_password:
        password = resolve_password(conn, host=host.name)  # raises: names the missing reference
    if conn.transport == "certificate" and conn.cert_pem:
        _check_client_certificate(host.name, str(conn.cert_pem))
    if conn.transport == "kerberos":
        from winhost import kerberos

        kerberos.prepare(
            host.name, principal=conn.user or "",
            hostname=conn.kerberos_hostname_override or conn.address or host.name,
            password=password if conn.password_refs else None,
            keytab=str(conn.keytab_file) if conn.keytab_file else None,
            delegate=conn.kerberos_delegation)
    return WinRMConnection(
        host.name,
        conn.endpoint,
        user=conn.user or "",
        password=password,
        transport=conn.transport,
        cert_validation=conn.cert_validation,
        ca_file=str(conn.ca_file) if conn.ca_file else None,
        operation_timeout=conn.operation_timeout,
        max_envelope_kb=conn.max_envelope_kb,
        read_timeout=conn.read_timeout,
        codepage=conn.codepage,
        options=transport_options(host),
    )
