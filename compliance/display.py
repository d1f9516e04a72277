"""Values and causes as people read them: Windows paths as Windows shows them, one plain line.

The requirements word their values with Python's ``repr`` (``'C:\\\\Python311'``), which is
exact but not what an operator sees in Explorer or ``sc qc``; and an unreachable host's cause
may carry urllib3's nested exception text. Reports show both the way Windows and people say
them; the facts themselves are not changed (``drift.json`` keeps what the probe read).
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import Any

#: A Python string literal that starts a value (not the apostrophe of "host's").
_LITERAL = re.compile(r"""(?<![\w'"\\])(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")(?![\w'"])""")

#: urllib3/requests wording -> the plain cause, first match wins.
_CAUSES = (
    (re.compile(r"Connection refused", re.I), "connection refused"),
    (re.compile(r"Read timed out|ReadTimeout", re.I), "no answer in time (read timeout)"),
    (re.compile(r"ConnectTimeout|connect timeout", re.I), "no answer to the connection "
     "(connect timeout)"),
    (re.compile(r"timed out|TimeoutError", re.I), "no answer in time (timeout)"),
    (re.compile(r"Name or service not known|nodename nor servname|Temporary failure in name "
                r"resolution|getaddrinfo failed|NameResolutionError", re.I),
     "the name does not resolve (DNS)"),
    (re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed", re.I),
     "the host's TLS certificate is not trusted"),
    (re.compile(r"SSLError|SSL:|wrong version number", re.I), "TLS handshake failed"),
    (re.compile(r"Connection reset|ECONNRESET|RemoteDisconnected|Connection aborted", re.I),
     "the connection was closed by the host"),
    (re.compile(r"No route to host|Network is unreachable|EHOSTUNREACH", re.I),
     "no network route to the host"),
)
_RAW = re.compile(r"HTTPS?ConnectionPool|Max retries exceeded|NewConnectionError|urllib3|"
                  r"\b\w+Error\(|\b\w+(Error|Exception|Refused|Reset|Timeout): |\[Errno -?\d+\]")


def _repr_value(literal: str) -> str | None:
    r"""The string whose Python ``repr`` is exactly ``literal``, else None (text a person
    quoted by hand, such as ``'C:\Apps'``, is not a repr and stays as written)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes: not a repr anyway
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            return None
    if not isinstance(value, str) or repr(value) != literal:
        return None
    # 'C:\tac' typed by a person would read as a tab: values with control characters are
    # left as written
    return None if any(ord(c) < 32 for c in value) else value


def windows_text(text: str) -> list[tuple[str, bool]]:
    """``text`` split into parts; each Python string literal becomes its value, flagged True.

    ``"home 'C:\\\\Python311', version 3"`` -> ``[("home ", False), ("C:\\Python311", True),
    (", version 3", False)]``: the caller shows flagged parts as code, without quotes.
    """
    parts: list[tuple[str, bool]] = []
    last = 0
    for match in _LITERAL.finditer(text):
        value = _repr_value(match.group(0))
        if value is None:
            continue
        if match.start() > last:
            parts.append((text[last:match.start()], False))
        parts.append((value, True))
        last = match.end()
    if last < len(text):
        parts.append((text[last:], False))
    return parts


def windows_plain(text: object) -> str:
    """``text`` with each Python string literal replaced by its value (for one-line output);
    a list (a typed ``drift.json`` value) as its items joined by commas."""
    return "".join(part for part, _ in windows_text(as_text(text)))


def as_text(value: object) -> str:
    """A report value as one line of text: a list's items joined by ", ", None as ""."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(as_text(v) for v in value)
    return str(value)


_INTEGER = re.compile(r"-?[0-9]+\Z")
_SCALAR = (str, int, float, bool)


def json_value(text: str) -> Any:
    r"""A requirement's value as a typed JSON value: a whole Python literal as what it holds
    (``'C:\\Python311'`` -> ``C:\Python311``, ``['a', 'b']`` -> a list, ``3`` -> a number),
    else the text with each quoted Python string in it as its value (``service 'tacdemo'``
    -> ``service tacdemo``). A version such as ``3.10`` stays text (as a float it would be
    3.1)."""
    whole = text.strip()
    if _INTEGER.match(whole):
        return int(whole)
    if whole[:1] in ("[", "("):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                value = ast.literal_eval(whole)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                value = None
        if isinstance(value, list | tuple) and all(isinstance(v, _SCALAR) for v in value):
            return list(value)
    return windows_plain(text)


def cause_of(text: str) -> str:
    """The plain cause named in a library's error text ("connection refused"), or ""."""
    return next((plain for pattern, plain in _CAUSES if pattern.search(text)), "")


def short_cause(error: str) -> str:
    """Only the cause of :func:`plain_cause` (for a summary row): no prefix, no fix."""
    head = plain_cause(error).partition("; fix: ")[0]
    return head.removeprefix("could not be checked: ")


def plain_cause(error: str) -> str:
    """An unreachable host's error as one plain line: urllib3's nested text becomes its cause.

    ``could not be checked: http://h:5985/wsman unreachable: ConnectionError:
    HTTPConnectionPool(...) ... [Errno 111] Connection refused')); fix: …`` ->
    ``could not be checked: http://h:5985/wsman unreachable: connection refused; fix: …``.
    Text tacfleet wrote itself (no urllib3 wording) is kept as is, on one line.
    """
    text = " ".join(error.split())
    head, sep, fix = text.partition("; fix: ")
    if not _RAW.search(head):
        return text
    cause = cause_of(head)
    prefix, colon, raw = head.partition(" unreachable: ")
    if not colon:  # no endpoint named: keep tacfleet's words before the raw text
        prefix, raw = "", head
    if not cause:
        errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", raw)
        cause = errno.group(1).strip().rstrip(".").lower() if errno else "the connection failed"
    line = f"{prefix} unreachable: {cause}" if prefix else cause
    return f"{line}{sep}{fix}"
