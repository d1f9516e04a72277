"""`invoke plan` and `invoke drift` as a person reads them: in a terminal of 80 columns (a tmux
window) and piped (as in CI or `| tee`), against three simulated hosts (``sandbox.fleet``: real
WinRM over loopback, no Wine): sim0001 compliant, sim0002 drifting (start type and display
name), sim0003 refusing connections. Issue 35, items 5, 7, 8 and plan's flags.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import fleet_and_inventory
from tests.support.terminal import Shown, in_terminal, piped

ROOT = Path(__file__).resolve().parents[2]
USER = "termfleet"  # one NTLM user per process (the simulated fleet's)
SC = r'"C:\windows\System32\sc.exe" config tacdemo start= demand'
#: Titles of the steps the simulated hosts' entry does not configure.
NOT_CONFIGURED = ("the bundle's wheels in an offline host's wheelhouse",
                  "wheels shipped from this machine", "the release passed its health gate",
                  "old releases removed")


def drifted(data: dict[str, Any]) -> None:
    names = list(data["hosts"])
    data["hosts"][names[1]]["service"] = {"start": "demand", "display_name": "Tacdemo (old name)"}
    data["hosts"][names[2]]["connection"]["port"] = 1  # nothing listens there


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("terminal")
    with fleet_and_inventory(folder, 3, user=USER, change=drifted) as (_, path, _pw):
        yield path


def invoke(how: Any, *args: str) -> Shown:
    return how([sys.executable, "-m", "invoke", *args], cwd=str(ROOT), timeout=240)


def test_plan_piped_is_plain_whole_lines_with_the_diff_and_only_what_applies(inventory):
    shown = invoke(piped, "plan", "--inventory", str(inventory), "--diff")
    lines = shown.text.splitlines()
    assert shown.code == 1  # sim0003 could not be planned
    assert "…" not in shown.text and "\x1b[" not in shown.text  # nothing cut, no colours
    assert "sim0002  start type  would change" in lines  # one line: step, status
    assert f"    $ {SC}" in lines  # whole commands
    i = lines.index("    ~ start_type")
    assert lines[i + 1:i + 3] == ["      - found:    delayed-auto", "      + expected: demand"]
    j = lines.index("    ~ display_name")
    assert lines[j + 1:j + 3] == ["      - found:    Tacdemo Twisted service",
                                  "      + expected: Tacdemo (old name)"]
    assert not any(title in shown.text for title in NOT_CONFIGURED)
    # the counts add up to the steps shown
    steps = [line for line in lines if line.startswith("sim0002  ")]
    summary = next(line for line in lines if line.startswith("sim0002: ok="))
    counts = dict(re.findall(r"(ok|would change|failed)=(\d+)", summary))
    assert int(counts["ok"]) + int(counts["would change"]) == len(steps) == 14
    assert "(not configured: 4 step(s))" in summary
    assert not any(set(line) & set("┃│━") for line in lines)  # no table off a terminal


def test_plan_at_80_columns_fits_and_never_breaks_a_status(inventory):
    shown = invoke(in_terminal, "plan", "--inventory", str(inventory), "--host",
                   "sim0001,sim0002")
    lines = shown.text.splitlines()
    assert shown.code == 0
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in shown.text
    assert any(re.fullmatch(r"sim0002  start type +would change", line) for line in lines)
    assert "changed\n(" not in shown.text and "change\n(" not in shown.text
    assert f"    $ {SC}" in lines
    table = [line for line in lines if line.startswith("│ sim000")]
    assert len(table) == 2 and all(len(line) <= 80 for line in table)
    assert not any(title in shown.text for title in NOT_CONFIGURED)


def test_plan_detailed_exitcode_is_terraforms(inventory):
    def code(selection: str) -> int:
        return invoke(piped, "plan", "--inventory", str(inventory), "--host", selection,
                      "--detailed-exitcode").code

    assert code("sim0001") == 0  # nothing to do
    assert code("sim0001,sim0002") == 2  # changes pending
    assert code("sim0002,sim0003") == 1  # an error wins
    assert code("nosuchhost") == 1  # bad input is an error too (not "changes pending")


def test_plan_verbose_shows_whole_command_lines(inventory):
    short = invoke(piped, "plan", "--inventory", str(inventory), "--host", "sim0002")
    full = invoke(piped, "plan", "--inventory", str(inventory), "--host", "sim0002",
                  "--verbose")
    assert re.search(r"<[\d,]+ characters>", short.text)  # a plan shows the script's size
    assert not re.search(r"<[\d,]+ characters>", full.text)
    nssm = next(line for line in full.text.splitlines() if "DisplayName" in line and "$ " in line)
    assert len(nssm) > 2000 and nssm.endswith('DisplayName "Tacdemo (old name)"')


@pytest.mark.parametrize("how", [piped, in_terminal], ids=["piped", "80-columns"])
def test_drift_prints_expected_found_and_fix_of_each_failing_requirement(inventory, tmp_path,
                                                                         how):
    shown = invoke(how, "drift", "--inventory", str(inventory), "--reports",
                   str(tmp_path / "reports"))
    text = shown.text
    assert shown.code == 2  # drifting and unreachable hosts
    assert "sim0002 (127.0.0.1): drift (first run)" in text
    assert "  start_type: expected demand, found delayed-auto\n    fix: `sc config" in text
    assert ("start_type: expected demand, found delayed-auto fix: `sc config tacdemo start= "
            "demand` or `invoke provision --host sim0002 --inventory ") in " ".join(text.split())
    if how is piped:  # whole lines: the fix runs as printed, on this run's inventory
        assert f"--host sim0002 --inventory {inventory}`" in text
    assert ("  display_name: expected Tacdemo (old name), found Tacdemo Twisted service"
            in text)
    assert "sim0003 (127.0.0.1): unreachable (first run)" in text
    assert "newly unreachable" not in text  # a first run into an empty folder
    if how is piped:  # whole lines: the reports' paths are not wrapped
        assert re.search(r"^reports: \S+drift\.json, \S+drift\.html$", text, re.M)
    else:
        assert all(len(line) <= 80 for line in text.splitlines())
