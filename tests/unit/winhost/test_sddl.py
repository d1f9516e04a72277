"""The SDDL parser on strings from Microsoft's documentation and the DACLs icacls shows on
Windows Server."""

from __future__ import annotations

import pytest

from inventory.winnames import TRUSTED_INSTALLER_SID
from winhost import sddl
from winhost.probe import folder_acl

TI = TRUSTED_INSTALLER_SID

#: Microsoft Learn, "Security Descriptor String Format": the example descriptor.
DOCS_EXAMPLE = "O:AOG:DAD:(A;;RPWPCCDCLCSWRCWDWOGA;;;S-1-0-0)"
#: Microsoft Learn, "ACE Strings": a conditional ACE (nested parentheses after the SID).
DOCS_CONDITIONAL = (
    'D:(XA;;FX;;;S-1-1-0;(@User.Title=="PM" && (@User.Division=="Finance" || '
    '@User.Division ==" Sales")))'
)
#: C:\ of Windows Server 2019 (icacls: SYSTEM/Administrators (OI)(CI)(F), Users (OI)(CI)(RX),
#: Users (CI)(AD), Users (CI)(IO)(WD), CREATOR OWNER (OI)(CI)(IO)(F)), owner TrustedInstaller.
SYSTEM_DRIVE = (
    f"O:{TI}G:{TI}D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
    "(A;CI;LC;;;BU)(A;CIIO;DC;;;BU)(A;OICIIO;GA;;;CO)"
)
#: What a folder created under that C:\ inherits (icacls: every entry (I), Users (I)(CI)(AD)
#: and (I)(CI)(WD): the IO of the parent's write-data entry is cleared on the child).
NEW_FOLDER = (
    "D:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1200a9;;;BU)(A;CIID;LC;;;BU)"
    "(A;CIID;DC;;;BU)(A;OICIIOID;GA;;;CO)"
)


def test_docs_example_owner_group_and_letter_rights():
    parsed = sddl.parse(DOCS_EXAMPLE)
    assert parsed.owner == "S-1-5-32-548" and parsed.group == "DA"  # DA: domain-relative
    (ace,) = parsed.dacl or ()
    assert ace.kind == "allow" and ace.sid == "S-1-0-0" and not ace.inherited
    assert ace.mask == 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x20000 | 0x40000 | 0x80000 | (
        sddl.GENERIC_ALL
    )


def test_docs_conditional_ace_nested_parentheses():
    (ace,) = sddl.parse(DOCS_CONDITIONAL).dacl or ()
    assert (ace.kind, ace.sid, ace.mask) == ("allow", "S-1-1-0", sddl.FILE_GENERIC_EXECUTE)


def test_system_drive_of_windows_server():
    parsed = sddl.parse(SYSTEM_DRIVE)
    assert parsed.protected and parsed.owner == TI
    aces = parsed.dacl or ()
    assert [a.sid for a in aces] == [
        "S-1-5-18", "S-1-5-32-544", "S-1-5-32-545", "S-1-5-32-545", "S-1-5-32-545", "S-1-3-0",
    ]
    assert aces[3].mask == sddl.FILE_APPEND_DATA and aces[3].flags == {"CI"}
    assert aces[4].mask == sddl.FILE_WRITE_DATA and aces[4].flags == {"CI", "IO"}
    assert sddl.write_rights(aces[3].mask) == ["append/add subfolder"]
    assert sddl.write_rights(aces[4].mask) == ["write data/add file"]
    assert sddl.rights_name(aces[2].mask) == "RX" and sddl.rights_name(aces[0].mask) == "F"


def test_folder_created_under_the_system_drive_inherits_users_writes():
    acl = folder_acl(NEW_FOLDER)
    assert not acl.protected and acl.error == ""
    users_writes = [
        a for a in acl.aces if a.sid == "S-1-5-32-545" and sddl.grants_write(a.mask)
    ]
    assert [(a.inherited, sorted(a.flags)) for a in users_writes] == [
        (True, ["CI", "ID"]),
        (True, ["CI", "ID"]),
    ]
    creator = acl.aces[-1]
    assert creator.sid == sddl.SID_ALIASES["CO"] and not creator.applies_here


def test_hex_decimal_and_generic_masks():
    aces = sddl.parse("D:(A;;0x1301bf;;;AU)(A;;2032127;;;SY)(D;OICI;GW;;;WD)").dacl or ()
    assert sddl.rights_name(aces[0].mask) == "M" and sddl.rights_name(aces[1].mask) == "F"
    deny = aces[2]
    assert deny.kind == "deny" and deny.sid == "S-1-1-0"
    assert sddl.file_mask(deny.mask) == sddl.FILE_GENERIC_WRITE
    assert "write data/add file" in sddl.write_rights(deny.mask)


def test_read_execute_is_not_a_write():
    for rights in ("0x1200a9", "FR", "FX", "GRGX"):
        (ace,) = sddl.parse(f"D:(A;;{rights};;;BU)").dacl or ()
        assert not sddl.grants_write(ace.mask), rights


@pytest.mark.parametrize(
    ("alias", "sid"),
    [("BA", "S-1-5-32-544"), ("SY", "S-1-5-18"), ("BU", "S-1-5-32-545"), ("AU", "S-1-5-11"),
     ("WD", "S-1-1-0"), ("CO", "S-1-3-0"), ("CG", "S-1-3-1"), ("AN", "S-1-5-7"),
     ("IU", "S-1-5-4"), ("NS", "S-1-5-20"), ("LS", "S-1-5-19"), ("NU", "S-1-5-2"),
     ("SU", "S-1-5-6"), ("PU", "S-1-5-32-547"), ("BO", "S-1-5-32-551"), ("AO", "S-1-5-32-548"),
     ("SO", "S-1-5-32-549"), ("RD", "S-1-5-32-555")],
)
def test_sid_aliases(alias, sid):
    assert sddl.sid_from_alias(alias) == sid


def test_sid_names_are_english_for_messages():
    assert sddl.sid_name("S-1-5-32-545") == "BUILTIN\\Users"
    assert sddl.sid_name(TI) == "NT SERVICE\\TrustedInstaller"
    assert sddl.sid_name("S-1-5-21-1-2-3-1001") == "S-1-5-21-1-2-3-1001"


def test_audit_aces_and_sacl_are_ignored():
    parsed = sddl.parse("O:BAD:P(A;OICI;FA;;;BA)S:AI(AU;SAFA;FA;;;WD)")
    assert [a.sid for a in parsed.dacl or ()] == ["S-1-5-32-544"]


@pytest.mark.parametrize(
    "bad",
    ["", "D:(A;;FA;;BA)", "D:(A;XX;FA;;;BA)", "D:(A;;QQ;;;BA)", "D:(A;;FA;;;BA", "X:BA",
     "D:(A;;FA;;;not a sid)"],
)
def test_malformed_sddl_is_an_error(bad):
    with pytest.raises(sddl.SddlError):
        sddl.parse(bad)
    if bad:
        assert "unreadable SDDL" in folder_acl(bad).error


def test_null_dacl_and_missing_dacl_are_errors():
    assert "everyone has full access" in folder_acl("D:NO_ACCESS_CONTROL").error
    assert "no DACL" in folder_acl("O:BAG:SY").error


