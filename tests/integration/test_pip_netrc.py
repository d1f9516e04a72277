"""Index credentials reach pip in a netrc file, never on a command line: not pip's, and not the
one of the pip that pip starts itself to install an sdist's build requirements (pip's
``build_env.py`` gives that child ``-i <index URL>``).

A real pip (a fresh venv on this machine: the host script and pip behave alike on Windows, and
Wine's process launches are not all seen by the sandbox agent) installs an sdist from the private
index of ``tests/support/index.py``; the sdist's build backend is a second package on the same
index, so the child pip runs and must authenticate too. An audit hook (``subprocess.Popen``) in
the venv records the argv of every process pip starts. First the detector is shown working: pip
given the credentials in its index URL (``PIP_INDEX_URL``, as tacfleet did before) puts them on
the child's command line.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from provision.hostops import host_ops
from tests.support.index import PrivateIndex, private_index
from tests.support.wheels import make_wheel

TOKEN = "canary-netrc-5e81"

#: A PEP 517 backend in the wheel ``tacfleet-backend``: builds the sdist's one module as a wheel.
BACKEND = '''\
import os, zipfile

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "tacfleet_built-1.0-py3-none-any.whl"
    info = "tacfleet_built-1.0.dist-info"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        zf.writestr("tacfleet_built.py", open("tacfleet_built.py").read())
        zf.writestr(info + "/METADATA",
                    "Metadata-Version: 2.1\\nName: tacfleet-built\\nVersion: 1.0\\n")
        zf.writestr(info + "/WHEEL", "Wheel-Version: 1.0\\nGenerator: tacfleet-tests\\n"
                    "Root-Is-Purelib: true\\nTag: py3-none-any\\n")
        zf.writestr(info + "/RECORD", "")
    return name
'''

#: Loaded by a ``.pth`` in the venv: every process a Python there starts, one JSON argv a line.
AUDIT = '''\
import json, os, sys

def _record(event, args):
    if event == "subprocess.Popen":
        argv = args[1] if isinstance(args[1], (list, tuple)) else [args[1]]
        with open({log!r}, "a") as f:
            f.write(json.dumps([os.fsdecode(a) for a in argv]) + "\\n")

sys.addaudithook(_record)
'''


def _packages(folder: Path) -> None:
    """``tacfleet-backend`` (a wheel: the build backend) and ``tacfleet-built`` (an sdist that
    needs it to build) in ``folder``."""
    import zipfile

    backend = make_wheel(folder, "tacfleet-backend", "1.0")
    with zipfile.ZipFile(backend, "a") as zf:
        zf.writestr("tacfleet_backend/hooks.py", BACKEND)
    files = {"pyproject.toml": '[build-system]\nrequires = ["tacfleet-backend"]\n'
             'build-backend = "tacfleet_backend.hooks"\n',
             "PKG-INFO": "Metadata-Version: 2.1\nName: tacfleet-built\nVersion: 1.0\n",
             "tacfleet_built.py": "BUILT = True\n"}
    with tarfile.open(folder / "tacfleet_built-1.0.tar.gz", "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"tacfleet_built-1.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> SimpleNamespace:
    """A venv with pip whose processes record every argv they start into ``log``."""
    import pip

    root = tmp_path_factory.mktemp("pipvenv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")],
                   check=True, timeout=120)
    python = root / "venv" / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path("
                              "'purelib'))"], capture_output=True, text=True, check=True)
    site = Path(purelib.stdout.strip())
    (site / "pip").symlink_to(Path(pip.__file__).parent)  # this pip, without ensurepip's wait
    log = root / "argv.jsonl"
    (site / "_tacfleet_audit.py").write_text(AUDIT.format(log=str(log)))
    (site / "_tacfleet_audit.pth").write_text("import _tacfleet_audit\n")
    _packages(root / "dists")
    assert sysconfig.get_path("purelib") != str(site)
    return SimpleNamespace(python=str(python), log=log, dists=root / "dists")


def _started(venv: SimpleNamespace) -> list[list[str]]:
    lines = venv.log.read_text().splitlines() if venv.log.exists() else []
    venv.log.unlink(missing_ok=True)
    return [json.loads(line) for line in lines]


def _child_pips(started: list[list[str]]) -> list[list[str]]:
    """The pip processes pip started to install build requirements (``install --prefix``)."""
    return [argv for argv in started if "install" in argv and "--prefix" in argv]


def _pip_op(index: PrivateIndex, python: str, temp: Path, *args: str) -> tuple[Any, bytes]:
    """The product's pip op for an inventory with ``index.url`` (``provision.steps._pip``), run
    here: its temp folder is ``temp`` instead of ``<SystemRoot>\\Temp``."""
    from provision.steps import _pip

    ctx = SimpleNamespace(host=SimpleNamespace(python=SimpleNamespace(
        host_wheelhouse=None, index_url=index.url)), facts=SimpleNamespace(system_root="C:\\W"))
    op, stdin, shown = _pip(cast(Any, ctx), python, *args)
    assert op[0] == "runfile" and op[1:3] == ("C:\\W\\Temp", "NETRC") and stdin
    assert shown == "netrc for 127.0.0.1: login *** password ***"
    return ("runfile", str(temp), *op[2:]), stdin


def _run_ops(stdin: bytes, *ops: Any) -> subprocess.CompletedProcess[str]:
    argv = host_ops("C:\\Python311\\python.exe", *ops).argv
    return subprocess.run([sys.executable, *argv[1:]], input=stdin.decode(), text=True,
                          capture_output=True, timeout=300, check=False)


def test_the_child_pip_of_a_build_gets_no_credentials_on_its_command_line(venv, tmp_path):
    """Without the netrc the token is on the child pip's command line (the detector works);
    with it, no process started carries the token or the user-info, pip still authenticates
    (the child fetched the backend with the right credentials), and the netrc's folder is gone,
    also after pip failed."""
    install = ("install", "--disable-pip-version-check", "--no-cache-dir", "tacfleet-built")
    with private_index([venv.dists], "deploy", TOKEN) as index:
        _started(venv)
        shown = subprocess.run([venv.python, "-m", "pip", "--no-input", *install[:-1],
                                "--target", str(tmp_path / "t0"), install[-1]],
                               env={**os.environ, "PIP_INDEX_URL": index.url},
                               capture_output=True, text=True, timeout=300)
        assert shown.returncode == 0, shown.stderr[-2000:]
        leaked = [argv for argv in _child_pips(_started(venv)) if TOKEN in " ".join(argv)]
        assert leaked, "pip no longer starts a child pip with -i URL: the test proves nothing"

        temp = tmp_path / "temp"
        temp.mkdir()
        index.requests.clear()
        op, stdin = _pip_op(index, venv.python, temp, *install)
        assert TOKEN not in " ".join(op) and "deploy" not in " ".join(op)
        done = _run_ops(stdin, op)
        assert done.returncode == 0, done.stderr[-2000:]
        started = _started(venv)
        assert _child_pips(started), started
        assert [a for a in started if TOKEN in " ".join(a) or "deploy" in " ".join(a)] == []
        assert ("/simple/tacfleet-backend/", True) in index.requests, index.requests
        assert all(right for _, right in index.requests), index.requests
        assert TOKEN not in done.stdout + done.stderr
        assert os.listdir(temp) == []
        built = subprocess.run([venv.python, "-c", "import tacfleet_built; print("
                                "tacfleet_built.BUILT)"], capture_output=True, text=True)
        assert built.stdout.strip() == "True"

        op, stdin = _pip_op(index, venv.python, temp, "install", "tacfleet-absent")
        failed = _run_ops(stdin, op)
        assert failed.returncode == 1 and " exited 1" in failed.stderr, failed.stderr
        assert TOKEN not in failed.stdout + failed.stderr
        assert os.listdir(temp) == []
