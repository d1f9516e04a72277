"""A real MIT Kerberos KDC for one sandbox host: its own realm, files and port on 127.0.0.1.

Made with Debian's ``krb5-kdc``/``krb5-admin-server`` programs (``kdb5_util``, ``kadmin.local``,
``krb5kdc``); every file lives in ``<state>/kdc/``:

- ``krb5.conf`` — the realm and its KDC (clients point ``KRB5_CONFIG`` at it), ``kdc.conf``;
- ``principal*`` — the database, ``stash`` its master key;
- ``http.keytab`` — the key of ``HTTP/<hostname>``, the endpoint's service principal;
- ``users/<user>.password`` (0600) — generated passwords of the user principals,
  ``users/<user>.keytab`` — the same keys in a keytab (``ktadd -norandkey``);
- ``HTTP/other-<hostname>`` is a second service with no keytab at the endpoint: a ticket for it
  is a ticket for another service.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

PROGRAMS = ("kdb5_util", "kadmin.local", "krb5kdc")
DEBIAN_PACKAGES = "krb5-kdc krb5-admin-server krb5-user"


class KdcUnavailable(RuntimeError):
    """The KDC cannot be made or started here; the message says why and what to do."""


def _program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise KdcUnavailable(f"{name} is not installed: apt-get install {DEBIAN_PACKAGES} "
                             "(bash bootstrap.sh test does it)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def realm_for(name: str) -> str:
    """The realm of sandbox ``name``: ``<NAME>.SANDBOX.TEST``."""
    return f"{name.upper().replace('_', '-')}.SANDBOX.TEST"


def hostname_for(name: str) -> str:
    """The DNS-style name the sandbox host is known by in its realm (its SPN's host part)."""
    return f"{name.lower().replace('_', '-')}.sandbox.test"


class Kdc:
    """The KDC of one sandbox host (``create`` once, ``start``/``stop`` with the host)."""

    def __init__(self, folder: Path, name: str, users: tuple[str, ...] = ("tacfleet",)) -> None:
        self.folder = folder
        self.realm = realm_for(name)
        self.hostname = hostname_for(name)
        self.users = users
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    # -- files --------------------------------------------------------------------------------
    @property
    def krb5_conf(self) -> Path:
        return self.folder / "krb5.conf"

    @property
    def keytab(self) -> Path:
        """The endpoint's keytab: ``HTTP/<hostname>`` only."""
        return self.folder / "http.keytab"

    @property
    def service(self) -> str:
        return f"HTTP/{self.hostname}@{self.realm}"

    @property
    def other_service(self) -> str:
        return f"HTTP/other-{self.hostname}@{self.realm}"

    def principal(self, user: str) -> str:
        return f"{user}@{self.realm}"

    def password_file(self, user: str) -> Path:
        return self.folder / "users" / f"{user}.password"

    def user_keytab(self, user: str) -> Path:
        return self.folder / "users" / f"{user}.keytab"

    def env(self) -> dict[str, str]:
        """Environment for the MIT programs and libraries to use this realm only."""
        return {**os.environ, "KRB5_CONFIG": str(self.krb5_conf),
                "KRB5_KDC_PROFILE": str(self.folder / "kdc.conf")}

    def _write_config(self) -> None:
        f = self.folder
        self.krb5_conf.write_text(
            "[libdefaults]\n"
            f"    default_realm = {self.realm}\n"
            "    dns_lookup_kdc = false\n    dns_lookup_realm = false\n"
            "    dns_canonicalize_hostname = false\n    rdns = false\n"
            "    udp_preference_limit = 1\n"  # TCP only: the KDC listens on one TCP port
            "    forwardable = true\n"
            "[realms]\n"
            f"    {self.realm} = {{\n        kdc = 127.0.0.1:{self.port}\n    }}\n"
            "[domain_realm]\n"
            f"    .sandbox.test = {self.realm}\n", encoding="utf-8")
        (f / "kdc.conf").write_text(
            "[kdcdefaults]\n"
            f"    kdc_ports = {self.port}\n"
            f"    kdc_tcp_ports = {self.port}\n"
            "[realms]\n"
            f"    {self.realm} = {{\n"
            f"        database_name = {f / 'principal'}\n"
            f"        key_stash_file = {f / 'stash'}\n"
            f"        acl_file = {f / 'kadm5.acl'}\n"
            f"        kdc_listen = 127.0.0.1:{self.port}\n"
            f"        kdc_tcp_listen = 127.0.0.1:{self.port}\n"
            "        max_life = 10h\n        max_renewable_life = 1d\n"
            "    }\n"
            "[logging]\n"
            f"    kdc = FILE:{f / 'kdc.log'}\n", encoding="utf-8")
        (f / "kadm5.acl").write_text("", encoding="utf-8")

    def _kadmin(self, query: str) -> None:
        done = subprocess.run([_program("kadmin.local"), "-r", self.realm, "-q", query],
                              env=self.env(), capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or "error" in done.stderr.lower():
            # never echo the query: it may carry a password
            raise KdcUnavailable(f"kadmin.local failed in {self.folder}: "
                                 f"{done.stderr.strip()[-300:]}")

    def create(self) -> None:
        """Make the realm's database and principals once (a new port on every start)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.port = _free_port()
        self._write_config()
        if (self.folder / "principal").exists():
            return
        master = secrets.token_urlsafe(24)
        done = subprocess.run([_program("kdb5_util"), "create", "-s", "-r", self.realm,
                               "-P", master], env=self.env(), capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise KdcUnavailable(f"kdb5_util create failed in {self.folder}: "
                                 f"{done.stderr.strip()[-300:]}")
        self._kadmin(f"addprinc -randkey {self.service}")
        self._kadmin(f"addprinc -randkey {self.other_service}")
        self._kadmin(f"ktadd -k {self.keytab} {self.service}")
        (self.folder / "users").mkdir(mode=0o700, exist_ok=True)
        for user in self.users:
            password = secrets.token_urlsafe(18)
            fd = os.open(self.password_file(user), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(password + "\n")
            self._kadmin(f"addprinc -pw {password} {self.principal(user)}")
            self._kadmin(f"ktadd -norandkey -k {self.user_keytab(user)} {self.principal(user)}")
            os.chmod(self.user_keytab(user), 0o600)

    # -- process ------------------------------------------------------------------------------
    def start(self, timeout: float = 20) -> None:
        """Run ``krb5kdc`` in the foreground of a child process; wait until its port answers."""
        if not self.port:
            self.create()
        log = (self.folder / "krb5kdc.out").open("ab")
        self._proc = subprocess.Popen(
            [_program("krb5kdc"), "-n", "-r", self.realm], env=self.env(),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise KdcUnavailable(f"krb5kdc exited with {self._proc.returncode}; see "
                                     f"{self.folder / 'krb5kdc.out'} and kdc.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise KdcUnavailable(f"krb5kdc did not listen on 127.0.0.1:{self.port} in {timeout}s")

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc else 0

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def info(self) -> dict[str, object]:
        """What the sandbox's state.json tells clients about the realm (no secrets)."""
        return {
            "realm": self.realm, "kdc": f"127.0.0.1:{self.port}", "kdc_pid": self.pid,
            "krb5_conf": str(self.krb5_conf), "service": self.service,
            "other_service": self.other_service, "hostname": self.hostname,
            "keytab": str(self.keytab),
            "principals": {u: {"principal": self.principal(u),
                               "password_file": str(self.password_file(u)),
                               "keytab": str(self.user_keytab(u))} for u in self.users},
        }
