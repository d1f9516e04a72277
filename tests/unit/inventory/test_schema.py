"""The inventory's JSON Schema and reference page (``inventory.schema``): generated from the
models, committed fresh, and in agreement with what the loader accepts and refuses.

An editor checks an inventory against ``docs/inventory.schema.json`` as it is typed, so the
schema must accept every inventory tacfleet accepts (the shipped ones and a services: host) and
refuse what the loader refuses for a key (a misspelt key, a value of the wrong type or out of
the allowed set); the real validator (jsonschema, draft 2020-12) judges it here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import tacfleet_cli as cli
from inventory import validate as loader_problems
from inventory.models import SECTIONS
from inventory.schema import (
    MODELS,
    example_issues,
    fields,
    inventory_schema,
    reference_markdown,
    schema_text,
)

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "docs" / "inventory.schema.json"
REFERENCE_FILE = ROOT / "docs" / "reference" / "inventory.md"
REGENERATE = ("regenerate it: invoke inventory.schema --output docs/inventory.schema.json && "
              "invoke inventory.schema --markdown --output docs/reference/inventory.md")
SHIPPED = [ROOT / "inventory" / "example.yml", ROOT / "inventory" / "hosts.yml",
           ROOT / "tests" / "data" / "inventory" / "good.yml",
           ROOT / "sandbox" / "fleet" / "transcripts" / "compliant.inventory.yml"]
SERVICES_HOST = """\
hosts:
  web03:
    connection: {address: web03.example.com, user: deploy, password_env: WEB_PASSWORD}
    services:
      - service: {name: api}
        app: {name: api, tac_file: C:\\Apps\\api\\api.tac, port: 8080,
              environment: {TOKEN: {env: API_TOKEN}, MODE: production}}
      - service: {name: web}
        app: {name: web, tac_file: C:\\Apps\\web\\web.tac, port: 8081, releases: true,
              package: web==1.0, health: {path: /health, settle_s: 5}}
        python: {venv: C:\\PythonEnvs\\web}
"""


def _validator() -> jsonschema.Draft202012Validator:
    schema = inventory_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(data: Any) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _validator().iter_errors(data)]


def test_the_committed_schema_is_what_the_models_generate() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), REGENERATE


def test_the_committed_reference_page_is_what_the_models_generate() -> None:
    assert REFERENCE_FILE.read_text(encoding="utf-8") == reference_markdown(), REGENERATE


def test_every_key_has_a_meaning_and_a_valid_example() -> None:
    assert example_issues() == []


def test_every_section_key_is_in_the_schema_and_the_reference() -> None:
    defs = inventory_schema()["$defs"]
    page = reference_markdown()
    for section, model in MODELS.items():
        assert f"## `{section}`" in page
        for key in fields(section):
            assert key in defs[model.__name__]["properties"], f"{section}.{key}"
            assert f"| `{key}` |" in page, f"{section}.{key}"
    settings = set(defs["Settings"]["properties"])
    assert settings == {*SECTIONS, "services"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_schema_accepts_the_inventories_tacfleet_ships(path: Path) -> None:
    assert _errors(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def test_the_schema_accepts_a_host_with_several_services(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WEB_PASSWORD", "not-used")
    path = tmp_path / "fleet.yml"
    path.write_text(SERVICES_HOST, encoding="utf-8")
    assert [p.message for p in loader_problems(path)] == []
    assert _errors(yaml.safe_load(SERVICES_HOST)) == []


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d["hosts"]["web01"]["connection"].update(adress="x"), "hosts.web01.connection"),
    (lambda d: d["hosts"]["web01"].update(vars={}), "hosts.web01"),
    (lambda d: d["hosts"]["web01"]["connection"].update(port="5986"),
     "hosts.web01.connection.port"),
    (lambda d: d["hosts"]["web01"]["connection"].update(port=70000),
     "hosts.web01.connection.port"),
    (lambda d: d["hosts"]["web01"]["connection"].update(https="yes"),
     "hosts.web01.connection.https"),
    (lambda d: d["groups"]["web"]["vars"]["service"].update(start="automatic"),
     "groups.web.vars.service.start"),
    (lambda d: d["groups"]["web"]["vars"]["app"].update(health={"timeout": 5}),
     "groups.web.vars.app.health"),
    (lambda d: d["all"]["vars"]["nssm"].update(source="download"), "all.vars.nssm.source"),
    (lambda d: d.update(host={}), ""),
], ids=["misspelt key", "vars under a host", "port as text", "port too high",
        "https as text", "unknown start type", "unknown health key", "unknown nssm source",
        "unknown top-level key"])
def test_the_schema_refuses_what_the_loader_refuses_for_a_key(change: Any, where: str,
                                                               tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "inventory" / "example.yml").read_text(encoding="utf-8"))
    change(data)
    errors = _errors(data)
    assert errors and all(e.startswith(f"{where}:") for e in errors), errors
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert loader_problems(path), "the loader accepts it: the schema must too"


def test_inventory_schema_task_writes_the_schema_or_prints_it(tmp_path: Path, capsys) -> None:
    out = tmp_path / "inventory.schema.json"
    assert cli.inventory_schema(str(out)) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "tacfleet inventory"
    assert cli.inventory_schema(None, markdown=True) == 0
    assert capsys.readouterr().out == reference_markdown()


def test_an_unwritable_output_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    assert cli.inventory_schema(str(tmp_path / "missing" / "x.json")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write it" in err[0] and "fix:" in err[0], err
