"""The default inventory's sandbox entry, rewritten for a unit test."""

from __future__ import annotations

from pathlib import Path

from tests.support import ROOT

#: The entry's wheelhouse line, which a test replaces with what it configures instead.
WHEELHOUSE = ("      wheelhouse: C:\\wheels   # offline: every wheel comes from this folder on "
              "the host")


def sandbox_inventory(tmp_path: Path, package: str, wheelhouse: str) -> Path:
    """``inventory/hosts.yml`` as ``tmp_path/hosts.yml``: tac_source absolute, ``app.package``
    set to ``package``, the wheelhouse line replaced by ``wheelhouse`` (YAML lines)."""
    text = (ROOT / "inventory" / "hosts.yml").read_text()
    text = text.replace("tac_source: ../sandbox", f"tac_source: {ROOT}/sandbox")
    text = text.replace("package: tacdemo==1.0.0", f"package: {package}")
    assert WHEELHOUSE in text
    path = tmp_path / "hosts.yml"
    path.write_text(text.replace(WHEELHOUSE, wheelhouse))
    return path
