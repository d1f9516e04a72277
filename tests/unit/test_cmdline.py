"""The cmd.exe command-line builder: exact strings, refusals, and round trips under hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winhost.cmdline import (
    CommandTooLong,
    Raw,
    UnsafeArgument,
    and_then,
    build,
    quote_arg,
    split_argv,
    unescape_cmd,
)

TRICKY = " \t\"\\&^%!<>|()'éü漢"
args = st.text(
    alphabet=st.one_of(
        st.sampled_from(TRICKY),
        st.characters(codec="utf-8", exclude_characters="\0\r\n", exclude_categories=("Cs",)),
    ),
    max_size=40,
)


@given(st.lists(args, min_size=1, max_size=6))
def test_round_trip_through_cmd_and_the_c_runtime(argv):
    assert split_argv(unescape_cmd(build(*argv))) == argv


@given(args)
def test_quote_arg_round_trips(arg):
    assert split_argv(quote_arg(arg)) == [arg]


def test_exact_lines():
    assert build("sc.exe", "qc", "tacdemo") == "sc.exe qc tacdemo"
    assert build(r"C:\Program Files\x.exe", "a&b") == r'^"C:\Program Files\x.exe^" a^&b'
    assert build("echo", "100%") == "echo 100^%"
    assert build("echo", 'say "hi"') == r'echo ^"say \^"hi\^"^"'
    assert build("echo", "") == 'echo ^"^"'
    assert build("x", Raw("2>&1")) == "x 2>&1"


def test_a_path_with_every_metacharacter():
    path = 'C:\\Program Files\\My App & Co\\100%\\x^y (1)\\"q".tac'
    line = build("type", path)
    assert "&" not in line.replace("^&", "")
    assert split_argv(unescape_cmd(line)) == ["type", path]


@pytest.mark.parametrize("bad", ["a\0b", "line\nbreak", "cr\rhere"])
def test_refuses_what_cmd_cannot_pass(bad):
    with pytest.raises(UnsafeArgument, match="cannot pass"):
        build("echo", bad)


def test_refuses_too_long():
    with pytest.raises(CommandTooLong):
        build("echo", "x" * 9000)


def test_and_then():
    assert and_then(build("a"), build("b")) == "a && b"
