"""Real Windows hosts' WinRM answers (pypsrp's recordings) through tacfleet's client: the lean
protocol's parsing (``winhost.wsman_transport``) and the connection's handling of them
(``winhost.winrm_connection``): output over several Receives with Running then Done, operation
timeouts between them, stderr and exit codes, UTF-8, Send, faults."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import SecretStr
from winrm.exceptions import WinRMTransportError, WSManFaultError

from tests.support.recordings import Exchange, load
from winhost.cmdline import command
from winhost.errors import ProgramNotFound
from winhost.winrm_connection import WinRMConnection, fault_code, fault_text
from winhost.wsman_transport import LeanProtocol

_MESSAGE_ID = re.compile(r"<(?:\w+:)?MessageID>(?:uuid:)?([^<]+)</", re.I)
_ACTION = re.compile(r"<(?:\w+:)?Action[^>]*>[^<]*/([A-Za-z]+)</")


class Replay:
    """pywinrm's ``Transport`` interface answering each request with the recorded answer to
    the next recorded request of the same action (the answer's RelatesTo made to name the
    request sent); a fault comes as HTTP 500, as Windows sends it."""

    username = "vagrant"

    def __init__(self, exchanges: list[Exchange]) -> None:
        self.exchanges = exchanges
        self.position = 0
        self.actions: list[str] = []

    def send_message(self, message: str | bytes) -> bytes:
        text = message.decode() if isinstance(message, bytes) else message
        action = _ACTION.search(text)
        assert action, "a request without an action"
        self.actions.append(action.group(1))
        while self.exchanges[self.position].action != action.group(1):
            self.position += 1  # a recorded step this client does not take (e.g. Signal)
        recorded = self.exchanges[self.position]
        self.position += 1
        ours = _MESSAGE_ID.search(text)
        theirs = _MESSAGE_ID.search(recorded.request)
        assert ours and theirs
        answer = re.sub(re.escape(theirs.group(1)), ours.group(1), recorded.response, flags=re.I)
        if recorded.fault:
            raise WinRMTransportError("http", 500, answer)
        return answer.encode("utf-8")

    def close_session(self) -> None:
        pass


class ReplayConnection(WinRMConnection):
    """A connection whose host is a recording."""

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__("recorded", "http://192.168.56.11:5985/wsman", user="vagrant",
                         password=SecretStr("unused-password"), **options)
        self.replay = Replay(load(name))

    def _new_protocol(self) -> LeanProtocol:
        return LeanProtocol(self.replay, operation_timeout=20,  # type: ignore[arg-type]
                            read_timeout=30)


def protocol(name: str) -> LeanProtocol:
    return LeanProtocol(Replay(load(name)), operation_timeout=20,  # type: ignore[arg-type]
                        read_timeout=30)


def test_one_command_create_command_receive_delete():
    conn = ReplayConnection("standard")
    result = conn.run("echo hi")
    conn.close()
    assert (result.rc, result.stdout, result.stderr) == (0, "hi\n", "")
    assert conn.replay.actions == ["Create", "Command", "Receive", "Delete"]


def test_output_while_running_then_timeouts_then_the_rest_with_done():
    """Windows answers the first Receive with what the command wrote so far (Running), then
    twice with w:TimedOut (nothing new within the OperationTimeout), then the rest and Done:
    the client polls again after each timeout and joins the output."""
    conn = ReplayConnection("operation_timeout")
    result = conn.run("echo hi; sleep 30; echo hi again")
    conn.close()
    assert (result.rc, result.stdout) == (0, "hi\nhi again\n")
    assert conn.replay.actions.count("Receive") == 4
    assert conn.stats.retries == 0


def test_stderr_and_the_exit_code():
    conn = ReplayConnection("stderr_rc")
    result = conn.run("echo out & echo err 1>&2 & exit /b 1")
    conn.close()
    assert (result.rc, result.stdout.strip(), result.stderr.strip()) == (1, "out", "err")


def test_utf8_output():
    conn = ReplayConnection("unicode", codepage=65001)
    result = conn.run("powershell Write-Host こんにちは")
    conn.close()
    assert result.stdout.strip() == "こんにちは"


def test_standard_input_sent_then_output():
    conn = ReplayConnection("send")
    result = conn.run("powershell -", stdin=b'Write-Host "output 1";')
    conn.close()
    assert (result.rc, result.stdout) == (0, "output 1\noutput 2\n")
    assert conn.replay.actions[:3] == ["Create", "Command", "Send"]


def test_a_missing_program_is_program_not_found():
    """WinRS' fault for a direct command whose program does not exist (0x80070002, the message
    inside a ProviderFault of the shell's plugin): nothing ran."""
    conn = ReplayConnection("no_cmd_shell")
    with pytest.raises(ProgramNotFound, match="nothing ran"):
        conn.run(command(r"C:\Windows\powershell.exe", "Write-Host", "hi"))


def test_an_unknown_command_id_is_windows_invalid_selectors_fault():
    proto = protocol("bad_cmd_id")
    shell = proto.open_shell()
    proto.run_command(shell, "echo hi")
    with pytest.raises(WSManFaultError) as info:
        proto.get_command_output_raw(shell, "00000000-0000-0000-0000-000000000000")
    fault = info.value
    assert (fault.fault_code, fault.fault_subcode) == ("s:Sender", "w:InvalidSelectors")
    assert fault_code(fault) == 2150858843
    assert "command identifier that does not exist" in fault_text(fault)


@pytest.mark.parametrize("name", ["standard", "operation_timeout", "stderr_rc", "unicode",
                                  "send", "no_cmd_shell", "bad_cmd_id"])
def test_every_recorded_create_answer_names_its_shell(name):
    """The lean protocol reads the ShellId from each recorded Create answer (Windows' fields:
    Owner, ClientIP, IdleTimeOut, ShellRunTime, ShellInactivity around it)."""
    recorded = next(e for e in load(name) if e.action == "Create")
    proto = protocol(name)
    assert proto.open_shell() in recorded.response
    assert "<rsp:Owner>" in recorded.response and "<rsp:IdleTimeOut>" in recorded.response
