"""Which login host a request reached: production or sandbox, and the URLs that follow.

A real company has a production org (log in at ``login.salesforce.com``) and
sandboxes (log in at ``test.salesforce.com`` or
``<domain>--<sandbox>.sandbox.my.salesforce.com``). A sandbox copies the
production users and appends ``.<sandbox name>`` to every username
(Salesforce Help, "Create a Sandbox").

The emulator serves one org under both faces. A login counts as a sandbox
login when the Host is a sandbox login host or the path starts with
``SANDBOX_PATH_PREFIX``; there the username must carry the ``.dev`` suffix
and maps to the same user. A plain username at a sandbox host, or a suffixed
one at a production host, matches no user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

SANDBOX_NAME = "dev"
"""The emulated sandbox's name: sandbox usernames end with ``.dev``."""

SANDBOX_PATH_PREFIX = "/sandbox"
"""Every login route is also served under this prefix as a sandbox login."""

PRODUCTION_LOGIN_URL = "https://login.salesforce.com"
SANDBOX_LOGIN_URL = "https://test.salesforce.com"

_SANDBOX_USERNAME_SUFFIX = "." + SANDBOX_NAME


@dataclass(frozen=True)
class LoginContext:
    """Where a login request arrived, and what that implies."""

    sandbox: bool
    login_url: str
    """Base URL of this login service: identity URLs (``<login_url>/id/...``) start here."""
    audiences: frozenset[str]
    """JWT ``aud`` values accepted here."""
    generic_host: bool
    """True at ``login.salesforce.com`` / ``test.salesforce.com`` (not a My Domain)."""

    def org_username(self, supplied: str) -> str | None:
        """The org's username for one typed at this login host, or None when it cannot match."""
        if not self.sandbox:
            return supplied
        if len(supplied) > len(_SANDBOX_USERNAME_SUFFIX) and supplied.lower().endswith(
            _SANDBOX_USERNAME_SUFFIX
        ):
            return supplied[: -len(_SANDBOX_USERNAME_SUFFIX)]
        return None

    def identity_url(self, org_id: str, user_id: str) -> str:
        """The user's identity URL as this login host hands it out."""
        return f"{self.login_url}/id/{org_id}/{user_id}"


def login_username(org_username: str, *, sandbox: bool) -> str:
    """The username a user logs in with: the org's, suffixed in the sandbox."""
    return org_username + _SANDBOX_USERNAME_SUFFIX if sandbox else org_username


def login_context(request: Request, instance_url: Callable[[], str]) -> LoginContext:
    """Classify ``request`` as a production or sandbox login and derive its URLs.

    Behind the TLS proxy the Host is a real Salesforce name, so identity URLs
    use the canonical login host (the proxy routes it back here). Reached
    directly, the emulator's own URL is the login host.
    """
    host = (request.url.hostname or "").lower()
    prefixed = request.url.path.startswith(SANDBOX_PATH_PREFIX + "/")
    sandbox = (
        prefixed or host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com")
    )
    canonical = SANDBOX_LOGIN_URL if sandbox else PRODUCTION_LOGIN_URL
    own = instance_url()
    if host.endswith(".salesforce.com"):
        login_url = canonical
    else:
        login_url = own + SANDBOX_PATH_PREFIX if prefixed else own
    requested = f"https://{request.url.netloc}"
    audiences = {canonical, login_url, own, requested}
    if prefixed:
        audiences.add(requested + SANDBOX_PATH_PREFIX)
    return LoginContext(
        sandbox=sandbox,
        login_url=login_url,
        audiences=frozenset(audiences),
        generic_host=host in {"login.salesforce.com", "test.salesforce.com"},
    )
