"""The retry table, row by row through the real client, and the backoff arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from sfbridge.backoff import parse_retry_after
from sfbridge.errors import ConfigError
from sfbridge.salesforce import RETRY_TABLE, Action, RetryPolicy, Rule, rule_for
from sfbridge.salesforce.retry import DEFAULT_RULE, TRANSPORT_ERROR

from .conftest import Answer, FakeOrg, answer, error_answer

# The status a real org answers each errorCode with (REST API, "Status Codes and Error Responses").
_STATUS_OF = {
    "INVALID_SESSION_ID": 401,
    "REQUEST_LIMIT_EXCEEDED": 403,
    "API_DISABLED_FOR_ORG": 403,
    "SERVER_UNAVAILABLE": 503,
    "UNKNOWN_EXCEPTION": 500,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "DUPLICATE_EXTERNAL_ID": 300,
}


def _answer_for(key: str | int) -> Answer:
    """The failure a table row stands for, as an org (or the network) would produce it."""
    if key == TRANSPORT_ERROR:
        return httpx.ConnectError("connection refused")
    if key == 300:
        return answer(300, ["/services/data/v62.0/sobjects/Contact/003000000000001AAA"])
    if isinstance(key, int):
        return error_answer(key, "A_CODE_NOT_IN_THE_TABLE")
    return error_answer(_STATUS_OF.get(key, 400), key)


@pytest.mark.parametrize(("key", "rule"), list(RETRY_TABLE.items()), ids=str)
def test_every_row_of_the_table_does_what_it_says(key: str | int, rule: Rule) -> None:
    org = FakeOrg(_answer_for(key))
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, jitter=lambda: 0.5)
    with org.client(sleeps, retry=policy) as client, pytest.raises(rule.error) as raised:
        client.limits()
    assert type(raised.value) is rule.error
    if rule.action is Action.RETRY:
        assert len(org.api_requests) == raised.value.attempts == policy.attempts(rule)
        assert len(sleeps) == policy.attempts(rule) - 1
    elif rule.action is Action.REFRESH_THEN_RETRY:
        assert len(org.api_requests) == 2
        assert org.token_requests == 2  # the first login, then one refresh
        assert sleeps == []
    else:
        assert len(org.api_requests) == 1
        assert sleeps == []


def test_error_code_comes_before_status() -> None:
    assert rule_for("UNABLE_TO_LOCK_ROW", 400).action is Action.RETRY
    assert rule_for("", 400).action is Action.SKIP
    assert rule_for("QUERY_TIMEOUT", 400).max_attempts == 2
    assert rule_for("A_NEW_CODE", 503).action is Action.RETRY
    assert rule_for("A_NEW_CODE", 418) is DEFAULT_RULE
    assert rule_for("", None) is DEFAULT_RULE


def test_a_transient_failure_that_clears_is_invisible_to_the_caller() -> None:
    org = FakeOrg(
        error_answer(503, "SERVER_UNAVAILABLE"),
        httpx.ReadTimeout("slow"),
        answer(200, {"DailyApiRequests": {"Max": 100, "Remaining": 90}}),
    )
    sleeps: list[float] = []
    with org.client(sleeps) as client:
        assert client.limits()["DailyApiRequests"].used == 10
    assert len(org.api_requests) == 3
    assert sleeps == [0.5, 1.0]  # full jitter (0.5 here) of 1 s, then of 2 s


def test_retry_after_is_honoured_in_seconds_and_as_a_date() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    org = FakeOrg(
        error_answer(429, "", {"Retry-After": "7"}),
        error_answer(503, "SERVER_UNAVAILABLE", {"Retry-After": later}),
        answer(200, {}),
    )
    sleeps: list[float] = []
    with org.client(sleeps) as client:
        client.limits()
    assert sleeps[0] == 7.0
    assert 25 < sleeps[1] <= 30


@pytest.mark.parametrize(
    ("retry", "jitter", "expected"),
    [
        (1, 1.0, 1.0),
        (2, 1.0, 2.0),
        (3, 1.0, 4.0),
        (4, 1.0, 8.0),
        (5, 1.0, 10.0),
        (9, 1.0, 10.0),
        (3, 0.25, 1.0),
        (1, 0.0, 0.0),
    ],
)
def test_backoff_is_exponential_with_full_jitter_and_capped(
    retry: int, jitter: float, expected: float
) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=lambda: jitter)
    assert policy.delay(retry) == expected


def test_retry_after_wins_but_stays_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=lambda: 1.0)
    assert policy.delay(1, retry_after=7) == 7
    assert policy.delay(1, retry_after=3600) == 10


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:01:30 GMT", now) == 90.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_attempts_follow_the_row_and_the_policy() -> None:
    policy = RetryPolicy(max_attempts=5)
    assert policy.attempts(rule_for("UNABLE_TO_LOCK_ROW", 400)) == 5
    assert policy.attempts(rule_for("QUERY_TIMEOUT", 400)) == 2
    assert RetryPolicy(max_attempts=1).attempts(rule_for("QUERY_TIMEOUT", 400)) == 1


def test_a_policy_that_cannot_try_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_attempts 0"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ConfigError, match="cannot be negative"):
        RetryPolicy(base_delay=-1)
