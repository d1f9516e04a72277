"""Tell a native tacfleet inventory from an Ansible one, without importing Ansible.

An inventory is read as **Ansible** when it is:

- a folder (Ansible reads every inventory file in it, with its ``group_vars``/``host_vars``);
- an executable file (a dynamic inventory script);
- a YAML file whose top level names an inventory plugin (``plugin: ...``), or whose ``all:``
  holds ``hosts:`` or ``children:``, or whose every top-level entry is a group (a mapping of
  only ``hosts``, ``vars`` and ``children``) with at least one ``hosts:`` or ``children:``;
- a file that is not a YAML mapping but reads as INI: a ``[group]`` header, or lines like
  ``web01 ansible_host=10.0.0.1`` (``.ini`` files always).

Anything else is a native tacfleet inventory (whose own loader then reports what is wrong).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml

Format = Literal["tacfleet", "ansible"]

_GROUP_KEYS = {"hosts", "vars", "children"}
_INI_SECTION = re.compile(r"^\s*\[[^\]\s]+\]\s*$")
_INI_HOST = re.compile(r"^\s*[A-Za-z0-9_.\[\]:-]+(\s+[A-Za-z_][A-Za-z0-9_]*=\S*)+\s*$")


def _ansible_yaml(data: Any) -> bool:
    if not isinstance(data, dict) or not data:
        return False
    if "plugin" in data:
        return True
    top = data.get("all")
    if isinstance(top, dict) and ({"hosts", "children"} & set(top)):
        return True
    if "groups" in data:  # tacfleet's own section
        return False
    groups = [v for v in data.values() if isinstance(v, dict)]
    return (len(groups) == len(data)
            and all(set(g) <= _GROUP_KEYS for g in groups)
            and any({"hosts", "children"} & set(g) for g in groups)
            and not _native_hosts(data.get("hosts")))


def _native_hosts(value: Any) -> bool:
    """``hosts:`` as tacfleet writes it: host names mapped to connection/app/... settings."""
    if not isinstance(value, dict):
        return False
    return any(isinstance(v, dict) and not set(v) <= _GROUP_KEYS for v in value.values())


def _ini(text: str) -> bool:
    lines = [ln for ln in text.splitlines()
             if ln.strip() and not ln.lstrip().startswith(("#", ";"))]
    return bool(lines) and (any(_INI_SECTION.match(ln) for ln in lines)
                            or all(_INI_HOST.match(ln) for ln in lines))


def inventory_format(path: Path) -> Format:
    """``"ansible"`` or ``"tacfleet"`` for the inventory at ``path`` (see the module docstring).

    A path that cannot be read is ``"tacfleet"``: the native loader reports why.
    """
    if path.is_dir():
        return "ansible"
    if not path.is_file():
        return "tacfleet"
    if os.access(path, os.X_OK) and path.suffix.lower() not in (".yml", ".yaml", ".ini"):
        return "ansible"
    if path.suffix.lower() == ".ini":
        return "ansible"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return "tacfleet"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict):
        return "ansible" if _ansible_yaml(data) else "tacfleet"
    return "ansible" if _ini(text) else "tacfleet"
