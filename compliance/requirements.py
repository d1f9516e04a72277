"""The requirements a host must meet, each judged from facts alone (no I/O).

Each requirement has an id (the check's name), an area (the pytest marker) and a judge
``(host, facts) -> Verdict``; registering it with ``@requirement(id, …)`` is the only place its
id is written, and calling the ``Requirement`` turns the verdict into a ``Finding`` named by it.
The desired values come from ``compliance.desired``. The compliance suite runs them one test
each; the provisioner uses the same requirements to decide which steps must change something.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from compliance import desired, releases
from compliance.finding import Finding, Verdict, skip
from inventory.models import Host
from inventory.secrets import environment_shown
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

Judge = Callable[[Host, HostFacts], Verdict]


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
        """This requirement's finding on ``host``: the judge's verdict, named by its id (and
        by the service, for a per-service requirement on a host with several)."""
        v = self.judge(host, facts)
        service = host.service.name if host.multi and self.scope == "service" else ""
        return Finding(self.id, host.name, v.ok, v.expected, v.found, "" if v.ok else v.fix,
                       v.skipped, service, v.not_configured)


REQUIREMENTS: dict[str, Requirement] = {}


def requirement(id: str, area: str, title: str, scope: Scope = "service"
                ) -> Callable[[Judge], Judge]:
    def register(judge: Judge) -> Judge:
        REQUIREMENTS[id] = Requirement(id, area, title, judge, scope)
        return judge

    return register


_PROVISION = "run `invoke provision`"


def _shown(value: object) -> str:
    return "nothing" if value in (None, "") else repr(value)


def _version_is(found: str, want: str) -> bool:
    """``3.11.9`` is version ``3.11`` (and ``3.11.9``); ``3.110`` is not."""
    return found == want or found.startswith(want + ".")


# -- python -------------------------------------------------------------------------------------
@requirement("base_python", "python", "the base Python is installed at the configured version",
             scope="host")
def base_python(host: Host, facts: HostFacts) -> Verdict:
    base = facts.base_python
    want = host.python.version
    found = f"Python {base.version} at {base.executable}" if base.exists else "no Python"
    return Verdict(base.exists and _version_is(base.version, want),
                   f"Python {want} at {host.python.base}", found,
                   f"install it (configure python.installer) and {_PROVISION}")


@requirement("base_tools", "python", "pip and virtualenv in the base Python are recent enough",
             scope="host")
def base_tools(host: Host, facts: HostFacts) -> Verdict:
    found = facts.base_python.packages
    want = {"pip": host.python.pip_version, "virtualenv": host.python.virtualenv_version}
    bad = {n: v for n, v in want.items() if not desired.at_least(found.get(n), v)}
    return Verdict(not bad, ", ".join(f"{n}>={v or '(any)'}" for n, v in want.items()),
                   ", ".join(f"{n} {found.get(n) or 'missing'}" for n in want),
                   f"{_PROVISION} to upgrade them")


@requirement("venv_exists", "python", "the virtualenv exists at its path")
def venv_exists(host: Host, facts: HostFacts) -> Verdict:
    venv = facts.venv
    found = ("a venv with python.exe" if venv.python_exists
             else "a folder without Scripts\\python.exe" if venv.exists else "no folder")
    return Verdict(venv.python_exists, f"a venv at {host.python.venv}", found,
                   f"{_PROVISION} to create it")


@requirement("venv_base", "python", "the virtualenv was made by the configured Python")
def venv_base(host: Host, facts: HostFacts) -> Verdict:
    cfg = facts.venv.cfg
    home = cfg.get("home", "")
    version = cfg.get("version_info") or cfg.get("version") or ""
    want_home = win_parent(host.python.base)
    ok = bool(cfg) and same_path(home, want_home) and _version_is(version, host.python.version)
    found = f"home {home!r}, version {version!r}" if cfg else "no pyvenv.cfg"
    return Verdict(ok, f"home {want_home!r}, version {host.python.version}.x", found,
                   "rebuild it: `invoke provision --force-recreate`")


def _package(host: Host, facts: HostFacts, pip_spec: str) -> Verdict:
    """Is the package of one pip spec (``Twisted``, ``tacdemo==1.0.0``) installed as pinned?"""
    name, version = desired.pinned(pip_spec)
    found_version = facts.venv.dist_version(name)
    ok = found_version is not None and (version is None or found_version == version)
    return Verdict(ok, f"{name} {version or '(any version)'} in {host.python.venv}",
                   f"{name} {found_version}" if found_version else f"{name} not installed",
                   f"{_PROVISION} to install it")


def _imports(host: Host, facts: HostFacts, project: str, module: str, *,
             untried_fails: bool) -> Verdict:
    """``project`` installed as configured (its spec in python.packages, else any version),
    and ``import module`` working in the venv (an import the probe did not try fails only
    with ``untried_fails``)."""
    spec = next((p for p in host.python.packages
                 if desired.pinned(p)[0].lower() == project.lower()), project)
    installed = _package(host, facts, spec)
    imported = facts.venv.imports.get(module)
    if installed.ok and (not imported.ok if imported else untried_fails):
        return Verdict(False, f"`import {module}` to work",
                       f"import failed: {imported.detail if imported else 'not tried'}",
                       "reinstall: `invoke provision`")
    return installed


@requirement("twisted_importable", "python", "Twisted imports in the venv at the pinned version")
def twisted_importable(host: Host, facts: HostFacts) -> Verdict:
    return _imports(host, facts, "Twisted", "twisted", untried_fails=True)


@requirement("pywin32_installed", "python", "pywin32 is installed and importable in the venv")
def pywin32_installed(host: Host, facts: HostFacts) -> Verdict:
    return _imports(host, facts, "pywin32", "win32api", untried_fails=False)


@requirement("packages_installed", "python", "every configured package and the app are installed")
def packages_installed(host: Host, facts: HostFacts) -> Verdict:
    specs = desired.pip_specs(host)
    wrong = [v for s in specs if not (v := _package(host, facts, s)).ok]
    if not wrong:
        return Verdict(True, ", ".join(specs), ", ".join(specs))
    return Verdict(False, "; ".join(v.expected for v in wrong), "; ".join(v.found for v in wrong),
                   f"{_PROVISION} to install them")


def _names(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit
                                       else "")


def unshipped(host: Host, facts: HostFacts) -> list[desired.ShippedWheel]:
    """The shipped wheels the host's wheelhouse lacks or holds with another SHA-256."""
    return _not_there(desired.shipped_wheels(host), facts)


def unsent_bundle(host: Host, facts: HostFacts) -> list[desired.ShippedWheel]:
    """An offline host's bundle wheels its wheelhouse lacks or holds with another SHA-256."""
    return _not_there(desired.bundle_wheels(host), facts)


def _not_there(wheels: list[desired.ShippedWheel], facts: HostFacts
               ) -> list[desired.ShippedWheel]:
    return [w for w in wheels if (facts.file(w.path).sha256 or "").lower() != w.sha256]


def _in_wheelhouse(wheels: list[desired.ShippedWheel], facts: HostFacts) -> str:
    """"all of them", else which wheels are missing or differ."""
    missing = [w.name for w in wheels if not facts.file(w.path).exists]
    differ = [w.name for w in _not_there(wheels, facts) if w.name not in missing]
    return "; ".join(part for part in (
        f"missing: {_names(missing)}" if missing else "",
        f"different SHA-256: {_names(differ)}" if differ else "") if part) or "all of them"


@requirement("wheels_shipped", "python",
             "the wheels of python.ship_wheels are in the host's wheelhouse, byte for byte")
def wheels_shipped(host: Host, facts: HostFacts) -> Verdict:
    source, wheelhouse = host.python.ship_wheels, host.python.ship_to
    if source is None:
        return skip("no python.ship_wheels configured", not_configured=True)
    wheels = desired.shipped_wheels(host)
    if not wheels:
        return Verdict(False, f"the wheels of {source}", f"no .whl file at {source} on this "
                       "machine", "build the app's wheel there, or fix python.ship_wheels")
    found = _in_wheelhouse(wheels, facts)
    return Verdict(found == "all of them",
                   f"{len(wheels)} wheel(s) from {source} in {wheelhouse} with their SHA-256",
                   found, f"{_PROVISION} to upload them")


@requirement("bundle_shipped", "python",
             "an offline host's wheelhouse holds its bundle's wheels, byte for byte",
             scope="host")
def bundle_shipped(host: Host, facts: HostFacts) -> Verdict:
    if not host.python.offline:
        return skip("the host is not offline (python.offline)", not_configured=True)
    wheels = desired.bundle_wheels(host)
    found = _in_wheelhouse(wheels, facts) if wheels else "no bundle set for this host"
    return Verdict(found == "all of them",
                   f"{len(wheels)} wheel(s) of {host.python.bundle} in "
                   f"{host.python.host_wheelhouse} with their SHA-256", found,
                   f"{_PROVISION} to send them" if wheels else
                   "build the bundle: `invoke bundle`, then `invoke provision`")


@requirement("twistd_help", "python", "`twistd --help` from the venv exits 0")
def twistd_help(host: Host, facts: HostFacts) -> Verdict:
    out = facts.venv.twistd_help
    if out is None:
        found = "no twistd.exe in the venv"
    else:
        tail = (out.stderr or out.error or "").strip().splitlines()[-1:] or [""]
        found = f"exit code {out.rc} {tail[0][:200]}".strip()
    return Verdict(out is not None and out.rc == 0, "exit code 0", found,
                   "reinstall Twisted: `invoke provision`")


# -- service ------------------------------------------------------------------------------------
@requirement("nssm_verified", "service", "NSSM is present with the pinned SHA-256",
             scope="host")
def nssm_verified(host: Host, facts: HostFacts) -> Verdict:
    fact = facts.file(host.nssm.path)
    found = f"sha256 {fact.sha256}" if fact.exists else f"no file at {host.nssm.path}"
    ok = fact.exists and (fact.sha256 or "").lower() == (host.nssm.sha256 or "").lower()
    return Verdict(ok, f"sha256 {host.nssm.sha256}", found,
                   f"{_PROVISION} to install the verified NSSM")


@requirement("service_exists", "service", "the Windows service exists")
def service_exists(host: Host, facts: HostFacts) -> Verdict:
    exists = facts.service.exists
    name = host.service.name
    return Verdict(exists, f"service {name!r}", f"service {name!r} exists" if exists else
                   "no such service",
                   f"{_PROVISION} to install it")


def nssm_value(facts: HostFacts, name: str) -> object:
    """What the host holds for one of ``desired.nssm_settings``' names: an NSSM parameter as
    NSSM reads it, AppExit's default action, or the service's DisplayName or Description."""
    service = facts.service
    own = {"AppExit": service.app_exit, "DisplayName": service.display_name,
           "Description": service.description}
    return own[name] if name in own else service.param(name)


@requirement("service_application", "service", "the service runs the venv's python with twistd")
def service_application(host: Host, facts: HostFacts) -> Verdict:
    want = desired.nssm_settings(host)["service_application"]
    app, params = nssm_value(facts, "Application"), nssm_value(facts, "AppParameters")
    want_app, want_params = want["Application"], want["AppParameters"]
    ok = isinstance(app, str) and same_path(app, str(want_app)) and params == want_params
    expected = f"Application {want_app!r} with AppParameters {want_params!r}"
    found = f"Application {_shown(app)} with AppParameters {_shown(params)}"
    if host.app.releases:
        now = releases.running(host, facts)
        back = releases.rolled_back(facts, releases.wanted(host))
        expected = f"release {releases.wanted(host)} ({expected})"
        found = f"release {now or 'none of ours'} ({found})" + (
            f"; {releases.wanted(host)} was rolled back by {back.get('by')} at {back.get('at')}: "
            f"{back.get('why') or 'by hand'}" if back and not ok else "")
    if host.app.environment:
        env = nssm_value(facts, "AppEnvironmentExtra")
        env_list = env if isinstance(env, list) else [env] if isinstance(env, str) else []
        wanted = host.app.environment_extra  # real values: compared, never shown
        ok = ok and sorted(env_list) == wanted
        shown = [masked + ("" if e in wanted else " (differs)")
                 for e, masked in zip(sorted(env_list), environment_shown(sorted(env_list)),
                                      strict=True)]
        expected += f" and AppEnvironmentExtra {host.app.environment_shown}"
        found += f" and AppEnvironmentExtra {shown if env is not None else _shown(env)}"
    return Verdict(ok, expected, found,
                   f"{_PROVISION} (add --adopt if another tool installed this service)")


@requirement("app_directory", "service", "AppDirectory is the folder that holds the tac file")
def app_directory(host: Host, facts: HostFacts) -> Verdict:
    want = str(desired.nssm_settings(host)["app_directory"]["AppDirectory"])
    directory = nssm_value(facts, "AppDirectory")
    tac = facts.file(host.app.tac_file)
    ok = isinstance(directory, str) and same_path(directory, want) and tac.exists
    found = f"AppDirectory {_shown(directory)}, tac file {'present' if tac.exists else 'missing'}"
    return Verdict(ok, f"AppDirectory {want!r} holding {host.app.tac_file}", found,
                   f"{_PROVISION} to restore it")


@requirement("tac_file", "service", "the tac file is in place with the content from its source")
def tac_file(host: Host, facts: HostFacts) -> Verdict:
    fact = facts.file(host.app.tac_file)
    want = desired.tac_sha256(host)
    ok = fact.exists and (want is None or fact.sha256 == want)
    expected = f"{host.app.tac_file}" + (f" with sha256 {want}" if want else "")
    return Verdict(ok, expected, f"sha256 {fact.sha256}" if fact.exists else "no file",
                   f"{_PROVISION} to upload it from app.tac_source")


@requirement("display_name", "service", "DisplayName as configured")
def display_name(host: Host, facts: HostFacts) -> Verdict:
    want = desired.nssm_settings(host)["display_name"]["DisplayName"]
    value = nssm_value(facts, "DisplayName")
    return Verdict(value == want, repr(want), _shown(value), _PROVISION)


@requirement("description", "service", "Description as configured")
def description(host: Host, facts: HostFacts) -> Verdict:
    want = desired.nssm_settings(host)["description"]["Description"]
    value = nssm_value(facts, "Description")
    return Verdict((value or "") == want, repr(want), _shown(value), _PROVISION)


@requirement("start_type", "service", "start type as configured (default delayed automatic)")
def start_type(host: Host, facts: HostFacts) -> Verdict:
    svc = host.service
    return Verdict(facts.service.start == svc.start, svc.start, facts.service.start or "no service",
                   f"`sc config {svc.name} start= {svc.start}` or `invoke provision`")


def _settings_hold(want: dict[str, desired.NssmValue], facts: HostFacts) -> Verdict:
    """Each of ``want`` (NSSM names and values) as the host holds it (text case-insensitively);
    expected and found list only those that differ."""
    found = {k: nssm_value(facts, k) for k in want}
    bad = {k: v for k, v in want.items() if not _same(found[k], v)}
    return Verdict(not bad, ", ".join(f"{k}={v!r}" for k, v in bad.items()) or "as configured",
                   ", ".join(f"{k}={found[k]!r}" for k in bad) or "as configured", _PROVISION)


@requirement("logs_rotated", "service", "stdout/stderr go to log files with rotation")
def logs_rotated(host: Host, facts: HostFacts) -> Verdict:
    return _settings_hold(desired.nssm_settings(host)["logs_rotated"], facts)


@requirement("restart_policy", "service", "NSSM restarts the app on exit as configured")
def restart_policy(host: Host, facts: HostFacts) -> Verdict:
    return _settings_hold(desired.nssm_settings(host)["restart_policy"], facts)


def _same(found: object, want: object) -> bool:
    if isinstance(want, str) and isinstance(found, str):
        return found.lower() == want.lower()
    return found == want


# -- security -----------------------------------------------------------------------------------
@requirement("service_account", "security", "the service runs as its virtual account")
def service_account(host: Host, facts: HostFacts) -> Verdict:
    account, want = facts.service.account, host.service.account
    return Verdict(account is not None and same_account(account, want), repr(want),
                   _shown(account),
                   f'`sc config {host.service.name} obj= "{want}"` or `invoke provision`')


#: NT SERVICE\ALL SERVICES: holds SeServiceLogonRight by default, for every virtual account.
ALL_SERVICES_SID = "S-1-5-80-0"


def logon_right_fix(host: Host) -> str:
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
def logon_right(host: Host, facts: HostFacts) -> Verdict:
    account = host.service.account
    holders = facts.logon_right
    if holders is None and not facts.logon_right_error:
        return skip("not read (no base Python on the host yet)")
    sid = desired.account_sid_of(host) or facts.account_sid(account)
    allowed = {s for s in (sid, ALL_SERVICES_SID if is_virtual_account(account) else None) if s}
    ok = holders is not None and bool(allowed & set(holders))
    if holders is None:
        found = f"could not read the holders: {facts.logon_right_error}"
    else:
        found = (", ".join(f"{sddl.sid_name(h)} ({h})" for h in holders) or "nobody") + (
            f" (read with {facts.logon_right_source})" if facts.logon_right_source else "")
    return Verdict(ok, f"SeServiceLogonRight held by one of "
                   f"{', '.join(sorted(allowed)) or account}", found, logon_right_fix(host))


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
def permissions(host: Host, facts: HostFacts) -> Verdict:
    account = host.service.account
    problems = []
    for path, grants in desired.folder_grants(host).items():
        grant = next(g for g in grants if same_account(g.account, account))
        sid = grant.sid or facts.account_sid(account)
        problems += acl_problems(path, facts.acl(path), account, sid, grant.rights)
    return Verdict(
        not problems,
        f"{account}: RX on the venv and app folder, M on log and data folders; "
        "no write, append, modify or full entry for anyone but Administrators and SYSTEM",
        "; ".join(problems) or "as expected",
        f"{_PROVISION}: it removes inheritance and sets each folder's whole DACL",
    )


def writers(path: str, acl: FolderAcl) -> list[str]:
    """Each allow entry of ``acl`` giving a write-class right (write, append, add file or
    subfolder, delete, WRITE_DAC, WRITE_OWNER …) to anyone but Administrators, SYSTEM,
    TrustedInstaller and CREATOR OWNER (inherit-only), named by SID and right."""
    found = []
    for ace in acl.aces:
        if ace.kind != "allow" or not sddl.grants_write(ace.mask):
            continue
        if ace.sid in _MAY_WRITE or (ace.sid == CREATOR_OWNER_SID and "IO" in ace.flags):
            continue
        scope = " (to what is inside)" if "IO" in ace.flags else ""
        found.append(f"{sddl.sid_name(ace.sid)} ({ace.sid}): "
                     f"{', '.join(sddl.write_rights(ace.mask))}{scope}, {_where(ace, path)}")
    return found


BASE_PROTECTION = ("Administrators and SYSTEM full control, BUILTIN\\Users read/execute, "
                   "inheritance removed")


@requirement("base_python_protected", "security", "only admins may write the base Python's "
             "folder and the wheelhouses (what runs or is installed as the administrator)",
             scope="host")
def base_python_protected(host: Host, facts: HostFacts) -> Verdict:
    if not facts.base_python.exists:
        return skip("no base Python on the host yet")
    folders = desired.protected_folders(host)
    problems: list[str] = []
    for path in folders:
        acl = facts.acl(path)
        if acl is None or acl.error == "no such folder":
            continue
        problems += [f"{path}: {acl.error}"] if acl.error else writers(path, acl)
    return Verdict(
        not problems,
        f"no write, append or create right for anyone but Administrators, SYSTEM and "
        f"TrustedInstaller on {', '.join(folders)} (read/execute for the rest)",
        "; ".join(problems) or "as expected",
        f"{_PROVISION}: it sets {BASE_PROTECTION}, by SID (`icacls <folder> /inheritance:r "
        "/grant:r *S-1-5-32-544:(OI)(CI)F *S-1-5-18:(OI)(CI)F *S-1-5-32-545:(OI)(CI)RX`); "
        "look for files a user may have put there (a `.pth` in Lib\\site-packages runs with "
        "every start of that Python)")


def bad_owners(facts: HostFacts) -> dict[str, str]:
    """Each path read whose owner is not Administrators, SYSTEM or TrustedInstaller (or could
    not be read): path -> what was found."""
    bad = {}
    for path, owner in facts.owners.items():
        if owner.startswith("error: "):
            bad[path] = f"owner not read ({owner.removeprefix('error: ')})"
        elif owner not in desired.ADMIN_OWNERS:
            bad[path] = f"owned by {sddl.sid_name(owner)} ({owner})"
    return bad


def is_lock_file(path: str) -> bool:
    r"""A host lock file (``%ProgramData%\tacfleet\<service>.lock``)."""
    return path.lower().endswith(".lock") and win_parent(path).lower().endswith("\\tacfleet")


@requirement("owners", "security", "Administrators, SYSTEM or TrustedInstaller own what "
             "tacfleet runs and writes", scope="host")
def owners(host: Host, facts: HostFacts) -> Verdict:
    if not facts.base_python.exists:
        return skip("no base Python on the host yet")
    bad = bad_owners(facts)
    return Verdict(
        not bad,
        "owner Administrators (S-1-5-32-544), SYSTEM (S-1-5-18) or TrustedInstaller of the "
        "managed folders, base Python, wheelhouses, nssm.exe, tac file and host lock files "
        "(an owner may change the DACL whatever it says)",
        "; ".join(f"{path}: {what}" for path, what in bad.items()) or "as expected",
        f"{_PROVISION}: it sets each owner to Administrators (`icacls <path> /setowner "
        "*S-1-5-32-544`) and removes a lock file it did not write; first look at what that "
        "principal put there")


# -- runtime ------------------------------------------------------------------------------------
@requirement("service_running", "runtime", "the service is running")
def service_running(host: Host, facts: HostFacts) -> Verdict:
    state = facts.service.state
    return Verdict(state == "RUNNING", "RUNNING", state or "no service",
                   f"`sc start {host.service.name}` or `invoke provision`")


@requirement("app_answering", "runtime", "the app answers on its port")
def app_answering(host: Host, facts: HostFacts) -> Verdict:
    if host.app.port is None:
        return skip("no port configured", not_configured=True)
    return Verdict(facts.port_open is True, f"a listener on port {host.app.port}",
                   "a listener" if facts.port_open else "nothing listening",
                   "see the service's stderr log; `invoke provision` restarts it")


# -- releases (app.releases) ---------------------------------------------------------------------
@requirement("release_gated", "runtime", "the running release passed its health gate")
def release_gated(host: Host, facts: HostFacts) -> Verdict:
    if not host.app.releases:
        return skip("app.releases is off", not_configured=True)
    owed = releases.pending(host, facts)
    now = releases.running(host, facts) or "none of ours"
    line = releases.history(facts)[-1] if owed else {}
    found = (f"release {now} switched to by {line.get('by')} at {line.get('at')}, its health "
             "gate not passed (the run that switched was cut off)") if owed else f"release {now}"
    return Verdict(owed is None, f"release {now} past its health gate", found,
                   f"{_PROVISION}: it restarts the release and runs the gate (rolls back if it "
                   "fails)")


@requirement("releases_pruned", "runtime", "no more release folders than app.keep_releases")
def releases_pruned(host: Host, facts: HostFacts) -> Verdict:
    if not host.app.releases:
        return skip("app.releases is off", not_configured=True)
    extra = releases.prunable(host, facts)
    return Verdict(not extra, f"at most {host.app.keep_releases} releases",
                   f"{len(extra)} more: {', '.join(extra)}" if extra else "within the limit",
                   f"{_PROVISION} removes the oldest (never the running or previous one)")


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
    "bundle_shipped": (False, "a wheel in the wheelhouse is only read by pip; installing it "
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
    "base_python_protected": (False, "access is checked when a file is opened: new opens see "
                                     "new rights"),
    "owners": (False, "the owner is checked when a handle is opened: new opens see it"),
    "service_running": (False, "this is the start itself"),
    "release_gated": (False, "the gate asks the app; it restarts only a release that an "
                             "earlier run switched to"),
    "releases_pruned": (False, "only releases the service does not run are removed"),
    "app_answering": (False, "this is the start itself"),
}


def needs_restart(requirement: str) -> bool:
    """Is fixing ``requirement`` live only after the service restarts (unknown: yes)?"""
    return RESTART.get(requirement, (True, ""))[0]


def restart_note(requirements: list[str]) -> tuple[bool, str]:
    """``(needed, "restart: yes/no, because …")`` for fixing these requirements."""
    needs = [r for r in requirements if needs_restart(r)]
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
        return [req(units[0], facts) for req in REQUIREMENTS.values()]
    reqs = list(REQUIREMENTS.values())
    return [req(units[0], facts) for req in reqs if req.scope == "host"] + [
        req(unit, facts.for_service(unit.service.name))
        for unit in units for req in reqs if req.scope == "service"]
