"""``strip_controls``: what a host sends, made safe for a terminal, a run log and a report."""

from __future__ import annotations

import json

import pytest

from winhost.connection import decode_output
from winhost.errors import HostError, explain
from winhost.probe import read_probe_output
from winhost.untrusted import strip_controls

#: A hostile host's output, as a terminal would act on it: erase the line and go back to its
#: start, then print "ok" over "FAILED"; set the window title (OSC … BEL); colour (CSI);
#: the 8-bit CSI (U+009B); backspaces; DEL; a NUL.
HOSTILE = ("step 3 FAILED\x1b[2K\r[ ok ] step 3\r\n\x1b]0;pwned\x07\x1b[31mred\x1b[0m"
           "\x9b2Jgone\x08\x08ab\x7f\x00end\n")


def test_escape_sequences_lose_their_control_characters_and_keep_their_text() -> None:
    assert strip_controls(HOSTILE) == ("step 3 FAILED[2K[ ok ] step 3\n]0;pwned[31mred[0m"
                                       "2Jgoneabend\n")


def test_newline_and_tab_stay_crlf_becomes_lf_and_a_bare_cr_goes() -> None:
    assert strip_controls("a\tb\r\nc\rd\n") == "a\tb\ncd\n"


@pytest.mark.parametrize("text", [
    "FEHLER: Der angegebene Registrierungsschlüssel wurde nicht gefunden.",  # German reg.exe
    "エラー: 指定されたレジストリ キーまたは値が見つかりませんでした。",  # Japanese reg.exe
    "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)",  # SDDL
    "Dänemark ¢ ÿ\u00a0",  # Latin-1 above C1 (U+00A0 no-break space) is text
])
def test_text_without_control_characters_is_unchanged(text: str) -> None:
    assert strip_controls(text) == text


def test_every_c0_c1_and_del_is_stripped() -> None:
    controls = "".join(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)])
    assert strip_controls(controls) == "\t\n"


def test_decoded_json_is_stripped_throughout_keys_and_values() -> None:
    doc = json.loads('{"k\\u001b": ["\\u001b[2Kok", {"x": "\\u009b1m"}], "n": 3, "b": null}')
    assert strip_controls(doc) == {"k": ["[2Kok", {"x": "1m"}], "n": 3, "b": None}


def test_every_entry_point_strips() -> None:
    """The connection's decoded output, the probe's parsed answer, a host error's text."""
    assert decode_output(HOSTILE.encode("utf-8")) == strip_controls(HOSTILE)
    assert decode_output(HOSTILE.encode("utf-16-le")) == strip_controls(HOSTILE)
    answer = read_probe_output('TACFLEET-FACTS {"hostname": "\\u001b]0;t\\u0007web01"}\n')
    assert answer == {"hostname": "]0;tweb01"}
    err = HostError("web01", "WinRM fault: \x1b[2K\rok")
    assert str(err) == "web01: WinRM fault: [2Kok" and "\x1b" not in explain(err)
    assert "\x1b" not in explain(RuntimeError("\x1b[2Kboom"))
