"""The app's wheels shipped from the controller (``python.ship_wheels``) on the sandbox host.

Real wheels of a tiny app (``shipdemo``) are built here at new versions, uploaded into the host's
wheelhouse (``C:\\wheels``) by the provisioner and installed by the venv's pip under Wine; the
host's own Python says which version imports. Runs on the session's host: the extra package
leaves the shared inventory's app (tacdemo) as it was, so the host needs no restoring.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

import pytest
import yaml

import tacfleet_cli as cli
from compliance import desired
from inventory import load_inventory
from provision.fleet import provision_one as provision
from provision.hostops import host_ops
from provision.model import Status
from winhost.cmdline import command

pytestmark = pytest.mark.sandbox


def build_wheel(version: str, dest: Path) -> Path:
    """A wheel of a tiny app, ``shipdemo`` at ``version``, written as PEP 427 lays one out
    (METADATA, WHEEL, RECORD with each file's hash), into ``dest``."""
    info = f"shipdemo-{version}.dist-info"
    files = {
        "shipdemo/__init__.py": f'"""Shipped from the controller by tacfleet\'s tests."""\n\n'
                                f'__version__ = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: shipdemo\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tacfleet-test\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"shipdemo-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheel


def changed(run) -> list[str]:
    assert not run.error and not run.failed, run.summary() + str(
        [(s.step, s.message, s.output) for s in run.steps if s.status is Status.FAILED])
    return [s.step for s in run.steps if s.status is Status.CHANGED]


def uploaded(run, wheels: Path) -> list[str]:
    """The wheels of ``wheels`` named in the commands a run's ship_wheels step sent."""
    sent = " ".join(c for s in run.steps if s.step == "ship_wheels" for c in s.commands)
    return sorted(w.name for w in wheels.glob("*.whl") if w.name in sent)


#: Asked of the host's own Python, apart from tacfleet's probe: the version that imports, and
#: the SHA-256 of each file named.
ON_HOST = ("import hashlib, sys, shipdemo; print(shipdemo.__version__); "
           "print(*(hashlib.sha256(open(p, 'rb').read()).hexdigest() for p in sys.argv[1:]))")


def test_shipped_wheels_are_uploaded_once_and_a_new_version_upgrades_the_app(
        sandbox_host, tmp_path):
    wheels = tmp_path / "wheels"
    first = build_wheel("1.0.5", wheels)
    data = yaml.safe_load(sandbox_host.inventory.read_text())
    entry = data["hosts"]["sandbox"]
    entry["python"]["ship_wheels"] = str(wheels)
    entry["app"]["package"] = "shipdemo"  # unpinned: the newest shipped wheel is wanted
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    host = load_inventory(inventory).host("sandbox")
    house = host.python.wheelhouse
    try:
        run = provision(host)  # the session's host: provisioned by earlier tests, or bare
        assert {"ship_wheels", "packages", "running"} <= set(changed(run)), run.summary()
        assert uploaded(run, wheels) == [first.name]

        again = provision(host)  # the probe finds the wheel (SHA-256) and shipdemo 1.0.5
        assert changed(again) == [] and again.commands <= 3  # lock, probe, release

        second = build_wheel("1.0.6", wheels)  # `invoke provision` as a user runs it
        log = tmp_path / "provision.log"
        assert cli.logged("provision", str(log), cli.provision, str(inventory), "sandbox") == 0
        text = log.read_text()
        for title in ("wheels shipped from this machine", "the app installed", "answering"):
            assert re.search(rf"sandbox  .*{title}.* changed", text), title
        sent = [line for line in text.splitlines() if re.match(r"[\d:]{8} sandbox \$ ", line)]
        shipped = [line for line in sent if "shipdemo-" in line]
        assert len(shipped) == 1 and second.name in shipped[0]  # only the new wheel went
        assert first.name not in shipped[0] and sandbox_host.password not in text

        targets = [f"{house}\\{w.name}" for w in (first, second)]
        with sandbox_host.connect() as conn:
            result = conn.run(command(desired.venv_python(host), "-I", "-c", ON_HOST, *targets))
        assert result.rc == 0, result.stderr
        assert result.stdout.split() == [
            "1.0.6", *(hashlib.sha256(w.read_bytes()).hexdigest() for w in (first, second))]
    finally:  # the shared inventory's app (tacdemo) was never touched; the wheels go
        with sandbox_host.connect() as conn:
            conn.run(host_ops(host.python.base, *(
                ("rmtree", f"{house}\\{w.name}") for w in wheels.glob("*.whl"))))
