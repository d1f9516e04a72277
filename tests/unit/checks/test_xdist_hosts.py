"""`pytest checks` at fleet scale, the parts without hosts: scheduling by host under xdist, the
one-line failures and the capped summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from checks.report import FleetReport, failure_line
from checks.xdist_hosts import HostScheduling, group_of, groups_in_order, worker_groups

HOSTS = {"web01", "web-02", "db01"}


def test_a_test_belongs_to_the_host_its_id_names():
    assert group_of("checks/test_python.py::test_base_python[web01]", HOSTS) == "web01"
    assert group_of("checks/test_x.py::test_y[web-02]", HOSTS) == "web-02"
    assert group_of("checks/test_x.py::test_y[web-02-extra-param]", HOSTS) == "web-02"
    assert group_of("checks/test_x.py::test_unrelated", HOSTS) == "checks/test_x.py::test_unrelated"
    assert group_of("checks/test_x.py::test_y[web03]", HOSTS) == "checks/test_x.py::test_y[web03]"


def test_worker_shares_cover_every_host_once():
    ids = [f"checks/t.py::test_{t}[{h}]" for h in ("web01", "web-02", "db01") for t in "abc"]
    assert groups_in_order(ids, HOSTS) == ["web01", "web-02", "db01"]
    shares = [worker_groups(ids, HOSTS, w, 2) for w in range(2)]
    assert shares == [["web01", "db01"], ["web-02"]]


@dataclass(eq=False)  # hashable by identity, as xdist's nodes are
class FakeNode:
    """What the scheduler uses of xdist's WorkerController."""

    id: str
    sent: list[list[int]] = field(default_factory=list)
    shutting_down: bool = False

    @property
    def gateway(self) -> SimpleNamespace:
        return SimpleNamespace(id=self.id)

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.append(list(indices))

    def shutdown(self) -> None:
        self.shutting_down = True


def _scheduler(nodes: list[FakeNode], ids: list[str], hosts: set[str]) -> HostScheduling:
    tx = [f"{len(nodes)}*popen"]
    config = SimpleNamespace(getvalue=lambda name: tx if name == "tx" else None)
    sched = HostScheduling(config, hosts)  # type: ignore[arg-type]
    for node in nodes:
        sched.add_node(node)
    for node in reversed(nodes):  # collections arrive in any order
        sched.add_node_collection(node, ids)
    return sched


def test_scheduler_sends_each_worker_all_its_hosts_at_once():
    hosts = {f"h{i:02d}" for i in range(5)}
    ids = [f"checks/t.py::test_{t}[h{i:02d}]" for i in range(5) for t in range(3)]
    ids.append("checks/t.py::test_plain")
    nodes = [FakeNode("gw1"), FakeNode("gw0")]
    sched = _scheduler(nodes, ids, hosts)
    assert sched.collection_is_completed
    sched.schedule()
    gw1, gw0 = nodes
    assert len(gw0.sent) == len(gw1.sent) == 1  # one message each, the whole share
    assert gw0.shutting_down and gw1.shutting_down
    got = {n.id: {ids[i].split("[")[-1].rstrip("]") for i in n.sent[0]} for n in nodes}
    assert got["gw0"] == {"h00", "h02", "h04"}
    assert got["gw1"] == {"h01", "h03", "checks/t.py::test_plain"}
    assert sorted(gw0.sent[0] + gw1.sent[0]) == list(range(len(ids)))
    assert not sched.tests_finished and sched.has_pending
    for node in nodes:
        for index in node.sent[0]:
            sched.mark_test_complete(node, index)
    assert sched.tests_finished and not sched.has_pending
    assert sched.remove_node(gw0) is None


def test_a_dead_workers_hosts_go_to_the_worker_started_in_its_place():
    hosts = {"a", "b"}
    ids = [f"t.py::test_{t}[{h}]" for h in ("a", "b") for t in range(3)]
    gw0, gw1 = FakeNode("gw0"), FakeNode("gw1")
    sched = _scheduler([gw0, gw1], ids, hosts)
    sched.schedule()
    sched.mark_test_complete(gw0, gw0.sent[0][0])
    crashed = sched.remove_node(gw0)
    assert crashed == ids[1]
    assert sched.has_pending and not sched.tests_finished
    gw2 = FakeNode("gw2")
    sched.add_node(gw2)
    sched.add_node_collection(gw2, ids)
    sched.schedule()
    assert gw2.sent == [[1, 2]]  # host a's unfinished tests, together
    sched.mark_test_complete(gw2, 1)
    assert gw2.shutting_down  # nothing more queued


def test_failure_line_names_host_requirement_expected_found_fix():
    message = "web01: expected delayed-auto, found demand — fix: run provision"
    assert failure_line("web01", "start_type", message) == (
        "web01 start_type: expected delayed-auto, found demand — fix: run provision")


def test_summary_of_a_large_fleet_is_capped_and_counts_everything():
    report = FleetReport()
    for i in range(1000):
        host = f"sim{i:04d}"
        report.add(host, "base_python", False)
        if i % 10 == 0:
            assert report.add(host, "start_type", True, f"{host}: expected a, found b") == \
                f"{host} start_type: expected a, found b"
        if i % 100 == 0:
            report.add(host, "description", True, f"{host}: expected c, found d")
        if i == 999:
            report.add(host, "reachable", True, f"{host}: could not be checked: refused")
    report.probes.append({"hosts": 1000, "seconds": 15.0, "http_requests": 6000,
                          "commands": 1000, "unreachable": 1})
    lines = report.summary()
    assert lines[0] == "1000 hosts: 899 compliant, 100 failing, 1 unreachable"
    assert lines[1] == ("probed 1000 hosts once each in 15.0 s: 6 HTTP requests and 1 "
                        "command per host")
    by_requirement = lines[lines.index("failing requirements (hosts failing it):") + 1:][:2]
    assert by_requirement[0].split() == ["start_type", "100", "sim0000,", "sim0010,", "sim0020,",
                                         "sim0030,", "sim0040,", "+95", "more"]
    assert by_requirement[1].split()[:3] == ["description", "10", "sim0000,"]
    assert "hosts with failures (100, most first):" in lines
    first = lines[lines.index("hosts with failures (100, most first):") + 1]
    assert first.split() == ["sim0000", "2", "start_type,", "description"]
    assert "  +90 more hosts with failures (-v lists them all)" in lines
    assert lines[-1] == "unreachable (1): sim0999"
    assert len(lines) < 25
    verbose = report.summary(verbose=True)
    assert len(verbose) > 100 and not any("more" in line for line in verbose)


def test_a_clean_fleet_is_one_line():
    report = FleetReport()
    for i in range(3):
        report.add(f"h{i}", "start_type", False)
    assert report.summary() == ["3 hosts: 3 compliant, 0 failing, 0 unreachable"]


def test_counts_read_as_english():
    from checks.report import FleetReport
    from checks.report import counted as count

    assert [count(1, "host"), count(2, "host"), count(6.5, "HTTP request"),
            count(1.0, "command")] == ["1 host", "2 hosts", "6.5 HTTP requests", "1 command"]
    report = FleetReport()
    report.add("web01", "start_type", False)
    report.probes.append({"hosts": 1, "seconds": 0.4, "http_requests": 7, "commands": 1,
                          "unreachable": 0})
    assert report.summary() == ["1 host: 1 compliant, 0 failing, 0 unreachable",
                                "probed 1 host once each in 0.4 s: 7 HTTP requests and 1 "
                                "command per host"]
