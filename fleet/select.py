"""Which hosts a fleet run works on, and in what groups.

- ``--shard i/n``: host ``h`` belongs to shard ``sha256(name) mod n``; every machine of a CI matrix
  computes the same split from the same inventory, with no coordination.
- ``--batch 10%`` (or a count) and ``--max-fail``: the hosts in batches, and how many of a batch
  may fail before a rollout stops (:func:`provision.fleet.provision_rollout`).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from inventory.models import Host
from winhost.errors import UsageError


class RolloutError(UsageError):
    """A bad --shard / --batch / --max-fail value; the message says the accepted forms."""


def parse_shard(given: str) -> tuple[int, int]:
    """``"2/5"`` → (2, 5); shards are numbered from 1."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", given or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise RolloutError(f"--shard {given!r}: write i/n with 1 <= i <= n, e.g. --shard 1/4")
    return int(m.group(1)), int(m.group(2))


def shard(hosts: Sequence[Host], which: str | None) -> list[Host]:
    """The hosts of shard ``which`` (``"i/n"``; all of them when empty), in inventory order."""
    if not which:
        return list(hosts)
    index, count = parse_shard(which)
    return [h for h in hosts if _bucket(h.name, count) == index - 1]


def _bucket(name: str, count: int) -> int:
    digest = hashlib.sha256(name.casefold().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def amount(given: str, total: int, flag: str) -> int:
    """``"10%"`` of ``total`` (at least 1) or a plain count."""
    text = (given or "").strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
    if m and 0 < float(m.group(1)) <= 100:
        return max(1, math.ceil(total * float(m.group(1)) / 100))
    if text.isdigit():
        return int(text)
    raise RolloutError(f"{flag} {given!r}: write a count (e.g. 5) or a percentage (e.g. 10%)")


def batch_size(given: str, total: int) -> int:
    """Hosts per batch of ``total`` for ``--batch given`` (a count or a share; at least one)."""
    size = amount(given, max(total, 1), "--batch")
    if size < 1:
        raise RolloutError(f"--batch {given!r}: a batch needs at least one host")
    return size


def batches(hosts: Sequence[Host], given: str | None) -> list[list[Host]]:
    if not given:
        return [list(hosts)] if hosts else []
    size = batch_size(given, len(hosts))
    return [list(hosts[i:i + size]) for i in range(0, len(hosts), size)]


def parse_batch_options(batch: str | None, max_fail: str, total: int, canary: int = 0) -> None:
    """Refuse a bad ``--batch`` / ``--max-fail`` / ``--canary`` before any host is touched."""
    if canary < 0:
        raise RolloutError(f"--canary {canary}: write how many hosts go first (e.g. 1), or 0")
    if batch:
        batch_size(batch, total)
    amount(max_fail, max(total, 1), "--max-fail")
