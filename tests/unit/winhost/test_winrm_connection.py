"""How a Command and a str reach WinRS: skip-cmd-shell or cmd.exe, and a missing program."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from winrm.exceptions import WSManFaultError

from winhost.cmdline import command
from winhost.errors import HostError, ProgramNotFound
from winhost.winrm_connection import WinRMConnection


class FakeProtocol:
    """Records run_command calls; answers with a fault or a finished command."""

    def __init__(self, fault: WSManFaultError | None = None) -> None:
        self.fault = fault
        self.calls: list[tuple[str, dict]] = []

    def run_command(self, shell, line, **kwargs):
        self.calls.append((line, kwargs))
        if self.fault is not None:
            raise self.fault
        return "cmd-1"

    def get_command_output_raw(self, shell, command_id):
        return b"out", b"", 0, True

    def send_command_input(self, shell, command_id, data, end=False):
        self.calls.append((f"send {len(data)}", {"end": end}))

    def cleanup_command(self, shell, command_id):
        pass


def connection(protocol: FakeProtocol) -> WinRMConnection:
    conn = WinRMConnection("h1", "http://127.0.0.1:1/wsman", user="u",
                           password=SecretStr("pw"), retries=2)
    # a FakeProtocol stands in for winrm's Protocol: only the calls the connection makes
    conn._open = lambda: (protocol, "shell-1")  # type: ignore[method-assign, assignment, return-value]
    conn._backoff = lambda attempt: None  # type: ignore[method-assign]
    return conn


def fault(code: int) -> WSManFaultError:
    return WSManFaultError(500, "fault", "<xml/>", "The system cannot find the file specified.",
                           wsman_fault_code=code)


def test_a_command_skips_cmd_exe_and_a_str_does_not():
    protocol = FakeProtocol()
    conn = connection(protocol)
    cmd = command(r"C:\Windows\System32\sc.exe", "query", "svc name")
    assert conn.run(cmd).stdout == "out"
    conn.run("echo hi")
    assert protocol.calls == [(cmd.line, {"skip_cmd_shell": True}), ("echo hi", {})]


def test_standard_input_goes_in_parts_over_a_pipe_and_the_last_part_closes_it():
    from winhost.winrm_connection import STDIN_PART

    protocol = FakeProtocol()
    cmd = command(r"C:\Windows\System32\findstr.exe", "/l", "/v", "_")
    assert connection(protocol).run(cmd, stdin=b"x" * (2 * STDIN_PART + 5)).stdout == "out"
    assert protocol.calls == [
        (cmd.line, {"skip_cmd_shell": True, "console_mode_stdin": False}),
        (f"send {STDIN_PART}", {"end": False}), (f"send {STDIN_PART}", {"end": False}),
        ("send 5", {"end": True})]
    protocol.calls.clear()
    connection(protocol).run(cmd, stdin=b"")  # nothing to send: the pipe is closed at once
    assert protocol.calls[1:] == [("send 0", {"end": True})]
    protocol.calls.clear()
    blocks = iter([b"a" * 1000, b"b" * (STDIN_PART - 1000), b"c" * 7])  # read as they go
    connection(protocol).run(cmd, stdin=blocks)
    assert protocol.calls[1:] == [(f"send {STDIN_PART}", {"end": False}),
                                  ("send 7", {"end": True})]


@pytest.mark.parametrize(("sizes", "part", "want"), [
    ([10], 4, [(4, False), (4, False), (2, True)]),
    ([4, 4], 4, [(4, False), (4, True)]),
    ([], 4, [(0, True)]),
    ([1, 1, 1], 8, [(3, True)]),
])
def test_stdin_parts_cut_blocks_into_sends_and_mark_the_last(sizes, part, want):
    from winhost.connection import stdin_parts

    data = bytes(range(sum(sizes)))
    blocks, at = [], 0
    for n in sizes:
        blocks.append(data[at:at + n])
        at += n
    parts = list(stdin_parts(iter(blocks), part))
    assert [(len(p), last) for p, last in parts] == want
    assert b"".join(p for p, _ in parts) == data


def test_a_send_fits_the_hosts_envelope_quota():
    from winhost.winrm_connection import SEND_OVERHEAD, stdin_part

    assert stdin_part(500) == 380_928  # Windows' default MaxEnvelopeSizekb
    for kb in (150, 500, 8192):  # base64 of a part and the SOAP around it fit the quota
        assert (stdin_part(kb) + 2) // 3 * 4 + SEND_OVERHEAD <= kb * 1024


@pytest.mark.parametrize("code", [0x80070002, 0x80070003, 2147942402 - 2**32])
def test_a_missing_program_is_program_not_found_and_not_retried(code):
    protocol = FakeProtocol(fault(code))
    with pytest.raises(ProgramNotFound, match=r"C:\\Nope\\x.exe does not exist"):
        connection(protocol).run(command(r"C:\Nope\x.exe"), idempotent=True)
    assert len(protocol.calls) == 1


def test_another_fault_is_a_host_error_after_retries():
    protocol = FakeProtocol(fault(0x80070005))
    with pytest.raises(HostError) as info:
        connection(protocol).run(command(r"C:\x.exe"), idempotent=True)
    assert not isinstance(info.value, ProgramNotFound)
    assert len(protocol.calls) == 3
