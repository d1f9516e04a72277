"""Drift alerts: a JSON webhook, Slack, Teams or e-mail, sent only when something changed.

``invoke drift --notify TARGET`` (repeatable). A target is

- ``https://…`` or ``http://…``: a webhook; the payload is picked by the URL's host (Slack's
  ``hooks.slack.com``; Teams' ``*.webhook.office.com``, ``*.logic.azure.com``,
  ``*.powerplatform.com``), else generic JSON; ``--notify-format json|slack|teams`` overrides.
- ``env:NAME``: the URL (or ``smtp://`` address) is in the environment variable ``NAME``.
  Slack and Teams webhook URLs are secrets: pass them this way, not on the command line.
- ``smtp://[user@]host[:port]?to=a@x,b@y[&from=…][&starttls=1][&password_env=NAME]`` (or
  ``smtps://`` for TLS from the start): an e-mail through that relay.

What is "changed" is judged per target against the last state that target was *told*
(``reports/notify-state.json``: failing host/requirement pairs and unreachable hosts): new
drift, fixed drift, a host newly unreachable, or one reachable again; and a ``--remediate``
that provisioned hosts is always news (the drift it fixed may never have been reported).
A failed delivery leaves that target's state as it was, so the next run tells it again; it is
reported in one line and never stops the run. A webhook URL's path and query (its token) are
never printed: targets are shown as ``scheme://host/…`` (and the reference, ``env:NAME``),
delivery errors in tacfleet's own words.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from pydantic import BaseModel, Field

from compliance.display import cause_of, plain_cause, windows_plain
from compliance.drift import DriftReport, atomic_write
from inventory.frozen import Frozen
from inventory.secrets import redact, remember
from winhost.errors import UsageError

FORMATS = ("json", "slack", "teams")
STATE_FILE = "notify-state.json"
TIMEOUT = 10.0
#: Items listed per section in a chat message or e-mail (the JSON payload lists them all).
MAX_LISTED = 25
_TEAMS_HOSTS = re.compile(r"(^|\.)(webhook\.office\.com|outlook\.office\.com|logic\.azure\.com|"
                          r"powerplatform\.com)$")


@dataclass(frozen=True)
class Target:
    """Where one alert goes; ``shown`` is safe to print, ``url`` is not."""

    given: str  # the --notify value (a literal URL is a secret too: only hashed, never shown)
    url: str
    kind: str  # json | slack | teams | email
    shown: str

    @property
    def key(self) -> str:
        """The target's key in the state file (a hash: the URL holds the token)."""
        return hashlib.sha256(self.given.encode()).hexdigest()[:16]


def _show(url: str, reference: str) -> str:
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.hostname or '?'}"
    if parts.port:
        base += f":{parts.port}"
    return f"{base}/… ({reference})" if reference else f"{base}/…"


def parse_target(given: str, fmt: str | None = None,
                 env: dict[str, str] | os._Environ[str] = os.environ) -> Target:
    """A ``--notify`` value as a :class:`Target`; a bad one is a :class:`UsageError`."""
    value = given.strip()
    reference = ""
    if value.startswith("env:"):
        name = value[4:]
        reference = value
        if not name or name not in env or not env[name].strip():
            raise UsageError(f"--notify {value}: the environment variable {name or '(empty)'} "
                             "is not set; fix: export it with the webhook URL or smtp:// address")
        value = env[name].strip()
    remember(value)  # whatever happens, the URL itself is never printed
    parts = urlsplit(value)
    if parts.path or parts.query:
        remember(parts.path + (f"?{parts.query}" if parts.query else ""))
    shown = _show(value, reference)
    if fmt and fmt not in FORMATS:
        raise UsageError(f"--notify-format {fmt!r} is not known; fix: use one of "
                         f"{', '.join(FORMATS)}")
    if parts.scheme in ("smtp", "smtps"):
        if not parse_qs(parts.query).get("to"):
            raise UsageError(f"--notify {shown}: an e-mail target needs ?to=address[,address]; "
                             "fix: e.g. smtp://relay.example.com:25?to=ops@example.com")
        return Target(given, value, "email", shown)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--notify {reference or parts.scheme + '://…'}: not a webhook URL; fix: "
                         "give https://…, smtp://host:port?to=… or env:NAME holding one")
    host = parts.hostname.lower()
    kind = fmt or ("slack" if host == "hooks.slack.com"
                   else "teams" if _TEAMS_HOSTS.search(host) else "json")
    return Target(given, value, kind, shown)


# -- what changed, per target ----------------------------------------------------------------
class NewDrift(Frozen):
    """A failing requirement the target has not been told about, values as Windows shows them."""

    host: str
    requirement: str
    expected: str
    found: str
    fix: str


class Unreachable(Frozen):
    host: str
    cause: str


@dataclass
class Event:
    """What a target has not been told yet."""

    new: list[NewDrift]
    fixed: list[tuple[str, str]]
    unreachable: list[Unreachable]
    recovered: list[str]
    #: hosts this run provisioned to fix drift (news even when the target never saw the drift)
    remediated: list[str]

    def __bool__(self) -> bool:
        return bool(self.new or self.fixed or self.unreachable or self.recovered
                    or self.remediated)


class Told(Frozen):
    """What one target has been told: the failing (host, requirement) pairs, the unreachable
    hosts, and the run they are from."""

    failing: list[tuple[str, str]] = Field(default_factory=list)
    unreachable: list[str] = Field(default_factory=list)
    run: str = ""


class NotifyState(BaseModel):
    """``notify-state.json``: what each target (by :attr:`Target.key`) has been told (the one
    model here that changes: each target's entry is replaced as it is told)."""

    targets: dict[str, Told] = {}


def state_of(report: DriftReport) -> Told:
    """What a target knows after being told about ``report``."""
    return Told(failing=sorted(report.failing_pairs()),
                unreachable=sorted(report.unreachable_hosts()), run=report.started)


def event_for(told: Told | None, report: DriftReport) -> Event:
    """The changes between what a target was told and ``report`` (hosts not in this run are
    left out: a run over part of the fleet says nothing about the rest)."""
    told = told or Told()
    hosts = report.hosts
    down_now = report.unreachable_hosts()
    was_failing = {(h, r) for h, r in told.failing if h in hosts and h not in down_now}
    was_down = {h for h in told.unreachable if h in hosts}
    now = report.failing_pairs()
    new = []
    for host, requirement in sorted(now - was_failing):
        finding = next(f for f in hosts[host].findings if f.label == requirement)
        new.append(NewDrift(host=host, requirement=requirement,
                            expected=windows_plain(finding.expected or ""),
                            found=windows_plain(finding.found or ""),
                            fix=windows_plain(finding.fix or "")))
    return Event(
        new=new,
        fixed=sorted(was_failing - now),
        unreachable=[Unreachable(host=h, cause=plain_cause(hosts[h].error))
                     for h in sorted(down_now - was_down)],
        recovered=sorted(was_down - down_now),
        remediated=list(report.remediated.hosts) if report.remediated else [],
    )


def merged_state(told: Told | None, report: DriftReport) -> Told:
    """The state after telling ``report``: this run's hosts replaced, the others kept."""
    hosts = set(report.hosts)
    told = told or Told()
    fresh = state_of(report)
    return Told(
        failing=sorted(p for p in told.failing if p[0] not in hosts) + fresh.failing,
        unreachable=sorted({h for h in told.unreachable if h not in hosts}
                           | set(fresh.unreachable)),
        run=fresh.run,
    )


def load_state(folder: Path) -> NotifyState:
    """What the targets were told (nothing, when the file is missing or unreadable)."""
    try:
        return NotifyState.model_validate_json((folder / STATE_FILE).read_bytes())
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return NotifyState()


# -- messages --------------------------------------------------------------------------------
def headline(report: DriftReport, event: Event) -> str:
    bits = [f"{len(event.new)} new drift" if event.new else "",
            f"{len(event.fixed)} fixed" if event.fixed else "",
            f"{len(event.unreachable)} newly unreachable" if event.unreachable else "",
            f"{len(event.recovered)} reachable again" if event.recovered else "",
            f"{len(event.remediated)} remediated" if event.remediated else ""]
    return f"tacfleet drift: {', '.join(b for b in bits if b)} ({report.inventory})"


def _section(title: str, items: list[str]) -> list[str]:
    shown = [title, *(f"- {item}" for item in items[:MAX_LISTED])]
    if len(items) > MAX_LISTED:
        shown.append(f"- … and {len(items) - MAX_LISTED} more (see the report)")
    return shown


def text_lines(report: DriftReport, event: Event, report_path: str = "") -> list[str]:
    """The alert as plain lines (e-mail body; Slack and Teams wrap the same lines)."""
    s = report.summary
    lines = [f"Run {report.started}: {s.compliant} compliant, {s.drift} drifting, "
             f"{s.unreachable} unreachable."]
    if event.new:
        lines += _section("New drift:", [
            f"{n.host}: {n.requirement}: expected {n.expected}, found {n.found}"
            + (f"; fix: {n.fix}" if n.fix else "") for n in event.new])
    if event.fixed:
        lines += _section("Fixed:", [f"{h}: {r}" for h, r in event.fixed])
    if event.unreachable:
        lines += _section("Newly unreachable:",
                          [f"{u.host}: {u.cause}" for u in event.unreachable])
    if event.recovered:
        lines += _section("Reachable again:", event.recovered)
    if event.remediated:
        lines += _section("Remediated (provisioned, then checked again):", [
            f"{h}: now {report.hosts[h].status if h in report.hosts else 'not checked'}"
            for h in event.remediated])
    if report_path:
        lines.append(f"Report: {report_path}")
    return lines


def payload(target_kind: str, report: DriftReport, event: Event,
            report_path: str = "") -> dict[str, Any]:
    """The body for a webhook of ``target_kind`` (json, slack or teams)."""
    title = headline(report, event)
    lines = text_lines(report, event, report_path)
    if target_kind == "slack":
        return {"text": "*" + title + "*\n" + "\n".join(lines)}
    if target_kind == "teams":
        body = [{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
                 "text": title}]
        body += [{"type": "TextBlock", "wrap": True, "spacing": "None", "text": line}
                 for line in lines]
        card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard", "version": "1.4", "body": body}
        return {"type": "message", "attachments": [  # Teams workflows and connectors
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
             "content": card}]}
    return {
        "source": "tacfleet", "event": "drift", "title": title,
        "started": report.started, "inventory": report.inventory,
        "summary": report.summary.model_dump(), "report": report_path,
        "new_drift": [n.model_dump() for n in event.new],
        "fixed": [{"host": h, "requirement": r} for h, r in event.fixed],
        "unreachable": [u.model_dump() for u in event.unreachable],
        "reachable_again": event.recovered,
        "remediated": [{"host": h, "now": report.hosts[h].status if h in report.hosts else ""}
                       for h in event.remediated],
        "text": "\n".join(lines),
    }


# -- delivery --------------------------------------------------------------------------------
def _why(exc: BaseException) -> str:
    """A delivery failure in tacfleet's words (library messages may quote the URL)."""
    if isinstance(exc, requests.Timeout | socket.timeout | TimeoutError):
        return f"no answer within {TIMEOUT:.0f}s"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the mail server refused the login (SMTP {exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the mail server refused the recipients"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the mail server answered SMTP {exc.smtp_code}"
    if isinstance(exc, ssl.SSLError):
        return "TLS failed (certificate or protocol)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    plain = cause_of(f"{type(exc).__name__} {exc}")
    return plain or f"{type(exc).__name__} (details not shown: they may quote the URL)"


def _post(target: Target, body: dict[str, Any]) -> None:
    answer = requests.post(target.url, json=body, timeout=TIMEOUT, allow_redirects=False)
    if answer.status_code >= 300:
        detail = " ".join(answer.text.split())[:80]
        raise _Refused(f"HTTP {answer.status_code}" + (f" ({redact(detail)})" if detail else ""))


def _mail(target: Target, report: DriftReport, event: Event, report_path: str) -> None:
    parts = urlsplit(target.url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    recipients = [a.strip() for a in query["to"].split(",") if a.strip()]
    message = EmailMessage()
    message["Subject"] = headline(report, event)
    message["From"] = query.get("from") or f"tacfleet@{socket.getfqdn()}"
    message["To"] = ", ".join(recipients)
    message.set_content("\n".join(text_lines(report, event, report_path)) + "\n")
    host = parts.hostname or "localhost"
    tls = parts.scheme == "smtps"
    port = parts.port or (465 if tls else 25)
    smtp_class = smtplib.SMTP_SSL if tls else smtplib.SMTP
    with smtp_class(host, port, timeout=TIMEOUT) as smtp:
        if not tls and (query.get("starttls") == "1" or port == 587):
            smtp.starttls(context=ssl.create_default_context())
        if parts.username:
            secret_env = query.get("password_env", "")
            password = os.environ.get(secret_env, "") if secret_env else ""
            if not password:
                raise _Refused(f"password_env {secret_env or '(not given)'} is not set")
            smtp.login(unquote(parts.username), password)
        smtp.send_message(message, to_addrs=recipients)


class _Refused(Exception):
    """A delivery the receiver refused; the message is tacfleet's own (safe to print)."""


@dataclass
class Outcome:
    target: Target
    sent: bool
    problem: str = ""

    def line(self) -> str:
        if self.problem:
            return (f"notify {self.target.shown}: not delivered: {self.problem} "
                    "(the run goes on; it will be sent again next run)")
        return f"notify {self.target.shown}: {'sent' if self.sent else 'nothing changed'}"


def notify(targets: Iterable[Target], report: DriftReport, folder: Path,
           report_path: str = "") -> list[Outcome]:
    """Tell each target what changed since it was last told; never raises for a delivery."""
    state = load_state(folder)
    outcomes = []
    for target in targets:
        told = state.targets.get(target.key)
        event = event_for(told, report)
        if not event:
            state.targets[target.key] = merged_state(told, report)
            outcomes.append(Outcome(target, sent=False))
            continue
        try:
            if target.kind == "email":
                _mail(target, report, event, report_path)
            else:
                _post(target, payload(target.kind, report, event, report_path))
        except _Refused as exc:
            outcomes.append(Outcome(target, sent=False, problem=str(exc)))
            continue
        except Exception as exc:  # a delivery failure never stops the run
            outcomes.append(Outcome(target, sent=False, problem=_why(exc)))
            continue
        state.targets[target.key] = merged_state(told, report)
        outcomes.append(Outcome(target, sent=True))
    atomic_write(folder / STATE_FILE, json.dumps(state.model_dump(mode="json"), indent=1))
    return outcomes
