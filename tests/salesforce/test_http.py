"""The request loop and its drivers: headers, gzip, TLS trust, network errors, path safety."""

from __future__ import annotations

import gzip
import json
import ssl
from collections.abc import Generator

import httpx
import pytest

from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.errors import ConfigError
from sfbridge.salesforce import (
    ClientCredentialsGrant,
    HttpOptions,
    OAuthSession,
    RetryPolicy,
    SalesforceClient,
    SalesforceConfigError,
    SalesforceRetriableError,
)
from sfbridge.salesforce.http import Outcome, Sleep, Step, SyncDriver, normalize_api_version

from .conftest import FakeOrg, answer, tls_bundle


def test_every_call_sends_the_token_gzip_and_json_headers(sleeps: list[float]) -> None:
    org = FakeOrg(answer(200, {}, {"Sforce-Limit-Info": "api-usage=5/100"}))
    with org.client(sleeps) as client:
        client.limits()
    (request,) = org.api_requests
    assert request.headers["Authorization"] == "Bearer 00Dfake!1"
    assert request.headers["Accept-Encoding"] == "gzip"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("sfbridge/")
    assert request.url == "https://fake.my.salesforce.com/services/data/v62.0/limits"


def test_gzip_answers_are_decoded(sleeps: list[float]) -> None:
    body = gzip.compress(json.dumps({"DailyApiRequests": {"Max": 9, "Remaining": 8}}).encode())

    def compressed() -> httpx.Response:
        return httpx.Response(
            200,
            content=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    with FakeOrg(compressed).client(sleeps) as client:
        assert client.limits()["DailyApiRequests"].remaining == 8


def test_network_errors_are_retried_then_reported(sleeps: list[float]) -> None:
    org = FakeOrg(httpx.ConnectError("connection refused"))
    with org.client(sleeps) as client, pytest.raises(SalesforceRetriableError) as failed:
        client.limits()
    error = failed.value
    assert error.error_code == "TRANSPORT_ERROR"
    assert "connection refused" in str(error) and "https://fake.my.salesforce.com" in str(error)
    assert len(org.api_requests) == 4 and len(sleeps) == 3


def test_an_untrusted_certificate_is_a_config_error_not_retried(
    org_server: RunningEmulator, sleeps: list[float]
) -> None:
    credentials = org_server.credentials
    session = OAuthSession(
        org_server.login_url,
        ClientCredentialsGrant(credentials.client_id, credentials.client_secret),
    )
    with (
        SalesforceClient(session, http=HttpOptions(verify=True), sleep=sleeps.append) as client,
        pytest.raises(SalesforceConfigError, match="TLS certificate is not trusted") as failed,
    ):
        client.connect()
    assert "CA bundle" in str(failed.value) and sleeps == []


def test_a_ca_bundle_path_becomes_an_ssl_context(org_server: RunningEmulator) -> None:
    assert isinstance(HttpOptions(verify=tls_bundle(org_server)).ssl_context(), ssl.SSLContext)
    assert isinstance(HttpOptions(verify=str(tls_bundle(org_server))).ssl_context(), ssl.SSLContext)
    assert HttpOptions(verify=False).ssl_context() is False
    with pytest.raises(ConfigError, match=r"CA bundle '/nowhere/ca\.pem' does not exist"):
        HttpOptions(verify="/nowhere/ca.pem").ssl_context()


def test_a_next_records_url_to_another_host_is_never_followed(sleeps: list[float]) -> None:
    page = {
        "totalSize": 4000,
        "done": False,
        "nextRecordsUrl": "https://evil.example/services/data/v62.0/query/01g-2000",
        "records": [{"Id": "003A"}],
    }
    org = FakeOrg(answer(200, page))
    with org.client(sleeps) as client:
        records = client.query("SELECT Id FROM Contact")
        assert next(records)["Id"] == "003A"
        with pytest.raises(SalesforceConfigError, match="not a Salesforce path"):
            next(records)
    assert len(org.api_requests) == 1


@pytest.mark.parametrize(
    ("given", "expected"), [("62.0", "62.0"), ("v58.0", "58.0"), ("v100.0", "100.0")]
)
def test_api_versions_are_normalized(given: str, expected: str) -> None:
    assert normalize_api_version(given) == expected


@pytest.mark.parametrize("given", ["62", "v62", "62.00", "latest", "v6x.0"])
def test_odd_api_versions_are_config_errors(given: str) -> None:
    with pytest.raises(ConfigError, match=f"API version '{given}'"):
        normalize_api_version(given)


def test_a_failed_step_is_raised_inside_the_flow() -> None:
    def flow() -> Generator[Step, Outcome, str]:
        try:
            yield Sleep(1.0)
        except RuntimeError as error:
            return f"handled {error}"
        return "not reached"

    def broken_sleep(seconds: float) -> None:
        raise RuntimeError("interrupted")

    session = OAuthSession("https://x.my.salesforce.com", ClientCredentialsGrant("id", "secret"))
    with httpx.Client() as http:
        driver = SyncDriver(http, session, RetryPolicy(), broken_sleep)
        assert driver.run(flow()) == "handled interrupted"


def test_a_refresh_that_gives_up_is_not_retried_again_by_the_call(sleeps: list[float]) -> None:
    token_answers = [
        httpx.Response(200, json={"access_token": "a", "instance_url": FakeOrg.INSTANCE})
    ]
    seen = {"token": 0, "api": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/services/oauth2/token":
            seen["token"] += 1
            return token_answers.pop() if token_answers else httpx.Response(503, text="down")
        seen["api"] += 1
        return httpx.Response(401, json=[{"errorCode": "INVALID_SESSION_ID", "message": "x"}])

    session = OAuthSession(FakeOrg.INSTANCE, ClientCredentialsGrant("3MVG9fake", "secret"))
    http = HttpOptions(transport=httpx.MockTransport(handle))
    policy = RetryPolicy(max_attempts=4, jitter=lambda: 0.0)
    with (
        SalesforceClient(session, http=http, retry=policy, sleep=sleeps.append) as client,
        pytest.raises(SalesforceRetriableError) as failed,
    ):
        client.limits()
    assert failed.value.attempts == 4 and failed.value.status == 503
    assert seen == {"token": 1 + 4, "api": 1}
