r"""The nightly drift run as the controller's own scheduled job: a Task Scheduler task on
Windows, a crontab line elsewhere.

On Windows the task is registered from its XML (``schtasks /Create /TN NAME /XML FILE /F``, the
Task Scheduler schema 1.2 as Microsoft documents it), not from ``/TR``: the command and its
arguments are elements of their own, so a checkout under ``C:\Users\Zoë Müller`` needs no
second layer of quoting, and the settings a night run wants have a place: a run missed while
the machine was off starts when it is back (``StartWhenAvailable``), a run still going at the
next start is not doubled (``IgnoreNew``), and a hung one is ended after 12 hours. It runs as
the registering user whether logged on or not, without a stored password (``S4U``, least
privilege): WinRM's explicit credentials come from the inventory's references, which is why
the secrets must be a password file or keyring entry that account can read, or a variable set
with ``setx`` for it. Its output goes to the drift run's log in the reports folder.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path, PurePath
from xml.sax.saxutils import escape

from winhost.cmdline import quote_arg

TASK_XML = """<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>{description}</Description>
  </RegistrationInfo>
  <Triggers>
    <CalendarTrigger>
      <StartBoundary>2000-01-01T{at}:00</StartBoundary>
      <Enabled>true</Enabled>
      <ScheduleByDay>
        <DaysInterval>1</DaysInterval>
      </ScheduleByDay>
    </CalendarTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{user}</UserId>
      <LogonType>S4U</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <ExecutionTimeLimit>PT12H</ExecutionTimeLimit>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{command}</Command>
      <Arguments>{arguments}</Arguments>
      <WorkingDirectory>{folder}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"""


@dataclass(frozen=True)
class NightlyRun:
    """``python -m tacfleet_tasks drift --inventory I --reports R`` from ``folder`` at ``at``."""

    python: str
    inventory: PurePath
    reports: PurePath
    folder: PurePath
    at: str = "02:30"

    @property
    def argv(self) -> list[str]:
        return ["-m", "tacfleet_tasks", "drift", "--inventory", str(self.inventory),
                "--reports", str(self.reports)]

    def task_xml(self, user_sid: str) -> str:
        """The Task Scheduler task (schema 1.2) that runs it daily as ``user_sid``."""
        return TASK_XML.format(
            description=escape(f"tacfleet: nightly drift of {self.inventory} into "
                               f"{self.reports}"),
            at=self.at, user=escape(user_sid), command=escape(self.python),
            arguments=escape(" ".join(quote_arg(arg) for arg in self.argv)),
            folder=escape(str(self.folder)))

    def cron_line(self) -> str:
        """The crontab line (``crontab -e``) that runs it daily."""
        hour, minute = self.at.split(":")
        run = " ".join(shlex.quote(arg) for arg in (self.python, *self.argv))
        return f"{int(minute)} {int(hour)} * * * cd {shlex.quote(str(self.folder))} && {run}"


def parse_at(text: str) -> str:
    """``HH:MM`` (24 h), or ValueError naming the value and the form."""
    hour, sep, minute = text.partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and len(minute) == 2
            and int(hour) < 24 and int(minute) < 60):
        raise ValueError(f"schedule: --at {text!r} is not a time of day; fix: HH:MM, 24 h "
                         "(e.g. 02:30)")
    return f"{int(hour):02d}:{minute}"


_BAD_NAME = re.compile(r'[\\/:*?"<>|]|^\s|\s$')


def parse_name(text: str) -> str:
    """A Task Scheduler task name (no folder), or ValueError naming the value and the fix."""
    if not text or _BAD_NAME.search(text) or len(text) > 200:
        raise ValueError(f"schedule: --name {text!r} cannot name a scheduled task; fix: letters, "
                         "digits, spaces inside, - _ . (no \\ / : * ? \" < > |)")
    return text


def nightly_run(inventory: Path, reports: Path, at: str, folder: Path) -> NightlyRun:
    """This controller's nightly run: its Python, absolute paths, run from ``folder``."""
    return NightlyRun(python=sys.executable, inventory=inventory.resolve(),
                      reports=reports.resolve(), folder=folder.resolve(), at=parse_at(at))
