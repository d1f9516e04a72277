"""Read an inventory file into plain data that remembers line numbers; report file-level problems.

Missing, unreadable, binary, non-UTF-8, empty and broken-YAML files each become one
:class:`~inventory.errors.Problem`. Duplicate keys (which PyYAML silently overwrites) are noted
on each :class:`LineDict` for the loader to report with their context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inventory.errors import Problem

_START_HINT = "start from inventory/example.yml"


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[Any, int] = {}
        #: keys written more than once here: (key, line, first line); PyYAML keeps the last.
        self.duplicates: list[tuple[Any, int, int]] = []


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings are :class:`LineDict` (with their duplicate keys noted)."""

    def _mapping(self, node: yaml.MappingNode) -> LineDict:
        seen: dict[Any, int] = {}
        duplicates: list[tuple[Any, int, int]] = []
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    duplicates.append((key, line, seen[key]))
                seen[key] = line
            except TypeError:  # unhashable key: construct_mapping reports it
                pass
        self.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.duplicates = duplicates
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    "found an unhashable key", key_node.start_mark,
                ) from None
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines.setdefault(key, key_node.start_mark.line + 1)
        return result


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Any:
    data = LineDict()
    yield data
    built = loader._mapping(node)
    data.update(built)
    data.line, data.key_lines, data.duplicates = built.line, built.key_lines, built.duplicates


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {what}" + (f" ({context})" if context else "")
    fix = "check the indentation and quoting around this line"
    if "'\\t'" in message or "tab" in message.lower():
        fix = "indent with spaces, not tabs"
    elif "escape" in message:
        fix = ("inside double quotes YAML reads \\ as an escape: write Windows paths unquoted "
               "or in 'single quotes'")
    elif "expected a single document" in message:
        fix = "keep one YAML document per inventory file (remove the extra '---')"
    return Problem(
        file, message, fix,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


def read_inventory_file(path: Path, file: str) -> tuple[LineDict | None, list[Problem]]:
    """Parse ``path``; return the top mapping (or ``None``) and the file-level problems."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem(file, "file not found",
                              "create it, or pass --inventory PATH / set TACFLEET_INVENTORY")]
    except IsADirectoryError:
        return None, [Problem(file, "is a folder, not a file", "point at the .yml file")]
    except OSError as exc:
        return None, [Problem(file, f"cannot be read ({exc.strerror})",
                              "check the path and its permissions")]
    if b"\0" in raw[:8192]:
        return None, [Problem(file, "is a binary file, not YAML text",
                              "point at the inventory's .yml file")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(file, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                              "save the file as UTF-8", line=line)]
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(file, exc)]
    finally:
        loader.dispose()
    problems: list[Problem] = []
    if data is None:
        problems.append(Problem(file, "is empty", _START_HINT))
        return None, problems
    if not isinstance(data, LineDict):
        problems.append(Problem(
            file, f"the top level is a {type(data).__name__}, not a mapping",
            "write it as 'all:', 'groups:' and 'hosts:' sections; " + _START_HINT, line=1))
        return None, problems
    return data, problems
