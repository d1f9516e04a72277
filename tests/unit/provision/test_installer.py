"""The base Python's installer: inventory checks, the pinned copy on this machine, the plan."""

from __future__ import annotations

import base64
import hashlib
import http.server
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance import desired
from inventory import load_inventory
from inventory.errors import InventoryError, Problem
from provision.installer import InstallerError, installer_file
from provision.model import Blocked
from provision.steps import STEPS, Context
from tests.support.loopback import serving
from winhost.probe import bare_facts

DATA = b"MZ stand-in installer " * 3000  # 66 kB: several upload commands
SHA = hashlib.sha256(DATA).hexdigest()
URL_PATH = "/python-3.11.9-amd64.exe"


def _inventory(tmp_path: Path, python: str) -> Path:
    (tmp_path / "python-3.11.9-amd64.exe").write_bytes(DATA)
    path = tmp_path / "hosts.yml"
    path.write_text(f"""
hosts:
  web01:
    connection: {{address: web01.example.com, user: deploy, password_env: PW}}
    python: {{{python}}}
    app: {{name: example, tac_file: C:\\Apps\\Example\\my_tacfile.tac}}
    service: {{name: my_service}}
""", encoding="utf-8")
    return path


def _problems(tmp_path: Path, python: str) -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        load_inventory(_inventory(tmp_path, python))
    return info.value.problems


@pytest.mark.parametrize(("python", "field", "words"), [
    ("installer: python-3.11.9-amd64.exe", "python.installer_sha256",
     "sent from this machine must be pinned"),
    ("installer: 'https://example.org/p.exe', installer_transfer: controller",
     "python.installer_sha256", "fetches and uploads must be pinned"),
    (f"installer: python-3.11.9-amd64.exe, installer_sha256: {SHA}, installer_transfer: host",
     "python.installer_transfer", "is a file on this machine"),
    (f"installer_sha256: {SHA}", "python.installer_sha256", "python.installer is not"),
    ("installer_transfer: controller", "python.installer_transfer",
     "needs python.installer"),
    ("installer: 'https://example.org/p.exe'", "python.installer_sha256",
     "the host fetches with curl.exe must be pinned"),
    ("installer: 'https://example.org/p.exe', installer_transfer: host",
     "python.installer_sha256", "the host fetches with curl.exe must be pinned"),
])
def test_installer_settings_that_cannot_work_are_refused_with_the_fix(
        tmp_path, python, field, words):
    (problem,) = _problems(tmp_path, python)
    assert problem.file.endswith("hosts.yml") and problem.hosts == ("web01",)
    assert problem.field == field and words in problem.message and problem.fix
    assert "Traceback" not in str(problem)


def test_the_curl_pin_fix_names_python_orgs_published_hash(tmp_path):
    (problem,) = _problems(tmp_path, "installer: 'https://example.org/p.exe'")
    assert "SHA-256 python.org publishes" in problem.fix


@pytest.mark.parametrize("url", ["http://www.python.org/ftp/python/3.11.9/p.exe",
                                 "HTTP://mirror.example.org/p.exe"])
def test_an_http_installer_url_is_refused_naming_the_value_and_https(tmp_path, url):
    (problem,) = _problems(tmp_path, f"installer: '{url}', installer_sha256: {SHA}")
    assert problem.field == "python.installer" and problem.value == url
    assert "http://" in problem.message and "https://" in problem.fix


def test_an_http_url_with_a_token_is_refused_without_showing_the_token(tmp_path):
    (problem,) = _problems(tmp_path, "installer: 'http://deploy:s3cret@example.org/p.exe', "
                           f"installer_sha256: {SHA}")
    assert problem.value == "http://***@example.org/p.exe"
    assert "s3cret" not in str(problem) and "deploy" not in str(problem)


def test_an_installer_url_with_a_line_break_is_refused(tmp_path):
    (problem,) = _problems(tmp_path, 'installer: "https://example.org/p.exe\\nurl = x", '
                           f"installer_sha256: {SHA}")
    assert problem.field == "python.installer" and "control character" in problem.message


def test_the_retired_upload_python_is_refused_saying_it_is_not_needed(tmp_path):
    (problem,) = _problems(tmp_path, f"installer: python-3.11.9-amd64.exe, installer_sha256: "
                           f"{SHA}, upload_python: 'C:\\Python39\\python.exe'")
    assert problem.field == "python.upload_python" and "remove it" in problem.fix
    assert "findstr and certutil" in problem.fix


def test_a_checksum_that_is_not_64_hex_digits_is_refused_with_its_value(tmp_path):
    (problem,) = _problems(tmp_path, "installer: python-3.11.9-amd64.exe, installer_sha256: abc")
    assert problem.field == "python.installer_sha256" and problem.value == "abc"


def test_a_pinned_controller_file_is_valid(tmp_path):
    host = load_inventory(_inventory(
        tmp_path, f"installer: python-3.11.9-amd64.exe, installer_sha256: {SHA}")).host("web01")
    assert host.python.installer == str(tmp_path / "python-3.11.9-amd64.exe")
    assert host.python.installer_from_controller(host_has_curl=True)


@pytest.mark.parametrize(("transfer", "curl", "uploads"), [
    ("auto", True, False), ("auto", None, False), ("auto", False, True),
    ("host", False, False), ("controller", True, True)])
def test_a_url_is_fetched_by_the_host_when_it_has_curl_unless_told_otherwise(
        tmp_path, transfer, curl, uploads):
    host = load_inventory(_inventory(
        tmp_path, f"installer: 'https://example.org/p.exe', installer_sha256: {SHA}, "
        f"installer_transfer: {transfer}")).host("web01")
    assert host.python.installer_from_controller(curl) is uploads


# -- the installer on this machine ----------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    hits = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]
        if self.path != URL_PATH:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(DATA)))
        self.end_headers()
        self.wfile.write(DATA)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    with serving(_Server(("127.0.0.1", 0), _Handler)) as srv:
        yield srv


def _url(server: _Server, path: str = URL_PATH, auth: str = "") -> str:
    return f"http://{auth}127.0.0.1:{server.server_address[1]}{path}"


def test_a_url_is_fetched_once_into_the_cache_under_its_checksum(tmp_path, server):
    cache = tmp_path / "installers"
    assert installer_file(_url(server), SHA, cache=cache).read_bytes() == DATA
    assert installer_file(_url(server), SHA, cache=cache).read_bytes() == DATA
    assert server.hits == 1 and [p.name for p in cache.iterdir()] == [SHA]


def test_a_fetched_installer_with_another_checksum_is_not_kept(tmp_path, server):
    cache = tmp_path / "installers"
    with pytest.raises(InstallerError) as info:
        installer_file(_url(server, auth="me:s3cret@"), "1" * 64, cache=cache)
    assert f"has SHA-256 {SHA}, not python.installer_sha256 {'1' * 64}" in str(info.value)
    assert "s3cret" not in str(info.value) and "nothing was sent" in str(info.value)
    assert list(cache.iterdir()) == []


def test_a_url_that_cannot_be_fetched_says_so_without_a_traceback(tmp_path, server):
    with pytest.raises(InstallerError, match=r"could not fetch .*404.*give python.installer"):
        installer_file(_url(server, "/missing.exe"), SHA, cache=tmp_path)


def test_a_controller_file_with_another_checksum_is_refused(tmp_path):
    path = tmp_path / "p.exe"
    path.write_bytes(DATA + b"x")
    with pytest.raises(InstallerError, match="nothing was sent; fix the file or the pin"):
        installer_file(str(path), SHA)


# -- the plan ------------------------------------------------------------------------------------


def _bare(host, has_curl: bool | None) -> Context:
    return Context(host, bare_facts(host.name, desired.probe_spec(host), has_curl=has_curl))


STAGED = re.compile(r"C:\\Windows\\Temp\\tacfleet-[0-9a-f]{32}")
CMD, CERTUTIL = "C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\certutil.exe"
ICACLS, CURL = "C:\\Windows\\System32\\icacls.exe", "C:\\Windows\\System32\\curl.exe"
ODD = "C:\\Program Files\\Py Ünï (x86)"


def _staging_and_install(actions, folder: str, target: str) -> None:
    """The staging folder is made, limited by SID and checked before anything is written; the
    installer is verified, the install folder made (or taken over), protected and checked, the
    installer run, the staging folder removed; a failure anywhere removes it (and a failed
    install what it left in the install folder)."""
    make, protect, check = actions[:3]
    assert make.command.argv == (CMD, "/d", "/v:off", "/c", "mkdir", folder)
    assert protect.command.argv == (ICACLS, folder, "/inheritance:r", "/grant:r",
                                    "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F")
    assert check.command.argv == (ICACLS, folder, "/T") and check.check is not None
    verify, make_target, own_target, protect_target, check_target, install, remove = (
        actions[-7:])
    installer = folder + "\\python-installer.exe"
    assert verify.command.argv == (CERTUTIL, "-hashfile", installer, "SHA256")
    assert verify.check is not None
    assert verify.check(f"SHA256 hash of {installer}:\r\n{SHA}\r\n") == ""
    assert "not run" in verify.check(f"SHA256 hash of {installer}:\r\n{'0' * 64}\r\n")
    assert make_target.command.argv == (CMD, "/d", "/v:off", "/c", "if", "not", "exist",
                                        target, "mkdir", target)
    assert own_target.command.argv == (ICACLS, target, "/setowner", "*S-1-5-32-544")
    assert protect_target.command.argv[-1] == "*S-1-5-32-545:(OI)(CI)RX"
    assert check_target.command.argv == (ICACLS, target, "/T")
    assert install.command.argv == (
        installer, "/quiet", "InstallAllUsers=1", "PrependPath=0", "Include_test=0",
        f"TargetDir={target}")
    rmdir = (CMD, "/d", "/v:off", "/c", "rmdir", "/s", "/q", folder)
    assert remove.command.argv == rmdir
    both = (*rmdir, "&", "rmdir", "/s", "/q", target)
    for action in actions[:-1]:
        assert action.cleanup is not None, action.why
        assert action.cleanup.argv == (both if action is install else rmdir), action.why


def test_no_curl_sends_into_a_random_admin_only_folder_verifies_installs_and_removes(tmp_path):
    host = load_inventory(_inventory(
        tmp_path, f"installer: python-3.11.9-amd64.exe, installer_sha256: {SHA}, "
        f"base: '{ODD}\\python.exe'")).host("web01")
    actions = STEPS[0].actions(_bare(host, has_curl=False))
    assert not isinstance(actions, Blocked), actions
    folder = STAGED.fullmatch(actions[0].command.argv[-1]).group(0)
    _staging_and_install(actions, folder, ODD)
    send, decode = actions[3:5]
    target = folder + "\\python-installer.exe"
    assert send.command.argv == (CMD, "/d", "/v:off", "/c",
                                 "C:\\Windows\\System32\\findstr.exe", "/l", "/v", "_",
                                 f">{target}.b64")
    assert send.stdin is not None and base64.b64decode(b"".join(send.stdin)) == DATA
    assert decode.command.argv == (CERTUTIL, "-f", "-decode", target + ".b64", target)
    assert len(actions) == 12
    assert not any(a.command.program.lower().endswith("python.exe") for a in actions)
    again = STEPS[0].actions(_bare(host, has_curl=False))
    assert again[0].command.argv[-1] != folder  # a new name every time


def test_curl_fetches_into_the_staging_folder_with_the_url_on_standard_input(tmp_path):
    url = "https://deploy:s3cr%22et@mirror.example.org/python-3.11.9-amd64.exe"
    host = load_inventory(_inventory(
        tmp_path, f"installer: '{url}', installer_sha256: {SHA}")).host("web01")
    actions = STEPS[0].actions(_bare(host, has_curl=True))
    assert not isinstance(actions, Blocked), actions
    folder = STAGED.fullmatch(actions[0].command.argv[-1]).group(0)
    _staging_and_install(actions, folder, "C:\\Python311")
    fetch = actions[3]
    assert fetch.command.argv == (
        CURL, "--disable", "--config", "-", "--fail", "--location", "--proto", "=https",
        "--proto-redir", "=https", "--silent", "--show-error", "--ssl-revoke-best-effort",
        "--output", folder + "\\python-installer.exe")
    assert fetch.stdin == f'url = "{url}"\n'.encode()
    assert all("s3cr" not in a.command.line and "mirror" not in a.command.line
               for a in actions)
    assert len(actions) == 11


def test_curl_config_escapes_what_curl_reads_and_refuses_line_breaks():
    from provision.installer import curl_config

    assert curl_config('https://h/a\\b"c') == b'url = "https://h/a\\\\b\\"c"\n'
    with pytest.raises(ValueError, match="control character"):
        curl_config("https://h/a\nurl = https://evil/")


def test_a_host_whose_systemroot_cmd_would_parse_is_blocked(tmp_path):
    host = load_inventory(_inventory(
        tmp_path, f"installer: python-3.11.9-amd64.exe, installer_sha256: {SHA}")).host("web01")
    ctx = _bare(host, has_curl=False)
    ctx.facts = ctx.facts.model_copy(update={"system_root": "C:\\Win & Dows"})
    blocked = STEPS[0].actions(ctx)
    assert isinstance(blocked, Blocked) and "characters cmd.exe would parse" in blocked.message


def test_an_install_folder_cmd_would_parse_is_blocked(tmp_path):
    host = load_inventory(_inventory(
        tmp_path, f"installer: python-3.11.9-amd64.exe, installer_sha256: {SHA}, "
        "base: 'C:\\Py%OS%\\python.exe'")).host("web01")
    blocked = STEPS[0].actions(_bare(host, has_curl=False))
    assert isinstance(blocked, Blocked) and "install the base Python by hand" in blocked.message
