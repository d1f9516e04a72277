"""A tiny Twisted app, ``reldemo``, built here as real wheels at chosen versions and behaviours,
for the release tests (``app.releases``): each version is a release the sandbox host builds in
a venv of its own and switches to.

Behaviours (``mode``): ``good`` answers ``GET /`` and ``GET /health`` with 200 and its version;
``import`` raises at import (the tac file cannot load); ``exits`` serves, then ends its process
5 s after it started; ``500`` serves, but ``/health`` answers 500.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

MODES = ("good", "import", "exits", "500")

_MODULE = '''\
"""reldemo {version}: tacfleet's release-test app ({mode})."""

import json
import os

VERSION = {version!r}
MODE = {mode!r}

if MODE == "import":
    raise RuntimeError("reldemo %s is broken at import" % VERSION)


def service(port):
    from twisted.application import internet
    from twisted.web import resource, server

    class Root(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            if MODE == "500" and request.path == b"/health":
                request.setResponseCode(500)
                return b"unhealthy"
            request.setHeader(b"content-type", b"application/json")
            return json.dumps({{"app": "reldemo", "version": VERSION}}).encode()

    class Server(internet.TCPServer):
        def startService(self):
            internet.TCPServer.startService(self)
            if MODE == "exits":
                from twisted.internet import reactor

                reactor.callLater(5, os._exit, 3)

    return Server(port, server.Site(Root()), interface="127.0.0.1")
'''

TAC = '''\
# reldemo's tac file: the same for every release; the app comes from the release's venv.
import os

import reldemo
from twisted.application import service

application = service.Application("reldemo")
reldemo.service(int(os.environ["RELDEMO_PORT"])).setServiceParent(application)
'''


def build(version: str, mode: str, dest: Path) -> Path:
    """``reldemo-<version>-py3-none-any.whl`` in ``dest``, laid out as PEP 427 says (METADATA,
    WHEEL, RECORD with each file's hash)."""
    assert mode in MODES, mode
    info = f"reldemo-{version}.dist-info"
    files = {
        "reldemo/__init__.py": _MODULE.format(version=version, mode=mode),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: reldemo\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tacfleet-test\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"reldemo-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheel


def write_tac(dest: Path) -> Path:
    dest.write_text(TAC, encoding="utf-8")
    return dest


def release_inventory(single: Path, dest: Path, port: int, wheels: Path, tac: Path) -> Path:
    """``single``'s sandbox entry with its app and service replaced by reldemo's."""
    data = yaml.safe_load(single.read_text())
    entry = data["hosts"]["sandbox"]
    entry["python"].pop("venv", None)  # C:\PythonEnvs\reldemo: the release root
    entry["python"]["ship_wheels"] = str(wheels)
    entry["app"] = {
        "name": "reldemo", "package": "reldemo", "port": port,
        "tac_file": "C:\\Apps\\reldemo\\reldemo.tac", "tac_source": str(tac),
        "environment": {"RELDEMO_PORT": str(port)},
        "releases": True, "keep_releases": 3,
        "health": {"path": "/health", "settle_s": 8, "timeout_s": 60},
    }
    entry["service"] = {"name": "reldemo", "display_name": "tacfleet release demo",
                        "description": "reldemo, the release tests' app", "start": "demand"}
    dest.write_text(yaml.safe_dump(data, sort_keys=False))
    return dest


def version(port: int) -> str | None:
    """The version the app answers with on ``GET /`` (None: no answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as answer:
            return str(json.load(answer)["version"])
    except (OSError, ValueError, KeyError):
        return None


@dataclass
class Downtime:
    """Asks the app every 100 ms while a run goes on: the longest time without an answer and
    the versions it answered with, in order."""

    port: int
    longest: float = 0.0
    versions: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Downtime:
        self._thread = threading.Thread(target=self._probe, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _probe(self) -> None:
        down_since = None
        while not self._stop.is_set():
            now, answer = time.monotonic(), version(self.port)
            if answer is None:
                down_since = down_since or now
            else:
                if down_since is not None:
                    self.longest = max(self.longest, now - down_since)
                    down_since = None
                if not self.versions or self.versions[-1] != answer:
                    self.versions.append(answer)
            self._stop.wait(0.1)
        if down_since is not None:
            self.longest = max(self.longest, time.monotonic() - down_since)
