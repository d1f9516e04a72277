"""Run a command as a person would see it: in a terminal window of a given size, or piped.

The terminal is a tmux window (a private server): to the child a real terminal (``isatty`` is
true, ``TIOCGWINSZ`` gives its size), and what is captured is the screen a person reads at the
end, scrollback included (a live display's redrawn frames are gone, as from a real terminal).
Piped, the child sees no terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: ANSI escape sequences (colours, cursor moves of a live display).
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@dataclass
class Shown:
    code: int
    text: str  # what the terminal showed (pty) or stdout and stderr (piped), ANSI removed
    raw: str
    seconds: float


def piped(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None,
          timeout: float = 300) -> Shown:
    """``argv`` with stdout and stderr into pipes (no terminal), as in CI or ``| tee``."""
    environ = {**os.environ, **(env or {})}
    for name in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE"):
        environ.pop(name, None)
    started = time.monotonic()
    done = subprocess.run(list(argv), capture_output=True, env=environ, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    text = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    return Shown(done.returncode, text, text, time.monotonic() - started)


def in_terminal(argv: Sequence[str], *, columns: int = 80, rows: int = 50,
            env: dict[str, str] | None = None, cwd: str | None = None,
            timeout: float = 300) -> Shown:
    """``argv`` in a tmux window of ``columns`` x ``rows`` (a private tmux server): the screen
    as a person reads it once the command has ended, scrollback included (a live display's
    redrawn frames are gone, as they are from a real terminal)."""
    import shlex
    import shutil
    import tempfile

    tmux = shutil.which("tmux")
    if tmux is None:
        raise FileNotFoundError("tmux is not installed (bootstrap.sh test installs it)")
    with tempfile.TemporaryDirectory(prefix="tacfleet-tmux-") as folder:
        socket, code_file = f"{folder}/tmux.sock", f"{folder}/code"
        environ = {k: v for k, v in {**os.environ, **(env or {})}.items()
                   if k not in ("TMUX", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
        inner = (f"cd {shlex.quote(cwd or os.getcwd())} && {shlex.join(argv)}; "
                 f"echo $? > {shlex.quote(code_file)}")
        config = Path(folder) / "tmux.conf"  # before the pane exists: its scrollback size
        config.write_text("set-option -g history-limit 20000\n")
        base = [tmux, "-S", socket, "-f", str(config)]
        started = time.monotonic()
        subprocess.run([*base, "new-session", "-d", "-x", str(columns), "-y", str(rows),
                        "sh", "-c", inner + "; sleep 600"], env=environ, check=True)
        try:
            while not _read(code_file):
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"{argv} ran over {timeout} s")
                time.sleep(0.2)
            seconds = time.monotonic() - started
            time.sleep(0.3)  # the last output reaches the pane
            screen = subprocess.run([*base, "capture-pane", "-p", "-S", "-20000"],
                                    capture_output=True, text=True, check=True).stdout
        finally:
            subprocess.run([*base, "kill-server"], capture_output=True)
        code = int(_read(code_file))
    text = "\n".join(line.rstrip() for line in screen.splitlines()).strip("\n") + "\n"
    return Shown(code, text, screen, seconds)


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except FileNotFoundError:
        return ""
