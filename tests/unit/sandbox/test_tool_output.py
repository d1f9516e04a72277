"""The remaining text parsers against the authentic samples (tests/data/samples), English and
German, and built cases. The product reads facts from the registry, the SCM and SDDL instead."""

from __future__ import annotations

import pytest

from sandbox import tool_output as parsers
from tests.support import SAMPLES, sample_files


def test_samples_are_there():
    assert len(list(SAMPLES.glob("*.txt"))) >= 8, f"no samples found in {SAMPLES}"


@pytest.mark.parametrize("path", sample_files("sc_qc_"), ids=lambda p: p.name)
def test_every_sc_qc_sample_parses(path):
    config = parsers.parse_sc_qc(path.read_bytes().decode())
    assert config.name and config.start_code == 2 and config.start_name
    assert config.start_name == config.start_name.strip()


@pytest.mark.parametrize("path", sample_files("sc_query_"), ids=lambda p: p.name)
def test_every_sc_query_sample_parses(path):
    status = parsers.parse_sc_query(path.read_bytes().decode())
    assert (status is None) == ("missing" in path.name)


def test_sc_qc_delayed_own_process(sample):
    config = parsers.parse_sc_qc(sample("sc_qc_delayed_auto.txt"))
    assert (config.name, config.type_code, config.type_name) == (
        "KWSService",
        10,
        "WIN32_OWN_PROCESS",
    )
    assert (config.start_type, config.delayed) == ("AUTO_START", True)
    assert config.binary_path == '"C:\\kioware_com\\KWSS.exe"'
    assert config.start_name == "LocalSystem"  # trailing spaces in the capture
    assert config.display_name == "KWS Service" and config.dependencies == []


def test_sc_qc_virtual_account(sample):
    config = parsers.parse_sc_qc(sample("sc_qc_virtual_account.txt"))
    assert config.start_name == "NT Service\\MSSQLSERVER"
    assert config.delayed is False and config.start_type == "AUTO_START"
    assert config.binary_path.startswith('"C:\\Program Files\\Microsoft SQL Server\\')
    assert config.dependencies == ["KEYISO"]


def test_sc_qc_shared_process_dependency(sample):
    config = parsers.parse_sc_qc(sample("sc_qc_delayed_share_process.txt"))
    assert config.type_name == "WIN32_SHARE_PROCESS" and config.dependencies == ["rpcss"]
    assert config.binary_path == "C:\\Windows\\system32\\svchost.exe -k netsvcs -p"


def test_sc_qc_german_host(sample):
    """German Windows translates the header (ERFOLG), not the labels or the values."""
    config = parsers.parse_sc_qc(sample("sc_qc_german_dependencies.txt"))
    assert config.name == "WireGuardTunnel$wg-sf35022"
    assert (config.start_code, config.start_type, config.delayed) == (2, "AUTO_START", False)
    assert config.binary_path.startswith('"C:\\Program Files\\WireGuard\\wireguard.exe" ')
    assert config.dependencies == ["Nsi", "TcpIp"] and config.start_name == "LocalSystem"


@pytest.mark.parametrize(
    "text",
    [
        "[SC] OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an "
        "installed service.\r\n\r\n",
        "[SC] OpenService FEHLER 1060:\r\n\r\nDer angegebene Dienst ist kein installierter "
        "Dienst.\r\n\r\n",
    ],
    ids=["en", "de"],
)
def test_missing_service_in_either_language(text):
    with pytest.raises(parsers.ServiceNotFound):
        parsers.parse_sc_qc(text)
    assert parsers.parse_sc_query(text) is None


def test_sc_qc_missing_service(sample):
    with pytest.raises(parsers.ServiceNotFound):
        parsers.parse_sc_qc(sample("sc_query_missing_service.txt"))


def test_sc_qc_garbage_is_a_parse_error():
    with pytest.raises(parsers.ParseError, match="sc qc"):
        parsers.parse_sc_qc("Access is denied.\r\n")


def test_sc_query_running(sample):
    status = parsers.parse_sc_query(sample("sc_query_running.txt"))
    assert status is not None
    assert (status.name, status.state_code, status.state) == ("UsoSvc", 4, "RUNNING")
    assert status.flags == ["STOPPABLE", "NOT_PAUSABLE", "ACCEPTS_SHUTDOWN"]
    assert (status.win32_exit_code, status.service_exit_code) == (0, 0)


def test_sc_qdescription():
    text = (
        "[SC] QueryServiceConfig2 SUCCESS\r\n\r\nSERVICE_NAME: tacdemo\r\nDESCRIPTION:  Runs é\r\n"
    )
    assert parsers.parse_sc_qdescription(text) == "Runs é"
    empty = "[SC] QueryServiceConfig2 SUCCESS\r\n\r\nSERVICE_NAME: x\r\nDESCRIPTION:\r\n\r\n"
    assert parsers.parse_sc_qdescription(empty) == ""


def test_icacls():
    path = "C:\\PythonEnvs\\Example App"
    text = (
        f"{path} NT SERVICE\\my_service:(OI)(CI)(RX)\r\n"
        f"{' ' * (len(path) + 1)}BUILTIN\\Administrators:(I)(OI)(CI)(F)\r\n"
        f"{' ' * (len(path) + 1)}CREATOR OWNER:(I)(OI)(CI)(IO)(F)\r\n"
        f"{' ' * (len(path) + 1)}Everyone:(DENY)(W,D)\r\n\r\n"
        "Successfully processed 1 files; Failed processing 0 files\r\n"
    )
    aces = parsers.parse_icacls(text, path)
    assert [a.principal for a in aces] == [
        "NT SERVICE\\my_service",
        "BUILTIN\\Administrators",
        "CREATOR OWNER",
        "Everyone",
    ]
    assert aces[0].flags == ["OI", "CI"] and aces[0].rights == ["RX"]
    assert aces[2].flags == ["I", "OI", "CI", "IO"]
    assert aces[3].rights == ["DENY", "W", "D"]
