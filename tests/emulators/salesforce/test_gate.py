"""Faults, the daily allowance, session expiry, latency and the call log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sfbridge.emulators.salesforce.faults import FaultRule
from sfbridge.emulators.salesforce.org import Org

from .conftest import Api, login


def test_injected_errors_have_real_statuses(api: Api, org: Org) -> None:
    for code, status in [
        ("UNABLE_TO_LOCK_ROW", 400),
        ("SERVER_UNAVAILABLE", 503),
        ("REQUEST_LIMIT_EXCEEDED", 403),
        ("UNKNOWN_EXCEPTION", 500),
        ("QUERY_TIMEOUT", 400),
        ("TOO_MANY_REQUESTS", 429),
    ]:
        org.faults.clear()
        org.faults.add_rule(FaultRule(code, rate=1.0))
        response = api.get("/limits")
        assert response.status_code == status
        assert response.json()[0]["errorCode"] == code
        assert ("Retry-After" in response.headers) == (status == 429)


def test_fault_rate_applies_to_a_share_of_calls(api: Api, org: Org) -> None:
    org.faults.add_rule(FaultRule("SERVER_UNAVAILABLE", rate=0.3, path_contains="/limits"))
    statuses = [api.get("/limits").status_code for _ in range(200)]
    failures = statuses.count(503)
    assert 30 <= failures <= 90
    assert api.get("/sobjects").status_code == 200


def test_fault_with_a_count_stops_after_that_many(api: Api, org: Org) -> None:
    org.faults.add_rule(FaultRule("UNABLE_TO_LOCK_ROW", rate=1.0, remaining=2))
    assert [api.get("/limits").status_code for _ in range(4)] == [400, 400, 200, 200]


def test_unknown_fault_code_is_refused(org: Org) -> None:
    with pytest.raises(ValueError, match="unknown errorCode 'NOPE'"):
        org.faults.add_rule(FaultRule("NOPE"))


def test_daily_allowance_runs_out(api: Api, org: Org) -> None:
    org.faults.settings.daily_api_limit = org.faults.api_used + 3
    statuses = [api.get("/limits").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 403, 403]
    response = api.get("/limits")
    assert response.json()[0] == {
        "message": "TotalRequests Limit exceeded.",
        "errorCode": "REQUEST_LIMIT_EXCEEDED",
    }


def test_sessions_expire_after_their_lifetime(api: Api, org: Org) -> None:
    org.faults.settings.session_lifetime_seconds = 60
    assert api.get("/limits").status_code == 200
    org.store.clock.advance(timedelta(seconds=61))
    response = api.get("/limits")
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_sessions_expire_every_nth_call(api: Api, org: Org) -> None:
    org.faults.settings.session_lifetime_calls = 3
    statuses = []
    for _ in range(7):
        response = api.get("/limits")
        statuses.append(response.status_code)
        if response.status_code == 401:
            assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"
            credentials = api.credentials
            token = login(api.client, credentials, credentials.username, credentials.password)
            api.client.headers["Authorization"] = f"Bearer {token}"
    assert statuses == [200, 200, 401, 200, 200, 401, 200]


def test_missing_token_is_invalid_session_and_not_counted(api: Api, org: Org) -> None:
    used = org.faults.api_used
    response = api.client.get(api.url("/limits"), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert org.faults.api_used == used


def test_call_log_counts_api_calls(api: Api, org: Org) -> None:
    before = org.faults.call_count()
    api.get("/sobjects/Account/describe")
    api.get("/limits")
    assert org.faults.call_count() == before + 2
    assert org.faults.call_count(path_contains="/describe") == 1
    assert org.faults.calls[-1].status == 200


def test_admin_api_drives_the_same_state(api: Api, org: Org) -> None:
    client = api.client
    added = client.post("/__admin__/faults", json={"errorCode": "SERVER_UNAVAILABLE", "rate": 1})
    assert added.status_code == 200
    assert api.get("/limits").status_code == 503
    client.delete("/__admin__/faults")
    assert api.get("/limits").status_code == 200
    client.put(
        "/__admin__/settings",
        json={"dailyApiRequests": 5000, "latencyMs": 0, "sessionLifetimeCalls": 2000},
    )
    assert org.faults.settings.session_lifetime_calls == 2000
    assert api.get("/limits").json()["DailyApiRequests"]["Max"] == 5000
    bad = client.post("/__admin__/faults", json={"errorCode": "BOGUS"})
    assert bad.status_code == 400 and "BOGUS" in bad.json()["error"]
    calls = client.get("/__admin__/calls").json()
    assert calls[-1]["path"].endswith("/limits")
    counts = client.get("/__admin__/counts").json()
    assert counts["Contact"] == {"live": 0, "deleted": 0}
