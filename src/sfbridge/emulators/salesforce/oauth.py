"""The emulated org's OAuth 2.0 server, External Client App model.

``AuthService`` is the one entry point: it registers apps, sets passwords,
creates the default credentials the server banner shows, answers "which
session is this bearer token?" for every API request, and supplies the
login routes:

- ``POST /services/oauth2/token`` and ``/services/oauth2/revoke`` (``oauth_token.py``);
- ``/services/oauth2/authorize``, a login page a browser can complete (``oauth_pages.py``);
- ``/services/oauth2/userinfo`` and ``GET /id/{orgId}/{userId}`` (``identity.py``);
- ``POST /services/Soap/u/{version}``, the partner API ``login()`` (``soap_login.py``).

Every route is served a second time under ``/sandbox`` as a sandbox login
(``login_hosts.py``). Apps, passwords and tokens live in the org's SQLite
database (``credentials.py``), so a restart on the same data dir keeps them.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from starlette.routing import BaseRoute, Route

from .credentials import (
    ALL_FLOWS,
    APP_SCOPES,
    App,
    CredentialStore,
    Flow,
    Grant,
    Session,
    random_text,
)
from .identity import IdentityService
from .login_hosts import SANDBOX_NAME, SANDBOX_PATH_PREFIX
from .oauth_pages import AuthorizePage
from .oauth_token import TokenEndpoint
from .org import ADMIN_USERNAME, INTEGRATION_USERNAME, Org, UserInfo
from .soap_login import SoapLogin

__all__ = [
    "ALL_FLOWS",
    "DEFAULT_APP_NAME",
    "DEFAULT_CALLBACK_URLS",
    "JWT_KEY_FILE_NAME",
    "SANDBOX_NAME",
    "App",
    "AuthService",
    "DefaultCredentials",
    "Flow",
    "Session",
]

DEFAULT_APP_NAME = "sfbridge"
DEFAULT_CALLBACK_URLS = ("http://localhost:1717/OauthRedirect", "http://127.0.0.1:*")
"""The Salesforce CLI's callback, and any port on the IPv4 loopback address."""
JWT_KEY_FILE_NAME = "jwt_private_key.pem"

_MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class DefaultCredentials:
    """Ready-made credentials for the default app and the admin user."""

    client_id: str
    client_secret: str = field(repr=False)
    username: str
    password: str = field(repr=False)
    security_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    """A live refresh token of the admin user for the default app."""
    jwt_key_file: Path | None
    """PEM private key (mode 0600) whose certificate the default app holds; None in memory."""
    jwt_private_key_pem: bytes = field(repr=False)
    """The same key as bytes (the only copy for an in-memory org)."""


class AuthService:
    """Apps, passwords, tokens and login routes of one emulated org."""

    def __init__(self, org: Org, data_dir: Path | None) -> None:
        self._org = org
        self._data_dir = data_dir
        self._credentials = CredentialStore(org)
        self._defaults_lock = threading.Lock()

    # -- administration -------------------------------------------------------

    def register_app(
        self,
        *,
        name: str,
        client_id: str | None = None,
        client_secret: str | None = None,
        callback_urls: Sequence[str] = DEFAULT_CALLBACK_URLS,
        flows: Iterable[str] = ALL_FLOWS,
        rotate_refresh_tokens: bool = False,
        certificate_pem: bytes | None = None,
        run_as_username: str = ADMIN_USERNAME,
    ) -> App:
        """Create (or, for an existing ``client_id``, replace) an External Client App.

        ``flows`` holds grant types (``Flow`` values); ``run_as_username`` is
        the user the client credentials flow runs as; ``certificate_pem`` is
        the X.509 certificate that verifies JWT bearer assertions.
        """
        flow_set = frozenset(flows)
        unknown = flow_set - ALL_FLOWS
        if unknown:
            raise ValueError(
                f"unknown flows {sorted(unknown)}; known flows: {', '.join(sorted(ALL_FLOWS))}"
            )
        for url in callback_urls:
            if not (urlsplit(url).scheme and urlsplit(url).netloc):
                raise ValueError(f"callback URL {url!r} must be absolute (scheme://host/...)")
        if certificate_pem is not None:
            try:
                x509.load_pem_x509_certificate(certificate_pem)
            except ValueError as error:
                raise ValueError(f"the certificate of app {name!r} is not PEM X.509") from error
        app = App(
            name=name,
            # Consumer keys start with 3MVG9 and secrets are 64 hex digits in real orgs.
            client_id=client_id or "3MVG9" + random_text(80),
            client_secret=client_secret or secrets.token_hex(32).upper(),
            callback_urls=tuple(callback_urls),
            flows=flow_set,
            rotate_refresh_tokens=rotate_refresh_tokens,
            certificate_pem=certificate_pem,
            run_as_username=run_as_username,
        )
        self._credentials.save_app(app)
        return app

    def set_password(self, username: str, password: str) -> None:
        """Set the password of the user called ``username`` (the org username, no suffix)."""
        user = self._org.user(username=username)
        if user is None:
            raise LookupError(f"the org has no user named {username!r}")
        self._credentials.set_password(user.id, password)
        # Keep the banner truthful when the default user's password changes.
        if self._credentials.defaults().get("username", "").lower() == user.username.lower():
            self._credentials.save_defaults({"password": password})

    def ensure_defaults(self) -> DefaultCredentials:
        """Create the default app, passwords, JWT key and refresh token once; return them.

        Idempotent: later calls (and restarts on the same data dir) return
        the same values, minting a new refresh token only if the stored one
        was revoked.
        """
        with self._defaults_lock:
            stored = self._credentials.defaults()
            key_pem, key_file = self._jwt_key(stored)
            app = self._credentials.app(stored.get("client_id", ""))
            if app is None or not _certificate_matches(app.certificate_pem, key_pem):
                app = self.register_app(
                    name=DEFAULT_APP_NAME,
                    client_id=app.client_id if app else None,
                    client_secret=app.client_secret if app else None,
                    certificate_pem=_self_signed_certificate(key_pem),
                )
            admin = self._user(ADMIN_USERNAME)
            password = stored.get("password") or random_text(16)
            if "password" not in stored:
                self._credentials.set_password(admin.id, password)
            integration = self._user(INTEGRATION_USERNAME)
            if self._credentials.security_token(integration.id) is None:
                self._credentials.set_password(integration.id, password)
            refresh_token = stored.get("refresh_token", "")
            if not refresh_token or self._credentials.refresh_grant(refresh_token) is None:
                grant = Grant(app.client_id, admin.id, " ".join(APP_SCOPES), sandbox=False)
                refresh_token = self._credentials.new_refresh_token(grant)
            values = {
                "client_id": app.client_id,
                "username": admin.username,
                "password": password,
                "refresh_token": refresh_token,
            }
            if key_file is None:
                values["jwt_private_key_pem"] = key_pem.decode()
            self._credentials.save_defaults(values)
            security_token = self._credentials.security_token(admin.id)
            assert security_token is not None  # set together with the password above
            return DefaultCredentials(
                client_id=app.client_id,
                client_secret=app.client_secret,
                username=admin.username,
                password=password,
                security_token=security_token,
                refresh_token=refresh_token,
                jwt_key_file=key_file,
                jwt_private_key_pem=key_pem,
            )

    def _user(self, username: str) -> UserInfo:
        user = self._org.user(username=username)
        if user is None:
            raise LookupError(f"the org has no user named {username!r}")
        return user

    def _jwt_key(self, stored: dict[str, str]) -> tuple[bytes, Path | None]:
        """The default app's private key (PEM) and its file, created on first use."""
        if self._data_dir is None:
            pem = stored.get("jwt_private_key_pem")
            return (pem.encode() if pem else _new_private_key()), None
        path = self._data_dir / JWT_KEY_FILE_NAME
        if path.exists():
            return path.read_bytes(), path
        key_pem = _new_private_key()
        # Create with mode 0600 from the start: the key is never world-readable.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key_pem)
        return key_pem, path

    # -- sessions -------------------------------------------------------------

    def session_for_token(self, access_token: str) -> Session | None:
        """The session of a bearer token; None when unknown, revoked or expired.

        Expired means ``issued_at + org.faults.settings.session_lifetime_seconds``
        is before the org clock's now (no lifetime: never). Answers from
        memory after the first lookup of each token.
        """
        active = self._credentials.active(access_token)
        return active.session if active else None

    def expire_all_sessions(self) -> int:
        """Invalidate every access token (refresh tokens stay valid); returns how many."""
        return self._credentials.expire_all_access_tokens()

    # -- HTTP -----------------------------------------------------------------

    def routes(self, instance_url: Callable[[], str]) -> list[BaseRoute]:
        """The login routes, each also under ``/sandbox``.

        ``instance_url()`` is the https URL the server is reachable at, without
        a trailing slash.
        """
        tokens = TokenEndpoint(self._org, self._credentials, instance_url)
        pages = AuthorizePage(self._credentials, instance_url)
        identity = IdentityService(self._org, self._credentials, instance_url)
        soap = SoapLogin(self._org, self._credentials, instance_url)
        table = [
            ("/services/oauth2/token", tokens.token, ["POST"]),
            ("/services/oauth2/revoke", tokens.revoke, ["GET", "POST"]),
            ("/services/oauth2/authorize", pages.authorize, ["GET", "POST"]),
            ("/services/oauth2/userinfo", identity.userinfo, ["GET", "POST"]),
            ("/id/{org_id}/{user_id}", identity.identity, ["GET"]),
            ("/services/Soap/u/{version}", soap.login, ["POST"]),
        ]
        return [
            Route(prefix + path, endpoint, methods=methods, max_body_size=_MAX_BODY_BYTES)
            for prefix in ("", SANDBOX_PATH_PREFIX)
            for path, endpoint, methods in table
        ]


def _new_private_key() -> bytes:
    # Salesforce wants RSA keys of at least 2048 bits for JWT certificates.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _self_signed_certificate(key_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sfbridge emulator JWT signing")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _certificate_matches(certificate_pem: bytes | None, key_pem: bytes) -> bool:
    if certificate_pem is None:
        return False
    key = serialization.load_pem_private_key(key_pem, password=None)
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return certificate.public_key().public_bytes(
        serialization.Encoding.PEM, spki
    ) == key.public_key().public_bytes(serialization.Encoding.PEM, spki)
