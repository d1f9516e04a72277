r"""Folders the service writes (data, logs) apart from every folder holding code.

The service gets Modify on its data and log folders; one equal to, inside or holding a code
folder (the app's, the venv, the base Python's, NSSM's, the wheelhouse) would let it change code
the administrator runs. ``inventory.validate`` refuses it, naming file, field, value and fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory import InventoryError, Problem, load_inventory


def _write(tmp_path: Path, app: str = "", service: str = "", python: str = "",
           nssm: str = "") -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(f"""
hosts:
  web01:
    connection: {{address: web01.example.com, user: deploy, password_env: PW}}
    python: {{venv: C:\\PythonEnvs\\tacdemo{python}}}
    app: {{name: tacdemo, tac_file: C:\\Apps\\tacdemo\\my_tacfile.tac{app}}}
    service: {{name: tacdemo{service}}}
    nssm: {{source: wheel{nssm}}}
""", encoding="utf-8")
    return path


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        load_inventory(path, check_files=False)
    return info.value.problems


@pytest.mark.parametrize(("data", "words"), [
    ("C:\\Apps\\tacdemo\\data", "is inside the app folder C:\\Apps\\tacdemo"),
    ("C:\\apps\\TACDEMO", "is the app folder"),
    ("C:\\PythonEnvs\\tacdemo\\Lib\\site-packages", "is inside the venv C:\\PythonEnvs\\tacdemo"),
    ("C:\\Python311\\Lib\\site-packages", "is inside the base Python's folder C:\\Python311"),
    ("C:\\PythonEnvs", "holds the venv C:\\PythonEnvs\\tacdemo"),
    ("C:\\", "holds the app folder C:\\Apps\\tacdemo"),
])
def test_a_data_folder_in_or_around_code_is_refused_with_the_fix(tmp_path, data, words):
    path = _write(tmp_path, app=f", data_dirs: ['C:\\ProgramData\\tacdemo\\ok', '{data}']")
    (problem,) = _problems(path)
    assert problem.file == str(path) and problem.hosts == ("web01",)
    assert problem.field == "app.data_dirs[1]" and problem.value == data
    assert problem.message.startswith(f"{data} {words}")
    assert "which holds code the administrator runs; the service would get Modify on it" in (
        problem.message)
    assert problem.fix.startswith("use C:\\ProgramData\\tacdemo\\")


def test_the_example_of_the_issue_reads_as_one_sentence(tmp_path):
    (problem,) = _problems(_write(tmp_path, app=", data_dirs: ['C:\\Apps\\tacdemo\\data']"))
    assert str(problem).count("C:\\Apps\\tacdemo\\data is inside the app folder "
                              "C:\\Apps\\tacdemo, which holds code the administrator runs; "
                              "the service would get Modify on it") == 1
    assert problem.fix == "use C:\\ProgramData\\tacdemo\\data"


@pytest.mark.parametrize(("service", "field", "where"), [
    (", stdout: 'C:\\Apps\\tacdemo\\logs\\out.log'", "service.stdout", "the app folder"),
    (", stderr: 'C:\\PythonEnvs\\tacdemo\\logs\\err.log'", "service.stderr", "the venv"),
    (", stderr: 'C:\\PythonEnvs\\tacdemo\\Scripts\\err.log'", "service.stderr",
     "is the NSSM folder"),
])
def test_a_log_folder_in_code_is_refused(tmp_path, service, field, where):
    (problem,) = _problems(_write(tmp_path, service=service))
    assert problem.field == field and where in problem.message and "(its log folder)" in (
        problem.message)
    assert problem.fix.startswith("use C:\\ProgramData\\tacdemo\\logs\\")


def test_the_nssm_folder_and_a_wheelhouse_are_code_too(tmp_path):
    path = _write(tmp_path, app=", data_dirs: ['C:\\Tools\\nssm\\state', 'C:\\wheels']",
                  python=", wheelhouse: 'C:\\wheels'",
                  nssm=", source: host, file: 'C:\\Tools\\nssm\\nssm.exe', path: "
                       "'C:\\Tools\\nssm\\nssm.exe', sha256: " + "a" * 64)
    found = {p.field: p.message for p in _problems(path)}
    assert "the NSSM folder C:\\Tools\\nssm" in found["app.data_dirs[0]"]
    assert "is the wheelhouse" in found["app.data_dirs[1]"]


def test_the_default_logs_are_apart_from_the_app_folder(tmp_path):
    host = load_inventory(_write(tmp_path), check_files=False).host("web01")
    assert host.service.stdout == "C:\\ProgramData\\tacdemo\\logs\\tacdemo.out.log"
    assert host.service.stderr == "C:\\ProgramData\\tacdemo\\logs\\tacdemo.err.log"


def test_data_and_logs_apart_from_code_load(tmp_path):
    path = _write(tmp_path, app=", data_dirs: ['C:\\ProgramData\\tacdemo\\data', "
                  "'D:\\Apps-data\\tacdemo']",
                  service=", stdout: 'D:\\Logs\\tacdemo\\out.log'")
    assert load_inventory(path, check_files=False).host("web01").app.data_dirs


def test_a_data_folder_in_another_services_code_is_refused_under_its_own_item(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text("""
hosts:
  web03:
    connection: {address: web03.example.com, user: deploy, password_env: PW}
    services:
      - service: {name: api}
        app: {name: Api, tac_file: C:\\Apps\\Api\\api.tac}
      - service: {name: reports}
        app: {name: Reports, tac_file: C:\\Apps\\Reports\\r.tac,
              data_dirs: ['C:\\Apps\\Api\\cache']}
""", encoding="utf-8")
    (problem,) = _problems(path)
    assert problem.field == "services[1].app.data_dirs[0]"
    assert problem.value == "C:\\Apps\\Api\\cache"
    assert problem.message.startswith("C:\\Apps\\Api\\cache is inside the app folder "
                                      "C:\\Apps\\Api, which holds code")
    assert problem.fix == "use C:\\ProgramData\\Reports\\cache"
