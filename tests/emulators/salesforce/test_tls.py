"""The emulator's local CA and server certificate."""

from __future__ import annotations

import shutil
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sfbridge.emulators.salesforce.tls import TlsFiles, ensure_tls

TIMEOUT = 5.0


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    """TLS files made in a fresh data dir."""
    return ensure_tls(tmp_path)


@pytest.fixture
def tls_echo_port(tls: TlsFiles) -> Iterator[int]:
    """A loopback TLS server with the emulator's certificate that echoes one line per connection."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # short, so the loop notices `stopping` quickly
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            connection.settimeout(TIMEOUT)
            try:
                with context.wrap_socket(connection, server_side=True) as secure:
                    secure.sendall(secure.recv(1024))
            except (ssl.SSLError, OSError):
                connection.close()  # a client that refused our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stopping.set()
    listener.close()
    thread.join(TIMEOUT)


def handshake(port: int, ca_bundle: Path, server_hostname: str) -> bytes:
    """Connect trusting only ``ca_bundle`` as ``server_hostname``; the echoed bytes."""
    context = ssl.create_default_context(cafile=str(ca_bundle))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as secure,
    ):
        secure.sendall(b"ping\n")
        return secure.recv(1024)


def test_files_are_created_with_private_keys_readable_by_owner_only(
    tls: TlsFiles, tmp_path: Path
) -> None:
    assert tls.ca_bundle == tmp_path / "ca.pem"
    for path in (tls.ca_bundle, tls.cert_file, tls.key_file, tmp_path / "ca-key.pem"):
        assert path.is_file()
    for key in (tls.key_file, tmp_path / "ca-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_existing_files_are_reused(tls: TlsFiles, tmp_path: Path) -> None:
    before = {path: path.read_bytes() for path in tmp_path.iterdir()}
    ensure_tls(tmp_path)
    assert {path: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_server_certificate_names_cover_loopback_and_salesforce(tls: TlsFiles) -> None:
    cert = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) >= {
        "localhost",
        "login.salesforce.com",
        "test.salesforce.com",
        "*.salesforce.com",
        "*.my.salesforce.com",
        "*.sandbox.my.salesforce.com",
    }
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}


def test_expired_server_certificate_is_reissued_by_the_same_ca(
    tls: TlsFiles, tmp_path: Path
) -> None:
    ca_before = tls.ca_bundle.read_bytes()
    ca_cert = x509.load_pem_x509_certificate(ca_before)
    ca_key = serialization.load_pem_private_key(
        (tmp_path / "ca-key.pem").read_bytes(), password=None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    server_key = serialization.load_pem_private_key(tls.key_file.read_bytes(), password=None)
    assert isinstance(server_key, ec.EllipticCurvePrivateKey)
    now = datetime.now(UTC)
    expired = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "old")]))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now - timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    tls.cert_file.write_bytes(expired.public_bytes(serialization.Encoding.PEM))

    ensure_tls(tmp_path)

    renewed = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    assert renewed.not_valid_after_utc > now + timedelta(days=300)
    assert tls.ca_bundle.read_bytes() == ca_before
    renewed.verify_directly_issued_by(ca_cert)


def test_a_damaged_ca_is_replaced_and_the_server_certificate_with_it(
    tls: TlsFiles, tmp_path: Path
) -> None:
    (tmp_path / "ca-key.pem").write_bytes(b"not a key")
    ensure_tls(tmp_path)
    ca_cert = x509.load_pem_x509_certificate(tls.ca_bundle.read_bytes())
    x509.load_pem_x509_certificate(tls.cert_file.read_bytes()).verify_directly_issued_by(ca_cert)
    assert stat.S_IMODE((tmp_path / "ca-key.pem").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "server_hostname", ["login.salesforce.com", "acme.my.salesforce.com", "127.0.0.1", "localhost"]
)
def test_clients_trusting_only_the_ca_verify_the_server(
    tls: TlsFiles, tls_echo_port: int, server_hostname: str
) -> None:
    assert handshake(tls_echo_port, tls.ca_bundle, server_hostname) == b"ping\n"


def test_names_outside_the_certificate_fail_verification(tls: TlsFiles, tls_echo_port: int) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tls_echo_port, tls.ca_bundle, "example.org")


def test_no_data_dir_uses_a_temporary_one() -> None:
    files = ensure_tls(None)
    try:
        assert files.ca_bundle.parent == files.cert_file.parent
        assert files.ca_bundle.is_file() and files.key_file.is_file()
    finally:
        shutil.rmtree(files.ca_bundle.parent)
