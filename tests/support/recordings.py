"""Real Windows WinRM exchanges recorded by pypsrp (tests/fixtures/pypsrp_recordings, MIT) and
the structure of an answer, compared field by field without host-specific values.

``shape(answer)`` keeps what every Windows host answers alike: each element's namespace and
name in order, its attributes' names and values, its text; host-specific values (ids, the
host's address and name, the shell's owner and client address, stream data) become
placeholders, and consecutive data streams of one name collapse into one (how a program's
output is cut into writes is the program's, not the protocol's). The header keeps its
elements' names and the action (Windows adds ``p:ActivityId`` to some faults: dropped).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import yaml

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "pypsrp_recordings"
_ID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_A = "{http://schemas.xmlsoap.org/ws/2004/08/addressing}"
_RSP = "{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}"
_F = "{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}"
#: elements whose text is the host's own (its address, the user, the client's address)
_HOST_TEXT = {_A + "Address", _RSP + "Owner", _RSP + "ClientIP", _A + "To"}
_DROPPED = {"{http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd}ActivityId"}


@dataclass(frozen=True)
class Exchange:
    request: str
    response: str

    @property
    def action(self) -> str:
        """The request's action, its last path segment (Create, Command, Receive...)."""
        node = ET.fromstring(self.request).find(f".//{_A}Action")
        return (node.text or "").rsplit("/", 1)[-1] if node is not None else ""

    @property
    def fault(self) -> bool:
        return "<s:Fault>" in self.response


def load(name: str) -> list[Exchange]:
    """The exchanges of ``test_winrs_<name>.yml``, in order."""
    data = yaml.safe_load((RECORDINGS / f"test_winrs_{name}.yml").read_text(encoding="utf-8"))
    return [Exchange(m["request"], m["response"]) for m in data["messages"]]


def _text(node: ET.Element) -> str:
    text = (node.text or "").strip() if len(node) else (node.text or "")
    if node.tag in _HOST_TEXT:
        return "<host>" if text else ""
    if node.tag == _RSP + "Stream":
        return "<data>" if text else ""
    return _ID.sub("<id>", text)


def _attributes(node: ET.Element) -> tuple[tuple[str, str], ...]:
    items = []
    for key, value in sorted(node.attrib.items()):
        if node.tag == _F + "WSManFault" and key == "Machine":
            value = "<host>"
        items.append((key, _ID.sub("<id>", value)))
    return tuple(items)


def _walk(node: ET.Element, path: str, out: list[tuple[str, tuple[tuple[str, str], ...], str]]
          ) -> None:
    here = f"{path}/{node.tag}"
    entry = (here, _attributes(node), _text(node))
    data_stream = node.tag == _RSP + "Stream" and entry[2] == "<data>"
    if not (data_stream and out and out[-1] == entry):  # consecutive writes: one stream
        out.append(entry)
    for child in node:
        if child.tag not in _DROPPED:
            _walk(child, here, out)


def shape(answer: str | bytes) -> list[tuple[str, tuple[tuple[str, str], ...], str]]:
    """The answer's structure, field by field, without host-specific values (module doc)."""
    root = ET.fromstring(answer)
    out: list[tuple[str, tuple[tuple[str, str], ...], str]] = []
    for part in root:
        if part.tag.endswith("}Header"):
            for child in part:
                if child.tag not in _DROPPED:
                    text = child.text or "" if child.tag == _A + "Action" else ""
                    out.append((f"Header/{child.tag}", (), text))
        else:
            _walk(part, "", out)
    return out
