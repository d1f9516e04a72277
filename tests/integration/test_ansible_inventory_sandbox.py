"""The sandbox host from an Ansible inventory: `inventory.validate`, `plan` and a full check.

Two Ansible inventories are built from the shared host's native inventory (address, port, user,
password reference): an INI one (``[group:vars]``, ``[windows:children]``, ``group_vars/``,
the password through ``lookup('file', ...)``) and a YAML one (``children`` and group ``vars``,
the password through ``lookup('env', ...)``). The commands run as a user runs them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from inventory import load_inventory
from provision.fleet import provision_one
from tests.integration.helpers import ROOT, assert_pytest_checks_pass

pytest.importorskip("ansible", reason="the ansible extra is not installed")
pytestmark = pytest.mark.sandbox
PASSWORD_ENV = "TACFLEET_TEST_ANSIBLE_PASSWORD"


@pytest.fixture(scope="module")
def inventories(sandbox_host, tmp_path_factory) -> dict[str, Path]:
    """``{"ini": hosts.ini, "yaml": hosts.yml}`` for the shared sandbox host."""
    entry = yaml.safe_load(sandbox_host.inventory.read_text())["hosts"]["sandbox"]
    conn = entry.pop("connection")
    settings = yaml.safe_dump({"tacfleet": entry}, sort_keys=False)
    folders = {kind: tmp_path_factory.mktemp(f"ansible-{kind}") for kind in ("ini", "yaml")}
    for folder in folders.values():
        (folder / "group_vars").mkdir()
        (folder / "group_vars" / "windows.yml").write_text(settings)

    ini = folders["ini"] / "hosts.ini"
    ini.write_text(textwrap.dedent(f"""\
        [sandboxes]
        sandbox ansible_host={conn['address']} ansible_port={conn['port']}

        [sandboxes:vars]
        ansible_connection=winrm
        ansible_user={conn['user']}
        ansible_password="{{{{ lookup('file', '{conn['password_file']}') }}}}"
        ansible_winrm_transport={conn['transport']}
        ansible_winrm_scheme=http

        [windows:children]
        sandboxes
        """))
    yml = folders["yaml"] / "hosts.yml"
    yml.write_text(yaml.safe_dump({"all": {"children": {"windows": {
        "vars": {"ansible_connection": "winrm", "ansible_winrm_transport": conn["transport"],
                 "ansible_winrm_scheme": "http"},
        "children": {"sandboxes": {
            "vars": {"ansible_user": conn["user"],
                     "ansible_password": f"{{{{ lookup('env', '{PASSWORD_ENV}') }}}}"},
            "hosts": {"sandbox": {"ansible_host": conn["address"],
                                  "ansible_port": conn["port"]}},
        }},
    }}}}, sort_keys=False))
    return {"ini": ini, "yaml": yml}


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("invoke")
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("kind", ["ini", "yaml"])
def test_validate_plan_and_check_from_an_ansible_inventory(
        kind, inventories, sandbox_host, monkeypatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, sandbox_host.password)  # the subprocesses inherit it
    path = inventories[kind]
    host = load_inventory(path).host("sandbox")
    assert set(host.groups) == {"sandboxes", "windows"}
    assert (host.connection.port, host.connection.https) == (sandbox_host.info["port"], False)
    assert host.connection.password_ansible is not None

    validated = invoke("inventory.validate", "--inventory", str(path))
    assert validated.returncode == 0, validated.stderr
    assert f"{path}: ok (1 host; files and secrets found)" in validated.stdout

    assert not provision_one(host).failed  # the shared host: a no-op when another test did it
    planned = invoke("plan", "--host", "windows", "--inventory", str(path), "--json")
    assert planned.returncode == 0, planned.stdout[-2000:] + planned.stderr[-2000:]
    (run,) = json.loads(planned.stdout)
    assert run["host"] == "sandbox" and not run["failed"], run["summary"]
    changes = [s["step"] for s in run["steps"] if s["status"] not in ("ok", "skipped")]
    assert changes == [], f"the Ansible inventory describes another state: {changes}"

    assert_pytest_checks_pass(path)
    for out in (validated, planned):
        assert sandbox_host.password not in out.stdout + out.stderr
