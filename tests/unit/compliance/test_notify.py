"""Drift alerts: only on change (per target), payload formats, targets that never show a token."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from compliance.audit import HostAudit
from compliance.drift import Remediation, build_report
from compliance.finding import Finding
from compliance.notify import (
    STATE_FILE,
    event_for,
    merged_state,
    notify,
    parse_target,
    payload,
)
from inventory.secrets import redact
from winhost.errors import UsageError

SLACK = "https://hooks.slack.com/services/T0000/B0000/h5unitTokenABC"


def audit(host, failing=(), error=""):
    findings = [Finding(r, host, r not in failing, "'C:\\\\x'", "'C:\\\\y'", "fix it")
                for r in ("a", "b")]
    return HostAudit(host, [] if error else findings, error=error)


def report(*audits):
    return build_report(list(audits), "inv.yml", time.time())


def test_only_changes_since_what_the_target_was_told_are_news():
    first = report(audit("h1"), audit("h2", ["a"]))
    event = event_for(None, first)  # never told: the drift that exists is news
    assert [(n.host, n.requirement) for n in event.new] == [("h2", "a")]
    assert event.new[0].found == "C:\\y"  # as Windows shows it
    told = merged_state(None, first)

    same = report(audit("h1"), audit("h2", ["a"]))
    assert not event_for(told, same)  # still drifting: nothing to say

    worse = report(audit("h1", ["b"]), audit("h2", ["a"]))
    event = event_for(told, worse)
    assert [(n.host, n.requirement) for n in event.new] == [("h1", "b")]
    told = merged_state(told, worse)

    fixed = report(audit("h1"), audit("h2", ["a"]))
    event = event_for(told, fixed)
    assert event.fixed == [("h1", "b")] and not event.new
    told = merged_state(told, fixed)

    down = report(audit("h1"), audit("h2", error="refused"))
    event = event_for(told, down)
    assert [u.host for u in event.unreachable] == ["h2"]
    assert not event.fixed  # h2's drift is unknown, not fixed
    told = merged_state(told, down)
    assert not event_for(told, report(audit("h1"), audit("h2", error="refused")))

    back = report(audit("h1"), audit("h2", ["a"]))
    event = event_for(told, back)
    assert event.recovered == ["h2"]


def test_a_run_over_part_of_the_fleet_keeps_what_the_others_were():
    told = merged_state(None, report(audit("h1", ["a"]), audit("h2", ["b"])))
    only_h1 = report(audit("h1", ["a"]))
    assert not event_for(told, only_h1)  # h2 not checked: not "fixed"
    assert ("h2", "b") in merged_state(told, only_h1).failing


def test_state_advances_only_for_targets_that_got_the_message(tmp_path):
    broken = parse_target("http://127.0.0.1:9/hook")  # discard port: nothing listens
    drifted = report(audit("h1", ["a"]))
    [outcome] = notify([broken], drifted, tmp_path)
    assert not outcome.sent and outcome.problem == "connection refused"
    assert "will be sent again" in outcome.line()
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert broken.key not in state["targets"]

    nothing = report(audit("h1"))
    quiet = parse_target("http://127.0.0.1:9/other")
    notify([quiet], report(audit("h1")), tmp_path)  # no news: recorded as told, nothing sent
    [outcome] = notify([quiet], nothing, tmp_path)
    assert not outcome.sent and not outcome.problem and "nothing changed" in outcome.line()


def test_targets_pick_their_format_and_never_show_their_token(monkeypatch):
    monkeypatch.setenv("H5_HOOK", SLACK)
    slack = parse_target("env:H5_HOOK")
    assert slack.kind == "slack" and slack.url == SLACK
    assert slack.shown == "https://hooks.slack.com/… (env:H5_HOOK)"
    assert "h5unitTokenABC" not in redact(f"posting to {SLACK} failed")
    assert parse_target("https://prod-12.westeurope.logic.azure.com/workflows/x").kind == "teams"
    assert parse_target("https://example.webhook.office.com/webhookb2/x").kind == "teams"
    assert parse_target("https://alerts.example.com/tacfleet").kind == "json"
    assert parse_target("https://alerts.example.com/x", "slack").kind == "slack"
    mail = parse_target("smtp://relay.example.com:25?to=ops@example.com")
    assert mail.kind == "email" and mail.shown == "smtp://relay.example.com:25/…"
    literal = parse_target(SLACK)
    assert "h5unitTokenABC" not in literal.shown and literal.key != slack.key


@pytest.mark.parametrize("spec, words", [
    ("env:H5_NOT_SET", "H5_NOT_SET is not set"),
    ("ftp://example.com/x", "not a webhook URL; fix: "),
    ("smtp://relay.example.com", r"needs \?to=.*; fix: "),
])
def test_bad_targets_are_refused_with_a_fix(spec, words):
    with pytest.raises(UsageError, match=words):
        parse_target(spec)


def test_bad_format_is_refused():
    with pytest.raises(UsageError, match="json, slack, teams"):
        parse_target("https://example.com/x", "discord")


def test_payloads_for_json_slack_and_teams():
    drifted = report(audit("h1", ["a"]), audit("h2", error="could not be checked: refused"))
    event = event_for(None, drifted)
    body = payload("json", drifted, event, "/r/drift.html")
    assert body["new_drift"] == [{"host": "h1", "requirement": "a", "expected": "C:\\x",
                                  "found": "C:\\y", "fix": "fix it"}]
    assert body["unreachable"] == [{"host": "h2", "cause": "could not be checked: refused"}]
    assert body["report"] == "/r/drift.html"
    assert "1 new drift, 1 newly unreachable" in body["title"]
    slack = payload("slack", drifted, event)
    assert set(slack) == {"text"} and "- h1: a: expected C:\\x, found C:\\y" in slack["text"]
    teams = payload("teams", drifted, event)
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [block["text"] for block in card["content"]["body"]]
    assert any("h2: could not be checked: refused" in t for t in texts)


def test_long_lists_are_cut_in_chat_but_complete_in_json():
    many = report(*[audit(f"h{i:03d}", ["a"]) for i in range(60)])
    event = event_for(None, many)
    assert len(payload("json", many, event)["new_drift"]) == 60
    text = payload("slack", many, event)["text"]
    assert "and 35 more" in text and text.count("\n- ") == 26


def test_email_goes_through_an_smtp_relay(tmp_path):
    """A minimal SMTP server on 127.0.0.1 (smtplib speaks to it for real)."""
    received: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"220 h5 ready\r\n")
            while line := reader.readline():
                verb = line[:4].upper()
                if verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    data = b""
                    while (chunk := reader.readline()) != b".\r\n":
                        data += chunk
                    received.append(data)
                    conn.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                elif verb == b"EHLO":
                    conn.sendall(b"250 h5\r\n")
                else:
                    conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    target = parse_target(f"smtp://127.0.0.1:{port}?to=ops@example.com,dba@example.com"
                          "&from=tacfleet@example.com")
    try:
        [outcome] = notify([target], report(audit("h1", ["b"])), Path(tmp_path), "/r.html")
    finally:
        thread.join(5)
        server.close()
    assert outcome.sent, outcome.problem
    mail = received[0].decode()
    assert "Subject: tacfleet drift: 1 new drift (inv.yml)" in mail
    assert "To: ops@example.com, dba@example.com" in mail
    assert "- h1: b: expected C:\\x, found C:\\y; fix: fix it" in mail


def test_a_remediation_is_news_even_if_the_drift_never_was_reported():
    told = merged_state(None, report(audit("h1")))
    fixed_in_this_run = report(audit("h1"))
    fixed_in_this_run = fixed_in_this_run.model_copy(
        update={"remediated": Remediation(hosts=["h1"], provision_exit=0)})
    event = event_for(told, fixed_in_this_run)
    assert event and event.remediated == ["h1"] and not event.new and not event.fixed
    body = payload("json", fixed_in_this_run, event)
    assert body["remediated"] == [{"host": "h1", "now": "compliant"}]
    assert "1 remediated" in body["title"]
    assert "- h1: now compliant" in payload("slack", fixed_in_this_run, event)["text"]
