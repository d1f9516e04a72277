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
import zipfile
from pathlib import Path

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
