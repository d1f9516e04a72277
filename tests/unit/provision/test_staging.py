r"""The staging folder and the install folder: the commands, and the check of what icacls shows.

The icacls outputs are the sandbox stand-in's (which prints Windows' format: Microsoft Learn,
"icacls"), on a folder whose DACL the test sets with the stand-in itself, in English and in
German: the check reads structure and rights, never the translated account names.
"""

from __future__ import annotations

import os
import re
import sys

import pytest

from provision.staging import (
    STAGING_SHOWN,
    TARGET_SHOWN,
    Staging,
    UnsafeForCmd,
    cmd_literal,
    target_dir_actions,
    tree_check,
)
from sandbox.host.cmdexe import commands
from tests.support import ROOT as REPO

ROOT = "C:\\Windows"
CMD, ICACLS = "C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\icacls.exe"


def test_each_staging_folder_has_a_fresh_random_name_under_temp():
    first, second = Staging.new(ROOT), Staging.new(ROOT)
    assert first.folder != second.folder
    for staging in (first, second):
        assert re.fullmatch(r"C:\\Windows\\Temp\\tacfleet-[0-9a-f]{32}", staging.folder)
    assert "tacfleet-python-installer" not in first.path("python-installer.exe")


def test_the_folder_is_made_new_limited_by_sid_checked_and_removed():
    staging = Staging.new(ROOT, token="ab" * 16)
    folder = f"C:\\Windows\\Temp\\tacfleet-{'ab' * 16}"
    assert staging.make().argv == (CMD, "/d", "/v:off", "/c", "mkdir", folder)
    assert staging.protect().argv == (ICACLS, folder, "/inheritance:r", "/grant:r",
                                      "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F")
    assert staging.verify().argv == (ICACLS, folder, "/T")
    assert staging.remove().argv == (CMD, "/d", "/v:off", "/c", "rmdir", "/s", "/q", folder)
    # nothing in the lines cmd.exe reads is quoted or escaped: the name is [0-9a-f]
    assert staging.make().line.endswith(f" /c mkdir {folder}")


def test_a_systemroot_cmd_would_parse_is_refused():
    with pytest.raises(UnsafeForCmd, match=r"characters cmd\.exe would parse"):
        Staging.new("C:\\Win & Dows")


@pytest.fixture
def icacls(tmp_path, monkeypatch):
    """The sandbox's icacls stand-in on a folder of this machine, its store in ``tmp_path``."""
    sys.path.insert(0, str(REPO / "sandbox" / "standin"))
    from tacfleet_standins import icacls as standin

    store = standin.Store(str(tmp_path / "acls.json"))

    def run(*args: str, lang: str = "en") -> str:
        output, rc = standin.run([a.replace("\\", "/") for a in args], store, lang)
        assert rc == 0, output
        return output.replace("/", "\\")  # on the host (Wine) it prints Windows' separators

    return run


def _win(path: str) -> str:
    return path.replace("/", "\\")


def _protected(icacls, folder: str, grants: tuple[str, ...]) -> None:
    icacls(folder, "/inheritance:r", "/grant:r", *grants)


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_protected_empty_folder_passes_in_any_language(tmp_path, icacls, lang):
    folder = str(tmp_path / "tacfleet-x")
    os.mkdir(folder)
    _protected(icacls, folder, ("*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F"))
    shown = icacls(folder, "/T", lang=lang)
    assert ("Administratoren" if lang == "de" else "Administrators") in shown
    assert tree_check(_win(folder), STAGING_SHOWN, "the staging folder")(shown) == ""


def test_a_folder_still_inheriting_users_rights_fails(tmp_path, icacls):
    folder = str(tmp_path / "tacfleet-x")
    os.mkdir(folder)
    why = tree_check(_win(folder), STAGING_SHOWN, "the staging folder")(icacls(folder, "/T"))
    assert why.startswith(f"the staging folder {_win(folder)} has the entries [")
    assert "(I)(OI)(CI)(RX)" in why and "nothing was written or run there" in why


def test_a_file_planted_before_the_folder_was_protected_fails(tmp_path, icacls):
    folder = str(tmp_path / "tacfleet-x")
    os.makedirs(os.path.join(folder, "Lib"))
    with open(os.path.join(folder, "Lib", "evil.pth"), "w") as f:
        f.write("import os")
    _protected(icacls, folder, ("*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F"))
    shown = icacls(folder, "/T")
    why = tree_check(_win(folder), STAGING_SHOWN, "the staging folder")(shown)
    assert why.startswith(f"the staging folder {_win(folder)} is not empty ({_win(folder)}\\Lib ")
    assert "evil.pth" in why and "find who made it" in why


def test_another_principal_on_the_folder_fails(tmp_path, icacls):
    folder = str(tmp_path / "tacfleet-x")
    os.mkdir(folder)
    _protected(icacls, folder, ("*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F",
                                "*S-1-5-32-545:(OI)(CI)M"))
    assert "not ['(OI)(CI)(F)', '(OI)(CI)(F)']" in tree_check(
        _win(folder), STAGING_SHOWN, "the staging folder")(icacls(folder, "/T"))


def test_the_install_folder_gets_users_read_and_execute(tmp_path, icacls):
    target = "C:\\Program Files\\Py Ünï (x86)"
    make, own, protect, tree = target_dir_actions(ROOT, target)
    assert make.argv == (CMD, "/d", "/v:off", "/c", "if", "not", "exist", target, "mkdir",
                         target)
    # cmd.exe reads: if not exist "C:\Program …" mkdir "C:\Program …": one command, quoted
    after_c = make.line.split(" /c ", 1)[1]
    assert after_c == f'if not exist "{target}" mkdir "{target}"'
    assert commands(after_c) == [after_c]
    assert own.argv == (ICACLS, target, "/setowner", "*S-1-5-32-544")
    assert protect.argv == (ICACLS, target, "/inheritance:r", "/grant:r",
                            "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F",
                            "*S-1-5-32-545:(OI)(CI)RX")
    assert tree.argv == (ICACLS, target, "/T")
    folder = str(tmp_path / "Python311")
    os.mkdir(folder)
    icacls(folder, *own.argv[2:])
    _protected(icacls, folder, protect.argv[4:])
    assert tree_check(_win(folder), TARGET_SHOWN, "the install folder")(
        icacls(folder, "/T")) == ""
    _protected(icacls, folder, protect.argv[4:])  # again, as a second run would: the same
    assert tree_check(_win(folder), TARGET_SHOWN, "the install folder")(
        icacls(folder, "/T")) == ""


def test_an_install_folder_a_user_made_first_keeps_their_entry_and_fails(tmp_path, icacls):
    """/grant:r replaces the entries of the SIDs it names, not others': a user who made the
    folder first and gave themselves Full control keeps that entry, so the check fails."""
    folder = str(tmp_path / "Python311")
    os.mkdir(folder)
    icacls(folder, "/grant", "*S-1-5-21-1-2-3-1001:(OI)(CI)F")
    _, own, protect, _ = target_dir_actions(ROOT, "C:\\Python311")
    icacls(folder, *own.argv[2:])
    _protected(icacls, folder, protect.argv[4:])
    why = tree_check(_win(folder), TARGET_SHOWN, "the install folder")(icacls(folder, "/T"))
    assert why.startswith(f"the install folder {_win(folder)} has the entries [")


@pytest.mark.parametrize("path", ["C:\\Python311", "C:\\Program Files\\Python311",
                                  "C:\\Program Files\\Py & (x86) ^ Ünï", "D:\\Tools\\py-3.11"])
def test_install_folders_cmd_takes_literally_are_accepted(path):
    assert cmd_literal(path) == path


@pytest.mark.parametrize("path", ["C:\\Py&calc", "C:\\Pyünï", "C:\\Program Files\\P%OS%",
                                  "C:\\Program Files\\Py!x!", "C:\\Py(x86)", "C:\\a,b",
                                  "\\\\server\\share\\py"])
def test_install_folders_cmd_would_parse_are_refused(path):
    with pytest.raises(UnsafeForCmd, match="install the base Python by hand"):
        cmd_literal(path)
