"""OAuth against the emulated org: every flow, login hosts, refresh, rotation, revocation, locks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sfbridge.emulators.salesforce.faults import FaultRule
from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.errors import ConfigError, FatalError
from sfbridge.salesforce import (
    PRODUCTION_LOGIN_URL,
    SANDBOX_LOGIN_URL,
    AsyncSalesforceClient,
    AuthenticationError,
    CallbackResult,
    ClientCredentialsGrant,
    HttpOptions,
    JwtBearerGrant,
    OAuthSession,
    PasswordGrant,
    ReconnectRequired,
    RefreshTokenGrant,
    SalesforceClient,
    SalesforceConfigError,
    Tokens,
    authorization_request,
    authorize_in_browser,
    my_domain_login_url,
)
from sfbridge.salesforce.auth import jwt_audience, validate_url

from .conftest import CONTACTS, complete_login_form, tls_bundle, token_calls

MakeClient = Callable[..., SalesforceClient]


def browser_refresh_token(running: RunningEmulator, client_id: str, secret: str) -> str:
    """A fresh refresh token of ``client_id`` from a completed web server login."""
    grant = authorize_in_browser(
        running.login_url, client_id, open_browser=complete_login_form(running), timeout=10
    )
    with SalesforceClient(
        OAuthSession(running.login_url, grant), http=HttpOptions(verify=tls_bundle(running))
    ) as client:
        tokens = client.connect()
    assert tokens.refresh_token
    return tokens.refresh_token


def live_contact_ids(running: RunningEmulator) -> set[str]:
    """Every live contact id, read from the org's storage."""
    rows = running.org.store.execute('SELECT "Id" FROM "Contact" WHERE "IsDeleted" = 0')
    return {row[0] for row in rows}


def revoke(running: RunningEmulator, token: str) -> None:
    with httpx.Client(verify=HttpOptions(verify=tls_bundle(running)).ssl_context()) as http:
        answer = http.post(f"{running.login_url}/services/oauth2/revoke", data={"token": token})
        assert answer.status_code == 200


# -- every flow ----------------------------------------------------------------------


def test_client_credentials_flow_logs_in_on_first_call(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    before = token_calls(org_server)
    assert sf_client.instance_url is None
    assert "DailyApiRequests" in sf_client.limits()
    assert sf_client.instance_url == org_server.instance_url
    assert token_calls(org_server) == before + 1


def test_password_flow_is_legacy_and_accepts_the_security_token(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    credentials = org_server.credentials
    grant = PasswordGrant(
        credentials.client_id,
        credentials.client_secret,
        credentials.username,
        credentials.password,
        security_token=credentials.security_token,
    )
    assert "legacy" in grant.flow
    tokens = make_client(grant).connect()
    assert tokens.instance_url == org_server.instance_url
    assert tokens.refresh_token is None
    assert tokens.issued_at is not None


def test_jwt_bearer_flow_signs_an_assertion_for_the_login_host(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    credentials = org_server.credentials
    grant = JwtBearerGrant(
        credentials.client_id, credentials.username, credentials.jwt_private_key_pem
    )
    client = make_client(grant)
    assert client.count("Contact", "LastName != null") >= CONTACTS


def test_refresh_token_flow_keeps_an_unrotated_token(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    credentials = org_server.credentials
    stored: list[Tokens] = []
    session = OAuthSession(
        org_server.login_url,
        RefreshTokenGrant(credentials.client_id, credentials.refresh_token),
        on_tokens=stored.append,
    )
    tokens = make_client(session=session).connect()
    assert tokens.refresh_token == credentials.refresh_token
    assert stored == []  # nothing new to persist


def test_web_server_flow_with_pkce_through_a_loopback_listener(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    pages: list[str] = []
    browser = complete_login_form(org_server)

    def open_browser(url: str) -> None:
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"][0].startswith("http://127.0.0.1:")
        pages.append(browser(url))

    grant = authorize_in_browser(
        org_server.login_url,
        org_server.credentials.client_id,
        open_browser=open_browser,
        timeout=10,
    )
    assert "You can close this tab" in pages[0]
    stored: list[Tokens] = []
    session = OAuthSession(org_server.login_url, grant, on_tokens=stored.append)
    client = make_client(session=session)
    tokens = client.connect()
    assert tokens.refresh_token and stored == [tokens]
    # The code is spent; once the access token expires the refresh token takes over.
    org_server.app.auth.expire_all_sessions()
    assert client.count("Contact") >= CONTACTS
    assert session.tokens is not None and session.tokens.refresh_token == tokens.refresh_token


def test_a_denied_browser_login_is_an_authentication_error(org_server: RunningEmulator) -> None:
    with pytest.raises(AuthenticationError, match="access_denied"):
        authorize_in_browser(
            org_server.login_url,
            org_server.credentials.client_id,
            open_browser=complete_login_form(org_server, allow=False),
            timeout=10,
        )


def test_authorization_request_carries_state_and_an_s256_challenge() -> None:
    request = authorization_request(
        "https://acme.my.salesforce.com", "3MVG9app", "http://127.0.0.1:5000/callback"
    )
    query = parse_qs(urlsplit(request.url).query)
    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]
    assert query["state"] == [request.state] and query["response_type"] == ["code"]
    assert 43 <= len(request.code_verifier) <= 128
    assert request.url.startswith("https://acme.my.salesforce.com/services/oauth2/authorize?")
    with pytest.raises(AuthenticationError, match="state does not match"):
        request.grant(CallbackResult(code="aPrx1", state="forged"))
    grant = request.grant(CallbackResult(code="aPrx1", state=request.state))
    assert grant.code == "aPrx1" and grant.code_verifier == request.code_verifier


# -- login hosts ---------------------------------------------------------------------


def test_sandbox_login_url_wants_the_sandbox_username(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    credentials = org_server.credentials

    def password_login(username: str) -> Tokens:
        grant = PasswordGrant(
            credentials.client_id, credentials.client_secret, username, credentials.password
        )
        session = OAuthSession(org_server.sandbox_login_url, grant)
        return make_client(session=session).connect()

    assert password_login(credentials.username + ".dev").instance_url == org_server.instance_url
    with pytest.raises(AuthenticationError, match="invalid_grant") as refused:
        password_login(credentials.username)
    assert "Check the username, password and security token" in str(refused.value)


def test_production_and_sandbox_login_hosts_through_the_proxy(
    org_server: RunningEmulator, sleeps: list[float]
) -> None:
    credentials = org_server.credentials
    assert org_server.proxy is not None
    http = HttpOptions(verify=tls_bundle(org_server), proxy=org_server.proxy.url)
    jwt_grant = JwtBearerGrant(
        credentials.client_id, credentials.username, credentials.jwt_private_key_pem
    )
    sandbox_grant = PasswordGrant(
        credentials.client_id,
        credentials.client_secret,
        credentials.username + ".dev",
        credentials.password,
    )
    for login_url, grant in ((PRODUCTION_LOGIN_URL, jwt_grant), (SANDBOX_LOGIN_URL, sandbox_grant)):
        with SalesforceClient(OAuthSession(login_url, grant), http=http) as client:
            assert client.connect().instance_url == org_server.instance_url
    # The shared login hosts refuse client credentials: they need a My Domain.
    cc = ClientCredentialsGrant(credentials.client_id, credentials.client_secret)
    with (
        SalesforceClient(OAuthSession(PRODUCTION_LOGIN_URL, cc), http=http) as client,
        pytest.raises(AuthenticationError, match="My Domain"),
    ):
        client.connect()


def test_login_urls_and_jwt_audiences() -> None:
    assert my_domain_login_url("acme") == "https://acme.my.salesforce.com"
    assert my_domain_login_url("Acme--Dev.sandbox") == "https://acme--dev.sandbox.my.salesforce.com"
    with pytest.raises(SalesforceConfigError, match="My Domain 'acme corp'"):
        my_domain_login_url("acme corp")
    assert jwt_audience("https://acme.my.salesforce.com") == PRODUCTION_LOGIN_URL
    assert jwt_audience("https://acme--dev.sandbox.my.salesforce.com") == SANDBOX_LOGIN_URL
    assert jwt_audience(SANDBOX_LOGIN_URL) == SANDBOX_LOGIN_URL
    assert jwt_audience("https://127.0.0.1:8443/sandbox/") == "https://127.0.0.1:8443/sandbox"


@pytest.mark.parametrize(
    ("url", "insecure_local", "accepted"),
    [
        ("https://acme.my.salesforce.com/", False, True),
        ("https://127.0.0.1:8443", False, True),
        ("http://127.0.0.1:8443", False, False),
        ("http://127.0.0.1:8443", True, True),
        ("http://localhost:8443", True, True),
        ("http://[::1]:8443", True, True),
        ("http://emulator.example:8443", True, False),
        ("ftp://acme.my.salesforce.com", False, False),
        ("acme.my.salesforce.com", False, False),
        ("https://user:s3cret@acme.my.salesforce.com", False, False),
        ("https://acme.my.salesforce.com?x=1", False, False),
    ],
)
def test_only_https_or_an_allowed_loopback_url_gets_tokens(
    url: str, insecure_local: bool, accepted: bool
) -> None:
    if accepted:
        assert validate_url(url, what="instance_url", allow_insecure_local=insecure_local) == (
            url.rstrip("/")
        )
    else:
        with pytest.raises(ConfigError, match="instance_url '") as refused:
            validate_url(url, what="instance_url", allow_insecure_local=insecure_local)
        shown = url.replace("user:s3cret@", "***@")
        assert f"'{shown}'" in str(refused.value) and "s3cret" not in str(refused.value)


def _token_endpoint(instance_url: str) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/services/oauth2/token":
            return httpx.Response(
                200, json={"access_token": "00Dx!AQ", "instance_url": instance_url}
            )
        return httpx.Response(200, json={}, headers={"Sforce-Limit-Info": "api-usage=1/100"})

    return httpx.MockTransport(answer)


def test_a_bad_instance_url_from_the_token_response_is_a_config_error() -> None:
    grant = ClientCredentialsGrant("3MVG9app", "secret")
    evil = HttpOptions(transport=_token_endpoint("http://evil.example"))
    with (
        SalesforceClient(OAuthSession("https://acme.my.salesforce.com", grant), http=evil) as sf,
        pytest.raises(SalesforceConfigError, match=r"'http://evil\.example'"),
    ):
        sf.connect()
    local = HttpOptions(transport=_token_endpoint("http://127.0.0.1:9"))
    strict = OAuthSession("https://acme.my.salesforce.com", grant)
    with SalesforceClient(strict, http=local) as sf, pytest.raises(SalesforceConfigError):
        sf.connect()
    relaxed = OAuthSession("http://127.0.0.1:9", grant, allow_insecure_local=True)
    with SalesforceClient(relaxed, http=local) as sf:
        assert sf.connect().instance_url == "http://127.0.0.1:9"


# -- refresh, rotation, revocation ---------------------------------------------------


def test_rotated_refresh_tokens_are_handed_to_on_tokens(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    app = org_server.app.auth.register_app(name="rotating", rotate_refresh_tokens=True)
    first = browser_refresh_token(org_server, app.client_id, app.client_secret)
    stored: list[Tokens] = []
    session = OAuthSession(
        org_server.login_url,
        RefreshTokenGrant(app.client_id, first, app.client_secret),
        on_tokens=stored.append,
        connection_name="crm",
    )
    client = make_client(session=session)
    client.connect()
    org_server.app.auth.expire_all_sessions()
    client.limits()
    rotated = [t.refresh_token for t in stored]
    assert len(rotated) == 2 and len({first, *rotated}) == 3
    assert session.tokens is not None and session.tokens.refresh_token == rotated[-1]
    # The replaced token is dead: a connection still holding it must reconnect.
    stale = OAuthSession(org_server.login_url, RefreshTokenGrant(app.client_id, first))
    with pytest.raises(ReconnectRequired):
        make_client(session=stale).connect()


def test_a_revoked_refresh_token_asks_to_reconnect_without_leaking_it(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    credentials = org_server.credentials
    refresh = browser_refresh_token(org_server, credentials.client_id, credentials.client_secret)
    session = OAuthSession(
        org_server.login_url,
        RefreshTokenGrant(credentials.client_id, refresh),
        connection_name="crm",
    )
    client = make_client(session=session)
    client.connect()
    revoke(org_server, refresh)  # also revokes the access tokens issued from it
    before = token_calls(org_server)
    with pytest.raises(ReconnectRequired) as raised:
        client.limits()
    error = raised.value
    assert isinstance(error, FatalError) and error.connection_name == "crm"
    assert "sfbridge connect salesforce upgrade crm" in str(error)
    assert "expired access/refresh token" in str(error)
    assert refresh not in str(error) and refresh not in repr(error)
    with pytest.raises(ReconnectRequired):
        client.limits()  # the failure is remembered: no second token request
    assert token_calls(org_server) == before + 1


def test_a_token_refused_after_refresh_does_not_loop(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    sf_client.connect()
    org_server.org.faults.add_rule(FaultRule("INVALID_SESSION_ID", path_contains="/limits"))
    before = token_calls(org_server)
    with pytest.raises(AuthenticationError, match="INVALID_SESSION_ID"):
        sf_client.limits()
    assert token_calls(org_server) == before + 1


def test_an_expired_session_lifetime_is_refreshed(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    sf_client.connect()
    org_server.org.faults.settings.session_lifetime_seconds = 0.5
    time.sleep(0.6)
    before = token_calls(org_server)
    assert sf_client.count("Contact") >= CONTACTS
    assert token_calls(org_server) == before + 1


def test_eight_threads_failing_together_refresh_once(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    sf_client.connect()
    org_server.app.auth.expire_all_sessions()
    before = token_calls(org_server)
    start = threading.Barrier(8)
    results: list[int] = []

    def work() -> None:
        start.wait()
        results.append(len(sf_client.limits()))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 8
    assert token_calls(org_server) == before + 1


def test_eight_async_tasks_failing_together_refresh_once(org_server: RunningEmulator) -> None:
    credentials = org_server.credentials
    session = OAuthSession(
        org_server.login_url,
        ClientCredentialsGrant(credentials.client_id, credentials.client_secret),
    )

    async def run() -> tuple[int, int]:
        http = HttpOptions(verify=tls_bundle(org_server))
        async with AsyncSalesforceClient(session, http=http) as client:
            await client.connect()
            org_server.app.auth.expire_all_sessions()
            before = token_calls(org_server)
            answers = await asyncio.gather(*(client.limits() for _ in range(8)))
            return before, len(answers)

    before, answered = asyncio.run(run())
    assert answered == 8
    assert token_calls(org_server) == before + 1


def test_a_50000_row_query_survives_three_token_expiries(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    expected = live_contact_ids(org_server)
    assert len(expected) >= CONTACTS
    sf_client.connect()
    before = token_calls(org_server)
    seen: list[str] = []
    for record in sf_client.query("SELECT Id FROM Contact", batch_size=2000):
        seen.append(record["Id"])
        if len(seen) in (10_000, 20_000, 30_000):  # between pages
            org_server.app.auth.expire_all_sessions()
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    assert token_calls(org_server) == before + 3


# -- secrets -------------------------------------------------------------------------


def test_no_secret_appears_in_any_message_or_repr(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    credentials = org_server.credentials
    refresh = browser_refresh_token(org_server, credentials.client_id, credentials.client_secret)
    session = OAuthSession(
        org_server.login_url,
        RefreshTokenGrant(credentials.client_id, refresh, credentials.client_secret),
    )
    client = make_client(session=session)
    tokens = client.connect()
    shown = [repr(session), repr(client), repr(tokens), repr(session.grant), str(session.grant)]
    failures: list[BaseException] = []
    bad_password = PasswordGrant(
        credentials.client_id, credentials.client_secret, credentials.username, "wrong-password"
    )
    bad_secret = ClientCredentialsGrant(credentials.client_id, "0" * 64)
    for grant in (bad_password, bad_secret):
        with pytest.raises(AuthenticationError) as refused:
            make_client(grant).connect()
        failures.append(refused.value)
    org_server.org.faults.add_rule(FaultRule("REQUEST_LIMIT_EXCEEDED", path_contains="/limits"))
    with pytest.raises(FatalError) as limited:
        client.limits()
    failures.append(limited.value)
    revoke(org_server, refresh)
    with pytest.raises(ReconnectRequired) as reconnect:
        client.limits()
    failures.append(reconnect.value)
    shown += [text for error in failures for text in (str(error), repr(error))]
    secrets = [
        tokens.access_token,
        refresh,
        credentials.client_secret,
        credentials.password,
        credentials.security_token,
    ]
    for text in shown:
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {text!r}"


@pytest.mark.slow
def test_eight_threads_each_read_50000_rows_while_sessions_keep_expiring(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    expected = live_contact_ids(org_server)
    sf_client.connect()
    org_server.org.faults.settings.session_lifetime_seconds = 2.0
    seen: list[set[str]] = []

    def read() -> None:
        ids = [r["Id"] for r in sf_client.query("SELECT Id FROM Contact", batch_size=2000)]
        assert len(ids) == len(set(ids))
        seen.append(set(ids))

    before = token_calls(org_server)
    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert seen == [expected] * 8
    refreshes = token_calls(org_server) - before
    assert 0 < refreshes < 8 * 25  # far fewer refreshes than pages: one per expiry
