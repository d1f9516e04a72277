"""The sandbox's WinRM endpoint answers as real Windows hosts did: pypsrp's recorded exchanges
(tests/fixtures/pypsrp_recordings) replayed against the loopback endpoint, request by request,
each answer compared field by field with the recorded one (``tests.support.recordings.shape``:
the structure and Windows' words, not ids, addresses or stream data).

The recorded requests are sent as recorded, with the live shell and command ids put in and each
command line replaced by a POSIX one that writes what the recorded command wrote, pausing where
the host answered w:TimedOut (the endpoint runs /bin/sh: ``PosixShellExecutor``, no Wine).
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import pytest
from winrm.exceptions import WinRMTransportError

from tests.support.recordings import Exchange, load, shape
from winhost.wsman_transport import LeanTransport

_RSP = "{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}"
#: The OperationTimeout the replay asks for (the endpoint answers TimedOut after 2 s of it) and
#: the pause that stands for each TimedOut the host answered.
OPERATION_TIMEOUT, PAUSE = "PT3S", 2.6
RECORDINGS = ["standard", "operation_timeout", "stderr_rc", "unicode", "send", "no_cmd_shell",
              "bad_cmd_id"]


def _octal(data: bytes) -> str:
    return "".join(f"\\{b:03o}" for b in data)


def _posix_script(answers: list[Exchange]) -> str:
    """A /bin/sh script that writes what the recorded command wrote, in the same order, and
    ends with its exit code; a pause where the host answered TimedOut."""
    steps = []
    for answer in answers:
        if answer.fault:
            steps.append(f"sleep {PAUSE}")
            continue
        for node in ET.fromstring(answer.response).iter(_RSP + "Stream"):
            if node.text:
                to = " >&2" if node.get("Name") == "stderr" else ""
                steps.append(f"printf '{_octal(base64.b64decode(node.text))}'{to}")
        for state in ET.fromstring(answer.response).iter(_RSP + "ExitCode"):
            steps.append(f"exit {state.text}")
    return "; ".join(steps)


def _scripts(exchanges: list[Exchange]) -> dict[int, str]:
    """For each Command exchange that started a command: its replacement command line."""
    scripts = {}
    for n, exchange in enumerate(exchanges):
        if exchange.action != "Command" or exchange.fault:
            continue
        command_id = ET.fromstring(exchange.response).findtext(f".//{_RSP}CommandId")
        answers = [e for e in exchanges[n + 1:] if e.action == "Receive"
                   and f'CommandId="{command_id}"' in e.request]
        script = _posix_script(answers)
        skip_cmd = re.search(r'WINRS_SKIP_CMD_SHELL">\s*true', exchange.request, re.I)
        scripts[n] = f'/bin/sh -c "{script}"' if skip_cmd else script
    return scripts


def _request(exchange: Exchange, ids: dict[str, str], script: str | None) -> str:
    """The recorded request with the live ids, the replay's OperationTimeout and command."""
    text = re.sub(r"(OperationTimeout>)PT[\d.]+S<", rf"\g<1>{OPERATION_TIMEOUT}<", exchange.request)
    for recorded, live in ids.items():
        text = text.replace(recorded, live)
    if script is not None:
        line = script.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = re.sub(r"<rsp:CommandLine>.*</rsp:CommandLine>",
                      f"<rsp:CommandLine><rsp:Command>{line}</rsp:Command></rsp:CommandLine>",
                      text, flags=re.S)
    return text


def _send(wire: LeanTransport, request: str) -> str:
    try:
        return wire.send_message(request).decode("utf-8")
    except WinRMTransportError as exc:  # a fault: HTTP 500 with its envelope
        return exc.response_text


def _learn_ids(recorded: str, live: str, ids: dict[str, str]) -> None:
    """The recorded answer's shell or command id -> the live answer's."""
    for tag in ("ShellId", "CommandId"):
        theirs = ET.fromstring(recorded).findtext(f".//{_RSP}{tag}")
        ours = ET.fromstring(live).findtext(f".//{_RSP}{tag}")
        if theirs and ours:
            ids[theirs] = ours


@pytest.mark.parametrize("name", RECORDINGS)
def test_the_endpoint_answers_each_recorded_request_as_windows_did(endpoint, name):
    endpoint.server.shells.gather = 0.5  # a loaded machine: a command's end, with its output
    exchanges = load(name)
    scripts = _scripts(exchanges)
    wire = LeanTransport(endpoint.url, username=endpoint.user, password=endpoint.password)
    ids: dict[str, str] = {}
    try:
        for n, exchange in enumerate(exchanges):
            answer = _send(wire, _request(exchange, ids, scripts.get(n)))
            assert shape(answer) == shape(exchange.response), \
                f"{name}: answer {n} ({exchange.action}) differs from Windows'"
            _learn_ids(exchange.response, answer, ids)
    finally:
        wire.close_session()
    assert endpoint.server.stats()["open_shells"] == 0


def test_a_difference_fails_the_comparison():
    """The comparison sees what the sandbox used to send: one stream element carrying data and
    End together, where Windows sends the data, then empty End streams."""
    recorded = next(e for e in load("standard") if e.action == "Receive").response
    lenient = re.sub(r'(<rsp:Stream Name="stdout" CommandId="[^"]+")(>aGkNCg==)',
                     r'\1 End="true"\2', recorded)
    lenient = re.sub(r'<rsp:Stream Name="stdout" CommandId="[^"]+" End="true"></rsp:Stream>',
                     "", lenient)
    assert lenient != recorded
    assert shape(lenient) != shape(recorded)
    assert shape(recorded.replace("CF84C20A", "0000AAAA")) == shape(recorded)  # ids do not count
