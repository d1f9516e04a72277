"""Small validated field types shared by the inventory models (controller paths, versions...).

Controller-side paths are resolved when a model is validated: ``~`` is expanded and a relative
path is taken relative to the inventory file (``context={"base_dir": ...}``; the current folder
otherwise). With ``context["check_files"]`` true, files that must exist are checked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, Field, Strict, ValidationInfo, WrapValidator
from pydantic_core import PydanticCustomError


def bad(problem: str, fix: str, field: str = "") -> PydanticCustomError:
    """A validation error that carries a fix (and optionally the field it concerns)."""
    ctx = {"problem": problem, "fix": fix}
    if field:
        ctx["field"] = field
    return PydanticCustomError("tacfleet", "{problem}; fix: {fix}", ctx)


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context if isinstance(info.context, dict) else {}


def resolve_controller_path(value: str | Path, base_dir: Path | None = None) -> Path:
    """Expand ``~`` and make a controller-side path absolute (relative to ``base_dir``)."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return Path(os.path.normpath(path))  # lexical: '..' folds without resolving symlinks


def _controller_path(value: Any, handler: Any, info: ValidationInfo, *, must_exist: bool) -> Path:
    if isinstance(value, str):
        if not value.strip():
            raise bad("is empty", "write a path on this machine, e.g. files/app.tac")
        value = resolve_controller_path(value, _context(info).get("base_dir"))
    path: Path = handler(value)
    if must_exist and _context(info).get("check_files"):
        if not path.exists():
            raise bad(f"no such file on this machine: {path}",
                      "fix the path (relative paths start at the inventory file's folder)")
        if not path.is_file():
            raise bad(f"{path} is not a file", "point it at a file")
    return path


#: A file on the controller (this machine) that must exist when the inventory is loaded.
ControllerFile = Annotated[
    Path, WrapValidator(lambda v, h, i: _controller_path(v, h, i, must_exist=True))
]
#: A path on the controller that is only read later (e.g. a password file).
ControllerPath = Annotated[
    Path, WrapValidator(lambda v, h, i: _controller_path(v, h, i, must_exist=False))
]


def _requirement(value: str) -> str:
    try:
        Requirement(value)
    except InvalidRequirement as exc:
        raise bad(f"is not a pip requirement ({str(exc).splitlines()[0]})",
                  "write it like Twisted, tacdemo==1.0.0 or pywin32>=306") from None
    return value.strip()


def _version(value: str) -> str:
    try:
        Version(value)
    except InvalidVersion:
        raise bad("is not a version number", "write it like 24.0 or 20.26.6") from None
    return value


def _python_version(value: str) -> str:
    if not re.fullmatch(r"3\.\d{1,2}(\.\d{1,3})?", value):
        raise bad("is not a Python 3 version", "write it like 3.11 or 3.11.9")
    return value


def _env_var(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise bad("is not an environment variable name",
                  "write the variable's name (letters, digits, _), e.g. TACFLEET_WEB_PASSWORD")
    return value


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise bad("is not a SHA-256 checksum (64 hex digits)",
                  "write the output of sha256sum / Get-FileHash for the file")
    return value.lower()


def _http_url(value: str) -> str:
    """An http(s) URL; credentials in it (``user:token@``) are remembered as secrets."""
    from inventory.secrets import remember_url

    remember_url(value)
    if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value):
        raise bad("is not an http(s) URL", "write it like https://pypi.org/simple")
    return value


PipRequirement = Annotated[str, AfterValidator(_requirement)]
VersionStr = Annotated[str, AfterValidator(_version)]
PythonVersion = Annotated[str, AfterValidator(_python_version)]
EnvVarName = Annotated[str, AfterValidator(_env_var)]
Sha256 = Annotated[str, AfterValidator(_sha256)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Port = Annotated[int, Strict(), Field(ge=1, le=65535)]
Millis = Annotated[int, Strict(), Field(ge=0)]
Seconds = Annotated[int, Strict(), Field(ge=1, le=3600)]
StrictBool = Annotated[bool, Strict()]
