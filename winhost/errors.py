"""Errors of tacfleet, rooted in one class; messages name the host and never carry a secret.

``TacfleetError`` is the one root: a per-host boundary (fleet, audit, drift, pytest session) and
the command line catch it, and only it, as "something tacfleet knows how to explain". Families:

- ``HostError``: talking to one host (unreachable, credentials, timeouts, lost connections).
- ``OutputError`` (also a ``ValueError``): a host's answer that cannot be read (the probe's).
- ``CommandError`` (also a ``ValueError``): a command line that cannot be built safely.
- ``UsageError`` (also a ``ValueError``): a bad command-line option value.
- ``inventory.errors.InventoryError``: a bad inventory, selection or secret reference.

Each class may carry a ``fix`` (how to put it right); :func:`explain` joins cause and fix.
This module imports nothing of tacfleet but ``winhost.untrusted`` (which imports nothing), so
every layer can import it. Every message is shown through :func:`explain`, which strips control
characters: an error's text can quote what a host sent (a fault's reason, a tool's output).
"""

from __future__ import annotations

from winhost.untrusted import strip_controls


class TacfleetError(Exception):
    """The root of every error tacfleet raises on purpose; ``fix`` says what to do about it."""

    fix: str = ""


class UsageError(TacfleetError, ValueError):
    """A command-line option with a value tacfleet cannot use."""


class OutputError(TacfleetError, ValueError):
    """A host answered, but not in a shape tacfleet can read (probe, tool output)."""

    fix = "run `invoke facts --host HOST --debug` and file the output with the tacfleet issue"


class CommandError(TacfleetError, ValueError):
    """A command line that cannot be built safely from the inventory's values."""

    fix = "change the inventory value named in the message"


def explain(exc: BaseException) -> str:
    """``cause; fix: …`` for a known error (one line); the type and text of an unknown one."""
    if not isinstance(exc, TacfleetError):
        text = " ".join(strip_controls(str(exc)).split()) or "no message"
        return f"unexpected {type(exc).__name__}: {text}; fix: rerun with --debug and report it"
    text = strip_controls(str(exc))
    fix = getattr(exc, "fix", "")
    if not fix or "fix:" in text:
        return text
    return f"{text}; fix: {fix}"


def host_problem(exc: BaseException, host: str) -> str:
    """:func:`explain` for a result that already names ``host`` (its prefix dropped)."""
    return explain(exc).removeprefix(f"{host}: ")


class HostError(TacfleetError):
    """Something went wrong with one host; ``host`` names it."""

    fix = "run `invoke facts --host HOST` to see what the host answers"

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {strip_controls(message)}")
        self.host = host
        self.fix = self.fix.replace("HOST", host)


class HostUnreachable(HostError):
    """The host did not answer (connection refused, reset, DNS, TLS)."""

    fix = ("`invoke doctor --host HOST` shows which layer fails; check connection.address/port "
           "in the inventory and that WinRM listens on the host (winrm quickconfig)")


class AuthenticationFailed(HostError):
    """The host rejected the credentials."""

    fix = "check connection.user and the password its reference holds"


class CommandTimeout(HostError):
    """A command ran past its deadline and was terminated."""

    fix = "the host is hung or overloaded: look at it, or raise the deadline (check_deadline)"


class ConnectionLost(HostError):
    """The connection broke while a command that changes the host was running.

    Such a command is not retried: it may or may not have run; the next probe tells.
    """

    fix = "run the same command again: the next probe shows what was applied"


class ProgramNotFound(HostError):
    """A program run without cmd.exe does not exist on the host (Windows error 2 or 3).

    WinRS refuses such a Command with a WS-Management fault whose code is 0x80070002 or
    0x80070003; nothing ran.
    """


class TamperedAnswer(HostError):
    """A connection that seals (NTLM/Kerberos/CredSSP over HTTP) got an answer that is not
    sealed, or does not unseal: something between the controller and the host may forge it."""

    fix = ("check the network path to the host (a proxy or another machine answering in its "
           "place); use HTTPS with a validated certificate (connection.https, ca_file)")


class OversizedAnswer(HostError):
    """An HTTP answer larger than twice the host's envelope size: refused, connection closed."""

    fix = ("look at the host's WinRM listener and the network path; if the host's "
           "MaxEnvelopeSizekb was raised on purpose, set connection.max_envelope_kb to match")


class OutputTooLarge(HostError):
    """A command's output (stdout and stderr, all Receives) passed the connection's limit; the
    command was terminated."""

    fix = ("look at the host: a program that prints without end is hung or not what it should "
           "be; a command that truly prints this much should write to a file on the host")


# -- a connection's failure in tacfleet's words -------------------------------------------------
#: Text of a library's error (urllib3, requests, http.client, ssl) -> what it means, first match
#: wins; ``{where}`` is ``address:port``, ``{address}`` the address alone.
_WORDS = (
    (("gaierror", "nameresolutionerror", "name or service not known", "nodename nor servname",
      "temporary failure in name resolution", "getaddrinfo failed", "no address associated"),
     "{address}: name not found (DNS)"),
    (("connectionrefused", "connection refused", "actively refused"),
     "connection refused on {where}"),
    (("certificate_verify_failed", "certificate verify failed", "sslcertverificationerror"),
     "TLS: certificate not trusted ({detail})"),
    (("connecttimeout", "connect timeout", "connection to .* timed out", "timed out connecting"),
     "timed out connecting to {where}"),
    (("readtimeout", "read timed out", "no answer within", "timeouterror", "timed out"),
     "no answer from {where} in time (read timeout)"),
    (("wrong version number", "sslerror", "ssl:"),
     "TLS handshake with {where} failed ({detail})"),
    (("connectionreset", "connection reset", "econnreset", "remotedisconnected",
      "connection aborted", "connection was closed", "connection closed", "badstatusline"),
     "connection to {where} closed by the host"),
    (("no route to host", "ehostunreach"), "no route to {address}"),
    (("network is unreachable", "enetunreach"), "network unreachable for {address}"),
)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: causes, contexts, urllib3's ``reason``, requests' args."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 12:
        item = todo.pop(0)
        if item in seen:
            continue
        seen.append(item)
        todo += [e for e in (item.__cause__, item.__context__, getattr(item, "reason", None),
                             *item.args) if isinstance(e, BaseException)]
    return seen


def _tls_detail(chain: list[BaseException], text: str) -> str:
    """Why TLS failed, as OpenSSL says it (``self-signed certificate``, ``Hostname mismatch``)."""
    import re
    import ssl

    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError) and item.verify_message:
            return str(item.verify_message)
    found = re.search(r"certificate verify failed: ([^(')\]]+)|\] ([a-z][^(')\]]+) \(_ssl", text)
    detail = (found.group(1) or found.group(2)).strip() if found else ""
    return detail or "see --debug"


def connection_words(exc: BaseException, address: str | None, port: int | str | None
                     ) -> str:
    """A failure to reach ``address:port`` as tacfleet says it: ``web01.example.com: name not
    found (DNS)``, ``connection refused on 127.0.0.1:5986``, ``timed out connecting to …``,
    ``TLS: certificate not trusted (self-signed certificate)``. The one mapping every task
    uses (through the connection's errors and ``invoke doctor``); Python's exception class and
    its text only with ``--debug`` (``TACFLEET_DEBUG``)."""
    import os
    import re

    chain = _chain(exc)
    text = " ".join(f"{type(e).__name__}: {e}" for e in chain)
    lowered = text.lower()
    where = f"{address}:{port}"
    words = f"cannot connect to {where} ({strip_controls(str(chain[-1]))[:200]})"
    for needles, template in _WORDS:
        if any(re.search(n, lowered) for n in needles):
            words = template.format(where=where, address=address,
                                    detail=_tls_detail(chain, text))
            break
    if os.environ.get("TACFLEET_DEBUG", "") not in ("", "0"):
        words += f" [{strip_controls(text)[:400]}]"
    return words
