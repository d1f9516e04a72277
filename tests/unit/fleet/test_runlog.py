"""The run log of provision, deprovision and drift: what the terminal showed, every command
sent (shortened), no secret; over the night-run fakes, which answer at the connection level."""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

import tacfleet_cli as cli
from compliance import audit as audit_module
from fleet.runlog import log_path
from provision import fleet as fleet_module
from provision.options import ProvisionOptions
from tests.support.fakes import (
    CANARY,
    FLEET,
    FakeConnection,
    compliant,
    is_probe,
    probe_answer,
)
from tests.support.fakes import connector as night_connector
from tests.support.probe_doc import compliant_doc
from winhost.connection import COMMANDS

PASSWORD = "pw-from-the-file-7c1d"
BOX = set("│┃━─┏┓┗┛┡┩╇┳┻└┘┌┐├┤┼")


class LoggingConnection(FakeConnection):
    """Logs each command line as the real connections do (``winhost.connection.COMMANDS``)."""

    def run(self, command, *, timeout=None, idempotent=False, stdin=None):
        if COMMANDS.isEnabledFor(20):
            COMMANDS.info("%s %s", self.host, getattr(command, "line", command))
        return super().run(command, timeout=timeout, idempotent=idempotent, stdin=stdin)


def connector(answers):
    made: dict = {}
    plain = night_connector(answers, made)

    def connect(host):
        conn = plain(host)
        logging_conn = LoggingConnection(host, conn.answer)
        made[host.name] = logging_conn
        return logging_conn

    return connect


def env_lost(conn, text, timeout):
    """NSSM lacks the app's environment until the service step sets it."""
    if is_probe(conn, text) and all(is_probe(conn, line) for line in conn.sent):
        doc = compliant_doc(conn.entry)
        doc["service"]["parameters"]["AppEnvironmentExtra"] = ["TACDEMO_PORT=58080"]
        return probe_answer(doc)
    return compliant(conn, text, timeout)


@pytest.fixture
def fleet(tmp_path, monkeypatch) -> Path:
    """The night-run fleet, its connection password in a 0600 file."""
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    secret.chmod(0o600)
    monkeypatch.setenv("H5_DB_PASSWORD", CANARY)
    monkeypatch.delenv("TACFLEET_DEBUG", raising=False)
    path = tmp_path / "fleet.yml"
    text = FLEET.replace("password_env: H5_PASSWORD", f"password_file: {secret}")
    path.write_text(text.replace("  nosecret: {connection: {password_env: H5_UNSET_PASSWORD}}\n",
                                 ""))
    answers = {"good": env_lost, "drifted": env_lost}
    monkeypatch.setattr(fleet_module, "open_connection", connector(answers))
    monkeypatch.setattr(audit_module, "open_connection", connector(answers))
    return path


def test_log_path_default_option_and_none(tmp_path):
    now = datetime(2026, 12, 5, 6, 30, 1, tzinfo=UTC)
    assert log_path("provision", None, now=now) == Path("reports/provision-20261205T063001Z.log")
    assert log_path("drift", None, tmp_path, now=now) == tmp_path / "drift-20261205T063001Z.log"
    assert log_path("provision", "-") is None and log_path("provision", "") is None
    assert log_path("provision", str(tmp_path / "x.log")) == tmp_path / "x.log"


def test_provision_log_holds_the_terminal_and_every_command_but_no_secret(fleet, tmp_path,
                                                                        capsys):
    log = tmp_path / "logs" / "run.log"
    assert cli.logged("provision", str(log), cli.provision, str(fleet), "good") == 0
    out = capsys.readouterr()
    text = log.read_text()
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    assert f"run log: {log}" in out.err
    assert text.startswith("tacfleet provision run log: ")
    assert "exit code 0" in text.splitlines()[-1]
    terminal = [" ".join(line.split()) for line in out.out.splitlines()
                if line.strip() and not BOX & set(line)]  # tables: re-drawn 120 wide
    flowing = " ".join(text.split())  # the terminal wraps at 80 columns, the log at 120
    missing = [line for line in terminal if line not in flowing]
    assert terminal and missing == [], "every line the terminal showed is in the log"
    assert "tacfleet provision" in text and "\ngood: ok=" in text  # the summary line
    commands = [line for line in text.splitlines() if re.match(r"\d\d:\d\d:\d\d good \$ ", line)]
    assert len(commands) >= 3  # probe, the NSSM change, the re-probe
    # the environment goes over standard input: its values on no command line, its names shown
    assert any(" setenv tacdemo " in line for line in commands)
    assert not any("DB_PASSWORD" in line for line in commands)
    assert all(len(line) < 2000 for line in commands)  # long arguments shown by their size
    assert "characters>" in text
    assert CANARY not in text and PASSWORD not in text


def test_a_plan_shows_the_environment_names_it_sends_over_standard_input(fleet, tmp_path,
                                                                       capsys):
    log = tmp_path / "plan.log"
    assert cli.logged("provision", str(log), cli.provision, str(fleet), "good",
                      ProvisionOptions(check=True)) == 0
    out, text = capsys.readouterr().out, log.read_text()
    shown = "(standard input: AppEnvironmentExtra DB_PASSWORD=*** TACDEMO_PORT=***)"
    assert shown in " ".join(out.split()) and shown in " ".join(text.split())
    assert CANARY not in out + text


def test_json_output_and_a_drift_run_are_logged_too(fleet, tmp_path, capsys):
    log = tmp_path / "json.log"
    assert cli.logged("provision", str(log), cli.provision, str(fleet), "good",
                      ProvisionOptions(as_json=True)) == 0
    text = log.read_text()
    assert "service installed and configured with NSSM" in text  # the step lines the
    assert '"summary": "good: ok=' in text  # JSON replaced on screen, and the JSON
    reports = tmp_path / "reports"
    code = cli.logged("drift", None, cli.drift, str(fleet), "good,drifted",
                      folder=str(reports), reports=str(reports))
    (drift_log,) = reports.glob("drift-*.log")
    text = drift_log.read_text()
    assert code == 1 and f"exit code {code}" in text
    assert re.search(r"good \$ .*<[\d,]+ characters>", text) and "drifted $ " in text
    assert CANARY not in text and PASSWORD not in text
    capsys.readouterr()


def test_no_log_and_an_unwritable_log(fleet, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.logged("provision", "-", cli.provision, str(fleet), "good") == 0
    assert not (tmp_path / "reports").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.logged("provision", str(blocker / "x.log"), cli.provision, str(fleet),
                      "good") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"cannot write the run log {blocker / 'x.log'}")
    assert "--log -" in err[-1]
