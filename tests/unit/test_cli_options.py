"""Bad options are one line and exit 2; ``-h`` is help on every task (issue 35, item 4).

Most cases run Invoke's real program in this process over tacfleet's tasks (``invoke`` as a
checkout runs it, and ``tacfleet``: :class:`tacfleet_tasks.Program`); one runs the installed
``invoke`` binary in a pseudo-terminal of 80 columns and through a pipe, as a user sees it.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import invoke
import pytest

import tacfleet_tasks as tasks
from tests.unit.test_tacfleet_cli import walk

ROOT = Path(__file__).resolve().parents[2]
INVOKE = Path(sys.executable).with_name("invoke")


def run(argv: list[str], capsys: pytest.CaptureFixture[str], *, program: type = invoke.Program
        ) -> tuple[int, str, str]:
    """``invoke ARGV`` (or ``tacfleet ARGV``) in this process: exit code, stdout, stderr."""
    binary = "tacfleet" if program is tasks.Program else "invoke"
    with pytest.raises(SystemExit) as exited:
        program(namespace=tasks.ns, name=binary, binary=binary).run([binary, *argv])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.mark.parametrize(("argv", "flag", "value", "expected"), [
    (["provision", "--parallel", "abc"], "--parallel", "'abc'", "a whole number of 1 or more"),
    (["provision", "--parallel", "0"], "--parallel", "'0'", "a whole number of 1 or more"),
    (["provision", "--canary", "-1"], "--canary", "'-1'", "a whole number of 0 or more"),
    (["drift", "--processes", "x"], "--processes", "'x'", "a whole number of 0 or more"),
    (["drift", "--parallel", "2.5"], "--parallel", "'2.5'", "a whole number"),
    (["drift", "--deadline", "soon"], "--deadline", "'soon'", "a number of seconds"),
    (["drift", "--deadline", "nan"], "--deadline", "'nan'", "a number of seconds"),
    (["sandbox.up", "--port", "http"], "--port", "'http'", "a whole number of 1 or more"),
    (["sandbox.fault", "--http-500", "many"], "--http-500", "'many'", "a whole number"),
])
def test_a_bad_number_is_one_line_naming_option_value_and_what_it_takes(
        argv, flag, value, expected, capsys):
    code, _out, err = run(argv, capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{flag} {value}: expected {expected}" in err
    assert f"fix: e.g. {flag} " in err and "-h lists the options" in err


def test_a_fractional_deadline_is_seconds(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(tasks.cli, "logged", lambda *a, **k: seen.update(k) or 0)
    code, _, err = run(["drift", "--deadline", "1.5", "--log", "-"], capsys)
    assert code == 0, err
    assert seen["deadline"] == 1.5


@pytest.mark.parametrize("task", sorted(name for name, _ in walk(tasks.ns)))
def test_h_is_help_on_every_task(task, capsys):
    code, out, err = run([task, "-h"], capsys)
    assert code == 0, err
    assert out.startswith(f"Usage: invoke [--core-opts] {task} ") and "Options:" in out


def test_host_is_capital_h(capsys):
    code, out, _ = run(["plan", "-h"], capsys)
    assert code == 0 and "-H STRING, --host=STRING" in out


def test_tacfleet_says_an_unknown_option_in_one_line_with_exit_2(capsys):
    code, _, err = run(["provision", "--paralel", "3"], capsys, program=tasks.Program)
    assert code == 2
    assert err == ("No idea what '--paralel' is!; fix: `tacfleet provision -h` lists what it "
                   "takes\n")
    code, _, err = run(["plan", "--host"], capsys, program=tasks.Program)
    assert code == 2 and err.startswith("Flag --host needed value and was not given one!")


def test_list_descriptions_are_whole_sentences():
    import inspect

    from invoke.util import helpline

    for name, task in walk(tasks.ns):
        line = helpline(task) or ""
        assert line.endswith((".", ")")), (name, line)
        for line in inspect.getdoc(task.body).splitlines():  # `-h` shows it indented by 2
            assert len(line) <= 76, (name, line)


def _pty_run(argv: list[str], columns: int = 80) -> tuple[int, str]:
    """Run ``argv`` in a pseudo-terminal of ``columns`` columns: exit code, what it showed."""
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm"}
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, cwd=ROOT,
                            env=env, close_fds=True)
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the follower side closed: the program ended
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=10), b"".join(chunks).decode("utf-8", "replace")


def test_the_invoke_binary_at_80_columns_and_piped():
    argv = [str(INVOKE), "provision", "--parallel", "abc"]
    code, shown = _pty_run(argv)
    want = ("provision: --parallel 'abc': expected a whole number of 1 or more; fix: e.g. "
            "--parallel 8 (invoke provision -h lists the options)")
    assert code == 2 and "Traceback" not in shown
    assert " ".join(shown.split()) == want  # the terminal wraps it; nothing else is said
    piped = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (piped.returncode, piped.stdout, piped.stderr) == (2, "", want + "\n")
    code, shown = _pty_run([str(INVOKE), "plan", "-h"])
    assert code == 0 and "-H STRING, --host=STRING" in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
