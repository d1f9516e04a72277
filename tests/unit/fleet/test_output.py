"""What provision prints off a terminal (a pipe, a CI log) and how its progress reads: the
night-run fakes answer at the connection level (no host); issue 35, items 5 to 7."""

from __future__ import annotations

import json
import time

import pytest

import tacfleet_cli as cli
from fleet import activity
from provision import fleet as fleet_module
from provision.options import ProvisionOptions
from provision.steps import STEPS
from tests.support.fakes import is_probe
from tests.unit.fleet.test_runlog import connector, env_lost, fleet  # noqa: F401 (fixture)

#: The steps of the night-run host's entry that it does not configure (no offline bundle, no
#: shipped wheels, no app.releases: no health gate, no old releases).
NOT_CONFIGURED = {"bundle", "ship_wheels", "release_gate", "prune_releases"}


def slow_probe(conn, text, timeout):
    """A host whose every probe takes 0.6 s (a real one: seconds)."""
    if is_probe(conn, text):
        time.sleep(0.6)
    return env_lost(conn, text, timeout)


def test_piped_provision_says_each_host_at_once_labels_the_waits_and_keeps_lines_whole(
        fleet, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setattr(fleet_module, "open_connection", connector({"good": slow_probe}))
    monkeypatch.setattr(activity, "FIRST_AFTER", 0.3)
    monkeypatch.setattr(activity, "HEARTBEAT_SECONDS", 0.4)
    assert cli.provision(str(fleet), "good") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "provisioning 1 host(s): good"  # before the first probe's answer
    assert "good: probing the host's facts (0 s)" in lines[1:3]
    # the re-probes after the restart are named for what they wait for
    assert any(line.startswith("good: re-probing the host after 'service running and "
                               "answering'") for line in lines), lines
    # steps that do not apply are not printed; the counts add up to the steps printed
    titles = {s.name: s.title for s in STEPS}
    printed = [line for line in lines if line.startswith("good  ")]
    assert not any(titles[name] in line for line in printed for name in NOT_CONFIGURED)
    assert len(printed) == len(STEPS) - len(NOT_CONFIGURED)
    summary = next(line for line in lines if line.startswith("good: ok="))
    ok, changed = (int(summary.split(f"{key}=")[1].split()[0]) for key in ("ok", "changed"))
    assert ok + changed == len(printed)
    assert "(not configured: 4 step(s))" in summary
    # plain whole lines: "changed (0.6s)" on its step's line, nothing cut with "…"
    assert any(line.startswith("good  service running and answering  changed (")
               for line in printed), printed
    assert not any("…" in line for line in lines)


def test_json_names_the_steps_that_do_not_apply_skipped_not_configured(fleet, capsys):  # noqa: F811
    assert cli.provision(str(fleet), "good", ProvisionOptions(as_json=True)) == 0
    run = json.loads(capsys.readouterr().out)[0]
    skipped = {s["step"]: s for s in run["steps"] if s["status"] == "skipped"}
    assert set(skipped) == NOT_CONFIGURED
    assert all(s["message"].startswith("not configured: ") for s in skipped.values())
    assert skipped["release_gate"]["message"] == "not configured: app.releases is off"
    counted = sum(1 for s in run["steps"] if s["status"] in ("ok", "changed"))
    assert counted == len(run["steps"]) - len(NOT_CONFIGURED)


def test_heartbeat_names_an_activity_after_a_while_then_every_interval():
    said: list[str] = []
    activity.doing("web01", "install the packages and the app into the venv")
    try:
        beat = activity.Heartbeat(said.append, interval=15, first_after=2)
        start = activity.current()["web01"].since
        beat.beat(start + 1)
        assert said == []  # quick work is not announced
        beat.beat(start + 2.5)
        beat.beat(start + 10)
        beat.beat(start + 17.6)
        beat.beat(start + 41)
    finally:
        activity.done("web01")
    assert said == ["web01: install the packages and the app into the venv (2 s)",
                    "web01: still install the packages and the app into the venv (17 s)",
                    "web01: still install the packages and the app into the venv (41 s)"]
    beat.beat(start + 100)
    assert len(said) == 3  # a host that is done is not named again


@pytest.mark.parametrize(("seconds", "shown"), [(0.4, "0 s"), (41.9, "41 s"), (125, "2 min 5 s")])
def test_seconds_as_a_line_shows_them(seconds, shown):
    assert activity.seconds(seconds) == shown


def test_live_line_per_host_names_what_it_waits_for_at_80_columns():
    import io

    from rich.console import Console

    from provision.progress import FleetProgress
    from provision.report import StepPrinter

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=80)
    progress = FleetProgress(console, ["web01"], printer=StepPrinter(console))
    activity.doing("web01", "waiting for port 8080 (service tacdemo running) (re-probe 2)")
    try:
        table = progress._render().renderables[1]
    finally:
        activity.done("web01")
    row = [next(iter(column.cells)) for column in table.columns]
    assert row[0] == "web01" and row[1] == f"0/{len(STEPS)}"
    assert row[2] == "waiting for port 8080 (service tacdemo running) (re-probe 2) (0 s)"
    console.print(progress._render())
    assert all(len(line) <= 80 for line in out.getvalue().splitlines())
