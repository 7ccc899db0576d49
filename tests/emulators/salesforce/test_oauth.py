"""The emulated org's OAuth server: every flow, the login page, SOAP login, identity, sandbox rules.

Routes run in-process (Starlette ``TestClient``); the unmodified
simple-salesforce login functions reach them through a ``requests`` adapter,
so the tests see exactly the requests that client sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from requests.structures import CaseInsensitiveDict
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import SalesforceLogin
from starlette.applications import Starlette
from starlette.testclient import TestClient

from sfbridge.emulators.salesforce.oauth import AuthService, Flow
from sfbridge.emulators.salesforce.oauth_token import pkce_challenge
from sfbridge.emulators.salesforce.org import ADMIN_USERNAME, INTEGRATION_USERNAME, Org
from sfbridge.salesforce.ids import make_id

INSTANCE = "https://emulator.test"
TOKEN = f"{INSTANCE}/services/oauth2/token"
SANDBOX_HOST = "https://test.salesforce.com"
CLIENT_ID = "3MVG9testclient"
SECRET = "S3CRET-client-secret-value"
PASSWORD = "Pa55word-admin"
CALLBACK = "https://app.example/callback"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class SigningKey:
    """An RSA key as PEM, with a self-signed certificate for it."""

    private_pem: bytes
    certificate_pem: bytes


def _signing_key() -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(pem, certificate.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    """A key whose certificate the test app holds."""
    return _signing_key()


@pytest.fixture
def auth(org: Org, signing_key: SigningKey) -> AuthService:
    """An auth service with one app (all flows) and an admin password."""
    service = AuthService(org, None)
    service.register_app(
        name="Test App",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        callback_urls=[CALLBACK, "http://127.0.0.1:*"],
        certificate_pem=signing_key.certificate_pem,
    )
    service.set_password(ADMIN_USERNAME, PASSWORD)
    return service


@pytest.fixture
def client(auth: AuthService) -> TestClient:
    """The login routes in-process, reached as ``https://emulator.test``."""
    return TestClient(Starlette(routes=auth.routes(lambda: INSTANCE)), base_url=INSTANCE)


class _TestClientAdapter(requests.adapters.BaseAdapter):
    """Lets ``requests`` (and so simple-salesforce) call the in-process app, any host."""

    def __init__(self, client: TestClient) -> None:
        super().__init__()
        self._client = client

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        reply = self._client.request(
            str(request.method),
            str(request.url),
            content=request.body,
            headers=dict(request.headers),
            follow_redirects=False,
        )
        response = requests.Response()
        response.status_code = reply.status_code
        response._content = reply.content
        response.headers = CaseInsensitiveDict(reply.headers)
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def session(client: TestClient) -> requests.Session:
    """A ``requests`` session whose every https call lands on the in-process app."""
    http = requests.Session()
    http.mount("https://", _TestClientAdapter(client))
    return http


def password_login(client: TestClient, url: str = TOKEN, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "username": ADMIN_USERNAME,
        "password": PASSWORD,
        **overrides,
    }
    return client.post(url, data=form)


def assertion(key: SigningKey, **claims: Any) -> str:
    payload = {
        "iss": CLIENT_ID,
        "sub": ADMIN_USERNAME,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
        **claims,
    }
    return jwt.encode(payload, key.private_pem, algorithm="RS256")


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def authorize(
    client: TestClient, verifier: str = "v" * 50, redirect_uri: str = CALLBACK, **form: str
) -> httpx.Response:
    fields = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "state": "xyz",
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "username": ADMIN_USERNAME,
        "password": PASSWORD,
        "action": "allow",
        **form,
    }
    return client.post("/services/oauth2/authorize", data=fields, follow_redirects=False)


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def exchange(
    client: TestClient, code: str, verifier: str = "v" * 50, **form: str
) -> httpx.Response:
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        **form,
    }
    return client.post(TOKEN, data=fields)


# -- password flow and the token response ------------------------------------


def test_password_flow_answers_like_salesforce(
    client: TestClient, auth: AuthService, org: Org
) -> None:
    response = password_login(client)
    assert response.status_code == 200
    body = response.json()
    admin = org.user(username=ADMIN_USERNAME)
    assert admin is not None
    assert set(body) == {
        "access_token",
        "signature",
        "scope",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    }
    assert body["access_token"].startswith(org.org_id[:15] + "!A")
    assert body["instance_url"] == INSTANCE
    assert body["id"] == f"{INSTANCE}/id/{org.org_id}/{admin.id}"
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "api refresh_token"
    assert abs(int(body["issued_at"]) - time.time() * 1000) < 60_000
    mac = hmac.new(SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert body["signature"] == base64.b64encode(mac.digest()).decode()
    session = auth.session_for_token(body["access_token"])
    assert session is not None
    assert session.user.username == ADMIN_USERNAME and session.client_id == CLIENT_ID


def test_password_flow_accepts_the_security_token_appended(
    client: TestClient, auth: AuthService
) -> None:
    defaults = auth.ensure_defaults()
    assert len(defaults.security_token) == 24
    with_token = password_login(client, password=defaults.password + defaults.security_token)
    assert with_token.status_code == 200
    wrong_token = password_login(client, password=defaults.password + "X" * 24)
    assert error_of(wrong_token)[2] == "authentication failure"


@pytest.mark.parametrize(
    "overrides",
    [{"password": "wrong"}, {"username": "nobody@sfbridge.example"}, {"password": ""}],
)
def test_password_flow_rejects_bad_credentials(
    client: TestClient, overrides: dict[str, str]
) -> None:
    response = password_login(client, **overrides)
    assert error_of(response) == (400, "invalid_grant", "authentication failure")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"client_id": "3MVG9unknown"}, ("invalid_client_id", "client identifier invalid")),
        ({"client_secret": "wrong"}, ("invalid_client", "invalid client credentials")),
        ({"client_secret": ""}, ("invalid_client", "invalid client credentials")),
    ],
)
def test_bad_app_credentials_are_refused(
    client: TestClient, overrides: dict[str, str], expected: tuple[str, str]
) -> None:
    assert error_of(password_login(client, **overrides)) == (400, *expected)


def test_unknown_grant_type(client: TestClient) -> None:
    response = client.post(TOKEN, data={"grant_type": "implicit", "client_id": CLIENT_ID})
    assert error_of(response) == (400, "unsupported_grant_type", "grant type not supported")


def test_a_flow_the_app_does_not_enable_is_refused(client: TestClient, auth: AuthService) -> None:
    auth.register_app(
        name="No Password",
        client_id="3MVG9nopw",
        client_secret=SECRET,
        flows={Flow.CLIENT_CREDENTIALS},
    )
    status, error, description = error_of(password_login(client, client_id="3MVG9nopw"))
    assert (status, error) == (400, "invalid_grant")
    assert "password flow is not enabled" in description and "No Password" in description


def test_parameters_in_the_query_string_are_read(client: TestClient) -> None:
    query = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "username": ADMIN_USERNAME,
        "password": PASSWORD,
    }
    assert client.post(TOKEN, params=query).status_code == 200


# -- client credentials -------------------------------------------------------


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_client_credentials_runs_as_the_apps_user(client: TestClient, auth: AuthService) -> None:
    auth.register_app(
        name="Integration",
        client_id="3MVG9int",
        client_secret=SECRET,
        run_as_username=INTEGRATION_USERNAME,
    )
    response = client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic("3MVG9int", SECRET)
    )
    assert response.status_code == 200
    session = auth.session_for_token(response.json()["access_token"])
    assert session is not None and session.user.username == INTEGRATION_USERNAME
    assert "refresh_token" not in response.json()


def test_client_credentials_needs_the_secret_and_a_my_domain(client: TestClient) -> None:
    wrong = client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic(CLIENT_ID, "nope")
    )
    assert error_of(wrong) == (400, "invalid_client", "invalid client credentials")
    shared_host = client.post(
        "https://login.salesforce.com/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic(CLIENT_ID, SECRET),
    )
    assert error_of(shared_host) == (400, "invalid_grant", "request not supported on this domain")


def test_client_credentials_without_a_run_as_user(client: TestClient, auth: AuthService) -> None:
    auth.register_app(
        name="Orphan",
        client_id="3MVG9orphan",
        client_secret=SECRET,
        run_as_username="gone@sfbridge.example",
    )
    response = client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": "3MVG9orphan",
            "client_secret": SECRET,
        },
    )
    assert error_of(response) == (400, "invalid_grant", "no client credentials user enabled")


# -- authorization code, PKCE and the login page ------------------------------


def test_login_page_is_a_plain_html_form(client: TestClient) -> None:
    response = client.get(
        "/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "state": '"><script>',
            "login_hint": ADMIN_USERNAME,
        },
    )
    assert response.status_code == 200
    page = response.text
    assert '<form method="post" action="/services/oauth2/authorize">' in page
    assert 'name="password"' in page and "Test App" in page and "<script" not in page
    assert f'value="{ADMIN_USERNAME}"' in page


def test_authorization_code_flow_with_pkce(client: TestClient, auth: AuthService) -> None:
    code = code_from(authorize(client))
    assert code.startswith("aPrx")
    response = exchange(client, code)
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"].startswith("5Aep861")
    assert auth.session_for_token(body["access_token"]) is not None
    assert error_of(exchange(client, code)) == (400, "invalid_grant", "expired authorization code")


def test_pkce_verifier_must_match(client: TestClient) -> None:
    code = code_from(authorize(client))
    assert error_of(exchange(client, code, verifier="w" * 50)) == (
        400,
        "invalid_grant",
        "invalid code verifier",
    )


def test_redirect_uri_must_match_the_authorize_request(client: TestClient) -> None:
    code = code_from(authorize(client))
    response = exchange(client, code, redirect_uri="https://app.example/other")
    assert error_of(response) == (
        400,
        "redirect_uri_mismatch",
        "redirect_uri must match configuration",
    )


def test_code_without_pkce_needs_the_secret(client: TestClient) -> None:
    code = code_from(authorize(client, code_challenge="", code_challenge_method=""))
    assert error_of(exchange(client, code, verifier="")) == (
        400,
        "invalid_client",
        "invalid client credentials",
    )
    code = code_from(authorize(client, code_challenge="", code_challenge_method=""))
    assert exchange(client, code, verifier="", client_secret=SECRET).status_code == 200


def test_codes_expire_after_15_minutes(client: TestClient, org: Org) -> None:
    code = code_from(authorize(client))
    org.store.clock.advance(timedelta(minutes=15, seconds=1))
    assert error_of(exchange(client, code))[2] == "expired authorization code"


def test_any_loopback_port_is_a_valid_callback(client: TestClient) -> None:
    response = authorize(client, redirect_uri="http://127.0.0.1:53682/callback")
    assert response.headers["location"].startswith("http://127.0.0.1:53682/callback?code=")


def test_bad_password_reshows_the_page(client: TestClient) -> None:
    response = authorize(client, password="wrong")
    assert response.status_code == 200
    assert "Please check your username and password" in response.text
    assert "wrong" not in response.text


def test_deny_redirects_with_access_denied(client: TestClient) -> None:
    response = authorize(client, action="deny")
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["xyz"]


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"client_id": "3MVG9unknown"}, "invalid_client_id"),
        ({"redirect_uri": "https://evil.example/steal"}, "redirect_uri_mismatch"),
        ({"redirect_uri": "http://localhost:9999/callback"}, "redirect_uri_mismatch"),
    ],
)
def test_unknown_app_or_callback_is_an_error_page_never_a_redirect(
    client: TestClient, form: dict[str, str], expected: str
) -> None:
    response = authorize(client, **form)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert expected in response.text


# -- refresh tokens, rotation, revocation, expiry -----------------------------


def refresh(client: TestClient, token: str, **form: str) -> httpx.Response:
    fields = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        **form,
    }
    return client.post(TOKEN, data=fields)


def refresh_token_for(client: TestClient) -> str:
    return str(exchange(client, code_from(authorize(client))).json()["refresh_token"])


def test_refresh_without_rotation_keeps_the_token(client: TestClient) -> None:
    token = refresh_token_for(client)
    first = refresh(client, token)
    assert first.status_code == 200 and "refresh_token" not in first.json()
    assert refresh(client, token).status_code == 200
    assert error_of(refresh(client, "5Aep861unknown")) == (
        400,
        "invalid_grant",
        "expired access/refresh token",
    )


def test_refresh_token_belongs_to_its_app(client: TestClient, auth: AuthService) -> None:
    auth.register_app(name="Other", client_id="3MVG9other", client_secret=SECRET)
    token = refresh_token_for(client)
    response = refresh(client, token, client_id="3MVG9other")
    assert error_of(response)[1:] == ("invalid_grant", "expired access/refresh token")


def test_rotation_replaces_the_refresh_token_and_survives_a_restart(tmp_path: Path) -> None:
    org = Org.open(tmp_path)
    service = AuthService(org, tmp_path)
    service.register_app(
        name="Rotating",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        callback_urls=[CALLBACK],
        rotate_refresh_tokens=True,
    )
    service.set_password(ADMIN_USERNAME, PASSWORD)
    client = TestClient(Starlette(routes=service.routes(lambda: INSTANCE)), base_url=INSTANCE)
    old = refresh_token_for(client)
    rotated = refresh(client, old)
    new = rotated.json()["refresh_token"]
    assert rotated.status_code == 200 and new != old
    assert error_of(refresh(client, old))[2] == "expired access/refresh token"
    org.close()

    reopened = Org.open(tmp_path)
    again = AuthService(reopened, tmp_path)
    client = TestClient(Starlette(routes=again.routes(lambda: INSTANCE)), base_url=INSTANCE)
    assert error_of(refresh(client, old))[2] == "expired access/refresh token"
    newest = refresh(client, new)
    assert newest.status_code == 200
    assert again.session_for_token(newest.json()["access_token"]) is not None
    assert password_login(client).status_code == 200
    reopened.close()


def test_revoking_an_access_token(client: TestClient, auth: AuthService) -> None:
    access = password_login(client).json()["access_token"]
    assert client.post("/services/oauth2/revoke", data={"token": access}).status_code == 200
    assert auth.session_for_token(access) is None
    again = client.post("/services/oauth2/revoke", data={"token": access})
    assert error_of(again) == (400, "invalid_token", "invalid token")


def test_revoking_a_refresh_token_revokes_its_access_tokens(
    client: TestClient, auth: AuthService
) -> None:
    token = refresh_token_for(client)
    access = refresh(client, token).json()["access_token"]
    unrelated = password_login(client).json()["access_token"]
    assert client.get("/services/oauth2/revoke", params={"token": token}).status_code == 200
    assert auth.session_for_token(access) is None
    assert auth.session_for_token(unrelated) is not None
    assert error_of(refresh(client, token))[2] == "expired access/refresh token"


def test_sessions_expire_after_the_configured_lifetime(
    client: TestClient, auth: AuthService, org: Org
) -> None:
    access = password_login(client).json()["access_token"]
    org.faults.settings.session_lifetime_seconds = 60
    org.store.clock.advance(timedelta(seconds=59))
    assert auth.session_for_token(access) is not None
    org.store.clock.advance(timedelta(seconds=2))
    assert auth.session_for_token(access) is None
    org.faults.settings.session_lifetime_seconds = None
    assert auth.session_for_token(access) is not None


def test_expire_all_sessions_keeps_refresh_tokens(client: TestClient, auth: AuthService) -> None:
    token = refresh_token_for(client)
    accesses = [password_login(client).json()["access_token"] for _ in range(2)]
    assert auth.expire_all_sessions() == 3
    assert all(auth.session_for_token(a) is None for a in accesses)
    assert refresh(client, token).status_code == 200


# -- JWT bearer ---------------------------------------------------------------


def jwt_login(client: TestClient, token: str, url: str = TOKEN) -> httpx.Response:
    return client.post(url, data={"grant_type": JWT_BEARER, "assertion": token})


def test_jwt_bearer_flow(client: TestClient, auth: AuthService, signing_key: SigningKey) -> None:
    response = jwt_login(client, assertion(signing_key))
    assert response.status_code == 200
    session = auth.session_for_token(response.json()["access_token"])
    assert session is not None and session.user.username == ADMIN_USERNAME
    own_url = jwt_login(client, assertion(signing_key, aud=INSTANCE))
    assert own_url.status_code == 200


@pytest.mark.parametrize(
    ("claims", "other_key", "expected"),
    [
        ({}, True, ("invalid_grant", "invalid assertion")),
        ({"aud": "https://evil.example"}, False, ("invalid_grant", "audience is invalid")),
        ({"aud": "https://test.salesforce.com"}, False, ("invalid_grant", "audience is invalid")),
        ({"exp": int(time.time()) - 5}, False, ("invalid_grant", "expired authorization code")),
        ({"iss": "3MVG9unknown"}, False, ("invalid_client_id", "client identifier invalid")),
        (
            {"sub": "nobody@sfbridge.example"},
            False,
            ("invalid_grant", "user hasn't approved this consumer"),
        ),
    ],
)
def test_jwt_bearer_failures(
    client: TestClient,
    signing_key: SigningKey,
    claims: dict[str, Any],
    other_key: bool,
    expected: tuple[str, str],
) -> None:
    key = _signing_key() if other_key else signing_key
    assert error_of(jwt_login(client, assertion(key, **claims))) == (400, *expected)


def test_jwt_garbage_assertion(client: TestClient) -> None:
    assert error_of(jwt_login(client, "not-a-jwt"))[2] == "invalid assertion"


# -- sandbox login hosts ------------------------------------------------------


SANDBOX_ADMIN = ADMIN_USERNAME + ".dev"


def test_sandbox_host_needs_the_suffixed_username(client: TestClient, auth: AuthService) -> None:
    sandbox_token = f"{SANDBOX_HOST}/services/oauth2/token"
    response = password_login(client, sandbox_token, username=SANDBOX_ADMIN)
    assert response.status_code == 200
    assert response.json()["id"].startswith(f"{SANDBOX_HOST}/id/")
    session = auth.session_for_token(response.json()["access_token"])
    assert session is not None and session.user.username == ADMIN_USERNAME
    assert error_of(password_login(client, sandbox_token))[2] == "authentication failure"
    assert error_of(password_login(client, username=SANDBOX_ADMIN))[2] == "authentication failure"


def test_sandbox_path_prefix_and_my_domain_hosts(client: TestClient) -> None:
    prefixed = password_login(
        client, f"{INSTANCE}/sandbox/services/oauth2/token", username=SANDBOX_ADMIN
    )
    assert prefixed.status_code == 200
    assert prefixed.json()["id"].startswith(f"{INSTANCE}/sandbox/id/")
    my_domain = "https://acme--dev.sandbox.my.salesforce.com/services/oauth2/token"
    assert password_login(client, my_domain, username=SANDBOX_ADMIN).status_code == 200
    assert password_login(client, my_domain).status_code == 400


def test_sandbox_jwt_uses_the_sandbox_audience(client: TestClient, signing_key: SigningKey) -> None:
    url = f"{SANDBOX_HOST}/services/oauth2/token"
    good = assertion(signing_key, sub=SANDBOX_ADMIN, aud=SANDBOX_HOST)
    assert jwt_login(client, good, url).status_code == 200
    plain_user = assertion(signing_key, aud=SANDBOX_HOST)
    assert error_of(jwt_login(client, plain_user, url))[2] == "user hasn't approved this consumer"


def test_sandbox_login_page(client: TestClient) -> None:
    page = client.get(
        "/sandbox/services/oauth2/authorize",
        params={"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK},
    )
    assert 'action="/sandbox/services/oauth2/authorize"' in page.text and ".dev" in page.text
    form = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "state": "xyz",
        "username": SANDBOX_ADMIN,
        "password": PASSWORD,
        "action": "allow",
    }
    allowed = client.post("/sandbox/services/oauth2/authorize", data=form, follow_redirects=False)
    assert allowed.status_code == 302


# -- identity and userinfo ----------------------------------------------------


def test_identity_url(client: TestClient, org: Org) -> None:
    body = password_login(client).json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    identity = client.get(body["id"], headers=headers)
    assert identity.status_code == 200
    facts = identity.json()
    assert facts["id"] == body["id"] and facts["organization_id"] == org.org_id
    assert facts["username"] == ADMIN_USERNAME and facts["display_name"] == "Ada Admin"
    assert facts["urls"]["rest"] == f"{INSTANCE}/services/data/v{{version}}/"
    assert facts["urls"]["query"] == f"{INSTANCE}/services/data/v{{version}}/query/"
    assert client.get(body["id"]).status_code == 403
    other_org = body["id"].replace(org.org_id, make_id("00D", 99))
    wrong = client.get(other_org, headers=headers)
    assert (wrong.status_code, wrong.text) == (403, "Wrong_Org")


def test_userinfo(client: TestClient) -> None:
    body = password_login(
        client, f"{SANDBOX_HOST}/services/oauth2/token", username=SANDBOX_ADMIN
    ).json()
    info = client.get(
        "/services/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json()
    assert info["sub"] == f"{INSTANCE}/id/{info['organization_id']}/{info['user_id']}"
    assert info["preferred_username"] == SANDBOX_ADMIN
    assert info["zoneinfo"] == "America/Los_Angeles" and info["email"] == ADMIN_USERNAME
    assert "rest" in info["urls"]
    bad = client.get("/services/oauth2/userinfo", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, bad.text) == (403, "Bad_OAuth_Token")


# -- unmodified simple-salesforce logins --------------------------------------


def test_simple_salesforce_soap_login(
    session: requests.Session, auth: AuthService, org: Org
) -> None:
    defaults = auth.ensure_defaults()
    session_id, instance = SalesforceLogin(
        username=defaults.username,
        password=defaults.password,
        security_token=defaults.security_token,
        session=session,
    )
    assert instance == "emulator.test"
    assert auth.session_for_token(session_id) is not None
    by_org, _ = SalesforceLogin(
        username=defaults.username,
        password=defaults.password,
        organizationId=org.org_id[:15],
        session=session,
    )
    assert auth.session_for_token(by_org) is not None
    sandbox, _ = SalesforceLogin(
        username=SANDBOX_ADMIN,
        password=defaults.password,
        security_token=defaults.security_token,
        domain="test",
        session=session,
    )
    assert auth.session_for_token(sandbox) is not None


def test_soap_login_envelopes(client: TestClient, org: Org) -> None:
    envelope = (
        '<?xml version="1.0" encoding="utf-8" ?><env:Envelope '
        'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
        '<n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{user}</n1:username>'
        "<n1:password>{password}</n1:password></n1:login></env:Body></env:Envelope>"
    )
    ok = client.post(
        "/sandbox/services/Soap/u/59.0",
        content=envelope.format(user=SANDBOX_ADMIN, password=PASSWORD),
        headers={"SOAPAction": "login"},
    )
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/xml")
    assert f"<serverUrl>{INSTANCE}/services/Soap/u/59.0/{org.org_id[:15]}</serverUrl>" in ok.text
    assert "<sandbox>true</sandbox>" in ok.text and f"<userName>{SANDBOX_ADMIN}<" in ok.text
    bad = client.post(
        "/services/Soap/u/59.0",
        content=envelope.format(user=ADMIN_USERNAME, password="wrong"),
        headers={"SOAPAction": "login"},
    )
    assert bad.status_code == 500
    assert "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>" in bad.text
    assert (
        "<faultstring>INVALID_LOGIN: Invalid username, password, security token; "
        "or user locked out.</faultstring>"
    ) in bad.text


def test_simple_salesforce_soap_login_failure(session: requests.Session) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        SalesforceLogin(
            username=ADMIN_USERNAME, password="wrong", security_token="x", session=session
        )
    assert failure.value.code == "INVALID_LOGIN"
    with pytest.raises(SalesforceAuthenticationFailed):
        SalesforceLogin(
            username=ADMIN_USERNAME,
            password=PASSWORD,
            organizationId="00D000000000009",
            session=session,
        )


def test_simple_salesforce_oauth_logins(
    session: requests.Session, auth: AuthService, signing_key: SigningKey
) -> None:
    by_password, instance = SalesforceLogin(
        username=ADMIN_USERNAME,
        password=PASSWORD,
        consumer_key=CLIENT_ID,
        consumer_secret=SECRET,
        session=session,
    )
    by_jwt, _ = SalesforceLogin(
        username=ADMIN_USERNAME,
        consumer_key=CLIENT_ID,
        privatekey=signing_key.private_pem.decode(),
        session=session,
    )
    by_client, _ = SalesforceLogin(
        consumer_key=CLIENT_ID, consumer_secret=SECRET, domain="acme.my", session=session
    )
    assert instance == "emulator.test"
    assert all(auth.session_for_token(t) for t in (by_password, by_jwt, by_client))


# -- default credentials and persistence -------------------------------------


def test_default_credentials_are_stable_and_work(org: Org) -> None:
    service = AuthService(org, None)
    first = service.ensure_defaults()
    assert service.ensure_defaults() == first
    assert first.jwt_key_file is None and first.username == ADMIN_USERNAME
    client = TestClient(Starlette(routes=service.routes(lambda: INSTANCE)), base_url=INSTANCE)
    http = requests.Session()
    http.mount("https://", _TestClientAdapter(client))
    token, _ = SalesforceLogin(
        username=first.username,
        consumer_key=first.client_id,
        privatekey=first.jwt_private_key_pem.decode(),
        session=http,
    )
    assert service.session_for_token(token) is not None
    soap, _ = SalesforceLogin(
        username=first.username,
        password=first.password,
        security_token=first.security_token,
        session=http,
    )
    assert service.session_for_token(soap) is not None
    assert (
        refresh(
            client,
            first.refresh_token,
            client_id=first.client_id,
            client_secret=first.client_secret,
        ).status_code
        == 200
    )
    integration = password_login(
        client,
        username=INTEGRATION_USERNAME,
        password=first.password,
        client_id=first.client_id,
        client_secret=first.client_secret,
    )
    assert integration.status_code == 200
    service.set_password(ADMIN_USERNAME, "Changed-1")
    assert service.ensure_defaults().password == "Changed-1"


def test_default_credentials_persist_in_the_data_dir(tmp_path: Path) -> None:
    org = Org.open(tmp_path)
    first = AuthService(org, tmp_path).ensure_defaults()
    org.close()
    assert first.jwt_key_file == tmp_path / "jwt_private_key.pem"
    assert stat.S_IMODE(os.stat(first.jwt_key_file).st_mode) == 0o600
    reopened = Org.open(tmp_path)
    service = AuthService(reopened, tmp_path)
    assert service.ensure_defaults() == first
    client = TestClient(Starlette(routes=service.routes(lambda: INSTANCE)), base_url=INSTANCE)
    response = refresh(
        client, first.refresh_token, client_id=first.client_id, client_secret=first.client_secret
    )
    assert response.status_code == 200
    reopened.close()


def test_revoked_default_refresh_token_is_replaced(org: Org) -> None:
    service = AuthService(org, None)
    first = service.ensure_defaults()
    client = TestClient(Starlette(routes=service.routes(lambda: INSTANCE)), base_url=INSTANCE)
    client.post("/services/oauth2/revoke", data={"token": first.refresh_token})
    second = service.ensure_defaults()
    assert second.refresh_token != first.refresh_token
    assert second.client_id == first.client_id and second.password == first.password


def test_register_app_checks_its_input(auth: AuthService) -> None:
    with pytest.raises(ValueError, match="unknown flows \\['implicit'\\]"):
        auth.register_app(name="Bad", flows={"implicit"})
    with pytest.raises(ValueError, match="must be absolute"):
        auth.register_app(name="Bad", callback_urls=["/relative"])
    with pytest.raises(ValueError, match=r"not PEM X\.509"):
        auth.register_app(name="Bad", certificate_pem=b"nope")
    with pytest.raises(LookupError, match="no user named 'ghost@x'"):
        auth.set_password("ghost@x", "pw")


# -- secrets never leak -------------------------------------------------------


def test_no_secret_appears_in_error_bodies(client: TestClient, signing_key: SigningKey) -> None:
    leaked_secret, leaked_password = "Leaky-Secret-123", "Leaky-Password-456"
    responses = [
        password_login(client, client_secret=leaked_secret),
        password_login(client, password=leaked_password),
        password_login(client, client_id=leaked_secret),
        refresh(client, leaked_secret),
        jwt_login(client, leaked_secret),
        client.post(TOKEN, data={"grant_type": leaked_secret}),
        client.post("/services/oauth2/revoke", data={"token": leaked_secret}),
        authorize(client, password=leaked_password),
        authorize(client, client_id=leaked_secret),
        client.post(
            "/services/Soap/u/59.0",
            content=f"<login><username>u</username><password>{leaked_password}</password></login>",
        ),
    ]
    for response in responses:
        assert response.status_code >= 200
        assert leaked_secret not in response.text and leaked_password not in response.text
        assert SECRET not in response.text and PASSWORD not in response.text
