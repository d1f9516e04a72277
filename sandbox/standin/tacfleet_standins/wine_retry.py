"""Retry ``CreateProcess`` when Wine fails it with ERROR_INTERNAL_ERROR (1359).

Wine's ``NtCreateUserProcess`` returns STATUS_INTERNAL_ERROR when the new process dies in Wine's
loader before it reports back (its preloader could not reserve an address range it needs, a
random collision). Seen here about once per full test run, as ``[WinError 1359] Internal error``
from ``subprocess``. Windows does not fail this way, so the sandbox host's Python retries the
call a few times; a real failure (any other error, or 1359 four times) is raised unchanged.
Loaded at start-up by ``tacfleet_wine_retry.pth`` in the image's ``Lib\\site-packages``.
"""

from __future__ import annotations

import time
from typing import Any

ERROR_INTERNAL_ERROR = 1359
ATTEMPTS = 4


def wrap(create: Any) -> Any:
    """``create`` (``_winapi.CreateProcess``) retried on error 1359."""
    if getattr(create, "tacfleet_retry", False):
        return create

    def create_process(*args: Any) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return create(*args)
            except OSError as exc:
                if getattr(exc, "winerror", None) != ERROR_INTERNAL_ERROR or attempt == ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    create_process.tacfleet_retry = True  # type: ignore[attr-defined]
    return create_process


def install() -> None:
    """Patch ``_winapi.CreateProcess`` (what ``subprocess`` calls) on Windows; no-op elsewhere."""
    try:
        import _winapi  # type: ignore[import-not-found]
    except ImportError:
        return
    _winapi.CreateProcess = wrap(_winapi.CreateProcess)
