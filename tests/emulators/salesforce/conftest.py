"""Fixtures for the Salesforce org emulator: an in-memory org and an API client on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from sfbridge.emulators.salesforce.app import EmulatorApp, create_app
from sfbridge.emulators.salesforce.oauth import AuthService, DefaultCredentials
from sfbridge.emulators.salesforce.org import INTEGRATION_USERNAME, Org

INSTANCE = "https://emulator.test"
VERSION = "v62.0"


@dataclass
class Api:
    """A logged-in REST client on the in-process emulator."""

    client: TestClient
    org: Org
    emulator: EmulatorApp
    credentials: DefaultCredentials
    base: str = f"/services/data/{VERSION}"

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, **kw: object):
        return self.client.get(self.url(path), **kw)

    def post(self, path: str, json: object = None, **kw: object):
        return self.client.post(self.url(path), json=json, **kw)

    def patch(self, path: str, json: object = None, **kw: object):
        return self.client.patch(self.url(path), json=json, **kw)

    def delete(self, path: str, **kw: object):
        return self.client.delete(self.url(path), **kw)


def login(client: TestClient, credentials: DefaultCredentials, username: str, password: str) -> str:
    """An access token through the OAuth password flow."""
    response = client.post(
        "/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "username": username,
            "password": password,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def org() -> Iterator[Org]:
    """An empty in-memory org."""
    created = Org.open(None)
    yield created
    created.close()


def _api(org: Org, username: str | None = None, password: str | None = None) -> Api:
    auth = AuthService(org, None)
    credentials = auth.ensure_defaults()
    emulator = create_app(org, auth, lambda: INSTANCE)
    client = TestClient(emulator.asgi, base_url=INSTANCE)
    token = login(
        client, credentials, username or credentials.username, password or credentials.password
    )
    client.headers["Authorization"] = f"Bearer {token}"
    return Api(client=client, org=org, emulator=emulator, credentials=credentials)


@pytest.fixture
def api(org: Org) -> Api:
    """A REST client logged in as the org's administrator."""
    return _api(org)


@pytest.fixture
def restricted_api(org: Org) -> Api:
    """A REST client logged in as the integration user whose profile hides some fields."""
    admin = _api(org)
    auth = admin.emulator.auth
    auth.set_password(INTEGRATION_USERNAME, "Integr4tion!")
    return _api(org, INTEGRATION_USERNAME, "Integr4tion!")
