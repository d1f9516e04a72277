"""The probe script itself, run for real by this machine's Python against a venv-shaped folder.

On Linux there is no registry, service manager or security API (the probe reports each as an
error, per fact, and does not crash), but the venv query, file hashing, folder checks and the
JSON envelope all run exactly as they do on a host.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import shlex
import subprocess
import sys

from tests.support import ROOT
from winhost.probe import ProbeSpec, facts_from_probe, read_probe_output
from winhost.probe.facts import normalize_name

SCRIPT = ROOT / "winhost" / "probe" / "script.py"


def test_probe_runs_and_its_answer_parses(tmp_path):
    venv = tmp_path / "venv"
    (venv / "Scripts").mkdir(parents=True)
    # A launcher, not a symlink: Python would take this folder's pyvenv.cfg for its own and
    # lose this venv's site-packages (pytest) unless the base Python has them too.
    launcher = venv / "Scripts" / "python.exe"
    launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    launcher.chmod(0o755)
    (venv / "pyvenv.cfg").write_text("home = C:\\Python311\nversion_info = 3.11.9\n")
    tac = tmp_path / "app" / "my_tacfile.tac"
    tac.parent.mkdir()
    tac.write_bytes(b"application = None\n")
    releases = tmp_path / "releases"  # app.releases: two release folders, one without python
    (releases / "1.0.0-0000000a" / "Scripts").mkdir(parents=True)
    (releases / "1.0.0-0000000a" / "Scripts" / "python.exe").write_bytes(b"")
    (releases / "1.1.0-0000000b").mkdir()
    (releases / "tacfleet-history.jsonl").write_text(
        '{"action": "switch", "to": "1.0.0-0000000a"}\n{"action": "depl')  # cut off: skipped
    spec = ProbeSpec(
        base_python=sys.executable,
        venv=str(venv),
        service="tacdemo",
        python=str(launcher),
        twistd=str(venv / "Scripts" / "twistd.exe"),
        imports=["json", "no_such_module_here"],
        files=[str(tac), str(tmp_path / "missing")],
        dirs=[str(tac.parent), str(tmp_path / "nope")],
        acl_paths=[str(tac.parent), str(tmp_path / "nope")],
        port=1,
        releases=str(releases),
    )
    params = base64.b64encode(json.dumps(spec.__dict__).encode()).decode()
    env = {k: v for k, v in os.environ.items() if k.upper() != "SYSTEMROOT"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), params],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    facts = facts_from_probe("h1", spec, read_probe_output(proc.stdout))

    assert facts.venv.python_exists and facts.venv.cfg["home"] == "C:\\Python311"
    assert facts.venv.version == ".".join(map(str, sys.version_info[:3]))
    assert facts.venv.imports["json"].ok
    assert not facts.venv.imports["no_such_module_here"].ok
    assert "ModuleNotFoundError" in facts.venv.imports["no_such_module_here"].detail
    assert facts.venv.dist_version("pytest")  # read with importlib.metadata in the venv
    assert facts.file(str(tac)).sha256 == hashlib.sha256(b"application = None\n").hexdigest()
    assert not facts.file(str(tmp_path / "missing")).exists
    assert facts.dir_exists(str(tac.parent)) and not facts.dir_exists(str(tmp_path / "nope"))
    assert facts.port_open is False
    assert not facts.service.exists and facts.service.state is None
    assert "not a Windows Python" in facts.service.error
    assert "not a Windows Python" in facts.acl(str(tac.parent)).error  # no DACL here: reported
    assert facts.acl(str(tmp_path / "NOPE")).error == "no such folder"
    assert facts.system_root == "C:\\Windows"  # no SYSTEMROOT in this environment
    assert facts.releases is not None
    assert {(r.name, r.python) for r in facts.releases.names} == {
        ("1.0.0-0000000a", True), ("1.1.0-0000000b", False)}
    assert facts.releases.history == [{"action": "switch", "to": "1.0.0-0000000a"}]


def test_probe_script_is_python_3_8():
    """The host's base Python may be 3.8: the script must parse with its grammar."""
    ast.parse(SCRIPT.read_text(), feature_version=(3, 8))


def test_normalize_name():
    assert normalize_name("Zope.Interface") == normalize_name("zope_interface")
