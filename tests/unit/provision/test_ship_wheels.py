"""``python.ship_wheels``: validation, the desired wheels, the requirement's verdicts on probe
documents and the upload step's commands."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from compliance import desired
from compliance.desired import PART_SUFFIX
from compliance.requirements import REQUIREMENTS, judge_all
from inventory import InventoryError, Problem, load_inventory
from provision.engine import run_step
from provision.hostops import decode_ops
from provision.model import Status
from provision.steps import STEPS, Context, packages
from tests.support import ROOT
from tests.support.inventories import WHEELHOUSE, sandbox_inventory
from tests.support.probe_doc import compliant_doc
from winhost.probe import facts_from_probe

SHIP = next(s for s in STEPS if s.name == "ship_wheels")


def wheel(folder: Path, name: str, version: str, payload: bytes = b"") -> Path:
    """A small wheel file (a zip named as pip names wheels)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/__init__.py", f"__version__ = {version!r}\n".encode() + payload)
    return path


def inventory(tmp_path: Path, ship: str, *, wheelhouse: bool = True,
              package: str = "tacdemo") -> Path:
    return sandbox_inventory(tmp_path, package,
                             (WHEELHOUSE if wheelhouse else "") + f"\n      ship_wheels: {ship}")


def problems(path: Path) -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    return info.value.problems


def host_of(tmp_path: Path, ship: str = "dist", **kw):
    return load_inventory(inventory(tmp_path, ship, **kw)).host("sandbox")


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "ship", "says"), [
    (lambda d: None, "dist", "no such file or folder on this machine"),
    (lambda d: (d / "app.zip").write_bytes(b"x"), "app.zip", "is not a wheel (.whl)"),
    (lambda d: (d / "dist").mkdir(), "dist", "holds no .whl file"),
    (lambda d: wheel(d / "dist", "tacdemo", "1.0").rename(d / "dist" / "tacdemo.whl"), "dist",
     "tacdemo.whl is not a wheel's file name"),
])
def test_bad_ship_wheels_is_one_clear_problem(tmp_path, make, ship, says):
    make(tmp_path)
    (problem,) = problems(inventory(tmp_path, ship))
    assert problem.field == "python.ship_wheels" and says in problem.message, problem
    assert problem.fix and problem.file.endswith("hosts.yml") and problem.hosts == ("sandbox",)
    assert problem.value == ship and problem.line  # where, and the value as written
    assert str(tmp_path) in problem.message  # resolved against the inventory's folder


def test_a_wheel_or_a_folder_of_wheels_relative_to_the_inventory(tmp_path):
    one = wheel(tmp_path / "dist", "tacdemo", "1.0.1")
    wheel(tmp_path / "dist", "helper", "2.0")
    (tmp_path / "dist" / "README.txt").write_text("not a wheel")
    (tmp_path / "dist" / "sub").mkdir()
    wheel(tmp_path / "dist" / "sub", "deeper", "1.0")
    host = host_of(tmp_path)
    assert host.python.ship_wheels == tmp_path / "dist" and host.python.ship_to == "C:\\wheels"
    shipped = desired.shipped_wheels(host)
    assert [w.name for w in shipped] == ["helper-2.0-py3-none-any.whl", one.name]
    assert shipped[1].path == f"C:\\wheels\\{one.name}"
    assert shipped[1].sha256 == hashlib.sha256(one.read_bytes()).hexdigest()
    assert (shipped[1].project, shipped[1].version) == ("tacdemo", "1.0.1")
    assert host_of(tmp_path, "dist/" + one.name).python.ship_wheels == one


def test_without_a_wheelhouse_the_wheels_go_beside_the_venv_and_pip_finds_them(tmp_path):
    wheel(tmp_path / "dist", "tacdemo", "1.0.1")
    host = host_of(tmp_path, wheelhouse=False)
    assert host.python.ship_to == "C:\\PythonEnvs\\tacdemo\\tacfleet-wheelhouse"
    ctx = Context(host, facts_from_probe(host.name, desired.probe_spec(host),
                                         compliant_doc(host)))
    *_, install = packages(ctx)
    argv = install.command.argv
    assert argv[argv.index("--find-links") + 1] == host.python.ship_to
    assert "--no-index" not in argv and argv[-1] == "tacdemo==1.0.1"
    # a folder pip finds wheels in is read binary-only: a planted sdist is never built
    assert "--only-binary=:all:" in argv


# -- the desired state and the requirement -----------------------------------------------------
def test_shipped_wheels_are_probed_and_an_unpinned_app_wants_the_newest(tmp_path):
    wheel(tmp_path / "dist", "tacdemo", "1.0.1")
    wheel(tmp_path / "dist", "tacdemo", "1.0.10")
    wheel(tmp_path / "dist", "Twisted_Extra", "1.0")
    host = host_of(tmp_path)
    spec = desired.probe_spec(host)
    assert {w.path for w in desired.shipped_wheels(host)} <= set(spec.files)
    assert "tacdemo==1.0.10" in desired.pip_specs(host)
    pinned = host_of(tmp_path, package="tacdemo==1.0.1")
    assert "tacdemo==1.0.1" in desired.pip_specs(pinned)
    assert desired.shipped_pin(host, "Twisted") == "Twisted"
    assert desired.shipped_pin(host, "twisted-extra[x]>=0.9") == "twisted-extra[x]==1.0,>=0.9"


def shipped_doc(host, changes: dict[str, str | None] | None = None) -> dict:
    """The probe's answer for a compliant host whose wheelhouse holds the shipped wheels;
    ``changes``: wheel file name -> another SHA-256, or None for a wheel that is absent."""
    doc = compliant_doc(host)
    for w in desired.shipped_wheels(host):
        digest = (changes or {}).get(w.name, w.sha256)
        doc["files"][w.path] = ({"path": w.path, "exists": True, "sha256": digest, "size": 1}
                                if digest else {"path": w.path, "exists": False})
    return doc


def facts(host, doc):
    return facts_from_probe(host.name, desired.probe_spec(host), doc)


def test_wheels_shipped_verdicts(tmp_path):
    wheel(tmp_path / "dist", "tacdemo", "1.0.0")
    wheel(tmp_path / "dist", "helper", "2.0")
    host = host_of(tmp_path)
    judge = REQUIREMENTS["wheels_shipped"]
    ok = judge(host, facts(host, shipped_doc(host)))
    assert ok.ok and ok.found == "all of them" and "2 wheel(s)" in ok.expected
    bad = judge(host, facts(host, shipped_doc(host, {"helper-2.0-py3-none-any.whl": None,
                                               "tacdemo-1.0.0-py3-none-any.whl": "0" * 64})))
    assert not bad.ok and "invoke provision" in bad.fix
    assert bad.found == ("missing: helper-2.0-py3-none-any.whl; "
                         "different SHA-256: tacdemo-1.0.0-py3-none-any.whl")
    plain = load_inventory(ROOT / "inventory" / "hosts.yml").host("sandbox")
    unset = judge(plain, facts(plain, compliant_doc(plain)))
    assert unset.skipped and "ship_wheels" in unset.found
    assert all(f.ok for f in judge_all(host, facts(host, shipped_doc(host))))


# -- the step -----------------------------------------------------------------------------------
def test_only_missing_or_different_wheels_are_uploaded_verified_and_renamed(tmp_path):
    old = wheel(tmp_path / "dist", "tacdemo", "1.0.0")
    new = wheel(tmp_path / "dist", "tacdemo", "1.0.1")
    big = wheel(tmp_path / "dist", "zbig", "1.0", payload=bytes(range(256)) * 200)
    host = host_of(tmp_path)
    ctx = Context(host, facts(host, shipped_doc(host, {new.name: None})))
    (action,) = SHIP.actions(ctx)
    ops = decode_ops(action.command.argv)
    target = f"C:\\wheels\\{new.name}"
    assert [o[0] for o in ops] == ["protect", "receive", "verify", "replace"]
    # the wheelhouse is admin-only before a byte goes in (issue 32)
    assert ops[0] == ("protect", "C:\\Windows\\System32\\icacls.exe", "C:\\wheels",
                      "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F")
    ops = ops[1:]
    assert ops[0] == ("receive", target + PART_SUFFIX, str(new.stat().st_size), "0", "-")
    assert ops[1] == ("verify", target + PART_SUFFIX, hashlib.sha256(new.read_bytes()).hexdigest())
    assert ops[2] == ("replace", target + PART_SUFFIX, target)
    assert action.command.program == host.python.base and old.name not in action.command.line
    assert b"".join(action.stdin) == new.read_bytes()

    everything = Context(host, facts(host, shipped_doc(
        host, {old.name: None, new.name: None, big.name: "1" * 64})))
    (action,) = SHIP.actions(everything)  # one command, however big: the bytes go as stdin
    assert [op[1] for op in decode_ops(action.command.argv) if op[0] == "receive"] == [
        f"C:\\wheels\\{w.name}{PART_SUFFIX}" for w in (old, new, big)]
    assert b"".join(action.stdin) == old.read_bytes() + new.read_bytes() + big.read_bytes()
    assert len(action.command.line) < 16_000

    result = run_step(SHIP, Context(host, facts(host, shipped_doc(host))), None, True)
    assert result.status is Status.OK and not result.commands  # nothing to ship: no command


def test_the_step_comes_before_pip_and_needs_no_restart_of_its_own():
    names = [s.name for s in STEPS]
    assert names.index("venv") < names.index("ship_wheels") < names.index("packages")
    from compliance.requirements import RESTART

    assert RESTART["wheels_shipped"][0] is False and RESTART["packages_installed"][0] is True
