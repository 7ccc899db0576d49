"""Connecting a Salesforce org: log in once, keep the connection, open clients from it.

``connect`` runs one of the OAuth flows, checks the login, and stores a named
connection (secrets encrypted); ``open_client`` builds a ``SalesforceClient``
from a stored connection whose rotated refresh tokens are written back;
``test`` logs in again and reports; ``upgrade`` moves a legacy (password /
Connected App) connection to the External Client App flow in place, so every
sync, cursor and action that names it keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sfbridge.errors import ConfigError
from sfbridge.salesforce import (
    DEFAULT_API_VERSION,
    PRODUCTION_LOGIN_URL,
    SANDBOX_LOGIN_URL,
    ClientCredentialsGrant,
    Grant,
    JwtBearerGrant,
    OAuthSession,
    PasswordGrant,
    RefreshTokenGrant,
    SalesforceClient,
    Tokens,
    authorize_in_browser,
)
from sfbridge.salesforce.http import HttpOptions
from sfbridge.salesforce.limits import ApiBudget
from sfbridge.store import (
    AuthFlow,
    ConnectionKind,
    ConnectionRecord,
    ConnectionStore,
    Environment,
    validate_connection_name,
)

# The loopback callback sfbridge's External Client App registers (RFC 8252 §7.3:
# native apps listen on the loopback interface).
DEFAULT_CALLBACK_PORT = 1717

ECA_INSTRUCTIONS = """\
Before the first login, a Salesforce admin installs sfbridge's External Client App:
  1. In Salesforce Setup, open External Client App Manager and create (or install) an
     app named "sfbridge" with OAuth enabled.
  2. Callback URL: http://127.0.0.1:{port}/callback (the browser returns here).
  3. OAuth scopes: "Manage user data via APIs (api)" and "Perform requests at any time
     (refresh_token, offline_access)". Require PKCE.
  4. Under Policies, choose who may use the app: we suggest an integration user with
     read access to just the objects and fields you want to sync.
  5. Copy the app's Consumer Key; pass it as --client-id.
"""


@dataclass
class ConnectOptions:
    """What ``sfbridge connect salesforce`` was asked to do."""

    name: str
    environment: Environment = Environment.PRODUCTION
    login_url: str | None = None
    flow: AuthFlow = AuthFlow.WEB_SERVER_PKCE
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key_file: Path | None = None
    ca_bundle: Path | None = None
    api_version: str = DEFAULT_API_VERSION
    budget_share: float = 0.2
    callback_port: int = DEFAULT_CALLBACK_PORT
    allow_insecure_local: bool = False


def resolve_login_url(environment: Environment, login_url: str | None) -> str:
    """The login URL of an environment; an explicit URL (My Domain, emulator) wins."""
    if login_url:
        parts = urlsplit(login_url)
        if parts.scheme not in {"https", "http"} or not parts.netloc:
            raise ConfigError(
                f"login URL {login_url!r} is not a URL; use e.g. https://acme.my.salesforce.com"
            )
        return login_url.rstrip("/")
    if environment == Environment.SANDBOX:
        return SANDBOX_LOGIN_URL
    if environment == Environment.CUSTOM:
        raise ConfigError("a custom environment needs --login-url (your My Domain URL)")
    return PRODUCTION_LOGIN_URL


def _required(value: str | None, option: str, flow: AuthFlow) -> str:
    if not value:
        raise ConfigError(f"the {flow.value} flow needs {option}")
    return value


def _stored_secrets(options: ConnectOptions, tokens: Tokens) -> dict[str, str]:
    """What must be kept to log in again without a person: never the access token."""
    kept: dict[str, str] = {}
    if tokens.refresh_token:
        kept["refresh_token"] = tokens.refresh_token
    if options.client_secret:
        kept["client_secret"] = options.client_secret
    if options.flow == AuthFlow.JWT_BEARER and options.private_key_file is not None:
        kept["private_key"] = options.private_key_file.read_text(encoding="utf-8")
    if options.flow == AuthFlow.PASSWORD and options.password:
        kept["password"] = options.password
    return kept


def _first_grant(
    options: ConnectOptions, login_url: str, open_browser: Callable[[str], object]
) -> Grant:
    """The grant of the first login, running the browser half of the web server flow."""
    client_id = _required(options.client_id, "--client-id", options.flow)
    if options.flow == AuthFlow.WEB_SERVER_PKCE:
        return authorize_in_browser(
            login_url,
            client_id,
            open_browser=open_browser,
            port=options.callback_port,
            client_secret=options.client_secret,
            allow_insecure_local=options.allow_insecure_local,
        )
    if options.flow == AuthFlow.CLIENT_CREDENTIALS:
        secret = _required(options.client_secret, "--client-secret", options.flow)
        return ClientCredentialsGrant(client_id, secret)
    if options.flow == AuthFlow.JWT_BEARER:
        key_file = options.private_key_file
        if key_file is None or not key_file.is_file():
            raise ConfigError(f"the jwt_bearer flow needs --private-key (a PEM file): {key_file}")
        username = _required(options.username, "--username", options.flow)
        return JwtBearerGrant(client_id, username, key_file.read_text(encoding="utf-8"))
    if options.flow == AuthFlow.PASSWORD:
        return PasswordGrant(
            client_id,
            _required(options.client_secret, "--client-secret", options.flow),
            _required(options.username, "--username", options.flow),
            _required(options.password, "--password", options.flow),
        )
    raise ConfigError(f"sfbridge cannot start a connection with the {options.flow.value} flow")


def _http(ca_bundle: str | Path | None) -> HttpOptions:
    return HttpOptions(verify=str(ca_bundle) if ca_bundle else True)


def _identity(tokens: Tokens) -> tuple[str | None, str | None]:
    """Org and user ids from the identity URL (``.../id/<orgId>/<userId>``)."""
    if not tokens.identity_url:
        return None, None
    parts = urlsplit(tokens.identity_url).path.rstrip("/").split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 3 else (None, None)


@dataclass(frozen=True)
class LoginResult:
    """A first login: the tokens and what they say about the org and user."""

    tokens: Tokens
    username: str | None
    org_id: str | None
    user_id: str | None


def login(
    options: ConnectOptions, open_browser: Callable[[str], object]
) -> tuple[LoginResult, SalesforceClient]:
    """Run the first login and return a client on the new session (the caller closes it)."""
    login_url = resolve_login_url(options.environment, options.login_url)
    grant = _first_grant(options, login_url, open_browser)
    session = OAuthSession(
        login_url,
        grant,
        allow_insecure_local=options.allow_insecure_local,
        connection_name=options.name,
    )
    client = SalesforceClient(
        session, api_version=options.api_version, http=_http(options.ca_bundle)
    )
    tokens = client.connect()
    org_id, user_id = _identity(tokens)
    username = options.username
    if user_id:
        row = client.get("User", user_id, ["Username"])
        username = str(row.get("Username") or username or "")
    return LoginResult(tokens, username, org_id, user_id), client


def connect(
    store: ConnectionStore,
    options: ConnectOptions,
    *,
    open_browser: Callable[[str], object],
) -> tuple[ConnectionRecord, SalesforceClient]:
    """Log in and store the connection; returns it and an open client (the caller closes it)."""
    validate_connection_name(options.name)
    if any(existing.name == options.name for existing in store.list()):
        # Checked before the browser opens: a login that cannot be stored is wasted.
        raise ConfigError(
            f"a connection named {options.name!r} already exists; choose another --name, "
            f"or re-authorise it with 'sfbridge connect salesforce upgrade {options.name}'"
        )
    result, client = login(options, open_browser)
    record = ConnectionRecord(
        name=options.name,
        kind=ConnectionKind.SALESFORCE,
        environment=options.environment,
        login_url=resolve_login_url(options.environment, options.login_url),
        instance_url=result.tokens.instance_url,
        auth_flow=options.flow,
        is_legacy=options.flow == AuthFlow.PASSWORD,
        client_id=options.client_id,
        username=result.username,
        org_id=result.org_id,
        user_id=result.user_id,
        api_version=options.api_version,
        ca_bundle=str(options.ca_bundle) if options.ca_bundle else None,
        budget_share=options.budget_share,
    )
    stored = store.add(record, _stored_secrets(options, result.tokens))
    return stored, client


def upgrade(
    store: ConnectionStore,
    name: str,
    options: ConnectOptions,
    *,
    open_browser: Callable[[str], object],
) -> tuple[ConnectionRecord, SalesforceClient]:
    """Re-authorise a legacy connection with the External Client App flow, in place."""
    current = store.get(name)
    if options.flow == AuthFlow.PASSWORD:
        raise ConfigError(
            "upgrade to the web server flow (the default) or jwt_bearer, not password"
        )
    options.environment = current.environment
    options.login_url = options.login_url or current.login_url
    options.ca_bundle = options.ca_bundle or (
        Path(current.ca_bundle) if current.ca_bundle else None
    )
    result, client = login(options, open_browser)
    if current.org_id and result.org_id and result.org_id != current.org_id:
        client.close()
        raise ConfigError(
            f"connection {name!r} belongs to org {current.org_id}, but the login was to org "
            f"{result.org_id}; log in to the same org, or create a new connection"
        )
    record = store.upgrade_auth(
        name,
        options.flow,
        _stored_secrets(options, result.tokens),
        client_id=options.client_id,
        username=result.username,
    )
    return record, client


def _stored_grant(record: ConnectionRecord, secrets: dict[str, str]) -> Grant:
    """How a stored connection logs in again without a person."""
    client_id = record.client_id or ""
    flow = AuthFlow(record.auth_flow)
    if flow in {AuthFlow.WEB_SERVER_PKCE, AuthFlow.REFRESH_TOKEN}:
        if "refresh_token" not in secrets:
            raise ConfigError(
                f"connection {record.name!r} has no refresh token; reconnect with "
                f"'sfbridge connect salesforce upgrade {record.name}'"
            )
        return RefreshTokenGrant(client_id, secrets["refresh_token"], secrets.get("client_secret"))
    if flow == AuthFlow.CLIENT_CREDENTIALS:
        return ClientCredentialsGrant(client_id, secrets["client_secret"])
    if flow == AuthFlow.JWT_BEARER:
        return JwtBearerGrant(client_id, record.username or "", secrets["private_key"])
    return PasswordGrant(
        client_id, secrets["client_secret"], record.username or "", secrets["password"]
    )


def open_client(
    store: ConnectionStore,
    name: str,
    *,
    http: HttpOptions | None = None,
    allow_insecure_local: bool = False,
) -> SalesforceClient:
    """A client on a stored connection; a rotated refresh token is saved as it arrives."""
    record = store.get(name)
    if record.kind != ConnectionKind.SALESFORCE:
        raise ConfigError(f"connection {name!r} is a {record.kind} connection, not salesforce")
    grant = _stored_grant(record, dict(store.secrets(name)))

    def keep(tokens: Tokens) -> None:
        if tokens.refresh_token:
            store.update_tokens(name, refresh_token=tokens.refresh_token)

    session = OAuthSession(
        record.login_url,
        grant,
        on_tokens=keep,
        connection_name=name,
        allow_insecure_local=allow_insecure_local,
    )
    return SalesforceClient(
        session,
        api_version=record.api_version or DEFAULT_API_VERSION,
        http=http or _http(record.ca_bundle),
        budget=ApiBudget(record.budget_share, name=name),
    )
