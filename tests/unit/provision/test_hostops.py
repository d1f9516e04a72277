"""The host_ops service and file ops, run for real under this Python against a scripted ``sc``.

The fake ``sc`` prints what Windows' sc.exe prints (``STATE : 4 RUNNING``, exit 1060 for an
unknown service, 1061 for a control it cannot accept now) from a state file; each test scripts
the states a real service passes through.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from provision.hostops import host_ops

FAKE_SC = textwrap.dedent('''\
    import json, os, sys
    path = os.environ["FAKE_SC_STATE"]
    s = json.load(open(path))
    verb, name = sys.argv[1], sys.argv[2]
    s["calls"].append(verb)
    codes = {"STOPPED": 1, "START_PENDING": 2, "STOP_PENDING": 3, "RUNNING": 4}
    def save():
        json.dump(s, open(path, "w"))
    if verb == "query":
        if not s["states"]:
            print("[SC] EnumQueryServicesStatus:OpenService FAILED 1060:"); save(); sys.exit(1060)
        now = s["states"][0] if len(s["states"]) == 1 else s["states"].pop(0)
        print("SERVICE_NAME: %s\\n        TYPE               : 10  WIN32_OWN_PROCESS\\n"
              "        STATE              : %d  %s" % (name, codes[now], now))
        save(); sys.exit(0)
    if verb == "stop":
        s["states"] = s.pop("after_stop"); save(); sys.exit(s.get("stop_rc", 0))
    if verb == "start":
        s["states"] = s.pop("after_start"); save(); sys.exit(0)
    sys.exit(87)
''')


@pytest.fixture
def sc(tmp_path, monkeypatch):
    script = tmp_path / "sc"
    script.write_text(f"#!{sys.executable}\n{FAKE_SC}")
    script.chmod(0o755)
    state = tmp_path / "state.json"
    monkeypatch.setenv("FAKE_SC_STATE", str(state))

    def scripted(**values: object) -> Path:
        state.write_text(json.dumps({"calls": [], **values}))
        return state

    return str(script), scripted


def _run(*ops: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, *host_ops("C:\\Python311\\python.exe", *ops).argv[1:]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def calls(state: Path) -> list[str]:
    return json.loads(state.read_text())["calls"]


def test_stop_waits_through_stop_pending_then_replaces_and_starts_again(sc, tmp_path):
    program, scripted = sc
    state = scripted(states=["RUNNING"], after_stop=["STOP_PENDING", "STOP_PENDING", "STOPPED"],
                     after_start=["START_PENDING", "RUNNING"])
    dest, part = tmp_path / "nssm.exe", tmp_path / "nssm.exe.part"
    dest.write_bytes(b"old")
    part.write_bytes(b"new")
    digest = hashlib.sha256(b"new").hexdigest()
    done = _run(("verify", str(part), digest), ("stop", program, "svc", "10"),
                ("replace", str(part), str(dest)), ("start", program, "svc", "10"))
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == b"new"
    assert calls(state)[:2] == ["query", "stop"] and "start" in calls(state)
    assert calls(state).index("start") > calls(state).index("stop") + 3  # waited for STOPPED


def test_a_file_with_the_wrong_sha256_is_removed_and_nothing_is_stopped(sc, tmp_path):
    program, scripted = sc
    state = scripted(states=["RUNNING"], after_stop=["STOPPED"])
    dest, part = tmp_path / "nssm.exe", tmp_path / "nssm.exe.part"
    dest.write_bytes(b"old")
    part.write_bytes(b"truncated")
    done = _run(("verify", str(part), "0" * 64), ("stop", program, "svc", "10"),
                ("replace", str(part), str(dest)))
    assert done.returncode == 1 and "not " + "0" * 64 in done.stderr
    assert dest.read_bytes() == b"old" and not part.exists()
    assert calls(state) == []


def test_a_service_stuck_in_stop_pending_is_a_clear_error_within_the_bound(sc):
    program, scripted = sc
    scripted(states=["STOP_PENDING"], after_stop=["STOP_PENDING"], stop_rc=1061)
    done = _run(("stop", program, "svc", "2"))
    assert done.returncode == 1
    assert "still STOP_PENDING 2 s after the stop" in done.stderr


def test_start_only_restarts_what_this_command_stopped(sc):
    program, scripted = sc
    state = scripted(states=["STOPPED"], after_start=["RUNNING"])
    assert _run(("stop", program, "svc", "5"), ("start", program, "svc", "5")).returncode == 0
    assert "start" not in calls(state) and "stop" not in calls(state)


def test_gone_waits_until_the_service_is_unknown(sc):
    program, scripted = sc
    scripted(states=["STOPPED", "STOPPED", "STOPPED"])  # the last one stays: never gone
    done = _run(("gone", program, "svc", "2"))
    assert done.returncode == 1 and "still known (STOPPED)" in done.stderr
    scripted(states=[])
    assert _run(("gone", program, "svc", "2")).returncode == 0


def test_a_program_that_never_ran_0xC0000142_runs_once_more(tmp_path: Path) -> None:
    """STATUS_DLL_INIT_FAILED: the program failed before its own code ran, so a rerun is safe;
    any other exit code stands. Windows' exit code is simulated by the first call's result."""
    from provision.hostops import BOOTSTRAP

    prelude = textwrap.dedent('''\
        import subprocess, sys
        real, calls, first = subprocess.run, [], int(sys.argv[1], 16)
        def run(argv, **options):
            calls.append(argv)
            sys.stderr.write('call %d\\n' % len(calls))
            if len(calls) == 1:
                return subprocess.CompletedProcess(argv, first, b'', b'')
            return real(argv, **options)
        subprocess.run = run
        del sys.argv[1]
    ''')
    marker = tmp_path / "ran"
    program = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]

    def host(first_rc: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", prelude + BOOTSTRAP, first_rc,
                               str(len(program) + 1), "run", *program],
                              capture_output=True, text=True)

    rerun = host("C0000142")
    assert rerun.returncode == 0 and "call 2" in rerun.stderr and marker.exists()
    marker.unlink()
    failed = host("5")
    assert failed.returncode == 5 and "call 2" not in failed.stderr and not marker.exists()


def test_reports_show_an_upload_chunk_and_the_script_by_their_size() -> None:
    """An installer upload is over a thousand 26-32 KB chunks: printed whole, a failed step would
    flood the terminal and drift.json with megabytes of base64."""
    from provision.report import shown

    chunk = "QUJD" * 4000  # with the script, near CreateProcess's limit
    line = host_ops("C:\\Py (x86)\\python.exe", ("write", "C:\\a b\\n.exe.part", "ab", chunk),
                    ("replace", "C:\\a b\\n.exe.part", "C:\\a b\\n.exe")).line
    printed = shown(line)
    assert chunk not in printed and "<16,000 characters>" in printed
    assert '"C:\\Py (x86)\\python.exe" -I -c <' in printed
    assert 'replace "C:\\a b\\n.exe.part" "C:\\a b\\n.exe"' in printed
    plain = '"C:\\Windows\\System32\\sc.exe" start "tac demo"'
    assert shown(plain) == plain


#: A stand-in for ``winreg`` (Linux has none) that records what the script writes.
FAKE_WINREG = textwrap.dedent('''\
    import json, sys, types
    record = sys.argv.pop(1)
    winreg = types.ModuleType('winreg')
    winreg.HKEY_LOCAL_MACHINE, winreg.KEY_SET_VALUE, winreg.REG_MULTI_SZ = 'HKLM', 2, 7
    class Key:
        def __init__(self, path): self.path = path
        def __enter__(self): return self
        def __exit__(self, *exc): return False
    def save(*call):
        with open(record, 'a') as f: f.write(json.dumps(call) + '\\n')
    winreg.OpenKey = lambda root, path, reserved, access: Key(root + '\\\\' + path)
    winreg.SetValueEx = lambda key, name, reserved, kind, value: save(
        'set', key.path, name, kind, value)
    winreg.DeleteValue = lambda key, name: save('delete', key.path, name)
    sys.modules['winreg'] = winreg
''')


def _run_with_stdin(record: Path, stdin: bytes, *ops: tuple[str, ...],
                    prelude: str = FAKE_WINREG) -> subprocess.CompletedProcess[bytes]:
    argv = host_ops("C:\\Python311\\python.exe", *ops).argv
    return subprocess.run([sys.executable, "-c", prelude + argv[3], str(record), *argv[4:]],
                          input=stdin, capture_output=True, timeout=60, check=False)


def test_setenv_writes_the_environment_from_standard_input_as_nssm_stores_it(tmp_path):
    """The values reach the host over standard input only: the command line holds the
    service's name and a byte count; the registry gets them as one REG_MULTI_SZ."""
    from provision.hostops import environment_stdin, secret_stdin

    entries = ["DB_PASSWORD=canary-5f0e \"quoted\" %PATH% ü", "TACDEMO_PORT=58080"]
    sizes, stdin = secret_stdin(environment_stdin(entries))
    command = host_ops("C:\\Python311\\python.exe", ("setenv", "tac demo", *sizes))
    assert "canary-5f0e" not in command.line and "TACDEMO_PORT" not in command.line
    record = tmp_path / "winreg.jsonl"
    done = _run_with_stdin(record, stdin, ("setenv", "tac demo", *sizes))
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in record.read_text().splitlines()] == [[
        "set", "HKLM\\SYSTEM\\CurrentControlSet\\Services\\tac demo\\Parameters",
        "AppEnvironmentExtra", 7, entries]]


def test_setenv_with_no_entries_removes_the_value_and_refuses_junk_without_echoing_it(tmp_path):
    from provision.hostops import environment_stdin, secret_stdin

    record = tmp_path / "winreg.jsonl"
    sizes, stdin = secret_stdin(environment_stdin([]))
    assert _run_with_stdin(record, stdin, ("setenv", "svc", *sizes)).returncode == 0
    assert json.loads(record.read_text()) == [
        "delete", "HKLM\\SYSTEM\\CurrentControlSet\\Services\\svc\\Parameters",
        "AppEnvironmentExtra"]
    sizes, stdin = secret_stdin(environment_stdin(["=secret-7a1b", "NOVALUE"]))
    refused = _run_with_stdin(tmp_path / "none.jsonl", stdin, ("setenv", "svc", *sizes))
    assert refused.returncode == 1 and b"not a list of NAME=value" in refused.stderr
    assert b"secret-7a1b" not in refused.stderr and not (tmp_path / "none.jsonl").exists()
    cut = _run_with_stdin(tmp_path / "none.jsonl", stdin[:5], ("setenv", "svc", *sizes))
    assert cut.returncode == 1 and b"standard input ended after 5 of" in cut.stderr


def test_runfile_gives_the_secret_in_a_file_named_by_the_program_s_environment_only(tmp_path):
    """``runfile`` writes the netrc read from standard input into a fresh admin-only folder,
    names it by NETRC in the environment of the program it starts, removes the folder after
    (also when the program fails); the next op reads the rest of standard input."""
    from provision.hostops import environment_stdin, secret_stdin

    netrc = b"machine pypi.example\nlogin deploy\npassword canary-91c3\n"
    sizes, stdin = secret_stdin(netrc, environment_stdin(["A=1"]))
    seen = tmp_path / "seen.json"
    program = [sys.executable, "-c", "import json, os, stat, sys; p = os.environ['NETRC']; "
               "json.dump([p, open(p).read(), stat.S_IMODE(os.stat(os.path.dirname(p)).st_mode),"
               " sys.stdin.read()], open(sys.argv[1], 'w'))", str(seen)]
    temp = tmp_path / "temp"
    temp.mkdir()
    ops = [("runfile", str(temp), "NETRC", sizes[0], *program), ("setenv", "svc", sizes[1])]
    assert b"canary-91c3" not in host_ops("C:\\py.exe", *ops).line.encode()
    record = tmp_path / "winreg.jsonl"
    done = _run_with_stdin(record, stdin, *ops)
    assert done.returncode == 0, done.stderr
    path, text, mode, own_stdin = json.loads(seen.read_text())
    assert re.fullmatch(re.escape(str(temp)) + r"/tacfleet-[0-9a-f]{32}/secret", path)
    assert (text, mode, own_stdin) == (netrc.decode(), 0o700, "")  # its own stdin: NUL
    assert json.loads(record.read_text())[-1] == ["A=1"]
    assert os.listdir(temp) == [] and "NETRC" not in os.environ
    failing = [sys.executable, "-c", "raise SystemExit(3)"]
    sizes, stdin = secret_stdin(netrc)
    done = _run_with_stdin(record, stdin, ("runfile", str(temp), "NETRC", *sizes, *failing))
    assert done.returncode == 3 and sys.executable.encode() + b" exited 3" in done.stderr
    assert b"canary-91c3" not in done.stderr and os.listdir(temp) == []
