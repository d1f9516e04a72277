"""``pytest checks`` keeps pytest's conventions (issue 35, item 9): testinfra's ``--hosts`` and
``--ansible-inventory`` honoured or refused in one line, pytest's progress letters, the
deselected tests explained, counts in English.

``pytest checks`` runs as a user runs it (a subprocess), against hosts on a loopback port
nothing listens on: each is unreachable at once, so the run's shape shows without a host.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRY = """\
  {name}:
    connection: {{address: 127.0.0.1, port: {port}, https: false, user: u,
                 password_env: TACFLEET_CONVENTIONS_PW}}
    app: {{name: a, package: a==1, tac_file: 'C:\\Apps\\a\\a.tac'}}
    service: {{name: a}}
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _inventory(tmp_path: Path, *names: str) -> Path:
    path = tmp_path / "hosts.yml"
    port = _closed_port()
    path.write_text("hosts:\n" + "".join(ENTRY.format(name=n, port=port) for n in names),
                    encoding="utf-8")
    return path


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "checks", "-p", "no:cacheprovider",
                           "-p", "no:randomly", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "80", "TACFLEET_CONVENTIONS_PW": "x"})


def _error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip()]
    assert proc.returncode == 4 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = lines
    return line


def test_a_missing_ansible_inventory_is_refused_not_ignored():
    line = _error_line(_pytest("--ansible-inventory", "/nonexistent.yml"))
    assert line.startswith("ERROR: /nonexistent.yml: file not found; fix: ")


def test_the_ansible_inventory_is_the_inventory(tmp_path):
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "windows.yml").write_text(textwrap.dedent(r"""
        tacfleet:
          app: {name: a, package: a==1, tac_file: 'C:\Apps\a\a.tac'}
          service: {name: a}
        """), encoding="utf-8")
    ini = tmp_path / "hosts.ini"
    ini.write_text(textwrap.dedent(f"""
        [windows]
        ans01 ansible_host=127.0.0.1 ansible_port={_closed_port()}

        [windows:vars]
        ansible_user=u
        ansible_password="{{{{ lookup('env', 'TACFLEET_CONVENTIONS_PW') }}}}"
        ansible_winrm_transport=ntlm
        ansible_winrm_scheme=http
        """), encoding="utf-8")
    proc = _pytest("--ansible-inventory", str(ini), "-k", "reachable")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ans01 reachable: could not be checked: connection refused on 127.0.0.1:" in (
        proc.stdout)
    assert "1 host: 0 compliant, 0 failing, 1 unreachable" in proc.stdout


def test_testinfra_options_tacfleet_cannot_honour_are_refused(tmp_path):
    path = str(_inventory(tmp_path, "web01"))
    line = _error_line(_pytest("--inventory", path, "--connection", "ssh"))
    assert line.startswith("ERROR: --connection: testinfra's option is not used by tacfleet's "
                           "checks")
    line = _error_line(_pytest("--inventory", path, "--host", "web01", "--hosts", "web02"))
    assert line == ("ERROR: --host web01 and --hosts web02 both select hosts; fix: give one")
    line = _error_line(_pytest("--inventory", path, "--ansible-inventory", "/x.ini"))
    assert "name two inventories" in line


def test_progress_letters_deselected_explained_and_plurals(tmp_path):
    path = str(_inventory(tmp_path, "web01"))
    proc = _pytest("--inventory", path, "--hosts", "winrm://u@web01")  # testinfra's spelling
    out = proc.stdout.splitlines()
    assert proc.returncode == 1, proc.stdout
    progress = [x for x in out if x and set(x.split("[")[0].strip()) <= set(".sFE")
                and x.strip()]
    assert progress and "F" in "".join(progress) and "s" in "".join(progress), proc.stdout
    assert any(x.endswith("[100%]") and x.split("[")[0].strip() for x in out), proc.stdout
    assert next(x for x in out if x.startswith("web01 reachable: ")).endswith(
        "(winrm quickconfig)")
    assert "1 host: 0 compliant, 0 failing, 1 unreachable" in out
    assert "probed 1 host once each" in proc.stdout
    assert ("1 deselected: test_service_state_agrees_with_testinfra (sends its own command to "
            "each host: a second shell and command per host) because --second-opinion was not "
            "given") in out
    under_xdist = _pytest("--inventory", path, "--host", "web01", "-n", "2")
    assert ("1 deselected: test_service_state_agrees_with_testinfra (sends its own command to "
            "each host: a second shell and command per host) because --second-opinion was not "
            "given") in under_xdist.stdout.splitlines(), under_xdist.stdout
