"""Ansible inventories as input: detection, mapping, group vars, password references, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("ansible", reason="the ansible extra is not installed")

from inventory import InventoryError, load_inventory, resolve_password, validate
from inventory.detect import inventory_format
from tests.support import ROOT as REPO

SECRET = "hunter2-ansible"
TACFLEET_VARS = r"""
tacfleet:
  python: {venv: 'C:\PythonEnvs\tacdemo'}
  app: {name: tacdemo, tac_file: 'C:\Apps\tacdemo\my_tacfile.tac', port: 58080}
  service: {name: tacdemo}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(InventoryError) as info:
        load_inventory(path, check_files=False)
    return [str(p) for p in info.value.problems]


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    """An INI inventory: a group with children, [group:vars], group_vars/ with tacfleet."""
    write(tmp_path, "group_vars/windows.yml", TACFLEET_VARS)
    return write(tmp_path, "hosts.ini", """
        [web]
        web01 ansible_host=127.0.0.1 ansible_port=55985
        web02 ansible_host=web02.example.com ansible_winrm_scheme=https

        [linux]
        db01 ansible_connection=ssh

        [web:vars]
        ansible_user=tacfleet
        ansible_password="{{ lookup('env', 'H4_TEST_PASSWORD') }}"
        ansible_winrm_transport=ntlm
        ansible_winrm_scheme=http
        ansible_winrm_server_cert_validation=ignore

        [windows:children]
        web
        """)


def test_ini_maps_connection_groups_and_tacfleet_settings(ini: Path) -> None:
    inv = load_inventory(ini, check_files=False)
    assert inv.names == ["web01", "web02"]  # db01 has no tacfleet variable: left out
    assert inv.groups == {"web": ("web01", "web02"), "linux": (), "windows": ("web01", "web02")}
    web01, web02 = inv.hosts
    assert (web01.connection.address, web01.connection.port, web01.connection.https) == (
        "127.0.0.1", 55985, False)
    assert (web01.connection.user, web01.connection.transport) == ("tacfleet", "ntlm")
    assert web01.connection.cert_validation is False
    assert (web02.connection.address, web02.connection.https, web02.connection.port) == (
        "web02.example.com", True, 5986)  # the host's scheme beats the group's
    assert web01.groups == ("web", "windows")
    assert (web01.app.name, web01.app.port, web01.service.name) == ("tacdemo", 58080, "tacdemo")
    assert web01.python.venv == r"C:\PythonEnvs\tacdemo"
    assert inv.select("windows") == list(inv.hosts)


def test_ansible_password_is_a_reference_resolved_only_when_asked(
        ini: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("H4_TEST_PASSWORD", SECRET)
    host = load_inventory(ini, check_files=False).host("web01")
    assert host.connection.password_ansible is not None
    assert SECRET not in repr(host) and SECRET not in str(host.connection.password_refs)
    assert resolve_password(host.connection, host="web01").get_secret_value() == SECRET


def test_unresolvable_password_names_host_and_variable_only(
        ini: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write(tmp_path, "host_vars/web01.yml", "ansible_password: '{{ vault_web_password }}'\n")
    found = validate(ini, check_files=False, check_secrets=True)
    text = "\n".join(str(p) for p in found)
    assert "host web01: ansible_password: Ansible cannot resolve it" in text
    assert "vault_web_password" in text  # what is undefined, so the fix is obvious


def test_clear_text_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    write(tmp_path, "group_vars/all.yml", TACFLEET_VARS)
    path = write(tmp_path, "hosts.ini", f"""
        web01 ansible_host=10.0.0.1 ansible_user=deploy ansible_password={SECRET}
        """)
    found = problems(path)
    assert len(found) == 1 and SECRET not in found[0]
    assert "hosts.ini:1: host web01: ansible_password: is written in clear text" in found[0]
    assert "ansible-vault encrypt_string" in found[0]


def test_yaml_children_group_vars_and_replace_semantics(tmp_path: Path) -> None:
    """Group vars merge as Ansible merges them: the closest ``tacfleet`` replaces the others."""
    write(tmp_path, "group_vars/windows.yml", TACFLEET_VARS + "ansible_user: deploy\n")
    write(tmp_path, "host_vars/web02.yml", r"""
        tacfleet:
          app: {name: other, tac_file: 'C:\Apps\other\app.tac'}
          service: {name: other}
        """)
    path = write(tmp_path, "hosts.yml", """
        all:
          vars:
            ansible_winrm_transport: [kerberos, ntlm]
            ansible_password: "{{ lookup('env', 'H4_TEST_PASSWORD') }}"
          children:
            windows:
              vars:
                ansible_port: "5985"
              children:
                web:
                  hosts:
                    web01: {ansible_host: 10.0.0.1}
                    web02: {ansible_host: 10.0.0.2, ansible_winrm_transport: ssl,
                            ansible_winrm_scheme: https, ansible_port: 5986}
        """)
    assert inventory_format(path) == "ansible"
    inv = load_inventory(path, check_files=False)
    web01, web02 = inv.hosts
    assert (web01.connection.port, web01.connection.https) == (5985, False)
    assert web01.connection.transport == "kerberos"  # the first of Ansible's list
    assert web02.connection.transport == "basic"  # Ansible's 'ssl' is Basic over HTTPS
    assert web01.app.name == "tacdemo"
    assert (web02.app.name, web02.python.venv) == ("other", r"C:\PythonEnvs\other")
    assert inv.groups == {"windows": ("web01", "web02"), "web": ("web01", "web02")}


def test_bad_tacfleet_value_names_file_line_host_field_value_and_fix(tmp_path: Path) -> None:
    write(tmp_path, "group_vars/web.yml", r"""
        tacfleet:
          app: {name: tacdemo, tac_file: 'C:\Apps\tacdemo\my_tacfile.tac', port: eighty}
          service: {name: tacdemo, strat: auto}
        """)
    path = write(tmp_path, "hosts.ini", """
        [web]
        web01 ansible_host=10.0.0.1 ansible_user=deploy ansible_password="{{ pw }}"
        web02 ansible_host=10.0.0.2 ansible_user=deploy ansible_password="{{ pw }}"
        """)
    found = problems(path)
    gv = str(tmp_path / "group_vars" / "web.yml")
    assert (f"{gv}:2:74: hosts web01, web02: tacfleet.app.port: value 'eighty' — is text, "
            "expected a whole number; fix: write the number without quotes") in found
    assert any(f.startswith(f"{gv}:3:") and "tacfleet.service.strat" in f
               and "did you mean 'start'?" in f for f in found), found


def test_connection_problems_name_the_ansible_variable(tmp_path: Path) -> None:
    write(tmp_path, "group_vars/all.yml", TACFLEET_VARS)
    path = write(tmp_path, "hosts.ini", """
        web01 ansible_host=10.0.0.1 ansible_port=99999 ansible_password="{{ pw }}"
        web02 ansible_host=10.0.0.2 ansible_connection=ssh ansible_user=u ansible_password="{{ pw }}"
        web03 ansible_host=10.0.0.3 ansible_user=u ansible_winrm_transport=magic ansible_password="{{ pw }}"
        web04 ansible_host=10.0.0.4 ansible_password="{{ pw }}"
        """)  # noqa: E501
    text = "\n".join(problems(path))
    assert "hosts.ini:1: host web01: ansible_port: value '99999' — " in text
    assert ("host web04: ansible_user: required for a WinRM connection; "
            "fix: set ansible_user") in text
    assert "hosts.ini:2: host web02: ansible_connection: value 'ssh' — tacfleet connects" in text
    assert ("hosts.ini:3: host web03: ansible_winrm_transport: value 'magic' — "
            "must be one of") in text


def test_templates_in_tacfleet_settings_are_resolved_by_ansible(tmp_path: Path) -> None:
    write(tmp_path, "group_vars/all.yml", TACFLEET_VARS.replace("58080", "'{{ app_port }}'"))
    path = write(tmp_path, "hosts.ini", """
        web01 ansible_host=10.0.0.1 ansible_user=u ansible_password="{{ pw }}" app_port=8443
        web02 ansible_host=10.0.0.2 ansible_user=u ansible_password="{{ pw }}"
        """)
    text = "\n".join(problems(path))
    assert "host web02: tacfleet: Ansible cannot template it" in text and "app_port" in text
    assert "web01" not in text


def test_dynamic_inventory_script(tmp_path: Path) -> None:
    data = {
        "web": {"hosts": ["web01"], "vars": {"ansible_user": "deploy",
                                             "ansible_password": "{{ pw }}"}},
        "_meta": {"hostvars": {"web01": {"ansible_host": "10.0.0.9", "tacfleet": {
            "app": {"name": "tacdemo", "tac_file": "C:\\Apps\\t\\a.tac"},
            "service": {"name": "tacdemo"}}}}},
    }
    script = tmp_path / "fleet.py"
    script.write_text(f"#!{sys.executable}\nprint({json.dumps(data)!r})\n", encoding="utf-8")
    script.chmod(0o755)
    assert inventory_format(script) == "ansible"
    inv = load_inventory(script, check_files=False)
    assert inv.host("web01").connection.address == "10.0.0.9"
    assert inv.host("web01").app.tac_file == r"C:\Apps\t\a.tac"


def test_detection(tmp_path: Path) -> None:
    assert inventory_format(REPO / "inventory" / "example.yml") == "tacfleet"
    assert inventory_format(REPO / "inventory" / "hosts.yml") == "tacfleet"
    assert inventory_format(tmp_path) == "ansible"
    assert inventory_format(write(tmp_path, "a", "web01 ansible_host=1.2.3.4\n")) == "ansible"
    assert inventory_format(write(tmp_path, "b.yml", "web:\n  hosts: {web01: }\n")) == "ansible"
    assert inventory_format(write(tmp_path, "c.yml", "plugin: constructed\n")) == "ansible"
    assert inventory_format(write(tmp_path, "d.yml", "hosts:\n  web01: {app: {}}\n")) == "tacfleet"
    assert inventory_format(write(tmp_path, "e.yml", "hosts: [a\n")) == "tacfleet"
    assert inventory_format(tmp_path / "missing.yml") == "tacfleet"


def test_unreadable_ansible_source_is_one_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.ini", "[web\nweb01 ansible_host=1.2.3.4\n")
    (found,) = problems(path)
    assert found.startswith(f"{path}: Ansible could not read it as an inventory")
    assert found.endswith(f"fix: check it with: ansible-inventory -i {path} --list")


def test_no_tacfleet_host_says_where_to_put_the_variable(tmp_path: Path) -> None:
    (found,) = problems(write(tmp_path, "hosts.ini", "[web]\nweb01\n"))
    assert "no host has a 'tacfleet' variable; fix: set tacfleet:" in found


def test_vault_encrypted_password_is_decrypted_by_ansible(tmp_path: Path) -> None:
    """A fresh process: ansible-core reads its vault configuration once per process."""
    vault_pw = write(tmp_path, "vault-pass", "vault-secret\n")
    vault_pw.chmod(0o600)
    env = {**os.environ, "ANSIBLE_VAULT_PASSWORD_FILE": str(vault_pw)}
    ansible_vault = Path(sys.executable).with_name("ansible-vault")
    encrypted = subprocess.run(
        [str(ansible_vault), "encrypt_string", SECRET, "--name", "ansible_password"],
        env=env, capture_output=True, text=True, check=True).stdout
    write(tmp_path, "group_vars/web.yml", TACFLEET_VARS + encrypted)
    path = write(tmp_path, "hosts.ini", "[web]\nweb01 ansible_host=10.0.0.1 ansible_user=u\n")
    code = ("import sys; from inventory import load_inventory, resolve_password as r\n"
            f"h = load_inventory({str(path)!r}, check_files=False).host('web01')\n"
            f"assert {SECRET!r} not in repr(h)\n"
            f"sys.exit(0 if r(h.connection).get_secret_value() == {SECRET!r} else 3)")
    run = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert SECRET not in run.stdout + run.stderr


def test_broken_group_vars_file_is_named_with_its_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "group_vars/all.yml", "tacfleet:\n  app: {name: x\n")
    (found,) = problems(write(tmp_path, "hosts.ini", "web01 ansible_host=10.0.0.1\n"))
    assert found.startswith(f"{bad}:3:1: host web01: Ansible cannot read it: YAML parsing")


def test_a_native_inventory_cannot_write_the_ansible_reference(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts.yml", r"""
        hosts:
          web01:
            connection: {address: web01, user: u, password_ansible: {inventory: x, host: y}}
            app: {name: Example, tac_file: 'C:\Apps\Example\my_tacfile.tac'}
            service: {name: my_service}
        """)
    assert inventory_format(path) == "tacfleet"
    assert any("unknown key 'password_ansible'" in p for p in problems(path))


def test_a_failing_filter_on_the_password_never_shows_its_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A filter's error may quote the looked-up text: only its type is shown."""
    monkeypatch.setenv("H4_TEST_PASSWORD", SECRET)
    write(tmp_path, "group_vars/all.yml", TACFLEET_VARS)
    path = write(tmp_path, "hosts.ini", """
        web01 ansible_host=10.0.0.1 ansible_user=u ansible_password="{{ lookup('env', 'H4_TEST_PASSWORD') | regex_search('(') }}"
        """)  # noqa: E501
    (found,) = validate(path, check_files=False, check_secrets=True)
    assert "ansible_password: Ansible cannot resolve it (AnsibleTemplatePluginRuntimeError; its " \
           "message is not shown" in str(found)
    assert SECRET not in str(found)
