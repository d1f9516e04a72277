"""The base Python's installer: on this machine, pinned by SHA-256, before it is uploaded; or
fetched by the host's curl.exe.

A controller file is read; an https URL is fetched once into
``~/.cache/tacfleet/installers/<sha256>`` (``$XDG_CACHE_HOME`` honoured) and served from there
afterwards. Either way the bytes must have the inventory's ``python.installer_sha256``, or
nothing is sent.

A host with curl.exe (Windows Server 2019 and later) fetches the URL itself
(``fetch_command``): into the run's administrators-only staging folder (``provision.staging``),
https only (``--proto =https``, also on redirects), and the URL, which may carry a user and
token, over standard input as curl's config (``--config -``, ``url = "…"``; curl has read its
config from standard input since long before Windows' 7.55.1), never on the command line, where
process-creation logs keep it. Its SHA-256 is then checked on the host against the pin before
it runs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from inventory.bundle import sha256_of
from winhost.cmdline import Command, command, system32


class InstallerError(Exception):
    """The installer cannot be had with the pinned checksum; the message says what to do."""


def cache_dir() -> Path:
    r"""``~/.cache/tacfleet/installers`` (under ``$XDG_CACHE_HOME`` when set)."""
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "tacfleet" / "installers"


def shown(url: str) -> str:
    """The URL without user or password (never shown)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _request(url: str) -> urllib.request.Request:
    """A GET of ``url``; a user and password in it go as HTTP Basic, not in the URL."""
    parts = urlsplit(url)
    request = urllib.request.Request(shown(url))
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        request.add_header("Authorization",
                           "Basic " + base64.b64encode(token.encode()).decode("ascii"))
    return request


def _fetch(url: str, sha256: str, cache: Path) -> Path:
    """Download ``url`` into the cache under its checksum (a temp name, then a rename)."""
    cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".fetch-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(_request(url),
                                                                timeout=60) as answer:
            for block in iter(lambda: answer.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != sha256:
            raise InstallerError(
                f"the installer at {shown(url)} has SHA-256 {digest.hexdigest()}, not "
                f"python.installer_sha256 {sha256}: nothing was sent; fix the URL or the pin")
        target = cache / sha256
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = (f"HTTP {exc.code} {exc.reason}" if isinstance(exc, urllib.error.HTTPError)
                  else getattr(exc, "reason", None) or exc)
        raise InstallerError(
            f"could not fetch the Python installer {shown(url)} on this machine: {reason}; "
            "check the URL, or download it and give python.installer as that file") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def installer_file(source: str, sha256: str, *, cache: Path | None = None) -> Path:
    """The installer as a file on this machine, checked against ``sha256`` (``InstallerError``
    otherwise): the file itself, or the cached download of the URL."""
    if source.startswith(("https://", "http://")):
        cached = (cache or cache_dir()) / sha256
        if not (cached.is_file() and sha256_of(cached) == sha256):
            cached = _fetch(source, sha256, cache or cache_dir())
        return cached
    try:
        found = sha256_of(Path(source))
    except OSError as exc:
        raise InstallerError(f"cannot read the Python installer {source}: {exc.strerror}; "
                             "fix python.installer") from None
    if found != sha256:
        raise InstallerError(
            f"the installer {source} has SHA-256 {found}, not python.installer_sha256 "
            f"{sha256}: nothing was sent; fix the file or the pin")
    return Path(source)



def curl_config(url: str) -> bytes:
    r"""curl's config for ``url``: ``url = "…"`` (``\`` and ``"`` escaped as curl's config
    reads them), one line; a URL holding a control character is refused (``ValueError``)."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in url):
        raise ValueError("the installer URL holds a control character")
    escaped = url.replace("\\", "\\\\").replace('"', '\\"')
    return f'url = "{escaped}"\n'.encode()


def fetch_command(system_root: str, output: str) -> Command:
    r"""``curl.exe --disable --config - … --output OUTPUT``: the URL comes from standard input
    (``curl_config``); https only, on redirects too; ``--disable`` first, so no ``.curlrc``
    adds options. ``--ssl-revoke-best-effort``: Schannel's revocation check fails on hosts with
    no route to the CA's revocation server; the certificate is still validated."""
    return command(system32("curl.exe", system_root), "--disable", "--config", "-", "--fail",
                   "--location", "--proto", "=https", "--proto-redir", "=https", "--silent",
                   "--show-error", "--ssl-revoke-best-effort", "--output", output)
