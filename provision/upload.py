"""Put a small controller-side file on a host using only its Python (no SMB, no PowerShell)."""

from __future__ import annotations

import base64

from winhost.cmdline import build

#: base64 characters per command, keeping each line well under cmd.exe's 8191 limit.
CHUNK = 4096

_WRITE = (
    "import base64,os,sys;p=sys.argv[1];os.makedirs(os.path.dirname(p),exist_ok=True);"
    "open(p,sys.argv[2]).write(base64.b64decode(sys.argv[3]))"
)


def upload_commands(python: str, destination: str, data: bytes) -> list[str]:
    """Command lines that write ``data`` to ``destination`` (first chunk creates, rest append)."""
    encoded = base64.b64encode(data).decode("ascii")
    chunks = [encoded[i : i + CHUNK] for i in range(0, len(encoded), CHUNK)] or [""]
    return [
        build(python, "-I", "-c", _WRITE, destination, "wb" if i == 0 else "ab", chunk)
        for i, chunk in enumerate(chunks)
    ]
