"""Drift history: what changed between runs, exit codes, atomic reports, escaped HTML."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from compliance.audit import HostAudit
from compliance.drift import (
    EXIT_COMPLIANT,
    EXIT_DRIFT,
    EXIT_UNCHECKED,
    Remediation,
    build_report,
    compare,
    load_latest,
    save_report,
)
from compliance.finding import Finding
from compliance.render import drift_html, print_drift


def audit(host, failing=(), error=""):
    findings = [Finding(r, host, r not in failing, "X", "Y") for r in ("a", "b", "c")]
    return HostAudit(host, [] if error else findings, error=error)


def report(*audits):
    return build_report(list(audits), "inv.yml", time.time())


def test_exit_codes():
    assert report(audit("h1")).exit_code() == EXIT_COMPLIANT
    assert report(audit("h1", ["a"])).exit_code() == EXIT_DRIFT
    assert report(audit("h1", ["a"]), audit("h2", error="refused")).exit_code() == EXIT_UNCHECKED


def test_new_fixed_still_and_unreachable():
    before = report(audit("h1", ["a", "b"]), audit("h2", ["a"]), audit("h3", ["c"]))
    now = report(audit("h1", ["b", "c"]), audit("h2"), audit("h3", error="timeout"))
    changes = compare(before, now)
    assert changes.new == [("h1", "c")]
    assert changes.fixed == [("h1", "a"), ("h2", "a")]
    assert changes.still == [("h1", "b")]
    assert changes.unreachable == ["h3"]  # its old drift is neither fixed nor new


def test_history_and_latest_pointer(tmp_path):
    first = report(audit("h1", ["a"]))
    save_report(tmp_path, first, "<html>")
    assert load_latest(tmp_path).hosts["h1"].status == "drift"
    second = report(audit("h1"))
    folder = save_report(tmp_path, second, "<html>")
    assert load_latest(tmp_path).hosts["h1"].status == "compliant"
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2
    assert json.loads((folder / "drift.json").read_text())["summary"]["compliant"] == 1
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_format_2_report_is_read_its_hint_as_the_fix(tmp_path):
    """The history of a fleet upgraded from format 2 (which wrote the fix as ``hint``) compares."""
    saved = json.loads(report(audit("h1", ["a"])).model_dump_json(exclude_none=True))
    for finding in saved["hosts"]["h1"]["findings"]:
        if not finding["ok"]:
            finding["hint"] = finding.pop("fix")
    saved["format"] = 2
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "drift.json").write_text(json.dumps(saved))
    (tmp_path / "latest.json").write_text(json.dumps({"run": "old"}))
    previous = load_latest(tmp_path)
    assert previous is not None
    failing = [f for f in previous.hosts["h1"].findings if not f.ok]
    hint = saved["hosts"]["h1"]["findings"][0]["hint"]
    assert [(f.requirement, f.fix) for f in failing] == [("a", hint)]
    assert compare(previous, report(audit("h1"))).fixed == [("h1", "a")]


def test_corrupt_latest_is_ignored_not_fatal(tmp_path):
    (tmp_path / "latest.json").write_text("{not json")
    assert load_latest(tmp_path) is None


def test_html_escapes_what_hosts_report():
    bad = HostAudit("h1", [Finding("a", "h1", False, "<b>", "<script>x</script>")])
    rendered = drift_html(report(bad), compare(None, report(bad)))
    assert "<script>x" not in rendered and "&lt;script&gt;" in rendered


# -- the report for a big fleet: drift first, compliant hosts one line, Windows values ---------
RAW_REFUSED = (
    "could not be checked: http://10.0.0.9:5985/wsman unreachable: ConnectionError: "
    "HTTPConnectionPool(host='10.0.0.9', port=5985): Max retries exceeded with url: /wsman "
    "(Caused by NewConnectionError(\"HTTPConnection(host='10.0.0.9', port=5985): Failed to "
    "establish a new connection: [Errno 111] Connection refused\")); fix: check "
    "connection.address/port in the inventory and that WinRM listens on the host")


def windows_audit(host, failing=()):
    values = {"venv_base": ("home 'C:\\\\Python311', version 3.11.x",
                            "home 'C:\\\\Python27', version '2.7.18'"),
              "service_account": ("'NT SERVICE\\\\tacdemo'", "'LocalSystem'"),
              "start_type": ("delayed-auto", "demand")}
    return HostAudit(host, [
        Finding(r, host, r not in failing, e, e if r not in failing else f,
                "" if r not in failing else f"set {r} with sc.exe config")
        for r, (e, f) in values.items()])


def fleet_report(compliant=300):
    audits = [windows_audit(f"ok{i:03d}") for i in range(compliant)]
    audits.insert(5, windows_audit("bad1", ["venv_base", "service_account"]))
    audits.insert(0, HostAudit("gone", error=RAW_REFUSED))
    audits.append(windows_audit("bad2", ["start_type"]))
    return report(*audits)


def test_html_puts_drifting_then_unreachable_first_and_compliant_hosts_one_line_each():
    big = fleet_report()
    html = drift_html(big, compare(None, big))
    drifting, unreachable, compliant = (html.index('id="drifting"'),
                                        html.index('id="unreachable"'),
                                        html.index('id="compliant"'))
    assert drifting < html.index('id="host-bad1"') < html.index('id="host-bad2"') < unreachable
    assert unreachable < html.index('id="host-gone"') < compliant < html.index('id="host-ok000"')
    # every host is linked from the summary, above every host's section
    assert all(html.index(f'href="#host-{h}"') < drifting
               for h in ("bad1", "bad2", "gone", "ok000", "ok299"))
    # a compliant host is one <details> line: no table rows of its own
    line = html[html.index('id="host-ok123"'):]
    line = line[:line.index("</details>")]
    assert "<tr>" not in line and "3 requirements hold" in line
    assert html.count("<tr>") < 20  # rows grow with the drift, not with the 300 hosts
    assert len(html) < 300 * 600  # a few hundred bytes per compliant host


def test_html_shows_values_as_windows_does_and_causes_in_one_plain_line():
    big = fleet_report(3)
    html = drift_html(big, compare(None, big))
    assert "\\\\" not in html  # no doubled backslash anywhere
    assert "&#39;" not in html and "'C:" not in html  # no Python repr quotes
    assert "C:\\Python27" in html and "<code>NT SERVICE\\tacdemo</code>" in html
    assert "HTTPConnectionPool" not in html and "Max retries" not in html
    assert ("http://10.0.0.9:5985/wsman unreachable: connection refused; fix: check "
            "connection.address/port") in html
    failing = html[html.index('id="host-bad1"'):html.index('id="host-bad2"')]
    assert failing.count('<td class="fail">') == 2 and "set venv_base with sc.exe config" in failing


def test_json_keeps_facts_but_no_duplicated_text():
    big = fleet_report(3)
    written = json.loads(big.dumps())["hosts"]
    ok = written["ok000"]["findings"][0]
    assert ok == {"requirement": "venv_base", "ok": True,  # a value, not a Python repr
                  "found": "home C:\\Python311, version 3.11.x"}
    bad = next(f for f in written["bad1"]["findings"] if not f["ok"])
    assert bad["expected"] and bad["found"] and bad["fix"] and "host" not in bad
    assert written["gone"]["error"].startswith(
        "could not be checked: http://10.0.0.9:5985/wsman unreachable: connection refused;")
    audits = [windows_audit(f"h{i}") for i in range(100)]
    compact = report(*audits).dumps()
    assert '"expected"' not in compact and '"fix"' not in compact and '"host"' not in compact
    as_before = json.dumps({a.host: [asdict(f) for f in a.findings] for a in audits}, indent=2)
    assert len(compact) < len(as_before) / 2, (len(compact), len(as_before))


def test_terminal_summary_lists_only_hosts_that_are_not_compliant():
    from io import StringIO

    from rich.console import Console

    big = fleet_report()
    out = StringIO()
    print_drift(Console(file=out, width=200), big, compare(None, big))
    text = out.getvalue()
    assert "bad1" in text and "bad2" in text and "gone" in text
    assert "ok0" not in text
    assert "300 compliant, 2 drifting, 1 unreachable" in text
    assert len(text.splitlines()) < 20


def test_the_report_lists_what_remediation_did():
    did = Remediation.model_validate(
        {"hosts": ["bad1"], "provision_exit": 0, "errors": {},
         "steps": {"bad1": [{"title": "service account", "status": "changed",
                             "reasons": ["expected 'NT SERVICE\\\\tacdemo'"]}]}})
    fixed = report(windows_audit("bad1")).model_copy(update={"remediated": did})
    html = drift_html(fixed, compare(None, fixed))
    section = html[html.index('id="remediated"'):html.index('id="drifting"')]
    assert "bad1" in section and "service account" in section and "changed" in section
    assert "<code>NT SERVICE\\tacdemo</code>" in section


def test_plain_causes_from_each_transport_and_own_words_kept():
    from compliance.display import plain_cause

    lean = ("could not be checked: http://h:5985/wsman unreachable: ConnectionRefusedError: "
            "[Errno 111] Connection refused; fix: check connection.address/port")
    assert plain_cause(lean) == ("could not be checked: http://h:5985/wsman unreachable: "
                                 "connection refused; fix: check connection.address/port")
    dns = ("could not be checked: http://nohost:5985/wsman unreachable: gaierror: [Errno -2] "
           "Name or service not known")
    assert plain_cause(dns).endswith("unreachable: the name does not resolve (DNS)")
    odd = "could not be checked: http://h:1/wsman unreachable: OSError: [Errno 5] I/O error"
    assert plain_cause(odd).endswith("unreachable: i/o error")
    own = "could not be checked: TACFLEET_X is not set; fix: export TACFLEET_X"
    assert plain_cause(own) == own
    assert plain_cause("a\n  b; fix: c") == "a b; fix: c"  # one line


def test_only_exact_python_reprs_lose_their_quotes():
    from compliance.display import windows_plain

    assert windows_plain("home 'C:\\\\Python311'") == "home C:\\Python311"
    assert windows_plain("set 'C:\\Apps' by hand") == "set 'C:\\Apps' by hand"  # not a repr
    assert windows_plain("set 'C:\\tac' by hand") == "set 'C:\\tac' by hand"  # not a tab
    assert windows_plain("the host's venv and the user's") == "the host's venv and the user's"
