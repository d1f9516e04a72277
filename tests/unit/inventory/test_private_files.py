r"""Owner-only controller files: the Windows DACL judged as SDDL (descriptors in the form
``GetNamedSecurityInfo`` + ``ConvertSecurityDescriptorToStringSecurityDescriptor`` give, as
Microsoft documents them for files), and the POSIX mode on this machine."""

from __future__ import annotations

import os
import stat

import pytest

from inventory.private_files import (
    PRIVATE_SDDL,
    exposure,
    make_private,
    open_private,
    sddl_exposure,
)

USER = "S-1-5-21-1004336348-1177238915-682003330-1001"
#: A file in the user's profile: inherited full control for SYSTEM, Administrators and the user.
PROFILE = f"O:{USER}D:(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;{USER})"
#: A file under C:\ (a checkout in C:\tacfleet): the root's inherited ACEs let Users read and
#: Authenticated Users modify (icacls C:\ on Windows Server 2022).
UNDER_C = ("O:BAD:AI(A;ID;FA;;;BA)(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BU)(A;ID;0x1301bf;;;AU)"
           f"(A;ID;FA;;;{USER})")


@pytest.mark.parametrize("text", [
    PROFILE,
    PRIVATE_SDDL.format(user=USER),
    PRIVATE_SDDL.format(user=USER.lower()),  # SIDs compare without case
    # A deny ACE takes access away; an inherit-only ACE is for children, not for this file.
    f"D:P(D;;FA;;;WD)(A;OICIIO;FA;;;BU)(A;;FA;;;{USER})",
    # Traverse and read-attributes let Users see that the file exists, not read it.
    f"D:P(A;;FA;;;{USER})(A;;0x100080;;;BU)",
])
def test_a_dacl_of_the_user_system_and_administrators_is_private(text):
    assert sddl_exposure(text, USER) is None


@pytest.mark.parametrize(("text", "who"), [
    (UNDER_C, "BUILTIN\\Users, NT AUTHORITY\\Authenticated Users"),
    (f"D:(A;;FA;;;{USER})(A;;FR;;;WD)", "Everyone"),
    (f"D:(A;;FA;;;{USER})(A;;GR;;;BU)", "BUILTIN\\Users"),  # generic read maps to file read
    (f"D:(A;;FA;;;{USER})(A;;FW;;;S-1-5-21-1004336348-1177238915-682003330-1002)",
     "S-1-5-21-1004336348-1177238915-682003330-1002"),
])
def test_anyone_else_who_may_read_or_write_is_named(text, who):
    assert sddl_exposure(text, USER) == f"its ACL lets {who} read or write it"


def test_a_null_dacl_lets_everyone_in():
    assert sddl_exposure(f"O:{USER}D:NO_ACCESS_CONTROL", USER) == (
        "it has no DACL (everyone has full access)")


@pytest.mark.skipif(os.name == "nt", reason="the POSIX mode; the Windows controller test "
                    "covers the DACL")
def test_posix_files_are_private_at_mode_0600(tmp_path):
    shared = tmp_path / "shared"
    shared.write_text("x")
    shared.chmod(0o644)
    assert exposure(shared) == "it is readable or writable by group/others (mode 0644)"
    make_private(shared)
    assert exposure(shared) is None
    fd = open_private(tmp_path / "log", os.O_WRONLY)
    os.close(fd)
    assert stat.S_IMODE((tmp_path / "log").stat().st_mode) == 0o600
