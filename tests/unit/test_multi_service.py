"""Several services per host: the inventory's ``services:``, the unit view, one probe for every
service, judging per service, and the reports naming the service."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from compliance import desired
from compliance.drift import build_report, compare
from compliance.render import drift_html
from compliance.requirements import REQUIREMENTS, judge_all
from inventory import load_inventory
from inventory.errors import InventoryError
from inventory.models import Host
from tests.support.probe_doc import compliant_doc
from winhost.probe import bare_facts, facts_from_probe, probe_command

ROOT = Path(__file__).resolve().parents[2]

BASE = """\
all:
  vars:
    python: {base: C:\\Python311\\python.exe, version: "3.11", wheelhouse: C:\\wheels}
    app: {package: tacdemo==1.0.0}
    service: {description: A Twisted app}
    nssm: {sha256: eee9c44c29c2be011f1f1e43bb8c3fca888cb81053022ec5a0060035de16d848}
hosts:
  web01:
    connection: {address: web01.example.com, user: deploy, password_env: TACFLEET_PW}
"""

TWO = BASE + """\
    python: {venv: C:\\PythonEnvs\\shared}
    services:
      - service: {name: api}
        app: {name: api, tac_file: C:\\Apps\\api\\api.tac, port: 8080}
      - service: {name: web, description: The web app}
        app: {name: web, tac_file: C:\\Apps\\web\\web.tac, port: 8081}
"""


def load(tmp_path: Path, text: str) -> Host:
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    return load_inventory(path, check_files=False).host("web01")


def problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path, check_files=False)
    return str(caught.value)


# -- inventory ----------------------------------------------------------------------------------
def test_the_one_service_shorthand_is_a_one_item_list(tmp_path):
    host = load(tmp_path, BASE + "    app: {name: api, tac_file: C:\\Apps\\api\\api.tac}\n"
                                 "    service: {name: api}\n")
    assert len(host.services) == 1 and not host.multi
    assert host.units() == (host,)
    assert host.services[0].service == host.service and host.services[0].app == host.app


def test_the_sandbox_inventory_is_unchanged():
    host = load_inventory(ROOT / "inventory" / "hosts.yml").host("sandbox")
    assert host.units() == (host,)
    assert "units" not in probe_command(desired.probe_spec(host)).line  # the same probe


def test_services_get_the_host_sections_as_defaults_and_share_its_venv(tmp_path):
    host = load(tmp_path, TWO)
    api, web = host.units()
    assert host.multi and (host.app, host.service) == (api.app, api.service)
    assert (api.service.description, web.service.description) == (
        "A Twisted app", "The web app")  # all.vars, then its own
    assert api.app.package == web.app.package == "tacdemo==1.0.0"
    assert api.python.venv == web.python.venv == host.python.venv == "C:\\PythonEnvs\\shared"
    assert web.service.account == "NT SERVICE\\web"
    assert web.service.stdout == "C:\\ProgramData\\web\\logs\\web.out.log"
    assert web.app.arguments == "--nodaemon --python web.tac"
    assert host.nssm.path == "C:\\PythonEnvs\\shared\\Scripts\\nssm.exe"


def test_a_service_may_have_its_own_venv(tmp_path):
    text = TWO + "        python: {packages: [Twisted, pywin32, attrs]}\n"
    web = load(tmp_path, text).units()[1]
    assert web.python.venv == "C:\\PythonEnvs\\web"  # its own, named for its app
    assert web.python.wheelhouse == "C:\\wheels" and "attrs" in web.python.packages


@pytest.mark.parametrize(("change", "field", "words"), [
    (("{name: web, desc", "{name: API, desc"), "services[1].service.name",
     "is also used by service api"),
    (("8081", "8080"), "services[1].app.port", "give each service its own port"),
    (("description: The web app}", "description: The web app, "
      "stdout: 'C:\\ProgramData\\api\\logs\\web.log'}"), "services[1].service.stdout",
     "is also the log folder of service api"),
    (("web\\web.tac", "api\\api.tac"), "services[1].app.tac_file",
     "give each service its own .tac file"),
])
def test_clashing_services_are_refused_naming_file_field_value_and_fix(
        tmp_path, change, field, words):
    text = problems(tmp_path, TWO.replace(*change))
    assert f"{tmp_path / 'hosts.yml'}:" in text and "host web01" in text
    assert field in text and words in text and "fix:" in text
    assert "Traceback" not in text


def test_an_unknown_key_in_a_service_names_where_it_is(tmp_path):
    text = problems(tmp_path, TWO.replace("port: 8081}", "port: 8081, prot: 1}"))
    assert "services[1].app.prot" in text and "did you mean 'port'?" in text
    assert "hosts.yml:15:" in text  # the line it is written on


def test_services_must_be_a_non_empty_list(tmp_path):
    text = problems(tmp_path, BASE + "    services: []\n")
    assert "services" in text and "non-empty list" in text


# -- one probe for every service, judged per service ----------------------------------------------
def two_service_doc(host: Host) -> dict:
    """A compliant probe answer for every service of ``host`` (the first at the top level, the
    others under ``units``, as the probe script writes them)."""
    units = host.units()
    spec = desired.probe_spec(host)
    docs = [compliant_doc(u) for u in units]
    doc = copy.deepcopy(docs[0])
    for other in docs[1:]:
        doc["files"].update(other["files"])
    doc["files"] = {p: doc["files"][p] for p in spec.files}
    doc["dirs"] = {d: True for d in spec.dirs}
    doc["units"] = [{k: d[k] for k in ("venv", "service", "port_open", "outputs")}
                    for d in docs[1:]]
    return doc


def test_one_probe_spec_covers_every_service(tmp_path):
    host = load(tmp_path, TWO)
    spec = desired.probe_spec(host)
    assert (spec.service, spec.port) == ("api", 8080)
    shared = "C:\\PythonEnvs\\shared"
    assert spec.units == [{"venv": shared, "python": f"{shared}\\Scripts\\python.exe",
                           "twistd": f"{shared}\\Scripts\\twistd.exe", "service": "web",
                           "port": 8081}]
    assert "C:\\Apps\\web\\web.tac" in spec.files and spec.dirs.count("C:\\PythonEnvs\\shared") == 1
    grants = desired.folder_grants(host.units()[1])["C:\\PythonEnvs\\shared"]
    assert [g.account for g in grants][2:] == ["NT SERVICE\\api", "NT SERVICE\\web"]


def test_two_compliant_services_meet_every_requirement_once_each(tmp_path):
    host = load(tmp_path, TWO)
    facts = facts_from_probe(host.name, desired.probe_spec(host), two_service_doc(host))
    findings = judge_all(host, facts)
    assert [f.message for f in findings if not f.ok] == []
    host_wide = [r for r, q in REQUIREMENTS.items() if q.scope == "host"]
    assert {"base_python", "nssm_verified"} <= set(host_wide)
    per_service = len(REQUIREMENTS) - len(host_wide)
    assert len(findings) == len(host_wide) + 2 * per_service
    assert {f.service for f in findings if f.requirement in host_wide} == {""}
    assert [f.service for f in findings if f.requirement == "service_running"] == ["api", "web"]


def test_a_stopped_service_fails_for_that_service_only(tmp_path):
    host = load(tmp_path, TWO)
    doc = two_service_doc(host)
    doc["units"][0]["service"]["scm"] = {"exists": True, "state": 1, "pid": 0}
    doc["units"][0]["port_open"] = False
    facts = facts_from_probe(host.name, desired.probe_spec(host), doc)
    bad = [f for f in judge_all(host, facts) if not f.ok]
    assert {(f.requirement, f.service) for f in bad} == {
        ("service_running", "web"), ("app_answering", "web")}
    assert bad[0].message.startswith("web01 · web: expected RUNNING, found STOPPED")


def test_a_host_without_python_yet_has_bare_facts_for_every_service(tmp_path):
    host = load(tmp_path, TWO)
    facts = bare_facts(host.name, desired.probe_spec(host))
    web = facts.for_service("web")
    assert web.service.name == "web" and not web.service.exists and not web.venv.exists


# -- reports ------------------------------------------------------------------------------------
def test_drift_report_names_the_service_and_counts_the_host_once(tmp_path):
    from compliance.audit import HostAudit

    host = load(tmp_path, TWO)
    doc = two_service_doc(host)
    doc["units"][0]["service"]["scm"] = {"exists": True, "state": 1, "pid": 0}
    facts = facts_from_probe(host.name, desired.probe_spec(host), doc)
    audit = HostAudit(host=host.name, findings=judge_all(host, facts))
    report = build_report([audit], "hosts.yml", 0.0)
    assert report.summary.model_dump() == {"compliant": 0, "drift": 1, "unreachable": 0}
    bad = json.loads(report.dumps())["hosts"]["web01"]["findings"]
    bad = [f for f in bad if not f["ok"]]
    assert [(f["requirement"], f["service"]) for f in bad] == [("service_running", "web")]
    assert report.failing_pairs() == {("web01", "service_running · web")}
    html = drift_html(report, compare(None, report))
    assert "service_running · web" in html


def test_the_probe_script_answers_for_every_service_asking_a_shared_venv_once(tmp_path):
    """The probe script itself (this machine's Python, a venv-shaped folder): two services
    sharing one venv, a third with a venv that does not exist."""
    import base64
    import os
    import subprocess
    import sys

    from winhost.probe import ProbeSpec, read_probe_output

    venv = tmp_path / "venv"
    (venv / "Scripts").mkdir(parents=True)
    (venv / "Scripts" / "python.exe").symlink_to(sys.executable)
    python, twistd = str(venv / "Scripts" / "python.exe"), str(venv / "Scripts" / "twistd.exe")
    nope = tmp_path / "nope" / "Scripts"
    spec = ProbeSpec(base_python=sys.executable, venv=str(venv), service="api", python=python,
                     twistd=twistd, imports=["json"], port=1,
                     units=[{"venv": str(venv), "python": python, "twistd": twistd,
                             "service": "web", "port": 1},
                            {"venv": str(nope.parent), "python": str(nope / "python.exe"),
                             "twistd": str(nope / "twistd.exe"), "service": "jobs",
                             "port": None}])
    params = base64.b64encode(json.dumps(spec.__dict__).encode()).decode()
    env = {k: v for k, v in os.environ.items() if k.upper() != "SYSTEMROOT"}
    script = ROOT / "winhost" / "probe" / "script.py"
    proc = subprocess.run([sys.executable, str(script), params], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    facts = facts_from_probe("h1", spec, read_probe_output(proc.stdout))
    api, web, jobs = (facts.for_service(n) for n in ("api", "web", "jobs"))
    assert api.venv.imports["json"].ok and web.venv.imports["json"].ok
    assert web.venv.dists == api.venv.dists and web.port_open is False
    assert web.service.name == "web" and "not a Windows Python" in web.service.error
    assert not jobs.venv.exists and jobs.port_open is None and jobs.service.name == "jobs"


# -- provisioning: one probe, host-wide steps once, the changed service's steps only ------------
class _ProbeOnly:
    """A connection that answers the fact probe with ``doc`` (a plan sends nothing else)."""

    def __init__(self, doc: dict) -> None:
        from winhost.connection import ConnectionStats

        self.host, self.stats, self.oem_codepage, self.doc = "web01", ConnectionStats(), None, doc
        self.lines: list[str] = []

    def run(self, command, *, timeout=None, idempotent=False):
        from winhost.connection import Result
        from winhost.probe import MARKER

        self.lines.append(command.line)
        return Result(0, MARKER + json.dumps(self.doc) + "\n", "")

    def close(self) -> None:
        pass


def test_a_plan_probes_once_and_names_the_service_of_each_step(tmp_path):
    from provision.engine import provision_host
    from provision.model import Status

    host = load(tmp_path, TWO)
    doc = two_service_doc(host)
    doc["units"][0]["service"]["key"]["Start"] = 3  # web: demand instead of delayed-auto
    conn = _ProbeOnly(doc)
    run = provision_host(host, conn, check_only=True)  # type: ignore[arg-type]
    assert not run.error and len(conn.lines) == 1  # one probe for both services
    assert [(s.step, s.service) for s in run.steps if s.status is Status.WOULD_CHANGE] == [
        ("start_type", "web")]
    assert [s.service for s in run.steps if s.step == "nssm"] == [""]  # host-wide: once
    assert [s.service for s in run.steps if s.step == "service"] == ["api", "web"]
    assert next(s for s in run.steps if s.status is Status.WOULD_CHANGE).label == (
        "start type · web")


ANSIBLE = """\
all:
  hosts:
    web01:
      ansible_host: web01.example.com
      ansible_user: deploy
      ansible_password: "{{ lookup('env', 'TACFLEET_PW') }}"
      tacfleet:
        python: {base: 'C:\\Python311\\python.exe', version: "3.11"}
        nssm: {sha256: eee9c44c29c2be011f1f1e43bb8c3fca888cb81053022ec5a0060035de16d848}
        services:
          - service: {name: api}
            app: {name: api, tac_file: 'C:\\Apps\\api\\api.tac', port: 8080}
          - service: {name: web}
            app: {name: web, tac_file: 'C:\\Apps\\web\\web.tac', port: 8081}
"""


def test_services_in_the_tacfleet_variable_of_an_ansible_inventory(tmp_path):
    pytest.importorskip("ansible")
    path = tmp_path / "ansible.yml"
    path.write_text(ANSIBLE)
    host = load_inventory(path, check_files=False).host("web01")
    assert [(u.service.name, u.app.port) for u in host.units()] == [("api", 8080), ("web", 8081)]
    path.write_text(ANSIBLE.replace("8081", "8080"))
    with pytest.raises(InventoryError) as caught:
        load_inventory(path, check_files=False)
    assert "tacfleet.services[1].app.port: value '8080' — is also used by service api" in str(
        caught.value)


def test_replacing_nssm_or_a_shared_venv_stops_every_service_that_runs_it(tmp_path):
    from provision.steps import Context, _holders, replace_in_use

    own_venv = "        python: {venv: C:\\\\PythonEnvs\\\\web}\n        app: {name: web,"
    host = load(tmp_path, TWO.replace("        app: {name: web,", own_venv))
    facts = facts_from_probe(host.name, desired.probe_spec(host), two_service_doc(host))
    api = host.units()[0]
    ctx = Context(api, facts.for_service("api"), False, False)
    ops = replace_in_use(ctx, host.nssm.path + ".part", host.nssm.path, "0" * 64)
    assert [(op[0], op[2]) for op in ops if op[0] in ("stop", "start")] == [
        ("stop", "api"), ("stop", "web"), ("start", "api"), ("start", "web")]  # nssm.exe: all
    assert _holders(ctx, venv=api.python.venv) == ["api"]  # web has a venv of its own
    shared = load(tmp_path, TWO)
    ctx = Context(shared.units()[0], facts.for_service("api"), False, False)
    assert _holders(ctx, venv="c:\\pythonenvs\\SHARED") == ["api", "web"]
