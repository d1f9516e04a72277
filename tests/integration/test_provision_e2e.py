"""The product end to end on the sandbox host: plan, provision, comply, stay idempotent, heal drift.

One scenario in order (each step needs the previous one's host), through the real pywinrm client
over NTLM on 127.0.0.1 and real Windows programs under Wine.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from inventory import load_inventory
from provision.fleet import provision_one as provision
from provision.model import Status
from tests.integration.helpers import assert_pytest_checks_pass, failing
from tests.support.pytest_checks import run_checks
from winhost.cmdline import command, system32

pytestmark = pytest.mark.sandbox


def test_provision_a_bare_host_then_nothing_to_do_then_heal_drift(sandbox_host):
    from sandbox import control

    control.reset(sandbox_host.info["name"])  # bare, whatever other tests did before
    host = load_inventory(sandbox_host.inventory).host("sandbox")

    plan = provision(host, check_only=True)
    assert not plan.error and plan.count(Status.WOULD_CHANGE) >= 8, plan.summary
    assert "service_exists" in failing(host), "the plan must not have changed the host"

    first = provision(host)
    assert not first.error and first.count(Status.FAILED) == 0, [
        (s.step, s.message) for s in first.steps if s.status is Status.FAILED] or first.error
    assert failing(host) == {}
    with urllib.request.urlopen(f"http://127.0.0.1:{host.app.port}/", timeout=10) as answer:
        assert json.loads(answer.read()) == {"app": "tacdemo", "version": "1.0.0"}

    second = provision(host)
    assert second.changed == 0, second.summary
    # lock, probe, release: the host lock makes a no-op run 3 commands
    assert second.commands <= 3 and second.http_requests <= 13, second.summary

    # Someone changes the service by hand: the checks say exactly what and where.
    with sandbox_host.connect() as conn:
        demand = command(system32("sc.exe"), "config", host.service.name, "start=", "demand")
        assert conn.run(demand).rc == 0
    drift = failing(host)
    assert set(drift) == {"start_type"}
    assert "expected delayed-auto, found demand" in drift["start_type"]

    healed = provision(host)
    assert [s.step for s in healed.steps if s.status is Status.CHANGED] == ["start_type"]
    assert failing(host) == {}


def test_pytest_checks_command_line_passes_on_the_provisioned_host(sandbox_host):
    """`pytest checks --host NAME --inventory FILE`, as a user runs it (after the scenario)."""
    assert_pytest_checks_pass(sandbox_host.inventory)


ENV_CANARY = "canary-e2e-env-61d4"
INDEX_CANARY = "canary-e2e-idx-0b93"


def test_environment_and_index_secrets_reach_no_command_line_log_or_report(
        sandbox_host, tmp_path, monkeypatch, capfd):
    """A canary in app.environment (by reference) and in the index URL's user-info: the host
    gets both (NSSM reads the environment back, pip authenticates to the index), yet neither is
    on any command line the host started (the agent's record, as event 4688 keeps them), nor in
    the plan, run logs, facts, drift.json/html or JUnit. Then the host is put back."""
    import yaml

    import tacfleet_cli as cli
    from provision.options import ProvisionOptions
    from sandbox.host import image
    from tests.support.index import private_index
    from tests.support.wheels import make_wheel

    monkeypatch.setenv("E2E_DB_PASSWORD", ENV_CANARY)
    make_wheel(tmp_path / "wheels", "tacfleet-canary", "1.0")
    agent_log = Path(sandbox_host.info["state_dir"]) / "agent.log"
    seen = agent_log.stat().st_size if agent_log.exists() else 0
    # the index serves what the image's C:\wheels holds too: a bare host is provisioned from it
    sandbox_wheels = image.cache_root() / "downloads" / "wheels"
    with private_index([tmp_path / "wheels", sandbox_wheels], "deploy", INDEX_CANARY) as index:
        data = yaml.safe_load(sandbox_host.inventory.read_text())
        entry = data["hosts"]["sandbox"]
        entry["python"].pop("wheelhouse")
        entry["python"].update(index_url=index.url, packages=["Twisted", "pywin32",
                                                              "tacfleet-canary"])
        entry["app"]["environment"]["DB_PASSWORD"] = {"env": "E2E_DB_PASSWORD"}
        inventory = tmp_path / "secrets.yml"
        inventory.write_text(yaml.safe_dump(data))
        logs, reports = tmp_path / "logs", tmp_path / "reports"

        assert cli.logged("plan", str(logs / "plan.log"), cli.provision, str(inventory), None,
                          ProvisionOptions(check=True)) == 0
        shown = [capfd.readouterr()]
        plan = " ".join(shown[0].out.split())
        assert "(standard input: AppEnvironmentExtra DB_PASSWORD=*** TACDEMO_PORT=***)" in plan
        assert "(standard input: netrc for 127.0.0.1: login *** password ***)" in plan
        assert f"--index-url http://127.0.0.1:{index.port}/simple" in plan
        assert cli.logged("provision", str(logs / "provision.log"), cli.provision,
                          str(inventory), None) == 0
        assert any(path == "/simple/tacfleet-canary/" and right
                   for path, right in index.requests), index.requests
    host = load_inventory(inventory).host("sandbox")
    with sandbox_host.connect() as conn:  # what nssm.exe itself reads back
        got = conn.run(command(host.nssm.path, "get", host.service.name, "AppEnvironmentExtra"))
    assert got.stdout.replace("\x00", "").split() == [
        f"DB_PASSWORD={ENV_CANARY}", f"TACDEMO_PORT={host.app.port}"]
    with urllib.request.urlopen(f"http://127.0.0.1:{host.app.port}/", timeout=10) as answer:
        assert answer.status == 200  # the app got TACDEMO_PORT from that value

    shown.append(capfd.readouterr())
    assert cli.facts(str(inventory), None) == 0
    shown.append(capfd.readouterr())
    env = json.loads(shown[-1].out)["sandbox"]["service"]["parameters"]["AppEnvironmentExtra"]
    assert env == ["DB_PASSWORD=***", "TACDEMO_PORT=***"]
    assert cli.logged("drift", str(logs / "drift.log"), cli.drift, str(inventory), None,
                      reports=str(reports)) == 0
    junit = tmp_path / "junit.xml"
    checks = run_checks(inventory, "-l", f"--junitxml={junit}")
    assert checks.returncode == 0, checks.stdout[-2000:]
    shown.append(capfd.readouterr())

    with agent_log.open(encoding="utf-8") as f:  # every command line the host started
        f.seek(seen)
        started = [line for line in f if line.startswith("run ")]
    assert any(" setenv " in line for line in started)
    assert any(" runfile " in line and "\\Temp NETRC " in line for line in started), started
    texts = {"agent.log": "".join(started), "checks": checks.stdout + checks.stderr,
             "junit": junit.read_text(), **{f"output {n}": o.out + o.err
                                             for n, o in enumerate(shown)}}
    texts.update({str(p): p.read_text(encoding="utf-8")
                  for folder in (logs, reports) for p in folder.rglob("*") if p.is_file()})
    assert [name for name, text in texts.items() if ENV_CANARY in text] == []
    assert [name for name, text in texts.items() if INDEX_CANARY in text] == []
    assert any(p.suffix == ".html" for p in reports.rglob("*"))

    restored = provision(load_inventory(sandbox_host.inventory).host("sandbox"))
    assert not restored.failed, restored.summary


PLANTED = "C:\\ProgramData\\planted-sdist-ran.txt"
SETUP_PY = f"""\
from setuptools import setup
open({PLANTED!r}, "w").write("pip built me as the administrator")
setup(name="tacfleet-planted", version="2.0", py_modules=[])
"""


def _sdist(folder: Path) -> Path:
    """tacfleet-planted 2.0 as an sdist whose setup.py leaves a marker when it runs."""
    import io
    import tarfile

    path = folder / "tacfleet-planted-2.0.tar.gz"
    files = {"setup.py": SETUP_PY, "PKG-INFO": "Metadata-Version: 2.1\nName: tacfleet-planted\n"
             "Version: 2.0\n"}
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"tacfleet-planted-2.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_planted_sdist_in_the_wheelhouse_is_never_built(sandbox_host, tmp_path):
    """Anyone who can write to the wheelhouse drops a newer sdist beside the wheel: pip takes
    only the wheel (--only-binary=:all:), so the sdist's setup.py never runs as admin."""
    import base64

    import yaml

    from compliance import desired
    from provision.hostops import host_ops
    from tests.support.wheels import make_wheel

    base = load_inventory(sandbox_host.inventory).host("sandbox")
    house = base.python.wheelhouse or ""
    planted = [make_wheel(tmp_path, "tacfleet-planted", "1.0"), _sdist(tmp_path)]
    writes = [("write", f"{house}\\{p.name}", "wb", base64.b64encode(p.read_bytes()).decode())
              for p in planted]
    data = yaml.safe_load(sandbox_host.inventory.read_text())
    data["hosts"]["sandbox"]["python"]["packages"] = ["Twisted", "pywin32", "tacfleet-planted"]
    inventory = tmp_path / "planted.yml"
    inventory.write_text(yaml.safe_dump(data))
    marker = command(base.python.base, "-c", f"import os; print(os.path.exists({PLANTED!r}))")
    with sandbox_host.connect() as conn:
        assert conn.run(host_ops(base.python.base, *writes)).rc == 0
        try:
            run = provision(load_inventory(inventory).host("sandbox"))
            assert not run.failed, [(s.step, s.message) for s in run.steps if s.message]
            assert conn.run(marker).stdout.strip() == "False"
            version = command(desired.venv_python(base), "-c", "import importlib.metadata as m; "
                              "print(m.version('tacfleet-planted'))")
            assert conn.run(version).stdout.strip() == "1.0"
        finally:
            conn.run(host_ops(base.python.base, *(("rmtree", f"{house}\\{p.name}")
                                                  for p in planted), ("rmtree", PLANTED)))
