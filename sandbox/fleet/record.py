"""Record a transcript from a running real host: the compliance audit's probe and its answer.

    python -m sandbox.fleet.record --inventory FILE --host NAME --out FILE [--stock-checks]

Runs exactly what ``compliance.audit.audit_host`` runs on the host (``gather_facts`` with the
host's ``probe_spec``) over a normal connection, keeping every command line and its answer.
Output is stored as the bytes the connection's code page (UTF-8, 65001) gives for the decoded
text, which is what the host sent unless it sent invalid UTF-8. ``--stock-checks`` also records
the one-command-per-check lines of ``sandbox.fleet.stock_checks`` (for the testinfra benchmark).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from compliance import desired
from compliance.requirements import judge_all
from inventory import load_inventory
from sandbox.executor import ExecResult
from sandbox.fleet.stock_checks import STOCK_CHECKS
from sandbox.fleet.transcript import Transcript
from winhost.cmdline import Command
from winhost.connection import Connection, Result, Stdin, codepage_encoding
from winhost.open import open_connection
from winhost.probe import gather_facts


class _Recorder:
    """A connection that passes commands on and keeps (command line, answer) pairs."""

    def __init__(self, inner: Connection, transcript: Transcript) -> None:
        self.inner = inner
        self.host = inner.host
        self.stats = inner.stats
        self.transcript = transcript
        self._encoding = codepage_encoding(getattr(inner, "codepage", 65001))

    @property
    def oem_codepage(self) -> int | None:
        return self.inner.oem_codepage

    @oem_codepage.setter
    def oem_codepage(self, value: int | None) -> None:
        self.inner.oem_codepage = value

    def run(self, command: Command | str, *, timeout: float | None = None,
            idempotent: bool = False, stdin: Stdin | None = None) -> Result:
        result = self.inner.run(command, timeout=timeout, idempotent=idempotent, stdin=stdin)
        line = command.line if isinstance(command, Command) else command
        self.transcript.add(line, ExecResult(result.rc, result.stdout.encode(self._encoding),
                                             result.stderr.encode(self._encoding)))
        return result

    def close(self) -> None:
        self.inner.close()


def record(inventory_path: str | Path, host_name: str, out_path: str | Path, *,
           stock_checks: bool = False) -> Transcript:
    """Probe ``host_name`` as the audit does and save what it answered to ``out_path``."""
    host = load_inventory(Path(inventory_path)).host(host_name)
    transcript = Transcript()
    connection = _Recorder(open_connection(host), transcript)
    try:
        facts = gather_facts(connection, desired.probe_spec(host))
        if stock_checks:
            for name, command, expected in STOCK_CHECKS:
                result = connection.run(command, idempotent=True, timeout=300)
                if result.rc != 0 or expected not in result.stdout:
                    print(f"  stock check {name!r} does not pass on {host_name}: rc {result.rc}")
    finally:
        connection.close()
    failing = [f for f in judge_all(host, facts) if not f.ok and not f.skipped]
    transcript.save(out_path)
    state = "compliant" if not failing else f"{len(failing)} failing requirement(s)"
    print(f"{host_name}: recorded {len(transcript)} command(s) to {out_path} ({state})")
    for finding in failing:
        print(f"  - {finding.message}")
    return transcript


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--stock-checks", action="store_true",
                        help="also record the stock testinfra suite's command lines")
    args = parser.parse_args(argv)
    record(args.inventory, args.host, args.out, stock_checks=args.stock_checks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
