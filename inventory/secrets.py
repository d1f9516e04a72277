"""Resolve a connection's password reference (env var, 0600 file, keyring) to a ``SecretStr``.

Messages name the reference (variable, file, keyring entry), never the value.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from inventory.errors import Problem, SecretError
from inventory.models import Connection


def _fail(message: str, fix: str, *, host: str | None, field: str, file: str) -> SecretError:
    return SecretError([Problem(file, message, fix,
                                hosts=(host,) if host else (), field=f"connection.{field}")])


def _from_env(name: str, env: Mapping[str, str], host: str | None, source: str) -> SecretStr:
    value = env.get(name)
    if not value:
        state = "is empty" if value == "" else "is not set"
        raise _fail(f"environment variable {name} {state}",
                    f"export {name}=... in the shell (or CI secret) that runs tacfleet",
                    host=host, field="password_env", file=source)
    return SecretStr(value)


def _from_file(path: Path, host: str | None) -> SecretStr:
    path = path.expanduser()

    def fail(message: str, fix: str) -> SecretError:
        return _fail(message, fix, host=host, field="password_file", file=str(path))

    try:
        info = path.stat()
    except FileNotFoundError:
        raise fail("password file not found", f"create it: (umask 077; printf %s 'PASSWORD' > "
                   f"{path})") from None
    except OSError as exc:
        raise fail(f"password file cannot be read ({exc.strerror})",
                   "check the path and its permissions") from None
    if not stat.S_ISREG(info.st_mode):
        raise fail("is not a regular file", "point password_file at a file")
    if os.name != "nt" and info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise fail(f"password file is readable or writable by group/others (mode {mode:04o})",
                   f"chmod 600 {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise fail(f"password file cannot be read ({reason})",
                   "write the password as UTF-8 text") from None
    secret = text.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise fail("password file is empty", "write the password into it")
    return SecretStr(secret)


def _from_keyring(ref: str, user: str | None, host: str | None, source: str) -> SecretStr:
    service, sep, name = ref.rpartition("/")
    if not sep:
        service, name = ref, user or ""
    try:
        import keyring  # optional dependency: pip install 'tacfleet[keyring]'
        import keyring.errors
    except ImportError:
        raise _fail("the keyring package is not installed", "pip install 'tacfleet[keyring]'",
                    host=host, field="password_keyring", file=source) from None
    try:
        value = keyring.get_password(service, name)
    except keyring.errors.KeyringError as exc:
        raise _fail(f"the keyring could not be read ({type(exc).__name__})",
                    "unlock the keyring or configure a keyring backend",
                    host=host, field="password_keyring", file=source) from None
    if not value:
        raise _fail(f"no password in the keyring for service '{service}', user '{name}'",
                    f"keyring set {service} {name}",
                    host=host, field="password_keyring", file=source)
    return SecretStr(value)


def resolve_password(
    conn: Connection,
    *,
    host: str | None = None,
    env: Mapping[str, str] | None = None,
    source: str = "inventory",
) -> SecretStr:
    """The password ``conn`` references; :class:`SecretError` when it cannot be had.

    ``host`` and ``source`` (the inventory file) only label messages; ``env`` defaults to
    ``os.environ``. Problems with a password file name that file.
    """
    if conn.password_env:
        return _from_env(conn.password_env, os.environ if env is None else env, host, source)
    if conn.password_file:
        return _from_file(conn.password_file, host)
    if conn.password_keyring:
        return _from_keyring(conn.password_keyring, conn.user, host, source)
    raise _fail("no password is referenced",
                "add password_env, password_file or password_keyring under connection",
                host=host, field="password_env", file=source)
