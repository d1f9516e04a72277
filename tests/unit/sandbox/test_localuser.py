"""The sandbox's local non-admin user (issue 32): what the ACL model lets it do, owners it
leaves, CREATOR OWNER inheritance, ``icacls /setowner``. Run here on this machine's files (a
file of another Unix uid is the local user's, as Wine reports it on the sandbox host)."""

from __future__ import annotations

import os
import sys

import pytest

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "sandbox" / "standin"))

from tacfleet_standins import icacls, localuser

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local user's files get uid 1001")
ADMIN_ONLY = ["/inheritance:r", "/grant:r", "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F",
              "*S-1-5-32-545:(OI)(CI)RX"]


@pytest.fixture
def store(tmp_path):
    return icacls.Store(str(tmp_path / "acls.json"))


def as_user(store, op, path, text=""):
    """``localuser`` as ``sandbox.control.local_user`` runs it: what it makes gets uid 1001."""
    rc, message = localuser.act(op, str(path), text, store)
    if rc == 0 and message.startswith("LOCALUSER made "):
        os.chown(message.removeprefix("LOCALUSER made "), icacls.LOCAL_UID, icacls.LOCAL_UID)
    return rc, message


def test_windows_default_acl_lets_a_user_plant_a_pth_and_protection_stops_it(tmp_path, store):
    site = tmp_path / "Python311" / "Lib" / "site-packages"
    site.mkdir(parents=True)
    rc, _ = as_user(store, "create", site / "evil.pth", "import os")
    assert rc == 0  # Users' inherited (CI)(WD) from the drive root: the attack works here
    assert store.owner(str(site / "evil.pth")) == icacls.LOCAL_USER
    icacls.run([str(tmp_path / "Python311"), *ADMIN_ONLY], store, "en")
    assert as_user(store, "create", site / "again.pth", "x") == (5, "Access is denied.")
    assert as_user(store, "mkdir", site / "pkg")[0] == 5
    assert not (site / "again.pth").exists() and not (site / "pkg").exists()


def test_what_the_user_made_it_may_write_through_creator_owner(tmp_path, store):
    open_folder = tmp_path / "Apps"
    open_folder.mkdir()
    assert as_user(store, "mkdir", open_folder / "mine")[0] == 0
    assert as_user(store, "create", open_folder / "mine" / "a.txt", "x")[0] == 0
    aces, _ = store.dacl(str(open_folder / "mine"))
    assert any(a.sid == icacls.LOCAL_USER and a.mask == icacls.SIMPLE["F"] for a in aces)
    # an administrator's own file in the same open folder: the user may not write it
    (open_folder / "admin.txt").write_text("admin")
    assert as_user(store, "create", open_folder / "admin.txt", "x")[0] == 5
    assert as_user(store, "append", open_folder / "admin.txt", "x")[0] == 5


def test_setowner_and_a_file_made_again_by_the_admin_is_the_admins(tmp_path, store):
    folder = tmp_path / "data"
    folder.mkdir()
    part = folder / "x.tacfleet-upload"
    assert as_user(store, "create", part, "planted")[0] == 0
    assert store.owner(str(part)) == icacls.LOCAL_USER
    assert icacls.run([str(part), "/setowner", "*S-1-5-32-544"], store, "en")[1] == 0
    assert store.owner(str(part)) == icacls.ADMINS
    os.remove(part)
    part.write_text("the admin's")  # deleted and made again by the administrator
    assert store.owner(str(part)) == icacls.ADMINS
    assert store.creator(str(part)) is None


def test_delete_needs_delete_or_delete_child(tmp_path, store):
    folder = tmp_path / "wheels"
    folder.mkdir()
    (folder / "Twisted.whl").write_text("admin's")
    icacls.run([str(folder), *ADMIN_ONLY], store, "en")
    assert as_user(store, "delete", folder / "Twisted.whl")[0] == 5
    assert (folder / "Twisted.whl").exists()
