"""The org's OAuth credentials in SQLite: apps, passwords, codes and tokens.

Tables (created here, in the org's database, so they survive a restart):

- ``_apps``: External Client Apps (consumer key and secret, callbacks, flows);
- ``_oauth_passwords``: salted PBKDF2 password hashes and security tokens, per user id;
- ``_oauth_codes``, ``_oauth_refresh_tokens``, ``_oauth_access_tokens``:
  what each code or token stands for, keyed by the SHA-256 digest of the
  token, so these tables never hold a usable token;
- ``_oauth_defaults``: the generated default credentials, in the clear
  because the server banner shows them on every start.

Client secrets are kept in the clear: the token response ``signature`` is
an HMAC keyed on them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from .org import Org, UserInfo

CODE_LIFETIME_SECONDS = 15 * 60
"""Authorization codes expire after 15 minutes (Salesforce Help, "OAuth 2.0 Web Server Flow")."""

APP_SCOPES = ("api", "refresh_token")
"""The OAuth scopes every emulated app is configured with."""

# Enough to keep passwords out of the clear in a local emulator's database,
# few enough that a login costs milliseconds.
_PASSWORD_ITERATIONS = 20_000
_ALPHANUMERIC = string.ascii_letters + string.digits
_TOKEN_ALPHABET = _ALPHANUMERIC + "._"


class Flow(StrEnum):
    """The OAuth flows an app can enable; values are the token endpoint's ``grant_type``."""

    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"
    JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    PASSWORD = "password"


ALL_FLOWS: frozenset[str] = frozenset(Flow)


def random_text(length: int, alphabet: str = _ALPHANUMERIC) -> str:
    """A cryptographically random string of ``length`` characters from ``alphabet``."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PASSWORD_ITERATIONS)


@dataclass(frozen=True)
class App:
    """An External Client App: who may ask for tokens, how, and where codes may go."""

    name: str
    client_id: str
    client_secret: str = field(repr=False)
    callback_urls: tuple[str, ...]
    flows: frozenset[str]
    rotate_refresh_tokens: bool
    certificate_pem: bytes | None = field(repr=False)
    run_as_username: str

    def allows(self, flow: Flow) -> bool:
        """True when ``flow`` is enabled for this app."""
        return flow.value in self.flows

    def accepts_callback(self, uri: str) -> bool:
        """True when ``uri`` is a registered callback.

        A registered URL whose port is ``*`` (``http://127.0.0.1:*``) accepts
        any port, as native apps on a loopback address need (RFC 8252 §7.3);
        without a path it accepts any path.
        """
        return any(_callback_matches(pattern, uri) for pattern in self.callback_urls)


def _callback_matches(pattern: str, uri: str) -> bool:
    if pattern == uri:
        return True
    registered = urlsplit(pattern)
    if not registered.netloc.endswith(":*"):
        return False
    actual = urlsplit(uri)
    try:
        port = actual.port
    except ValueError:
        return False
    return (
        port is not None
        and actual.scheme == registered.scheme
        and actual.hostname == registered.hostname
        and registered.path in {"", "/", actual.path}
        and not actual.fragment
    )


@dataclass(frozen=True)
class Session:
    """What a valid bearer token means: who, through which app, since when."""

    access_token: str
    user: UserInfo
    client_id: str
    """The app's consumer key; empty for a SOAP ``login()`` session, which has no app."""
    issued_at: float
    """Epoch seconds, org clock."""


@dataclass(frozen=True)
class Grant:
    """What a code or token stands for: a user's consent to an app, with scopes."""

    client_id: str
    user_id: str
    scope: str
    sandbox: bool


@dataclass(frozen=True)
class ActiveToken:
    """A live access token with the facts the session does not carry."""

    session: Session
    grant: Grant


@dataclass(frozen=True)
class PendingCode:
    """A redeemed authorization code and what the authorize step bound it to."""

    grant: Grant
    redirect_uri: str
    code_challenge: str


class CredentialStore:
    """Apps, passwords, codes and tokens of one org, with an in-memory token cache."""

    def __init__(self, org: Org) -> None:
        self._org = org
        self._store = org.store
        self._lock = threading.Lock()
        self._cache: dict[str, ActiveToken] = {}
        for statement in (
            "CREATE TABLE IF NOT EXISTS _apps (client_id TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "client_secret TEXT NOT NULL, callback_urls TEXT NOT NULL, flows TEXT NOT NULL, "
            "rotate_refresh_tokens INTEGER NOT NULL, certificate_pem TEXT, "
            "run_as_username TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS _oauth_passwords (user_id TEXT PRIMARY KEY, "
            "salt BLOB NOT NULL, hash BLOB NOT NULL, security_token TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS _oauth_codes (digest TEXT PRIMARY KEY, client_id TEXT, "
            "user_id TEXT, scope TEXT, sandbox INTEGER, redirect_uri TEXT, code_challenge TEXT, "
            "issued_at REAL)",
            "CREATE TABLE IF NOT EXISTS _oauth_refresh_tokens (digest TEXT PRIMARY KEY, "
            "client_id TEXT, user_id TEXT, scope TEXT, sandbox INTEGER, issued_at REAL)",
            "CREATE TABLE IF NOT EXISTS _oauth_access_tokens (digest TEXT PRIMARY KEY, "
            "client_id TEXT, user_id TEXT, scope TEXT, sandbox INTEGER, issued_at REAL, "
            "refresh_digest TEXT)",
            "CREATE INDEX IF NOT EXISTS ix_oauth_access_refresh "
            "ON _oauth_access_tokens (refresh_digest)",
            "CREATE TABLE IF NOT EXISTS _oauth_defaults "
            "(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ):
            self._store.execute(statement)

    def now(self) -> float:
        """Org clock time in epoch seconds (tests move it with ``org.store.clock.advance``)."""
        return self._store.clock.now().timestamp()

    # -- apps -----------------------------------------------------------------

    def save_app(self, app: App) -> None:
        """Create or replace the app with ``app.client_id``."""
        self._store.execute(
            "INSERT OR REPLACE INTO _apps (client_id, name, client_secret, callback_urls, flows, "
            "rotate_refresh_tokens, certificate_pem, run_as_username) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                app.client_id,
                app.name,
                app.client_secret,
                json.dumps(list(app.callback_urls)),
                json.dumps(sorted(app.flows)),
                int(app.rotate_refresh_tokens),
                app.certificate_pem.decode() if app.certificate_pem else None,
                app.run_as_username,
            ),
        )

    def app(self, client_id: str) -> App | None:
        """The app whose consumer key is ``client_id``, or None."""
        rows = self._store.execute(
            "SELECT name, client_secret, callback_urls, flows, rotate_refresh_tokens, "
            "certificate_pem, run_as_username FROM _apps WHERE client_id = ?",
            (client_id,),
        )
        if not rows:
            return None
        name, secret, callbacks, flows, rotate, certificate, run_as = rows[0]
        return App(
            name=name,
            client_id=client_id,
            client_secret=secret,
            callback_urls=tuple(json.loads(callbacks)),
            flows=frozenset(json.loads(flows)),
            rotate_refresh_tokens=bool(rotate),
            certificate_pem=certificate.encode() if certificate else None,
            run_as_username=run_as,
        )

    # -- passwords ------------------------------------------------------------

    def set_password(self, user_id: str, password: str) -> None:
        """Set a user's password; the user's security token is kept (or created)."""
        salt = secrets.token_bytes(16)
        self._store.execute(
            "INSERT INTO _oauth_passwords (user_id, salt, hash, security_token) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(user_id) "
            "DO UPDATE SET salt = excluded.salt, hash = excluded.hash",
            (user_id, salt, _hash_password(password, salt), random_text(24)),
        )

    def security_token(self, user_id: str) -> str | None:
        """The user's security token, or None when the user has no password."""
        rows = self._store.execute(
            "SELECT security_token FROM _oauth_passwords WHERE user_id = ?", (user_id,)
        )
        return str(rows[0][0]) if rows else None

    def check_password(self, user_id: str, supplied: str) -> bool:
        """True when ``supplied`` is the password, or the password followed by the security token.

        Outside trusted IP ranges Salesforce wants the token appended to the
        password (SOAP API Developer Guide, "login()"); the emulator trusts
        every address, so the bare password works too.
        """
        rows = self._store.execute(
            "SELECT salt, hash, security_token FROM _oauth_passwords WHERE user_id = ?", (user_id,)
        )
        if not rows:
            return False
        salt, stored, token = rows[0]
        candidates = [supplied]
        if supplied.endswith(token):
            candidates.append(supplied[: -len(token)])
        return any(hmac.compare_digest(_hash_password(c, salt), stored) for c in candidates)

    def authenticate(self, username: str | None, password: str) -> UserInfo | None:
        """The user with this org username and password (security token optional), or None."""
        user = self._org.user(username=username) if username else None
        if user is None or not self.check_password(user.id, password):
            return None
        return user

    # -- authorization codes --------------------------------------------------

    def new_code(self, grant: Grant, redirect_uri: str, code_challenge: str) -> str:
        """Issue a single-use authorization code (``aPrx…``, the prefix real codes carry)."""
        code = "aPrx" + random_text(60)
        self._store.execute(
            "INSERT INTO _oauth_codes (digest, client_id, user_id, scope, sandbox, redirect_uri, "
            "code_challenge, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (_digest(code), *_grant_values(grant), redirect_uri, code_challenge, self.now()),
        )
        return code

    def take_code(self, code: str) -> PendingCode | None:
        """Redeem ``code`` (it is gone afterwards); None when unknown, used or expired."""
        digest = _digest(code)
        with self._store.transaction() as connection:
            row = connection.execute(
                "SELECT client_id, user_id, scope, sandbox, redirect_uri, code_challenge, "
                "issued_at FROM _oauth_codes WHERE digest = ?",
                (digest,),
            ).fetchone()
            connection.execute("DELETE FROM _oauth_codes WHERE digest = ?", (digest,))
        if row is None or row[6] + CODE_LIFETIME_SECONDS < self.now():
            return None
        return PendingCode(_grant(row[:4]), row[4], row[5])

    # -- refresh tokens -------------------------------------------------------

    def new_refresh_token(self, grant: Grant) -> str:
        """Issue a refresh token (``5Aep861…``, the prefix real refresh tokens carry)."""
        token = "5Aep861" + random_text(80, _TOKEN_ALPHABET)
        self._store.execute(
            "INSERT INTO _oauth_refresh_tokens (digest, client_id, user_id, scope, sandbox, "
            "issued_at) VALUES (?, ?, ?, ?, ?, ?)",
            (_digest(token), *_grant_values(grant), self.now()),
        )
        return token

    def refresh_grant(self, token: str) -> Grant | None:
        """What a live refresh token stands for, or None."""
        rows = self._store.execute(
            "SELECT client_id, user_id, scope, sandbox FROM _oauth_refresh_tokens WHERE digest = ?",
            (_digest(token),),
        )
        return _grant(rows[0]) if rows else None

    def rotate_refresh_token(self, token: str, grant: Grant) -> str | None:
        """Replace ``token`` by a new one; None when another request already rotated it."""
        with self._store.transaction() as connection:
            deleted = connection.execute(
                "DELETE FROM _oauth_refresh_tokens WHERE digest = ?", (_digest(token),)
            ).rowcount
            return self.new_refresh_token(grant) if deleted else None

    # -- access tokens --------------------------------------------------------

    def new_access_token(self, grant: Grant, refresh_token: str | None = None) -> Session:
        """Issue an access token (``<org id>!A…``, the shape of a real session id)."""
        user = self._org.user(user_id=grant.user_id)
        if user is None:
            raise LookupError(f"no user with id {grant.user_id!r}")
        token = f"{self._org.org_id[:15]}!A" + random_text(96, _TOKEN_ALPHABET)
        session = Session(token, user, grant.client_id, self.now())
        with self._store.lock, self._lock:
            self._store.execute(
                "INSERT INTO _oauth_access_tokens (digest, client_id, user_id, scope, sandbox, "
                "issued_at, refresh_digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _digest(token),
                    *_grant_values(grant),
                    session.issued_at,
                    _digest(refresh_token) if refresh_token else None,
                ),
            )
            self._cache[_digest(token)] = ActiveToken(session, grant)
        return session

    def active(self, access_token: str) -> ActiveToken | None:
        """The live token, or None when unknown, revoked or past the org's session lifetime."""
        digest = _digest(access_token)
        with self._lock:
            found = self._cache.get(digest)
        if found is None:
            # Locks are always taken store first, then cache, so that a
            # revocation (which holds both) cannot interleave with this load.
            with self._store.lock, self._lock:
                found = self._cache.get(digest) or self._load(access_token, digest)
                if found is None:
                    return None
                self._cache[digest] = found
        lifetime = self._org.faults.settings.session_lifetime_seconds
        if lifetime is not None and found.session.issued_at + lifetime < self.now():
            return None
        return found

    def _load(self, access_token: str, digest: str) -> ActiveToken | None:
        rows = self._store.execute(
            "SELECT client_id, user_id, scope, sandbox, issued_at FROM _oauth_access_tokens "
            "WHERE digest = ?",
            (digest,),
        )
        if not rows:
            return None
        grant = _grant(rows[0][:4])
        user = self._org.user(user_id=grant.user_id)
        if user is None:
            return None
        return ActiveToken(Session(access_token, user, grant.client_id, rows[0][4]), grant)

    def revoke(self, token: str) -> bool:
        """Revoke an access token, or a refresh token and the access tokens issued from it.

        Returns False when ``token`` is neither (Salesforce Help, "Revoke OAuth
        Tokens Programmatically").
        """
        digest = _digest(token)
        with self._store.transaction() as connection, self._lock:
            if connection.execute(
                "DELETE FROM _oauth_access_tokens WHERE digest = ?", (digest,)
            ).rowcount:
                self._cache.pop(digest, None)
                return True
            if not connection.execute(
                "DELETE FROM _oauth_refresh_tokens WHERE digest = ?", (digest,)
            ).rowcount:
                return False
            issued = connection.execute(
                "SELECT digest FROM _oauth_access_tokens WHERE refresh_digest = ?", (digest,)
            ).fetchall()
            connection.execute(
                "DELETE FROM _oauth_access_tokens WHERE refresh_digest = ?", (digest,)
            )
            for (access_digest,) in issued:
                self._cache.pop(access_digest, None)
            return True

    def expire_all_access_tokens(self) -> int:
        """Delete every access token; returns how many there were."""
        with self._store.transaction() as connection, self._lock:
            count = connection.execute("DELETE FROM _oauth_access_tokens").rowcount
            self._cache.clear()
        return int(count)

    # -- generated defaults ---------------------------------------------------

    def defaults(self) -> dict[str, str]:
        """The stored default credentials (empty before the first ``ensure_defaults``)."""
        return {
            str(k): str(v) for k, v in self._store.execute("SELECT key, value FROM _oauth_defaults")
        }

    def save_defaults(self, values: dict[str, str]) -> None:
        """Store (or overwrite) default credential values."""
        for key, value in values.items():
            self._store.execute(
                "INSERT OR REPLACE INTO _oauth_defaults (key, value) VALUES (?, ?)", (key, value)
            )


def _grant_values(grant: Grant) -> tuple[str, str, str, int]:
    return grant.client_id, grant.user_id, grant.scope, int(grant.sandbox)


def _grant(row: tuple[object, ...]) -> Grant:
    client_id, user_id, scope, sandbox = row
    return Grant(str(client_id), str(user_id), str(scope), bool(sandbox))
