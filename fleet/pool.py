"""A bounded pool over a fleet's hosts: at most ``parallel`` at a time, results in order."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_pool(items: Sequence[T], work: Callable[[T], R], *, parallel: int) -> list[R]:
    """``work(item)`` for every item, up to ``parallel`` at once; results in the items' order.

    ``work`` is the per-host boundary: it turns whatever goes wrong for its host into that host's
    outcome and never raises, so one host's failure never stops the others.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(work, items))
