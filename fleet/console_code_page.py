"""The code page tacfleet writes its output in on a Windows controller.

Windows' console programs write a pipe or file in the console's output code page (the OEM one:
437, 850, 932…), and their readers decode with it: cmd, PowerShell (``[Console]::
OutputEncoding``), WinRM's clients. Python writes a pipe in the ANSI code page (1252) instead,
so through WinRM or into a scheduled task's log "…" arrives as "à" (measured through the
sandbox's WinRM, OEM code page 437), and a character outside the code page raises
UnicodeEncodeError.
So on Windows, unless the user chose an encoding (``PYTHONIOENCODING``, ``PYTHONUTF8`` /
``-X utf8``), stdout and stderr that are not a console are re-encoded to the console's output
code page (``GetConsoleOutputCP``; ``GetOEMCP`` when there is no console), characters it lacks
replaced by "?"; pytest run by ``invoke check`` inherits the choice (``PYTHONIOENCODING``).
A console needs nothing: Python writes it in UTF-16 (PEP 528).
"""

from __future__ import annotations

import io
import os
import sys


def use_console_code_page() -> None:
    """Make non-console stdout/stderr use the console's code page (Windows only, see above)."""
    if sys.platform != "win32" or os.environ.get("PYTHONIOENCODING") or sys.flags.utf8_mode:
        return
    import ctypes

    kernel = ctypes.windll.kernel32
    encoding = f"cp{kernel.GetConsoleOutputCP() or kernel.GetOEMCP()}"
    piped = False
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not stream.isatty():
            stream.reconfigure(encoding=encoding, errors="replace")
            piped = piped or stream is sys.stdout
    if piped:
        os.environ["PYTHONIOENCODING"] = f"{encoding}:replace"
