"""``/services/oauth2/authorize``: the login and approval page of the web server flow.

A plain HTML form (no JavaScript) that a real browser can complete: the user
logs in and allows the app in one step, and the page redirects to the
app's callback with ``code`` and ``state`` (Salesforce Help, "OAuth 2.0 Web
Server Flow for Web App Integration"). An unknown app or an unregistered
callback shows an error page instead: the flow never redirects to a URL the
app did not register (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .credentials import APP_SCOPES, App, CredentialStore, Flow, Grant
from .login_hosts import SANDBOX_NAME, LoginContext, login_context
from .org import ORG_NAME

# The real login page's wording for a failed login.
_LOGIN_ERROR = (
    "Please check your username and password. "
    "If you still can't log in, contact your Salesforce administrator."
)
_SCOPE_LABELS = {
    "api": "Manage user data via APIs (api)",
    "refresh_token": "Perform requests at any time (refresh_token, offline_access)",
}
_CARRIED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)
_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f3f3f3;margin:0}"
    "main{max-width:24rem;margin:4rem auto;background:#fff;border:1px solid #ddd;"
    "border-radius:.25rem;padding:1.5rem}label{display:block;margin-top:1rem}"
    "input{width:100%;box-sizing:border-box;padding:.5rem}.error{color:#c23934}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1rem}"
)


def granted_scope(requested: str | None) -> str | None:
    """The scopes an authorize request gets: the app's scopes it asked for (all when it asked
    for none); None when it asked only for scopes the app lacks.

    ``offline_access`` is the OpenID name of ``refresh_token`` (Salesforce Help,
    "OAuth Tokens and Scopes").
    """
    if not requested:
        return " ".join(APP_SCOPES)
    asked = set(requested.split())
    if "offline_access" in asked:
        asked.add("refresh_token")
    return " ".join(scope for scope in APP_SCOPES if scope in asked) or None


def _with_query(uri: str, values: dict[str, str | None]) -> str:
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in values.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


class AuthorizePage:
    """Serves the authorize endpoint for GET (show the page) and POST (log in and allow)."""

    def __init__(self, credentials: CredentialStore, instance_url: Callable[[], str]) -> None:
        self._credentials = credentials
        self._instance_url = instance_url

    async def authorize(self, request: Request) -> Response:
        """Handle ``GET`` and ``POST /services/oauth2/authorize``."""
        if request.method == "POST":
            form = await request.form()
            params = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            params = dict(request.query_params)
        context = login_context(request, self._instance_url)
        return await run_in_threadpool(
            self._answer, request.method == "POST", params, context, request.url.path
        )

    def _answer(
        self, submitted: bool, params: dict[str, str], context: LoginContext, action: str
    ) -> Response:
        app = self._credentials.app(params.get("client_id", ""))
        if app is None:
            return _error_page("invalid_client_id", "client identifier invalid")
        redirect_uri = params.get("redirect_uri", "")
        if not app.accepts_callback(redirect_uri):
            return _error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
        state = params.get("state")

        def fail(error: str, description: str) -> Response:
            target = _with_query(
                redirect_uri, {"error": error, "error_description": description, "state": state}
            )
            return RedirectResponse(target, status_code=302)

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", "response type not supported")
        if not app.allows(Flow.AUTHORIZATION_CODE):
            return fail(
                "unauthorized_client",
                f"the authorization_code flow is not enabled for the app {app.name!r}",
            )
        challenge = params.get("code_challenge", "")
        if challenge and params.get("code_challenge_method", "S256") != "S256":
            return fail("invalid_request", "code_challenge_method must be S256")
        scope = granted_scope(params.get("scope"))
        if scope is None:
            return fail("invalid_scope", "the requested scope is not allowed")
        if not submitted:
            return _login_page(app, params, context, action, params.get("login_hint", ""), None)
        if params.get("action") == "deny":
            return fail("access_denied", "end-user denied authorization")
        username = params.get("username", "")
        user = self._credentials.authenticate(
            context.org_username(username), params.get("password", "")
        )
        if user is None:
            return _login_page(app, params, context, action, username, _LOGIN_ERROR)
        code = self._credentials.new_code(
            Grant(app.client_id, user.id, scope, context.sandbox), redirect_uri, challenge
        )
        return RedirectResponse(_with_query(redirect_uri, {"code": code, "state": state}), 302)


def _login_page(
    app: App,
    params: dict[str, str],
    context: LoginContext,
    action: str,
    username: str,
    error: str | None,
) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(params[name])}">'
        for name in _CARRIED
        if name in params
    )
    scopes = "".join(
        f"<li>{escape(_SCOPE_LABELS[s])}</li>"
        for s in (granted_scope(params.get("scope")) or "").split()
    )
    notice = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    sandbox = (
        f"<p>Sandbox login: use your sandbox username, ending in <code>.{SANDBOX_NAME}</code>.</p>"
        if context.sandbox
        else ""
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Login | Salesforce</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(ORG_NAME)}</h1>{sandbox}"
        f"<p><strong>{escape(app.name)}</strong> is asking to:</p><ul>{scopes}</ul>{notice}"
        f'<form method="post" action="{escape(action)}">{hidden}'
        '<label for="username">Username</label>'
        f'<input type="text" id="username" name="username" value="{escape(username)}" '
        'autocomplete="username" required>'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" '
        'autocomplete="current-password" required>'
        '<button type="submit" name="action" value="allow">Log In and Allow</button>'
        '<button type="submit" name="action" value="deny" formnovalidate>Deny</button>'
        "</form></main></body></html>"
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


def _error_page(error: str, description: str) -> HTMLResponse:
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>OAuth Error</title><style>{_STYLE}</style></head><body><main>"
        "<h1>OAuth Error</h1><p>We can't authorize you because of an OAuth error.</p>"
        f'<p class="error"><code>{escape(error)}</code>: {escape(description)}</p>'
        "</main></body></html>"
    )
    return HTMLResponse(page, status_code=400)
