"""The drift HTML as a person opens it at night: headless Chromium (Debian's ``chromium``) on
the reports of two ``invoke drift`` runs of 3 and 300 simulated hosts (``sandbox.fleet``, real
WinRM over loopback; no Wine).

The first run goes into an empty reports folder (nothing may be "newly unreachable"); the
second finds some hosts drifting that were compliant in the first, so their "last compliant"
is the first run's start. In the second report the new fields (each host's address, last
compliant, the link to the run log) must be on screen without scrolling sideways at 1280 and
at 1024 CSS pixels: Chromium lays the page out, a script measures where each one is, and
``--dump-dom`` returns the measurements. A PNG of each page is kept in the test's folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import tacfleet_cli as cli
from tests.integration.helpers import fleet_and_inventory

USER = "shotfleet"  # one NTLM user per process (the simulated fleet's)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")

#: Reports where each new field is, as Chromium laid the page out (the script runs on load).
MEASURE = """<script>
addEventListener("load", () => {
  const out = {width: innerWidth, scroll: document.documentElement.scrollWidth, fields: []};
  for (const sel of [".address", ".last-compliant", "#run-log", ".host-facts"]) {
    for (const el of document.querySelectorAll(sel)) {
      const r = el.getBoundingClientRect();
      out.fields.push({sel, text: el.textContent.trim(), left: r.left, right: r.right,
                       width: r.width, top: r.top + scrollY});
    }
  }
  const pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: `apt-get install chromium` (bootstrap.sh test)"
    return found


def roles(n: int) -> dict[int, str]:
    """Host index -> drift (second run only) or refused (both runs); others compliant."""
    if n <= 3:
        return {1: "drift", 2: "refused"}
    return {**{i: "drift" for i in range(7, n, 23)}, **{i: "refused" for i in range(11, n, 61)}}


def write(inventory: Path, data: dict[str, Any], n: int, *, drift: bool) -> None:
    changed = json.loads(json.dumps(data))
    names = list(changed["hosts"])
    for index, role in roles(n).items():
        entry = changed["hosts"][names[index]]
        if role == "refused":
            entry["connection"]["port"] = 1  # nothing listens on port 1
        elif drift:
            entry["service"] = {"start": "demand", "display_name": "Tacdemo (old name)"}
    inventory.write_text(yaml.safe_dump(changed, sort_keys=False))


def run_drift(inventory: Path, reports: Path, log: Path) -> Path:
    code = cli.logged("drift", str(log), cli.drift, str(inventory), None, reports=str(reports))
    assert code == 2  # drifting and unreachable hosts
    run = json.loads((reports / "latest.json").read_text())["run"]
    return reports / run / "drift.html"


def measure(browser: str, page: Path, width: int, png: Path) -> dict[str, Any]:
    probe = page.with_name(f"measure-{width}.html")
    probe.write_text(page.read_text().replace("</head>", MEASURE + "</head>", 1))
    args = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={page.parent / f'chromium-{width}'}",
            f"--window-size={width},1600"]
    dom = subprocess.run([*args, "--dump-dom", probe.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    subprocess.run([*args, f"--screenshot={png}", page.as_uri()], capture_output=True,
                   timeout=120, check=True)
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.mark.parametrize("n", [3, 300])
def test_drift_html_shows_address_last_compliant_and_run_log_without_sideways_scroll(
        tmp_path: Path, n: int) -> None:
    browser = chromium()
    captured: dict[str, Any] = {}
    with fleet_and_inventory(tmp_path, n, user=USER,
                             change=lambda data: captured.update(data)) as (_, inventory, _pw):
        reports = tmp_path / "reports"
        write(inventory, captured, n, drift=False)
        first = run_drift(inventory, reports, reports / "drift-1.log").read_text()
        write(inventory, captured, n, drift=True)
        second_page = run_drift(inventory, reports, reports / "drift-2.log")
    # the first run into an empty folder: unreachable hosts are not "newly" so
    assert "First run in this reports folder" in first and "newly unreachable" not in first
    second = second_page.read_text()
    started = json.loads((second_page.parent.parent / "latest.json").read_text())["run"]
    previous = sorted(p.name for p in reports.iterdir() if p.is_dir() and p.name != started)
    assert len(previous) == 1
    drifting = [i for i, role in roles(n).items() if role == "drift"]
    refused = [i for i, role in roles(n).items() if role == "refused"]
    assert f"{len(drifting)} drifting" in second and f"{len(refused)} unreachable" in second
    assert 'href="../drift-2.log"' in second  # the run log, beside the run folders
    assert (second_page.parent / "../drift-2.log").resolve().is_file()
    for width in (1280, 1024):
        png = tmp_path / f"report-{n}-{width}.png"
        shown = measure(browser, second_page, width, png)
        assert png.stat().st_size > 10_000
        assert shown["scroll"] <= shown["width"], "the page scrolls sideways"
        fields = shown["fields"]
        kinds = {f["sel"] for f in fields}
        assert kinds == {".address", ".last-compliant", "#run-log", ".host-facts"}, kinds
        for field in fields:
            assert field["width"] > 0 and field["left"] >= 0 and field["right"] <= width, field
        addresses = [f for f in fields if f["sel"] == ".address"]
        assert len(addresses) == len(drifting) + len(refused)
        assert all(f["text"] == "127.0.0.1" for f in addresses)
        last = [f["text"] for f in fields if f["sel"] == ".last-compliant"]
        # drifting hosts were compliant in the first run; refused ones never were
        assert sum(1 for t in last if re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", t)) \
            == len(drifting)
        assert last.count("not in any run kept") == len(refused)
        run_log = next(f for f in fields if f["sel"] == "#run-log")
        assert run_log["top"] < 200  # in the page's first lines, with the run's start
