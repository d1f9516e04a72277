"""Shards for CI matrices, rolling batches that stop early, and merged shard reports."""

from __future__ import annotations

import socket
import time

import pytest

from compliance.drift import DriftReport, merge_reports
from fleet.select import RolloutError, batches, parse_shard, shard
from inventory import load_inventory
from provision.fleet import provision_rollout


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    """Twelve hosts whose WinRM port refuses connections: every provision of them fails fast."""
    monkeypatch.setenv("FLEET_PASSWORD", "not-used")
    port = closed_port()
    hosts = "".join(
        f"  h{i:02d}: {{connection: {{address: 127.0.0.1, port: {port}}}}}\n" for i in range(12))
    path = tmp_path / "fleet.yml"
    path.write_text(
        "all:\n  vars:\n"
        "    connection: {https: false, user: deploy, password_env: FLEET_PASSWORD}\n"
        "    app: {name: demo, tac_file: C:\\Apps\\demo\\my_tacfile.tac}\n"
        "    service: {name: demo}\n"
        "hosts:\n" + hosts)
    return list(load_inventory(path, check_files=False).hosts)


def test_shards_partition_the_fleet_the_same_way_every_time(fleet):
    parts = [shard(fleet, f"{i}/3") for i in (1, 2, 3)]
    names = sorted(h.name for part in parts for h in part)
    assert names == sorted(h.name for h in fleet)  # each host in exactly one shard
    assert [h.name for h in shard(list(reversed(fleet)), "2/3")] == \
        [h.name for h in reversed(parts[1])]  # membership depends on the name only
    assert all(parts), "12 hosts over 3 shards: none empty with this hash"


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1-3", "", "a/b"])
def test_bad_shard_is_a_clear_error(spec):
    with pytest.raises(RolloutError, match="write i/n"):
        parse_shard(spec)


def test_batches_by_share_or_count(fleet):
    assert [len(b) for b in batches(fleet, "25%")] == [3, 3, 3, 3]
    assert [len(b) for b in batches(fleet, "5")] == [5, 5, 2]
    assert [len(b) for b in batches(fleet, "1%")] == [1] * 12
    with pytest.raises(RolloutError, match=r"count .* or a percentage"):
        batches(fleet, "ten")


def test_rollout_stops_after_a_batch_fails_beyond_max_fail(fleet):
    runs = provision_rollout(fleet, batch="4", max_fail="1", parallel=4)
    assert len(runs) == 12 and all(r.failed for r in runs)
    tried = [r for r in runs if "not run: batch" not in r.error]
    assert [r.host for r in tried] == [h.name for h in fleet[:4]]
    assert "more than --max-fail 1" in runs[-1].error


def test_rollout_goes_on_when_failures_are_allowed(fleet):
    runs = provision_rollout(fleet[:6], batch="50%", max_fail="100%", parallel=3)
    assert all("not run: batch" not in r.error for r in runs) and len(runs) == 6


def report(started: str, hosts: dict[str, str], shard_name: str) -> DriftReport:
    return DriftReport.model_validate(
        {"format": 1, "started": started, "duration": 1.5, "inventory": "fleet.yml",
         "shard": shard_name,
         "summary": {}, "hosts": {h: {"status": s, "findings": []} for h, s in hosts.items()}})


def test_merged_report_counts_every_shard():
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ")
    merged = merge_reports([report(now, {"a": "compliant", "b": "drift"}, "1/2"),
                            report(now, {"c": "compliant"}, "2/2")])
    assert merged.summary.model_dump() == {"compliant": 2, "drift": 1, "unreachable": 0}
    assert list(merged.hosts) == ["a", "b", "c"] and merged.merged_from == ["1/2", "2/2"]
    assert merged.exit_code() == 1


def test_live_progress_counts_hosts_and_prints_failures_in_full():
    import io

    from rich.console import Console

    from provision.model import Status, StepResult
    from provision.progress import FleetProgress
    from provision.steps import STEPS

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=120)
    with FleetProgress(console, ["a", "b", "c"]) as progress:
        progress("a", StepResult(STEPS[0].name, STEPS[0].title, Status.OK))
        progress("a", StepResult(STEPS[-1].name, STEPS[-1].title, Status.CHANGED))
        progress("b", StepResult("venv", "virtualenv at its path", Status.FAILED,
                                 commands=["python.exe -m virtualenv C:\\x"], message="boom"))
        progress("c", StepResult(STEPS[0].name, STEPS[0].title, Status.OK))
        table = progress._render().renderables[1]
        row = [next(iter(column.cells)) for column in table.columns]
        assert row[:3] == ["c", f"1/{len(STEPS)}", STEPS[1].title]
        assert row[3].startswith("0:0")
    text = out.getvalue()
    assert "hosts 2/3 done, 1 changed, 1 failed" in text
    assert "boom" in text and "virtualenv C:\\x" in text


def test_check_progress_counts_each_status():
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from fleet.progress import CheckProgress

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=120)
    with CheckProgress(console, 3) as progress:
        for status in ("compliant", "drift", "compliant"):
            progress(SimpleNamespace(status=status))
        assert progress._describe() == "2 compliant, 1 drifting, 0 unreachable"
    assert "3/3" in out.getvalue()
