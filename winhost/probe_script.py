"""The fact probe: runs ON the Windows host under its Python (stdlib only, Python 3.8+).

The controller embeds this file, with its parameters, into one command line (see
``winhost.probe``). It gathers every raw output the checks and the provisioner need, running
the external tools concurrently, and prints one marker line with JSON. Parsing happens on the
controller, where the parsers are unit-tested on authentic samples.
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

MARKER = "TACFLEET-FACTS "
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
    """Run a program (no shell), returning its exit code and raw output in base64."""
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
    except FileNotFoundError:
        return {"rc": None, "error": "not found: %s" % argv[0]}
    except subprocess.TimeoutExpired:
        return {"rc": None, "error": "timed out after %ss" % timeout}
    except OSError as exc:
        return {"rc": None, "error": "%s: %s" % (type(exc).__name__, exc)}
    return {"rc": proc.returncode, "out": b64(proc.stdout), "err": b64(proc.stderr)}


def tool(name):
    """Resolve a tool as cmd.exe does (PATH order), not as CreateProcess does (System32 first)."""
    return shutil.which(name) or name


def file_facts(path):
    facts = {"path": path, "exists": os.path.isfile(path), "dir_exists": os.path.isdir(path)}
    if facts["exists"]:
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


def base_facts():
    exe = sys.executable
    here = os.path.dirname(exe)
    pth = [n for n in os.listdir(here) if n.lower().endswith("._pth")]
    dists = {}
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


def main(params):
    venv = params["venv"]
    venv_python = os.path.join(venv, "Scripts", "python.exe")
    twistd = os.path.join(venv, "Scripts", "twistd.exe")
    svc = params["service"]
    jobs = {
        "sc_qc": [tool("sc.exe"), "qc", svc, "8192"],
        "sc_qdescription": [tool("sc.exe"), "qdescription", svc, "8192"],
        "sc_query": [tool("sc.exe"), "query", svc],
        "reg_service": [
            tool("reg.exe"),
            "query",
            "HKLM\\SYSTEM\\CurrentControlSet\\Services\\" + svc,
            "/s",
        ],
    }
    if os.path.isfile(venv_python):
        jobs["venv"] = [venv_python, "-I", "-c", VENV_CODE, *params["imports"]]
    if os.path.isfile(twistd):
        jobs["twistd_help"] = [twistd, "--help"]
    for i, path in enumerate(params["acl_paths"]):
        if os.path.exists(path):
            jobs["icacls_%d" % i] = [tool("icacls.exe"), path]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(run, argv) for name, argv in jobs.items()}
        port = params.get("port")
        port_future = pool.submit(port_open, port) if port else None
        outputs = {name: future.result() for name, future in futures.items()}
    return {
        "probe": 1,
        "hostname": socket.gethostname(),
        "base": base_facts(),
        "venv": {
            "path": venv,
            "exists": os.path.isdir(venv),
            "python_exists": os.path.isfile(venv_python),
            "twistd_exists": os.path.isfile(twistd),
            "cfg": read_cfg(os.path.join(venv, "pyvenv.cfg")),
        },
        "files": {path: file_facts(path) for path in params["files"]},
        "dirs": {path: os.path.isdir(path) for path in params["dirs"]},
        "acl_paths": params["acl_paths"],
        "port_open": port_future.result() if port_future else None,
        "outputs": outputs,
    }


if __name__ == "__main__":
    PARAMS = json.loads(base64.b64decode(sys.argv[1]).decode("utf-8"))
    sys.stdout.write(MARKER + json.dumps(main(PARAMS)) + "\n")
