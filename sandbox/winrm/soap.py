"""WS-Management SOAP messages as the WinRS clients (pywinrm, pypsrp, testinfra) send and read them.

Parsing uses the standard library's ElementTree on trusted loopback input; answers are small
templates filled with XML-escaped values. Namespaces and action URIs follow MS-WSMV.
"""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}

TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTIONS = {
    TRANSFER + "Create": "create",
    TRANSFER + "Delete": "delete",
    SHELL + "Command": "command",
    SHELL + "Receive": "receive",
    SHELL + "Send": "send",
    SHELL + "Signal": "signal",
}

#: WSManFault codes Windows uses; pywinrm and pypsrp act on 2150858793 ("poll again").
TIMED_OUT = 2150858793
INVALID_SELECTORS = 2150858843
UNSUPPORTED = 2150858778
QUOTA_MAX_SHELLS = 2150859173  #: ERROR_WSMAN_QUOTA_MAX_SHELLS (0x803381A5)
QUOTA_MAX_OPERATIONS = 2150859174  #: ERROR_WSMAN_QUOTA_MAX_OPERATIONS (0x803381A6)
ERROR_NOT_ENOUGH_QUOTA = 1816


class SoapError(Exception):
    """A request the endpoint answers with a SOAP fault (HTTP 500)."""

    def __init__(self, subcode: str, code: int, reason: str) -> None:
        super().__init__(reason)
        self.subcode = subcode
        self.code = code
        self.reason = reason


@dataclass
class Request:
    """The parts of a WS-Management request the endpoint acts on."""

    action: str
    message_id: str
    operation_timeout: float
    #: w:MaxEnvelopeSize: the largest answer the client takes, in bytes (None: not given)
    max_envelope: int | None = None
    shell_id: str | None = None
    command_id: str | None = None
    command_line: str = ""
    codepage: int = 437
    #: WINRS_SKIP_CMD_SHELL=TRUE: run the program directly, not as ``cmd.exe /c <line>``
    skip_cmd_shell: bool = False
    signal: str = ""
    stdin: bytes = b""
    stdin_end: bool = False
    #: WINRS_CONSOLEMODE_STDIN=FALSE: the program's standard input is a pipe fed by Send
    stdin_pipe: bool = False
    options: dict[str, str] = field(default_factory=dict)


_DURATION = re.compile(r"^PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def parse_duration(text: str | None, default: float = 60.0) -> float:
    """``PT20S`` / ``PT20.000S`` / ``PT1M`` → seconds."""
    m = _DURATION.match((text or "").strip())
    if not m or not any(m.groups()):
        return default
    return int(m.group(1) or 0) * 60 + float(m.group(2) or 0)


def _text(root: ET.Element, path: str) -> str | None:
    node = root.find(path, NS)
    return None if node is None else (node.text or "")


def parse_request(body: bytes) -> Request:
    """Parse one SOAP envelope; an unknown action or a malformed body is a SoapError."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SoapError("w:SchemaValidationError", UNSUPPORTED, f"malformed XML: {exc}") from None
    header = "s:Header/"
    action_uri = (_text(root, header + "a:Action") or "").strip()
    action = ACTIONS.get(action_uri)
    if action is None:
        raise SoapError("a:ActionNotSupported", UNSUPPORTED,
                        f"the action {action_uri!r} is not supported by this endpoint")
    req = Request(
        action=action,
        message_id=(_text(root, header + "a:MessageID") or "").strip(),
        operation_timeout=parse_duration(_text(root, header + "w:OperationTimeout")),
    )
    size = (_text(root, header + "w:MaxEnvelopeSize") or "").strip()
    req.max_envelope = int(size) if size.isdigit() else None
    for sel in root.findall(header + "w:SelectorSet/w:Selector", NS):
        if sel.get("Name") == "ShellId":
            req.shell_id = (sel.text or "").strip()
    for opt in root.findall(header + "w:OptionSet/w:Option", NS):
        req.options[opt.get("Name", "")] = (opt.text or "").strip()
    if req.options.get("WINRS_CODEPAGE", "").isdigit():
        req.codepage = int(req.options["WINRS_CODEPAGE"])
    req.skip_cmd_shell = req.options.get("WINRS_SKIP_CMD_SHELL", "").upper() == "TRUE"
    req.stdin_pipe = req.options.get("WINRS_CONSOLEMODE_STDIN", "TRUE").upper() == "FALSE"
    body_el = root.find("s:Body", NS)
    if body_el is None:
        return req
    if action == "command":
        command = _text(body_el, "rsp:CommandLine/rsp:Command") or ""
        args = [a.text or "" for a in body_el.findall("rsp:CommandLine/rsp:Arguments", NS)]
        req.command_line = " ".join([command.strip(), *args]).strip() if args else command.strip()
    elif action in ("receive", "signal", "send"):
        node = body_el.find("rsp:Receive/rsp:DesiredStream", NS)
        if node is None:
            node = body_el.find("rsp:Signal", NS)
        if node is None:
            node = body_el.find("rsp:Send/rsp:Stream", NS)
        if node is not None:
            req.command_id = node.get("CommandId")
        if action == "signal":
            req.signal = (_text(body_el, "rsp:Signal/rsp:Code") or "").rsplit("/", 1)[-1]
        if action == "send" and node is not None:
            req.stdin = base64.b64decode(node.text or "")
            req.stdin_end = node.get("End", "").lower() == "true"
    return req


_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xml:lang="en-US" xmlns:s="{s}" xmlns:a="{a}" xmlns:w="{w}" xmlns:rsp="{rsp}"'
    ' xmlns:x="{x}" xmlns:f="{f}">'
    "<s:Header><a:Action>{{action}}</a:Action><a:MessageID>uuid:{{mid}}</a:MessageID>"
    "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
    "<a:RelatesTo>{{relates}}</a:RelatesTo></s:Header><s:Body>{{body}}</s:Body></s:Envelope>"
).format(**NS)


def envelope(action: str, relates_to: str, body: str) -> bytes:
    return _ENVELOPE.format(
        action=escape(action), mid=uuid.uuid4(), relates=escape(relates_to), body=body
    ).encode("utf-8")


def created(req: Request, endpoint: str, shell_id: str) -> bytes:
    body = (
        f"<x:ResourceCreated><a:Address>{escape(endpoint)}</a:Address><a:ReferenceParameters>"
        "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{escape(shell_id)}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{escape(shell_id)}</rsp:ShellId><rsp:ResourceUri>"
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</rsp:ResourceUri>"
        "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr"
        "</rsp:OutputStreams></rsp:Shell>"
    )
    return envelope(TRANSFER + "CreateResponse", req.message_id, body)


def command_started(req: Request, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId>" \
           "</rsp:CommandResponse>"
    return envelope(SHELL + "CommandResponse", req.message_id, body)


def received(req: Request, command_id: str, stdout: bytes, stderr: bytes,
             exit_code: int | None) -> bytes:
    """Receive answer: the streams, then Done with the exit code, or Running."""
    cid = quoteattr(command_id)
    parts = ["<rsp:ReceiveResponse>"]
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        if data or exit_code is not None:
            end = ' End="true"' if exit_code is not None else ""
            parts.append(f'<rsp:Stream Name="{name}" CommandId={cid}{end}>'
                         f"{base64.b64encode(data).decode()}</rsp:Stream>")
    if exit_code is None:
        parts.append(f'<rsp:CommandState CommandId={cid} State="{SHELL}CommandState/Running"/>')
    else:
        parts.append(f'<rsp:CommandState CommandId={cid} State="{SHELL}CommandState/Done">'
                     f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>")
    parts.append("</rsp:ReceiveResponse>")
    return envelope(SHELL + "ReceiveResponse", req.message_id, "".join(parts))


def signalled(req: Request) -> bytes:
    return envelope(SHELL + "SignalResponse", req.message_id, "<rsp:SignalResponse/>")


def sent(req: Request) -> bytes:
    return envelope(SHELL + "SendResponse", req.message_id, "<rsp:SendResponse/>")


def deleted(req: Request) -> bytes:
    return envelope(TRANSFER + "DeleteResponse", req.message_id, "")


def fault(relates_to: str, error: SoapError) -> bytes:
    """A SOAP 1.2 fault with the WSManFault detail Windows sends."""
    subcode = error.subcode
    code = "s:Sender" if subcode.startswith("a:") else "s:Receiver"
    body = (
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{escape(subcode)}"
        f"</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en-US\">"
        f"{escape(error.reason)}</s:Text></s:Reason><s:Detail>"
        f'<f:WSManFault Code="{error.code}" Machine="sandbox">'
        f"<f:Message>{escape(error.reason)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def timed_out() -> SoapError:
    """Windows' operation timeout (w:TimedOut, 2150858793), its text as a real host sends it
    (two trailing spaces; pypsrp's recording ``tests/tests_pypsrp/responses/
    test_winrs_operation_timeout.yml``): to a Receive while the command runs, and to any
    operation the service cannot complete in time (a slow or newly started host)."""
    return SoapError("w:TimedOut", TIMED_OUT,
                     "The WS-Management service cannot complete the operation within the time "
                     "specified in OperationTimeout.  ")


def unknown_shell(shell_id: str | None) -> SoapError:
    return SoapError("w:InvalidSelectors", INVALID_SELECTORS,
                     f"The request for the Windows Remote Shell with ShellId {shell_id} failed "
                     "because the shell was not found on the server.")


def start_failed(winerror: int, message: str) -> SoapError:
    """WinRS' answer to a direct (WINRS_SKIP_CMD_SHELL) Command whose program cannot be started:
    the Win32 error as an HRESULT (``0x80070000 | winerror``, e.g. 2147942402 for a missing file)
    with Windows' message text, which ends with a space as FormatMessage's does."""
    return SoapError("w:InternalError", 0x80070000 | winerror, message.rstrip() + " ")


def quota_max_operations(limit: int) -> SoapError:
    """MaxConcurrentOperationsPerUser exceeded (default 1,500); the text Windows sends."""
    return SoapError("w:QuotaLimit", QUOTA_MAX_OPERATIONS,
                     "The WS-Management service cannot process the request. This user is allowed "
                     f"a maximum number of {limit} concurrent operations, which has been "
                     "exceeded. Close existing operations for this user, or raise the quota for "
                     "this user. ")


def quota_max_processes() -> SoapError:
    """MaxProcessesPerShell reached: the shell's job object refuses another process, and the
    Command fails as a start failure with ERROR_NOT_ENOUGH_QUOTA (1816)."""
    return start_failed(ERROR_NOT_ENOUGH_QUOTA,
                        "Not enough quota is available to process this command.")


def quota_max_shells(limit: int) -> SoapError:
    """MaxShellsPerUser exceeded (Windows' default quota is 30)."""
    return SoapError("w:QuotaLimit", QUOTA_MAX_SHELLS,
                     "The WS-Management service cannot process the request. This user is allowed "
                     f"a maximum number of {limit} concurrent shells, which has been exceeded. "
                     "Close existing shells or raise the quota for this user. ")
