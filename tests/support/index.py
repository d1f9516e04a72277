"""A package index on 127.0.0.1 that wants HTTP Basic credentials (a private index's
``https://user:token@host/simple``, served over loopback HTTP, which pip trusts): PEP 503 pages
for the wheels and sdists (``*.tar.gz``) of some folders. It records each request and whether
its credentials were right."""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from tests.support.loopback import http_server, serving


@dataclass
class PrivateIndex:
    port: int
    user: str
    password: str
    #: (path, were the credentials right?) of each request, in order
    requests: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The index URL with its credentials in the user-info, as an inventory gives it."""
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}/simple"


@contextmanager
def private_index(folders: list[Path], user: str, password: str) -> Iterator[PrivateIndex]:
    """Serve the ``*.whl`` and ``*.tar.gz`` of ``folders`` at ``/simple/<project>/``; anything
    without the credentials gets 401 with a Basic challenge, as a private index answers."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    by_project: dict[str, list[Path]] = {}
    files: dict[str, Path] = {}
    for dist in sorted(w for folder in folders for pattern in ("*.whl", "*.tar.gz")
                       for w in folder.glob(pattern)):
        name = (parse_wheel_filename(dist.name)[0] if dist.suffix == ".whl"
                else parse_sdist_filename(dist.name)[0])
        by_project.setdefault(canonicalize_name(name), []).append(dist)
        files[dist.name] = dist

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            right = self.headers.get("Authorization") == f"Basic {token}"
            index.requests.append((self.path, right))
            if not right:
                self._send(401, b"", {"WWW-Authenticate": 'Basic realm="private"'})
                return
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 2 and parts[0] == "simple" and parts[1] in by_project:
                links = "".join(
                    f'<a href="/files/{html.escape(w.name)}#sha256='
                    f'{hashlib.sha256(w.read_bytes()).hexdigest()}">{html.escape(w.name)}</a>\n'
                    for w in by_project[parts[1]])
                self._send(200, f"<html><body>\n{links}</body></html>".encode(),
                           {"Content-Type": "text/html"})
            elif len(parts) == 2 and parts[0] == "files" and parts[1] in files:
                self._send(200, files[parts[1]].read_bytes(),
                           {"Content-Type": "application/octet-stream"})
            else:
                self._send(404, b"")

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http_server(Handler)
    index = PrivateIndex(server.server_address[1], user, password)
    with serving(server):
        yield index
