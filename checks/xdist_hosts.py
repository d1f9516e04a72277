"""Under pytest-xdist: a host's tests stay in one worker, and every worker knows its hosts up front.

xdist's own ``loadgroup`` scheduler keeps a group together but hands groups out one or two at a
time as workers drain, so a worker would learn (and probe) its hosts one by one; it also finds
each test's index by a linear search of the collection, and asks after every event how many
tests are pending by walking them all (quadratic at 25,000 tests). And with pytest 9 its
``@group`` suffix no longer reaches the test ids (xdist 3.8 sets ``item._nodeid``, which pytest 9
no longer reads), so it does not group at all.

:class:`HostScheduling` groups by the host in each test's id (its ``[host]`` or ``[host-…]``
parameter: the ``target`` parameter comes first) and sends each worker its whole share at once:
group ``k`` (in order of first appearance in the collection) goes to worker ``k % n`` (workers
ordered by their ``gwN`` number). A worker computes the same share from its
own collection with :func:`worker_groups`, probes those hosts concurrently before its first
test, and closes its shells at the end. Pending tests are counted, not searched. If a worker
dies, its unfinished groups go to the workers that are started in its place, one at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import pytest

#: Set by the controller in each worker's ``workerinput`` when it schedules by host.
WORKER_FLAG = "tacfleet_by_host"


def group_of(nodeid: str, hosts: Collection[str]) -> str:
    """The work unit of a test: the host its id names (``test_x[web-01]``,
    ``test_x[web-01-other]``), else the test itself."""
    if not nodeid.endswith("]"):
        return nodeid
    start = nodeid.find("[", nodeid.rfind("::") + 2)
    if start < 0:
        return nodeid
    params = nodeid[start + 1 : -1]
    if params in hosts:
        return params
    if params.split("/", 1)[0] in hosts:  # one service of a host: test_x[web-01/api]
        return params.split("/", 1)[0]
    parts = params.split("-")
    for end in range(len(parts) - 1, 0, -1):
        candidate = "-".join(parts[:end])
        if candidate in hosts:
            return candidate
    return nodeid


def groups_in_order(nodeids: Iterable[str], hosts: Collection[str]) -> list[str]:
    """Distinct groups in order of first appearance."""
    return list(dict.fromkeys(group_of(n, hosts) for n in nodeids))


def owner(index: int, workers: int) -> int:
    """The worker (0-based) that runs group number ``index``."""
    return index % max(1, workers)


def worker_groups(nodeids: Sequence[str], hosts: Collection[str], worker: int,
                  workers: int) -> list[str]:
    """The groups the scheduler sends worker number ``worker`` of ``workers``."""
    return [g for k, g in enumerate(groups_in_order(nodeids, hosts))
            if owner(k, workers) == worker]


def worker_number(workerid: str) -> int:
    """``gw3`` -> 3 (an unexpected id sorts last)."""
    digits = workerid.removeprefix("gw")
    return int(digits) if digits.isdigit() else 1 << 30


class HostScheduling:
    """xdist's scheduler protocol (``xdist.scheduler.protocol.Scheduling``), by host group."""

    def __init__(self, config: pytest.Config, hosts: Collection[str], log: Any = None) -> None:
        from xdist.remote import Producer
        from xdist.workermanage import parse_tx_spec_config

        self.config = config
        self.hosts = frozenset(hosts)
        self.numnodes = len(parse_tx_spec_config(config))
        self.log = log.hostsched if log is not None else Producer("hostsched")
        self.collection: list[str] | None = None
        self.registered_collections: dict[Any, list[str]] = {}
        self._pending: dict[Any, dict[int, str]] = {}  # node -> index -> nodeid, not done
        self._queue: dict[str, list[int]] = {}  # group -> indices (only after a worker died)
        self._groups: dict[str, list[int]] = {}

    # -- the protocol's properties -----------------------------------------------------------
    @property
    def nodes(self) -> list[Any]:
        return list(self._pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.registered_collections) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        if not self.collection_is_completed or self._queue:
            return False
        # a worker holds its last test until told there is no next one (as loadscope counts)
        return all(len(p) < 2 for p in self._pending.values())

    @property
    def has_pending(self) -> bool:
        return bool(self._queue) or any(self._pending.values())

    # -- nodes and collections ---------------------------------------------------------------
    def add_node(self, node: Any) -> None:
        assert node not in self._pending
        self._pending[node] = {}

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        assert node in self._pending
        if self.collection_is_completed and self.collection is not None \
                and list(collection) != self.collection:
            from xdist.report import report_collection_diff

            other = next(iter(self.registered_collections))
            self.log(report_collection_diff(self.collection, collection, other.gateway.id,
                                            node.gateway.id))
            return
        self.registered_collections[node] = list(collection)

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        pending = self._pending.get(node)
        if pending is not None:
            pending.pop(item_index, None)
            if not node.shutting_down and len(pending) <= 2:
                self._feed(node)

    def mark_test_pending(self, item: str) -> None:
        raise NotImplementedError()

    def remove_pending_tests_from_node(self, node: Any, indices: Sequence[int]) -> None:
        raise NotImplementedError()

    def remove_node(self, node: Any) -> str | None:
        """Forget a finished or dead node; a dead one's unfinished tests are queued again."""
        pending = self._pending.pop(node, {})
        if not pending:
            return None
        assert self.collection is not None
        crashed = next(iter(pending.values()))
        for index in pending:
            self._queue.setdefault(group_of(self.collection[index], self.hosts),
                                   []).append(index)
        for other in self.nodes:
            self._feed(other)
        return crashed

    # -- scheduling --------------------------------------------------------------------------
    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:  # a node started later (one died): give it queued work
            for node in self.nodes:
                self._feed(node)
            return
        collections = list(self.registered_collections.values())
        if any(c != collections[0] for c in collections[1:]):
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = collections[0]
        if not self.collection:
            return
        for index, nodeid in enumerate(self.collection):
            self._groups.setdefault(group_of(nodeid, self.hosts), []).append(index)
        nodes = sorted(self.nodes, key=lambda n: worker_number(n.gateway.id))
        shares: dict[Any, list[int]] = {node: [] for node in nodes}
        for k, indices in enumerate(self._groups.values()):
            shares[nodes[owner(k, len(nodes))]].extend(indices)
        for node, indices in shares.items():
            if indices:
                self._pending[node].update((i, self.collection[i]) for i in indices)
                node.send_runtest_some(indices)
            node.shutdown()  # every test is sent: a worker ends after its share

    def _feed(self, node: Any) -> None:
        """Send a queued group (work of a dead worker) to a node that still takes work; with
        nothing queued, tell it to end after what it has."""
        if node.shutting_down:
            return
        if not self._queue:
            node.shutdown()
            return
        group = next(iter(self._queue))
        indices = self._queue.pop(group)
        assert self.collection is not None
        self._pending[node].update((i, self.collection[i]) for i in indices)
        node.send_runtest_some(indices)
