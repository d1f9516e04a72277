"""``invoke inventory.validate`` checks what the controller can check (issue 35, item 3).

What plan and provision would refuse later is refused now, with exit 2 and one line per problem
naming file, field and fix: a password variable that is not set, a password file that is
missing or readable by others, a keyring entry that is not there, an ``app.environment``
reference that cannot be had, a file the inventory names that does not exist. No secret is
ever printed. Real files, real modes, a real keyring backend (keyring's null backend: the one
that holds nothing).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tacfleet_cli as cli

SECRET = "s3cr3t-Pa55-for-validate"
HOST = """\
  {name}:
    connection: {{address: 127.0.0.1, port: 5985, https: false, user: u, {password}}}
    app: {{name: a, package: a==1, tac_file: 'C:\\Apps\\a\\a.tac'{app}}}
    service: {{name: a}}
"""


def inventory(tmp_path: Path, *hosts: tuple[str, str, str]) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text("hosts:\n" + "".join(HOST.format(name=n, password=p, app=a)
                                         for n, p, a in hosts), encoding="utf-8")
    return path


def private(path: Path, text: str = SECRET, mode: int = 0o600) -> Path:
    path.write_text(text + "\n", encoding="utf-8")
    os.chmod(path, mode)
    return path


try:
    import keyring  # noqa: F401  (optional: tacfleet[keyring])

    KEYRING_PROBLEM = ("no password in the keyring for service 'tacfleet', user 'u'; fix: "
                       "keyring set tacfleet u")
except ImportError:
    KEYRING_PROBLEM = "the keyring package is not installed; fix: pip install 'tacfleet[keyring]'"


@pytest.fixture(autouse=True)
def _no_keyring(monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.delenv("TACFLEET_DEBUG", raising=False)


def validate(path: Path, capsys) -> tuple[int, list[str], str]:
    code = cli.validate(str(path))
    out, err = capsys.readouterr()
    return code, err.splitlines(), out


def test_what_plan_would_refuse_is_refused_by_validate(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TACFLEET_TEST_UNSET", raising=False)
    shared = private(tmp_path / "shared-pw", mode=0o644)
    path = inventory(
        tmp_path,
        ("web01", "password_env: TACFLEET_TEST_UNSET", ""),
        ("web02", f"password_file: {tmp_path / 'missing-pw'}", ""),
        ("web03", f"password_file: {shared}", ""),
        ("web04", "password_keyring: tacfleet/u", ""),
    )
    code, lines, out = validate(path, capsys)
    assert code == 2 and out == ""
    assert lines == [
        f"{path}: host web01: connection.password_env: environment variable "
        "TACFLEET_TEST_UNSET is not set; fix: export TACFLEET_TEST_UNSET=... in the shell (or "
        "CI secret) that runs tacfleet",
        f"{tmp_path / 'missing-pw'}: host web02: connection.password_file: password file not "
        f"found; fix: create it: (umask 077; printf %s 'PASSWORD' > {tmp_path / 'missing-pw'})",
        f"{shared}: host web03: connection.password_file: password file is not private: it is "
        f"readable or writable by group/others (mode 0644); fix: chmod 600 {shared}",
        f"{path}: host web04: connection.password_keyring: " + KEYRING_PROBLEM,
        f"4 problems in {path}",
    ]
    assert SECRET not in "\n".join(lines)


def test_environment_references_and_missing_files_are_listed_together(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.setenv("TACFLEET_TEST_PW", SECRET)
    monkeypatch.delenv("TACFLEET_TEST_TOKEN", raising=False)
    app = (", tac_source: gone.tac, environment: {TOKEN: {env: TACFLEET_TEST_TOKEN}, "
           f"KEY: {{file: {private(tmp_path / 'key', mode=0o640)}}}, PORT: '8080'}}")
    path = inventory(tmp_path, ("web01", "password_env: TACFLEET_TEST_PW", app))
    code, lines, _ = validate(path, capsys)
    assert code == 2
    assert "app.tac_source: value 'gone.tac'" in lines[0] and "no such file" in lines[0]
    assert lines[1] == (f"{path}: host web01: app.environment.TOKEN: environment variable "
                        "TACFLEET_TEST_TOKEN is not set; fix: export TACFLEET_TEST_TOKEN=... in "
                        "the shell (or CI secret) that runs tacfleet")
    assert lines[2].startswith(f"{tmp_path / 'key'}: host web01: app.environment.KEY: ")
    assert "(mode 0640); fix: chmod 600" in lines[2]
    assert lines[3] == f"3 problems in {path}"
    assert SECRET not in "\n".join(lines)


def test_an_inventory_whose_secrets_resolve_is_ok(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TACFLEET_TEST_PW", SECRET)
    path = inventory(tmp_path, ("web01", "password_env: TACFLEET_TEST_PW", ""),
                     ("web02", f"password_file: {private(tmp_path / 'pw')}", ""))
    code, lines, out = validate(path, capsys)
    assert (code, lines) == (0, [])
    assert out == f"{path}: ok (2 hosts; files and secrets found)\n"
    assert SECRET not in out


def test_a_sandbox_hosts_missing_password_file_names_sandbox_up(tmp_path, capsys):
    secret = tmp_path / "tacfleet" / "sandbox" / "demo-ana" / "password"
    path = inventory(tmp_path, ("sandbox", f"password_file: {secret}", ""))
    code, lines, _ = validate(path, capsys)
    assert code == 2
    assert lines[0].endswith("password file not found; fix: start that sandbox host, which "
                             "writes it: `invoke sandbox.up --name demo-ana`")
