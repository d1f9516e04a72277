"""A night run that survives anything (issue 16): per-host containment, Ctrl-C, exit codes,
secrets, hung hosts — over fake connections that record the commands sent and answer the probe.

The fakes answer at the connection level (a probe document, an exit code, or an exception), so
they exercise the real engine, audit, drift report and command line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tacfleet_cli as cli
from compliance import audit as audit_module
from compliance.audit import audit_fleet
from fleet.interrupt import INTERRUPTED, NOT_STARTED, STOP, graceful_interrupt
from inventory import Host, load_inventory
from provision import fleet as fleet_module
from provision.fleet import provision_fleet
from provision.model import Status
from provision.options import ProvisionOptions
from tests.support import ROOT
from tests.support.fakes import (
    CANARY,
    FakeConnection,
    compliant,
    connector,
    is_probe,
    probe_answer,
    run_pytest_checks,
)
from tests.support.loopback import silent_listener
from tests.support.probe_doc import compliant_doc
from winhost.connection import Result
from winhost.errors import (
    AuthenticationFailed,
    CommandTimeout,
    ConnectionLost,
    HostError,
    OutputError,
    TacfleetError,
)
from winhost.probe import MARKER, ProbeError


@pytest.fixture
def hosts(fleet_file: Path) -> dict[str, Host]:
    return {h.name: h for h in load_inventory(fleet_file).hosts}


def _start_type_lost(conn: FakeConnection, text: str, timeout: float | None) -> Result:
    if is_probe(conn, text):
        doc = compliant_doc(conn.entry)
        doc["service"]["key"]["DelayedAutostart"] = 0
        return probe_answer(doc)
    return Result(0, "", "")


def _hangs(conn: FakeConnection, text: str, timeout: float | None) -> Result:
    assert timeout is not None and timeout < 60, "a check must not wait 300 s for a hung host"
    time.sleep(timeout)
    raise CommandTimeout(conn.host, f"command ran longer than {timeout:.0f}s and was terminated")


# -- finding 2: one host's problem never stops the fleet -----------------------------------------
def test_probe_exit_1_on_one_host_keeps_the_other_hosts_result(hosts):
    def exit_1(conn, text, timeout):
        return Result(1, "", "Traceback ...\r\nOSError: [WinError 5] Access is denied")

    made: dict[str, FakeConnection] = {}
    runs = provision_fleet([hosts["good"], hosts["drifted"]], parallel=2,
                           connector=connector({"drifted": exit_1}, made))
    good, bad = runs
    assert not good.error and good.steps and all(s.status in (Status.OK, Status.SKIPPED)
                                                 for s in good.steps)
    assert "exit code 1" in bad.error and "fix:" in bad.error
    assert bad.summary().startswith("drifted: could not be provisioned: ")
    assert made["drifted"].closed and made["good"].closed


def test_unreadable_answer_on_one_host_keeps_the_others_in_the_audit(hosts):
    def garbage(conn, text, timeout):
        return Result(0, MARKER + "Access is denied.\r\n", "")

    def parse_error(conn, text, timeout):
        raise OutputError("unexpected `sc qc` output: 'Access is denied.'")

    def bug(conn, text, timeout):
        raise KeyError("Parameters")

    audits = audit_fleet(
        [hosts["good"], hosts["drifted"], hosts["hung"], hosts["nosecret"]],
        connector=connector({"drifted": garbage, "hung": parse_error, "nosecret": bug}, {}),
    )
    by = {a.host: a for a in audits}
    assert by["good"].status == "compliant"
    assert by["drifted"].status == "unreachable"
    assert by["drifted"].error.startswith("could not be checked: probe answer is not valid JSON")
    assert "unexpected `sc qc` output" in by["hung"].error and "fix:" in by["hung"].error
    # nosecret's password is unset: named, with the variable and the fix, before any command
    assert "H5_UNSET_PASSWORD is not set" in by["nosecret"].error
    assert "host nosecret" in by["nosecret"].error and "fix: export" in by["nosecret"].error


def test_a_bug_for_one_host_is_that_hosts_error_not_the_fleets(hosts):
    def bug(conn, text, timeout):
        raise KeyError("Parameters")

    audits = audit_fleet([hosts["good"], hosts["drifted"]],
                         connector=connector({"drifted": bug}, {}))
    assert audits[0].status == "compliant"
    assert "unexpected KeyError" in audits[1].error and "--debug" in audits[1].error


def test_every_error_tacfleet_raises_has_one_root():
    from fleet.select import RolloutError
    from inventory.errors import InventoryError, SecretError, SelectionError
    from winhost.cmdline import CommandTooLong, UnsafeArgument

    for kind in (HostError, ProbeError, OutputError, UnsafeArgument, CommandTooLong,
                 InventoryError, SecretError, SelectionError, RolloutError):
        assert issubclass(kind, TacfleetError), kind
    for kind in (ProbeError, OutputError, UnsafeArgument, RolloutError):
        assert issubclass(kind, ValueError), kind  # callers that expect ValueError still work


# -- the acceptance run: missing secret, hung, drifted -> report naming all three, exit 2 ---------
def test_drift_over_a_missing_secret_a_hung_host_and_a_drifted_one(fleet_file, tmp_path,
                                                                   monkeypatch, capsys):
    made: dict[str, FakeConnection] = {}
    monkeypatch.setattr(audit_module, "open_connection",
                        connector({"drifted": _start_type_lost, "hung": _hangs}, made))
    reports = tmp_path / "reports"
    started = time.monotonic()
    code = cli.drift(str(fleet_file), None, reports=str(reports), deadline=1.0)
    assert time.monotonic() - started < 20
    assert code == 2
    report = json.loads((reports / json.loads(
        (reports / "latest.json").read_text())["run"] / "drift.json").read_text())
    hosts = report["hosts"]
    assert hosts["good"]["status"] == "compliant"
    assert hosts["drifted"]["status"] == "drift"
    assert [f["requirement"] for f in hosts["drifted"]["findings"] if not f["ok"]] == [
        "start_type"]
    assert "H5_UNSET_PASSWORD is not set" in hosts["nosecret"]["error"]
    assert "check deadline of 1s" in hosts["hung"]["error"]
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err


@pytest.mark.parametrize("merge", [False, True], ids=["drift", "drift.merge"])
def test_reports_that_cannot_be_written_are_said_before_any_host_is_checked(
        fleet_file, tmp_path, monkeypatch, capsys, merge):
    made: dict[str, FakeConnection] = {}
    monkeypatch.setattr(audit_module, "open_connection", connector({}, made))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    reports = blocker / "reports"  # under a file: NotADirectoryError, as an ACL's denial is
    code = (cli.drift_merge([str(tmp_path)], reports=str(reports)) if merge
            else cli.drift(str(fleet_file), None, reports=str(reports)))
    out = capsys.readouterr()
    assert code == 2 and made == {}, out  # no host was connected to
    line = " ".join(out.err.split())
    assert line.startswith(f"drift: --reports {reports}: cannot be written (Not a directory); "
                           "fix: give the account that runs tacfleet"), line
    assert "Traceback" not in out.out + out.err


# -- finding 3: Ctrl-C ----------------------------------------------------------------------------
def test_first_ctrl_c_finishes_the_current_command_and_starts_nothing_new(hosts):
    def interrupted_during_first_change(conn, text, timeout):
        if is_probe(conn, text):
            return _start_type_lost(conn, text, timeout)
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C while this command runs
        assert STOP.wait(5), "the handler runs in the main thread"
        return Result(0, "", "")

    made: dict[str, FakeConnection] = {}
    notices: list[str] = []
    with graceful_interrupt(notices.append):
        runs = provision_fleet([hosts["drifted"], hosts["good"]], parallel=1,
                               connector=connector({"drifted": interrupted_during_first_change},
                                                   made))
    first, queued = runs
    sent = made["drifted"].sent
    assert len(sent) == 2 and "delayed-auto" in sent[1]  # the probe, then the one change
    assert first.error == INTERRUPTED
    assert [s.status for s in first.steps][-1] is Status.CHANGED
    assert queued.error == NOT_STARTED and "good" not in made
    assert notices and "Ctrl-C again" in notices[0]


def test_ctrl_c_in_provision_prints_what_was_done_and_exits_130(fleet_file, monkeypatch,
                                                                 capsys):
    def press_ctrl_c(conn, text, timeout):
        if is_probe(conn, text):
            return _start_type_lost(conn, text, timeout)
        os.kill(os.getpid(), signal.SIGINT)
        assert STOP.wait(5)
        return Result(0, "", "")

    made: dict[str, FakeConnection] = {}
    monkeypatch.setattr(fleet_module, "open_connection", connector({"drifted": press_ctrl_c}, made))
    # hung is queued behind drifted
    code = cli.provision(str(fleet_file), "drifted,hung", ProvisionOptions(parallel=1))
    out = capsys.readouterr()
    assert code == 130
    assert "start type" in out.out and "changed" in out.out  # what was done
    assert "interrupted" in out.err
    assert list(made) == ["drifted"]


def test_second_ctrl_c_stops_at_once():
    script = (
        "import os, signal, time\n"
        "from fleet.interrupt import graceful_interrupt\n"
        "with graceful_interrupt():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.2)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(30)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=20)
    assert done.returncode == 130 and time.monotonic() - started < 10
    assert "stopped at once" in done.stderr


# -- finding 6: one line, the documented exit code ------------------------------------------------
def test_facts_with_a_wrong_password_is_one_line_exit_2(fleet_file, monkeypatch, capsys):
    def rejected(conn, text, timeout):
        raise AuthenticationFailed(conn.host, "credentials for user 'deploy' were rejected")

    monkeypatch.setattr("winhost.open.open_connection", connector({"good": rejected}, {}))
    assert cli.facts(str(fleet_file), "good") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["good: could not be checked: credentials for user 'deploy' were rejected; "
                   "fix: check connection.user and the password its reference holds"]


def test_lost_connection_during_a_change_is_a_failed_host_exit_1(fleet_file, monkeypatch,
                                                                 capsys):
    def drops(conn, text, timeout):
        if is_probe(conn, text):
            return _start_type_lost(conn, text, timeout)
        raise ConnectionLost(conn.host, "connection lost during a change")

    monkeypatch.setattr(fleet_module, "open_connection", connector({"drifted": drops}, {}))
    assert cli.provision(str(fleet_file), "drifted") == 1
    out = capsys.readouterr().out
    assert "drifted: could not be provisioned: connection lost during a change" in out


@pytest.mark.parametrize("selection", ["ecoo1", "!good,!drifted,!nosecret,!hung"])
def test_bad_selection_is_one_line_exit_2_for_every_task(fleet_file, tmp_path, capsys,
                                                         selection):
    for task in (lambda: cli.provision(str(fleet_file), selection),
                 lambda: cli.drift(str(fleet_file), selection, reports=str(tmp_path / "r")),
                 lambda: cli.facts(str(fleet_file), selection)):
        assert task() == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "fix:" in err[0], err


def test_unexpected_error_is_one_line_exit_3_and_debug_shows_it(fleet_file, monkeypatch, capsys):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("provision.fleet.provision_rollout", bug)
    assert cli.provision(str(fleet_file), "good") == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["tacfleet: unexpected ZeroDivisionError: division by zero; fix: rerun with "
                   "--debug and report it"]
    monkeypatch.setenv("TACFLEET_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.provision(str(fleet_file), "good")


# -- finding 5: no secret in any output -----------------------------------------------------------
def test_environment_values_are_masked_in_plan_json_reports(fleet_file, tmp_path, monkeypatch,
                                                            capsys, hosts):
    def env_lost(conn, text, timeout):  # until NSSM is told the environment
        changed = any(not is_probe(conn, line) for line in conn.sent)
        if is_probe(conn, text) and not changed:
            doc = compliant_doc(conn.entry)
            doc["service"]["parameters"]["AppEnvironmentExtra"] = ["TACDEMO_PORT=58080"]
            return probe_answer(doc)
        return compliant(conn, text, timeout)

    made: dict[str, FakeConnection] = {}
    every: list[FakeConnection] = []
    answers = {"good": env_lost, "drifted": env_lost}
    monkeypatch.setattr(fleet_module, "open_connection", connector(answers, made, every))
    monkeypatch.setattr(audit_module, "open_connection", connector(answers, made, every))
    assert cli.provision(str(fleet_file), "good", ProvisionOptions(check=True, verbose=True)) == 0
    assert cli.provision(str(fleet_file), "good", ProvisionOptions(as_json=True)) == 0
    assert cli.drift(str(fleet_file), "good,drifted", reports=str(tmp_path / "r")) == 1
    out = capsys.readouterr()
    assert CANARY not in out.out + out.err
    assert "DB_PASSWORD=***" in out.out  # the plan shows the change, not the value
    # the host still gets the real value, over standard input, never on a command line
    assert any(f"DB_PASSWORD={CANARY}".encode() in data for c in every for data in c.stdin)
    assert not any(CANARY in line for c in every for line in c.sent)
    for path in (tmp_path / "r").rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_text(encoding="utf-8"), path
    assert CANARY not in repr(hosts["good"]) and "'DB_PASSWORD': '***'" in repr(hosts["good"])


def test_facts_show_the_host_s_environment_names_never_its_values(fleet_file, monkeypatch,
                                                                  capsys):
    """Whatever the host holds (values this controller never resolved included): NAME=***."""
    def foreign_env(conn, text, timeout):
        doc = compliant_doc(conn.entry)
        doc["service"]["parameters"]["AppEnvironmentExtra"] = [
            f"DB_PASSWORD={CANARY}", "LEFT_BY_HAND=host-only-5c9a"]
        return probe_answer(doc) if is_probe(conn, text) else compliant(conn, text, timeout)

    monkeypatch.setattr("winhost.open.open_connection", connector({"good": foreign_env}, {}))
    assert cli.facts(str(fleet_file), "good") == 0
    out = capsys.readouterr().out
    assert CANARY not in out and "host-only-5c9a" not in out
    env = json.loads(out)["good"]["service"]["parameters"]["AppEnvironmentExtra"]
    assert env == ["DB_PASSWORD=***", "LEFT_BY_HAND=***"]


def test_pytest_checks_never_shows_a_secret(fleet_file, tmp_path):
    """Unset password on one host, a canary password on another (refused port), -l, JUnit."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    junit = tmp_path / "junit.xml"
    done = run_pytest_checks("--inventory", str(fleet_file), "--host", "good,nosecret", "-l",
                             "--tb=long", f"--junitxml={junit}", "--check-deadline", "5", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "H5_UNSET_PASSWORD is not set" in done.stdout
    for text in (done.stdout, done.stderr, junit.read_text(encoding="utf-8")):
        assert CANARY not in text
        assert "environ(" not in text and "INTERNALERROR" not in text


@pytest.mark.parametrize(("args", "message"), [
    (["--host", "ecoo1"], "unknown host or group 'ecoo1'; fix: known hosts: good"),
    (["--host", "!good,!drifted,!nosecret,!hung"], "selects no host"),
    (["--inventory", "/nonexistent/inventory.yml"], "file not found"),
])
def test_pytest_checks_usage_errors_exit_4_with_the_tasks_line(fleet_file, args, message):
    if "--inventory" not in args:
        args = ["--inventory", str(fleet_file), *args]
    done = run_pytest_checks(*args, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 4, done.stdout + done.stderr
    assert message in done.stderr and "INTERNALERROR" not in done.stdout + done.stderr


# -- finding 8: a hung host costs the check deadline, not 300 s -----------------------------------
def test_hung_host_is_unreachable_after_the_deadline(hosts):
    started = time.monotonic()
    (audit,) = audit_fleet([hosts["hung"]], deadline=0.5,
                           connector=connector({"hung": _hangs}, {}))
    assert time.monotonic() - started < 5
    assert audit.status == "unreachable"
    assert "no answer within the check deadline of 0s" in audit.error or \
        "check deadline" in audit.error


def test_default_check_deadline_is_well_under_a_minute(hosts):
    seen: list[float | None] = []

    def record(conn, text, timeout):
        seen.append(timeout)
        return compliant(conn, text, timeout)

    audit_fleet([hosts["good"]], connector=connector({"good": record}, {}))
    assert seen and seen[0] is not None and 40 <= seen[0] <= 45


def test_queued_hosts_are_not_checked_after_ctrl_c(hosts):
    STOP.set()
    audits = audit_fleet([hosts["good"]], connector=connector({}, {}))
    assert audits[0].status == "unreachable" and "interrupted" in audits[0].error


def test_stop_event_is_shared_with_worker_threads():
    seen = []
    thread = threading.Thread(target=lambda: seen.append(STOP.wait(2)))
    thread.start()
    STOP.set()
    thread.join()
    assert seen == [True]


def test_host_that_accepts_but_never_answers_costs_the_deadline_not_90s(hosts):
    """Real pywinrm against a loopback socket that accepts and stays silent (before: 3 x 30 s)."""
    with silent_listener() as port:
        conn = hosts["hung"].connection.model_copy(update={"port": port})
        silent = hosts["hung"].model_copy(update={"connection": conn})
        started = time.monotonic()
        (audit,) = audit_fleet([silent], deadline=7)
    assert time.monotonic() - started < 12
    assert audit.status == "unreachable" and "fix:" in audit.error
