"""Issue 12 over real pywinrm: Kerberos from a real MIT KDC (password, keytab, ticket cache) and
client certificates on HTTPS against the sandbox endpoint; each failure as one line and its exit
code; ``invoke doctor`` naming the failing layer.

The session's shared host runs a realm (``control.up(realm=True)``) and is provisioned over NTLM
(usually by a module before); each transport then runs a no-op provision and the full compliance
check against it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import tacfleet_cli as cli
from inventory import load_inventory
from inventory.models import Host
from provision.fleet import provision_one
from tests.integration.helpers import failing
from tests.support.sandbox_hosts import SandboxHost
from winhost import kerberos

pytestmark = pytest.mark.sandbox


class Realm:
    """The shared host with its realm: makes inventories for each way of authenticating."""

    def __init__(self, info: dict[str, Any], inventory: Path) -> None:
        self.info = info
        self.kerberos: dict[str, Any] = info["kerberos"]
        self.user: dict[str, str] = self.kerberos["principals"]["tacfleet"]
        self.inventory = inventory

    def with_connection(self, folder: Path, settings: dict[str, Any],
                        drop: tuple[str, ...] = ()) -> Path:
        """An inventory for the host (``folder/hosts.yml``) whose connection has ``settings``
        (a None value removes the key) and lacks the keys ``drop``."""
        data = yaml.safe_load(self.inventory.read_text(encoding="utf-8"))
        conn = data["hosts"]["sandbox"]["connection"]
        for key in drop:
            conn.pop(key, None)
        conn.update(settings)
        data["hosts"]["sandbox"]["connection"] = {k: v for k, v in conn.items() if v is not None}
        path = folder / "hosts.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def write(self, folder: Path, **connection: Any) -> Path:
        """An inventory for the host with transport kerberos and these connection settings."""
        kerberos = {"transport": "kerberos", "user": self.user["principal"],
                    "kerberos_hostname_override": self.kerberos["hostname"]}
        return self.with_connection(folder, {**kerberos, **connection}, drop=("password_file",))

    def host(self, folder: Path, **connection: Any) -> Host:
        return load_inventory(self.write(folder, **connection)).host("sandbox")

    def password(self) -> str:
        return Path(self.user["password_file"]).read_text().strip()


@pytest.fixture(scope="module")
def realm(sandbox_host: SandboxHost) -> Realm:
    """The session's host (it runs a realm), compliant: a no-op provision over NTLM when a module
    before provisioned it. Its realm as it is now: a reset restarts the KDC on another port."""
    from sandbox import control

    run = provision_one(load_inventory(sandbox_host.inventory).host("sandbox"))  # over NTLM
    assert not run.failed, run.summary()
    return Realm(control.status(sandbox_host.info["name"]), sandbox_host.inventory)


@pytest.fixture
def krb5_env(realm: Realm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """This realm's krb5.conf and an empty ticket cache of the user's own: ``KRB5CCNAME``."""
    ccache = f"FILE:{tmp_path / 'user.ccache'}"
    monkeypatch.setenv("KRB5_CONFIG", realm.kerberos["krb5_conf"])
    monkeypatch.setenv("KRB5CCNAME", ccache)
    monkeypatch.setattr(kerberos, "_private", None)  # no private cache from an earlier test
    return ccache


def kinit(realm: Realm, lifetime: str | None = None) -> None:
    """The user's own ``kinit`` (MIT's program) into their cache, ``KRB5CCNAME``."""
    program = shutil.which("kinit")
    if program is None:
        pytest.fail("kinit is not installed: apt-get install krb5-user (bootstrap.sh does it)")
    subprocess.run([program, *(["-l", lifetime] if lifetime else []), realm.user["principal"]],
                   input=realm.password() + "\n", text=True, check=True, capture_output=True)


def assert_no_op_and_compliant(host: Host) -> None:
    run = provision_one(host)
    assert not run.failed, run.summary()
    assert run.changed == 0, run.summary()
    assert failing(host) == {}


# -- it works --------------------------------------------------------------------------------------


def test_kerberos_with_a_password_reference(realm: Realm, krb5_env: str, tmp_path: Path) -> None:
    assert_no_op_and_compliant(realm.host(tmp_path, password_file=realm.user["password_file"]))


def test_kerberos_with_a_keytab(realm: Realm, krb5_env: str, tmp_path: Path) -> None:
    assert_no_op_and_compliant(realm.host(tmp_path, keytab_file=realm.user["keytab"]))


def test_kerberos_with_the_users_ticket_cache(realm: Realm, krb5_env: str,
                                              tmp_path: Path) -> None:
    kinit(realm)
    assert_no_op_and_compliant(realm.host(tmp_path))


def test_ntlm_keeps_working_on_the_same_host(realm: Realm) -> None:
    assert failing(load_inventory(realm.inventory).host("sandbox")) == {}


def test_clock_skewed_past_five_minutes(realm: Realm, krb5_env: str, tmp_path: Path) -> None:
    """This machine's clock 10 minutes ahead (libfaketime): facts and doctor say so, exit 2/1."""
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.fail("faketime is not installed: apt-get install faketime (bootstrap.sh does it)")
    path = realm.write(tmp_path, password_file=realm.user["password_file"])
    root = Path(__file__).resolve().parents[2]
    outcome = {}
    for task in ("facts", "doctor"):
        run = subprocess.run(
            [faketime, "-f", "+10m", sys.executable, "-c",
             f"import sys, tacfleet_cli as cli; sys.exit(cli.{task}({str(path)!r}, 'sandbox'))"],
            cwd=root, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": str(root)})
        outcome[task] = (run.returncode, run.stdout + run.stderr)
    code, text = outcome["facts"]
    assert code == cli.EXIT_UNCHECKED and "Traceback" not in text, text
    assert "allowed skew, 5 minutes" in text and "fix: synchronise the clocks" in text
    code, text = outcome["doctor"]
    assert code == cli.EXIT_FAILED, text
    assert "[FAIL] kerberos: the host's clock differs from this machine's by -6" in text


def credssp_inventory(realm: Realm, folder: Path, password_file: str | None = None) -> Path:
    """The host over HTTP with CredSSP (NTLM inside, messages sealed by its TLS session)."""
    password = {"password_file": password_file} if password_file else {}
    return realm.with_connection(folder, {"transport": "credssp", **password})


def test_credssp(realm: Realm, tmp_path: Path) -> None:
    assert_no_op_and_compliant(load_inventory(credssp_inventory(realm, tmp_path))
                               .host("sandbox"))


def test_credssp_wrong_password(realm: Realm, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    line = facts_line(credssp_inventory(realm, tmp_path, str(wrong)), capsys)
    assert "rejected the credentials of user 'tacfleet'" in line


def certificate_inventory(realm: Realm, folder: Path, kind: str = "user") -> Path:
    """The host over HTTPS with certificate authentication (``kind`` of sandbox.pki's certs)."""
    return realm.with_connection(
        folder, {"transport": "certificate", "https": True, "port": realm.info["port"] + 1,
                 "ca_file": realm.info["ca_file"], **realm.info["certificates"][kind]},
        drop=("password_file", "user"))


def test_certificate_authentication_on_https(realm: Realm, tmp_path: Path) -> None:
    assert_no_op_and_compliant(load_inventory(certificate_inventory(realm, tmp_path))
                               .host("sandbox"))


# -- each failure is one line and exit 2 -----------------------------------------------------------


def facts_line(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = cli.facts(str(path), "sandbox")
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_UNCHECKED, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_wrong_password(realm: Realm, krb5_env: str, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    line = facts_line(realm.write(tmp_path, password_file=str(wrong)), capsys)
    assert "KDC refused the key of tacfleet@" in line and "fix: correct the password" in line
    assert "not-the-password" not in line


def test_expired_ticket(realm: Realm, krb5_env: str, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    kinit(realm, lifetime="2s")
    time.sleep(3)
    line = facts_line(realm.write(tmp_path), capsys)
    assert "has expired" in line and "kinit" in line


def test_ticket_for_another_service_is_refused_by_the_host(
        realm: Realm, krb5_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = realm.kerberos["other_service"].split("/", 1)[1].split("@")[0]
    line = facts_line(realm.write(tmp_path, password_file=realm.user["password_file"],
                                  kerberos_hostname_override=other), capsys)
    assert "rejected the Kerberos ticket" in line and "SPN" in line


def test_unknown_spn(realm: Realm, krb5_env: str, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    line = facts_line(realm.write(tmp_path, password_file=realm.user["password_file"],
                                  kerberos_hostname_override="nosuch.sandbox.test"), capsys)
    assert "HTTP/nosuch.sandbox.test@" in line and "not found in Kerberos database" in line


def test_no_kdc_answers(realm: Realm, krb5_env: str, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    conf = Path(realm.kerberos["krb5_conf"]).read_text()
    (tmp_path / "krb5.conf").write_text(conf.replace(realm.kerberos["kdc"], f"127.0.0.1:{dead}"))
    monkeypatch.setenv("KRB5_CONFIG", str(tmp_path / "krb5.conf"))
    line = facts_line(realm.write(tmp_path, password_file=realm.user["password_file"]), capsys)
    assert "no KDC answers" in line and "fix: start the KDC" in line


@pytest.mark.parametrize("kind, says", [
    ("expired", "expired on"),
    ("revoked", "refused the client certificate in the TLS handshake"),
    ("unknown_ca", "refused the client certificate in the TLS handshake"),
])
def test_bad_client_certificate(realm: Realm, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str], kind: str, says: str) -> None:
    line = facts_line(certificate_inventory(realm, tmp_path, kind), capsys)
    assert says in line and "fix: " in line


# -- invoke doctor names the failing layer ---------------------------------------------------------


def doctor(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    """Exit code and {layer: its line} of ``invoke doctor`` on the host."""
    code = cli.doctor(str(path), "sandbox")
    out = capsys.readouterr().out
    assert "Traceback" not in out
    lines = [line.strip() for line in out.splitlines()[1:]]
    return code, {line.split("] ", 1)[1].split(":", 1)[0]: line for line in lines}


def dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_doctor_on_a_healthy_host(realm: Realm, krb5_env: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, layers = doctor(realm.write(tmp_path, password_file=realm.user["password_file"]),
                          capsys)
    assert code == 0, layers
    assert layers["kerberos"].startswith("[  ok]") and "HTTP/" in layers["kerberos"]
    assert layers["base python"].startswith("[  ok]") and "Python 3.11" in layers["base python"]
    assert not [line for line in layers.values() if "FAIL" in line]


@pytest.mark.parametrize("case, layer, says", [
    ("listener down", "tcp", "nothing accepts TCP"),
    ("wrong password", "authentication", "rejected the credentials"),
    ("untrusted certificate", "tls", "not trusted"),
    ("KDC stopped", "kerberos", "no KDC answers"),
])
def test_doctor_names_the_failing_layer(realm: Realm, krb5_env: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str],
                                        case: str, layer: str, says: str) -> None:
    data = yaml.safe_load(realm.inventory.read_text(encoding="utf-8"))
    conn = data["hosts"]["sandbox"]["connection"]
    path = tmp_path / "hosts.yml"
    if case == "listener down":
        conn["port"] = dead_port()
    elif case == "wrong password":
        wrong = tmp_path / "wrong"
        wrong.write_text("not-the-password\n")
        wrong.chmod(0o600)
        conn["password_file"] = str(wrong)
    elif case == "untrusted certificate":
        conn.update(https=True, port=conn["port"] + 1)
    if case == "KDC stopped":
        from sandbox import control

        path = realm.write(tmp_path, password_file=realm.user["password_file"])
        control.kdc_stop(realm.info["name"])
        try:
            code, layers = doctor(path, capsys)
        finally:
            control.kdc_start(realm.info["name"])
        assert doctor(path, capsys)[0] == 0  # the KDC is back: the next test finds it
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        code, layers = doctor(path, capsys)
    assert code == cli.EXIT_FAILED, layers
    failed = [name for name, line in layers.items() if line.startswith("[FAIL]")]
    assert failed == [layer], layers
    assert says in layers[layer] and "; fix: " in layers[layer]
