"""Render the drift report for 3 and 300 simulated hosts and screenshot it at 1280 px.

Look at the report as a person would: real audits of simulated hosts (``sandbox.fleet``, real
WinRM over loopback, the recorded transcript), a mix of compliant hosts, drifting ones (their
inventory asks for another start type, display name or account than the host has), unreachable
ones (nothing listening; every request answered with a WSMan fault), then the report through
``compliance.render.drift_html`` and headless Chromium.

Two things are made up, and said so in the report's inventory name: the previous run (so that
"since the last run" has new, fixed and still-drifting rows) and the ``--remediate`` record
(simulated hosts only replay the probe; provisioning them is not recorded).

Needs Debian's ``chromium`` (``apt-get install chromium``); only this script does, so
``bootstrap.sh`` does not install it. Writes ``report-N.html``, ``report-N.png`` (the top of the
page, 1280x2000) and ``report-N-SECTION.png`` for #drifting, #unreachable and #compliant into
``--out``. Headless Chromium's ``--screenshot`` ignores a URL's #fragment (the shot of a
scrolled page comes out blank), so a section's shot is of a copy of the page whose content
before that section is hidden by one CSS rule (``body > :has(~ #section)``); the section itself
lays out exactly as in the report.

    python bench/report_screenshots.py [--sizes 3,300] [--out /tmp/tacfleet-screenshots]
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compliance.audit import audit_fleet  # noqa: E402
from compliance.drift import DriftReport, build_report, compare, with_history  # noqa: E402
from compliance.render import drift_html  # noqa: E402
from inventory import load_inventory  # noqa: E402
from sandbox.fleet.inventory import fleet_inventory_data  # noqa: E402
from sandbox.fleet.serve import DEFAULT_TRANSCRIPT, SimulatedFleet  # noqa: E402

USER = "shots"
DRIFTS: list[dict[str, Any]] = [
    {"start": "demand"},
    {"display_name": "Tacdemo (old name)"},
    {"start": "auto", "description": "Runs twistd"},
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plan(n: int) -> dict[str, str]:
    """Each host's role: compliant, drift, refused (no listener) or fault (HTTP 500s)."""
    roles = {i: "compliant" for i in range(n)}
    if n <= 3:
        roles.update({1: "drift", 2: "refused"})
    else:
        for i in range(7, n, 23):
            roles[i] = "drift"
        for i in range(11, n, 61):
            roles[i] = "refused"
        for i in range(40, n, 97):
            roles[i] = "fault"
    return {f"sim{i + 1:04d}": role for i, role in roles.items()}


def audit(n: int, work: Path) -> dict[str, Any]:
    password = secrets.token_urlsafe(16)
    password_file = work / "password"
    password_file.write_text(password)
    os.chmod(password_file, 0o600)
    roles = plan(n)
    sim = SimulatedFleet(DEFAULT_TRANSCRIPT, n, user=USER, password=password,
                         state_dir=work / f"state-{n}").start()
    try:
        data = fleet_inventory_data(sim.ports, password_file=password_file, user=USER)
        drift_count = 0
        for index, (name, role) in enumerate(roles.items()):
            entry = data["hosts"][name]
            if role == "drift":
                entry["service"] = copy.deepcopy(DRIFTS[drift_count % len(DRIFTS)])
                drift_count += 1
            elif role == "refused":
                entry["connection"]["port"] = _closed_port()
            elif role == "fault":
                sim.set_faults(index, http_500=10_000)
        inventory = work / f"fleet-{n}.yml"
        import yaml

        inventory.write_text(yaml.safe_dump(data, sort_keys=False))
        hosts = list(load_inventory(inventory).hosts)
        started = time.time()
        audits = audit_fleet(hosts, parallel=64)
        report = build_report(audits, f"{n} simulated hosts (previous run and remediation "
                                      "made up)", started,
                              {h.name: h.connection.address for h in hosts
                               if h.connection.address})
    finally:
        sim.stop()
    return report.model_dump(mode="json", exclude_none=True)  # as drift.json: made up below


def previous_run(report: dict[str, Any]) -> dict[str, Any]:
    """A made-up previous run: some of today's drift was there already, two hosts drifted and
    are fine now (the remediated ones), one host unreachable then is back."""
    before = copy.deepcopy(report)
    drifting = [h for h, e in report["hosts"].items() if e["status"] == "drift"]
    compliant = [h for h, e in report["hosts"].items() if e["status"] == "compliant"]
    half = (len(drifting) + 1) // 2  # the first half is new drift, the rest was there
    for host in drifting[half:]:
        before["hosts"][host] = report["hosts"][host]
    for host in drifting[:half]:
        before["hosts"][host] = {**report["hosts"][host], "status": "compliant",
                                 "findings": [{**f, "ok": True} for f in
                                              report["hosts"][host]["findings"]]}
    for host in compliant[2:4]:
        before["hosts"][host] = {**report["hosts"][host], "status": "drift", "findings": [
            {"requirement": "start_type", "ok": False, "expected": "delayed-auto",
             "found": "demand", "fix": "sc.exe config"}]}
    if len(compliant) > 5:
        before["hosts"][compliant[5]] = {**report["hosts"][compliant[5]],
                                         "status": "unreachable", "findings": []}
    return before


def remediated(report: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    fixed = [h for h, e in before["hosts"].items()
             if e["status"] == "drift" and report["hosts"][h]["status"] == "compliant"]
    return {"hosts": fixed, "provision_exit": 0, "errors": {}, "failed": [],
            "steps": {h: [{"title": "service settings", "status": "changed",
                           "reasons": ["start_type: expected delayed-auto, found demand"]}]
                      for h in fixed}}


SECTIONS = ("drifting", "unreachable", "compliant")


def screenshot(chromium: str, url: str, png: Path, height: int = 2000) -> None:
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", f"--screenshot={png}", f"--window-size=1280,{height}", url],
        check=True, capture_output=True, timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,300")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) /
                                             "tacfleet-screenshots"))
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("chromium is not installed: apt-get install chromium (only this script needs "
              "it)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tacfleet-shots-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            report = audit(n, Path(tmp))
            before = previous_run(report)
            report["remediated"] = remediated(report, before)
            previous = DriftReport.model_validate(before)
            typed = with_history(previous, DriftReport.model_validate(report))
            html = drift_html(typed, compare(previous, typed))
            page = out / f"report-{n}.html"
            page.write_text(html, encoding="utf-8")
            screenshot(chromium, page.as_uri(), out / f"report-{n}.png")
            for section in SECTIONS if n > 3 else ():
                rule = f"<style>body > :has(~ #{section}) {{ display: none }}</style>"
                copy_page = out / f"report-{n}-{section}.html"
                copy_page.write_text(html.replace("</head>", rule + "</head>", 1), "utf-8")
                screenshot(chromium, copy_page.as_uri(), out / f"report-{n}-{section}.png",
                           1400)
            print(f"{n} hosts: {report['summary']}, HTML {len(html) / 1024:.0f} KiB -> "
                  f"{out}/report-{n}*.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
