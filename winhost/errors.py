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

    fix = ("check connection.address/port in the inventory and that WinRM listens on the host "
           "(winrm quickconfig)")


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
