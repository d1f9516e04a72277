"""Put a controller-side file on a host using only its Python (no SMB, no PowerShell).

The data goes base64-encoded as arguments of ``host_ops`` commands, each as large as
CreateProcess's 32,767-character command line allows. It is written to ``<destination>
.tacfleet-upload`` and renamed over the destination by the last command, so an interrupted
upload never leaves a truncated file at the final path.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from provision.hostops import Op, host_ops
from winhost.cmdline import MAX_DIRECT, Command

#: Suffix of the temporary file an upload writes before its final rename.
PART_SUFFIX = ".tacfleet-upload"
_MARGIN = 64  # room left under the limit (the group counts grow by a digit or two)


def upload_commands(python: str, destination: str, data: bytes, *,
                    finish: Sequence[Op] | None = None, limit: int = MAX_DIRECT) -> list[Command]:
    """Commands that write ``data`` to ``destination``: chunks to a temp name in the same folder,
    then ``finish`` (by default a rename over the destination) in the last command; each
    command line at most ``limit`` characters (CreateProcess' 32,767 by default)."""
    part = destination + PART_SUFFIX
    encoded = base64.b64encode(data).decode("ascii")
    done: list[Op] = list(finish) if finish is not None else [("replace", part, destination)]
    overhead = len(host_ops(python, ("write", part, "ab", ""), *done).line)
    chunk = (limit - overhead - _MARGIN) // 4 * 4
    if chunk <= 0:
        raise ValueError(f"the path {destination!r} leaves no room for data in a command line")
    chunks = [encoded[i : i + chunk] for i in range(0, len(encoded), chunk)] or [""]
    commands = []
    for i, piece in enumerate(chunks):
        ops: list[Op] = [("write", part, "wb" if i == 0 else "ab", piece)]
        if i == len(chunks) - 1:
            ops += done
        commands.append(host_ops(python, *ops))
    return commands
