"""Fixtures and run shape of the compliance suite.

Tests are parametrized over the selected hosts (``target``). Before the first test, every host
that has a test to run is probed once, ``--parallel`` at a time (:mod:`checks.session`); the
tests then judge cached facts: ``finding`` (of the requirement a test is named for:
``test_<id>``), ``judged`` (requirement -> finding, judged once), ``facts``, ``entry`` (the
host's inventory entry). A host that cannot be reached fails one test, ``test_host_reachable``,
with the cause; its other tests are skipped naming that cause. Tests marked ``second_opinion``
send their own command (``host``: a testinfra Host) and run only with ``--second-opinion``.

Under pytest-xdist (``-n N``) a host's tests stay in one worker and each worker probes only its
own hosts (:mod:`checks.xdist_hosts`). Output: one line per failed requirement (host,
expected, found, fix) and a summary per requirement and per host (:mod:`checks.report`);
``-v`` gives pytest's usual lines and uncapped lists. Each test case carries its host and
requirement as JUnit properties. ``--per-host``: one test per host instead, judging every
requirement ``-k``/``-m`` select (:mod:`checks.per_host`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import pytest

from checks import fastpath, per_host
from checks.fastpath import requirement_of
from checks.report import REACHABLE, FleetReport, one_line, properties
from checks.session import FleetSession
from checks.xdist_hosts import WORKER_FLAG, HostScheduling, worker_groups, worker_number
from compliance.finding import Finding
from compliance.requirements import REQUIREMENTS
from fleet.interrupt import graceful_interrupt, stop_requested
from inventory.errors import InventoryError, format_problems
from inventory.models import Host
from inventory.secrets import redact
from winhost.probe import HostFacts

SESSION = pytest.StashKey[FleetSession]()
REPORT = pytest.StashKey[FleetReport]()
SECOND_OPINION = "second_opinion"
#: Why tests were deselected by tacfleet itself, for the summary (pytest says only how many).
DESELECTED = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Load the inventory and select hosts as the invoke tasks do; a problem is a usage error.

    A bad or missing inventory, an unknown host or a selection of no host ends the run with the
    tasks' one-line message and exit 4 (pytest's usage error), never INTERNALERROR. Tracebacks
    never show local variables (a frame may hold the environment or a password); without
    ``-v`` there are none (each failure is one line), with ``-v`` they default to short.
    """
    config.addinivalue_line(
        "markers", f"{SECOND_OPINION}: sends its own command to the host (--second-opinion)")
    config.option.showlocals = False
    if getattr(config.option, "tbstyle", "auto") == "auto" and _compact(config):
        config.option.tbstyle = "no"
    elif getattr(config.option, "tbstyle", "auto") in ("auto", "long"):
        config.option.tbstyle = "short"
    if _compact(config):  # our lines replace pytest's short summary of failures and skips
        config.option.reportchars = "w"
    worker = getattr(config, "workerinput", None)
    try:
        config.stash[SESSION] = FleetSession.from_options(
            testinfra_options(config),
            config.getoption("tacfleet_host"),
            config.getoption("hosts", None),
            deadline=config.getoption("tacfleet_deadline", None),
            parallel=(worker or {}).get("tacfleet_parallel")
            or config.getoption("tacfleet_parallel", None),
        )
    except InventoryError as exc:
        if os.environ.get("TACFLEET_DEBUG", "") not in ("", "0"):
            raise
        text = format_problems(exc.problems) if len(exc.problems) > 1 else str(exc)
        raise pytest.UsageError(text) from None
    config.stash[REPORT] = FleetReport()
    if per_host.enabled(config):
        config.pluginmanager.register(per_host.Plugin(), "tacfleet-per-host")
    if worker is None:  # workers report to the controller, which prints
        config.pluginmanager.register(_Reporter(config), "tacfleet-reporter")


#: testinfra's options that tacfleet's checks cannot honour: they connect as the inventory says.
TESTINFRA_REFUSED = {
    "connection": "--connection", "ssh_config": "--ssh-config",
    "ssh_extra_args": "--ssh-extra-args", "ssh_identity_file": "--ssh-identity-file",
    "sudo": "--sudo", "sudo_user": "--sudo-user", "force_ansible": "--force-ansible",
    "nagios": "--nagios",
}


def testinfra_options(config: pytest.Config) -> str | None:
    """The inventory to read, with testinfra's options honoured or refused in one line each:
    ``--ansible-inventory FILE`` is the inventory (tacfleet reads Ansible inventories), ``--hosts``
    selects as ``--host`` does (:meth:`FleetSession.from_options`); an option tacfleet cannot
    honour, or two that say the same thing differently, is a usage error (exit 4)."""
    for dest, flag in TESTINFRA_REFUSED.items():
        if config.getoption(dest, None):
            raise pytest.UsageError(
                f"{flag}: testinfra's option is not used by tacfleet's checks, which connect "
                "to each host as its inventory entry says (connection.*); fix: remove "
                f"{flag}, and give --inventory FILE --host NAME")
    inventory = config.getoption("tacfleet_inventory")
    ansible = config.getoption("ansible_inventory", None)
    if ansible and inventory and ansible != inventory:
        raise pytest.UsageError(
            f"--inventory {inventory} and --ansible-inventory {ansible} name two inventories; "
            "fix: give one (tacfleet reads either format)")
    if config.getoption("tacfleet_host") and config.getoption("hosts", None):
        raise pytest.UsageError(
            f"--host {config.getoption('tacfleet_host')} and --hosts "
            f"{config.getoption('hosts')} both select hosts; fix: give one")
    return str(inventory or ansible) if inventory or ansible else None


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None:
        session.close()


def _compact(config: pytest.Config) -> bool:
    return config.get_verbosity() <= 0


def _is_controller(config: pytest.Config) -> bool:
    """The xdist controller: it runs no test (its workers do)."""
    return config.pluginmanager.has_plugin("dsession")


#: Hosts from which the run's header suggests ``--per-host``.
PER_HOST_HINT = 100


def pytest_report_header(config: pytest.Config) -> str | None:
    if per_host.enabled(config):
        return "tacfleet: one test per host (--per-host), judging the requirements -k/-m select"
    hosts = len(config.stash[SESSION].hosts) if SESSION in config.stash else 0
    if hosts >= PER_HOST_HINT:
        return (f"tacfleet: {hosts} hosts, one test per requirement each; --per-host makes it "
                "one test per host (about half the time at 1,000 hosts)")
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: object) -> list[Any] | None:
    """``--per-host``: ``test_host`` replaces the per-requirement tests (and
    ``test_host_reachable``); without it, ``test_host`` is not collected."""
    if not callable(obj) or not name.startswith("test_"):
        return None
    config = collector.config
    if per_host.enabled(config):
        check = name == "test_host_reachable" or requirement_of(name) in REQUIREMENTS
        return [] if check else None
    return [] if name == per_host.FUNCTION and collector.name == "test_host.py" else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.function.__name__ == per_host.FUNCTION and per_host.enabled(metafunc.config):
        names = metafunc.config.stash[SESSION].host_names
        selection = per_host.Selection(metafunc.config)
        metafunc.parametrize(("target", per_host.PARAM), [(n, selection(n)) for n in names],
                             ids=names)
    elif "target" in metafunc.fixturenames:
        fleet = metafunc.config.stash[SESSION]
        names = fleet.host_names
        req = REQUIREMENTS.get(requirement_of(metafunc.function.__name__))
        if req is not None and req.scope == "service":  # per service: test_x[web01/api]
            names = fleet.unit_targets
        metafunc.parametrize("target", names, ids=names, scope="session")


@pytest.fixture(scope="session")
def fleet(request: pytest.FixtureRequest) -> FleetSession:
    return request.config.stash[SESSION]


@pytest.fixture(scope="session")
def entry(fleet: FleetSession, target: str) -> Host:
    """The host's inventory entry: what should be true on it."""
    return fleet.entry(target)


@pytest.fixture(scope="session")
def facts(fleet: FleetSession, target: str) -> HostFacts:
    facts, error = fleet.facts(target)
    if facts is None:
        pytest.skip(f"{target} not checked: {error} (see test_host_reachable)")
    return facts


@pytest.fixture(scope="session")
def judged(fleet: FleetSession, target: str, facts: HostFacts) -> dict[str, Finding]:
    """Requirement -> this host's finding, judged once from the cached facts."""
    return fleet.findings(target)


@pytest.fixture
def finding(request: pytest.FixtureRequest, judged: dict[str, Finding]) -> Finding:
    """This host's finding for the requirement the test is named for (its id written once)."""
    return judged[requirement_of(request.function.__name__)]


@pytest.fixture(scope="session")
def host(fleet: FleetSession, target: str, facts: HostFacts) -> Iterator[object]:
    """A testinfra Host over a connection of its own, closed after the host's last test."""
    yield fleet.testinfra_host(target)
    fleet.close(target)


def require(finding: Finding) -> None:
    """Fail with "HOST: expected X, found Y — fix: …" (no traceback), or skip a moot check."""
    if finding.skipped:
        pytest.skip(f"{finding.host}: {finding.found}")
    if not finding.ok:
        pytest.fail(redact(finding.message), pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Host and requirement on each test (JUnit properties, the summary); which tests take the
    fast path; ``second_opinion`` tests deselected unless asked for."""
    keep, dropped = [], []
    second_opinion = config.getoption("tacfleet_second_opinion", False)
    fast = fastpath.enabled(config)
    answers: dict[Any, Any] = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        host = callspec.params.get("target") if callspec is not None else None
        if host is None:
            keep.append(item)
            continue
        if item.get_closest_marker(SECOND_OPINION) and not second_opinion:
            dropped.append(item)
            continue
        name = requirement_of(getattr(item, "originalname", item.name))
        requirement = {"host_reachable": REACHABLE, "host": per_host.ALL}.get(name, name)
        host, _, service = str(host).partition("/")
        item.user_properties += [("host", host), ("requirement", requirement)]
        if service:
            item.user_properties.append(("service", service))
        item.stash[fastpath.FAST] = fast and fastpath.eligible(item, answers)
        keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        names = sorted({getattr(i, "originalname", i.name) for i in dropped})
        config.stash[DESELECTED] = (
            f"{len(dropped)} deselected: {', '.join(names)} (sends its own command to each "
            "host: a second shell and command per host) because --second-opinion was not given")
        if hasattr(config, "workeroutput"):  # under xdist the controller prints the summary
            config.workeroutput["tacfleet_deselected"] = config.stash[DESELECTED]


# -- probing: once per host, before the first test ---------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Probe every host this process will check, concurrently, before its first test."""
    config = session.config
    if config.option.collectonly or _is_controller(config) or not session.items:
        return
    fleet = config.stash[SESSION]
    hosts = set(fleet.host_names)
    worker = getattr(config, "workerinput", None)
    if worker is None:
        names = [h for h in _hosts_of(session.items) if h in hosts]
    elif worker.get(WORKER_FLAG):  # the share HostScheduling sends this worker
        groups = worker_groups([i.nodeid for i in session.items], hosts,
                               worker_number(worker["workerid"]), worker["workercount"])
        names = [g for g in groups if g in hosts]
    else:  # another --dist mode: hosts arrive one by one, each probed when first needed
        return
    with graceful_interrupt():  # a first Ctrl-C starts no new host, a second ends at once
        fleet.probe(names)
    if stop_requested():
        raise KeyboardInterrupt


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A check that only judges cached facts skips pytest's per-test machinery
    (:mod:`checks.fastpath`); anything else runs as usual."""
    if not item.stash.get(fastpath.FAST, False):
        return None
    host = item.callspec.params["target"]  # type: ignore[attr-defined]
    return True if fastpath.run(item, item.config.stash[SESSION], host) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A per-host test names each failed requirement (``failed`` properties: on the item, so
    that the call's report and the teardown's, which JUnit reads, carry them)."""
    if call.when == "call" and getattr(item, "originalname", "") == per_host.FUNCTION:
        item.user_properties += per_host.failed_properties(call)
    return (yield)


def _hosts_of(items: list[pytest.Item]) -> list[str]:
    return list(dict.fromkeys(str(h) for i in items for k, h in i.user_properties
                              if k == "host"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    fleet = config.stash.get(SESSION, None)
    if fleet is None:
        return
    fleet.close()
    stats = fleet.probe_stats()
    if hasattr(config, "workeroutput"):
        config.workeroutput["tacfleet_probe"] = stats
    elif stats["hosts"]:
        config.stash[REPORT].probes.append(stats)


# -- xdist: schedule by host -------------------------------------------------------------------
@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> HostScheduling | None:
    if config.getoption("dist") in ("load", "loadgroup"):
        return HostScheduling(config, config.stash[SESSION].host_names, log)
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    config = node.config
    if config.getoption("dist") in ("load", "loadgroup"):
        workers = max(1, len(node.nodemanager.specs))
        parallel = config.stash[SESSION].parallel
        node.workerinput[WORKER_FLAG] = True
        node.workerinput["tacfleet_parallel"] = max(1, math.ceil(parallel / workers))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    output = getattr(node, "workeroutput", {})
    probe = output.get("tacfleet_probe")
    if probe and probe.get("hosts"):
        node.config.stash[REPORT].probes.append(probe)
    if output.get("tacfleet_deselected"):  # every worker collects (and deselects) the same
        node.config.stash[DESELECTED] = output["tacfleet_deselected"]


# -- output ------------------------------------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and _compact(session.config):
        reporter.showfspath = False  # no file headers between hosts: the lines say the host


#: pytest's progress letters, kept for the checks; a failure's own line follows the run.
LETTERS = {"passed": ".", "failed": "F", "skipped": "s"}


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """Without -v a check shows pytest's progress letter (``.``, ``s``, ``F``, ``E``) and its
    own line if it fails."""
    if not _compact(config) or "host" not in properties(report) or hasattr(report, "wasxfail"):
        return None
    if report.when == "call":
        return report.outcome, LETTERS[report.outcome], report.outcome.upper()
    if report.skipped:
        return "skipped", "s", "SKIPPED"
    if report.failed:
        return "error", "E", "ERROR"
    return None


def junit_hostname(config: pytest.Config, report: pytest.TestReport, host: str) -> None:
    """The JUnit ``hostname`` attribute on this test's case, as ``record_xml_attribute`` adds it
    (a hook, since fast-path checks run no fixture). pytest keeps custom testcase attributes
    only with ``junit_family`` xunit1 or legacy; under xunit2 (its default, the strict schema,
    where ``hostname`` belongs to the testsuite only) the ``host`` property carries the host."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is not None and xml.family in ("xunit1", "legacy"):
        xml.node_reporter(report).add_attribute("hostname", host)


def _own_line(reporter: Any) -> None:
    """Start a failure's line on a line of its own, after the progress letters so far (with no
    file header, pytest would write it on after them): ``-2`` is pytest's own mark for "the
    current line holds output", which ``write_line`` ends first."""
    if reporter.currentfspath is None:
        reporter.currentfspath = -2


class _Reporter:
    """Feeds the reports this process shows (the xdist controller's: all of them) into the
    FleetReport, and prints each failure's line as it comes."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = properties(report)
        host = props.get("host")
        if host is not None and report.when == "setup":
            junit_hostname(self.config, report, str(host))
        if host is None:  # a test of the user's own: its failure in one line too
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if report.failed and reporter is not None and _compact(self.config):
                _own_line(reporter)
                reporter.write_line(redact(f"{report.nodeid}: {one_line(report)}"), red=True)
            return
        if report.when != "call" and not report.failed:
            return
        requirement = props.get("requirement", "?")
        if requirement == per_host.ALL:  # one line per failed requirement of the host
            failures = per_host.report_lines(report, host) if report.failed else []
            self.config.stash[REPORT].add(host, requirement, False)
            for requirement, message in failures:
                self._add(host, requirement, message)
            return
        if props.get("service"):  # a host is counted once; its services' checks by name
            requirement = f"{requirement} · {props['service']}"
        if report.failed:
            self._add(host, requirement, one_line(report))
        else:
            self.config.stash[REPORT].add(host, requirement, False)

    def _add(self, host: str, requirement: str, message: str) -> None:
        line = self.config.stash[REPORT].add(host, requirement, True, message)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if line and reporter is not None and _compact(self.config):
            _own_line(reporter)
            reporter.write_line(redact(line), red=True)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        fleet = self.config.stash[REPORT]
        deselected = self.config.stash.get(DESELECTED, "")
        if not fleet.hosts and not deselected:
            return
        terminalreporter.section("tacfleet summary", sep="-")
        for line in fleet.summary(verbose=not _compact(self.config)) if fleet.hosts else []:
            terminalreporter.write_line(line)
        if deselected:
            terminalreporter.write_line(deselected)

