"""Run a test that only judges cached facts without pytest's per-test machinery.

pytest's run of one test (setup, call, teardown: output capture swapped in and out, a log
handler per phase, fixture lookups) costs about 1 ms of controller CPU; 24 checks per host make
that twice the CPU of probing and judging the host (bench/fleet_check.py). A check whose only
fixtures are the cached ``finding``/``judged``/``facts``/``entry``/``fleet``/``target`` of a
reachable host needs none of it: :func:`run` calls the test function with those values and
reports its call and teardown as pytest's own protocol does (``pytest_runtest_makereport`` and
``pytest_runtest_logreport``: terminal, JUnit with its properties, xdist, ``-x`` all see the
usual reports; the setup report, a pass with nothing done, is not sent).

Everything else takes pytest's usual path: a test asking for another fixture, carrying a
skip/xfail/usefixtures mark, an unreachable host (its fixtures skip), ``--pdb`` and
``--setup-show``/``--setup-only``/``--setup-plan``. Output a fast check prints is not captured
(the checks print nothing).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

import pytest

#: Fixtures a fast check may use (all cached per host).
FIXTURES = frozenset({"finding", "judged", "facts", "entry", "fleet", "target"})
#: Marks whose meaning lives in pytest's setup phase.
SETUP_MARKS = ("skip", "skipif", "xfail", "usefixtures")
FAST = pytest.StashKey[bool]()


def requirement_of(test_name: str) -> str:
    """The requirement a check is named for: ``test_start_type`` judges ``start_type``."""
    return test_name.removeprefix("test_")


def enabled(config: pytest.Config) -> bool:
    """Off under a debugger or when the setup phase is what the user asked to see."""
    return not any(config.getoption(o, False) for o in ("usepdb", "setupshow", "setuponly",
                                                        "setupplan"))


def eligible(item: pytest.Item, cache: dict[Any, Any]) -> bool:
    """Judged at collection (once per test function and parameter marks; ``cache`` keeps the
    answers): can this test take the fast path, given a reachable host?"""
    if not isinstance(item, pytest.Function):
        return False
    callspec = getattr(item, "callspec", None)
    key = (item.function, tuple(item.fixturenames),
           tuple(m.name for m in callspec.marks) if callspec is not None else ())
    if key not in cache:
        # every test's closure holds "request"; the function itself must not ask for it
        # the cached fixtures, and its own parameters (--per-host: the requirements judged)
        allowed = FIXTURES | set(callspec.params if callspec is not None else ())
        cache[key] = not (set(item.fixturenames) - allowed - {"request"}
                          or set(inspect.signature(item.obj).parameters) - allowed
                          or any(item.get_closest_marker(m) for m in SETUP_MARKS))
        cache[item.function] = item.location[:2]  # file and line: the same for every host
    else:  # pytest would find the file and line again for each of the function's items
        path, line = cache[item.function]
        item.__dict__["location"] = (path, line, item.getmodpath())  # the cached_property
    return bool(cache[key])


def run(item: pytest.Item, fleet: Any, host: str) -> bool:
    """Run ``item`` on the fast path; False (nothing done) when the host was not reachable."""
    facts, _ = fleet.facts(host)
    if facts is None or not isinstance(item, pytest.Function):
        return False
    judged = fleet.findings(host)
    values = {"target": host, "fleet": fleet, "entry": fleet.entry(host), "facts": facts,
              "judged": judged, **item.callspec.params}
    if "finding" in item.fixturenames:  # the requirement the test is named for
        values["finding"] = judged[requirement_of(item.originalname)]
    item.funcargs = {name: values[name] for name in item.fixturenames if name in values}
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    phases: tuple[tuple[Literal["call", "teardown"], Callable[[], None]], ...] = (
        ("call", item.runtest), ("teardown", _nothing))
    for when, func in phases:
        call = pytest.CallInfo.from_call(func, when=when,
                                         reraise=(pytest.exit.Exception, KeyboardInterrupt))
        report = ihook.pytest_runtest_makereport(item=item, call=call)
        ihook.pytest_runtest_logreport(report=report)
    item.funcargs = {}
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def _nothing() -> None:
    return None
