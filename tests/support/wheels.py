"""Real, tiny wheels for tests that run pip without an index (``--no-index --find-links``)."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path


def make_wheel(folder: Path, name: str, version: str, tag: str = "py3-none-any", *,
               requires: Sequence[str] = (), requires_python: str = "") -> Path:
    """A wheel pip installs: METADATA (name, version, Requires-Dist), WHEEL, RECORD."""
    folder.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_").lower()
    dist_info = f"{module}-{version}.dist-info"
    path = folder / f"{module}-{version}-{tag}.whl"
    metadata = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                        f"Requires-Python: {requires_python}\n" if requires_python else "",
                        *(f"Requires-Dist: {r}\n" for r in requires)])
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{module}/__init__.py", f"__version__ = {version!r}\n")
        zf.writestr(f"{dist_info}/METADATA", metadata)
        zf.writestr(f"{dist_info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: tacfleet-tests\n"
                    f"Root-Is-Purelib: true\nTag: {tag}\n")
        zf.writestr(f"{dist_info}/RECORD", "")
    return path
