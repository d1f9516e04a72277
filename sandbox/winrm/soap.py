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
    """A request the endpoint answers with a SOAP fault (HTTP 500).

    ``sender``: the fault's code is ``s:Sender`` (the request was wrong), else ``s:Receiver``;
    ``detail``: the fault detail URI (``w:FaultDetail``), if Windows sends one; ``message``: the
    detail's message when it differs from ``reason``; ``wmi``: the detail is a
    ``p:MSFT_WmiError`` (Windows 2012 and later for quota faults), not an ``f:WSManFault``, and
    the answer carries no ``a:RelatesTo`` (as Windows' does not).
    """

    def __init__(self, subcode: str, code: int, reason: str, *, sender: bool | None = None,
                 detail: str = "", message: str = "", wmi: bool = False,
                 provider: str = "") -> None:
        super().__init__(reason)
        self.subcode = subcode
        self.code = code
        self.reason = reason
        self.sender = subcode.startswith("a:") if sender is None else sender
        self.detail = detail
        self.message = message or reason
        self.wmi = wmi
        #: ``provider="path"``: the message comes from this WinRS plugin (``f:ProviderFault``)
        self.provider = provider


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
        raise SoapError("w:SchemaValidationError", UNSUPPORTED, f"malformed XML: {exc}",
                        sender=True) from None
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


NS_P = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_WMI = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"
_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xml:lang="en-US" xmlns:s="{s}" xmlns:a="{a}" xmlns:x="{x}" xmlns:w="{w}"'
    ' xmlns:rsp="{rsp}" xmlns:p="{p}">'
    "<s:Header><a:Action>{{action}}</a:Action><a:MessageID>uuid:{{mid}}</a:MessageID>"
    "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
    "{{relates}}</s:Header><s:Body>{{body}}</s:Body></s:Envelope>"
).format(**NS, p=NS_P)


def envelope(action: str, relates_to: str | None, body: str) -> bytes:
    """An answer envelope as Windows frames it; ``relates_to=None``: no ``a:RelatesTo``."""
    relates = "" if relates_to is None else f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
    return _ENVELOPE.format(
        action=escape(action), mid=str(uuid.uuid4()).upper(), relates=relates, body=body
    ).encode("utf-8")


def xs_duration(seconds: float) -> str:
    """``P0DT0H0M0S``, the form Windows gives ShellRunTime and ShellInactivity."""
    whole = int(seconds)
    return f"P{whole // 86400}DT{whole % 86400 // 3600}H{whole % 3600 // 60}M{whole % 60}S"


@dataclass(frozen=True)
class ShellInfo:
    """What Windows' Create answer says of a new shell besides its id (pypsrp's recordings)."""

    owner: str  #: the user name the shell runs as
    client_ip: str  #: the address the request came from
    idle_timeout: float  #: seconds (IdleTimeout), written as ``PT7200.000S``


def created(req: Request, endpoint: str, shell_id: str, info: ShellInfo | None = None) -> bytes:
    """Create's answer: the shell's reference and its ``rsp:Shell`` with Windows' fields and in
    their order (ShellId, ResourceUri, Owner, ClientIP, IdleTimeOut, InputStreams,
    OutputStreams, ShellRunTime, ShellInactivity); ``info`` defaults to a local administrator's
    shell at Windows' default IdleTimeout."""
    info = info or ShellInfo("Administrator", "127.0.0.1", 7200.0)
    sid = escape(shell_id)
    body = (
        f"<x:ResourceCreated><a:Address>{escape(endpoint)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{SHELL}cmd</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{sid}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{sid}</rsp:ShellId><rsp:ResourceUri>{SHELL}cmd</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(info.owner)}</rsp:Owner>"
        f"<rsp:ClientIP>{escape(info.client_ip)}</rsp:ClientIP>"
        f"<rsp:IdleTimeOut>PT{info.idle_timeout:.3f}S</rsp:IdleTimeOut>"
        "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr"
        f"</rsp:OutputStreams><rsp:ShellRunTime>{xs_duration(0)}</rsp:ShellRunTime>"
        f"<rsp:ShellInactivity>{xs_duration(0)}</rsp:ShellInactivity></rsp:Shell>"
    )
    return envelope(TRANSFER + "CreateResponse", req.message_id, body)


def command_started(req: Request, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId>" \
           "</rsp:CommandResponse>"
    return envelope(SHELL + "CommandResponse", req.message_id, body)


def received(req: Request, command_id: str, stdout: bytes, stderr: bytes,
             exit_code: int | None) -> bytes:
    """Receive's answer as WinRS sends it: a ``rsp:Stream`` for each stream with output, then,
    once the command has ended, an empty ``End="true"`` stream for stdout and for stderr and
    ``CommandState/Done`` with the exit code; while it runs, ``CommandState/Running``."""
    cid = quoteattr(command_id)
    parts = ["<rsp:ReceiveResponse>"]
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        if data:
            parts.append(f'<rsp:Stream Name="{name}" CommandId={cid}>'
                         f"{base64.b64encode(data).decode()}</rsp:Stream>")
    if exit_code is None:
        parts.append(f'<rsp:CommandState CommandId={cid} State="{SHELL}CommandState/Running">'
                     "</rsp:CommandState>")
    else:
        parts.extend(f'<rsp:Stream Name="{name}" CommandId={cid} End="true"></rsp:Stream>'
                     for name in ("stdout", "stderr"))
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


FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
_WMI_NAMESPACES = (
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"'
    f' xmlns:p="{NS_WMI}" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common"'
)
#: (element, CIM type, value) of a WMI error before its code, as Windows lists them
_WMI_HEAD = (("CIMStatusCode", "cimUnsignedInt", "27"),
             ("CIMStatusCodeDescription", "cimString", None),
             ("ErrorSource", "cimString", None),
             ("ErrorSourceFormat", "cimUnsignedShort", "0"),
             ("ErrorType", "cimUnsignedShort", "0"))
_WMI_TAIL = (("OtherErrorSourceFormat", "cimString", None),
             ("OtherErrorType", "cimString", None),
             ("OwningEntity", "cimString", None),
             ("PerceivedSeverity", "cimUnsignedShort", "0"),
             ("ProbableCause", "cimUnsignedShort", "0"),
             ("ProbableCauseDescription", "cimString", None),
             ("error_Category", "cimUnsignedInt", "30"))


def _wmi_field(name: str, cim_type: str, value: str | None) -> str:
    if value is None:
        return f'<p:{name} xsi:type="cim:{cim_type}" xsi:nil="true"/>'
    return f'<p:{name} xsi:type="cim:{cim_type}">{escape(value)}</p:{name}>'


def _wmi_detail(error: SoapError) -> str:
    """``p:MSFT_WmiError``: the detail Windows 2012+ gives its quota faults (no WSManFault)."""
    fields = [*_WMI_HEAD, ("Message", "cimString", error.message),
              ("MessageID", "cimString", f"HRESULT {error.code:#010x}"), *_WMI_TAIL,
              ("error_Code", "cimUnsignedInt", str(error.code)),
              ("error_Type", "cimString", "HRESULT"),
              ("error_WindowsErrorMessage", "cimString", error.message)]
    return (f'<p:MSFT_WmiError b:IsCIM_Error="true" {_WMI_NAMESPACES}'
            ' xsi:type="p:MSFT_WmiError_Type">'
            + "".join(_wmi_field(*f) for f in fields) + "</p:MSFT_WmiError>")


def _wsman_detail(error: SoapError, machine: str) -> str:
    """``w:FaultDetail`` (when Windows gives one) and ``f:WSManFault`` with its code."""
    detail = f"<w:FaultDetail>{escape(error.detail)}</w:FaultDetail>" if error.detail else ""
    message = escape(error.message)
    if error.provider:
        message = (f'<f:ProviderFault provider="Shell cmd plugin" path={quoteattr(error.provider)}>'
                   f"{message}</f:ProviderFault>")
    return (f'{detail}<f:WSManFault xmlns:f="{NS["f"]}" Code="{error.code}" '
            f"Machine={quoteattr(machine)}><f:Message>{message}</f:Message></f:WSManFault>")


def fault(relates_to: str | None, error: SoapError, machine: str = "127.0.0.1") -> bytes:
    """A SOAP 1.2 fault in the shape Windows sends it (pypsrp's recordings): ``s:Sender`` or
    ``s:Receiver``, the subcode, the reason, and the detail: ``f:WSManFault`` (``machine``: the
    host's name as the client addressed it), or ``p:MSFT_WmiError`` without ``a:RelatesTo``."""
    code = "s:Sender" if error.sender else "s:Receiver"
    detail = _wmi_detail(error) if error.wmi else _wsman_detail(error, machine)
    body = (
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>"
        f"{escape(error.subcode)}</s:Value></s:Subcode></s:Code><s:Reason>"
        f'<s:Text xml:lang="en-US">{escape(error.reason)}</s:Text></s:Reason>'
        f"<s:Detail>{detail}</s:Detail></s:Fault>"
    )
    return envelope(FAULT_ACTION, None if error.wmi else relates_to, body)


def timed_out() -> SoapError:
    """Windows' operation timeout (w:TimedOut, 2150858793), its text as a real host sends it
    (two trailing spaces; pypsrp's recording ``tests/tests_pypsrp/responses/
    test_winrs_operation_timeout.yml``): to a Receive while the command runs, and to any
    operation the service cannot complete in time (a slow or newly started host)."""
    return SoapError("w:TimedOut", TIMED_OUT,
                     "The WS-Management service cannot complete the operation within the time "
                     "specified in OperationTimeout.  ")


#: The Reason Windows gives every invalid-selector fault; the detail's message says which.
INVALID_SELECTORS_REASON = ("The WS-Management service cannot process the request because the "
                            "request contained invalid selectors for the resource. ")
UNEXPECTED_SELECTORS = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors"


def unknown_shell(shell_id: str | None) -> SoapError:
    """A request naming a shell that does not exist (deleted, idle-reaped, never created):
    ``s:Sender``, w:InvalidSelectors, 2150858843, WinRS' message (quoted in WinRb/WinRM#253)."""
    return SoapError(
        "w:InvalidSelectors", INVALID_SELECTORS, INVALID_SELECTORS_REASON, sender=True,
        detail=UNEXPECTED_SELECTORS,
        message=f"The request for the Windows Remote Shell with ShellId {shell_id} failed "
                "because the shell was not found on the server. Possible causes are: the "
                "specified ShellId is incorrect or the shell no longer exists on the server. "
                "Provide the correct ShellId or create a new shell and retry the operation. ")


def unknown_command() -> SoapError:
    """A request naming a command the shell does not have: Windows' fault, as pypsrp's
    recording ``test_winrs_bad_cmd_id.yml`` has it."""
    return SoapError(
        "w:InvalidSelectors", INVALID_SELECTORS, INVALID_SELECTORS_REASON, sender=True,
        detail=UNEXPECTED_SELECTORS,
        message="The Windows Remote Shell received a request to perform an operation on a "
                "command identifier that does not exist. Either the command has completed "
                "execution or the client specified an invalid command identifier. ")


def start_failed(winerror: int, message: str) -> SoapError:
    """WinRS' answer to a direct (WINRS_SKIP_CMD_SHELL) Command whose program cannot be started:
    the Win32 error as an HRESULT (``0x80070000 | winerror``, e.g. 2147942402 for a missing file)
    with Windows' message text, which ends with a space as FormatMessage's does, from the
    shell's plugin (pypsrp's recording ``test_winrs_no_cmd_shell.yml``)."""
    return SoapError("w:InternalError", 0x80070000 | winerror, message.rstrip() + " ",
                     provider=r"%systemroot%\system32\winrscmd.dll")


#: The Reason of Windows 2012+'s quota faults; the quota's own text is in the WMI error.
QUOTA_REASON = "The WS-Management service cannot process the request. "


def quota_max_operations(limit: int) -> SoapError:
    """MaxConcurrentOperationsPerUser exceeded (default 1,500): Windows 2012+'s shape, an
    ``s:Receiver`` w:InternalError whose ``p:MSFT_WmiError`` carries 2150859174 and the text."""
    return SoapError("w:InternalError", QUOTA_MAX_OPERATIONS, QUOTA_REASON, sender=False,
                     wmi=True,
                     message="The WS-Management service cannot process the request. This user "
                             f"is allowed a maximum number of {limit} concurrent operations, "
                             "which has been exceeded. Close existing operations for this user, "
                             "or raise the quota for this user. ")


def quota_max_processes() -> SoapError:
    """MaxProcessesPerShell reached: the shell's job object refuses another process, and the
    Command fails as a start failure with ERROR_NOT_ENOUGH_QUOTA (1816)."""
    return start_failed(ERROR_NOT_ENOUGH_QUOTA,
                        "Not enough quota is available to process this command.")


def quota_max_shells(limit: int) -> SoapError:
    """MaxShellsPerUser exceeded (Windows' default quota is 30): ``s:Sender`` w:InternalError,
    2150859173 in a ``p:MSFT_WmiError`` (Windows 2012+)."""
    return SoapError("w:InternalError", QUOTA_MAX_SHELLS, QUOTA_REASON, sender=True, wmi=True,
                     message="The WS-Management service cannot process the request. This user "
                             f"is allowed a maximum number of {limit} concurrent shells, which "
                             "has been exceeded. Close existing shells or raise the quota for "
                             "this user. ")
