"""Which release an inventory entry asks for (``app.releases``), and the fields that turn it on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inventory import InventoryError, Problem, load_inventory
from inventory.releases import app_version, is_release_name, release_name, release_of
from tests.support.wheels import make_wheel

ENTRY = r"""
hosts:
  web01:
    connection: {address: web01.example.com, user: deploy, password_env: PW}
    python: {wheelhouse: C:\wheels}
    app:
      name: Example
      package: example
      tac_file: C:\Apps\Example\my_tacfile.tac
      port: 8080
      releases: true
      health: {path: /health, settle_s: 5}
    service: {name: my_service}
"""


def inventory(tmp_path: Path, **app: object) -> Path:
    data = yaml.safe_load(ENTRY)
    entry = data["hosts"]["web01"]
    wheels = app.pop("ship", None)
    if wheels is not None:
        entry["python"]["ship_wheels"] = str(wheels)
    entry["app"].update(app)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    return info.value.problems


def test_the_unit_runs_from_a_release_folder_under_the_venv(tmp_path):
    host = load_inventory(inventory(tmp_path, package="example==1.2.0")).host("web01")
    unit = host.units()[0]
    name = release_name(unit)
    assert name.startswith("1.2.0-") and is_release_name(name)
    assert unit.python.venv == rf"C:\PythonEnvs\Example\releases\{name}"
    assert unit.python.release_root == r"C:\PythonEnvs\Example"
    assert unit.nssm.path == r"C:\PythonEnvs\Example\Scripts\nssm.exe"  # at the root: it stays
    assert unit.units() == (unit,)  # already a release's unit


def test_a_new_shipped_wheel_is_a_new_release_and_the_same_files_the_same_one(tmp_path):
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "example", "1.0.0")
    path = inventory(tmp_path, ship=wheels)
    first = release_name(load_inventory(path).host("web01"))
    assert first.startswith("1.0.0-")
    assert release_name(load_inventory(path).host("web01")) == first
    newer = make_wheel(wheels, "example", "1.1.0")
    second = release_name(load_inventory(path).host("web01"))
    assert second.startswith("1.1.0-") and second != first
    newer.unlink()
    assert release_name(load_inventory(path).host("web01")) == first


def test_an_unpinned_app_from_an_index_is_named_unpinned(tmp_path):
    host = load_inventory(inventory(tmp_path)).host("web01")
    assert app_version(host) is None and release_name(host).startswith("unpinned-")


def test_releases_need_a_port_and_a_package(tmp_path):
    data = yaml.safe_load(ENTRY)
    app = data["hosts"]["web01"]["app"]
    del app["port"], app["package"]
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    found = {(p.field, p.fix) for p in problems_of(path)}
    assert any(f.endswith("app.port") and "TCP port" in fix for f, fix in found), found
    assert any(f.endswith("app.package") for f, _ in found), found


def test_release_root_is_set_by_tacfleet_only(tmp_path):
    data = yaml.safe_load(ENTRY)
    data["hosts"]["web01"]["python"]["release_root"] = r"C:\Elsewhere"
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    [problem] = problems_of(path)
    assert problem.field.endswith("python.release_root") and "remove" in problem.fix


@pytest.mark.parametrize("value", ["health", "/he alth", "/h\x07"])
def test_a_health_path_must_be_an_http_path(tmp_path, value):
    [problem] = problems_of(inventory(tmp_path, health={"path": value}))
    assert problem.field.endswith("app.health.path") and "/health" in problem.fix


def test_release_of_reads_only_release_pythons():
    root = r"C:\PythonEnvs\Example"
    name = "1.2.0-0123abcd"
    assert release_of(rf"{root}\releases\{name}\Scripts\python.exe", root) == name
    assert release_of(r"c:\pythonenvs\example\RELEASES\1.2.0-0123abcd\scripts\PYTHON.EXE",
                      root) == "1.2.0-0123abcd"
    assert release_of(rf"{root}\Scripts\python.exe", root) is None
    assert release_of(rf"{root}\releases\tmp\Scripts\python.exe", root) is None
    assert release_of(rf"{root}\releases\1.2.0-0123abcd\python.exe", root) is None
    assert release_of(None, root) is None
