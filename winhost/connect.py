"""Open the connection an inventory entry describes."""

from __future__ import annotations

from inventory.models import Host
from inventory.secrets import resolve_password
from winhost.connection import Connection
from winhost.local_connection import LocalConnection
from winhost.winrm_connection import WinRMConnection


def connect(host: Host) -> Connection:
    """A connection to ``host``; its password is read from its reference only now."""
    conn = host.connection
    if conn.kind == "local":
        return LocalConnection(host.name, codepage=conn.codepage)
    return WinRMConnection(
        host.name,
        conn.endpoint,
        user=conn.user or "",
        password=resolve_password(conn, host=host.name),
        transport=conn.transport,
        cert_validation=conn.cert_validation,
        ca_file=str(conn.ca_file) if conn.ca_file else None,
        operation_timeout=conn.operation_timeout,
        read_timeout=conn.read_timeout,
        codepage=conn.codepage,
    )
