"""Load an inventory file into validated hosts, reporting every problem in one run.

Shape (Ansible-like; see ``inventory/example.yml``)::

    all:
      vars: {python: {...}, service: {...}, ...}      # every host
    groups:
      web:
        vars: {connection: {...}, ...}                # hosts of the group
        hosts: [web01, web02]
    hosts:
      web01:
        groups: [web]                                 # optional: membership may be written
        connection: {address: web01.example.com}      # on either side
        app: {...}

A host's settings are ``all.vars``, then the vars of each of its groups (in the order the groups
are written under ``groups:``), then its own entry; later wins, mappings merge key by key, lists
and plain values replace.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inventory.errors import Problem
from inventory.models import DERIVED_FIELDS, SECTIONS, Host, ServiceEntry
from inventory.selection import Inventory
from inventory.source import LineDict, read_inventory_file
from inventory.winnames import check_safe_name

DEFAULT_INVENTORY = Path("inventory/hosts.yml")
ENV_VAR = "TACFLEET_INVENTORY"
TOP_KEYS = ("all", "groups", "hosts")
ALL_KEYS = ("vars",)
GROUP_KEYS = ("vars", "hosts", "description")
PASSWORD_REF_FIX = (
    "reference it instead: password_env: VAR (an environment variable), "
    "password_file: ~/path (a file with mode 0600) or password_keyring: SERVICE/USER"
)
#: Fields only the Ansible inventory reader sets (a native inventory cannot write them).
ANSIBLE_ONLY = ("password_ansible",)
_SECRETISH = ("pass", "pwd", "secret", "token", "credential", "private")
#: NSSM / sc.exe parameter names people copy from the manual guide, and tacfleet's field.
_NSSM_NAMES = {
    "appdirectory": "app.app_directory", "appparameters": "app.arguments",
    "application": "python.venv", "displayname": "service.display_name",
    "objectname": "service.account", "obj": "service.account", "appstdout": "service.stdout",
    "appstderr": "service.stderr", "approtatefiles": "service.rotate_files",
    "approtatebytes": "service.rotate_bytes", "apprestartdelay": "service.restart_delay_ms",
    "appexit": "service.exit_action", "appthrottle": "service.throttle_ms",
}
#: Settings tacfleet no longer reads, and why: the fix of the unknown-key error.
_RETIRED = {
    ("python", "upload_python"): "remove it: no Python on the host is needed any more to "
    "receive the installer (it is sent with findstr and certutil, which every Windows Server "
    "has)",
}
_EXAMPLES = {
    ("connection",): "connection: {address: web01.example.com, user: deploy, password_env: VAR}",
    ("connection", "address"): "address: web01.example.com",
    ("app",): "app: {name: Example, tac_file: C:\\Apps\\Example\\my_tacfile.tac}",
    ("app", "name"): "name: Example",
    ("app", "tac_file"): "tac_file: C:\\Apps\\Example\\my_tacfile.tac",
    ("service",): "service: {name: my_service}",
    ("service", "name"): "name: my_service",
}
_TYPE_NAMES = {
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "bool_type": "true or false", "bool_parsing": "true or false", "model_type": "a mapping",
    "dict_type": "a mapping", "tuple_type": "a list", "list_type": "a list",
    "model_attributes_type": "a mapping", "path_type": "a path", "int_from_float": "a whole number",
}


def resolve_inventory_path(
    cli_value: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The inventory to use: ``--inventory`` beats ``$TACFLEET_INVENTORY`` beats the default.

    The default, ``inventory/hosts.yml``, is looked up in the current folder and then next to
    this package (so commands work from any folder of a checkout).
    """
    env = os.environ if env is None else env
    if cli_value:
        return Path(cli_value).expanduser()
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR]).expanduser()
    if DEFAULT_INVENTORY.exists():
        return DEFAULT_INVENTORY
    packaged = Path(__file__).with_name("hosts.yml")
    return packaged if packaged.exists() else DEFAULT_INVENTORY


def _yaml_type(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")


def _show(value: Any, key: Any = "") -> str | None:
    """A short printable form of a value; ``None`` for secrets and mappings."""
    if (isinstance(key, str) and any(s in key.lower() for s in _SECRETISH)
            and not key.startswith("password_")):
        return None
    if isinstance(value, dict):
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(str(v) for v in value) + "]"
    else:
        text = str(value)
    text = text.replace("\n", "\\n").replace("\t", "\\t")
    text = _USERINFO.sub(r"\1***@", text)  # a URL's user and token are never shown
    return text if len(text) <= 80 else text[:77] + "..."


def _closest(word: str, choices: Iterable[str]) -> str | None:
    choices = list(choices)
    squashed = {c.replace("_", "").replace("-", "").lower(): c for c in choices}
    key = word.replace("_", "").replace("-", "").replace(" ", "").lower()
    if key in squashed:
        return squashed[key]
    match = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return match[0] if match else None


def _field(loc: Iterable[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Loader:
    """One load: holds the parsed file and collects problems as it goes."""

    def __init__(self, path: Path, check_files: bool) -> None:
        self.path = path
        self.file = str(path)
        self.base_dir = path.expanduser().absolute().parent
        self.check_files = check_files
        self.data: LineDict = LineDict()
        self.problems: list[Problem] = []
        # (host, problem) pairs from host validation, merged across hosts at the end
        self.host_problems: list[tuple[str, Problem]] = []

    # -- locations ---------------------------------------------------------------------------
    def line(self, doc_path: Iterable[Any]) -> int | None:
        """Line of the deepest existing key along ``doc_path``."""
        node: Any = self.data
        line = None
        for part in doc_path:
            if isinstance(node, LineDict) and part not in node:  # a non-text YAML key (1:)
                part = next((k for k in node if str(k) == part), part)
            if isinstance(node, LineDict) and part in node:
                line = node.key_lines.get(part, line)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                break
        return line

    def add(self, message: str, fix: str, doc_path: tuple[Any, ...] = (), **kw: Any) -> None:
        self.problems.append(Problem(self.file, message, fix, line=self.line(doc_path), **kw))

    # -- structure ---------------------------------------------------------------------------
    def mapping(self, value: Any, doc_path: tuple[Any, ...], what: str, **kw: Any) -> LineDict:
        """``value`` as a mapping (``null`` is empty); anything else is reported."""
        if value is None:
            return LineDict()
        if isinstance(value, LineDict):
            return value
        self.add(f"must be a mapping of settings, not {_yaml_type(value)}",
                 f"write {what} as 'key: value' lines indented under it", doc_path, **kw)
        return LineDict()

    def check_keys(self, mapping: LineDict, known: Iterable[str], doc_path: tuple[Any, ...],
                   where: str, section: str = "", **kw: Any) -> None:
        """Report keys not in ``known`` with the closest known one."""
        known = list(known)
        for key, value in mapping.items():
            field = f"{section}.{key}" if section else str(key)
            if not isinstance(key, str):
                fix = "write a setting name"
                if isinstance(key, bool):
                    fix = "YAML reads yes/no/on/off/true/false as true/false: quote the name"
                self.add(f"the key {key!r} is {_yaml_type(key)}, not a name", fix,
                         (*doc_path, key), field=field, **kw)
                continue
            if key in known:
                continue
            if section == "connection" and key.lower() in ("password", "passwd", "pwd", "pass"):
                self.add("inline passwords are not allowed in the inventory", PASSWORD_REF_FIX,
                         (*doc_path, key), field=field, **kw)
                continue
            nssm_name = _NSSM_NAMES.get(key.lower())
            close = _closest(key, known)
            if (section, key) in _RETIRED:
                fix = _RETIRED[section, key]
            elif close:
                fix = f"did you mean '{close}'?"
            elif nssm_name:
                fix = f"tacfleet calls it {nssm_name}"
            else:
                fix = f"known keys in {where}: {', '.join(known)}"
            if key == "vars" and section == "" and "groups" in known and "app" in known:
                fix = "a host's settings go directly under its name (no vars:)"
            self.add(f"unknown key '{key}' in {where}", fix, (*doc_path, key), field=field,
                     value=_show(value, key), **kw)

    def check_settings(self, settings: LineDict, doc_path: tuple[Any, ...], where: str,
                       extra: tuple[str, ...] = (), **kw: Any) -> None:
        """Check the keys of a host entry or a vars block, section by section."""
        self.check_keys(settings, (*SECTIONS, "services", *extra), doc_path, where, **kw)
        self.check_sections(settings, doc_path, "", **kw)
        items = settings.get("services")
        if items is not None and (not isinstance(items, list) or not items):
            self.add("must be a non-empty list of services (each with service: and app:)",
                     "write services: as a YAML list: - {service: {name: api}, app: {...}}",
                     (*doc_path, "services"), field="services", value=_show(items), **kw)
        for i, item in enumerate(items if isinstance(items, list) else []):
            here = (*doc_path, "services", i)
            item = self.mapping(item, here, f"services[{i}]", field=f"services[{i}]", **kw)
            self.check_keys(item, tuple(ServiceEntry.model_fields), here, f"services[{i}]",
                            section=f"services[{i}]", **kw)
            self.check_sections(item, here, f"services[{i}].", **kw)

    def check_sections(self, settings: LineDict, doc_path: tuple[Any, ...], prefix: str,
                       **kw: Any) -> None:
        """Check the keys inside each section (``python``, ``app``...) of ``settings``."""
        for name, model in SECTIONS.items():
            section = settings.get(name)
            if isinstance(section, LineDict):
                known = [f for f in model.model_fields if f not in ANSIBLE_ONLY]
                self.check_keys(section, known, (*doc_path, name),
                                f"{prefix}{name} settings", section=f"{prefix}{name}", **kw)

    def duplicates(self, node: Any, doc_path: tuple[Any, ...] = ()) -> None:
        """Report keys written twice anywhere (YAML would keep only the last)."""
        if isinstance(node, LineDict):
            for key, line, first in node.duplicates:
                kw: dict[str, Any] = {"field": _field((*doc_path, key))}
                if doc_path == ("hosts",):
                    kw = {"hosts": (str(key),)}
                    message = "host is defined twice"
                elif doc_path == ("groups",):
                    kw = {"origin": f"group {key}"}
                    message = "group is defined twice"
                else:
                    message = f"the key '{key}' appears twice"
                message += f" (first on line {first}); YAML would keep only the last"
                self.problems.append(Problem(self.file, message, "merge them into one entry",
                                             line=line, **kw))
            for key, value in node.items():
                self.duplicates(value, (*doc_path, key))
        elif isinstance(node, list):
            for item in node:
                self.duplicates(item, doc_path)

    # -- membership --------------------------------------------------------------------------
    def names(self, value: Any, doc_path: tuple[Any, ...], what: str, **kw: Any) -> list[str]:
        """A YAML list of names (a single name is accepted too)."""
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(f"must be a list of {what} names, not {_yaml_type(value)}",
                     f"write it like [{'web' if what == 'group' else 'web01'}]", doc_path,
                     value=_show(value), **kw)
            return []
        return list(value)

    def build(self) -> Inventory | None:
        """Validate the whole file; return the inventory when nothing is wrong."""
        data, self.problems = read_inventory_file(self.path, self.file)
        if data is None:
            return None
        self.data = data
        self.duplicates(data)
        all_vars = self.top_level(data)
        entries, by_key = self.host_entries(data)
        members, group_vars = self.groups(data, by_key, list(entries))
        hosts: list[Host] = []
        for name, entry in entries.items():
            valid = self.host(name, entry, members, [("all.vars", ("all", "vars"), all_vars)],
                              group_vars)
            if valid is not None:
                hosts.append(valid)
        self.problems.extend(self.merged_host_problems())
        self.problems.sort(key=lambda p: p.line or 0)  # stable: file order, then discovery
        if self.problems:
            return None
        groups = {g: tuple(m) for g, m in members.items()}
        return Inventory(path=self.path, hosts=tuple(hosts), groups=groups)

    def top_level(self, data: LineDict) -> LineDict:
        """The top-level keys and ``all:``; the settings of ``all.vars``."""
        self.check_keys(data, TOP_KEYS, (), "the top level")
        all_ = self.mapping(data.get("all"), ("all",), "all:")
        self.check_keys(all_, ALL_KEYS, ("all",), "all:", section="all")
        all_vars = self.mapping(all_.get("vars"), ("all", "vars"), "all.vars")
        self.check_settings(all_vars, ("all", "vars"), "all.vars", origin="all.vars")
        return all_vars

    def host_entries(self, data: LineDict) -> tuple[dict[str, Any], dict[str, str]]:
        """Each host's entry by name (file order), and each name by its case-folded key; names
        that are unsafe or defined twice are problems."""
        raw_hosts = self.mapping(data.get("hosts"), ("hosts",), "hosts:")
        if not raw_hosts:
            self.add("defines no hosts", "add a hosts: section; start from inventory/example.yml",
                     ("hosts",))
        entries = {str(h): entry for h, entry in raw_hosts.items()}
        by_key: dict[str, str] = {}
        for name in entries:
            where = ("hosts", name)
            try:
                check_safe_name(name)
            except ValueError as exc:
                problem, fix = _problem_fix(exc)
                self.add(f"host name '{name}': {problem}", fix, where)
            if name.casefold() in by_key:
                self.add(f"host '{name}' is defined twice (as '{by_key[name.casefold()]}'; "
                         "host names are case-insensitive)", "merge them into one entry", where)
            by_key.setdefault(name.casefold(), name)
        return entries, by_key

    def groups(self, data: LineDict, by_key: dict[str, str], host_names: list[str],
               ) -> tuple[dict[str, list[str]], dict[str, LineDict]]:
        """``groups:``: each group's members as it lists them, and its vars."""
        raw_groups = self.mapping(data.get("groups"), ("groups",), "groups:")
        members: dict[str, list[str]] = {}
        group_vars: dict[str, LineDict] = {}
        for group, body in raw_groups.items():
            gpath = ("groups", group)
            group = str(group)
            if group == "all":
                self.add("'all' is reserved for every host", "put shared settings in all.vars",
                         gpath)
            elif group.casefold() in by_key:
                self.add(f"group '{group}' has the name of a host; selecting it would be "
                         "ambiguous", "rename the group", gpath)
            body = self.mapping(body, gpath, f"group {group}", origin=f"group {group}")
            self.check_keys(body, GROUP_KEYS, gpath, f"group {group}", origin=f"group {group}")
            group_vars[group] = self.mapping(body.get("vars"), (*gpath, "vars"),
                                             f"group {group} vars", origin=f"group {group}",
                                             field="vars")
            self.check_settings(group_vars[group], (*gpath, "vars"), f"group {group} vars",
                                origin=f"group {group}")
            listed = self.names(body.get("hosts"), (*gpath, "hosts"), "host",
                                origin=f"group {group}")
            members[group] = []
            for host in listed:
                if host.casefold() not in by_key:
                    close = _closest(host, host_names)
                    self.add("lists a host that is not defined under hosts:",
                             f"did you mean '{close}'?" if close else f"add {host} under hosts:",
                             (*gpath, "hosts"), origin=f"group {group}", field="hosts",
                             value=host)
                elif by_key[host.casefold()] in members[group]:
                    self.add("lists a host twice", "list it once", (*gpath, "hosts"),
                             origin=f"group {group}", field="hosts", value=host)
                else:
                    members[group].append(by_key[host.casefold()])
        return members, group_vars

    def host(self, name: str, entry: Any, members: dict[str, list[str]],
             layers: list[tuple[str, tuple[Any, ...], LineDict]],
             group_vars: dict[str, LineDict]) -> Host | None:
        """One host: its entry, the groups it joins itself (added to ``members``), and its
        settings layered all.vars (``layers``) → each of its groups' vars → its own."""
        entry = self.mapping(entry, ("hosts", name), f"host {name}", hosts=(name,))
        self.check_settings(entry, ("hosts", name), f"host {name}", extra=("groups",),
                            hosts=(name,))
        self.join_groups(name, entry, members)
        host_groups = [g for g in members if name in members[g]]
        layers = [*layers,
                  *((f"group {g}", ("groups", g, "vars"), group_vars[g]) for g in host_groups)]
        own = LineDict()
        own.update({k: v for k, v in entry.items() if k != "groups"})
        layers.append(("", ("hosts", name), own))
        return self.validate_host(name, host_groups, layers)

    def join_groups(self, name: str, entry: LineDict, members: dict[str, list[str]]) -> None:
        """A host's own ``groups: [...]``: it joins each (unknown groups are problems)."""
        for group in self.names(entry.get("groups"), ("hosts", name, "groups"), "group",
                                hosts=(name,)):
            if group in members:
                if name not in members[group]:
                    members[group].append(name)
            else:
                close = _closest(group, members)
                known = ", ".join(members) or "none"
                self.add(f"group '{group}' does not exist",
                         f"did you mean '{close}'?" if close
                         else f"define it under groups: (known groups: {known})",
                         ("hosts", name, "groups"), hosts=(name,), field="groups",
                         value=group)

    # -- hosts -------------------------------------------------------------------------------
    def validate_host(
        self, name: str, groups: list[str], layers: list[tuple[str, tuple[Any, ...], LineDict]]
    ) -> Host | None:
        merged: dict[str, Any] = {}
        origin: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]] = {}
        for label, doc_prefix, settings in layers:
            _overlay(merged, settings, origin, (label, doc_prefix))
        merged = {k: v for k, v in merged.items() if k in SECTIONS or k == "services"}
        multi = isinstance(merged.get("services"), list) and bool(merged["services"])
        merged.update(name=name, groups=tuple(groups))
        issues: list[tuple[str, str, str]] = []
        context = {"base_dir": self.base_dir, "check_files": self.check_files, "issues": issues}
        host: Host | None = None
        try:
            host = Host.model_validate(merged, context=context)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                if err["type"] == "extra_forbidden":
                    continue  # reported once, where it is written, by check_keys
                if err["type"] == "missing" and (loc in DERIVED_FIELDS or (
                        loc[:1] == ("services",) and loc[2:] in DERIVED_FIELDS)):
                    continue  # follows from an error on the field it derives from
                if multi and loc[:1] in (("app",), ("service",)):
                    continue  # the first service's, reported under services[0]
                if loc[:1] in (("name",), ("groups",)):
                    continue  # host names and groups are checked above
                message, fix = _translate(err, loc, _lookup(merged, loc))
                self.host_problem(name, loc, merged, origin, message, fix)
        for field, message, fix in issues:
            loc = _loc(field)
            if multi and loc[:1] in (("app",), ("service",)) and (
                    (field, message, fix) in issues[: issues.index((field, message, fix))]):
                continue  # the same finding on the first service, once is enough
            self.host_problem(name, loc, merged, origin, message, fix)
        return host if not issues else None

    def host_problem(self, name: str, loc: tuple[Any, ...], merged: dict[str, Any],
                     origin: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]],
                     message: str, fix: str) -> None:
        label, doc_prefix = "", ("hosts", name)
        for cut in range(len(loc), 0, -1):
            if loc[:cut] in origin:
                label, doc_prefix = origin[loc[:cut]]
                break
        value = _lookup(merged, loc)
        shown = None if value is _MISSING else _show(value, loc[-1] if loc else "")
        self.host_problems.append((name, Problem(
            self.file, message, fix, field=_field(loc), value=shown,
            line=self.line((*doc_prefix, *loc)), origin=label,
        )))

    def merged_host_problems(self) -> list[Problem]:
        """One problem per distinct finding, listing every host it affects."""
        grouped: dict[Problem, list[str]] = {}
        for host, problem in self.host_problems:
            grouped.setdefault(problem, []).append(host)
        out = [
            Problem(p.file, p.message, p.fix, tuple(dict.fromkeys(hosts)), p.field, p.value,
                    p.line, p.column, p.origin)
            for p, hosts in grouped.items()
        ]
        return out


_MISSING = object()


def _loc(field: str) -> tuple[Any, ...]:
    """``services[1].app.port`` as ``("services", 1, "app", "port")``."""
    loc: list[Any] = []
    for part in field.split("."):
        name, _, index = part.partition("[")
        loc.append(name)
        if index.rstrip("]").isdigit():
            loc.append(int(index.rstrip("]")))
    return tuple(loc)


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list | tuple) and isinstance(part, int) and part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return _MISSING
    return data


def _overlay(target: dict[Any, Any], layer: Mapping[Any, Any],
             origin: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]],
             source: tuple[str, tuple[Any, ...]], path: tuple[Any, ...] = ()) -> None:
    """Deep-merge ``layer`` into ``target``, noting where each key's value came from."""
    for key, value in layer.items():
        here = (*path, key)
        if not (isinstance(value, dict) and isinstance(target.get(key), dict)):
            for stale in [p for p in origin if len(p) > len(here) and p[: len(here)] == here]:
                del origin[stale]  # the value is replaced, not merged: forget what was under it
        origin[here] = source
        if isinstance(value, dict):
            if not isinstance(target.get(key), dict):
                target[key] = {}
            _overlay(target[key], value, origin, source, here)
        else:
            target[key] = copy.deepcopy(value)


def _problem_fix(exc: Exception) -> tuple[str, str]:
    ctx = getattr(exc, "context", None) or {}
    if "problem" in ctx:
        return str(ctx["problem"]), str(ctx.get("fix", ""))
    return str(exc), ""


def _translate(err: Mapping[str, Any], loc: tuple[Any, ...], value: Any) -> tuple[str, str]:
    """A pydantic error as (problem, fix) in the inventory's own words."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("tacfleet", "windows_path"):
        return ctx["problem"], ctx["fix"]
    if kind == "missing":
        example = _EXAMPLES.get(loc, f"{loc[-1]}: ...")
        section = f"under {loc[0]}: " if len(loc) > 1 else ""
        return "is required but not set", (
            f"add {example} {section}(in the host, a group's vars or all.vars)")
    if kind == "literal_error":
        choices = [c.strip(" '") for c in str(ctx.get("expected", "")).replace(" or ", ",")
                   .split(",") if c.strip(" '")]
        close = _closest(str(value), choices) if isinstance(value, str) else None
        fix = f"write {close}" if close else "write one of them"
        return f"must be one of {', '.join(choices)}", fix
    if kind in _TYPE_NAMES:
        expected = _TYPE_NAMES[kind]
        fix = {"text": "quote it: '...'", "a whole number": "write the number without quotes",
               "true or false": "write true or false without quotes",
               "a list": "write it as a YAML list: [a, b]",
               "a mapping": "write 'key: value' lines indented under it"}.get(expected, "")
        return f"is {_yaml_type(value)}, expected {expected}", fix or f"write {expected}"
    message = str(err.get("msg", kind))
    message = message.removeprefix("Value error, ").removeprefix("Input ")
    if message.startswith("should be"):
        message = "must be" + message[len("should be"):]
    return message, "change the value"


def load_inventory(path: str | os.PathLike[str] | None = None, *,
                   check_files: bool = True) -> Inventory:
    """Load and validate an inventory; raise :class:`InventoryError` listing every problem.

    ``path`` defaults to :func:`resolve_inventory_path`. ``check_files`` checks that the
    controller-side files it names (``tac_source``, ``requirements``...) exist. An Ansible
    inventory (see ``inventory.detect``) is read by ``inventory.ansible``.
    """
    from inventory.detect import inventory_format
    from inventory.errors import InventoryError

    path = Path(path) if path is not None else resolve_inventory_path()
    if inventory_format(path) == "ansible":
        from inventory.ansible import load_ansible_inventory

        return load_ansible_inventory(path, check_files=check_files)
    loader = _Loader(path, check_files)
    inventory = loader.build()
    if inventory is None:
        raise InventoryError(loader.problems)
    return inventory


def validate(path: str | os.PathLike[str] | None = None, *, check_files: bool = True,
             check_secrets: bool = False, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem in an inventory (empty when it is usable): for ``invoke inventory.validate``.

    ``check_secrets`` also resolves, as plan and provision will, each host's password reference
    and the references among its services' ``app.environment`` values (variable set, file
    present and private, keyring entry present); values are never shown. They are resolved even
    when a file the inventory names is missing, so one run lists both.
    Format the result with :func:`inventory.format_problems`.
    """
    from inventory.errors import InventoryError

    try:
        inventory = load_inventory(path, check_files=check_files)
        problems: list[Problem] = []
    except InventoryError as exc:
        problems = list(exc.problems)
        if not (check_secrets and check_files):
            return problems
        try:  # the same file without its file checks: are its secrets there?
            inventory = load_inventory(path, check_files=False)
        except InventoryError:
            return problems
    if check_secrets:
        for host in inventory.hosts:
            problems += _secret_problems(host, str(inventory.path), env)
    return problems


def _secret_problems(host: Host, source: str, env: Mapping[str, str] | None) -> list[Problem]:
    """What keeps ``host``'s password and its services' environment references from resolving."""
    from inventory.errors import InventoryError
    from inventory.secrets import resolve_password, resolve_value

    problems: list[Problem] = []
    checks: list[Callable[[], object]] = []
    if host.connection.password_refs:
        checks.append(partial(resolve_password, host.connection, host=host.name, env=env,
                              source=source))
    for unit in host.units():
        checks += [partial(resolve_value, value, name=name, host=host.name, env=env,
                           source=source)
                   for name, value in unit.app.environment.items() if not isinstance(value, str)]
    for check in checks:
        try:
            check()
        except InventoryError as exc:
            problems += [p for p in exc.problems if p not in problems]
    return problems
