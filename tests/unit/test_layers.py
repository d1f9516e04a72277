"""The layering docs/how-it-works.md states: each layer imports only the ones above it.

inventory → winhost → fleet → compliance → provision and checks → tacfleet_cli → tacfleet_tasks
→ tasks. Two modules import nothing of tacfleet's and so may be used by every layer:
``winhost/errors.py`` (the one root of tacfleet's errors) and ``winhost/cmdline.py`` (the one
builder of command lines, whose quoting the inventory uses for NSSM's AppParameters and to mask
quoted secrets), and ``winhost/sddl.py`` (SDDL parsing, which the inventory's owner-only file
rule uses on a Windows controller), and ``winhost/untrusted.py`` (control characters stripped
from what a host sends, which error texts use too).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"inventory": 0, "winhost": 1, "fleet": 2, "compliance": 3, "provision": 4,
          "checks": 4, "tacfleet_cli": 5, "tacfleet_tasks": 6, "tasks": 7}
LEAVES = {"winhost.errors", "winhost.cmdline", "winhost.sddl", "winhost.untrusted"}


def _imports(path: Path) -> set[str]:
    """Every tacfleet module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return {m for m in found if m.split(".")[0] in LAYERS}


def _modules() -> list[Path]:
    files = [ROOT / "tacfleet_cli.py", ROOT / "tacfleet_tasks.py", ROOT / "tasks.py"]
    for package in ("inventory", "winhost", "fleet", "compliance", "provision", "checks"):
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def test_no_import_runs_back_up():
    wrong = []
    for path in _modules():
        layer = path.relative_to(ROOT).parts[0].removesuffix(".py")
        for module in _imports(path):
            other = module.split(".")[0]
            if other != layer and module not in LEAVES and LAYERS[other] >= LAYERS[layer]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, wrong


def test_the_leaves_import_nothing_of_tacfleet():
    for leaf in LEAVES:
        path = ROOT / (leaf.replace(".", "/") + ".py")
        assert _imports(path) <= LEAVES, (leaf, _imports(path))
