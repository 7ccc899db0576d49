"""The emulator's TLS files: a local CA made once per data dir and a server certificate.

Clients hard-code ``https://`` and the Salesforce login hosts (reference
salesforce-api.md §0), so the emulator serves TLS with a certificate whose
names cover the loopback addresses and ``*.salesforce.com``. Clients trust it
through ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` pointing at ``ca.pem``.

The CA is reused for as long as it is valid, so a client configured once keeps
working across restarts; the server certificate is reissued whenever it is
missing, expiring, signed by another CA or lacking one of the names below.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_DNS_NAMES = (
    "localhost",
    "login.salesforce.com",
    "test.salesforce.com",
    "*.salesforce.com",
    "*.my.salesforce.com",
    "*.sandbox.my.salesforce.com",
)
"""Host names the server certificate is valid for (a wildcard covers one label)."""

SERVER_IP_ADDRESSES = ("127.0.0.1", "::1")
"""Addresses the server certificate is valid for."""

_CA_NAME = "sfbridge local emulator CA"
_CA_LIFETIME = timedelta(days=3650)
_SERVER_LIFETIME = timedelta(days=397)  # the longest browsers accept
# Reissue a server certificate this close to expiry, so a running emulator
# started today does not stop verifying tomorrow.
_RENEW_BEFORE = timedelta(days=7)
# Backdated validity absorbs clock skew between the emulator and its clients.
_BACKDATE = timedelta(days=1)


@dataclass(frozen=True)
class TlsFiles:
    """Where the CA bundle clients trust, and the server's certificate and key, are."""

    ca_bundle: Path
    cert_file: Path
    key_file: Path


def ensure_tls(data_dir: Path | None) -> TlsFiles:
    """The TLS files of ``data_dir``, created or renewed as needed (a temp dir when None).

    ``ca.pem`` / ``ca-key.pem`` are made once and reused while valid;
    ``server.pem`` / ``server-key.pem`` are reissued when they would not verify.
    Private keys are written with mode 0600.
    """
    directory = data_dir if data_dir is not None else Path(tempfile.mkdtemp(prefix="sfbridge-tls-"))
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca_bundle=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server-key.pem",
    )
    ca_key_file = directory / "ca-key.pem"
    now = datetime.now(UTC)
    loaded_ca = _load_ca(files.ca_bundle, ca_key_file, now)
    if loaded_ca is None:
        ca_cert, ca_key = _issue_ca(now)
        _write(ca_key_file, _key_pem(ca_key), private=True)
        _write(files.ca_bundle, ca_cert.public_bytes(serialization.Encoding.PEM))
    else:
        ca_cert, ca_key = loaded_ca
    if not _server_valid(files, ca_cert, now):
        cert, key = _issue_server(ca_cert, ca_key, now)
        # The key goes first: a certificate on disk always has its key.
        _write(files.key_file, _key_pem(key), private=True)
        _write(files.cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return files


def _load_ca(
    cert_file: Path, key_file: Path, now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The CA on disk when it is complete, current and its key matches; otherwise None."""
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc - _RENEW_BEFORE:
        return None
    if cert.public_key() != key.public_key():
        return None
    return cert, key


def _server_valid(files: TlsFiles, ca_cert: x509.Certificate, now: datetime) -> bool:
    """True when the server certificate on disk is current, ours, complete and matches its key."""
    try:
        cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
        key = serialization.load_pem_private_key(files.key_file.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    dns = set(names.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    return (
        cert.not_valid_before_utc <= now < cert.not_valid_after_utc - _RENEW_BEFORE
        and cert.public_key() == key.public_key()
        and dns >= set(SERVER_DNS_NAMES)
        and ips >= set(SERVER_IP_ADDRESSES)
    )


def _issue_ca(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sfbridge"),
            x509.NameAttribute(NameOID.COMMON_NAME, _CA_NAME),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue_server(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_DNS_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IP_ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "login.salesforce.com")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + _SERVER_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` atomically; a private file is created 0600, never readable by others."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644
    )
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
