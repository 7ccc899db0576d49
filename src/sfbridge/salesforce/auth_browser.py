"""The browser half of the web server flow: authorize URL with PKCE, and a loopback listener.

``authorize_in_browser`` opens Salesforce's login page, waits for the redirect
on ``http://127.0.0.1:PORT/callback`` (RFC 8252 §7.3, loopback redirect for
native apps), checks ``state`` and returns an ``AuthorizationCodeGrant`` that
an ``OAuthSession`` exchanges for tokens (Salesforce Help, "OAuth 2.0 Web
Server Flow for Web App Integration"; PKCE per RFC 7636 with S256).
"""

from __future__ import annotations

import base64
import hashlib
import queue
import secrets
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlencode, urlsplit

from .auth import AuthorizationCodeGrant, validate_url
from .errors import AuthenticationError

LOOPBACK_HOST = "127.0.0.1"
DEFAULT_SCOPE = "api refresh_token"

_DONE_PAGE = (
    b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
    b"<title>sfbridge: Salesforce login</title></head><body>"
    b"<h1>Salesforce login finished</h1>"
    b"<p>sfbridge received the answer. You can close this tab.</p></body></html>"
)


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a ``code_verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class CallbackResult:
    """What the browser brought back to the redirect URI."""

    code: str | None = field(repr=False)
    state: str | None
    error: str | None = None
    error_description: str | None = None


@dataclass(frozen=True)
class AuthorizationRequest:
    """One authorize URL and the secrets that go with it (``state``, PKCE verifier)."""

    url: str = field(repr=False)
    client_id: str
    redirect_uri: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)

    def grant(
        self, callback: CallbackResult, client_secret: str | None = None
    ) -> AuthorizationCodeGrant:
        """The code grant of a callback, after checking it answers this request."""
        if callback.error:
            raise AuthenticationError(
                f"the browser login ended with {callback.error}: {callback.error_description}",
                error_code=callback.error,
                hint="Log in again and choose Allow.",
            )
        if not secrets.compare_digest(callback.state or "", self.state):
            raise AuthenticationError(
                "the login callback's state does not match this login (a stale tab or a "
                "forged redirect); it was ignored",
                hint="Start the login again.",
            )
        if not callback.code:
            raise AuthenticationError("the login callback carries no authorization code")
        return AuthorizationCodeGrant(
            self.client_id, callback.code, self.redirect_uri, self.code_verifier, client_secret
        )


def authorization_request(
    login_url: str,
    client_id: str,
    redirect_uri: str,
    *,
    scope: str = DEFAULT_SCOPE,
    login_hint: str | None = None,
    allow_insecure_local: bool = False,
) -> AuthorizationRequest:
    """A fresh authorize URL with a random ``state`` and an S256 PKCE challenge."""
    base = validate_url(login_url, what="login_url", allow_insecure_local=allow_insecure_local)
    verifier = secrets.token_urlsafe(64)  # 86 characters; RFC 7636 allows 43 to 128
    state = secrets.token_urlsafe(24)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": scope,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    url = f"{base}/services/oauth2/authorize?{urlencode(params)}"
    return AuthorizationRequest(url, client_id, redirect_uri, state, verifier)


class LoopbackListener:
    """Waits on ``127.0.0.1:PORT`` for the redirect that ends a browser login.

    Use as a context manager; ``port=0`` picks a free port (the connected app
    must accept it, e.g. a callback registered as ``http://127.0.0.1:*``).
    It answers the callback with a small "you can close this tab" page and
    logs nothing, since the URL carries the code.
    """

    def __init__(self, port: int = 0, path: str = "/callback") -> None:
        self.path = path
        self._results: queue.Queue[CallbackResult] = queue.Queue()
        results, expected = self._results, path

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != expected:
                    self.send_error(404)
                    return
                query = parse_qs(parts.query)

                def first(name: str) -> str | None:
                    return query.get(name, [None])[0]

                results.put(
                    CallbackResult(
                        first("code"), first("state"), first("error"), first("error_description")
                    )
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(_DONE_PAGE)))
                self.end_headers()
                self.wfile.write(_DONE_PAGE)

            def log_message(self, format: str, *args: object) -> None:
                """Silent: request lines hold the authorization code."""

        self._server = HTTPServer((LOOPBACK_HOST, port), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def redirect_uri(self) -> str:
        """The URI to register and send as ``redirect_uri``."""
        return f"http://{LOOPBACK_HOST}:{self._server.server_address[1]}{self.path}"

    def __enter__(self) -> LoopbackListener:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening and free the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def wait(self, timeout: float) -> CallbackResult:
        """The first callback to arrive; AuthenticationError after ``timeout`` seconds."""
        try:
            return self._results.get(timeout=timeout)
        except queue.Empty:
            raise AuthenticationError(
                f"no login arrived at {self.redirect_uri} within {timeout:.0f} seconds",
                hint="Finish the login in the browser, or start it again.",
            ) from None


def authorize_in_browser(
    login_url: str,
    client_id: str,
    *,
    open_browser: Callable[[str], object] = webbrowser.open,
    port: int = 0,
    path: str = "/callback",
    timeout: float = 300.0,
    scope: str = DEFAULT_SCOPE,
    client_secret: str | None = None,
    allow_insecure_local: bool = False,
) -> AuthorizationCodeGrant:
    """Run the browser half of the web server flow; returns the code grant to exchange.

    ``open_browser`` receives the authorize URL (tests pass a function that
    fills in the login form with httpx).
    """
    with LoopbackListener(port, path) as listener:
        request = authorization_request(
            login_url,
            client_id,
            listener.redirect_uri,
            scope=scope,
            allow_insecure_local=allow_insecure_local,
        )
        open_browser(request.url)
        callback = listener.wait(timeout)
    return request.grant(callback, client_secret)
