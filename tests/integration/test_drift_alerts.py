"""`invoke drift --notify URL --metrics FILE` over simulated hosts (real WinRM over loopback).

Three hosts from the simulated fleet (no Wine): sim0002's inventory asks for another start type
and display name than the recorded host has, so it drifts; sim0003 is made to fail every
request later. The alerts go to a real ``http.server`` on 127.0.0.1 in this test; the metrics
file is read back with prometheus-client's own parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import tacfleet_cli as cli
from sandbox.fleet.inventory import load_fleet
from sandbox.fleet.serve import SimulatedFleet
from tests.integration.helpers import fleet_and_inventory
from tests.support.loopback import http_server, serving

USER = "alertfleet"  # one NTLM user per process: keep clear of the other fleet tests
TOKEN = "T0H5SECRET/B0H5SECRET/h5WebhookTokenXYZ"


@dataclass
class Receiver:
    """A webhook receiver: records every POST, answers with ``status``."""

    server: ThreadingHTTPServer
    posts: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            holder[0].posts.append({"path": self.path, "type": self.headers["Content-Type"],
                                    "body": json.loads(body)})
            self.send_response(holder[0].status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http_server(Handler)
    holder.append(Receiver(server))
    with serving(server):
        yield holder[0]


@dataclass
class Fleet:
    sim: SimulatedFleet
    inventory: Path


def _another_service_on_sim0002(data: dict[str, Any]) -> None:
    data["hosts"]["sim0002"]["service"] = {"start": "demand", "display_name": "Another name"}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    with fleet_and_inventory(tmp_path, 3, user=USER,
                             change=_another_service_on_sim0002) as (sim, inventory, _):
        load_fleet(inventory)  # the same probe line for every host: the transcript answers it
        yield Fleet(sim, inventory)


def metrics_of(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def requirement(host: str, name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("tacfleet_requirement_compliant", (("host", host), ("requirement", name)))


def host_metric(name: str, host: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, (("host", host),))


def test_drift_notifies_on_change_only_and_writes_metrics(fleet: Fleet, receiver: Receiver,
                                                          tmp_path: Path, capsys) -> None:
    reports, prom = tmp_path / "reports", tmp_path / "textfile" / "tacfleet.prom"
    inventory = str(fleet.inventory)

    def run() -> int:
        return cli.drift(inventory, None, reports=str(reports), parallel=3,
                         notify=[receiver.url + "/hook"], metrics=str(prom))

    assert run() == 1
    assert len(receiver.posts) == 1
    post = receiver.posts[0]
    assert post["path"] == "/hook" and post["type"] == "application/json"
    body = post["body"]
    assert body["source"] == "tacfleet" and body["summary"] == {
        "compliant": 2, "drift": 1, "unreachable": 0}
    new = {(n["host"], n["requirement"]): n for n in body["new_drift"]}
    assert set(new) == {("sim0002", "start_type"), ("sim0002", "display_name")}
    assert new[("sim0002", "start_type")]["expected"] == "demand"
    assert new[("sim0002", "start_type")]["found"] == "delayed-auto"
    assert new[("sim0002", "display_name")]["found"] == "Tacdemo Twisted service"  # no quotes
    assert new[("sim0002", "start_type")]["fix"]
    assert body["unreachable"] == [] and body["fixed"] == []
    assert body["report"].endswith("drift.html") and Path(body["report"]).exists()

    samples = metrics_of(prom)
    assert samples[requirement("sim0002", "start_type")] == 0
    assert samples[requirement("sim0002", "display_name")] == 0
    assert samples[requirement("sim0002", "service_running")] == 1
    assert samples[requirement("sim0001", "start_type")] == 1
    assert samples[host_metric("tacfleet_host_reachable", "sim0003")] == 1
    assert samples[host_metric("tacfleet_host_compliant", "sim0002")] == 0
    assert samples[host_metric("tacfleet_host_drifting_requirements", "sim0002")] == 2
    assert samples[("tacfleet_drift_hosts", (("status", "drift"),))] == 1
    assert samples[("tacfleet_drift_remediations", ())] == 0
    assert samples[("tacfleet_drift_duration_seconds", ())] > 0
    first_run = samples[("tacfleet_drift_last_run_timestamp_seconds", ())]
    assert first_run > 1.7e9
    assert not [p for p in prom.parent.iterdir() if p.name != prom.name]  # no temp file left

    # the same drift again: nothing new to tell
    assert run() == 1
    assert len(receiver.posts) == 1
    assert "nothing changed" in capsys.readouterr().out

    # sim0003 stops answering: one alert naming it, in one plain line
    fleet.sim.set_faults(2, http_500=10_000)
    assert run() == 2
    assert len(receiver.posts) == 2
    body = receiver.posts[1]["body"]
    assert body["new_drift"] == [] and body["fixed"] == []
    assert [u["host"] for u in body["unreachable"]] == ["sim0003"]
    assert "\n" not in body["unreachable"][0]["cause"]
    assert "HTTPConnectionPool" not in body["unreachable"][0]["cause"]
    samples = metrics_of(prom)
    assert samples[host_metric("tacfleet_host_reachable", "sim0003")] == 0
    assert requirement("sim0003", "start_type") not in samples  # not checked: no verdict
    assert samples[("tacfleet_drift_last_run_timestamp_seconds", ())] >= first_run

    # back again: "reachable again" is news too
    fleet.sim.set_faults(2, http_500=0)
    assert run() == 1
    assert receiver.posts[2]["body"]["reachable_again"] == ["sim0003"]
    assert len(receiver.posts) == 3


def test_a_failed_delivery_is_one_line_never_stops_the_run_and_never_shows_the_token(
        fleet: Fleet, receiver: Receiver, tmp_path: Path, capsys, monkeypatch) -> None:
    reports = tmp_path / "reports"
    monkeypatch.setenv("H5_SLACK_URL", f"{receiver.url}/services/{TOKEN}")
    receiver.status = 404  # Slack's answer to a revoked webhook
    args: dict[str, Any] = dict(reports=str(reports), parallel=3, notify=["env:H5_SLACK_URL"],
                notify_format="slack")

    assert cli.drift(str(fleet.inventory), None, **args) == 1  # the drift's exit code
    out = capsys.readouterr()
    assert len(receiver.posts) == 1
    assert receiver.posts[0]["path"] == f"/services/{TOKEN}"
    slack = receiver.posts[0]["body"]
    assert set(slack) == {"text"} and "sim0002: start_type" in slack["text"]
    assert "not delivered: HTTP 404" in out.err and "env:H5_SLACK_URL" in out.err
    assert "reports:" in out.out  # the run went on and wrote its reports

    receiver.status = 200  # next run: the change that was not delivered is sent again
    assert cli.drift(str(fleet.inventory), None, **args) == 1
    out2 = capsys.readouterr()
    assert len(receiver.posts) == 2 and "sim0002: start_type" in receiver.posts[1]["body"]["text"]
    assert "sent" in out2.out

    receiver.server.shutdown()  # nobody listening: refused, in one line, the run goes on
    receiver.server.server_close()
    fleet.sim.set_faults(0, http_500=10_000)
    assert cli.drift(str(fleet.inventory), None, **args) == 2
    out3 = capsys.readouterr()
    assert "not delivered: connection refused" in out3.err

    shown = out.out + out.err + out2.out + out2.err + out3.out + out3.err
    written = "".join(p.read_text() for p in reports.rglob("*") if p.is_file())
    for secret in (TOKEN, "h5WebhookTokenXYZ", "/services/"):
        assert secret not in shown and secret not in written
    assert "Traceback" not in shown


def test_a_bad_notify_target_is_refused_before_any_host_is_checked(fleet: Fleet, tmp_path: Path,
                                                                    capsys) -> None:
    reports = tmp_path / "reports"
    code = cli.drift(str(fleet.inventory), None, reports=str(reports),
                     notify=["env:H5_NOT_SET_ANYWHERE"])
    assert code == 2
    err = capsys.readouterr().err
    assert "H5_NOT_SET_ANYWHERE is not set" in err and "fix:" in err
    assert not reports.exists()
    assert sum(s["http_requests"] for s in fleet.sim.stats()["hosts"]) == 0
