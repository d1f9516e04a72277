"""The fact probe: runs ON the Windows host under its Python (stdlib only, Python 3.8+).

The controller embeds this file, with its parameters, into one command (see ``winhost.probe``).
Every fact comes from a source that speaks no human language: the service's registry key
through ``winreg``, its state through the service control manager (``ctypes``), the code pages
from kernel32, owners as SIDs and each folder's DACL as SDDL from GetNamedSecurityInfoW. The
programs it runs (the venv's Python, twistd, secedit where the LSA names nobody) run
concurrently; the answer is one marker line with JSON, parsed on the controller.
"""

import base64
import concurrent.futures
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

MARKER = "TACFLEET-FACTS "
SERVICES_KEY = "SYSTEM\\CurrentControlSet\\Services\\"
SERVICE_VALUES = (
    "Start",
    "DelayedAutostart",
    "ObjectName",
    "DisplayName",
    "Description",
    "ImagePath",
    "Type",
)
ERROR_SERVICE_DOES_NOT_EXIST = 1060
VENV_CODE = (
    "import json,sys,importlib,importlib.metadata as m\n"
    "r={'version':'%d.%d.%d'%sys.version_info[:3],'prefix':sys.prefix,"
    "'base_prefix':sys.base_prefix,'imports':{},'dists':{}}\n"
    "for d in m.distributions():\n"
    " n=d.metadata['Name']\n"
    " if n: r['dists'][n]=d.version\n"
    "for name in sys.argv[1:]:\n"
    " try:\n"
    "  mod=importlib.import_module(name);r['imports'][name]=[True,getattr(mod,'__version__','')]\n"
    " except BaseException as e:\n"
    "  r['imports'][name]=[False,'%s: %s'%(type(e).__name__,e)]\n"
    "print(json.dumps(r))\n"
)


def b64(data):
    return base64.b64encode(data or b"").decode("ascii")


def run(argv, timeout=60):
    """Run a program (no shell), returning its exit code and raw output in base64.

    A program that ended with 0xC0000142 (STATUS_DLL_INIT_FAILED) never ran its own code (the
    desktop heap of a non-interactive session was exhausted), so it is run once more.
    """
    try:
        for _attempt in range(2):
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=timeout,
            )
            if proc.returncode != 0xC0000142:
                break
    except FileNotFoundError:
        return {"rc": None, "error": "not found: %s" % argv[0]}
    except subprocess.TimeoutExpired:
        return {"rc": None, "error": "timed out after %ss" % timeout}
    except OSError as exc:
        return {"rc": None, "error": "%s: %s" % (type(exc).__name__, exc)}
    return {"rc": proc.returncode, "out": b64(proc.stdout), "err": b64(proc.stderr)}


def kernel32():
    import ctypes

    return ctypes.WinDLL("kernel32", use_last_error=True)


def codepages():
    try:
        k32 = kernel32()
        return {"ansi": k32.GetACP(), "oem": k32.GetOEMCP(), "console": k32.GetConsoleOutputCP()}
    except (OSError, AttributeError, ImportError):
        return {}


def oem_text(raw):
    """A program's message in the host's OEM code page (for error messages only)."""
    page = codepages().get("oem")
    try:
        return raw.decode("cp%d" % page if page else "utf-8", errors="replace").strip()
    except LookupError:
        return raw.decode("latin-1").strip()


# -- the service: registry and service control manager --------------------------------------------
def reg_value(value, kind):
    """A registry value as JSON: strings, ints, lists of strings; bytes as hex."""
    if isinstance(value, bytes):
        return {"type": kind, "hex": value.hex()}
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return value


def read_key(winreg, path):
    """All values of one HKLM key, or None when the key does not exist."""
    try:
        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path)
    except FileNotFoundError:
        return None
    values = {}
    with key:
        i = 0
        while True:
            try:
                name, value, kind = winreg.EnumValue(key, i)
            except OSError:
                break
            values[name] = reg_value(value, kind)
            i += 1
    return values


def service_registry(name):
    """The service key's values, its NSSM ``Parameters`` and the ``AppExit`` default action."""
    try:
        import winreg
    except ImportError:
        return {"key": None, "error": "no winreg: not a Windows Python"}
    try:
        key = read_key(winreg, SERVICES_KEY + name)
        if key is None:
            return {"key": None}
        parameters = read_key(winreg, SERVICES_KEY + name + "\\Parameters")
        app_exit = read_key(winreg, SERVICES_KEY + name + "\\Parameters\\AppExit")
    except OSError as exc:
        return {"key": None, "error": "registry: %s" % exc}
    return {
        "key": {k: v for k, v in key.items() if k in SERVICE_VALUES},
        "parameters": parameters or {},
        "app_exit": (app_exit or {}).get(""),  # the key's unnamed (default) value
    }


def service_status(name):
    """QueryServiceStatusEx through the service control manager; exists False on 1060."""
    try:
        import ctypes
        from ctypes import wintypes

        advapi = ctypes.WinDLL("advapi32", use_last_error=True)
    except (ImportError, OSError, AttributeError):
        return {"exists": None, "error": "no service control manager: not a Windows Python"}

    class SERVICE_STATUS_PROCESS(ctypes.Structure):
        _fields_ = [
            (field, wintypes.DWORD)
            for field in (
                "dwServiceType",
                "dwCurrentState",
                "dwControlsAccepted",
                "dwWin32ExitCode",
                "dwServiceSpecificExitCode",
                "dwCheckPoint",
                "dwWaitHint",
                "dwProcessId",
                "dwServiceFlags",
            )
        ]

    handle = wintypes.HANDLE
    advapi.OpenSCManagerW.argtypes = [wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD]
    advapi.OpenSCManagerW.restype = handle
    advapi.OpenServiceW.argtypes = [handle, wintypes.LPCWSTR, wintypes.DWORD]
    advapi.OpenServiceW.restype = handle
    advapi.QueryServiceStatusEx.argtypes = [
        handle,
        ctypes.c_int,
        ctypes.c_void_p,
        wintypes.DWORD,
        ctypes.POINTER(wintypes.DWORD),
    ]
    advapi.QueryServiceStatusEx.restype = wintypes.BOOL
    advapi.CloseServiceHandle.argtypes = [handle]
    manager = advapi.OpenSCManagerW(None, None, 0x0001)  # SC_MANAGER_CONNECT
    if not manager:
        return {"exists": None, "error": "OpenSCManagerW: error %d" % ctypes.get_last_error()}
    try:
        service = advapi.OpenServiceW(manager, name, 0x0004)  # SERVICE_QUERY_STATUS
        if not service:
            code = ctypes.get_last_error()
            if code == ERROR_SERVICE_DOES_NOT_EXIST:
                return {"exists": False}
            return {"exists": None, "error": "OpenServiceW(%s): error %d" % (name, code)}
        try:
            status = SERVICE_STATUS_PROCESS()
            needed = wintypes.DWORD()
            if not advapi.QueryServiceStatusEx(
                service, 0, ctypes.byref(status), ctypes.sizeof(status), ctypes.byref(needed)
            ):  # 0 = SC_STATUS_PROCESS_INFO
                error = "QueryServiceStatusEx: error %d" % ctypes.get_last_error()
                return {"exists": True, "error": error}
            return {
                "exists": True,
                "state": status.dwCurrentState,
                "pid": status.dwProcessId,
                "win32_exit_code": status.dwWin32ExitCode,
                "service_exit_code": status.dwServiceSpecificExitCode,
            }
        finally:
            advapi.CloseServiceHandle(service)
    finally:
        advapi.CloseServiceHandle(manager)


def lookup_sids(names):
    """Account name -> SID string through LookupAccountNameW (None when unknown)."""
    if not names:
        return {}
    try:
        import ctypes
        from ctypes import wintypes

        advapi = ctypes.WinDLL("advapi32", use_last_error=True)
        k32 = kernel32()
    except (ImportError, OSError, AttributeError):
        return {name: None for name in names}
    found = {}
    for name in names:
        sid = ctypes.create_string_buffer(256)
        sid_size = wintypes.DWORD(256)
        domain = ctypes.create_unicode_buffer(256)
        domain_size = wintypes.DWORD(256)
        use = wintypes.DWORD()
        text = wintypes.LPWSTR()
        ok = advapi.LookupAccountNameW(
            None, name, sid, ctypes.byref(sid_size), domain, ctypes.byref(domain_size),
            ctypes.byref(use),
        ) and advapi.ConvertSidToStringSidW(sid, ctypes.byref(text))
        found[name] = text.value if ok else None
        if ok:
            k32.LocalFree(text)
    return found


# -- user rights: who may log on as a service ------------------------------------------------------
STATUS_NO_MORE_ENTRIES = 0x8000001A


def lsa_right_holders(right):
    """SIDs holding a user right, through LsaEnumerateAccountsWithUserRight: (sids, error)."""
    try:
        import ctypes
        from ctypes import wintypes

        advapi = ctypes.WinDLL("advapi32", use_last_error=True)
    except (ImportError, OSError, AttributeError):
        return None, "no LSA: not a Windows Python"

    class LSA_UNICODE_STRING(ctypes.Structure):
        _fields_ = [("Length", wintypes.USHORT), ("MaximumLength", wintypes.USHORT),
                    ("Buffer", wintypes.LPWSTR)]

    class LSA_OBJECT_ATTRIBUTES(ctypes.Structure):
        _fields_ = [("Length", wintypes.ULONG), ("RootDirectory", wintypes.HANDLE),
                    ("ObjectName", ctypes.c_void_p), ("Attributes", wintypes.ULONG),
                    ("SecurityDescriptor", ctypes.c_void_p),
                    ("SecurityQualityOfService", ctypes.c_void_p)]

    for fn in ("LsaOpenPolicy", "LsaEnumerateAccountsWithUserRight", "LsaClose",
               "LsaFreeMemory", "LsaNtStatusToWinError"):
        getattr(advapi, fn).restype = wintypes.ULONG
    advapi.ConvertSidToStringSidW.argtypes = [ctypes.c_void_p, ctypes.POINTER(wintypes.LPWSTR)]
    attributes = LSA_OBJECT_ATTRIBUTES()
    attributes.Length = ctypes.sizeof(attributes)
    policy = wintypes.HANDLE()
    # POLICY_LOOKUP_NAMES | POLICY_VIEW_LOCAL_INFORMATION
    status = advapi.LsaOpenPolicy(None, ctypes.byref(attributes), 0x0801, ctypes.byref(policy))
    if status:
        return None, "LsaOpenPolicy: error %d" % advapi.LsaNtStatusToWinError(status)
    try:
        name = LSA_UNICODE_STRING(len(right) * 2, len(right) * 2 + 2, right)
        buffer = ctypes.c_void_p()
        count = wintypes.ULONG()
        status = advapi.LsaEnumerateAccountsWithUserRight(
            policy, ctypes.byref(name), ctypes.byref(buffer), ctypes.byref(count))
        if status == STATUS_NO_MORE_ENTRIES:
            return [], None
        if status:
            return None, "LsaEnumerateAccountsWithUserRight: error %d" % (
                advapi.LsaNtStatusToWinError(status))
        sids = []
        entries = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))
        for i in range(count.value):
            text = wintypes.LPWSTR()
            if advapi.ConvertSidToStringSidW(entries[i], ctypes.byref(text)):
                sids.append(text.value)
                kernel32().LocalFree(text)
        advapi.LsaFreeMemory(buffer)
        return sids, None
    finally:
        advapi.LsaClose(policy)


def secedit_right_holders(secedit, right):
    """The same from ``secedit /export /areas USER_RIGHTS``' [Privilege Rights] (UTF-16 INF)."""
    workdir = tempfile.mkdtemp(prefix="tacfleet-rights-")
    cfg = os.path.join(workdir, "rights.inf")
    try:
        result = run([secedit, "/export", "/areas", "USER_RIGHTS", "/cfg", cfg, "/quiet"])
        if result["rc"] is None:
            return None, "%s: %s" % (secedit, result["error"])
        if result["rc"] != 0 or not os.path.isfile(cfg):
            return None, "secedit /export: exit code %s" % result["rc"]
        with open(cfg, "rb") as handle:
            return privilege_rights(handle.read()).get(right.lower(), []), None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def privilege_rights(raw):
    """``[Privilege Rights]`` of a secedit INF (UTF-16 with a BOM): lower-cased right -> SIDs
    (``*SID`` entries; a name, as secedit writes for an account it cannot map, is kept)."""
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode(
        "utf-8", errors="replace")
    rights, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.lower()
        elif section == "[privilege rights]" and "=" in line:
            key, _, value = line.partition("=")
            rights[key.strip().lower()] = [v.strip().lstrip("*") for v in value.split(",")
                                           if v.strip()]
    return rights


def right_holders(system_root, right):
    """Holders of ``right``: the LSA's answer; when it names nobody (Windows' answer for an
    empty list, and what an LSA without the call says), ``secedit /export`` is asked too."""
    sids, error = lsa_right_holders(right)
    if sids:
        return {"sids": sids, "source": "lsa"}
    secedit = os.path.join(system_root, "System32", "secedit.exe")
    more, more_error = secedit_right_holders(secedit, right)
    if more is not None:
        return {"sids": more, "source": "secedit"}
    if sids is not None:
        return {"sids": sids, "source": "lsa"}
    return {"sids": None, "error": "; ".join(e for e in (error, more_error) if e)}


# -- security: owners and folder DACLs, read in this process --------------------------------------
OWNER_SECURITY_INFORMATION = 1
DACL_SECURITY_INFORMATION = 4
SE_FILE_OBJECT = 1
SDDL_REVISION_1 = 1


def security(path, dacl=False):
    """The owner of a file or folder as a SID string and, with ``dacl``, its DACL as SDDL
    (``D:PAI(A;OICI;FA;;;SY)…``, what ``icacls /save`` writes): GetNamedSecurityInfoW, then
    ConvertSidToStringSidW and ConvertSecurityDescriptorToStringSecurityDescriptorW, in this
    process (no program started, no file written). Off Windows (tests) a file of this user
    counts as Administrators' and no DACL is read."""
    if sys.platform != "win32":
        if dacl:
            return {"error": "no DACL: not a Windows Python"}
        uid = os.lstat(path).st_uid
        return {"sid": "S-1-5-32-544" if uid == os.geteuid() else "uid:%d" % uid}
    import ctypes

    adv = ctypes.WinDLL("advapi32", use_last_error=True)
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    k32.LocalFree.argtypes = [ctypes.c_void_p]
    vp = ctypes.c_void_p
    get = adv.GetNamedSecurityInfoW
    get.argtypes = [ctypes.c_wchar_p, ctypes.c_int, ctypes.c_ulong, ctypes.POINTER(vp), vp,
                    ctypes.POINTER(vp), vp, ctypes.POINTER(vp)]
    info = OWNER_SECURITY_INFORMATION | (DACL_SECURITY_INFORMATION if dacl else 0)
    owner, acl, sd = vp(), vp(), vp()
    rc = get(path, SE_FILE_OBJECT, info, ctypes.byref(owner), None, ctypes.byref(acl), None,
             ctypes.byref(sd))
    if rc:
        return {"error": "GetNamedSecurityInfoW: error %d" % rc}
    try:
        found = {}
        text = vp()
        adv.ConvertSidToStringSidW.argtypes = [vp, ctypes.POINTER(vp)]
        if not adv.ConvertSidToStringSidW(owner, ctypes.byref(text)):
            return {"error": "ConvertSidToStringSidW: error %d" % ctypes.get_last_error()}
        found["sid"] = ctypes.wstring_at(text)
        k32.LocalFree(text)
        if dacl:
            convert = adv.ConvertSecurityDescriptorToStringSecurityDescriptorW
            convert.argtypes = [vp, ctypes.c_ulong, ctypes.c_ulong, ctypes.POINTER(vp), vp]
            if not convert(sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, ctypes.byref(text),
                           None):
                return {"error": "ConvertSecurityDescriptorToStringSecurityDescriptorW: error "
                                 "%d" % ctypes.get_last_error()}
            found["sddl"] = ctypes.wstring_at(text)
            k32.LocalFree(text)
        return found
    finally:
        k32.LocalFree(sd)


def folder_sddl(path):
    """A folder's DACL as SDDL, or why not."""
    if not os.path.isdir(path):
        return {"error": "no such folder"}
    found = security(path, dacl=True)
    return {"sddl": found["sddl"]} if "sddl" in found else {"error": found["error"]}


def owner_sid(path):
    """The owner of a file or folder as a SID string, or why not."""
    found = security(path)
    return {"sid": found["sid"]} if "sid" in found else {"error": found["error"]}


def owners(paths):
    """The owner of each path that exists, and of the host lock folder and its lock files."""
    folder = os.path.join(os.environ.get("PROGRAMDATA") or "C:\\ProgramData", "tacfleet")
    try:
        found = [os.path.join(folder, n) for n in sorted(os.listdir(folder))
                 if n.lower().endswith(".lock")]
    except OSError:
        found = []
    result = {}
    for path in [*paths, folder, *found]:
        if os.path.lexists(path):
            result[path] = owner_sid(path)
    return result


# -- files, venv, base Python -------------------------------------------------------------------
def file_facts(path):
    facts = {"path": path, "exists": os.path.isfile(path), "dir_exists": os.path.isdir(path)}
    if facts["exists"]:
        facts["owner"] = owner_sid(path).get("sid")
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        facts["sha256"] = digest.hexdigest()
        facts["size"] = os.path.getsize(path)
    return facts


def read_cfg(path):
    values = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep:
                    values[key.strip().lower()] = value.strip()
    except OSError:
        return None
    return values


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def release_facts(folder):
    """The release folders under ``folder`` (name, mtime, has python.exe) and the last 50 lines
    of its history (one JSON document per deploy or rollback)."""
    names = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        entries = []
    for entry in entries:
        if entry.is_dir():
            python = os.path.join(entry.path, "Scripts", "python.exe")
            names.append({"name": entry.name, "mtime": entry.stat().st_mtime,
                          "python": os.path.isfile(python)})
    history = []
    try:
        with open(os.path.join(folder, "tacfleet-history.jsonl"), encoding="utf-8",
                  errors="replace") as handle:
            lines = handle.read().splitlines()[-50:]
    except OSError:
        lines = []
    for line in lines:
        try:
            history.append(json.loads(line))
        except ValueError:  # a line cut off by a full disk: the others still count
            continue
    return {"path": folder, "names": names, "history": history}


def base_facts():
    exe = sys.executable
    here = os.path.dirname(exe)
    pth = [n for n in os.listdir(here) if n.lower().endswith("._pth")]
    dists: dict[str, str | None] = {}  # a local annotation: never evaluated, so 3.8-safe
    try:
        import importlib.metadata as metadata

        for name in ("pip", "virtualenv", "setuptools"):
            try:
                dists[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                dists[name] = None
    except ImportError:
        pass
    return {
        "executable": exe,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "embeddable": bool(pth),
        "packages": dists,
    }


def start_unit(pool, unit, imports, venvs):
    """Submit one service's probes (its venv's programs, service and port: ``unit`` names them,
    paths as the controller computed them); ``finish_unit`` reads them. ``venvs``: the venv
    programs already submitted, by path (a shared venv is asked once)."""
    venv, port = unit["venv"], unit.get("port")
    key = os.path.normcase(venv)
    if key not in venvs:
        jobs = {}
        if os.path.isfile(unit["python"]):
            jobs["venv"] = [unit["python"], "-I", "-c", VENV_CODE, *imports]
        if os.path.isfile(unit["twistd"]):
            jobs["twistd_help"] = [unit["twistd"], "--help"]
        venvs[key] = {name: pool.submit(run, argv) for name, argv in jobs.items()}
    return {
        "venv": venv,
        "python": unit["python"],
        "twistd": unit["twistd"],
        "svc": unit["service"],
        "outputs": venvs[key],
        "port": pool.submit(port_open, port) if port else None,
        "releases": unit.get("releases"),
    }


def service_statuses(names):
    """Each service's status, one after the other in one thread (Wine's service manager
    answers ERROR_INVALID_HANDLE to concurrent queries)."""
    return [service_status(name) for name in names]


def finish_unit(unit, status):
    """One service's facts, in the shape of the top-level ``venv``/``service``/``port_open``."""
    venv, svc = unit["venv"], unit["svc"]
    service = service_registry(svc)
    service["name"] = svc
    service["scm"] = status
    return {
        "venv": {
            "path": venv,
            "exists": os.path.isdir(venv),
            "python_exists": os.path.isfile(unit["python"]),
            "twistd_exists": os.path.isfile(unit["twistd"]),
            "cfg": read_cfg(os.path.join(venv, "pyvenv.cfg")),
        },
        "service": service,
        "port_open": unit["port"].result() if unit["port"] else None,
        "outputs": {name: future.result() for name, future in unit["outputs"].items()},
        "releases": release_facts(unit["releases"]) if unit["releases"] else None,
    }


def main(params):
    system_root = os.environ.get("SYSTEMROOT") or "C:\\Windows"
    acl_paths = params.get("acl_paths", [])
    imports = params["imports"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        venvs: dict[str, object] = {}
        first = start_unit(pool, params, imports, venvs)
        # further services of the host (``units``): each its own venv, service and port
        more = [start_unit(pool, u, imports, venvs) for u in params.get("units", [])]
        status_future = pool.submit(service_statuses, [u["svc"] for u in [first, *more]])
        acl_futures = [pool.submit(folder_sddl, path) for path in acl_paths]
        owners_future = pool.submit(owners, params.get("owner_paths", []))
        rights_future = pool.submit(right_holders, system_root, "SeServiceLogonRight")
        sids = lookup_sids(params.get("accounts", []))
        statuses = status_future.result()
        unit = finish_unit(first, statuses[0])
        units = [finish_unit(u, status) for u, status in zip(more, statuses[1:])]  # noqa: B905
        acls = {path: future.result() for path, future in zip(acl_paths, acl_futures)}  # noqa: B905 (3.8)
    answer = {
        "probe": 2,
        "hostname": socket.gethostname(),
        "system_root": system_root,
        "codepages": codepages(),
        "base": base_facts(),
        "venv": unit["venv"],
        "service": unit["service"],
        "files": {path: file_facts(path) for path in params["files"]},
        "dirs": {path: os.path.isdir(path) for path in params["dirs"]},
        "acls": acls,
        "owners": owners_future.result(),
        "sids": sids,
        "rights": {"SeServiceLogonRight": rights_future.result()},
        "port_open": unit["port_open"],
        "curl": os.path.isfile(os.path.join(system_root, "System32", "curl.exe")),
        "outputs": unit["outputs"],
        "releases": unit["releases"],
    }
    if units:
        answer["units"] = units
    return answer


if __name__ == "__main__":
    PARAMS = json.loads(base64.b64decode(sys.argv[1]).decode("utf-8"))
    sys.stdout.write(MARKER + json.dumps(main(PARAMS)) + "\n")
