r"""The nightly run's scheduled task: Task Scheduler XML (schema 1.2 as Microsoft documents
it) whose arguments a Windows program splits back to what tacfleet meant, and the crontab
line."""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath, PureWindowsPath

import pytest

import tacfleet_cli as cli
from compliance.nightly_task import NightlyRun, parse_at, parse_name
from winhost.cmdline import split_argv

NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
HOME = PureWindowsPath(r"C:\Users\Zoë Müller\tacfleet")
RUN = NightlyRun(python=str(HOME / "venv/Scripts/python.exe"),
                 inventory=HOME / "prod (EU) & more.yml", reports=HOME / "reports 100%",
                 folder=HOME, at="02:30")


def test_the_task_runs_drift_with_arguments_windows_splits_back_as_written():
    task = ET.fromstring(RUN.task_xml("S-1-5-21-1-2-3-1001").encode("utf-16"))
    run = task.find("t:Actions/t:Exec", NS)
    assert run is not None
    assert run.findtext("t:Command", namespaces=NS) == RUN.python
    assert split_argv(run.findtext("t:Arguments", namespaces=NS) or "") == [
        "-m", "tacfleet_tasks", "drift", "--inventory", str(RUN.inventory), "--reports",
        str(RUN.reports)]
    assert run.findtext("t:WorkingDirectory", namespaces=NS) == str(HOME)


def test_the_task_is_daily_least_privilege_without_a_password_and_never_doubled():
    task = ET.fromstring(RUN.task_xml("S-1-5-21-1-2-3-1001").encode("utf-16"))
    trigger = task.find("t:Triggers/t:CalendarTrigger", NS)
    assert trigger is not None
    assert trigger.findtext("t:StartBoundary", namespaces=NS, default="").endswith("T02:30:00")
    assert trigger.findtext("t:ScheduleByDay/t:DaysInterval", namespaces=NS) == "1"
    principal = task.find("t:Principals/t:Principal", NS)
    assert principal is not None
    assert [principal.findtext(f"t:{n}", namespaces=NS)
            for n in ("UserId", "LogonType", "RunLevel")] == [
        "S-1-5-21-1-2-3-1001", "S4U", "LeastPrivilege"]
    settings = task.find("t:Settings", NS)
    assert settings is not None
    assert settings.findtext("t:MultipleInstancesPolicy", namespaces=NS) == "IgnoreNew"
    assert settings.findtext("t:StartWhenAvailable", namespaces=NS) == "true"


def test_the_crontab_line_runs_the_same_command_from_the_same_folder():
    run = NightlyRun(python="/opt/tacfleet/.venv/bin/python",
                     inventory=PurePosixPath("/etc/tac fleet/p.yml"),
                     reports=PurePosixPath("/var/lib/tacfleet/reports"),
                     folder=PurePosixPath("/opt/tacfleet"), at="02:05")
    minute, hour, *rest = run.cron_line().split(" ", 5)
    assert (minute, hour, rest[:3]) == ("5", "2", ["*", "*", "*"])
    assert shlex.split(rest[3]) == ["cd", "/opt/tacfleet", "&&", run.python, *run.argv]


@pytest.mark.parametrize(("text", "value"), [("2:30", "02:30"), ("23:59", "23:59")])
def test_times_of_day(text, value):
    assert parse_at(text) == value


@pytest.mark.parametrize("text", ["24:00", "2:3", "02:60", "half past two", ":30"])
def test_a_bad_time_names_the_value_and_the_form(text):
    with pytest.raises(ValueError, match=f"--at {text!r} is not a time of day; fix: HH:MM"):
        parse_at(text)


@pytest.mark.parametrize("text", ["", "a\\b", "night:drift", " lead", 'say "hi"'])
def test_a_bad_task_name_is_refused(text):
    with pytest.raises(ValueError, match="cannot name a scheduled task"):
        parse_name(text)


def test_on_linux_schedule_prints_the_crontab_line_and_refuses_a_bad_time(tmp_path, capsys):
    inventory = cli.ROOT / "inventory" / "hosts.yml"
    assert cli.schedule(str(inventory), str(tmp_path / "r")) == 0
    out = capsys.readouterr().out
    assert "crontab -e" in out and f"--inventory {inventory}" in " ".join(out.split())
    assert cli.schedule(str(inventory), at="25:00") == 2
    assert "--at '25:00' is not a time of day" in capsys.readouterr().err
