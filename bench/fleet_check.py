"""A full compliance check of 1 to 1,000 simulated Windows hosts: tacfleet vs stock testinfra.

The fleet (``sandbox.fleet``: WinRM endpoints on 127.0.0.1 replaying the transcript recorded from
a provisioned sandbox host) runs in its own process; each measurement runs in a fresh controller
process, so the controller's CPU seconds and peak RSS are its own. For each fleet size and added
latency per HTTP answer:

  - tacfleet: ``compliance.audit.audit_fleet(hosts, parallel=P)``: one probe per host;
  - testinfra: the stock ``winrm://`` backend, one ``host.run`` per check
    (``sandbox.fleet.stock_checks``, 20 checks), the same P hosts at a time;
  - drift: ``invoke drift`` as a user runs it (``tacfleet_cli.drift``, a child process: start-up,
    inventory and reports included; its CPU and peak RSS counted with the controller's);
  - checks: ``pytest checks --parallel P`` the same way, right after drift on the same fleet
    (with ``--processes``: each value for both, ``TACFLEET_PROCESSES`` for pytest checks);
    checks-host: the same with ``--per-host`` (one test per host); checks-n: with ``-n W``
    (xdist). Reported with each: commands and shells per host,
    shells left open on the hosts afterwards, lines of output;
  - optionally, a no-op ``provision.fleet.provision_fleet`` (every step "ok", only the probe).

    python bench/fleet_check.py [--sizes 1,10,100,1000] [--latencies 0,50] [--parallel 64]
                                [--testinfra-max 100] [--provision 100] [--sweep 32,128]
                                [--checks-max 1000] [--workers 2] [--junit] [--repeat 3]
                                [--merge] [--processes 1,2] [--only drift,checks]

Prints a table and writes bench/results/fleet_check.json. ``ideal_s`` is the latency-bound
time: hosts x HTTP requests per host x latency / min(parallel, hosts). ``--sweep`` repeats the
largest fleet at the largest latency with other pool sizes.

Why 64 workers by default: the controller is one Python process, so its CPU work (NTLM, HTTP,
XML, judging the facts: ~15 ms per host here) runs under one GIL; past ~64 threads more
workers only add switching (1,000 hosts at 50 ms: 15 s CPU at 64, 16.5 s at 128) while the
latency they hide is already below that CPU floor.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "fleet_check.json"
USER = "tacfleet"


# -- controller side: one measurement per process ----------------------------------------------
def _usage() -> tuple[float, float]:
    """CPU seconds and peak RSS (MB) of this process and of the children it waited for
    (``pytest checks`` runs as a child; its xdist workers are its own children)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return cpu, max(me.ru_maxrss, kids.ru_maxrss) / 1024


def _audit(hosts: list[Any], parallel: int, password: str) -> dict[str, Any]:
    from compliance.audit import audit_fleet

    audits = audit_fleet(hosts, parallel=parallel)
    statuses: dict[str, int] = {}
    for a in audits:
        statuses[a.status] = statuses.get(a.status, 0) + 1
    errors = sorted({a.error[:200] for a in audits if a.error})[:3]
    return {"statuses": statuses, "passed": statuses.get("compliant", 0) == len(hosts),
            "client_http_requests": sum(a.http_requests for a in audits), "errors": errors}


def _testinfra(hosts: list[Any], parallel: int, password: str) -> dict[str, Any]:
    import testinfra

    from sandbox.fleet.stock_checks import STOCK_CHECKS

    def one(host: Any) -> tuple[int, str]:
        conn = host.connection
        spec = (f"winrm://{conn.user}:{password}@{conn.address}:{conn.port}"
                "?no_ssl=true&no_verify_ssl=true")
        target = testinfra.get_host(spec)
        failed = 0
        error = ""
        for name, command, expected in STOCK_CHECKS:
            try:
                result = target.run(command)
                if result.rc != 0 or expected not in result.stdout:
                    failed += 1
                    error = error or f"{name}: rc {result.rc}"
            except Exception as exc:  # a check that errors counts as failed, as pytest would
                failed += 1
                error = error or f"{name}: {type(exc).__name__}: {exc}"[:200]
        return failed, error

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        outcomes = list(pool.map(one, hosts))
    failed_hosts = [e for f, e in outcomes if f]
    return {"checks_per_host": len(STOCK_CHECKS), "failed_hosts": len(failed_hosts),
            "passed": not failed_hosts, "errors": sorted(set(failed_hosts))[:3]}


def _provision(hosts: list[Any], parallel: int, password: str) -> dict[str, Any]:
    from provision.fleet import provision_fleet
    from provision.model import Status

    runs = provision_fleet(hosts, parallel=parallel)
    not_ok = [r for r in runs if r.error or any(s.status is not Status.OK for s in r.steps)]
    return {"passed": not not_ok, "hosts_not_ok": len(not_ok),
            "commands": sum(r.commands for r in runs),
            "errors": sorted({r.error[:200] for r in not_ok if r.error})[:3]}


def _pytest_checks(inventory: str, parallel: int, workers: int,
                   junit: bool = False, processes: int = 1,
                   per_host: bool = False) -> dict[str, Any]:
    """``pytest checks`` as a user runs it, in a child process (``-n workers`` if > 0).

    hypothesis' pytest plugin (a dev dependency, not the product's) is left out: it imports
    hypothesis at the end of every run.
    """
    with tempfile.TemporaryDirectory(prefix="tacfleet-checks-") as tmp:
        xml = Path(tmp) / "junit.xml"
        argv = [sys.executable, "-m", "pytest", str(ROOT / "checks"), "--inventory", inventory,
                "--parallel", str(parallel), "-p", "no:cacheprovider",
                "-p", "no:hypothesispytest", *([f"--junitxml={xml}"] if junit else [])]
        if workers:
            argv += ["-n", str(workers)]
        if per_host:
            argv.append("--per-host")
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120",
                                   "TACFLEET_PROCESSES": str(processes)})
        junit_bytes = xml.stat().st_size if xml.exists() else 0
    lines = proc.stdout.splitlines()
    return {"passed": proc.returncode == 0, "exit_code": proc.returncode, "workers": workers,
            "output_lines": len(lines), "output_bytes": len(proc.stdout.encode()),
            "junit_bytes": junit_bytes, "pytest_result": lines[-1].strip("= ") if lines else "",
            "errors": [proc.stderr[-300:] or proc.stdout[-300:]] if proc.returncode else []}


def _drift_process(inventory: str, parallel: int, processes: int = 1) -> dict[str, Any]:
    """``invoke drift`` as a user runs it (``tacfleet_cli.drift``, reports written), in a child
    process: the like-for-like partner of ``pytest checks``, start-up and inventory included.
    ``processes`` > 1: its worker processes too (their CPU counted, peak RSS the largest's)."""
    with tempfile.TemporaryDirectory(prefix="tacfleet-drift-") as tmp:
        code = ("import sys, tacfleet_cli; sys.exit(tacfleet_cli.drift(sys.argv[1], None, "
                "reports=sys.argv[2], parallel=int(sys.argv[3]), processes=int(sys.argv[4])))")
        proc = subprocess.run([sys.executable, "-c", code, inventory, tmp, str(parallel),
                               str(processes)],
                              cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"})
    lines = proc.stdout.splitlines()
    return {"passed": proc.returncode == 0, "exit_code": proc.returncode,
            "output_lines": len(lines), "output_bytes": len(proc.stdout.encode()),
            "errors": [proc.stderr[-300:] or proc.stdout[-300:]] if proc.returncode else []}


MODES = {"tacfleet": _audit, "testinfra": _testinfra, "provision": _provision}
#: ``pytest checks`` in one process, one test per host (``--per-host``), under xdist.
CHECK_MODES = ("checks", "checks-host", "checks-n")
#: Whole processes as users start them (timed from before the child starts).
PROCESS_MODES = ("drift", *CHECK_MODES)


def controller(mode: str, inventory: str, parallel: int, workers: int = 0,
               junit: bool = False, processes: int = 1) -> int:
    """Run one measurement in this process; print its figures as one JSON line."""
    cpu0, _ = _usage()
    started = time.perf_counter()
    from sandbox.fleet.inventory import load_fleet

    hosts = load_fleet(inventory)
    password_file = hosts[0].connection.password_file
    assert password_file is not None, "the generated inventory names a password_file"
    password = Path(password_file).expanduser().read_text().strip()
    loaded = time.perf_counter()
    cpu1, _ = _usage()
    if mode == "drift":
        outcome = _drift_process(inventory, parallel, processes)
    elif mode in CHECK_MODES:
        outcome = _pytest_checks(inventory, parallel, workers if mode == "checks-n" else 0,
                                 junit, processes, per_host=mode == "checks-host")
    else:
        outcome = MODES[mode](hosts, parallel, password)
    wall = time.perf_counter() - loaded
    cpu2, peak = _usage()
    print(json.dumps({**outcome, "wall_s": round(wall, 3),
                      "inventory_load_s": round(loaded - started, 3),
                      "controller_cpu_s": round(cpu2 - cpu1, 3),
                      "controller_cpu_with_load_s": round(cpu2 - cpu0, 3),
                      "controller_peak_rss_mb": round(peak, 1)}))
    return 0


# -- orchestration -----------------------------------------------------------------------------
def current_transcript(workdir: Path, password_file: Path) -> tuple[Path, bool]:
    """The recorded transcript, or (when this tree's probe line changed since the recording) a
    copy that also answers the current probe line with the recorded probe answer. The second
    value says whether it was re-keyed: facts the recording lacks are then unknown (None)."""
    from sandbox.fleet.inventory import load_fleet, probe_lines, write_fleet_inventory
    from sandbox.fleet.serve import DEFAULT_TRANSCRIPT
    from sandbox.fleet.transcript import Transcript
    from winhost.probe import MARKER

    transcript = Transcript.load(DEFAULT_TRANSCRIPT)
    probe = write_fleet_inventory(workdir / "probe-line.yml", [1], password_file=password_file)
    (line,) = probe_lines(load_fleet(probe))
    if line in transcript:
        return DEFAULT_TRANSCRIPT, False
    recorded = [a for a in transcript.answers.values() if MARKER.encode() in a.stdout]
    if len(recorded) != 1:
        raise RuntimeError("the transcript holds no single probe answer to re-key")
    transcript.add(line, recorded[0])
    return transcript.save(workdir / "transcript.json"), True


class FleetProcess:
    """``python -m sandbox.fleet.serve`` in its own process, driven over stdin/stdout."""

    def __init__(self, n: int, workdir: Path, password_file: Path,
                 transcript: Path | None = None) -> None:
        self.inventory = workdir / f"fleet-{n}.yml"
        extra = ["--transcript", str(transcript)] if transcript else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox.fleet.serve", "--hosts", str(n),
             "--password-file", str(password_file), "--user", USER, *extra,
             "--state-dir", str(workdir / f"state-{n}"), "--inventory-out", str(self.inventory)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        started = time.perf_counter()
        ready = self._read()
        self.start_s = round(time.perf_counter() - started, 2)
        self.ports = ready["ports"]

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulated fleet exited (rc {self.proc.wait()})")
        data: dict[str, Any] = json.loads(line)
        return data

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        if not answer.get("ok"):
            raise RuntimeError(f"fleet: {answer.get('error')}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def measure(fleet: FleetProcess, mode: str, n: int, latency: int,
            parallel: int, workers: int = 0, junit: bool = False,
            processes: int = 1) -> dict[str, Any]:
    fleet.ask(f"faults all latency_ms={latency}")
    load_before = os.getloadavg()[0]
    before = fleet.ask("stats")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--controller", mode,
         "--inventory", str(fleet.inventory), "--parallel", str(parallel),
         "--workers", str(workers), "--processes", str(processes),
         *(["--junit"] if junit else [])],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} controller failed:\n{proc.stderr[-3000:]}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    after = fleet.ask("stats")
    per_host = [a["http_requests"] - b["http_requests"]
                for a, b in zip(after["hosts"], before["hosts"], strict=True)]
    commands = [a["commands"] - b["commands"]
                for a, b in zip(after["hosts"], before["hosts"], strict=True)]
    shells = [a["shells_created"] - b["shells_created"]
              for a, b in zip(after["hosts"], before["hosts"], strict=True)]
    requests = sum(per_host)
    rph = requests / n
    effective = min(parallel, n)
    ideal = n * rph * latency / 1000 / effective
    return {
        "mode": mode, "hosts": n, "latency_ms": latency, "parallel": parallel,
        "processes": processes,
        "wall_s": figures.pop("wall_s"),
        "http_requests": requests,
        "requests_per_host": round(rph, 2),
        "requests_per_host_min_max": [min(per_host), max(per_host)],
        "commands": after["total"]["commands"] - before["total"]["commands"],
        "commands_per_host_min_max": [min(commands), max(commands)],
        "shells_per_host_min_max": [min(shells), max(shells)],
        "open_shells_after": after["total"]["open_shells"],
        "unknown_commands": after["unknown_commands"] - before["unknown_commands"],
        "ideal_s": round(ideal, 3),
        "ratio_to_ideal": None,
        "fleet_cpu_s": round(after["cpu_seconds"] - before["cpu_seconds"], 3),
        "fleet_peak_rss_mb": after["peak_rss_mb"],
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **figures,
        "controller_cpu_ms_per_host": round(figures["controller_cpu_s"] * 1000 / n, 2),
    }


def _fix_ratio(row: dict[str, Any]) -> None:
    row["ratio_to_ideal"] = round(row["wall_s"] / row["ideal_s"], 2) if row["ideal_s"] else None


def _print(rows: list[dict[str, Any]], *, header: bool = True) -> None:
    head = (f"{'mode':<12}{'hosts':>6}{'lat ms':>7}{'par':>5}{'proc':>5}{'wall s':>9}"
            f"{'HTTP req':>10}"
            f"{'req/host':>9}{'ideal s':>9}{'x ideal':>8}{'ctl CPU s':>10}{'ms/host':>8}"
            f"{'ctl RSS MB':>11}"
            f"{'fleet CPU s':>12}{'cmd/host':>9}{'open sh':>8}{'out lines':>10}{'load':>6}  ok")
    if header:
        print(head)
    for r in rows:
        ratio = f"{r['ratio_to_ideal']:.2f}" if r["ratio_to_ideal"] else "-"
        print(f"{r['mode']:<12}{r['hosts']:>6}{r['latency_ms']:>7}{r['parallel']:>5}"
              f"{r.get('processes', 1):>5}"
              f"{r['wall_s']:>9.2f}{r['http_requests']:>10}{r['requests_per_host']:>9}"
              f"{r['ideal_s']:>9.2f}{ratio:>8}{r['controller_cpu_s']:>10.2f}"
              f"{r['controller_cpu_s'] * 1000 / r['hosts']:>8.2f}"
              f"{r['controller_peak_rss_mb']:>11.1f}{r['fleet_cpu_s']:>12.2f}"
              f"{r['commands_per_host_min_max'][1]:>9}{r['open_shells_after']:>8}"
              f"{r.get('output_lines', '-'):>10}{r['load_avg_1min'][0]:>6.1f}"
              f"  {'yes' if r['passed'] else 'NO'}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--latencies", default="0,50")
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--testinfra-max", type=int, default=100,
                        help="largest fleet the stock testinfra suite runs against")
    parser.add_argument("--provision", type=int, default=100,
                        help="hosts for the no-op provision at the largest latency (0 = skip)")
    parser.add_argument("--sweep", default="32,128",
                        help="other pool sizes for the largest fleet at the largest latency")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each tacfleet measurement N times and keep the median "
                             "(the machine may be shared)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of the existing --out file that this run does not "
                             "measure again")
    parser.add_argument("--checks-max", type=int, default=1000,
                        help="largest fleet `pytest checks` runs against (0 = skip it)")
    parser.add_argument("--workers", type=int, default=2,
                        help="xdist workers of the `pytest checks -n` run (0 = skip it)")
    parser.add_argument("--junit", action="store_true",
                        help="pytest checks also writes JUnit XML (1,000 hosts: ~6 s more)")
    parser.add_argument("--processes", default="1",
                        help="comma list: `invoke drift --processes` values to measure")
    parser.add_argument("--only", default="",
                        help="comma list of modes to run (tacfleet, drift, checks, "
                             "checks-host, checks-n, testinfra, provision); default all")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--controller", choices=sorted([*MODES, *PROCESS_MODES]),
                        help=argparse.SUPPRESS)
    parser.add_argument("--inventory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.controller:
        return controller(args.controller, args.inventory, args.parallel, args.workers,
                          args.junit, int(args.processes))

    sizes = [int(s) for s in args.sizes.split(",")]
    processes = [int(p) for p in args.processes.split(",") if p.strip()]
    only = {m.strip() for m in args.only.split(",") if m.strip()}
    latencies = [int(s) for s in args.latencies.split(",")]
    rows: list[dict[str, Any]] = []
    fleets: list[dict[str, Any]] = []
    print(f"parallel={args.parallel}, {os.cpu_count()} CPUs; fleet in its own process; "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="tacfleet-bench-") as tmp:
        work = Path(tmp)
        password_file = work / "password"
        password_file.write_text(secrets.token_urlsafe(16))
        os.chmod(password_file, 0o600)
        transcript, rekeyed = current_transcript(work, password_file)
        if rekeyed:
            print("note: this tree's probe line is not in the recorded transcript (the probe "
                  "changed since); the recorded probe answer answers it (facts it lacks: unknown)")
        for n in sorted(set(sizes) | ({args.provision} if args.provision else set())):
            fleet = FleetProcess(n, work, password_file, transcript)
            fleets.append({"hosts": n, "start_s": fleet.start_s})
            try:
                # (mode, latency, parallel, drift's processes)
                plan: list[tuple[str, int, int, int]] = []
                if n in sizes:
                    for latency in latencies:
                        plan.append(("tacfleet", latency, args.parallel, 1))
                        if n <= args.checks_max:  # right after drift's engine: same load
                            for p in processes:  # each drift right before its pytest checks
                                plan.append(("drift", latency, args.parallel, p))
                                plan.append(("checks", latency, args.parallel, p))
                                plan.append(("checks-host", latency, args.parallel, p))
                            if args.workers:
                                plan.append(("checks-n", latency, args.parallel, 1))
                        if n <= args.testinfra_max:
                            plan.append(("testinfra", latency, args.parallel, 1))
                if args.provision and n == args.provision:
                    plan.append(("provision", max(latencies), args.parallel, 1))
                if n == max(sizes):
                    plan += [("tacfleet", max(latencies), int(p), 1)
                             for p in args.sweep.split(",") if p.strip()]
                if only:
                    plan = [step for step in plan if step[0] in only]
                for mode, latency, pool, procs in plan:
                    runs = []
                    for _ in range(args.repeat if mode == "tacfleet" else 1):
                        runs.append(measure(fleet, mode, n, latency, pool, args.workers,
                                            args.junit, procs))
                    runs.sort(key=lambda r: r["wall_s"])
                    row = runs[len(runs) // 2]  # the median run
                    row["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
                    if len(runs) > 1:
                        row["wall_s_runs"] = [r["wall_s"] for r in runs]
                    _fix_ratio(row)
                    rows.append(row)
                    _print([row], header=len(rows) == 1)
            finally:
                fleet.close()
    if args.merge and Path(args.out).exists():
        def key(r: dict[str, Any]) -> tuple[Any, ...]:
            return (r["mode"], r["hosts"], r["latency_ms"], r["parallel"],
                    r.get("processes", 1))

        fresh = {key(r) for r in rows}
        previous = json.loads(Path(args.out).read_text())
        kept = [r for r in previous["results"] if key(r) not in fresh]
        started = {f["hosts"] for f in fleets}
        fleets = sorted([f for f in previous.get("fleet_startup", []) if f["hosts"] not in started]
                        + fleets, key=lambda f: f["hosts"])
        rows = sorted(kept + rows, key=lambda r: (r["hosts"], r["mode"] == "provision",
                                                  r["parallel"] != args.parallel,
                                                  r["latency_ms"], r["mode"]))
        sizes = sorted({r["hosts"] for r in rows if r["mode"] != "provision"})
        args.testinfra_max = max([r["hosts"] for r in rows if r["mode"] == "testinfra"] or [0])
    summary = _summary(rows, args.parallel)
    for line in summary["notes"]:
        print(line)
    document = {
        "benchmark": "bench/fleet_check.py",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "parallel": args.parallel,
        "sizes": sizes, "latencies_ms": latencies, "testinfra_max_hosts": args.testinfra_max,
        "fleet_startup": fleets,
        "probe_answer_rekeyed": rekeyed,
        "checks_junit": args.junit,
        "results": rows,
        "goals": summary["goals"],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def _summary(rows: list[dict[str, Any]], parallel: int) -> dict[str, Any]:
    def find(mode: str, hosts: int, latency: int, processes: int = 1) -> dict[str, Any] | None:
        return next((r for r in rows if (r["mode"], r["hosts"], r["latency_ms"], r["parallel"],
                                         r.get("processes", 1))
                     == (mode, hosts, latency, parallel, processes)), None)

    goals: dict[str, Any] = {}
    notes: list[str] = []
    big = find("tacfleet", 1000, 50)
    if big:
        goals["check_1000_at_50ms_under_30s"] = {"value_s": big["wall_s"],
                                                 "met": big["wall_s"] < 30}
        goals["check_1000_within_2x_ideal"] = {"ratio": big["ratio_to_ideal"],
                                               "met": bool(big["ratio_to_ideal"])
                                               and big["ratio_to_ideal"] <= 2}
        goals["controller_peak_under_500mb"] = {"value_mb": big["controller_peak_rss_mb"],
                                                "met": big["controller_peak_rss_mb"] < 500}
    pairs = [(t, s) for t in rows if t["mode"] == "tacfleet"
             for s in rows if s["mode"] == "testinfra"
             and (s["hosts"], s["latency_ms"]) == (t["hosts"], t["latency_ms"])]
    if pairs:
        factor = min(s["requests_per_host"] / t["requests_per_host"] for t, s in pairs)
        goals["10x_fewer_requests_than_testinfra"] = {"factor": round(factor, 1),
                                                      "met": factor >= 10}
    for mode, procs in [(m, p) for m in CHECK_MODES for p in (1, 2, 4, 8)]:
        checks, drift = find(mode, 1000, 50, procs), find("drift", 1000, 50, procs)
        if checks and drift:
            ratio = round(checks["wall_s"] / drift["wall_s"], 2)
            goals[f"{mode}_1000_at_50ms_processes_{procs}_within_1.3x_of_drift"] = {
                "ratio": ratio, "checks_s": checks["wall_s"], "drift_s": drift["wall_s"],
                "met": ratio <= 1.3 and checks["passed"]}
            goals[f"{mode}_processes_{procs}_one_probe_per_host_no_shell_left_open"] = {
                "commands_per_host_max": checks["commands_per_host_min_max"][1],
                "open_shells_after": checks["open_shells_after"],
                "met": checks["commands_per_host_min_max"] == [1, 1]
                and checks["open_shells_after"] == 0}
    drift1 = find("drift", 1000, 50)
    for other in sorted({r.get("processes", 1) for r in rows if r["mode"] == "drift"} - {1}):
        split = find("drift", 1000, 50, other)
        if drift1 and split:
            goals[f"drift_1000_at_50ms_processes_{other}_faster_than_1"] = {
                "processes_1_s": drift1["wall_s"], f"processes_{other}_s": split["wall_s"],
                "speedup": round(drift1["wall_s"] / split["wall_s"], 2),
                "met": split["wall_s"] < drift1["wall_s"] and split["passed"]}
    for procs in sorted({r.get("processes", 1) for r in rows if r["mode"] == "drift"}):
        small, large = find("drift", 1000, 50, procs), find("drift", 5000, 50, procs)
        if large:
            goals[f"drift_5000_processes_{procs}_peak_rss_under_300mb"] = {
                "value_mb": large["controller_peak_rss_mb"],
                "met": large["controller_peak_rss_mb"] < 300 and large["passed"]}
        if small and large:  # linear: 5x the hosts in about 5x the time (25 % slack)
            factor = round(large["wall_s"] / small["wall_s"], 2)
            goals[f"drift_processes_{procs}_time_linear_1000_to_5000"] = {
                "wall_1000_s": small["wall_s"], "wall_5000_s": large["wall_s"],
                "factor": factor, "met": factor <= 5 * 1.25}
    prov = next((r for r in rows if r["mode"] == "provision"), None)
    if prov:
        goals[f"noop_provision_{prov['hosts']}_at_{prov['latency_ms']}ms_under_10s"] = {
            "value_s": prov["wall_s"], "met": prov["wall_s"] < 10 and prov["passed"]}
    for name, goal in goals.items():
        shown = {k: v for k, v in goal.items() if k != "met"}
        notes.append(f"goal {name}: {'met' if goal['met'] else 'NOT met'} {shown}")
    return {"goals": goals, "notes": notes}


if __name__ == "__main__":
    raise SystemExit(main())
