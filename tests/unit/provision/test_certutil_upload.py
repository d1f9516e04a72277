"""Sending a file with cmd.exe's echo and certutil: the commands, and certutil's hash output."""

from __future__ import annotations

import base64
import hashlib
import io
import sys

import pytest

from provision.certutil_upload import (
    LINE,
    HashfileError,
    UnsafeForCmd,
    decode_command,
    hash_check,
    parse_hashfile,
    stream_command,
    stream_text,
)
from tests.support import ROOT as REPO

ROOT = "C:\\Windows"
TARGET = "C:\\Windows\\Temp\\tacfleet-0123456789abcdef0123456789abcdef\\python-installer.exe"
CMD_SHA = "423e0e810a69aaceba0e5670e58aff898cf0ebffab99ccb46ebb3464c3d2facb"

#: certutil -hashfile C:\Windows\System32\cmd.exe SHA256, as Windows prints it.
WIN10 = (f"SHA256 hash of C:\\Windows\\System32\\cmd.exe:\r\n{CMD_SHA}\r\n"
         "CertUtil: -hashfile command completed successfully.\r\n")
#: Windows 7 / Server 2012 R2: the bytes in pairs separated by spaces.
WIN7 = ("SHA256 hash of file C:\\Windows\\System32\\cmd.exe:\r\n"
        + " ".join(CMD_SHA[i:i + 2] for i in range(0, 64, 2))
        + "\r\nCertUtil: -hashfile command completed successfully.\r\n")
#: A German host: the lines around the hash are translated.
GERMAN = (f"SHA256-Hash von C:\\Windows\\System32\\cmd.exe:\r\n{CMD_SHA}\r\n"
          "CertUtil: -hashfile-Befehl wurde erfolgreich ausgeführt.\r\n")


@pytest.mark.parametrize("output", [WIN10, WIN7, GERMAN])
def test_the_hash_is_read_in_every_format_and_language(output):
    assert parse_hashfile(output) == CMD_SHA


@pytest.mark.parametrize("output", [
    "CertUtil: -hashfile command FAILED: 0x80070002 (WIN32: 2 ERROR_FILE_NOT_FOUND)\r\n"
    "CertUtil: The system cannot find the file specified.\r\n",
    f"SHA256 hash of x:\r\n{CMD_SHA[:-2]}\r\n",  # 62 digits
    f"{CMD_SHA}\r\n{CMD_SHA}\r\n",  # two hashes: which one?
    f"SHA256 hash of x:\r\n{CMD_SHA}ff\r\n",
])
def test_output_without_exactly_one_sha256_is_an_error(output):
    with pytest.raises(HashfileError, match="not one"):
        parse_hashfile(output)


def test_the_check_names_both_hashes_on_a_mismatch():
    assert hash_check(CMD_SHA.upper())(WIN10) == ""
    message = hash_check("0" * 64)(WIN10)
    assert CMD_SHA in message and "0" * 64 in message and "not run" in message
    assert "0 SHA-256 hashes" in hash_check(CMD_SHA)("Access is denied.\r\n")


def test_the_stream_is_base64_lines_findstr_copies_into_the_b64_file(tmp_path):
    data = bytes(range(256)) * 200  # 51 kB
    text = stream_text(data)
    lines = text.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) == LINE for line in lines[:-2])
    assert base64.b64decode(text) == data and b"_" not in text
    command = stream_command(ROOT, TARGET)
    assert command.argv == ("C:\\Windows\\System32\\cmd.exe", "/d", "/v:off", "/c",
                            "C:\\Windows\\System32\\findstr.exe", "/l", "/v", "_",
                            f">{TARGET}.b64")
    # what cmd.exe gets after /c: findstr, its switches and the redirection, nothing quoted
    assert command.line.endswith(
        f" /d /v:off /c C:\\Windows\\System32\\findstr.exe /l /v _ >{TARGET}.b64")
    sys.path.insert(0, str(REPO / "sandbox" / "standin"))
    from tacfleet_standins import findstr

    out = io.BytesIO()
    assert findstr.main(["/l", "/v", "_"], io.BytesIO(text), out) == 0
    assert out.getvalue() == text
    assert findstr.main(["/l", "/v", "_"], io.BytesIO(b"a_b\r\n"), io.BytesIO()) == 1
    assert findstr.main(["/r", "^"], io.BytesIO(text), io.BytesIO()) == 2


def test_an_empty_file_is_refused():
    with pytest.raises(ValueError, match="empty"):
        stream_text(b"")


@pytest.mark.parametrize("root", ["C:\\Win Dows", "C:\\Windows&calc", "C:\\Win%OS%",
                                  "\\\\server\\share", "C:\\Windows\\\\x", "C:\\Wïndows"])
def test_a_path_cmd_would_parse_is_refused(root):
    with pytest.raises(UnsafeForCmd, match=r"characters cmd\.exe would parse"):
        stream_command(root, root + "\\Temp\\tacfleet-python-installer.exe")


def test_decode_overwrites_and_names_both_files():
    command = decode_command(ROOT, TARGET)
    assert command.argv == ("C:\\Windows\\System32\\certutil.exe", "-f", "-decode",
                            TARGET + ".b64", TARGET)


def test_the_stand_in_decodes_hashes_and_fails_as_certutil_does(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "sandbox" / "standin"))
    from tacfleet_standins import certutil

    data = bytes(range(256)) * 50
    b64, out = tmp_path / "x.b64", tmp_path / "x.exe"
    text = base64.b64encode(data).decode()
    b64.write_text("\r\n".join(text[i:i + 8000] for i in range(0, len(text), 8000)) + "\r\n")
    assert certutil.main(["-f", "-decode", str(b64), str(out)]) == 0
    assert out.read_bytes() == data
    assert "CertUtil: -decode command completed successfully." in capsys.readouterr().out
    assert certutil.main(["-decode", str(b64), str(out)]) == 0x80070050 - (1 << 32)
    assert "ERROR_FILE_EXISTS" in capsys.readouterr().out
    assert certutil.main(["-hashfile", str(out), "SHA256"]) == 0
    assert parse_hashfile(capsys.readouterr().out) == hashlib.sha256(data).hexdigest()
    assert certutil.main(["-hashfile", str(tmp_path / "none"), "SHA256"]) == -2147024894
    assert "CertUtil: The system cannot find the file specified." in capsys.readouterr().out
    b64.write_text("not base64 at all!\r\n")
    assert certutil.main(["-f", "-decode", str(b64), str(out)]) == 0x80090005 - (1 << 32)
    assert "NTE_BAD_DATA" in capsys.readouterr().out
