"""Read an Ansible inventory (INI, YAML, a folder, a script or a plugin) through ansible-core.

Ansible's own machinery reads it, in this process (``DataLoader``, ``InventoryManager``,
``VariableManager``, ``Templar``): every source Ansible reads works, ``group_vars``/``host_vars``
and vault included, variables merge exactly as Ansible merges them (``hash_behaviour``), and
values keep their origin (file and line) for error messages. In-process rather than
``ansible-inventory --list``: one load (~0.3 s) instead of a CLI start, and the raw
``ansible_password`` stays unresolved until a command needs it.

A host is a tacfleet host when it has a ``tacfleet`` variable (at any level: host, group,
``group_vars``); other hosts are left out. Mapping (then the native format's validation):

=======================================  =====================================================
``ansible_host`` (else the host's name)  ``connection.address``
``ansible_port``                         ``connection.port``
``ansible_user``                         ``connection.user``
``ansible_password``                     ``connection.password_ansible`` (vault or template
                                         only; resolved by Ansible when connecting)
``ansible_winrm_transport``              ``connection.transport`` (``ssl``/``plaintext``: basic)
``ansible_winrm_scheme``                 ``connection.https`` (default: http on 5985 only)
``ansible_winrm_server_cert_validation`` ``connection.cert_validation`` (``ignore``/``validate``)
``ansible_winrm_ca_trust_path``          ``connection.ca_file``
``ansible_winrm_cert_pem``/``_key_pem``  ``connection.cert_pem``/``cert_key_pem``
groups and ``children``                  tacfleet groups (every host of a group's children too)
``tacfleet: {python, app, service, ...}``  the native sections (``tacfleet.connection`` last)
=======================================  =====================================================
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from inventory.errors import InventoryError, Problem, SecretError
from inventory.loader import _MISSING, _closest, _field, _loc, _lookup, _show, _translate
from inventory.models import DERIVED_FIELDS, SECTIONS, AnsiblePassword, Host
from inventory.selection import Inventory
from inventory.winnames import check_safe_name

EXTRA_FIX = "pip install 'tacfleet[ansible]' (ansible-core)"
VAR = "tacfleet"
PASSWORD_VARS = ("ansible_password", "ansible_winrm_password", "ansible_winrm_pass")
PASSWORD_FIX = ("vault-encrypt it (ansible-vault encrypt_string --name ansible_password) or "
                "reference it: \"{{ lookup('env', 'VAR') }}\"")
#: Ansible variable -> connection field, in the order Ansible looks them up.
_SIMPLE = {
    "address": ("ansible_host", "ansible_winrm_host"),
    "port": ("ansible_port", "ansible_winrm_port"),
    "user": ("ansible_user", "ansible_winrm_user"),
    "transport": ("ansible_winrm_transport",),
    "https": ("ansible_winrm_scheme",),
    "cert_validation": ("ansible_winrm_server_cert_validation",),
    "ca_file": ("ansible_winrm_ca_trust_path",),
    "cert_pem": ("ansible_winrm_cert_pem",),
    "cert_key_pem": ("ansible_winrm_cert_key_pem",),
    "kerberos_hostname_override": ("ansible_winrm_kerberos_hostname_override",),
    "kerberos_delegation": ("ansible_winrm_kerberos_delegation",),
    "operation_timeout": ("ansible_winrm_operation_timeout_sec",),
    "read_timeout": ("ansible_winrm_read_timeout_sec",),
}
_TRANSPORTS = {"ssl": "basic", "plaintext": "basic"}
_FIXES = {  # a fix in Ansible's words for connection fields set (or missing) by ansible_* vars
    "connection.user": "set ansible_user (host, group vars or group_vars/)",
    "connection.address": "set ansible_host",
    "connection.password_env": f"set ansible_password: {PASSWORD_FIX}",
    "connection.transport": "set ansible_winrm_transport: ntlm, kerberos, credssp, certificate "
                            "or basic",
}


@dataclass
class _Source:
    """Ansible's objects for one inventory, kept to resolve passwords later."""

    path: Path
    loader: Any
    manager: Any
    variables: Any
    lock: threading.Lock


_sources: dict[Path, _Source] = {}
_sources_lock = threading.Lock()
_vault_lock = threading.Lock()


def _import_ansible(file: str) -> Any:
    try:
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.vars.manager import VariableManager
    except ImportError:
        raise InventoryError([Problem(
            file, "is an Ansible inventory, and reading it needs ansible-core, which is not "
            "installed", EXTRA_FIX)]) from None
    return DataLoader, InventoryManager, VariableManager


def _vault_secrets(loader: Any) -> None:
    """Give ``loader`` the vault passwords Ansible's configuration names (files and scripts;
    never a prompt), once per process as ansible-core allows."""
    from ansible import constants as C
    from ansible.parsing.vault import VaultSecretsContext, get_file_vault_secret

    with _vault_lock:
        current = VaultSecretsContext.current(optional=True)
        if current is not None:
            loader.set_vault_secrets(current.secrets)
            return
        slugs = list(C.DEFAULT_VAULT_IDENTITY_LIST or [])
        if C.DEFAULT_VAULT_PASSWORD_FILE:
            slugs.append(f"{C.DEFAULT_VAULT_IDENTITY}@{C.DEFAULT_VAULT_PASSWORD_FILE}")
        secrets = []
        for slug in slugs:
            vault_id, _, where = slug.rpartition("@")
            if where.startswith("prompt"):
                continue
            secret = get_file_vault_secret(filename=where, vault_id=vault_id or None,
                                           loader=loader)
            secret.load()
            secrets.append((vault_id or C.DEFAULT_VAULT_IDENTITY, secret))
        loader.set_vault_secrets(secrets)
        VaultSecretsContext.initialize(VaultSecretsContext(secrets))


@contextmanager
def _captured_warnings() -> Iterator[list[Any]]:
    """Ansible's warnings (a source it could not parse...) as a list instead of on stderr."""
    try:
        from ansible._internal._display_utils import DeferredWarningContext
    except ImportError:  # another ansible-core: its warnings go to stderr
        yield []
        return
    with DeferredWarningContext(variables={}) as ctx:
        found: list[Any] = []
        yield found
        found.extend(ctx.get_warnings())


def _messages(warning: Any) -> list[str]:
    event, out = getattr(warning, "event", None), []
    while event is not None:
        out.append(str(event.msg))
        event = event.chain.event if getattr(event, "chain", None) else None
    return out


def _open(path: Path, file: str) -> _Source:
    """Load ``path`` with Ansible (cached per path); :class:`InventoryError` when it cannot."""
    key = path.expanduser().absolute()
    DataLoader, InventoryManager, VariableManager = _import_ansible(file)
    from ansible.errors import AnsibleError

    loader = DataLoader()
    try:
        _vault_secrets(loader)
        with _captured_warnings() as warnings:
            manager = InventoryManager(loader=loader, sources=[str(key)])
    except AnsibleError as exc:
        raise InventoryError([Problem(file, f"Ansible cannot read it: {_first_line(exc)}",
                                      "check it with: ansible-inventory -i "
                                      f"{file} --list")]) from None
    if str(key) not in manager._inventory.processed_sources and not key.is_dir():
        why = [m for w in warnings for m in _messages(w)
               if not m.startswith(("Unable to parse", "No inventory was parsed"))]
        detail = f" ({why[-1]})" if why else ""
        raise InventoryError([Problem(
            file, f"Ansible could not read it as an inventory{detail}",
            f"check it with: ansible-inventory -i {file} --list")])
    source = _Source(key, loader, manager, VariableManager(loader=loader, inventory=manager),
                     threading.Lock())
    with _sources_lock:
        _sources[key] = source
    return source


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _origin(value: Any) -> tuple[str, int | None, int | None] | None:
    """(file, line, column) where Ansible read ``value``, when it knows."""
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:
        return None
    tag = Origin.get_tag(value)
    if tag is None or not tag.path:
        return None
    return tag.path, tag.line_num, tag.col_num


def _plain(value: Any) -> Any:
    """Ansible's tagged values as plain Python data (pydantic's strict types want them)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return "".join(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _is_reference(value: Any) -> bool:
    """A vault-encrypted value (inline or from a vault file) or a template: not clear text."""
    from ansible._internal._datatag._tags import VaultedValue
    from ansible.parsing.vault import EncryptedString
    from ansible.template import Templar

    if isinstance(value, EncryptedString) or VaultedValue.is_tagged_on(value):
        return True
    return isinstance(value, str) and Templar().is_possibly_template(value)


class _HostReader:
    """Map one Ansible host's variables to tacfleet's sections; collect its problems."""

    def __init__(self, source: _Source, file: str, name: str, hostvars: Mapping[str, Any]):
        self.source, self.file, self.name, self.vars = source, file, name, hostvars
        self.problems: list[Problem] = []
        #: tacfleet field (``connection.port``) -> (label shown, raw value for its origin)
        self.labels: dict[tuple[str, ...], tuple[str, Any]] = {}
        self.raw_settings: Any = None
        self.password_refused = False  # then "no password" would only repeat it

    def problem(self, field: str, raw: Any, message: str, fix: str, value: Any = _MISSING) -> None:
        where = _origin(raw) if raw is not _MISSING else None
        file, line, column = where if where else (self.file, None, None)
        shown = None if value is _MISSING else _show(value, field.rsplit(".", 1)[-1])
        self.problems.append(Problem(file, message, fix, hosts=(self.name,), field=field,
                                     value=shown, line=line, column=column))

    def connection(self) -> dict[str, Any]:
        conn: dict[str, Any] = {"address": self.name}
        kind = self.vars.get("ansible_connection")
        if kind is not None and str(kind) not in ("winrm", "ansible.builtin.winrm"):
            self.problem("ansible_connection", kind, "tacfleet connects to hosts with WinRM",
                         "set ansible_connection: winrm for this host, or remove its tacfleet "
                         "variable", kind)
        for key, names in _SIMPLE.items():
            name = next((n for n in names if self.vars.get(n) is not None), None)
            if name is None:
                continue
            raw = self.vars[name]
            value = self.convert(key, name, raw)
            if value is not _MISSING:
                conn[key] = value
                self.labels[("connection", key)] = (name, raw)
        if "https" not in conn:
            conn["https"] = conn.get("port") != 5985  # Ansible's winrm default scheme
        name = next((n for n in PASSWORD_VARS if self.vars.get(n) is not None), None)
        if name is not None:
            raw = self.vars[name]
            self.labels[("connection", "password_env")] = (name, raw)
            if _is_reference(raw):
                conn["password_ansible"] = {"inventory": self.source.path, "host": self.name}
            else:
                self.password_refused = True
                self.problem(name, raw, "is written in clear text; tacfleet takes passwords "
                             "only by reference", PASSWORD_FIX)
        return conn

    def convert(self, key: str, name: str, raw: Any) -> Any:
        from ansible.module_utils.parsing.convert_bool import boolean

        value = _plain(raw)
        if key == "port" and isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if key in ("operation_timeout", "read_timeout") and isinstance(value, str | float):
            try:
                return int(float(value))
            except ValueError:
                pass
        if key == "transport":
            items = value if isinstance(value, list) else str(value).split(",")
            first = str(items[0]).strip().lower() if items else ""
            return _TRANSPORTS.get(first, first)
        if key == "https":
            if str(value).lower() in ("http", "https"):
                return str(value).lower() == "https"
            self.problem(name, raw, "must be http or https", "write https (or http)", value)
            return _MISSING
        if key == "cert_validation":
            if str(value).lower() in ("ignore", "validate"):
                return str(value).lower() == "validate"
            self.problem(name, raw, "must be validate or ignore", "write validate (or ignore)",
                         value)
            return _MISSING
        if key == "kerberos_delegation":
            try:
                return boolean(value, strict=True)
            except TypeError:
                self.problem(name, raw, "is not true or false", "write true or false", value)
                return _MISSING
        return value

    def settings(self) -> dict[str, Any]:
        """The templated ``tacfleet`` variable, with each section's keys checked."""
        from ansible.errors import AnsibleError
        from ansible.template import Templar

        raw = self.vars[VAR]
        try:
            with self.source.lock:
                value = _plain(Templar(loader=self.source.loader,
                                       variables=self.vars).template(raw))
        except AnsibleError as exc:
            self.problem(VAR, raw, f"Ansible cannot template it: {_safe_reason(exc)}",
                         "fix the expression (ansible -m debug -a var=tacfleet HOST)")
            return {}
        if not isinstance(value, dict):
            self.problem(VAR, raw, f"must be a mapping of tacfleet settings, not "
                         f"{type(value).__name__}",
                         "write tacfleet: {app: {...}, service: {...}, python: {...}}")
            return {}
        self.raw_settings = raw
        for key in list(value):
            if key not in SECTIONS and key != "services":
                close = _closest(str(key), SECTIONS)
                self.problem(f"{VAR}.{key}", _lookup(raw, (key,)), f"unknown key '{key}' in "
                             f"the {VAR} variable", f"did you mean '{close}'?" if close else
                             f"known keys: {', '.join(SECTIONS)}")
                del value[key]
        return value

    def host(self, check_files: bool, base_dir: Path) -> Host | None:
        settings = self.settings()
        data: dict[str, Any] = {k: v for k, v in settings.items() if k != "connection"}
        conn = self.connection()
        own = settings.get("connection")
        if isinstance(own, dict):
            conn.update(own)
            for key in own:
                self.labels.pop(("connection", key), None)
        data["connection"] = conn if own is None or isinstance(own, dict) else own
        data.update(name=self.name, groups=())
        issues: list[tuple[str, str, str]] = []
        context = {"base_dir": base_dir, "check_files": check_files, "issues": issues}
        host: Host | None = None
        try:
            host = Host.model_validate(data, context=context)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(str(p) if not isinstance(p, int) else p for p in err["loc"])
                if (err["type"] == "missing" and (loc in DERIVED_FIELDS or loc[2:] in
                        DERIVED_FIELDS)) or loc[:1] == ("name",):
                    continue
                if isinstance(data.get("services"), list) and loc[:1] in (("app",), ("service",)):
                    continue  # the first service's, reported under services[0]
                value = _lookup(data, loc)
                if err["type"] == "extra_forbidden":
                    model = SECTIONS.get(str(loc[-2])) if len(loc) > 1 else None
                    close = _closest(str(loc[-1]), model.model_fields if model else SECTIONS)
                    message, fix = (f"unknown key '{loc[-1]}' in {loc[0]} settings",
                                    f"did you mean '{close}'?" if close else "remove it")
                else:
                    message, fix = _translate(err, loc, value)
                self.model_problem(loc, value, message, fix)
        for field, message, fix in issues:
            loc = _loc(field)
            self.model_problem(loc, _lookup(data, loc), message, fix)
        return host if not issues and not self.problems else None

    def model_problem(self, loc: tuple[Any, ...], value: Any, message: str, fix: str) -> None:
        """A model error, named by the variable the user wrote (``ansible_port``,
        ``tacfleet.app.port``) and placed where Ansible read it."""
        key = tuple(loc[:2])
        label = self.labels.get(key)
        if label is not None and label[0].startswith("ansible_"):
            field, raw = label
        elif label is None and len(loc) > 1 and loc[0] == "connection":
            names = _SIMPLE.get(str(loc[1])) or (
                PASSWORD_VARS if str(loc[1]).startswith("password_") else ())
            field = names[0] if names else f"{VAR}.{_field(loc)}"
            raw, fix = _MISSING, _FIXES.get(_field(key), fix)
        else:
            field, raw = f"{VAR}.{_field(loc)}", _deepest(self.raw_settings, loc)
            if message.startswith("is required"):
                fix = fix.split(" (in the host")[0] + f" under {VAR}: " + _replace_note()
        if field in PASSWORD_VARS:
            if self.password_refused:
                return
            value = _MISSING
        self.problem(field, raw, message, fix, value)


def _replace_note() -> str:
    from ansible import constants as C

    if C.DEFAULT_HASH_BEHAVIOUR == "merge":
        return "(host vars, group vars or group_vars/)"
    return ("(Ansible replaces the whole tacfleet variable with the one set closest to the "
            "host: write every section there, or use hash_behaviour=merge)")


def _deepest(raw: Any, loc: tuple[Any, ...]) -> Any:
    """The deepest value along ``loc`` in the untemplated variable (it carries the origin)."""
    found = raw if raw is not None else _MISSING
    node = raw
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
            found = node
        else:
            break
    return found


def load_ansible_inventory(path: Path, *, check_files: bool = True) -> Inventory:
    """Read an Ansible inventory into validated hosts; :class:`InventoryError` lists every
    problem (in the file and line Ansible read the value from, when it knows)."""
    file = str(path)
    source = _open(path, file)
    base_dir = path.expanduser().absolute()
    base_dir = base_dir if base_dir.is_dir() else base_dir.parent
    problems: list[Problem] = []
    hosts: list[Host] = []
    names: list[str] = []
    from ansible.errors import AnsibleError

    for ansible_host in source.manager.get_hosts():
        try:
            hostvars = source.variables.get_vars(host=ansible_host, include_hostvars=False)
        except AnsibleError as exc:  # a broken group_vars file, a vault without its password
            problems.append(_vars_problem(source, base_dir, file, ansible_host.name, exc))
            continue
        if VAR not in hostvars:
            continue
        name = ansible_host.name
        try:
            check_safe_name(name)
        except ValueError as exc:
            ctx = getattr(exc, "context", None) or {}
            problems.append(Problem(file, f"host name '{name}': {ctx.get('problem', exc)}",
                                    "name the host with letters, digits, _ . - and set "
                                    "ansible_host to its address", hosts=(name,)))
            continue
        reader = _HostReader(source, file, name, hostvars)
        host = reader.host(check_files, base_dir)
        problems.extend(reader.problems)
        names.append(name)
        if host is not None:
            hosts.append(host)
    if not names and not problems:
        problems.append(Problem(file, f"no host has a '{VAR}' variable",
                                f"set {VAR}: {{app: ..., service: ...}} in group_vars/ (or a "
                                "group's vars) for the hosts tacfleet manages"))
    groups = _groups(source.manager, names)
    clash = [g for g in groups if g.casefold() in {n.casefold() for n in names}]
    problems += [Problem(file, f"group '{g}' has the name of a host; selecting it would be "
                         "ambiguous", "rename the group or the host") for g in clash]
    if problems:
        raise InventoryError(_merged(problems))
    with_groups = [h.model_copy(update={"groups": tuple(g for g in groups
                                                        if h.name in groups[g])})
                   for h in hosts]
    return Inventory(path=path, hosts=tuple(with_groups), groups=groups)


def _vars_problem(source: _Source, base_dir: Path, file: str, host: str,
                  exc: Exception) -> Problem:
    """The host's variables cannot be read: name the group_vars/host_vars file at fault (Ansible's
    message does not), found by reading each of them again."""
    from ansible.errors import AnsibleError

    for folder in ("group_vars", "host_vars"):
        for path in sorted((base_dir / folder).rglob("*")):
            if not path.is_file() or any(p.startswith(".") for p in path.parts):
                continue
            try:
                source.loader.load_from_file(str(path))
            except AnsibleError as bad_file:
                where = _origin_of(bad_file.obj)
                return Problem(where[0] if where else str(path),
                               f"Ansible cannot read it: {_first_line(bad_file)}",
                               "fix the file (YAML, or set ANSIBLE_VAULT_PASSWORD_FILE for a "
                               "vault)", hosts=(host,), line=where[1] if where else None,
                               column=where[2] if where else None)
    return Problem(file, f"Ansible cannot read the host's variables: {_first_line(exc)}",
                   f"check its group_vars/ and host_vars/ files (ansible-inventory -i {file} "
                   f"--host {host})", hosts=(host,))


def _origin_of(obj: Any) -> tuple[str, int | None, int | None] | None:
    """An Ansible error's ``obj`` when it is an Origin (a place), as (file, line, column)."""
    path = getattr(obj, "path", None)
    return (path, getattr(obj, "line_num", None), getattr(obj, "col_num", None)) if path else None


def _groups(manager: Any, names: list[str]) -> dict[str, tuple[str, ...]]:
    """Each Ansible group (``children`` included) with its tacfleet hosts, in host order."""
    out: dict[str, tuple[str, ...]] = {}
    for group in manager.groups.values():
        if group.name in ("all", "ungrouped"):
            continue
        members = {h.name for h in group.get_hosts()}
        out[group.name] = tuple(n for n in names if n in members)
    return out


def _merged(problems: list[Problem]) -> list[Problem]:
    """One problem per finding, naming every host it affects (shared group vars)."""
    grouped: dict[Problem, list[str]] = {}
    for p in problems:
        key = Problem(p.file, p.message, p.fix, (), p.field, p.value, p.line, p.column, p.origin)
        grouped.setdefault(key, []).extend(h for h in p.hosts if h not in grouped.get(key, []))
    merged = [Problem(p.file, p.message, p.fix, tuple(h), p.field, p.value, p.line, p.column,
                      p.origin) for p, h in grouped.items()]
    return sorted(merged, key=lambda p: (p.file, p.line or 0))


def _safe_reason(exc: Exception) -> str:
    """Why a password did not resolve, without a message that may quote the value itself (a
    filter's error on the looked-up text): an undefined variable or a vault problem only."""
    from ansible.errors import AnsibleUndefinedVariable
    from ansible.parsing.vault import AnsibleVaultError

    text = _first_line(exc)[:200]
    if isinstance(exc, AnsibleUndefinedVariable | AnsibleVaultError) or "vault" in text.lower():
        return f"{type(exc).__name__}: {text}"
    return f"{type(exc).__name__}; its message is not shown, it may quote the value"


def resolve_ansible_password(ref: AnsiblePassword) -> SecretStr:
    """The host's ``ansible_password``, templated and decrypted by Ansible.

    :class:`SecretError` names the host and the variable, never the value.
    """
    __tracebackhide__ = True
    from ansible.errors import AnsibleError
    from ansible.template import Templar

    file, key = str(ref.inventory), Path(ref.inventory).expanduser().absolute()
    with _sources_lock:
        source = _sources.get(key)
    if source is None:
        source = _open(Path(ref.inventory), file)

    def fail(message: str, fix: str) -> SecretError:
        return SecretError([Problem(file, message, fix, hosts=(ref.host,),
                                    field="ansible_password")])

    host = source.manager.get_host(ref.host)
    if host is None:
        raise fail("the host is no longer in the inventory", "run again with the inventory as "
                   "it is now")
    with source.lock:
        hostvars = source.variables.get_vars(host=host, include_hostvars=False)
        raw = next((hostvars[n] for n in PASSWORD_VARS if hostvars.get(n) is not None), None)
        if raw is None:
            raise fail("is not set", f"set ansible_password: {PASSWORD_FIX}")
        try:
            value = Templar(loader=source.loader, variables=hostvars).template(raw)
        except AnsibleError as exc:
            raise fail(f"Ansible cannot resolve it ({_safe_reason(exc)})",
                       "check the vault password (ANSIBLE_VAULT_PASSWORD_FILE) and the "
                       f"expression: ansible -i {file} {ref.host} -m debug -a "
                       "var=ansible_password") from None
    text = _plain(value) if isinstance(value, str) else ""
    if not text:
        raise fail("resolves to an empty value", "make the reference resolve to the password")
    return SecretStr(text)
