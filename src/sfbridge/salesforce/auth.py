"""OAuth 2.0 with Salesforce: every grant, the token session, and the browser login.

Grants (Salesforce Help, "OAuth Authorization Flows"): ``AuthorizationCodeGrant``
(web server flow with PKCE), ``RefreshTokenGrant``, ``ClientCredentialsGrant``,
``JwtBearerGrant`` and the legacy ``PasswordGrant``. ``OAuthSession`` holds the
tokens of one connection: it logs in on first use, refreshes when a call
answers ``INVALID_SESSION_ID`` (under one lock, so concurrent failures cause
one refresh), keeps a rotated refresh token and hands it to ``on_tokens`` for
storage. The browser login (``authorize_in_browser``) lives in
``auth_browser.py``.

Login hosts: ``https://login.salesforce.com`` (production),
``https://test.salesforce.com`` (sandboxes), a My Domain
(``https://acme.my.salesforce.com``) or any explicit URL, such as the
emulator's ``login_url``. Tokens only travel over https; plain http is
allowed only with ``allow_insecure_local=True`` and a loopback host.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import httpx
import jwt

from .errors import AuthenticationError, ReconnectRequired, SalesforceConfigError, SalesforceError
from .http import Flow, Send, error_from_response, network_error, with_retries
from .retry import RetryPolicy

PRODUCTION_LOGIN_URL = "https://login.salesforce.com"
SANDBOX_LOGIN_URL = "https://test.salesforce.com"
TOKEN_PATH = "/services/oauth2/token"

_MY_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*(--[a-z0-9]+\.sandbox)?$", re.IGNORECASE)


# -- login URLs --------------------------------------------------------------------


def my_domain_login_url(domain: str) -> str:
    """The login URL of a My Domain: ``acme`` or, for a sandbox, ``acme--dev.sandbox``.

    Salesforce Help, "My Domain URL Formats": production logins go to
    ``https://acme.my.salesforce.com``, sandbox logins to
    ``https://acme--dev.sandbox.my.salesforce.com``.
    """
    name = domain.strip().removesuffix(".my.salesforce.com").removeprefix("https://")
    if not _MY_DOMAIN.match(name):
        raise SalesforceConfigError(
            f"My Domain {domain!r} must look like 'acme' or 'acme--dev.sandbox' "
            "(Setup > My Domain shows it)"
        )
    return f"https://{name.lower()}.my.salesforce.com"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_url(url: str, *, what: str, allow_insecure_local: bool = False) -> str:
    """``url`` without a trailing slash, if tokens may be sent to it; a ConfigError naming it.

    https only; http only when ``allow_insecure_local`` and the host is
    loopback (a local emulator). No credentials, query or fragment.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or parts.scheme not in {"https", "http"}:
        problem = "is not an absolute https URL"
    elif parts.username or parts.password or parts.query or parts.fragment:
        problem = "must not carry credentials, a query or a fragment"
    elif parts.scheme == "http" and not (allow_insecure_local and is_loopback(host)):
        problem = (
            "uses http: sfbridge sends Salesforce tokens over https only "
            "(http is accepted for a loopback emulator with allow_insecure_local=True)"
        )
    else:
        return url.rstrip("/")
    # Name the URL, but never a password typed into it.
    shown = (
        url.replace(parts.netloc, "***@" + parts.netloc.rpartition("@")[2])
        if "@" in parts.netloc
        else url
    )
    raise SalesforceConfigError(f"{what} {shown!r} {problem}")


def jwt_audience(login_url: str) -> str:
    """The JWT ``aud`` for a login URL (Salesforce Help, "OAuth 2.0 JWT Bearer Flow").

    Salesforce hosts (including My Domains) want the shared login host:
    test.salesforce.com for sandboxes, login.salesforce.com otherwise. Any
    other login URL (the emulator's) is its own audience.
    """
    host = (urlsplit(login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return SANDBOX_LOGIN_URL
    if host.endswith(".salesforce.com"):
        return PRODUCTION_LOGIN_URL
    return login_url.rstrip("/")


# -- tokens and grants -------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """A token response: the access token, where to use it, and the refresh token to keep."""

    access_token: str = field(repr=False)
    instance_url: str
    refresh_token: str | None = field(default=None, repr=False)
    identity_url: str | None = None
    issued_at: datetime | None = None
    scope: str = ""


def parse_tokens(body: Mapping[str, Any], *, allow_insecure_local: bool = False) -> Tokens:
    """A successful token response as ``Tokens``; its ``instance_url`` is validated."""
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise AuthenticationError("the token response has no access_token")
    instance_url = validate_url(
        str(body.get("instance_url") or ""),
        what="instance_url from the token response",
        allow_insecure_local=allow_insecure_local,
    )
    issued = str(body.get("issued_at") or "")
    refresh = body.get("refresh_token")
    return Tokens(
        access_token=access_token,
        instance_url=instance_url,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        identity_url=str(body["id"]) if body.get("id") else None,
        # Epoch milliseconds in real answers, despite the docs saying seconds.
        issued_at=datetime.fromtimestamp(int(issued) / 1000, UTC) if issued.isdigit() else None,
        scope=str(body.get("scope") or ""),
    )


class Grant(Protocol):
    """How to ask the token endpoint for tokens."""

    flow: ClassVar[str]

    @property
    def client_id(self) -> str:
        """The connected app's consumer key."""

    @property
    def client_secret(self) -> str | None:
        """The consumer secret, when the flow uses one."""

    def token_form(self, login_url: str) -> dict[str, str]:
        """The form fields of ``POST /services/oauth2/token``."""


@dataclass(frozen=True)
class RefreshTokenGrant:
    """Refresh token flow: a stored refresh token buys a new access token."""

    flow: ClassVar[str] = "refresh token"
    client_id: str
    refresh_token: str = field(repr=False)
    client_secret: str | None = field(default=None, repr=False)

    def token_form(self, login_url: str) -> dict[str, str]:
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "refresh_token": self.refresh_token,
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        return form


@dataclass(frozen=True)
class AuthorizationCodeGrant:
    """Web server flow: the code a browser login returned, with its PKCE verifier (one use)."""

    flow: ClassVar[str] = "web server"
    client_id: str
    code: str = field(repr=False)
    redirect_uri: str
    code_verifier: str = field(repr=False)
    client_secret: str | None = field(default=None, repr=False)

    def token_form(self, login_url: str) -> dict[str, str]:
        form = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "code": self.code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.code_verifier,
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        return form


@dataclass(frozen=True)
class ClientCredentialsGrant:
    """Client credentials flow: server to server, as the app's run-as user (My Domain only)."""

    flow: ClassVar[str] = "client credentials"
    client_id: str
    client_secret: str = field(repr=False)

    def token_form(self, login_url: str) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }


@dataclass(frozen=True)
class JwtBearerGrant:
    """JWT bearer flow: an RS256 assertion signed with the key whose certificate the app holds.

    ``audience`` defaults to ``jwt_audience(login_url)``; each login signs a
    fresh assertion valid for ``lifetime_seconds`` (Salesforce allows 3 minutes).
    """

    flow: ClassVar[str] = "JWT bearer"
    client_id: str
    username: str
    private_key_pem: str | bytes = field(repr=False)
    audience: str | None = None
    lifetime_seconds: int = 180

    @property
    def client_secret(self) -> None:
        """The JWT flow proves the client with its signature, not a secret."""
        return None

    def token_form(self, login_url: str) -> dict[str, str]:
        claims = {
            "iss": self.client_id,
            "sub": self.username,
            "aud": self.audience or jwt_audience(login_url),
            "exp": int(time.time()) + self.lifetime_seconds,
        }
        return {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": jwt.encode(claims, self.private_key_pem, algorithm="RS256"),
        }


@dataclass(frozen=True)
class PasswordGrant:
    """Username-password flow. Legacy: Salesforce is retiring it; prefer any other grant.

    Outside the org's trusted IP ranges the password must be followed by the
    user's security token.
    """

    flow: ClassVar[str] = "password (legacy)"
    client_id: str
    client_secret: str = field(repr=False)
    username: str
    password: str = field(repr=False)
    security_token: str = field(default="", repr=False)

    def token_form(self, login_url: str) -> dict[str, str]:
        return {
            "grant_type": "password",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password + self.security_token,
        }


_LOGIN_HINTS = {
    "invalid_client_id": "Check the connected app's consumer key (client_id).",
    "invalid_client": "Check the connected app's consumer secret.",
    "unsupported_grant_type": "Enable this OAuth flow on the connected app.",
    "inactive_user": "The user is inactive: use an active integration user.",
    "inactive_org": "The org is locked, closed or suspended.",
}
_GRANT_HINTS = {
    PasswordGrant.flow: "Check the username, password and security token.",
    ClientCredentialsGrant.flow: "Use the org's My Domain login URL, and give the app a run-as "
    "user with the client credentials flow enabled.",
    JwtBearerGrant.flow: "Check that the user is pre-authorized for the app, the certificate "
    "matches the key, and the audience is the login host.",
    AuthorizationCodeGrant.flow: "The code expired or was used: run the browser login again.",
}


# -- the session -------------------------------------------------------------------


class OAuthSession:
    """The tokens of one Salesforce connection, and how to get new ones.

    Share one session between the clients of a connection (sync and async):
    its lock makes concurrent refreshes collapse into one. ``on_tokens`` is
    called with the new ``Tokens`` whenever Salesforce issues a refresh token
    the session did not have (a web server login, or rotation), so the
    caller can store it; the previous one may no longer work.
    """

    def __init__(
        self,
        login_url: str,
        grant: Grant,
        *,
        tokens: Tokens | None = None,
        on_tokens: Callable[[Tokens], None] | None = None,
        allow_insecure_local: bool = False,
        connection_name: str | None = None,
    ) -> None:
        self.login_url = validate_url(
            login_url, what="login_url", allow_insecure_local=allow_insecure_local
        )
        self.grant = grant
        self.connection_name = connection_name
        self._allow_insecure_local = allow_insecure_local
        self._on_tokens = on_tokens
        if tokens is not None:
            validate_url(
                tokens.instance_url, what="instance_url", allow_insecure_local=allow_insecure_local
            )
        self._tokens = tokens
        initial_refresh = grant.refresh_token if isinstance(grant, RefreshTokenGrant) else None
        self._refresh_token = (tokens.refresh_token if tokens else None) or initial_refresh
        self._code_used = False
        self._failure: AuthenticationError | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"OAuthSession(login_url={self.login_url!r}, flow={self.grant.flow!r}, "
            f"instance_url={self.instance_url!r}, connection_name={self.connection_name!r})"
        )

    @property
    def lock(self) -> threading.Lock:
        """Held while a login or refresh runs."""
        return self._lock

    @property
    def tokens(self) -> Tokens | None:
        """The current tokens (None before the first login)."""
        return self._tokens

    @property
    def access_token(self) -> str | None:
        """The current access token."""
        return self._tokens.access_token if self._tokens else None

    @property
    def instance_url(self) -> str | None:
        """The org's URL from the latest token response."""
        return self._tokens.instance_url if self._tokens else None

    def needs_login(self, stale_token: str | None) -> bool:
        """True when there is no token or it is ``stale_token``; re-raises a fatal login failure."""
        if self._failure is not None:
            raise self._failure
        return self._tokens is None or self._tokens.access_token == stale_token

    def login_flow(self, policy: RetryPolicy) -> Flow[Tokens]:
        """Ask the token endpoint for new tokens (refreshing when possible) and keep them."""
        grant = self._next_grant()
        url = self.login_url + TOKEN_PATH

        def attempt() -> Flow[httpx.Response]:
            outcome = yield Send("POST", url, data=grant.token_form(self.login_url))
            if not isinstance(outcome, httpx.Response):
                assert outcome is not None
                raise network_error(outcome, f"POST {url}")
            if outcome.status_code == 200:
                return outcome
            raise self._refused(outcome, grant)

        response = yield from with_retries(policy, attempt)
        return self._accept(response.json(), grant)

    def _next_grant(self) -> Grant:
        if self._refresh_token:
            return RefreshTokenGrant(
                self.grant.client_id, self._refresh_token, self.grant.client_secret
            )
        if isinstance(self.grant, AuthorizationCodeGrant) and self._code_used:
            self._failure = self._reconnect(
                "the browser login's code is spent and Salesforce issued no refresh token "
                "(add the refresh_token scope to the connected app)"
            )
            raise self._failure
        return self.grant

    def _refused(self, response: httpx.Response, grant: Grant) -> SalesforceError:
        """The error of a failed token request; fatal ones are kept for every later caller."""
        error = error_from_response(response)
        if response.status_code >= 500 or response.status_code == 429:
            return error  # transient: the retry table retries it
        code, description = error.error_code, error.message
        if isinstance(grant, RefreshTokenGrant) and code == "invalid_grant":
            self._failure = self._reconnect(
                f"Salesforce refused its refresh token ({code}: {description}); it was "
                "revoked, expired, or replaced by a newer one",
                status=response.status_code,
                error_code=code,
            )
        else:
            hint = _LOGIN_HINTS.get(code) or _GRANT_HINTS.get(grant.flow, "")
            self._failure = AuthenticationError(
                f"Salesforce refused the {grant.flow} login at {self.login_url} "
                f"({code}: {description}).",
                error_code=code,
                status=response.status_code,
                hint=hint,
            )
        return self._failure

    def _reconnect(
        self, why: str, *, error_code: str = "", status: int | None = None
    ) -> ReconnectRequired:
        name = self.connection_name or "NAME"
        return ReconnectRequired(
            f"The Salesforce connection {name!r} must be reconnected: {why}. Run "
            f"`sfbridge connect salesforce upgrade {name}` to log in again.",
            connection_name=self.connection_name,
            error_code=error_code,
            status=status,
        )

    def _accept(self, body: Mapping[str, Any], grant: Grant) -> Tokens:
        tokens = parse_tokens(body, allow_insecure_local=self._allow_insecure_local)
        issued = tokens.refresh_token
        if issued is None and self._refresh_token is not None:
            # No rotation: the refresh token we hold stays valid; keep it with the tokens.
            tokens = replace(tokens, refresh_token=self._refresh_token)
        changed = issued is not None and issued != self._refresh_token
        self._tokens, self._refresh_token = tokens, tokens.refresh_token
        if isinstance(grant, AuthorizationCodeGrant):
            self._code_used = True
        if changed and self._on_tokens is not None:
            self._on_tokens(tokens)
        return tokens
