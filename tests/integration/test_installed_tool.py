"""The installed tool: tacfleet's wheel (``python -m build``, what ``pipx install .`` installs)
in a venv of its own gives a ``tacfleet`` command that runs, from a folder outside any checkout,
the same tasks with the same exit codes as ``invoke`` in the checkout — against the session's
sandbox host over real NTLM-sealed HTTP on 127.0.0.1.

The venv borrows the test venv's third-party packages through a ``.pth`` line (no index, no
download: a ``.pth`` file in a folder named by another is not run, so the checkout's editable
install stays out), and the test asserts that tacfleet's own modules come from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tool_wheel import build_wheel, pytest_summary

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Tool:
    venv: Path
    work: Path  # the user's folder: no checkout above it

    @property
    def command(self) -> Path:
        return self.venv / "bin" / "tacfleet"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.command), *args], cwd=self.work, capture_output=True,
                              text=True, timeout=600, env=_env())

    def invoke(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The same task run by ``invoke`` from the checkout (same folder, same files)."""
        return subprocess.run([sys.executable, "-m", "invoke", "-r", str(ROOT), *args],
                              cwd=self.work, capture_output=True, text=True, timeout=600,
                              env=_env())


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TACFLEET_"))}
    return {**env, "NO_COLOR": "1", "COLUMNS": "200"}


@pytest.fixture(scope="module")
def tool(tmp_path_factory, sandbox_host) -> Tool:
    base = tmp_path_factory.mktemp("tool")
    wheel = build_wheel(base)
    venv.create(base / "venv", with_pip=False)
    site = base / "venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (site / "site-packages" / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(base / "venv" / "bin" / "python"),
                    "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    work = base / "work"
    work.mkdir()
    shutil.copy(sandbox_host.inventory, work / "hosts.yml")
    (work / "bad.yml").write_text("hosts:\n  web01:\n    colour: blue\n")
    return Tool(base / "venv", work)


def test_tacfleet_modules_come_from_the_wheel(tool):
    where = subprocess.run([str(tool.venv / "bin" / "python"), "-c",
                            "import tacfleet_cli, checks.options, winhost;"
                            "print(tacfleet_cli.__file__, checks.options.__file__, "
                            "winhost.__file__)"],
                           cwd=tool.work, capture_output=True, text=True, env=_env())
    assert where.returncode == 0, where.stderr
    files = where.stdout.split()
    assert files and all(f.startswith(str(tool.venv)) for f in files), files
    listed = tool.run("--list")
    assert listed.returncode == 0 and "provision" in listed.stdout, listed.stderr


@pytest.mark.parametrize("args", [
    ("inventory.validate", "--inventory", "hosts.yml"),
    ("inventory.validate", "--inventory", "bad.yml"),
    ("plan", "--host", "sandbox", "--inventory", "hosts.yml"),
    ("check", "--host", "sandbox", "--inventory", "hosts.yml"),
    ("drift", "--host", "sandbox", "--inventory", "hosts.yml", "--reports", "reports",
     "--log", "-"),
    ("plan", "--host", "nosuchhost", "--inventory", "hosts.yml"),
], ids=["validate", "validate-bad", "plan", "check", "drift", "plan-unknown-host"])
def test_tacfleet_tasks_exit_as_invoke_does(tool, args):
    installed, checkout = tool.run(*args), tool.invoke(*args)
    assert installed.returncode == checkout.returncode, (installed.stdout + installed.stderr,
                                                         checkout.stdout + checkout.stderr)
    assert "Traceback" not in installed.stderr, installed.stderr
    assert "No idea what" not in installed.stderr + checkout.stderr, "a flag no task has"
    if args[0] == "plan" and args[2] == "sandbox":  # the host was reached and judged
        assert "sandbox: ok=" in installed.stdout and "sandbox: ok=" in checkout.stdout
    if args[0] == "check":  # the same checks judged the same way
        assert pytest_summary(installed.stdout) == pytest_summary(checkout.stdout) != ""
    if args[-2:] == ("--inventory", "bad.yml"):
        assert installed.returncode == 2 and "bad.yml" in installed.stderr + installed.stdout



def test_tacfleet_test_needs_a_checkout(tool):
    done = tool.run("test", "--quick")
    assert done.returncode == 2 and "checkout" in done.stderr, done.stderr
