"""The sandbox's sc and icacls stand-ins print what Windows prints (shared/samples)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.unit.conftest import SAMPLES
from winhost import parsers

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sandbox" / "standin"))

from tacfleet_standins import icacls, scformat

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


def test_icacls_grant_then_show_round_trips_through_the_product_parser(tmp_path, monkeypatch):
    monkeypatch.setattr(icacls, "STORE", str(tmp_path / "acls.json"))
    folder = tmp_path / "My App"
    folder.mkdir()
    assert icacls.main([str(folder), "/grant", "NT SERVICE\\tacdemo:(OI)(CI)RX"]) == 0
    assert icacls.main([str(folder), "/grant", "NT SERVICE\\tacdemo:(OI)(CI)M"]) == 0
    shown = icacls.show(str(folder), icacls._load())
    aces = parsers.parse_icacls(shown, str(folder))
    mine = [a for a in aces if a.principal == "NT SERVICE\\tacdemo"]
    assert [(a.flags, a.rights) for a in mine] == [(["OI", "CI"], ["M"])]
    assert any(a.principal == "BUILTIN\\Users" and "I" in a.flags for a in aces)
    assert icacls.main([str(folder), "/grant", "nobody:(XYZ"]) == 87
    assert icacls.main([str(tmp_path / "missing")]) == 2
