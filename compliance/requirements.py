"""The requirements a host must meet, each judged from facts alone (no I/O).

Each requirement has an id (the check's name), an area (the pytest marker) and a function
``(host, facts) -> Finding``. The compliance suite runs them one test each; the provisioner uses
the same functions to decide which steps must change something.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from compliance import desired
from compliance.finding import Finding
from inventory.models import Host
from inventory.winnames import (
    ADMINISTRATORS_SID,
    CREATOR_OWNER_SID,
    SYSTEM_SID,
    TRUSTED_INSTALLER_SID,
    is_virtual_account,
    same_account,
)
from inventory.winpath import same_path, win_parent
from winhost import sddl
from winhost.probe import FolderAcl, HostFacts

Judge = Callable[[Host, HostFacts], Finding]


#: ``host``: judged once per host (base Python, NSSM); ``service``: once per service.
Scope = Literal["host", "service"]


@dataclass(frozen=True)
class Requirement:
    id: str
    area: str
    title: str
    judge: Judge
    scope: Scope = "service"

    def __call__(self, host: Host, facts: HostFacts) -> Finding:
        return self.judge(host, facts)


REQUIREMENTS: dict[str, Requirement] = {}


def requirement(id: str, area: str, title: str, scope: Scope = "service"
                ) -> Callable[[Judge], Judge]:
    def register(judge: Judge) -> Judge:
        REQUIREMENTS[id] = Requirement(id, area, title, judge, scope)
        return judge

    return register


def service_of(req: str, host: Host) -> str:
    """The service a finding names: the unit's, for a per-service requirement on a host with
    several services; else "" (one-service hosts read as before)."""
    known = REQUIREMENTS.get(req)
    return host.service.name if host.multi and known and known.scope == "service" else ""


def verdict(req: str, host: Host, ok: bool, expected: str, found: str, hint: str = "") -> Finding:
    return Finding(req, host.name, ok, expected, found, "" if ok else hint,
                   service=service_of(req, host))


def _shown(value: object) -> str:
    return "nothing" if value in (None, "") else repr(value)


# -- python -------------------------------------------------------------------------------------
@requirement("base_python", "python", "the base Python is installed at the configured version",
             scope="host")
def base_python(host: Host, facts: HostFacts) -> Finding:
    base = facts.base_python
    want = host.python.version
    found = f"Python {base.version} at {base.executable}" if base.exists else "no Python"
    ok = base.exists and (base.version == want or base.version.startswith(want + "."))
    return verdict(
        "base_python",
        host,
        ok,
        f"Python {want} at {host.python.base}",
        found,
        "install it (configure python.installer) and run `invoke provision`",
    )


@requirement("base_tools", "python", "pip and virtualenv in the base Python are recent enough",
             scope="host")
def base_tools(host: Host, facts: HostFacts) -> Finding:
    found = facts.base_python.packages
    want = {"pip": host.python.pip_version, "virtualenv": host.python.virtualenv_version}
    bad = {n: v for n, v in want.items() if not desired.at_least(found.get(n), v)}
    return verdict(
        "base_tools",
        host,
        not bad,
        ", ".join(f"{n}>={v or '(any)'}" for n, v in want.items()),
        ", ".join(f"{n} {found.get(n) or 'missing'}" for n in want),
        "run `invoke provision` to upgrade them",
    )


@requirement("venv_exists", "python", "the virtualenv exists at its path")
def venv_exists(host: Host, facts: HostFacts) -> Finding:
    venv = facts.venv
    found = (
        "a venv with python.exe"
        if venv.python_exists
        else "a folder without Scripts\\python.exe"
        if venv.exists
        else "no folder"
    )
    return verdict(
        "venv_exists",
        host,
        venv.python_exists,
        f"a venv at {host.python.venv}",
        found,
        "run `invoke provision` to create it",
    )


@requirement("venv_base", "python", "the virtualenv was made by the configured Python")
def venv_base(host: Host, facts: HostFacts) -> Finding:
    cfg = facts.venv.cfg
    home = cfg.get("home", "")
    version = cfg.get("version_info") or cfg.get("version") or ""
    want_home = win_parent(host.python.base)
    ok = (
        bool(cfg)
        and same_path(home, want_home)
        and (version == host.python.version or version.startswith(host.python.version + "."))
    )
    found = f"home {home!r}, version {version!r}" if cfg else "no pyvenv.cfg"
    return verdict(
        "venv_base",
        host,
        ok,
        f"home {want_home!r}, version {host.python.version}.x",
        found,
        "rebuild it: `invoke provision --force-recreate`",
    )


def _package(host: Host, facts: HostFacts, req_id: str, requirement: str) -> Finding:
    name, version = desired.pinned(requirement)
    found_version = facts.venv.dist_version(name)
    ok = found_version is not None and (version is None or found_version == version)
    expected = f"{name} {version or '(any version)'} in {host.python.venv}"
    return verdict(
        req_id,
        host,
        ok,
        expected,
        f"{name} {found_version}" if found_version else f"{name} not installed",
        "run `invoke provision` to install it",
    )


@requirement("twisted_importable", "python", "Twisted imports in the venv at the pinned version")
def twisted_importable(host: Host, facts: HostFacts) -> Finding:
    spec = next(
        (p for p in host.python.packages if desired.pinned(p)[0].lower() == "twisted"), "Twisted"
    )
    finding = _package(host, facts, "twisted_importable", spec)
    imported = facts.venv.imports.get("twisted")
    if finding.ok and (imported is None or not imported.ok):
        detail = imported.detail if imported else "not tried"
        return verdict(
            "twisted_importable",
            host,
            False,
            "`import twisted` to work",
            f"import failed: {detail}",
            "reinstall: `invoke provision`",
        )
    return finding


@requirement("pywin32_installed", "python", "pywin32 is installed and importable in the venv")
def pywin32_installed(host: Host, facts: HostFacts) -> Finding:
    spec = next(
        (p for p in host.python.packages if desired.pinned(p)[0].lower() == "pywin32"), "pywin32"
    )
    finding = _package(host, facts, "pywin32_installed", spec)
    imported = facts.venv.imports.get("win32api")
    if finding.ok and imported is not None and not imported.ok:
        return verdict(
            "pywin32_installed",
            host,
            False,
            "`import win32api` to work",
            f"import failed: {imported.detail}",
            "reinstall: `invoke provision`",
        )
    return finding


@requirement("packages_installed", "python", "every configured package and the app are installed")
def packages_installed(host: Host, facts: HostFacts) -> Finding:
    wrong = [
        f
        for p in desired.required_packages(host)
        if not (f := _package(host, facts, "packages_installed", p)).ok
    ]
    if not wrong:
        listed = ", ".join(desired.required_packages(host))
        return verdict("packages_installed", host, True, listed, listed)
    return verdict(
        "packages_installed",
        host,
        False,
        "; ".join(f.expected for f in wrong),
        "; ".join(f.found for f in wrong),
        "run `invoke provision` to install them",
    )


def _names(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit
                                       else "")


def unshipped(host: Host, facts: HostFacts) -> list[desired.ShippedWheel]:
    """The shipped wheels the host's wheelhouse lacks or holds with another SHA-256."""
    return [w for w in desired.shipped_wheels(host)
            if (facts.file(w.path).sha256 or "").lower() != w.sha256]


@requirement("wheels_shipped", "python",
             "the wheels of python.ship_wheels are in the host's wheelhouse, byte for byte")
def wheels_shipped(host: Host, facts: HostFacts) -> Finding:
    source, wheelhouse = host.python.ship_wheels, host.python.ship_to
    if source is None:
        return Finding("wheels_shipped", host.name, True, skipped=True,
                       found="no python.ship_wheels configured")
    wheels = desired.shipped_wheels(host)
    if not wheels:
        return verdict("wheels_shipped", host, False, f"the wheels of {source}",
                       f"no .whl file at {source} on this machine",
                       "build the app's wheel there, or fix python.ship_wheels")
    missing = [w.name for w in wheels if not facts.file(w.path).exists]
    differ = [w.name for w in unshipped(host, facts) if w.name not in missing]
    found = "; ".join(part for part in (
        f"missing: {_names(missing)}" if missing else "",
        f"different SHA-256: {_names(differ)}" if differ else "") if part)
    return verdict(
        "wheels_shipped",
        host,
        not missing and not differ,
        f"{len(wheels)} wheel(s) from {source} in {wheelhouse} with their SHA-256",
        found or "all of them",
        "run `invoke provision` to upload them",
    )


@requirement("twistd_help", "python", "`twistd --help` from the venv exits 0")
def twistd_help(host: Host, facts: HostFacts) -> Finding:
    out = facts.venv.twistd_help
    if out is None:
        found = "no twistd.exe in the venv"
    else:
        tail = (out.stderr or out.error or "").strip().splitlines()[-1:] or [""]
        found = f"exit code {out.rc} {tail[0][:200]}".strip()
    ok = out is not None and out.rc == 0
    return verdict(
        "twistd_help", host, ok, "exit code 0", found, "reinstall Twisted: `invoke provision`"
    )


# -- service ------------------------------------------------------------------------------------
@requirement("nssm_verified", "service", "NSSM is present with the pinned SHA-256",
             scope="host")
def nssm_verified(host: Host, facts: HostFacts) -> Finding:
    fact = facts.file(host.nssm.path)
    found = f"sha256 {fact.sha256}" if fact.exists else f"no file at {host.nssm.path}"
    ok = fact.exists and (fact.sha256 or "").lower() == (host.nssm.sha256 or "").lower()
    return verdict(
        "nssm_verified",
        host,
        ok,
        f"sha256 {host.nssm.sha256}",
        found,
        "run `invoke provision` to install the verified NSSM",
    )


@requirement("service_exists", "service", "the Windows service exists")
def service_exists(host: Host, facts: HostFacts) -> Finding:
    return verdict(
        "service_exists",
        host,
        facts.service.exists,
        f"service {host.service.name!r}",
        "it" if facts.service.exists else "no such service",
        "run `invoke provision` to install it",
    )


def _param(facts: HostFacts, name: str) -> object:
    return facts.service.param(name)


@requirement("service_application", "service", "the service runs the venv's python with twistd")
def service_application(host: Host, facts: HostFacts) -> Finding:
    app, params = _param(facts, "Application"), _param(facts, "AppParameters")
    want_app, want_params = desired.venv_python(host), desired.app_parameters(host)
    ok = isinstance(app, str) and same_path(app, want_app) and params == want_params
    want = f"Application {want_app!r} with AppParameters {want_params!r}"
    found = f"Application {_shown(app)} with AppParameters {_shown(params)}"
    if host.app.environment:
        env = _param(facts, "AppEnvironmentExtra")
        env_list = env if isinstance(env, list) else [env] if isinstance(env, str) else []
        wanted = host.app.environment_extra  # real values: compared, never shown
        ok = ok and sorted(env_list) == wanted
        shown = [f"{str(e).split('=', 1)[0]}=***" + ("" if e in wanted else " (differs)")
                 for e in sorted(env_list)]
        want += f" and AppEnvironmentExtra {host.app.environment_shown}"
        found += f" and AppEnvironmentExtra {shown if env is not None else _shown(env)}"
    return verdict(
        "service_application",
        host,
        ok,
        want,
        found,
        "run `invoke provision` (add --adopt if another tool installed this service)",
    )


@requirement("app_directory", "service", "AppDirectory is the folder that holds the tac file")
def app_directory(host: Host, facts: HostFacts) -> Finding:
    directory = _param(facts, "AppDirectory")
    tac = facts.file(host.app.tac_file)
    ok = isinstance(directory, str) and same_path(directory, host.app.app_directory) and tac.exists
    found = f"AppDirectory {_shown(directory)}, tac file " + (
        "present" if tac.exists else "missing"
    )
    return verdict(
        "app_directory",
        host,
        ok,
        f"AppDirectory {host.app.app_directory!r} holding {host.app.tac_file}",
        found,
        "run `invoke provision` to restore it",
    )


@requirement("tac_file", "service", "the tac file is in place with the content from its source")
def tac_file(host: Host, facts: HostFacts) -> Finding:
    fact = facts.file(host.app.tac_file)
    want = desired.tac_sha256(host)
    ok = fact.exists and (want is None or fact.sha256 == want)
    expected = f"{host.app.tac_file}" + (f" with sha256 {want}" if want else "")
    found = f"sha256 {fact.sha256}" if fact.exists else "no file"
    return verdict(
        "tac_file",
        host,
        ok,
        expected,
        found,
        "run `invoke provision` to upload it from app.tac_source",
    )


@requirement("display_name", "service", "DisplayName as configured")
def display_name(host: Host, facts: HostFacts) -> Finding:
    value = facts.service.display_name
    return verdict(
        "display_name",
        host,
        value == host.service.display_name,
        repr(host.service.display_name),
        _shown(value),
        "run `invoke provision`",
    )


@requirement("description", "service", "Description as configured")
def description(host: Host, facts: HostFacts) -> Finding:
    value = facts.service.description
    want = host.service.description or ""
    return verdict(
        "description",
        host,
        (value or "") == want,
        repr(want),
        _shown(value),
        "run `invoke provision`",
    )


@requirement("start_type", "service", "start type as configured (default delayed automatic)")
def start_type(host: Host, facts: HostFacts) -> Finding:
    return verdict(
        "start_type",
        host,
        facts.service.start == host.service.start,
        host.service.start,
        facts.service.start or "no service",
        f"`sc config {host.service.name} start= {host.service.start}` or `invoke provision`",
    )


@requirement("logs_rotated", "service", "stdout/stderr go to log files with rotation")
def logs_rotated(host: Host, facts: HostFacts) -> Finding:
    svc = host.service
    want = {
        "AppStdout": svc.stdout,
        "AppStderr": svc.stderr,
        "AppRotateFiles": 1 if svc.rotate_files else 0,
        "AppRotateBytes": svc.rotate_bytes if svc.rotate_files else None,
        # Without it NSSM rotates only when the service starts (nssm.cc: "If AppRotateOnline is
        # set to 1, nssm can rotate files which grow to the configured file size limit while
        # the service is running"): the logs of a service that runs for months grow unbounded.
        "AppRotateOnline": 1 if svc.rotate_files else None,
    }
    found = {k: _param(facts, k) for k in want}
    bad = {k: v for k, v in want.items() if v is not None and not _same(found[k], v)}
    return verdict(
        "logs_rotated",
        host,
        not bad,
        ", ".join(f"{k}={v!r}" for k, v in bad.items()) or "as configured",
        ", ".join(f"{k}={found[k]!r}" for k in bad) or "as configured",
        "run `invoke provision`",
    )


@requirement("restart_policy", "service", "NSSM restarts the app on exit as configured")
def restart_policy(host: Host, facts: HostFacts) -> Finding:
    svc = host.service
    want: dict[str, object] = {"AppExit": svc.exit_action, "AppThrottle": svc.throttle_ms}
    if svc.restart_delay_ms is not None:
        want["AppRestartDelay"] = svc.restart_delay_ms
    found = {**{k: _param(facts, k) for k in want}, "AppExit": facts.service.app_exit}
    bad = {k: v for k, v in want.items() if not _same(found[k], v)}
    return verdict(
        "restart_policy",
        host,
        not bad,
        ", ".join(f"{k}={v!r}" for k, v in bad.items()) or "as configured",
        ", ".join(f"{k}={found[k]!r}" for k in bad) or "as configured",
        "run `invoke provision`",
    )


def _same(found: object, want: object) -> bool:
    if isinstance(want, str) and isinstance(found, str):
        return found.lower() == want.lower()
    return found == want


# -- security -----------------------------------------------------------------------------------
@requirement("service_account", "security", "the service runs as its virtual account")
def service_account(host: Host, facts: HostFacts) -> Finding:
    account = facts.service.account
    ok = account is not None and same_account(account, host.service.account)
    return verdict(
        "service_account",
        host,
        ok,
        repr(host.service.account),
        _shown(account),
        f'`sc config {host.service.name} obj= "{host.service.account}"` or `invoke provision`',
    )


#: NT SERVICE\ALL SERVICES: holds SeServiceLogonRight by default, for every virtual account.
ALL_SERVICES_SID = "S-1-5-80-0"


def logon_right_hint(host: Host) -> str:
    account = host.service.account
    who = (f"NT SERVICE\\ALL SERVICES (*{ALL_SERVICES_SID}) or {account}"
           if is_virtual_account(account) else account)
    return (
        f"the 'Log on as a service' right (SeServiceLogonRight) must include {who}. A domain "
        "GPO that sets this right replaces the host's list: add it there (Computer "
        "Configuration > Policies > Windows Settings > Security Settings > Local Policies > "
        "User Rights Assignment > Log on as a service), then `gpupdate /force`; without it the "
        "service fails to start with error 1069. `sc config obj=` grants nothing, and NSSM "
        "grants the right only to accounts that are not virtual"
    )


@requirement("logon_right", "security", "the service's account may log on as a service")
def logon_right(host: Host, facts: HostFacts) -> Finding:
    account = host.service.account
    holders = facts.logon_right
    if holders is None and not facts.logon_right_error:
        return Finding("logon_right", host.name, True, skipped=True,
                       found="not read (no base Python on the host yet)",
                       service=service_of("logon_right", host))
    sid = desired.account_sid_of(host) or facts.account_sid(account)
    allowed = {s for s in (sid, ALL_SERVICES_SID if is_virtual_account(account) else None) if s}
    ok = holders is not None and bool(allowed & set(holders))
    if holders is None:
        found = f"could not read the holders: {facts.logon_right_error}"
    else:
        found = (", ".join(f"{sddl.sid_name(h)} ({h})" for h in holders) or "nobody") + (
            f" (read with {facts.logon_right_source})" if facts.logon_right_source else "")
    return verdict("logon_right", host, ok, f"SeServiceLogonRight held by one of "
                   f"{', '.join(sorted(allowed)) or account}", found, logon_right_hint(host))


#: Principals that may hold write rights on a managed folder (besides the service account).
_MAY_WRITE = {ADMINISTRATORS_SID, SYSTEM_SID, TRUSTED_INSTALLER_SID}
#: Groups in every service account's token (Everyone, LOCAL, Authenticated Users, SERVICE,
#: Users, ALL SERVICES): a deny to any of them binds the account too.
_ACCOUNT_GROUPS = {"S-1-1-0", "S-1-2-0", "S-1-5-11", "S-1-5-6", "S-1-5-32-545", "S-1-5-80-0"}


def _where(ace: sddl.Ace, path: str) -> str:
    return f"{'inherited' if ace.inherited else 'explicit'}, on {path}"


def acl_problems(path: str, acl: FolderAcl | None, account: str, sid: str | None,
                 rights: str) -> list[str]:
    """What is wrong with one managed folder's DACL, judged by SID (every language alike).

    Fails: an allow entry giving a write-class right to anyone but Administrators, SYSTEM,
    TrustedInstaller, the service account and CREATOR OWNER (inherit-only, as Windows sets it);
    the service account lacking ``rights`` (to the folder and everything in it) or holding more;
    a deny entry that takes a needed right from the account. A deny never counts as a grant.
    """
    if acl is None:
        return [f"{path}: no ACL read (does the folder exist?)"]
    if acl.error:
        return [f"{path}: {acl.error}"]
    want = sddl.SIMPLE_RIGHTS[rights]
    problems = []
    for ace in acl.aces:
        if ace.kind != "allow" or ace.sid == sid or not sddl.grants_write(ace.mask):
            continue
        if ace.sid in _MAY_WRITE or (ace.sid == CREATOR_OWNER_SID and "IO" in ace.flags):
            continue
        written = ", ".join(sddl.write_rights(ace.mask))
        problems.append(f"{sddl.sid_name(ace.sid)} ({ace.sid}): {written}, {_where(ace, path)}")
    if sid is None:
        return [*problems, f"{path}: the SID of {account} is unknown; cannot judge its rights"]
    mine = [a for a in acl.aces if a.kind == "allow" and a.sid == sid]
    held = 0
    everywhere = 0
    for ace in mine:
        held |= sddl.file_mask(ace.mask)
        if ace.applies_here and ace.inherits_to_all:
            everywhere |= sddl.file_mask(ace.mask)
    if want & ~everywhere:
        problems.append(
            f"{account} ({sid}): lacks {rights} (has {sddl.rights_name(everywhere)} on the folder "
            f"and everything in it) on {path}"
        )
    if held & ~want:
        extra = sddl.write_rights(held & ~want) or [f"0x{held & ~want:x}"]
        problems.append(f"{account} ({sid}): more than {rights}: {', '.join(extra)} on {path}")
    for ace in acl.aces:
        if ace.kind == "deny" and (ace.sid == sid or ace.sid in _ACCOUNT_GROUPS):
            blocked = sddl.file_mask(ace.mask) & want
            if blocked:
                problems.append(
                    f"{sddl.sid_name(ace.sid)} ({ace.sid}): deny 0x{blocked:x} takes {rights} "
                    f"from {account}, {_where(ace, path)}"
                )
    return problems


@requirement("permissions", "security", "only admins and the account may write; the account "
             "may read the app and venv, modify its logs and data")
def permissions(host: Host, facts: HostFacts) -> Finding:
    account = host.service.account
    problems = []
    for path, grants in desired.folder_grants(host).items():
        grant = next(g for g in grants if same_account(g.account, account))
        sid = grant.sid or facts.account_sid(account)
        problems += acl_problems(path, facts.acl(path), account, sid, grant.rights)
    return verdict(
        "permissions",
        host,
        not problems,
        f"{account}: RX on the venv and app folder, M on log and data folders; "
        "no write, append, modify or full entry for anyone but Administrators and SYSTEM",
        "; ".join(problems) or "as expected",
        "run `invoke provision`: it removes inheritance and sets each folder's whole DACL",
    )


# -- runtime ------------------------------------------------------------------------------------
@requirement("service_running", "runtime", "the service is running")
def service_running(host: Host, facts: HostFacts) -> Finding:
    state = facts.service.state
    return verdict(
        "service_running",
        host,
        state == "RUNNING",
        "RUNNING",
        state or "no service",
        f"`sc start {host.service.name}` or `invoke provision`",
    )


@requirement("app_answering", "runtime", "the app answers on its port")
def app_answering(host: Host, facts: HostFacts) -> Finding:
    if host.app.port is None:
        return Finding("app_answering", host.name, True, skipped=True, found="no port configured",
                       service=service_of("app_answering", host))
    return verdict(
        "app_answering",
        host,
        facts.port_open is True,
        f"a listener on port {host.app.port}",
        "a listener" if facts.port_open else "nothing listening",
        "see the service's stderr log; `invoke provision` restarts it",
    )


#: Does fixing a requirement need the running service restarted, and why (Windows' and NSSM's
#: documentation). NSSM reads its parameters (Application, AppParameters, AppDirectory, the
#: environment, I/O redirection and rotation, AppThrottle, AppRestartDelay) when the service
#: starts (nssm.cc, "Usage"); ChangeServiceConfig's DisplayName, Description and start type
#: apply at once without one (learn.microsoft.com, ChangeServiceConfigW).
_READ_AT_START = "NSSM reads it when the service starts"
RESTART: dict[str, tuple[bool, str]] = {
    "base_python": (False, "the service runs the venv's python; a new base Python is only used "
                           "by a venv built from it"),
    "base_tools": (False, "pip and virtualenv are used by provisioning only"),
    "venv_exists": (True, "the running service's python.exe and packages come from the venv"),
    "venv_base": (True, "the running service's python.exe and packages come from the venv"),
    "twisted_importable": (True, "Python imports a package's code once, when the app starts"),
    "pywin32_installed": (True, "Python imports a package's code once, when the app starts"),
    "packages_installed": (True, "Python imports a package's code once, when the app starts"),
    "twistd_help": (True, "Python imports a package's code once, when the app starts"),
    "wheels_shipped": (False, "a wheel in the wheelhouse is only read by pip; installing it "
                              "(packages_installed) is what needs the restart"),
    "nssm_verified": (True, "the service's process is nssm.exe itself: it is replaced stopped"),
    "tac_file": (True, "twistd reads the tac file once, when the app starts"),
    "service_exists": (True, "a new service has to be started"),
    "service_application": (True, f"Application, AppParameters, environment: {_READ_AT_START}"),
    "app_directory": (True, f"AppDirectory: {_READ_AT_START}"),
    "display_name": (False, "Windows applies DisplayName at once (ChangeServiceConfig)"),
    "description": (False, "Windows applies Description at once (ChangeServiceConfig2)"),
    "start_type": (False, "the start type applies at the next boot (ChangeServiceConfig)"),
    "logs_rotated": (True, f"AppStdout, AppStderr and rotation: {_READ_AT_START}"),
    "restart_policy": (True, f"AppThrottle and AppRestartDelay: {_READ_AT_START}"),
    "service_account": (True, "the log-on account is used when the service's process is "
                              "created"),
    "logon_right": (False, "the right is checked when the service next logs on; granting it "
                           "does not touch the running process"),
    "permissions": (False, "access is checked when a file is opened: new opens see new rights"),
    "service_running": (False, "this is the start itself"),
    "app_answering": (False, "this is the start itself"),
}


def restart_note(requirements: list[str]) -> tuple[bool, str]:
    """``(needed, "restart: yes/no, because …")`` for fixing these requirements."""
    needs = [r for r in requirements if RESTART.get(r, (True, ""))[0]]
    if needs:
        return True, "restart: yes, because " + "; ".join(
            f"{r}: {RESTART.get(r, (True, 'not known to apply without one'))[1]}" for r in needs)
    return False, "restart: no, because " + "; ".join(
        f"{r}: {RESTART[r][1]}" for r in requirements)


def judge_all(host: Host, facts: HostFacts) -> list[Finding]:
    """Every requirement's finding for one host, in a stable order; on a host with several
    services the host-wide ones once, then each service's (judged on its view of the facts)."""
    units = host.units()
    if len(units) == 1:
        return [req(host, facts) for req in REQUIREMENTS.values()]
    reqs = list(REQUIREMENTS.values())
    return [req(units[0], facts) for req in reqs if req.scope == "host"] + [
        req(unit, facts.for_service(unit.service.name))
        for unit in units for req in reqs if req.scope == "service"]
