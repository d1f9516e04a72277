"""scripts/drift-shards.sh, as docs/fleets.md tells people to run it: four `tacfleet drift
--shard i/4` runs joined by `tacfleet drift.merge`, over simulated hosts (real WinRM with NTLM
on 127.0.0.1, no Wine). Every host is checked by exactly one shard, the merged report holds the
whole fleet with each host's own status, and the script exits with the merged run's code."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.helpers import ROOT, fleet_and_inventory

SCRIPT = ROOT / "scripts" / "drift-shards.sh"
USER = "shardsfleet"  # one NTLM user per process: clear of the other fleet tests' users
HOSTS = 12


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_drifts_one_unreachable(data: dict[str, Any]) -> None:
    data["hosts"]["sim0002"]["service"] = {"start": "demand"}
    data["hosts"]["sim0005"]["connection"] = {"port": _closed_port(), "read_timeout": 4,
                                              "operation_timeout": 2}


def _report(reports: Path) -> dict[str, Any]:
    run = json.loads((reports / "latest.json").read_text())["run"]
    return dict(json.loads((reports / run / "drift.json").read_text()))


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    hosts = report["hosts"]
    return {name: entry["status"] for name, entry in hosts.items()}


def test_four_shards_merge_into_one_report_of_the_whole_fleet(tmp_path: Path) -> None:
    with fleet_and_inventory(tmp_path, HOSTS, user=USER,
                             change=_one_drifts_one_unreachable) as (_, inventory, _pw):
        out = tmp_path / "night"
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
               f"{os.environ.get('PATH', '')}"}
        proc = subprocess.run(["bash", str(SCRIPT), str(inventory), str(out)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # a host could not be checked
    assert [f"shard {i}/4: exit" in proc.stdout for i in range(1, 5)] == [True] * 4, proc.stdout

    shards = [_statuses(_report(out / f"shard-{i}")) for i in range(1, 5)]
    names = [name for shard in shards for name in shard]
    assert sorted(names) == sorted(f"sim{i:04d}" for i in range(1, HOSTS + 1))  # each once
    merged = _statuses(_report(out / "merged"))
    assert merged == {name: status for shard in shards for name, status in shard.items()}
    assert merged.pop("sim0002") == "drift"
    assert merged.pop("sim0005") == "unreachable"
    assert set(merged.values()) == {"compliant"}


def test_a_bad_shard_count_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(SCRIPT), "fleet.yml", str(tmp_path), "four"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["drift-shards: SHARDS must be a whole number ≥ 1"]
