r"""A local non-admin user against a provisioned sandbox host (issue 32, the host layout).

The user (``SANDBOX\alice``, in BUILTIN\Users: ``sandbox.control.local_user``) may do only what
the sandbox's ACL model allows, and its files are owned by it. Each attack is first shown
working where Windows' default ACLs let it (a folder that inherits ``C:\``'s DACL, or one whose
DACL was reset), so these tests can fail; then it fails against what tacfleet made, and the
product's outcome is checked (drift named, the part removed, the forged lock ignored and named,
no process ended). One provision of the session's host serves the module.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from compliance.audit import audit_host
from inventory import load_inventory
from provision.fleet import provision_one as provision
from provision.hostops import host_ops
from provision.model import Status
from tests.integration.helpers import ROOT, failing
from winhost.cmdline import command, system32

pytestmark = pytest.mark.sandbox
DENIED = (5, "Access is denied.")
ICACLS = system32("icacls.exe")


@pytest.fixture(scope="module")
def host(sandbox_host):
    host = load_inventory(sandbox_host.inventory).host("sandbox")
    run = provision(host)
    assert not run.error and run.count(Status.FAILED) == 0, run.summary
    return host


@pytest.fixture(scope="module")
def user(sandbox_host):
    from sandbox import control

    def act(op: str, path: str, text: str = "") -> tuple[int, str]:
        return control.local_user(sandbox_host.info["name"], op, path, text)

    return act


@pytest.fixture(scope="module")
def prefix(sandbox_host):
    from sandbox import layout
    from sandbox.host.prefix import WinePrefix

    return WinePrefix(layout.Paths(sandbox_host.info["name"]).prefix)


def admin(sandbox_host, *argv: str) -> None:
    """One program run by the administrator over WinRM (as tacfleet runs them)."""
    with sandbox_host.connect() as conn:
        result = conn.run(command(*argv))
    assert result.rc == 0, (argv, result.stdout[-500:], result.stderr[-500:])


def test_a_pth_in_the_base_python(sandbox_host, host, user, prefix):
    from sandbox import control

    # Windows' default: a Python an administrator installed under C:\ inherits Users' create
    # rights, and a .pth a user drops there runs in the administrator's next python.exe
    marker = "C:\\users\\Public\\tacfleet-pth-ran.txt"
    python = control.install_python(sandbox_host.info["name"], "C:\\PyOpen")
    planted = f"import os; open(r'{marker}', 'w').write('ran as the administrator')"
    assert user("create", "C:\\PyOpen\\Lib\\site-packages\\zz_user.pth", planted)[0] == 0
    admin(sandbox_host, python, "-I", "-c", "pass")
    assert prefix.host_path(marker).read_text() == "ran as the administrator"
    open_base = host.model_copy(update={"python": host.python.model_copy(
        update={"base": python, "wheelhouse": None})})
    audit = audit_host(open_base)
    finding = next(f for f in audit.findings if f.requirement == "base_python_protected")
    assert not finding.ok
    assert "BUILTIN\\Users (S-1-5-32-545): append/add subfolder, inherited, on C:\\PyOpen" in (
        finding.found)
    # what tacfleet protected: refused
    assert user("create", "C:\\Python311\\Lib\\site-packages\\zz_user.pth", planted) == DENIED
    assert user("mkdir", "C:\\Python311\\Lib\\site-packages\\zz_user") == DENIED
    assert not prefix.host_path("C:\\Python311\\Lib\\site-packages\\zz_user.pth").exists()


def test_an_sdist_in_the_wheelhouse(sandbox_host, host, user, prefix):
    assert host.python.wheelhouse == "C:\\wheels"
    admin(sandbox_host, *host_ops(host.python.base, ("mkdir", "C:\\wheels-open")).argv)
    assert user("create", "C:\\wheels-open\\twisted-99.0.tar.gz", "setup.py")[0] == 0
    assert user("create", "C:\\wheels\\twisted-99.0.tar.gz", "setup.py") == DENIED
    wheel = next(prefix.host_path("C:\\wheels").glob("*.whl")).name
    assert user("delete", "C:\\wheels\\" + wheel) == DENIED


def test_a_pre_created_upload_part_is_removed_and_the_file_sent_whole(sandbox_host, host,
                                                                       user, prefix):
    from sandbox import control

    tac = host.app.tac_file
    part = tac + ".tacfleet-upload"
    assert user("create", part, "planted") == DENIED  # the app folder tacfleet protected
    # the same folder with Windows' default (inherited) DACL, and the tac file to be sent again
    admin(sandbox_host, ICACLS, host.app.app_directory, "/reset")
    admin(sandbox_host, *host_ops(host.python.base, ("rmtree", tac)).argv)
    assert user("create", part, "planted")[0] == 0
    run = provision(host)
    assert not run.error and run.count(Status.FAILED) == 0, run.summary
    assert not prefix.host_path(part).exists()
    assert prefix.host_path(tac).read_bytes() == host.app.tac_source.read_bytes()
    assert failing(host) == {}  # owners (the tac file's: Administrators) and permissions
    assert control.LOCAL_USER_SID not in json.dumps(
        [f.found for f in audit_host(host).findings])


def _in_lock_script(prefix, expression: str):
    """``expression`` evaluated by the host's Python with the lock script's functions
    (``processes``, ``created``) loaded, as JSON."""
    script = prefix.host_path("C:\\tacfleet_lock_script.py")
    script.write_bytes((ROOT / "provision" / "hostlock_script.py").read_bytes())
    code = ("exec(open(r'C:\\tacfleet_lock_script.py').read().split('if __name__')[0]); "
            f"import json; print(json.dumps({expression}))")
    proc = prefix.run("C:\\Python311\\python.exe", "-I", "-c", code, timeout=120)
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def _services_exe(prefix) -> list:
    found = _in_lock_script(prefix, "[[p, created(p)] for p, _q, exe in processes() "
                                    "if exe.lower() == 'services.exe']")
    assert len(found) == 1, found
    return found[0]


def _dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip())


def test_a_forged_lock_naming_services_exe_is_ignored_named_and_ends_nothing(sandbox_host,
                                                                             host, user,
                                                                             prefix):
    from sandbox import control

    lock = "C:\\ProgramData\\tacfleet\\" + host.service.name + ".lock"
    pid, created = _services_exe(prefix)
    forged = json.dumps({"run": "forged", "controller": socket.gethostname(),
                         "pid": _dead_pid(), "shell": pid, "shell_created": created,
                         "shell_exe": "winrshost.exe"})
    assert user("create", lock, forged) == DENIED  # the lock folder is admin-only
    # as %ProgramData%'s default lets Users create files in a folder that inherits it
    admin(sandbox_host, ICACLS, "C:\\ProgramData\\tacfleet", "/reset")
    assert user("create", lock, forged)[0] == 0
    run = provision(host)
    assert not run.error and run.count(Status.FAILED) == 0, run.summary
    notes = " ".join(s.message for s in run.steps if s.step == "host_lock")
    assert f"ignored and removed {lock}: owned by {control.LOCAL_USER_SID}" in notes
    assert "ended" not in notes and "took over" not in notes
    assert _services_exe(prefix) == [pid, created]  # the same process, never ended
    assert user("create", lock, forged) == DENIED  # the folder is admin-only again
    assert failing(host) == {}


#: A process that is no WinRM shell (as one a local user starts), with a child started after it:
#: what the lock script would end under a shell. Both wait for the stop file, then exit.
VICTIM = """\
import json, os, subprocess, sys, time
stop = r'C:\\tacfleet-victim.stop'
child = subprocess.Popen([sys.executable, '-I', '-c', 'import os, time\\n'
                          'while not os.path.exists(%r): time.sleep(0.5)' % stop])
with open(r'C:\\tacfleet-victim.json', 'w') as f:
    json.dump([os.getpid(), child.pid], f)
while not os.path.exists(stop):
    time.sleep(0.5)
child.wait()
"""


def test_a_lock_naming_a_process_that_is_no_winrm_shell_ends_nothing(sandbox_host, host,
                                                                       prefix):
    """An Administrators-owned lock (so not dropped as forged) of an abandoned run whose shell
    is a live process other than winrshost.exe, with its creation time right and the record
    claiming winrshost.exe: the lock is taken over, its process's child is not ended, and the
    run says why."""
    import base64
    import time

    lock = "C:\\ProgramData\\tacfleet\\" + host.service.name + ".lock"
    info, stop = prefix.host_path("C:\\tacfleet-victim.json"), prefix.host_path(
        "C:\\tacfleet-victim.stop")
    info.unlink(missing_ok=True)
    stop.unlink(missing_ok=True)
    victim = subprocess.Popen(prefix.argv("wine", "C:\\Python311\\python.exe", "-I", "-c",
                                          f"exec({VICTIM!r})"), env=prefix.env(), cwd=prefix.path,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            if info.exists() and info.read_text():
                break
            time.sleep(0.5)
        pid, child = json.loads(info.read_text())
        born = _in_lock_script(prefix, f"[created({pid}), created({child})]")
        assert None not in born, born
        record = {"run": "forged", "controller": socket.gethostname(), "pid": _dead_pid(),
                  "shell": pid, "shell_created": born[0], "shell_exe": "winrshost.exe"}
        write = ("write", lock, "wb", base64.b64encode(json.dumps(record).encode()).decode())
        admin(sandbox_host, *host_ops(host.python.base, write).argv)
        run = provision(host)
        assert not run.error and run.count(Status.FAILED) == 0, run.summary
        notes = " ".join(s.message for s in run.steps if s.step == "host_lock")
        assert "took over the lock of abandoned run forged" in notes, notes
        assert f"ended no process: pid {pid} is python.exe, not winrshost.exe" in notes, notes
        assert "ended what" not in notes
        assert _in_lock_script(prefix, f"[created({pid}), created({child})]") == born
    finally:
        stop.write_text("stop")
        victim.wait(120)
        info.unlink(missing_ok=True)
        stop.unlink(missing_ok=True)
