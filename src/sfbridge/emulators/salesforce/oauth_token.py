"""``POST /services/oauth2/token`` and ``/services/oauth2/revoke``: the OAuth token endpoint.

Grant types, parameters, responses and error strings follow the Salesforce
Help pages of each flow ("OAuth 2.0 Web Server Flow for Web App
Integration", "OAuth 2.0 Refresh Token Flow for Renewed Sessions", "OAuth
2.0 Client Credentials Flow for Server-to-Server Integration", "OAuth 2.0
JWT Bearer Flow for Server-to-Server Integration", "OAuth 2.0
Username-Password Flow for Special Scenarios"). Error descriptions are fixed
strings: no request value, and so no secret, is ever echoed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import jwt
from cryptography import x509
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .credentials import APP_SCOPES, App, CredentialStore, Flow, Grant
from .login_hosts import LoginContext, login_context
from .org import Org

_NO_STORE = {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}
_AUTHENTICATION_FAILURE = "authentication failure"
_EXPIRED_REFRESH_TOKEN = "expired access/refresh token"
_EXPIRED_CODE = "expired authorization code"


class OAuthError(Exception):
    """A token endpoint failure, answered as ``{"error": ..., "error_description": ...}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    def response(self) -> JSONResponse:
        """The HTTP 400 JSON error response a real org sends."""
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=400, headers=_NO_STORE)


def _invalid_client_id() -> OAuthError:
    return OAuthError("invalid_client_id", "client identifier invalid")


def _invalid_client() -> OAuthError:
    return OAuthError("invalid_client", "invalid client credentials")


def _flow_disabled(app: App, flow: Flow) -> OAuthError:
    return OAuthError(
        "invalid_grant", f"the {flow.value} flow is not enabled for the app {app.name!r}"
    )


async def _request_params(request: Request) -> dict[str, str]:
    """Query string and form fields together (Salesforce reads token parameters from both)."""
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from an ``Authorization: Basic`` header, if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a ``code_verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class TokenEndpoint:
    """Issues tokens for every grant type an app may enable, and revokes them."""

    def __init__(
        self, org: Org, credentials: CredentialStore, instance_url: Callable[[], str]
    ) -> None:
        self._org = org
        self._credentials = credentials
        self._instance_url = instance_url

    async def token(self, request: Request) -> Response:
        """Handle ``POST /services/oauth2/token``."""
        params = await _request_params(request)
        basic = _basic_credentials(request)
        context = login_context(request, self._instance_url)
        try:
            body = await run_in_threadpool(self._exchange, params, basic, context)
        except OAuthError as error:
            return error.response()
        return JSONResponse(body, headers=_NO_STORE)

    async def revoke(self, request: Request) -> Response:
        """Handle ``/services/oauth2/revoke``: 200 when revoked, 400 ``invalid_token`` otherwise."""
        token = (await _request_params(request)).get("token", "")
        revoked = bool(token) and await run_in_threadpool(self._credentials.revoke, token)
        if revoked:
            return Response(status_code=200)
        return OAuthError("invalid_token", "invalid token").response()

    def _exchange(
        self, params: dict[str, str], basic: tuple[str, str] | None, context: LoginContext
    ) -> dict[str, str]:
        """Run one token request; returns the success body or raises ``OAuthError``."""
        grant_type = params.get("grant_type", "")
        handlers = {
            Flow.AUTHORIZATION_CODE: self._authorization_code,
            Flow.REFRESH_TOKEN: self._refresh_token,
            Flow.CLIENT_CREDENTIALS: self._client_credentials,
            Flow.JWT_BEARER: self._jwt_bearer,
            Flow.PASSWORD: self._password,
        }
        if grant_type not in handlers:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        return handlers[Flow(grant_type)](params, basic, context)

    # -- client authentication ------------------------------------------------

    def _client(
        self, params: dict[str, str], basic: tuple[str, str] | None, flow: Flow
    ) -> tuple[App, str | None]:
        client_id, secret = basic or (params.get("client_id", ""), params.get("client_secret"))
        app = self._credentials.app(client_id) if client_id else None
        if app is None:
            raise _invalid_client_id()
        if not app.allows(flow):
            raise _flow_disabled(app, flow)
        if secret and not hmac.compare_digest(secret, app.client_secret):
            raise _invalid_client()
        return app, secret or None

    # -- grants ---------------------------------------------------------------

    def _password(
        self, params: dict[str, str], basic: tuple[str, str] | None, context: LoginContext
    ) -> dict[str, str]:
        app, secret = self._client(params, basic, Flow.PASSWORD)
        if secret is None:
            raise _invalid_client()
        user = self._credentials.authenticate(
            context.org_username(params.get("username", "")), params.get("password", "")
        )
        if user is None:
            raise OAuthError("invalid_grant", _AUTHENTICATION_FAILURE)
        return self._issue(app, self._grant(app, user.id, context), context)

    def _authorization_code(
        self, params: dict[str, str], basic: tuple[str, str] | None, context: LoginContext
    ) -> dict[str, str]:
        app, secret = self._client(params, basic, Flow.AUTHORIZATION_CODE)
        pending = self._credentials.take_code(params.get("code", ""))
        if pending is None or pending.grant.client_id != app.client_id:
            raise OAuthError("invalid_grant", _EXPIRED_CODE)
        if params.get("redirect_uri", "") != pending.redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if pending.code_challenge:
            verifier = params.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(
                pkce_challenge(verifier), pending.code_challenge
            ):
                raise OAuthError("invalid_grant", "invalid code verifier")
        elif secret is None:
            # Without PKCE the code alone does not prove who the client is:
            # the web server flow then needs the consumer secret.
            raise _invalid_client()
        refresh = None
        if "refresh_token" in pending.grant.scope.split():
            refresh = self._credentials.new_refresh_token(pending.grant)
        return self._issue(app, pending.grant, context, refresh_token=refresh)

    def _refresh_token(
        self, params: dict[str, str], basic: tuple[str, str] | None, context: LoginContext
    ) -> dict[str, str]:
        app, _ = self._client(params, basic, Flow.REFRESH_TOKEN)
        token = params.get("refresh_token", "")
        grant = self._credentials.refresh_grant(token) if token else None
        if grant is None or grant.client_id != app.client_id:
            raise OAuthError("invalid_grant", _EXPIRED_REFRESH_TOKEN)
        if not app.rotate_refresh_tokens:
            return self._issue(app, grant, context, parent_refresh_token=token)
        rotated = self._credentials.rotate_refresh_token(token, grant)
        if rotated is None:
            raise OAuthError("invalid_grant", _EXPIRED_REFRESH_TOKEN)
        return self._issue(app, grant, context, refresh_token=rotated)

    def _client_credentials(
        self, params: dict[str, str], basic: tuple[str, str] | None, context: LoginContext
    ) -> dict[str, str]:
        if context.generic_host:
            # The client credentials flow needs the org's My Domain; the
            # shared login hosts refuse it with this exact error.
            raise OAuthError("invalid_grant", "request not supported on this domain")
        app, secret = self._client(params, basic, Flow.CLIENT_CREDENTIALS)
        if secret is None:
            raise _invalid_client()
        user = self._org.user(username=app.run_as_username)
        if user is None:
            raise OAuthError("invalid_grant", "no client credentials user enabled")
        return self._issue(app, self._grant(app, user.id, context), context)

    def _jwt_bearer(
        self, params: dict[str, str], basic: tuple[str, str] | None, context: LoginContext
    ) -> dict[str, str]:
        assertion = params.get("assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise OAuthError("invalid_grant", "invalid assertion") from error
        issuer = unverified.get("iss")
        app = self._credentials.app(issuer) if isinstance(issuer, str) else None
        if app is None:
            raise _invalid_client_id()
        if not app.allows(Flow.JWT_BEARER):
            raise _flow_disabled(app, Flow.JWT_BEARER)
        if app.certificate_pem is None:
            raise OAuthError(
                "invalid_grant", f"the app {app.name!r} has no certificate for the JWT bearer flow"
            )
        claims = self._verified_claims(assertion, app.certificate_pem, context)
        user = self._org.user(username=context.org_username(str(claims["sub"])) or None)
        if user is None:
            # What a real org answers when the subject is not a user that
            # approved the app, such as a sandbox username without its suffix.
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return self._issue(app, self._grant(app, user.id, context), context)

    def _verified_claims(
        self, assertion: str, certificate_pem: bytes, context: LoginContext
    ) -> dict[str, Any]:
        public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                public_key,  # type: ignore[arg-type]
                algorithms=["RS256"],
                audience=sorted(context.audiences),
                # Expiry is checked below against the org clock, which tests move.
                options={"verify_exp": False, "require": ["iss", "sub", "aud", "exp"]},
            )
            expires = float(claims["exp"])
        except jwt.InvalidAudienceError as error:
            raise OAuthError("invalid_grant", "audience is invalid") from error
        except (jwt.PyJWTError, TypeError, ValueError) as error:
            raise OAuthError("invalid_grant", "invalid assertion") from error
        if expires <= self._credentials.now():
            # A real org words an expired assertion this way.
            raise OAuthError("invalid_grant", _EXPIRED_CODE)
        return claims

    # -- responses ------------------------------------------------------------

    @staticmethod
    def _grant(app: App, user_id: str, context: LoginContext) -> Grant:
        return Grant(app.client_id, user_id, " ".join(APP_SCOPES), context.sandbox)

    def _issue(
        self,
        app: App,
        grant: Grant,
        context: LoginContext,
        *,
        refresh_token: str | None = None,
        parent_refresh_token: str | None = None,
    ) -> dict[str, str]:
        """Issue an access token and build the body a real org sends.

        ``issued_at`` is epoch milliseconds as a string, as real responses
        show; ``signature`` is Base64 HMAC-SHA256 of ``id`` + ``issued_at``
        keyed on the consumer secret, so clients can check where the response
        came from. ``refresh_token`` is only present when one was issued.
        """
        session = self._credentials.new_access_token(
            grant, refresh_token=refresh_token or parent_refresh_token
        )
        issued_at = str(int(session.issued_at * 1000))
        identity = context.identity_url(self._org.org_id, session.user.id)
        mac = hmac.new(app.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
        body = {"access_token": session.access_token}
        if refresh_token:
            body["refresh_token"] = refresh_token
        body.update(
            signature=base64.b64encode(mac.digest()).decode(),
            scope=grant.scope,
            instance_url=self._instance_url(),
            id=identity,
            token_type="Bearer",
            issued_at=issued_at,
        )
        return body
