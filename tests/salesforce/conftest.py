"""Fixtures for the Salesforce client: a real emulated org over HTTPS, and clients of it.

One org serves the whole session (50,000 contacts, for the paging tests);
the ``org_server`` fixture puts its faults and limits back after each test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sfbridge.emulators.salesforce.login_robot import complete_login
from sfbridge.emulators.salesforce.seed import seed_org
from sfbridge.emulators.salesforce.server import RunningEmulator, start_emulator
from sfbridge.salesforce import (
    ClientCredentialsGrant,
    Grant,
    HttpOptions,
    OAuthSession,
    RetryPolicy,
    SalesforceClient,
)

CONTACTS = 50_000
UNLIMITED = 10_000_000
SCHEMA = """
objects:
  Contact:
    fields:
      - {name: Ext_Id__c, type: string, externalId: true, unique: true}
      - {name: Legacy_Id__c, type: string, externalId: true}
"""


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An org with 50,000 seeded contacts and two external id fields on Contact."""
    data_dir: Path = tmp_path_factory.mktemp("sf-client-org")
    schema = data_dir / "schema.yaml"
    schema.write_text(SCHEMA)
    running = start_emulator(data_dir, schema_file=schema)
    seed_org(running.org, CONTACTS, seed=11, only={"Contact"})
    running.org.faults.settings.daily_api_limit = UNLIMITED
    yield running
    running.stop()


@pytest.fixture
def org_server(emulator: RunningEmulator) -> Iterator[RunningEmulator]:
    """The session's emulator, with faults, limits and session lifetime reset after the test."""
    yield emulator
    faults = emulator.org.faults
    faults.clear()
    faults.settings.session_lifetime_seconds = None
    faults.settings.daily_api_limit = UNLIMITED


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the client asked for; passed as its ``sleep`` so no test waits."""
    return []


@pytest.fixture
def make_client(
    org_server: RunningEmulator, sleeps: list[float]
) -> Iterator[Callable[..., SalesforceClient]]:
    """Build clients of the emulator (client credentials by default); all closed afterwards."""
    built: list[SalesforceClient] = []

    def build(
        grant: Grant | None = None, *, session: OAuthSession | None = None, **options: Any
    ) -> SalesforceClient:
        credentials = org_server.credentials
        chosen = grant or ClientCredentialsGrant(credentials.client_id, credentials.client_secret)
        options.setdefault("retry", RetryPolicy(max_attempts=5, base_delay=0.01))
        client = SalesforceClient(
            session or OAuthSession(org_server.login_url, chosen),
            http=HttpOptions(verify=tls_bundle(org_server)),
            sleep=sleeps.append,
            **options,
        )
        built.append(client)
        return client

    yield build
    for client in built:
        client.close()


@pytest.fixture
def sf_client(make_client: Callable[..., SalesforceClient]) -> SalesforceClient:
    """A client of the emulator logged in with the client credentials flow."""
    return make_client()


def tls_bundle(running: RunningEmulator) -> Path:
    """The emulator's CA bundle."""
    assert running.tls is not None
    return running.tls.ca_bundle


def token_calls(running: RunningEmulator) -> int:
    """How many token requests the org has answered so far."""
    return running.org.faults.call_count(path_contains="/oauth2/token", counted_only=False)


def api_calls(running: RunningEmulator) -> int:
    """How many API calls the org counted so far."""
    return running.org.faults.call_count(path_contains="/services/data/")


def complete_login_form(running: RunningEmulator, *, allow: bool = True) -> Callable[[str], str]:
    """A stand-in browser for ``open_browser``: logs in on the emulator's page, follows the
    redirect, and returns the page the loopback listener answered."""

    def open_browser(url: str) -> str:
        creds = running.credentials
        answer = complete_login(
            url,
            username=creds.username,
            password=creds.password,
            verify=running.trust(),
            allow=allow,
        )
        return answer.text

    return open_browser


Answer = Callable[[], httpx.Response] | Exception


def answer(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> Callable[[], httpx.Response]:
    """A scripted answer (a fresh ``httpx.Response`` each time it is used)."""
    return lambda: httpx.Response(status, json=body, headers=headers)


def error_answer(
    status: int, code: str, headers: dict[str, str] | None = None
) -> Callable[[], httpx.Response]:
    """A REST error answer in Salesforce's shape."""
    return answer(
        status, [{"errorCode": code, "message": f"{code} happened", "fields": []}], headers
    )


class FakeOrg:
    """An in-process stand-in for an org, for what the emulator cannot be made to do.

    The token endpoint always logs in; API calls get the scripted answers in
    order, the last one repeating. Plug it in through the transport seam.
    """

    INSTANCE = "https://fake.my.salesforce.com"

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.api_requests: list[httpx.Request] = []
        self.token_requests = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/services/oauth2/token":
            self.token_requests += 1
            body = {"access_token": f"00Dfake!{self.token_requests}", "instance_url": self.INSTANCE}
            return httpx.Response(200, json=body)
        self.api_requests.append(request)
        scripted = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(scripted, Exception):
            raise scripted
        return scripted()

    def client(self, sleeps: list[float], **options: Any) -> SalesforceClient:
        """A client of this fake org, logged in with client credentials."""
        options.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=1.0, jitter=lambda: 0.5))
        session = OAuthSession(self.INSTANCE, ClientCredentialsGrant("3MVG9fake", "fake-secret"))
        http = HttpOptions(transport=httpx.MockTransport(self.handle))
        return SalesforceClient(session, http=http, sleep=sleeps.append, **options)
