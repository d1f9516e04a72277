"""Output decoding, decided in one place: UTF-16 (nssm), the shell's code page, the host's OEM."""

from __future__ import annotations

import pytest

from winhost.connection import decode_output

#: What Windows' reg.exe prints for a missing key on a German and on a Japanese host.
GERMAN = "FEHLER: Der angegebene Registrierungsschlüssel bzw. Wert wurde nicht gefunden.\r\n"
JAPANESE = "エラー: 指定されたレジストリ キーまたは値が見つかりませんでした。\r\n"


def test_utf16_with_and_without_bom():
    assert decode_output("Café\r\n".encode("utf-16-le")) == "Café\n"  # CRLF: LF
    assert decode_output(b"\xff\xfe" + "Café".encode("utf-16-le")) == "Café"


def test_utf8_when_it_decodes():
    assert decode_output("Schlüssel 漢".encode(), 65001, 850) == "Schlüssel 漢"


@pytest.mark.parametrize(("text", "oem"), [(GERMAN, 850), (JAPANESE, 932)])
def test_the_hosts_oem_code_page_otherwise(text, oem):
    assert decode_output(text.encode(f"cp{oem}"), 65001, oem) == text.replace("\r\n", "\n")


def test_cp437_until_the_oem_code_page_is_known():
    raw = "Dänemark ø".encode("cp850")  # ø is 0x9B in cp850, ¢ in cp437
    assert decode_output(raw, 65001, None) == "Dänemark ¢"
    assert decode_output(raw, 65001, 850) == "Dänemark ø"
