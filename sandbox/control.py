"""Lifecycle of named sandbox hosts for the Invoke tasks and the test fixtures.

Each host runs as its own detached ``sandbox.daemon`` process (wineserver, command agent, WinRM
endpoint) and keeps its files in ``<cache>/<name>/`` (see ``sandbox.layout``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from sandbox import disk, layout, netns
from sandbox.host.image import ImageError, build_image, clone_image
from sandbox.host.prefix import WineMissing, WinePrefix, locale_available
from sandbox.winrm.faults import Faults

ROOT = Path(__file__).resolve().parents[1]


class SandboxUnavailable(RuntimeError):
    """The sandbox host cannot be started on this machine; the message says why and what to do."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _running(paths: layout.Paths) -> dict[str, Any] | None:
    state = layout.read_json(paths.state)
    if state and _alive(int(state.get("pid", 0))):
        return state
    return None


def _port_free(port: int) -> bool:
    """Can the endpoint listen on ``port``? Bound as the endpoint binds (SO_REUSEADDR), so the
    TIME_WAIT connections a just-stopped host leaves behind do not count as "in use"."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_port_free(port: int, seconds: float = 15.0) -> bool:
    """True once ``port`` can be bound; a host that was just stopped may still be closing."""
    end = time.monotonic() + seconds
    while not _port_free(port):
        if time.monotonic() > end:
            return False
        time.sleep(0.5)
    return True


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port_pair() -> int:
    """A port P with P and P+1 free on 127.0.0.1 (a host's HTTP and HTTPS listeners).

    Taken below the kernel's ephemeral range, so no outgoing connection can grab it while a
    host restarts on the same port (``reset``)."""
    low, high = _ephemeral_range()
    first, last = (20000, low - 2) if low > 21000 else (high + 1, 65533)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(first, last)
        if _port_free(port) and _port_free(port + 1):
            return port
    raise SandboxUnavailable(f"no two free neighbouring ports on 127.0.0.1 in {first}-{last}")


def _port(endpoint: str) -> int:
    return int(urlsplit(endpoint).port or 0)


def write_inventory(info: dict[str, Any], dest: Path, *, template: Path | None = None,
                    app_port: int | None = None) -> Path:
    """An inventory file for the running host ``info`` (from ``status``), copied from the
    sandbox entry of ``template`` (default ``inventory/hosts.yml``): its endpoint port and
    password file, an absolute tac_source, and optionally another port for the app."""
    template = template or ROOT / "inventory" / "hosts.yml"
    data = yaml.safe_load(template.read_text(encoding="utf-8"))
    entry = data["hosts"]["sandbox"]
    entry["connection"].update(port=info["port"], password_file=info["password_file"])
    app = entry["app"]
    if app.get("tac_source"):
        app["tac_source"] = str((template.parent / app["tac_source"]).resolve())
    if app_port is not None:
        app["port"] = app_port
        app.setdefault("environment", {})["TACDEMO_PORT"] = str(app_port)
    dest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dest


def write_offline_inventory(info: dict[str, Any], dest: Path, *, base: str,
                            app_port: int | None = None) -> Path:
    """:func:`write_inventory` for an air-gapped host (``python.offline``): every file from
    the controller's bundle (``<dest folder>/bundle``, for ``invoke bundle`` to build), the
    base Python at ``base`` installed from the installer stand-in (its SHA-256 pinned), and no
    wheelhouse (the image's ``C:\\wheels`` is not an offline host's source)."""
    write_inventory(info, dest, app_port=app_port)
    installer = python_installer_standin(dest.parent / "python-3.11.9-amd64.exe")
    data = yaml.safe_load(dest.read_text(encoding="utf-8"))
    python = data["hosts"]["sandbox"]["python"]
    python.pop("wheelhouse", None)
    python.update(base=base, offline=True, bundle=str(dest.parent / "bundle"),
                  installer=str(installer),
                  installer_sha256=hashlib.sha256(installer.read_bytes()).hexdigest())
    dest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dest


def up(name: str = "default", port: int = 55985, *, timeout: float = 300,
       locale: str | None = None, realm: bool = False, offline: bool = False) -> dict[str, Any]:
    """Start the host (building the bare image first if this machine has none); idempotent.

    ``realm`` also runs a real MIT KDC for the host (``sandbox.kdc``): the endpoint then accepts
    Kerberos for ``HTTP/<name>.sandbox.test``; ``status()['kerberos']`` tells the realm's files.

    ``locale`` (``de_DE``, any locale Debian can generate) makes a non-English host: Wine runs
    with ``LC_ALL``/``LANG`` = ``<locale>.UTF-8``, so its programs and the stand-ins speak it.

    ``offline`` makes an air-gapped host (``sandbox.netns``): its Windows programs reach
    nothing but the host's own loopback; the endpoint is reached as always.
    """
    paths = layout.Paths(name)
    state = _running(paths)
    if state:
        if offline != bool(state.get("offline")):
            raise SandboxUnavailable(
                f"sandbox {name!r} is running {'on' if state.get('offline') else 'off'}line: "
                f"stop it first (invoke sandbox.down --name {name})")
        if (locale or "") != state.get("locale", ""):
            raise SandboxUnavailable(
                f"sandbox {name!r} is running with locale {state.get('locale') or 'C'!r}, not "
                f"{locale or 'C'!r}: stop it first (invoke sandbox.down --name {name})")
        if realm and "kerberos" not in state:
            raise SandboxUnavailable(
                f"sandbox {name!r} is running without a Kerberos realm: stop it first "
                f"(invoke sandbox.down --name {name}), then sandbox.up --realm")
        return status(name)
    if locale and not locale_available(locale):
        raise SandboxUnavailable(
            f"locale {locale}.UTF-8 is not generated on this machine (`locale -a`): run "
            f"`sudo localedef -i {locale} -f UTF-8 {locale}.UTF-8` (Debian package `locales`), "
            "or `bash bootstrap.sh test`, which does it")
    for p in (port, port + 1) if port else ():
        if not _wait_port_free(p):
            raise SandboxUnavailable(f"port {p} on 127.0.0.1 is in use: pick another with "
                                     f"--port (sandbox {name!r})")
    try:
        build_image()
        if not (paths.prefix / "system.reg").exists():
            clone_image(paths.prefix)
    except (WineMissing, ImageError) as exc:
        raise SandboxUnavailable(str(exc)) from None
    paths.read_password()
    with (paths.root / "daemon.out").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox.daemon", "--name", name, "--port", str(port),
             *(["--locale", locale] if locale else []), *(["--realm"] if realm else []),
             *(["--offline"] if offline else [])],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = layout.read_json(paths.state)
        if state and state.get("pid") == proc.pid:
            return status(name)
        if proc.poll() is not None:
            tail = (paths.root / "daemon.out").read_text(errors="replace")[-1500:]
            raise SandboxUnavailable(f"sandbox {name!r} failed to start (exit {proc.returncode})"
                                     f"; see {paths.root}/daemon.out:\n{tail}")
        time.sleep(0.2)
    down(name)
    raise SandboxUnavailable(f"sandbox {name!r} did not come up within {timeout:.0f}s")


def down(name: str = "default", *, timeout: float = 60, must_exist: bool = False) -> bool:
    """Stop the host: endpoint, agent and every Wine process of its prefix.

    Returns whether the sandbox exists. A name never used creates no folder; with
    ``must_exist`` (the ``sandbox.down`` command: a typo must not look like success) it raises
    :class:`SandboxUnavailable` naming the sandboxes this machine has.
    """
    if not layout._NAME.match(name):
        layout.Paths(name)  # raises the ValueError that names the rule, before any folder
    root = layout.cache_root() / name
    if not root.is_dir():
        if must_exist:
            known = sorted(p.parent.name for p in layout.cache_root().glob("*/password"))
            raise SandboxUnavailable(
                f"there is no sandbox named {name!r} on this machine (sandboxes here: "
                f"{', '.join(known) or 'none'}): check the name")
        return False
    paths = layout.Paths(name)
    state = layout.read_json(paths.state)
    pid = int(state.get("pid", 0)) if state else 0
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    kdc_pid = int((state or {}).get("kerberos", {}).get("kdc_pid", 0))
    if kdc_pid and _alive(kdc_pid):  # the daemon was killed before it could stop its KDC
        os.kill(kdc_pid, signal.SIGTERM)
    if paths.prefix.exists():
        WinePrefix(paths.prefix).stop_server()
    disk.release_all(paths.root)
    netns.delete(name)  # the daemon's own, if it was killed before it could
    paths.state.unlink(missing_ok=True)
    return True


def reset(name: str = "default") -> dict[str, Any]:
    """Back to the bare image; a host that was running is started again on its port."""
    paths = layout.Paths(name)
    state = _running(paths)
    down(name)
    try:
        clone_image(paths.prefix)
    except (WineMissing, ImageError) as exc:
        raise SandboxUnavailable(str(exc)) from None
    for leftover in ("requests.log", "agent.log", "stats.json", "faults.json"):
        (paths.root / leftover).unlink(missing_ok=True)
    if state:
        return up(name, _port(state["endpoint"]), locale=state.get("locale") or None,
                  realm="kerberos" in state, offline=bool(state.get("offline")))
    return status(name)


def install_python(name: str, path: str) -> str:
    r"""Give the host a base Python at ``path`` (e.g. ``C:\Program Files\Py (x86) & 100% Ünï``),
    as an administrator's install would put one there: a copy of the image's ``C:\Python311``
    made inside the prefix. Returns the Windows path of its ``python.exe``."""
    prefix = WinePrefix(layout.Paths(name).prefix)
    if not (prefix.path / "system.reg").exists():
        raise SandboxUnavailable(f"sandbox {name!r} has no prefix yet: run control.up first")
    source, target = prefix.host_path("C:\\Python311"), prefix.host_path(path)
    if target.exists():
        raise SandboxUnavailable(f"{path} already exists on sandbox {name!r}: pick another path "
                                 "or reset the host")
    shutil.copytree(source, target, symlinks=True)
    return path.rstrip("\\") + "\\python.exe"


#: The Unix uid the local user's files get in the prefix (``tacfleet_standins.icacls.LOCAL_UID``):
#: Wine then reports them as another user's, so the owner the model records follows the file.
LOCAL_UID = 1001
#: Its SID (``tacfleet_standins.icacls.LOCAL_USER``): what the probe reads as owner of its files.
LOCAL_USER_SID = "S-1-5-21-2147205410-3302471012-2410397817-1001"


def local_user(name: str, op: str, path: str, text: str = "") -> tuple[int, str]:
    r"""Act as the host's local non-admin user (``SANDBOX\alice``, in BUILTIN\Users): ``op``
    (``mkdir``, ``create``, ``append``, ``delete``, ``access``) on ``path``, done only where
    the sandbox's ACL model lets that user (``tacfleet_standins.localuser``), in the running
    host's Wine. What it makes is the user's: recorded as its owner and given to another Unix
    user. Returns (exit code, message): 0, or 5 with "Access is denied." as Windows answers."""
    paths = layout.Paths(name)
    state = layout.read_json(paths.state) or {}
    prefix = WinePrefix(paths.prefix, state.get("locale") or None,
                        netns=netns.name_for(name) if state.get("offline") else None)
    data = "b64:" + base64.b64encode(text.encode("utf-8")).decode("ascii") if text else ""
    proc = prefix.run("C:\\Python311\\python.exe", "-I", "-m", "tacfleet_standins.localuser", op,
                      path, *([data] if data else []), timeout=120)
    out = proc.stdout.decode("utf-8", "replace").strip()
    if proc.returncode == 0 and out.startswith("LOCALUSER made "):
        made = prefix.host_path(out[len("LOCALUSER made "):])
        os.chown(made, LOCAL_UID, LOCAL_UID)
    return proc.returncode, out or proc.stderr.decode("utf-8", "replace").strip()[-500:]


def python_installer_standin(dest: Path) -> Path:
    r"""Write the stand-in for python.org's installer to ``dest``, a file on this machine to give
    as ``python.installer``: pip's console-script launcher (distlib's ``t64.exe``, a real PE
    program, as pip makes the image's ``sc.exe``) with the shebang ``C:\Python311\python.exe``
    and ``tacfleet_standins/python_installer.py`` as the ``__main__.py`` of its appended zip.
    Every sandbox host has that Python (its agent runs on it)."""
    import io
    import zipfile

    from pip._vendor import distlib

    launcher = (Path(distlib.__file__).parent / "t64.exe").read_bytes()
    source = ROOT / "sandbox" / "standin" / "tacfleet_standins" / "python_installer.py"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("__main__.py", source.read_text(encoding="utf-8"))
    dest.write_bytes(launcher + b"#!C:\\Python311\\python.exe\r\n" + archive.getvalue())
    return dest


def kdc_stop(name: str = "default") -> None:
    """Stop the KDC of a running host's realm (the endpoint keeps running): for failure tests."""
    paths = layout.Paths(name)
    state = _running(paths)
    krb = (state or {}).get("kerberos")
    if not state or not krb:
        raise SandboxUnavailable(f"sandbox {name!r} is not running with a realm "
                                 f"(invoke sandbox.up --name {name} --realm)")
    pid = int(krb.get("kdc_pid", 0))
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    krb["kdc_pid"] = 0
    layout.write_json(paths.state, state)


def kdc_start(name: str = "default") -> None:
    """Start the realm's KDC again on its port, after ``kdc_stop``."""
    from sandbox.kdc import Kdc

    paths = layout.Paths(name)
    state = _running(paths)
    krb = (state or {}).get("kerberos")
    if not state or not krb:
        raise SandboxUnavailable(f"sandbox {name!r} is not running with a realm")
    if int(krb.get("kdc_pid", 0)) and _alive(int(krb["kdc_pid"])):
        return
    kdc = Kdc(paths.root / "kdc", name)
    kdc.port = int(krb["kdc"].rpartition(":")[2])
    kdc.start()
    krb["kdc_pid"] = kdc.pid
    layout.write_json(paths.state, state)


def limit_disk(name: str, windows_path: str, kb: int) -> Path:
    """A full disk (``sandbox.disk``): ``windows_path`` on the host gets only ``kb`` KiB."""
    paths = layout.Paths(name)
    try:
        return disk.limit(paths.root, WinePrefix(paths.prefix), windows_path, kb)
    except (disk.DiskLimitUnavailable, ValueError) as exc:
        raise SandboxUnavailable(str(exc)) from None


def unlimit_disk(name: str) -> None:
    """Lift every disk limit of the host (its files kept)."""
    disk.release_all(layout.Paths(name).root)


def fault_switch(name: str = "default") -> Faults:
    """The fault switches of a host (its ``faults.json``; a running endpoint rereads it)."""
    return Faults(layout.Paths(name).root / "faults.json")


def _memory_mb(prefix: Path, daemon_pid: int) -> float:
    """Resident memory of every process of this host (daemon and Wine processes)."""
    total = 0
    marker = f"WINEPREFIX={prefix}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            mine = entry.name == str(daemon_pid)
            if not mine and marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def status(name: str = "default") -> dict[str, Any]:
    """What the tasks and fixtures need: endpoint, https_endpoint, user, password_file, …"""
    paths = layout.Paths(name)
    state = _running(paths)
    info: dict[str, Any] = {"name": name, "running": state is not None,
                            "state_dir": str(paths.root), "user": layout.USER,
                            "password_file": str(paths.password)}
    if state:
        info.update(state)
        info["port"] = _port(state["endpoint"])
        stats = layout.read_json(paths.root / "stats.json") or {}
        info["http_requests"] = stats.get("http_requests", 0)
        info["commands"] = stats.get("commands", 0)
        info["memory_mb"] = _memory_mb(paths.prefix, int(state["pid"]))
    return info
