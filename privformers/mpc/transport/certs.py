"""Certificates for the three parties: a local CA and one certificate per role (``privformers certs``).

Each party certificate names its role twice: in the subject (OU=<role>, CN=privformers-<role>)
and, authoritatively, in a URI subject alternative name ``urn:privformers:role:<role>`` that
the TLS layer checks. Extended key usage matches what the role does on the wire: the client
only connects (clientAuth), the dealer only listens (serverAuth), the server does both.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROLES = ("client", "server", "dealer")
ROLE_URI = "urn:privformers:role:"
EKU = {"client": [ExtendedKeyUsageOID.CLIENT_AUTH],
       "server": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
       "dealer": [ExtendedKeyUsageOID.SERVER_AUTH]}
DEFAULT_HOSTS = ("localhost", "127.0.0.1")
CERT_FILES = ("ca.pem", "ca-key.pem", *(f"{role}.{ext}" for role in ROLES for ext in ("pem", "key")))


@dataclass(frozen=True)
class PartyFiles:
    """Where one party's certificate, key and the CA certificate are."""

    cert: Path
    key: Path
    ca: Path


def _name(common: str, unit: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "privformers")]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(attrs)


def _san(role: str, hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(ROLE_URI + role)]
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, private: bool) -> None:
    """Write ``path`` anew and atomically, never through a link: a key ends 0600, a certificate 0644.

    The bytes go to a fresh temporary file in the same folder that ``tempfile.mkstemp`` creates with
    ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600 (a key is never readable by others, not even
    briefly). Its mode is then set exactly, whatever the umask; it is flushed to disk and renamed over
    ``path``. The rename replaces whatever ``path`` was (a file, with its old mode and any hard links,
    or a symbolic link) by the new file: no old mode survives a rewrite and nothing is written where a
    link points. A reader sees the old file or the new one, never a half-written one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o600 if private else 0o644)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    with suppress(OSError):  # the rename itself to disk (best effort: not every file system can)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             days: float) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days)))


def make_certs(out: Path, hosts: dict[str, Iterable[str]] | None = None, days: float = 365.0,
               keep_ca_key: bool = True) -> dict[str, PartyFiles]:
    """Write ca.pem (and ca-key.pem) plus <role>.pem / <role>.key for each role into out.

    hosts: extra DNS names or IP addresses per role for the certificate's SAN (default
    localhost and 127.0.0.1); they are informative, the role URI is what peers check.
    """
    out.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"privformers local CA {os.urandom(4).hex()}")
    ca_cert = (_builder(ca_name, ca_name, ca_key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=True, crl_sign=True, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    ca_path = out / "ca.pem"
    _write(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM), private=False)
    if keep_ca_key:
        _write(out / "ca-key.pem", _pem_key(ca_key), private=True)
    files = {}
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        role_hosts = list((hosts or {}).get(role, DEFAULT_HOSTS))
        cert = (_builder(_name(f"privformers-{role}", role), ca_name, key.public_key(), days)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                                             key_cert_sign=False, crl_sign=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage(EKU[role]), critical=False)
                .add_extension(_san(role, role_hosts), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        files[role] = PartyFiles(out / f"{role}.pem", out / f"{role}.key", ca_path)
        _write(files[role].cert, cert.public_bytes(serialization.Encoding.PEM), private=False)
        _write(files[role].key, _pem_key(key), private=True)
    return files


@contextmanager
def ephemeral_certs(days: float = 1.0) -> Iterator[dict[str, PartyFiles]]:
    """A fresh CA and party certificates in a private temporary folder (0700), deleted afterwards.

    The CA key is never written: nobody can issue another certificate for this session's CA."""
    folder = Path(tempfile.mkdtemp(prefix="privformers-tls-"))
    try:
        os.chmod(folder, 0o700)
        yield make_certs(folder, days=days, keep_ca_key=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
