"""Client certificates for the sandbox's HTTPS listener, as WinRM's certificate mapping uses them.

Made once per host in ``<state>/pki/`` at start-up:

- ``client-ca.pem``/``.key`` — the CA the listener trusts for client certificates (Windows: the
  issuer of a ``winrm/config/service/certmapping`` entry, in the machine's Trusted Root store);
- ``<user>.pem``/``.key`` — the user's certificate: Client Authentication EKU and the UPN
  ``<user>@localhost`` in the subject alternative name, which the mapping matches (Microsoft:
  "Configure WinRM for HTTPS / certificate mapping");
- ``<user>-expired.pem``, ``<user>-revoked.pem`` (listed in ``crl.pem``) and ``stranger.pem``
  (signed by a CA the listener does not trust), each with its ``.key``, for the failure tests.

Private keys are 0600. The listener validates chain, expiry and revocation in the TLS handshake
(``client_context``) and maps the certificate's UPN to the user (``mapped_user``).
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

#: szOID_NT_PRINCIPAL_NAME: the UPN in a subject alternative name's otherName.
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
MUTUAL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _der_utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 128
    return bytes([0x0C, len(data)]) + data


def _save(folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    fd = os.open(folder / f"{stem}.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    (folder / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _ca(cn: str, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _client(user: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
            not_before: dt.datetime, not_after: dt.datetime,
            ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    upn = x509.OtherName(UPN_OID, _der_utf8(f"{user}@localhost"))
    cert = (x509.CertificateBuilder().subject_name(_name(user)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([upn]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def ensure_pki(folder: Path, user: str) -> Path:
    """Make the client CA, the user's certificates and the CRL once; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    if (folder / "crl.pem").exists():
        return folder
    now = dt.datetime.now(dt.UTC)
    ca, ca_key = _ca("tacfleet sandbox client CA", now)
    _save(folder, "client-ca", ca, ca_key)
    year = dt.timedelta(days=365)
    good = _client(user, ca, ca_key, now - dt.timedelta(minutes=5), now + year)
    _save(folder, user, *good)
    expired = _client(user, ca, ca_key, now - 2 * year, now - dt.timedelta(days=1))
    _save(folder, f"{user}-expired", *expired)
    revoked = _client(user, ca, ca_key, now - dt.timedelta(minutes=5), now + year)
    _save(folder, f"{user}-revoked", *revoked)
    stranger_ca, stranger_key = _ca("someone else's CA", now)
    _save(folder, "stranger", *_client(user, stranger_ca, stranger_key,
                                       now - dt.timedelta(minutes=5), now + year))
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(now - dt.timedelta(minutes=5)).next_update(now + year)
           .add_revoked_certificate(x509.RevokedCertificateBuilder()
                                    .serial_number(revoked[0].serial_number)
                                    .revocation_date(now - dt.timedelta(minutes=1)).build())
           .sign(ca_key, hashes.SHA256()))
    (folder / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return folder


def client_context(context: ssl.SSLContext, folder: Path) -> bool:
    """Ask for a client certificate on ``context`` when ``folder`` holds a client CA: chain,
    expiry and revocation (CRL) are checked in the handshake. Returns whether it did."""
    ca = folder / "client-ca.pem"
    if not ca.exists():
        return False
    context.verify_mode = ssl.CERT_OPTIONAL  # NTLM/Basic clients send none
    context.load_verify_locations(cafile=str(ca))
    context.load_verify_locations(cafile=str(folder / "crl.pem"))
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return True


def mapped_user(der: bytes | None) -> str | None:
    """The user a (handshake-validated) client certificate maps to: its UPN's name part, when
    the certificate allows client authentication; ``None`` otherwise."""
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        return None
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == UPN_OID and other.value[:1] == b"\x0c":
            return other.value[2:].decode("utf-8", "replace").partition("@")[0]
    return None
