r"""The model of Windows' cmd.exe (sandbox/host/cmdexe.py), held to ``cmd /?`` and the docs."""

from __future__ import annotations

import pytest

from sandbox.host import cmdexe

ENV = {"Path": r"C:\Windows\System32;C:\Python311", "PATHEXT": ".COM;.EXE;.BAT;.CMD",
       "OS": "Windows_NT"}
FILES = {r"C:\Program Files\x.exe", r"C:\Windows\System32\sc.exe", r"C:\Python311\python.exe"}


def exists(path: str) -> bool:
    return path.lower() in {f.lower() for f in FILES}  # NTFS names are case-insensitive


def test_c_keeps_two_quotes_around_an_executable_with_a_space():
    line = '"C:\\Program Files\\x.exe" arg'
    assert cmdexe.strip_c_quotes(line, exists) == line


@pytest.mark.parametrize("line, after", [
    ('"C:\\Program Files\\x.exe" "a b"', 'C:\\Program Files\\x.exe" "a b'),  # four quotes
    ('"C:\\Python311\\python.exe" -c x', 'C:\\Python311\\python.exe -c x'),  # no whitespace
    ('"C:\\Program Files\\y.exe" arg', 'C:\\Program Files\\y.exe arg'),  # not an executable
    ('"C:\\Program Files (x86)\\x.exe" a', 'C:\\Program Files (x86)\\x.exe a'),  # ( ) inside
    ('echo "a b"', 'echo "a b"'),  # first character not a quote
])
def test_c_strips_the_first_and_last_quote_otherwise(line, after):
    assert cmdexe.strip_c_quotes(line, exists) == after


def test_a_caret_quote_is_a_character_and_the_name_ends_at_the_space():
    line = '^"C:\\Program Files\\x.exe^" hi'
    assert cmdexe.command_name(line) == '"C:\\Program'
    assert cmdexe.check_line(line, ENV, "C:\\", exists) == (
        "not-recognized", "'\"C:\\Program' is not recognized as an internal or external "
        "command,\r\noperable program or batch file.\r\n")


def test_quoted_names_and_path_lookup():
    assert cmdexe.command_name('"C:\\Program Files\\x.exe" a') == '"C:\\Program Files\\x.exe"'
    assert cmdexe.check_line('"C:\\Program Files\\x.exe" a', ENV, "C:\\", exists) is None
    assert cmdexe.check_line("sc.exe query x && python -V", ENV, "C:\\", exists) is None
    assert cmdexe.check_line("echo hi & nosuch.exe", ENV, "C:\\", exists)[1].startswith(
        "'nosuch.exe' is not recognized")
    assert cmdexe.check_line("echo a ^& nosuch.exe", ENV, "C:\\", exists) is None
    assert cmdexe.check_line('echo "a & nosuch.exe"', ENV, "C:\\", exists) is None


@pytest.mark.parametrize("line, expanded", [
    ("echo %OS%", "echo Windows_NT"),
    ("echo %os%", "echo Windows_NT"),
    ("echo %NOPE%", "echo %NOPE%"),
    ("echo a%%b", "echo a%%b"),
    ("echo 100%", "echo 100%"),
    ("echo ^%OS^%", "echo ^%OS^%"),  # percent before carets: the name is 'OS^', undefined
    ("echo %NOPE%OS%", "echo %NOPEWindows_NT"),  # the closing % opens the next name
    ("echo %OS:~0,3%", "echo Win"),
    ("echo %OS:_NT=%", "echo Windows"),
])
def test_percent_expansion_in_command_line_mode(line, expanded):
    assert cmdexe.expand_percent(line, ENV) == expanded


def test_stack_overflow_4094699_examples():
    assert cmdexe.expand_percent("echo %a %b% c%", {"b": "a"}) == "echo %a a c%"
    assert cmdexe.expand_percent("echo %a %b% c%", {"a ": "b"}) == "echo bb% c%"


def test_wine_expanding_caret_percent_is_detected():
    assert cmdexe.wine_expands_differently("echo ^%OS^%", ENV) == "%OS%"
    assert cmdexe.wine_expands_differently("echo %OS% %NOPE%", ENV) is None
    assert cmdexe.wine_expands_differently("echo 100^%", ENV) is None


@pytest.mark.parametrize(("line", "parts"), [
    ("a && b || c | d", ["a ", " b ", " c ", " d"]),
    ('echo "x & y" & z', ['echo "x & y" ', " z"]),
    ("echo ^& x & y", ["echo ^& x ", " y"]),
    ('echo ^"x & y', ['echo ^"x ', " y"]),  # an escaped quote opens no quoted region
])
def test_a_line_splits_at_operators_outside_quotes_and_carets(line, parts):
    assert cmdexe.commands(line) == parts


def test_the_caret_phase_keeps_quoted_carets_and_drops_a_last_lone_one():
    assert cmdexe.unescape('a^&b "c^d" ^"e f^') == 'a&b "c^d" "e f'
