"""What a host sends is untrusted text: ``strip_controls`` is the one way it is made safe to show.

A host's output, its facts and its faults' texts reach a terminal, a run log and the reports.
Terminal escape sequences in them could erase a "failed" line and print "ok" over it (``ESC [2K``,
a bare carriage return), set a window title (``ESC ]0;…BEL``) or worse. So every entry point
(the connection's decoded stdout/stderr, the probe's parsed facts, an error's text) passes what it
got through ``strip_controls``: CRLF becomes LF, and every other control character but newline
and tab is dropped: C0 (U+0000–U+001F: ESC, bare CR, BEL, backspace…), DEL (U+007F) and C1
(U+0080–U+009F, CSI U+009B among them). This module imports nothing of tacfleet.
"""

from __future__ import annotations

import re
from typing import TypeVar

#: Every control character but LF (U+000A) and TAB (U+0009).
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

T = TypeVar("T")


def strip_controls(value: T) -> T:
    """``value`` with control characters other than newline and tab stripped (CRLF → LF).

    A string is cleaned; a dict (keys and values), list or tuple is cleaned throughout, as JSON
    decodes (``"\\u001b"`` inside a JSON string is an ESC once decoded); anything else is
    returned as it is.
    """
    if isinstance(value, str):
        if "\r" in value:
            value = value.replace("\r\n", "\n")  # type: ignore[assignment]
        return CONTROLS.sub("", value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {strip_controls(k): strip_controls(v)  # type: ignore[return-value]
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(strip_controls(v) for v in value)
    return value

