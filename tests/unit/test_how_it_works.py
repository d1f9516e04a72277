"""docs/how-it-works.md's module table names every module of the product, as they are named
today. The table is data (names in backticks in its first column), not prose: only it is read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("inventory", "winhost", "fleet", "compliance", "provision", "checks")


def _section() -> str:
    text = (ROOT / "docs" / "how-it-works.md").read_text(encoding="utf-8")
    return text.split("\n| module |", 1)[1].split("\n\n", 1)[0]  # the module table


def _named(section: str) -> set[str]:
    """Module paths named in the table's first column (``a/b.py``, then ``c.py`` beside it)."""
    named: set[str] = set()
    for row in re.findall(r"^\| (.+?) \|", section, re.M):
        folder = ""
        for name in re.findall(r"`([^`]+)`", row):
            if "/" in name:
                folder, _, leaf = name.rpartition("/")
                named.add(name if leaf else name.rstrip("/"))
            else:
                named.add(f"{folder}/{name}" if folder else name)
    return named


def test_every_product_module_is_named_in_how_it_works():
    named = _named(_section())
    modules = {str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
               if p.name != "__init__.py"}
    modules |= {p.name for p in ROOT.glob("*.py")}
    modules |= {d.name for d in ROOT.iterdir()
                if d.is_dir() and not d.name.startswith(".") and any(d.glob("*.py"))}

    def covered(module: str) -> bool:
        return module in named or any(n == module or n.startswith(module + "/")
                                      or module.startswith(n + "/") for n in named) or (
            module.startswith("checks/test_") and "checks/test_*.py" in named)

    missing = sorted(m for m in modules if not covered(m))
    assert not missing, f"docs/how-it-works.md's module table does not name: {missing}"


def test_every_named_module_exists():
    named = _named(_section())
    gone = sorted(n for n in named if "*" not in n and not (ROOT / n).exists())
    assert not gone, f"docs/how-it-works.md's module table names modules that do not exist: {gone}"
