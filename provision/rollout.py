"""Fleet-wide runs: deterministic shards for CI matrices, and rolling batches that stop early.

- ``--shard i/n``: host ``h`` belongs to shard ``sha256(name) mod n``; every machine of a CI matrix
  computes the same split from the same inventory, with no coordination.
- ``--batch 10%`` (or a count) and ``--max-fail``: provision batch after batch; when a batch has
  more failed hosts than allowed, the rollout stops and the remaining hosts are left untouched.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from inventory.models import Host
from provision.engine import OnStep
from provision.fleet import Connector, provision_fleet
from provision.interrupt import NOT_STARTED, stop_requested
from provision.model import HostRun
from winhost.errors import UsageError


class RolloutError(UsageError):
    """A bad --shard / --batch / --max-fail value; the message says the accepted forms."""


def parse_shard(spec: str) -> tuple[int, int]:
    """``"2/5"`` → (2, 5); shards are numbered from 1."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise RolloutError(f"--shard {spec!r}: write i/n with 1 <= i <= n, e.g. --shard 1/4")
    return int(m.group(1)), int(m.group(2))


def shard(hosts: Sequence[Host], spec: str | None) -> list[Host]:
    """The hosts of shard ``spec`` (all of them when ``spec`` is empty), in inventory order."""
    if not spec:
        return list(hosts)
    index, count = parse_shard(spec)
    return [h for h in hosts if _bucket(h.name, count) == index - 1]


def _bucket(name: str, count: int) -> int:
    digest = hashlib.sha256(name.casefold().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def _amount(spec: str, total: int, flag: str) -> int:
    """``"10%"`` of ``total`` (at least 1) or a plain count."""
    text = (spec or "").strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
    if m and 0 < float(m.group(1)) <= 100:
        return max(1, math.ceil(total * float(m.group(1)) / 100))
    if text.isdigit():
        return int(text)
    raise RolloutError(f"{flag} {spec!r}: write a count (e.g. 5) or a percentage (e.g. 10%)")


def batches(hosts: Sequence[Host], spec: str | None) -> list[list[Host]]:
    if not spec:
        return [list(hosts)] if hosts else []
    size = _amount(spec, len(hosts), "--batch")
    if size < 1:
        raise RolloutError(f"--batch {spec!r}: a batch needs at least one host")
    return [list(hosts[i:i + size]) for i in range(0, len(hosts), size)]


def parse_batch_options(batch: str | None, max_fail: str, total: int) -> None:
    """Refuse a bad ``--batch`` / ``--max-fail`` before any host is touched."""
    if batch and _amount(batch, max(total, 1), "--batch") < 1:
        raise RolloutError(f"--batch {batch!r}: a batch needs at least one host")
    _amount(max_fail, max(total, 1), "--max-fail")


def provision_rollout(
    hosts: Sequence[Host],
    *,
    batch: str | None = None,
    max_fail: str = "0",
    parallel: int = 4,
    on_step: OnStep | None = None,
    connector: Connector | None = None,
    **options: bool,
) -> list[HostRun]:
    """Provision in rolling batches; stop before the next batch when one fails too much."""
    groups = batches(hosts, batch)
    runs: list[HostRun] = []
    for number, group in enumerate(groups, 1):
        if stop_requested():  # Ctrl-C: later batches are not started
            runs.extend(HostRun(host=h.name, check_only=options.get("check_only", False),
                                error=NOT_STARTED) for g in groups[number - 1:] for h in g)
            break
        results = provision_fleet(group, parallel=parallel, on_step=on_step,
                                  connector=connector, **options)
        runs.extend(results)
        failed = sum(1 for r in results if r.failed)
        allowed = _amount(max_fail, len(group), "--max-fail")
        if failed > allowed and number < len(groups):
            rest = [h for g in groups[number:] for h in g]
            note = (f"not run: batch {number} of {len(groups)} had {failed} failed host(s), "
                    f"more than --max-fail {max_fail}")
            runs.extend(HostRun(host=h.name, check_only=options.get("check_only", False),
                                error=note) for h in rest)
            break
    return runs
