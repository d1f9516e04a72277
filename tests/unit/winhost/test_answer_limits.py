"""Answers are bounded: ``read_body`` against real sockets (Content-Length, chunked, until the
connection closes), and the endpoint's operation-timeout fault switch."""

from __future__ import annotations

import socket
import threading

import pytest

from sandbox.winrm import soap
from sandbox.winrm.faults import Faults, timeout_counts
from winhost import wsman_transport as wire

LIMIT = wire.answer_limit(500)


def test_the_limit_is_twice_the_envelope_plus_the_framing() -> None:
    assert LIMIT == 2 * (500 * 1024 + 1024) == 1_026_048
    assert wire.answer_limit(8192) > 16 * 1024 * 1024


def _serve(head: bytes, body_blocks: int, block: bytes = b"x" * 65536,
           chunked: bool = False) -> tuple[socket.socket, threading.Thread]:
    """A peer that sends ``head`` then ``body_blocks`` blocks (streamed, chunked or not)."""
    client, server = socket.socketpair()

    def send() -> None:
        try:
            server.sendall(head)
            for _ in range(body_blocks):
                server.sendall((b"%x\r\n" % len(block) + block + b"\r\n") if chunked else block)
            if chunked:
                server.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the reader gave up: as it should
        finally:
            server.close()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return client, thread


def _read(head: bytes, blocks: int, chunked: bool = False) -> bytes:
    client, thread = _serve(head, blocks, chunked=chunked)
    response = wire._Response(client, method="POST")
    try:
        response.begin()
        return wire.read_body(response, LIMIT)
    finally:
        response.close()  # as the transport's close_session: the peer's send fails
        client.shutdown(socket.SHUT_RDWR)
        client.close()
        thread.join(5)


def test_a_body_announced_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(wire.AnswerTooLarge, match=r"of 419430400 bytes.*1026048-byte limit"):
        _read(b"HTTP/1.1 200 OK\r\nContent-Length: 419430400\r\n\r\n", 0)


@pytest.mark.parametrize("chunked", [True, False])
def test_a_body_without_a_length_is_cut_off_at_the_limit(chunked: bool) -> None:
    head = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" if chunked
            else b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    with pytest.raises(wire.AnswerTooLarge, match="passed the 1026048-byte limit"):
        _read(head, 100, chunked=chunked)  # 6.4 MB on offer


@pytest.mark.parametrize("chunked", [True, False])
def test_a_body_within_the_limit_is_read_whole(chunked: bool) -> None:
    head = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" if chunked
            else b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (15 * 65536))
    assert _read(head, 15, chunked=chunked) == b"x" * 15 * 65536


def test_timeout_on_is_read_from_the_command_line_or_a_dict() -> None:
    assert timeout_counts("create=1, command=2,receive") == {"create": 1, "command": 2,
                                                               "receive": 1}
    assert timeout_counts({"Delete": 1, "signal": 0}) == {"delete": 1}
    with pytest.raises(ValueError, match="unknown operation"):
        timeout_counts("reboot=1")


def test_timeout_on_counts_down_per_operation_and_survives_a_reread(tmp_path) -> None:
    faults = Faults(tmp_path / "faults.json")
    faults.update(timeout_on="create=2")
    again = Faults(tmp_path / "faults.json")  # the daemon's view of the file
    assert [again.take_timeout("create") for _ in range(3)] == [True, True, False]
    assert not again.take_timeout("command")
    assert faults.current().timeout_on == {}


def test_the_timeout_fault_has_windows_shape() -> None:
    """As pypsrp recorded it from a real host (tests/tests_pypsrp/responses/
    test_winrs_operation_timeout.yml): s:Receiver, w:TimedOut, the reason with its two
    trailing spaces, WSManFault Code 2150858793 in s:Detail."""
    import xml.etree.ElementTree as ET

    from winrm.exceptions import WinRMOperationTimeoutError, WinRMTransportError
    from winrm.protocol import Protocol

    body = soap.fault("uuid:1", soap.timed_out())
    root = ET.fromstring(body)
    ns = soap.NS
    fault = root.find("s:Body/s:Fault", ns)
    assert fault is not None
    assert fault.findtext("s:Code/s:Value", namespaces=ns) == "s:Receiver"
    assert fault.findtext("s:Code/s:Subcode/s:Value", namespaces=ns) == "w:TimedOut"
    assert fault.findtext("s:Reason/s:Text", namespaces=ns) == (
        "The WS-Management service cannot complete the operation within the time specified "
        "in OperationTimeout.  ")
    assert fault.find("s:Detail/f:WSManFault", ns).get("Code") == "2150858793"  # type: ignore[union-attr]

    class Answer500:
        def send_message(self, message: str) -> bytes:
            raise WinRMTransportError("http", 500, body.decode())

    protocol = Protocol.__new__(Protocol)
    protocol.transport = Answer500()  # type: ignore[assignment]
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.send_message("<x/>")
