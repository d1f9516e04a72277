"""Command lines: ``Command`` (no cmd.exe) and the ``cmd.exe /c`` builder, held to a model of
Windows' cmd.exe written from ``cmd /?`` and its documented parsing phases (not Wine's)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winhost.cmdline import (
    Command,
    CommandTooLong,
    Raw,
    UnsafeArgument,
    and_then,
    build,
    command,
    quote_arg,
    split_argv,
    system32,
)

TRICKY = " \t\"\\&^%!<>|()'éü漢"
args = st.text(
    alphabet=st.one_of(
        st.sampled_from(TRICKY),
        st.characters(codec="utf-8", exclude_characters="\0\r\n", exclude_categories=["Cs"]),
    ),
    max_size=40,
)
#: Folder names a program may sit in under cmd.exe: anything Windows allows but % ! (refused).
folder = st.text(alphabet=st.sampled_from("ab Z09&^()'éü漢-_.,;=@[]{}~#$+"), min_size=1,
                 max_size=12).filter(lambda s: s.strip(" .") == s)
programs = st.builds(lambda parts: "C:\\" + "\\".join([*parts, "x.exe"]),
                     st.lists(folder, max_size=3))


class CmdRefused(AssertionError):
    """The modelled cmd.exe would not run the line as one program with these arguments."""


def cmd_slash_c(line: str, defined=lambda name: not name.startswith("^")) -> list[tuple]:
    """What Windows' ``cmd.exe /c <line>`` runs: [(program name, its argv[1:]), ...], one per
    command of a ``&``/``&&`` chain.

    ``defined`` says which variable names exist; by default every name not starting with ``^``
    (so any other ``%name%`` cmd.exe could look up counts as expanded, and fails the test).
    """
    # cmd /?: /C quote processing. Rule 1 keeps the quotes only for exactly two quotes around
    # an executable's name with whitespace and none of &<>()@^| between; else (rule 2) a line
    # starting with a quote loses its first and its last quote.
    if line.startswith('"'):
        between = line[1 : line.find('"', 1)] if line.count('"') == 2 else None
        keep = (between is not None and not any(c in between for c in "&<>()@^|")
                and any(c.isspace() for c in between) and between.lower().endswith(".exe"))
        if not keep:
            last = line.rindex('"')
            line = line[1:last] + line[last + 1 :]
    # Phase 1, command-line context: %name% (and %name:...%) is looked up before carets or
    # quotes mean anything. Modelled strictly: any % may open a name up to the next %.
    for i, ch in enumerate(line):
        if ch == "%" and (j := line.find("%", i + 1)) > i:
            var = line[i + 1 : j].split(":", 1)[0]
            if var and defined(var):
                raise CmdRefused(f"%{var}% would be expanded in {line!r}")
    # Phase 2: carets escape outside quotes (an escaped quote does not open quote mode);
    # unescaped & (&&) outside quotes ends a command; | < > ( ) would pipe, redirect or open a
    # block. The command name is the first token: toggling quotes removed, escaped kept.
    commands: list[tuple[str, list[str]]] = []
    text: list[str] = []
    name: list[str] = []
    in_name, quoted, i = True, False, 0

    def end_command() -> None:
        if not name:
            raise CmdRefused(f"an empty command in {line!r}")
        commands.append(("".join(name), split_argv("".join(text))[1:]))

    while i < len(line):
        ch, literal = line[i], True
        if quoted:
            quoted = ch != '"'
            literal = ch != '"'
        elif ch == "^":
            i += 1
            ch = line[i] if i < len(line) else ""
        elif ch == '"':
            quoted, literal = True, False
        elif ch == "&":
            end_command()
            i += 2 if line[i + 1 : i + 2] == "&" else 1
            text, name, in_name = [], [], True
            continue
        elif ch in "|<>()":
            raise CmdRefused(f"unescaped {ch!r} in {line!r}")
        elif ch in " \t" and name:
            in_name = False
        text.append(ch)
        if in_name and literal and not (ch in " \t" and not name):
            name.append(ch)
        i += 1
    # Phase 5 (delayed expansion) is off by default for cmd /c: nothing more happens to `!`.
    end_command()
    return commands


@given(programs, st.lists(args, max_size=6))
def test_every_built_line_runs_the_program_with_its_arguments_under_windows_rules(program, argv):
    assert cmd_slash_c(build(program, *argv)) == [(program, argv)]


@given(st.lists(st.tuples(programs, st.lists(args, max_size=3)), min_size=2, max_size=3))
def test_chained_lines_keep_every_program_and_argument(lines):
    line = and_then(*(build(p, *a) for p, a in lines))
    assert cmd_slash_c(line) == lines


@given(args)
def test_quote_arg_round_trips(arg):
    assert split_argv(quote_arg(arg)) == [arg]


def test_the_old_caret_quoted_program_is_what_windows_refuses():
    """Issue 10: ``^"C:\\Program Files\\x.exe^"`` names the program ``"C:\\Program``."""
    ((name, _),) = cmd_slash_c(r'^"C:\Program Files\x.exe^" a')
    assert name == '"C:\\Program'


def test_exact_lines():
    assert build("sc.exe", "qc", "tacdemo") == "sc.exe qc tacdemo"
    assert build(r"C:\Program Files\x.exe", "a&b") == r'""C:\Program Files\x.exe" a^&b"'
    assert build("echo", "100%") == 'echo ^"100^%^"'
    assert build("echo", "%PATH%") == 'echo ^"^%^PATH^%^"'
    assert build("echo", 'say "hi"') == r'echo ^"say \^"hi\^"^"'
    assert build("echo", "") == 'echo ^"^"'
    assert build("x", Raw("2>&1")) == "x 2>&1"
    assert and_then(build("a"), build(r"C:\b c\d.exe")) == r'a && "C:\b c\d.exe"'
    assert and_then(build(r"C:\b c\d.exe"), build("a")) == r'""C:\b c\d.exe" && a"'


def test_substitution_syntax_is_not_expanded():
    """``^%`` alone would leave ``%PATH:a=b^%`` for phase 1, which substitutes in PATH."""
    assert cmd_slash_c(build("echo", "%PATH:a=b%", "%PATH:~0,5%")) == [
        ("echo", ["%PATH:a=b%", "%PATH:~0,5%"])]


@pytest.mark.parametrize("bad", [r"C:\100%\x.exe", r"C:\Hi!\x.exe", 'C:\\"q"\\x.exe'])
def test_refuses_programs_cmd_cannot_name(bad):
    with pytest.raises(UnsafeArgument, match="program"):
        build(bad)


@pytest.mark.parametrize("bad", ["a\0b", "line\nbreak", "cr\rhere"])
def test_refuses_what_cmd_cannot_pass(bad):
    with pytest.raises(UnsafeArgument, match="cannot pass"):
        build("echo", bad)


def test_refuses_too_long():
    with pytest.raises(CommandTooLong):
        build("echo", "x" * 9000)


# -- Command: no cmd.exe ------------------------------------------------------------------------
VALUES = ["%PATH%", "!x!", "^", "&", "(", ")", '"', 'a "b" c', "sp ace", "é漢", "tail\\",
          'q\\"', "", "%PATH:a=b%", "x & y | z"]


@given(st.lists(st.one_of(args, st.sampled_from(VALUES)), max_size=8))
def test_command_line_splits_back_to_its_argv(argv):
    cmd = command(r"C:\Program Files (x86)\A & B\é漢 1%!^.exe", *argv)
    assert split_argv(cmd.line) == list(cmd.argv)


def test_command_exact_line():
    cmd = command(system32("sc.exe"), "config", "tacdemo", "obj=", "NT SERVICE\\tacdemo")
    assert cmd.line == r'"C:\Windows\System32\sc.exe" config tacdemo obj= "NT SERVICE\tacdemo"'
    assert system32("icacls.exe", "D:\\WINNT\\") == "D:\\WINNT\\System32\\icacls.exe"


@pytest.mark.parametrize("program", ["sc.exe", "python", r"C:\x\"y.exe", r"C:\dir\\"])
def test_command_wants_a_full_path(program):
    with pytest.raises(UnsafeArgument):
        Command((program, "x"))


def test_command_length_is_createprocess_s():
    command(r"C:\x.exe", "x" * 32000)
    with pytest.raises(CommandTooLong):
        command(r"C:\x.exe", "x" * 32767)


ENV = {"PATH": "C:\\Windows", "A": "1", "X": "2", "PATHEXT": ".EXE", " ": "3", "é": "4"}


@given(programs, st.lists(args, max_size=4))
def test_built_lines_pass_the_sandbox_agents_model_too(program, argv):
    """The sandbox's command agent holds lines to sandbox/host/cmdexe.py: the same verdict."""
    cmdexe = pytest.importorskip("sandbox.host.cmdexe")
    line = build(program, *argv)
    stripped = cmdexe.strip_c_quotes(line, lambda path: path == program)
    assert cmdexe.expand_percent(stripped, ENV) == stripped
    assert cmdexe.check_line(line, ENV, "C:\\", exists=lambda path: path == program) is None
