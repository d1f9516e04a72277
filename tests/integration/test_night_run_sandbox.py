"""Issue 16's acceptance on the sandbox: a drift run over three hosts — one whose secret is
missing, one that accepts connections but never answers, one drifted — writes a report naming
all three causes and exits 2 in bounded time; --remediate fixes the drifted one. A canary secret
(in app.environment, by reference) reaches NSSM but no output, report or JUnit file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

import tacfleet_cli as cli
from inventory import load_inventory
from provision.fleet import provision_one
from tests.support.loopback import silent_listener
from tests.support.pytest_checks import run_checks
from winhost.cmdline import command, system32

pytestmark = pytest.mark.sandbox
CANARY = "canary-0d9b-sandbox-night"


@pytest.fixture
def silent_port():
    """A port that accepts TCP connections and never answers (a hung WinRM service)."""
    with silent_listener() as port:
        yield port


def three_hosts(sandbox_host, silent_port: int, dest: Path) -> Path:
    base = yaml.safe_load(sandbox_host.inventory.read_text())["hosts"]["sandbox"]
    base["app"].setdefault("environment", {})["DB_PASSWORD"] = {"env": "H5_CANARY"}
    nosecret = json.loads(json.dumps(base))
    nosecret["connection"].pop("password_file")
    nosecret["connection"]["password_env"] = "H5_UNSET_SECRET"
    hung = json.loads(json.dumps(base))
    hung["connection"]["port"] = silent_port
    # its own deadline: three read timeouts of 2 s per check, not the 45 s the sandbox keeps
    hung["connection"]["check_deadline"] = 7
    dest.write_text(yaml.safe_dump({"hosts": {"sandbox": base, "nosecret": nosecret,
                                              "hung": hung}}))
    return dest


def latest(reports: Path) -> dict:
    pointer = json.loads((reports / "latest.json").read_text())
    return json.loads((reports / pointer["run"] / "drift.json").read_text())


def test_missing_secret_hung_and_drifted_host_in_one_night_run(sandbox_host, silent_port,
                                                               tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("H5_CANARY", CANARY)
    monkeypatch.delenv("H5_UNSET_SECRET", raising=False)
    inventory = three_hosts(sandbox_host, silent_port, tmp_path / "three.yml")
    host = load_inventory(inventory).host("sandbox")
    assert not provision_one(host).failed
    with sandbox_host.connect() as conn:  # the hand-made change drift must find
        tamper = command(system32("sc.exe"), "config", host.service.name, "start=", "demand")
        assert conn.run(tamper).rc == 0

    reports = tmp_path / "reports"
    started = time.monotonic()
    assert cli.drift(str(inventory), None, reports=str(reports)) == 2
    assert time.monotonic() - started < 60
    hosts = latest(reports)["hosts"]
    assert hosts["sandbox"]["status"] == "drift"
    assert "H5_UNSET_SECRET is not set" in hosts["nosecret"]["error"]
    assert hosts["hung"]["status"] == "unreachable" and "fix:" in hosts["hung"]["error"]

    assert cli.drift(str(inventory), None, reports=str(reports),
                     remediate=True) == 2  # two hosts still cannot be checked
    report = latest(reports)
    assert report["hosts"]["sandbox"]["status"] == "compliant"
    assert report["changes"]["fixed"] == [["sandbox", "start_type"]]

    junit = tmp_path / "junit.xml"
    checks = run_checks(inventory, "-l", f"--junitxml={junit}")
    assert checks.returncode == 1  # two hosts fail test_host_reachable, the sandbox passes
    assert "INTERNALERROR" not in checks.stdout + checks.stderr

    with sandbox_host.connect() as conn:  # NSSM holds the real value
        nssm = command(host.nssm.path, "get", host.service.name, "AppEnvironmentExtra")
        assert CANARY in conn.run(nssm).stdout.replace("\x00", "")
    out = capfd.readouterr()
    texts = {"stdout": out.out, "stderr": out.err, "checks": checks.stdout + checks.stderr,
             "junit": junit.read_text(encoding="utf-8")}
    texts.update({str(p): p.read_text(encoding="utf-8") for p in reports.rglob("*")
                  if p.is_file()})
    state = Path(sandbox_host.info["state_dir"])  # the host's own logs too
    texts.update({str(p): p.read_text(encoding="utf-8", errors="replace")
                  for p in state.glob("*.log")})
    leaks = [name for name, text in texts.items() if CANARY in text]
    assert leaks == []
