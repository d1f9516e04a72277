"""The sandbox's sc and icacls stand-ins print what Windows prints (shared/samples)."""

from __future__ import annotations

import sys

import pytest

from sandbox import tool_output as parsers
from tests.support import ROOT, SAMPLES

sys.path.insert(0, str(ROOT / "sandbox" / "standin"))

from tacfleet_standins import icacls, scformat, wine_retry

ERRORS = {v: k for k, v in scformat.ERRORS.items()}
QC_SAMPLES = sorted(p.name for p in SAMPLES.glob("sc_qc_*.txt"))


def sample(name: str) -> str:
    return (SAMPLES / name).read_bytes().decode("utf-8")


def as_standin_config(cfg: parsers.ServiceConfig) -> scformat.ServiceConfig:
    return scformat.ServiceConfig(
        name=cfg.name, type=int(str(cfg.type_code), 16), start=cfg.start_code,
        delayed=cfg.delayed, error=ERRORS[cfg.error_control], binary_path=cfg.binary_path,
        group=cfg.load_order_group, tag=cfg.tag, display_name=cfg.display_name,
        dependencies=list(cfg.dependencies), account=cfg.start_name)


@pytest.mark.parametrize("name", QC_SAMPLES)
def test_qc_output_parses_back_to_the_samples_values(name):
    original = parsers.parse_sc_qc(sample(name))
    printed = scformat.qc(as_standin_config(original))
    assert parsers.parse_sc_qc(printed) == original


def test_qc_output_matches_the_delayed_auto_sample_line_for_line():
    """Byte for byte apart from trailing blanks, which differ between Windows builds' captures
    (this sample pads the account; the virtual-account one has wider code columns)."""
    text = sample("sc_qc_delayed_auto.txt")
    printed = scformat.qc(as_standin_config(parsers.parse_sc_qc(text)))
    assert printed.endswith("\r\n\r\n") and "\n" not in printed.replace("\r\n", "")
    assert [line.rstrip() for line in printed.split("\r\n")] == \
           [line.rstrip() for line in text.split("\r\n")]


def test_missing_service_is_1060_in_the_sample_wording():
    printed = scformat.failure("OpenService", 1060)
    with pytest.raises(parsers.ServiceNotFound):
        parsers.parse_sc_qc(printed)
    authentic = sample("sc_query_missing_service.txt").split("\r\n")
    assert printed.split("\r\n")[1:] == authentic[1:]
    assert printed.startswith("[SC] OpenService FAILED 1060:\r\n")


def test_qdescription_parses():
    printed = scformat.qdescription("tacdemo", "Runs (my_tacfile.tac) & more")
    assert parsers.parse_sc_qdescription(printed) == "Runs (my_tacfile.tac) & more"


def test_config_options_as_sc_takes_them():
    change = scformat.parse_options(["start=", "delayed-auto", "obj=", "NT SERVICE\\tacdemo",
                                     "DisplayName=", "Tac demo"])
    assert (change.start, change.delayed, change.account, change.display_name) == (
        2, True, "NT SERVICE\\tacdemo", "Tac demo")
    with pytest.raises(ValueError, match="start= sometimes: expected one of"):
        scformat.parse_options(["start=", "sometimes"])
    with pytest.raises(ValueError, match="needs a value after a space"):
        scformat.parse_options(["obj="])


@pytest.fixture
def store(tmp_path):
    return icacls.Store(str(tmp_path / "acls.json"))


def test_icacls_grant_then_show_round_trips_through_the_product_parser(tmp_path, store):
    folder = tmp_path / "My App"
    folder.mkdir()
    grant = [str(folder), "/grant", "NT SERVICE\\tacdemo:(OI)(CI)RX"]
    assert icacls.run(grant, store, "en")[1] == 0
    assert icacls.run([str(folder), "/grant", "NT SERVICE\\tacdemo:(OI)(CI)M"], store, "en")[1] == 0
    shown, rc = icacls.run([str(folder)], store, "en")
    assert rc == 0
    aces = parsers.parse_icacls(shown, str(folder))
    mine = [a for a in aces if a.principal == "NT SERVICE\\tacdemo"]
    assert [(a.flags, a.rights) for a in mine] == [(["OI", "CI"], ["M"])]
    assert icacls.run([str(folder), "/grant", "nobody:(XYZ"], store, "en")[1] == 87
    assert icacls.run([str(tmp_path / "missing")], store, "en")[1] == 2


NEW_FOLDER = [  # a new folder under C:\ on Windows Server (public icacls captures)
    "NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)",
    "BUILTIN\\Administrators:(I)(OI)(CI)(F)",
    "BUILTIN\\Users:(I)(OI)(CI)(RX)",
    "BUILTIN\\Users:(I)(CI)(AD)",
    "BUILTIN\\Users:(I)(CI)(WD)",
    "CREATOR OWNER:(I)(OI)(CI)(IO)(F)",
]


def _entries(shown: str, path: str) -> list[str]:
    head, *rest = shown.split("\r\n\r\n")[0].split("\r\n")
    assert head.startswith(path + " ")
    return [head[len(path) + 1:], *(line.strip() for line in rest)]


def test_a_new_folder_inherits_what_windows_server_gives_the_drive_root(store):
    """Not the stand-in's own list: the root (/ here, C:\\ on the host) is the only source."""
    base = "/"  # the drive root in this test is the Linux root; any folder under it is "new"
    shown, rc = icacls.run([base + "tmp"], store, "en")
    assert rc == 0
    assert _entries(shown, "/tmp") == NEW_FOLDER
    assert shown.endswith("\r\n\r\nSuccessfully processed 1 files; Failed processing 0 files\r\n")


def test_folders_inside_a_protected_folder_inherit_its_entries_not_the_roots(tmp_path, store):
    top, child = tmp_path / "venv", tmp_path / "venv" / "Lib"
    child.mkdir(parents=True)
    ops = ["/inheritance:r", "/grant:r", "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F",
           "NT SERVICE\\tacdemo:(OI)(CI)RX"]
    assert icacls.run([str(top), *ops], store, "en")[1] == 0
    assert _entries(icacls.run([str(top)], store, "en")[0], str(top)) == [
        "BUILTIN\\Administrators:(OI)(CI)(F)", "NT AUTHORITY\\SYSTEM:(OI)(CI)(F)",
        "NT SERVICE\\tacdemo:(OI)(CI)(RX)"]
    assert _entries(icacls.run([str(child)], store, "en")[0], str(child)) == [
        "BUILTIN\\Administrators:(I)(OI)(CI)(F)", "NT AUTHORITY\\SYSTEM:(I)(OI)(CI)(F)",
        "NT SERVICE\\tacdemo:(I)(OI)(CI)(RX)"]


def test_inheritance_d_copies_r_removes_e_restores(tmp_path, store):
    folder = tmp_path / "d"
    folder.mkdir()
    icacls.run([str(folder), "/inheritance:d"], store, "en")
    assert _entries(icacls.run([str(folder)], store, "en")[0], str(folder)) == \
        [e.replace("(I)", "") for e in NEW_FOLDER[:4]] + ["BUILTIN\\Users:(CI)(WD)",
                                                          "CREATOR OWNER:(OI)(CI)(IO)(F)"]
    icacls.run([str(folder), "/reset"], store, "en")
    assert _entries(icacls.run([str(folder)], store, "en")[0], str(folder)) == NEW_FOLDER
    icacls.run([str(folder), "/inheritance:r"], store, "en")
    assert icacls.run([str(folder)], store, "en")[0].startswith(str(folder) + "\r\n")
    icacls.run([str(folder), "/inheritance:e"], store, "en")
    assert _entries(icacls.run([str(folder)], store, "en")[0], str(folder)) == NEW_FOLDER


def test_deny_comes_first_and_takes_the_rights_out_of_the_grant(tmp_path, store):
    folder = tmp_path / "x"
    folder.mkdir()
    icacls.run([str(folder), "/grant", "*S-1-5-32-545:(OI)(CI)M"], store, "en")
    icacls.run([str(folder), "/deny", "Users:(OI)(CI)(WD,AD)"], store, "en")
    entries = _entries(icacls.run([str(folder)], store, "en")[0], str(folder))
    assert entries[0] == "BUILTIN\\Users:(OI)(CI)(DENY)(WD,AD)"
    assert entries[1].startswith("BUILTIN\\Users:(OI)(CI)(") and "M" not in entries[1]
    icacls.run([str(folder), "/remove:d", "*S-1-5-32-545"], store, "en")
    assert not _entries(icacls.run([str(folder)], store, "en")[0], str(folder))[0].endswith(
        "(WD,AD)")
    icacls.run([str(folder), "/remove", "BUILTIN\\Users"], store, "en")
    assert _entries(icacls.run([str(folder)], store, "en")[0], str(folder)) == NEW_FOLDER


def test_save_writes_utf16_name_and_sddl_with_sids(tmp_path, store):
    folder, out = tmp_path / "Logs", tmp_path / "acl.txt"
    folder.mkdir()
    icacls.run([str(folder), "/inheritance:r", "/grant:r", "*S-1-5-32-544:(OI)(CI)F",
                "NT SERVICE\\tacdemo:(OI)(CI)M"], store, "en")
    assert icacls.run([str(folder), "/save", str(out)], store, "en")[1] == 0
    text = out.read_bytes().decode("utf-16-le")
    sid = icacls.virtual_account_sid("tacdemo")
    assert text == f"Logs\r\nD:PAI(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;{sid})\r\n"
    inner = tmp_path / "Logs" / "sub"
    inner.mkdir()
    icacls.run([str(inner), "/save", str(out)], store, "en")
    assert out.read_bytes().decode("utf-16-le") == \
        f"sub\r\nD:AI(A;OICIID;FA;;;BA)(A;OICIID;0x1301bf;;;{sid})\r\n"
    root_child = icacls.sddl(icacls.inherit(list(icacls.DRIVE_ROOT), True), False)
    assert root_child == ("D:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1200a9;;;BU)"
                          "(A;CIID;LC;;;BU)(A;CIID;DC;;;BU)(A;OICIIOID;FA;;;CO)")


def test_virtual_account_sid_matches_the_products(store):
    from inventory.winnames import virtual_account_sid

    for name in ("tacdemo", "TrustedInstaller", "MSSQLSERVER"):
        assert icacls.virtual_account_sid(name) == virtual_account_sid(name)
        assert scformat.virtual_account_sid(name) == virtual_account_sid(name)
    assert icacls.virtual_account_sid("TrustedInstaller") == \
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"


def test_german_host_names_and_summary(tmp_path, store):
    folder = tmp_path / "de"
    folder.mkdir()
    shown, _ = icacls.run([str(folder)], store, "de")
    assert _entries(shown, str(folder))[:3] == [
        "NT-AUTORITÄT\\SYSTEM:(I)(OI)(CI)(F)", "VORDEFINIERT\\Administratoren:(I)(OI)(CI)(F)",
        "VORDEFINIERT\\Benutzer:(I)(OI)(CI)(RX)"]
    assert "ERSTELLER-BESITZER:(I)(OI)(CI)(IO)(F)" in shown
    assert shown.endswith("1 Dateien erfolgreich verarbeitet, bei 0 Dateien ist ein Fehler "
                          "aufgetreten.\r\n")
    # A German Windows knows its own names only: the English one does not map (1332).
    out, rc = icacls.run([str(folder), "/grant", "BUILTIN\\Administrators:F"], store, "de")
    assert rc == 1332 and "Zuordnungen von Kontennamen" in out
    assert icacls.run([str(folder), "/grant", "VORDEFINIERT\\Administratoren:F"], store, "de")[1] \
        == 0


def test_sc_query_and_showsid_formats():
    authentic = sample("sc_query_running.txt")
    status = parsers.parse_sc_query(authentic)
    printed = scformat.status("UsoSvc", scformat.ServiceStatus(
        type=0x30, state=4, controls=0x5, win32_exit=0, service_exit=0, checkpoint=0,
        wait_hint=0))
    assert printed == authentic
    assert parsers.parse_sc_query(printed) == status
    started = scformat.status("tacdemo", scformat.ServiceStatus(0x10, 2, 0, 0, 0, 0, 0x7D0, 4242,
                                                                0))
    assert "        PID                : 4242\r\n" in started
    assert parsers.parse_sc_query(started).state == "START_PENDING"
    sid = scformat.virtual_account_sid("tacdemo")
    assert scformat.showsid("tacdemo", sid, True) == \
        f"\r\nNAME: tacdemo\r\nSERVICE SID: {sid}\r\nSTATUS: Active\r\n"


def test_secedit_export_is_read_back_by_the_probe(tmp_path, monkeypatch):
    """The stand-in's INF (UTF-16LE, BOM, ``Right = *SID,…``) is what the probe parses; a
    rights.json (a GPO's list) replaces the default holders."""
    from tacfleet_standins import secedit

    from winhost.probe import script as probe_script

    monkeypatch.setattr(secedit, "STORE", str(tmp_path / "rights.json"))
    cfg = tmp_path / "rights.inf"
    assert secedit.main(["/export", "/areas", "USER_RIGHTS", "/cfg", str(cfg), "/quiet"]) == 0
    raw = cfg.read_bytes()
    assert raw.startswith(b"\xff\xfe")
    assert probe_script.privilege_rights(raw)["seservicelogonright"] == ["S-1-5-80-0"]
    (tmp_path / "rights.json").write_text('{"SeServiceLogonRight": ["S-1-5-32-544"]}')
    assert secedit.main(["/export", "/cfg", str(cfg), "/quiet"]) == 0
    assert probe_script.privilege_rights(cfg.read_bytes()) == {
        "seservicelogonright": ["S-1-5-32-544"]}
    assert secedit.main(["/export", "/cfg", str(cfg), "/areas", "SECURITYPOLICY"]) == 1


class _WinError(OSError):
    def __init__(self, winerror: int) -> None:
        super().__init__(f"[WinError {winerror}]")
        self.winerror = winerror


def _flaky(errors: list[int]):
    calls: list[tuple[object, ...]] = []

    def create(*args: object) -> str:
        calls.append(args)
        if errors:
            raise _WinError(errors.pop(0))
        return "handles"
    return create, calls


def test_wine_retry_retries_only_error_1359_and_gives_up_after_four_attempts() -> None:
    create, calls = _flaky([1359, 1359])
    assert wine_retry.wrap(create)("python.exe", "line") == "handles"
    assert len(calls) == 3 and calls[-1] == ("python.exe", "line")

    create, calls = _flaky([2])
    with pytest.raises(OSError) as missing:
        wine_retry.wrap(create)("nosuch.exe")
    assert missing.value.winerror == 2 and len(calls) == 1  # type: ignore[attr-defined]

    create, calls = _flaky([1359] * 5)
    with pytest.raises(OSError):
        wine_retry.wrap(create)("sc.exe")
    assert len(calls) == wine_retry.ATTEMPTS
    wrapped = wine_retry.wrap(create)
    assert wine_retry.wrap(wrapped) is wrapped
