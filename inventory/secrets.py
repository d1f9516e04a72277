"""Resolve secret references (env var, 0600 file, keyring) to ``SecretStr``; redact output.

Connection passwords and ``app.environment`` values can be references (a host read from an
Ansible inventory references its ``ansible_password``, resolved by ``inventory.ansible``).
Messages name the reference (variable, file, keyring entry), never the value. Every value
resolved here, every ``NAME=value`` of ``app.environment`` and every WinRM connection's password
is remembered so :func:`redact` can replace it with ``***`` in anything tacfleet prints or writes
(plan output, reports, logs, transport errors): the one place secrets are masked. The same place
decides the secrets known by their shape rather than remembered: the user-info of any URL
(``https://user:token@host/`` is shown ``https://***@host/``: ``python.index_url``,
``python.installer``) and the values of NSSM's ``AppEnvironmentExtra`` as a host reports them
(``NAME=***``: :func:`environment_shown`, applied by :func:`redact_data` to that key).

Frames here hide from pytest tracebacks (``__tracebackhide__``): they hold the environment.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import threading
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from inventory.errors import Problem, SecretError
from inventory.models import ConnectionSettings
from inventory.private_files import exposure, fix_hint
from winhost.cmdline import cmd_arg, quote_arg

MASK = "***"
_known: dict[str, str] = {}  # secret text -> what is shown instead
_known_lock = threading.Lock()


def remember(*values: str, shown: str = MASK) -> None:
    """Values :func:`redact` replaces with ``shown`` from now on (empty ones are ignored)."""
    with _known_lock:
        _known.update((v, shown) for v in values if v)


#: ``scheme://`` and a URL's user-info up to its last ``@`` before the path (RFC 3986 keeps
#: ``/ ? #`` out of the authority; a password with a raw ``@`` is still masked whole).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s\"'<>@]*(?:@[^/?#\s\"'<>@]*)*@")
#: NSSM's value holding the app's environment (``NAME=value`` entries, REG_MULTI_SZ).
ENVIRONMENT_VALUE = "AppEnvironmentExtra"


def mask_urls(text: str) -> str:
    """``text`` with the user-info of every URL in it shown as ``***``
    (``https://user:token@host/x`` -> ``https://***@host/x``)."""
    return _USERINFO.sub(lambda m: f"{m[1]}{MASK}@", text)


def redact(text: str) -> str:
    """``text`` with every remembered secret replaced by ``***`` (longest first), and every
    URL's user-info (:func:`mask_urls`)."""
    with _known_lock:
        known = sorted(_known.items(), key=lambda item: len(item[0]), reverse=True)
    for value, shown in known:
        if value in text:
            text = text.replace(value, shown)
    return mask_urls(text)


def environment_shown(entries: Any) -> list[str]:
    """``NAME=***`` for each ``NAME=value`` entry of an environment (a list, or one entry as
    a string): how AppEnvironmentExtra appears in any output, whoever's values they are."""
    items = [entries] if isinstance(entries, str) else list(entries or ())
    return [f"{str(e).partition('=')[0]}={MASK}" for e in items]


def redact_data(data: Any) -> Any:
    """:func:`redact` applied to every string inside lists, tuples and dicts (JSON data); the
    value of an ``AppEnvironmentExtra`` key (a host's facts) is shown by
    :func:`environment_shown`."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {redact_data(k): environment_shown(v) if k == ENVIRONMENT_VALUE and v
                else redact_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return type(data)(redact_data(v) for v in data)
    return data


def remember_url(url: str | None) -> None:
    """Remember the user-info of ``url`` (raw and percent-decoded, and its password or token
    alone) for :func:`redact`: where a URL's credentials appear without their URL."""
    if not url:
        return
    from urllib.parse import unquote, urlsplit

    userinfo, at, _ = urlsplit(url).netloc.rpartition("@")
    if not at or not userinfo:
        return
    user, _, password = userinfo.partition(":")
    forms = [userinfo, unquote(userinfo)]
    forms += [password, unquote(password)] if password else [user, unquote(user)]
    remember(*(f for f in forms if len(f) >= 4))


#: What a netrc file can carry as a login or password in every Python 3's ``netrc`` (3.11's
#: lexer and the older shlex one alike): printable ASCII without spaces, quotes or backslashes.
_NETRC_TOKEN = re.compile(r"[!#-\[\]-~]+")


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``(url without its user-info, user, password)``, user and password percent-decoded as
    pip reads them; ``(url, None, None)`` when it has none."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return url, None, None
    user, colon, password = userinfo.partition(":")
    bare = urlunsplit(parts._replace(netloc=hostport))
    return bare, unquote(user), unquote(password) if colon else None


def netrc_problem(url: str) -> str | None:
    """Why the credentials of ``url`` cannot be given to pip in a netrc file, or None."""
    _, user, password = split_credentials(url)
    if user is None:
        return None
    if not password:
        return "has a user but no password in its user-info (pip is given them in a netrc file)"
    if not all(_NETRC_TOKEN.fullmatch(t) for t in (user, password)):
        return ("has a user or password with a space, a quote, a backslash or a non-ASCII "
                "letter, which a netrc file cannot carry (pip is given them in one)")
    return None


def netrc_for(url: str) -> tuple[str, bytes | None]:
    """``url`` without its user-info, and a netrc file's text giving its credentials to its
    host (``machine HOST login USER password PASSWORD``; requests, in pip, reads the file
    ``NETRC`` names), or None without credentials. :func:`netrc_problem` must be None."""
    from urllib.parse import urlsplit

    bare, user, password = split_credentials(url)
    if user is None or password is None:
        return bare, None
    host = urlsplit(bare).hostname or ""
    return bare, f"machine {host}\nlogin {user}\npassword {password}\n".encode("ascii")


def remember_pair(name: str, value: str, *, secret: bool) -> None:
    """Remember ``NAME=value`` as it appears raw and quoted in command lines (and the bare
    value too when it came from a reference: a real secret)."""
    for text, shown in ((f"{name}={value}", f"{name}={MASK}"), (value, MASK)):
        if text == value and not secret:
            continue  # a plain value (a port number) is hidden only beside its name
        forms = [text]
        for quoted in (quote_arg, cmd_arg):
            with suppress(ValueError):  # a line break: no command line carries it anyway
                forms.append(quoted(text))
        remember(*forms, shown=shown)


def _fail(message: str, fix: str, *, host: str | None, field: str, file: str) -> SecretError:
    return SecretError([Problem(file, message, fix,
                                hosts=(host,) if host else (),
                                field=field if "." in field else f"connection.{field}")])


def _set_env_hint(name: str) -> str:
    """How to set ``name`` for tacfleet, in the shell of the platform it runs on."""
    if sys.platform == "win32":
        return (f"set {name}=... in cmd ($env:{name} = '...' in PowerShell), or setx {name} ... "
                "as the account of the scheduled task that runs tacfleet")
    return f"export {name}=... in the shell (or CI secret) that runs tacfleet"


def _from_env(name: str, env: Mapping[str, str], host: str | None, source: str,
              field: str = "password_env") -> SecretStr:
    __tracebackhide__ = True
    value = env.get(name)
    if not value:
        state = "is empty" if value == "" else "is not set"
        raise _fail(f"environment variable {name} {state}", _set_env_hint(name),
                    host=host, field=field, file=source)
    return SecretStr(value)


def _create_hint(path: Path) -> str:
    """How to create a missing password file: a sandbox host's is written by `sandbox.up`."""
    parts = path.parts
    if len(parts) >= 4 and parts[-4:-2] == ("tacfleet", "sandbox") and parts[-1] == "password":
        return f"start that sandbox host, which writes it: `invoke sandbox.up --name {parts[-2]}`"
    return f"create it: (umask 077; printf %s 'PASSWORD' > {path})"


def _from_file(path: Path, host: str | None, field: str = "password_file") -> SecretStr:
    __tracebackhide__ = True
    path = path.expanduser()

    def fail(message: str, fix: str) -> SecretError:
        return _fail(message, fix, host=host, field=field, file=str(path))

    try:
        info = path.stat()
    except FileNotFoundError:
        raise fail("password file not found", _create_hint(path)) from None
    except OSError as exc:
        raise fail(f"password file cannot be read ({exc.strerror})",
                   "check the path and its permissions") from None
    if not stat.S_ISREG(info.st_mode):
        raise fail("is not a regular file", "point password_file at a file")
    try:
        exposed = exposure(path)
    except OSError as exc:
        raise fail(f"password file's permissions cannot be read ({exc.strerror})",
                   "check the path and its permissions") from None
    if exposed:
        raise fail(f"password file is not private: {exposed}", fix_hint(path))
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


def _from_keyring(ref: str, user: str | None, host: str | None, source: str,
                  field: str = "password_keyring") -> SecretStr:
    __tracebackhide__ = True
    service, sep, name = ref.rpartition("/")
    if not sep:
        service, name = ref, user or ""
    try:
        import keyring  # optional dependency: pip install 'tacfleet[keyring]'
        import keyring.errors
    except ImportError:
        raise _fail("the keyring package is not installed", "pip install 'tacfleet[keyring]'",
                    host=host, field=field, file=source) from None
    try:
        value = keyring.get_password(service, name)
    except keyring.errors.KeyringError as exc:
        raise _fail(f"the keyring could not be read ({type(exc).__name__})",
                    "unlock the keyring or configure a keyring backend",
                    host=host, field=field, file=source) from None
    if not value:
        raise _fail(f"no password in the keyring for service '{service}', user '{name}'",
                    f"keyring set {service} {name}",
                    host=host, field=field, file=source)
    return SecretStr(value)


def resolve_password(
    conn: ConnectionSettings,
    *,
    host: str | None = None,
    env: Mapping[str, str] | None = None,
    source: str = "inventory",
) -> SecretStr:
    """The password ``conn`` references; :class:`SecretError` when it cannot be had.

    ``host`` and ``source`` (the inventory file) only label messages; ``env`` defaults to
    ``os.environ``. Problems with a password file name that file.
    """
    __tracebackhide__ = True
    secret: SecretStr | None = None
    if conn.password_env:
        secret = _from_env(conn.password_env, os.environ if env is None else env, host, source)
    elif conn.password_file:
        secret = _from_file(conn.password_file, host)
    elif conn.password_keyring:
        secret = _from_keyring(conn.password_keyring, conn.user, host, source)
    elif conn.password_ansible:
        from inventory.ansible import resolve_ansible_password

        secret = resolve_ansible_password(conn.password_ansible)
    if secret is not None:
        remember(secret.get_secret_value())
        return secret
    raise _fail("no password is referenced",
                "add password_env, password_file or password_keyring under connection",
                host=host, field="password_env", file=source)


def resolve_value(
    ref: Any, *, name: str, host: str | None = None, env: Mapping[str, str] | None = None,
    source: str = "inventory",
) -> SecretStr:
    """The value of an ``app.environment`` entry: text as written, or what its reference
    (``{env: VAR}``, ``{file: PATH}``, ``{keyring: SERVICE/USER}``) holds. Remembered for
    :func:`redact` either way; :class:`SecretError` names the reference when it cannot be had."""
    __tracebackhide__ = True
    field = f"app.environment.{name}"
    if isinstance(ref, str):
        remember_pair(name, ref, secret=False)
        return SecretStr(ref)
    if getattr(ref, "env", None):
        secret = _from_env(ref.env, os.environ if env is None else env, host, source, field)
    elif getattr(ref, "file", None):
        secret = _from_file(Path(ref.file), host, field)
    else:
        secret = _from_keyring(ref.keyring, None, host, source, field)
    remember_pair(name, secret.get_secret_value(), secret=True)
    return secret
