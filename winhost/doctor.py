"""``invoke doctor``: why a host does not connect, one layer at a time, each with its fix.

Layers, in the order a WinRM connection goes through them: name resolution, TCP, TLS (HTTPS:
certificate chain, name, expiry), the WinRM listener (an unauthenticated POST answered 401 with
the schemes it offers), Kerberos (the ticket, the SPN, clock skew against the listener's
``Date``), authentication, a trivial command, the shell quotas (WinRS group policy), the base
Python the probe needs. The first layer that fails stops the walk: the later ones depend on it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from inventory.models import Host
from winhost.cmdline import command, system32
from winhost.errors import AuthenticationFailed, TacfleetError, connection_words
from winhost.untrusted import strip_controls

OK, FAIL, SKIP, WARN = "ok", "FAIL", "skip", "warn"
#: Kerberos refuses a ticket whose time differs by more than this (MIT and Windows default).
MAX_SKEW = dt.timedelta(minutes=5)
#: The WinRS group policy (Windows Components > Windows Remote Shell) and Windows' defaults.
WINRS_POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\WinRM\Service\WinRS"
WINRS_DEFAULTS = {"MaxShellsPerUser": "30", "MaxMemoryPerShellMB": "1024",
                  "MaxProcessesPerShell": "25", "IdleTimeout": "7200000"}


@dataclass
class Layer:
    """One line of the diagnosis."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f"; fix: {self.fix}" if self.fix and self.status in (FAIL, WARN) else ""
        return f"[{self.status:>4}] {self.name}: {self.detail}{fix}"


class _Failed(Exception):
    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


@dataclass
class _Walk:
    host: Host
    timeout: float = 10.0
    listener: requests.Response | None = None
    conn: Any = None
    _first: Any = None
    layers: list[Layer] = field(default_factory=list)

    # -- layers ------------------------------------------------------------------------------
    def resolve(self) -> str:
        c = self.host.connection
        try:
            found = {str(a[4][0]) for a in socket.getaddrinfo(c.address, c.port,
                                                              type=socket.SOCK_STREAM)}
        except socket.gaierror as exc:
            raise _Failed(connection_words(exc, c.address, c.port),
                          "correct connection.address, or add the name to DNS/hosts") from None
        return f"{c.address} -> {', '.join(sorted(found))}"

    def tcp(self) -> str:
        c = self.host.connection
        try:
            socket.create_connection((c.address, c.port), timeout=self.timeout).close()
        except OSError as exc:
            raise _Failed(f"nothing accepts TCP: {connection_words(exc, c.address, c.port)}",
                          f"start WinRM on the host (winrm quickconfig"
                          f"{' -transport:https' if c.https else ''}) and open the port in its "
                          "firewall, or correct connection.port") from None
        return f"{c.address}:{c.port} accepts connections"

    def _tls_context(self) -> ssl.SSLContext:
        c = self.host.connection
        if c.cert_validation:
            ctx = ssl.create_default_context(cafile=str(c.ca_file) if c.ca_file else None)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if c.transport == "certificate" and c.cert_pem and c.cert_key_pem:
            ctx.load_cert_chain(str(c.cert_pem), str(c.cert_key_pem))
        return ctx

    def tls(self) -> str | None:
        c = self.host.connection
        if not c.https:
            return None
        try:
            with socket.create_connection((c.address, c.port), timeout=self.timeout) as raw, \
                    self._tls_context().wrap_socket(raw, server_hostname=c.address) as tls:
                cert = tls.getpeercert() or {}
                version = tls.version()
        except ssl.SSLCertVerificationError as exc:
            trust = (f"add the host's CA to ca_file ({c.ca_file})" if c.ca_file else
                     "set ca_file: to the CA that signed the host's certificate")
            raise _Failed(connection_words(exc, c.address, c.port),
                          f"{trust}; a name mismatch needs address to match the certificate"
                          ) from None
        except (ssl.SSLError, OSError) as exc:
            raise _Failed(connection_words(exc, c.address, c.port),
                          "check that the port is WinRM's HTTPS listener (5986)") from None
        if not c.cert_validation:
            return f"{version}; certificate NOT validated (cert_validation: false)"
        expires = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(str(cert["notAfter"])),
                                            dt.UTC)
        days = (expires - dt.datetime.now(dt.UTC)).days
        detail = f"{version}; certificate valid for {c.address}, expires in {days} days"
        if days < 14:
            self.layers.append(Layer("certificate expiry", WARN, f"expires in {days} days",
                                     "renew the listener's certificate"))
        return detail

    def listener_up(self) -> str:
        c = self.host.connection
        verify: bool | str = (str(c.ca_file) if c.ca_file else True) if c.cert_validation \
            else False
        try:
            resp = requests.post(c.endpoint, data=b"", timeout=self.timeout, verify=verify,
                                 headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
        except requests.RequestException as exc:
            raise _Failed(f"no HTTP answer from {c.endpoint} ({type(exc).__name__})",
                          "check the listener: winrm enumerate winrm/config/listener") from None
        self.listener = resp
        offered = resp.headers.get("WWW-Authenticate", "")
        if resp.status_code == 404:
            raise _Failed(f"{c.endpoint} answers 404: no WinRM at /wsman",
                          "check connection.port: it is not a WinRM listener")
        if resp.status_code != 401:
            return f"{c.endpoint} answers {resp.status_code}"
        schemes = sorted({s.strip().split(" ")[0] for s in offered.split(",") if s.strip()
                          and "=" not in s.strip().split(" ")[0]})
        wanted = {"kerberos": ("Negotiate", "Kerberos"), "ntlm": ("Negotiate", "NTLM"),
                  "basic": ("Basic",), "credssp": ("CredSSP",)}.get(c.transport)
        if wanted and not set(wanted) & set(schemes):
            raise _Failed(f"{c.endpoint} offers {', '.join(schemes) or 'nothing'}, not "
                          f"{c.transport}",
                          f"enable it on the host: winrm set winrm/config/service/auth "
                          f"@{{{wanted[-1]}=\"true\"}}, or change connection.transport")
        return f"{c.endpoint} answers 401 offering {', '.join(schemes)}"

    def kerberos(self) -> str | None:
        c = self.host.connection
        if c.transport != "kerberos":
            return None
        from winhost.kerberos import prepare
        from winhost.open import kerberos_password

        skew = ""
        date = self.listener.headers.get("Date") if self.listener is not None else None
        if date:
            diff = email.utils.parsedate_to_datetime(date) - dt.datetime.now(dt.UTC)
            if abs(diff) > MAX_SKEW:
                raise _Failed(f"the host's clock differs from this machine's by "
                              f"{diff.total_seconds():+.0f} s (Kerberos allows 300 s)",
                              "synchronise the clocks (NTP / w32tm /resync on the host)")
            skew = f", clock skew {diff.total_seconds():+.0f} s"
        hostname = c.kerberos_hostname_override or c.address or self.host.name
        try:
            password = kerberos_password(self.host)
            prepare(self.host.name, principal=c.user or "", hostname=hostname,
                    password=password,
                    keytab=str(c.keytab_file) if c.keytab_file else None,
                    delegate=c.kerberos_delegation)
        except TacfleetError as exc:
            raise _Failed(str(exc).removeprefix(f"{self.host.name}: "),
                          getattr(exc, "fix", "")) from None
        return f"ticket for {c.user or 'the cached user'}, service ticket HTTP/{hostname}{skew}"

    def authenticate(self) -> str:
        from winhost.open import open_connection

        try:
            self.conn = open_connection(self.host)
            self._first = self.conn.run(command(system32("whoami.exe")), idempotent=True)
        except AuthenticationFailed as exc:
            raise _Failed(str(exc).removeprefix(f"{self.host.name}: "), exc.fix) from None
        except TacfleetError as exc:
            raise _Failed(strip_controls(str(exc)).removeprefix(f"{self.host.name}: "),
                          getattr(exc, "fix", "")) from None
        c = self.host.connection
        return f"{c.transport} accepted for {c.user or 'the cached ticket'}"

    def trivial_command(self) -> str:
        r = self._first
        if r.rc != 0:
            raise _Failed(f"whoami.exe exited {r.rc}: {(r.stderr or r.stdout).strip()[:120]}",
                          "look at the host: a shell opens but programs fail")
        return f"whoami.exe -> {r.stdout.strip()} ({r.elapsed * 1000:.0f} ms)"

    def quotas(self) -> str:
        r = self.conn.run(command(system32("reg.exe"), "query", WINRS_POLICY), idempotent=True)
        values = dict(WINRS_DEFAULTS)
        source = "Windows' defaults (no WinRS group policy)"
        if r.rc == 0:
            source = "group policy"
            for line in r.stdout.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] in values:
                    values[parts[0]] = str(int(parts[2], 0)) if parts[2].startswith("0x") \
                        else parts[2]
        return f"{source}: " + ", ".join(f"{k} {v}" for k, v in values.items())

    def python(self) -> str:
        py = self.host.python
        r = self.conn.run(command(py.base, "-c", "import sys; print('%d.%d.%d' % "
                                  "sys.version_info[:3])"), idempotent=True)
        if r.rc != 0:
            raise _Failed(f"{py.base} does not run (exit {r.rc})",
                          "install Python there, or set python.base to its path "
                          "(invoke provision installs it when python.installer is set)")
        found = r.stdout.strip()
        if not (found + ".").startswith(f"{py.version}."):
            raise _Failed(f"{py.base} is Python {found}, the inventory wants {py.version}",
                          "set python.version, or point python.base at that version")
        return f"{py.base} is Python {found}"


def diagnose(host: Host, *, timeout: float = 10.0) -> Iterator[Layer]:
    """The layers of ``host``'s connection, in order, as they are checked."""
    walk = _Walk(host, timeout)
    steps: list[tuple[str, Callable[[], str | None]]] = [
        ("name resolution", walk.resolve), ("tcp", walk.tcp), ("tls", walk.tls),
        ("winrm listener", walk.listener_up), ("kerberos", walk.kerberos),
        ("authentication", walk.authenticate), ("command", walk.trivial_command),
        ("shell quotas", walk.quotas), ("base python", walk.python),
    ]
    if host.connection.kind == "local":
        yield Layer("connection", SKIP, "kind: local, nothing to diagnose")
        return
    failed = False
    try:
        for name, step in steps:
            if failed:
                yield Layer(name, SKIP, "not checked: an earlier layer failed")
                continue
            try:
                detail = step()
            except _Failed as exc:
                failed = True
                yield Layer(name, FAIL, exc.detail, exc.fix)
                continue
            except TacfleetError as exc:  # a later command: lost connection, timeout, tampering
                failed = True
                yield Layer(name, FAIL, strip_controls(str(exc)).removeprefix(
                    f"{host.name}: "), getattr(exc, "fix", ""))
                continue
            yield from walk.layers
            walk.layers.clear()
            if detail is None:
                yield Layer(name, SKIP, "not used by this connection")
            else:
                yield Layer(name, OK, detail)
    finally:
        if walk.conn is not None:
            walk.conn.close()
