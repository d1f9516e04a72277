"""MkDocs hook (mkdocs.yml ``hooks:``): pages that live elsewhere in the repository.

The sandbox's own README (``sandbox/README.md``, kept beside the code it describes and updated
with it) becomes the site's ``sandbox.md``, so the docs link to it without a second copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
#: site page -> repository file it is made from.
PAGES = {"sandbox.md": ROOT / "sandbox" / "README.md"}


def on_files(files: Files, config: Any) -> Files:
    for page, source in PAGES.items():
        files.append(File.generated(config, page, content=source.read_text(encoding="utf-8")))
    return files
