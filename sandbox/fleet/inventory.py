"""An inventory of N simulated hosts: the recorded host's entry, one copy per port.

Only ``connection.port`` (and the shared ``password_file``) differ between the hosts, and the
fact probe's parameters hold no host name or port, so every host's probe is the same command
line, the one in the transcript. :func:`probe_lines` checks that on a loaded inventory.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from compliance import desired
from inventory import load_inventory
from inventory.models import Host
from winhost.probe import probe_command

HERE = Path(__file__).resolve().parent
#: The inventory entry compliant.json was recorded with.
DEFAULT_TEMPLATE = HERE / "transcripts" / "compliant.inventory.yml"


def host_name(index: int) -> str:
    """``sim0001`` for index 0."""
    return f"sim{index + 1:04d}"


def template_entry(template: str | Path = DEFAULT_TEMPLATE,
                   template_host: str = "sandbox") -> dict[str, Any]:
    """The template host's entry as plain data, with a relative tac_source made absolute."""
    path = Path(template).resolve()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entry = copy.deepcopy(data["hosts"][template_host])
    app = entry.get("app") or {}
    source = app.get("tac_source")
    if source and not Path(source).expanduser().is_absolute():
        app["tac_source"] = str((path.parent / source).resolve())
    return dict(entry)


def fleet_inventory_data(ports: Sequence[int], *, password_file: str | Path,
                         user: str | None = None, template: str | Path = DEFAULT_TEMPLATE,
                         template_host: str = "sandbox") -> dict[str, Any]:
    """Inventory data: the template entry under ``all.vars``, one host per port."""
    common = template_entry(template, template_host)
    connection = common.setdefault("connection", {})
    connection.pop("port", None)
    connection["address"] = "127.0.0.1"
    connection["password_file"] = str(Path(password_file).expanduser().resolve())
    if user:
        connection["user"] = user
    hosts = {host_name(i): {"connection": {"port": int(port)}} for i, port in enumerate(ports)}
    return {"all": {"vars": common}, "hosts": hosts}


def write_fleet_inventory(out: str | Path, ports: Sequence[int], *, password_file: str | Path,
                          user: str | None = None, template: str | Path = DEFAULT_TEMPLATE,
                          template_host: str = "sandbox") -> Path:
    """Write the inventory of the simulated hosts listening on ``ports`` (in order)."""
    data = fleet_inventory_data(ports, password_file=password_file, user=user,
                                template=template, template_host=template_host)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ("# Simulated hosts (sandbox.fleet): generated, one host per loopback port; every\n"
              "# value but connection.port comes from the recorded host's entry.\n")
    out.write_text(header + yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")
    return out


def probe_lines(hosts: Sequence[Host]) -> set[str]:
    """The distinct fact-probe command lines of ``hosts`` (one for a well-built fleet)."""
    return {probe_command(desired.probe_spec(h)).line for h in hosts}


def load_fleet(path: str | Path) -> list[Host]:
    """Load a generated inventory and check that every host probes with the same line."""
    hosts = list(load_inventory(Path(path)).hosts)
    lines = probe_lines(hosts)
    if len(lines) > 1:
        raise ValueError(f"{path}: the hosts' probe command lines differ ({len(lines)} "
                         "distinct); a transcript cannot answer them all")
    return hosts
