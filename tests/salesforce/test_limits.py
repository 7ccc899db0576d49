"""API usage: Sforce-Limit-Info, /limits, the per-connection budget, and the org's hard limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.errors import ConfigError, FatalError
from sfbridge.salesforce import (
    ApiBudget,
    ApiUsage,
    BudgetExhausted,
    BudgetStatus,
    RequestLimitExceeded,
    SalesforceClient,
)
from sfbridge.salesforce.limits import DAILY_WINDOW_SECONDS, parse_limit_info, parse_limits

from .conftest import api_calls

MakeClient = Callable[..., SalesforceClient]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("api-usage=18/5000", ApiUsage(18, 5000)),
        (
            "api-usage=18/5000; per-app-api-usage=17/250(appName=sfbridge)",
            ApiUsage(18, 5000, 17, 250, "sfbridge"),
        ),
        ("per-app-api-usage=17/250(appName=x); api-usage=9/10", ApiUsage(9, 10, 17, 250, "x")),
        ("api-usage=?/5000", None),
        ("", None),
        (None, None),
    ],
)
def test_sforce_limit_info_is_parsed(header: str | None, expected: ApiUsage | None) -> None:
    assert parse_limit_info(header) == expected


def test_limits_keep_max_and_remaining() -> None:
    limits = parse_limits(
        {
            "DailyApiRequests": {"Max": 15000, "Remaining": 14000, "sfbridge": {"Max": 0}},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "Oddity": 3,
        }
    )
    assert set(limits) == {"DailyApiRequests", "DailyBulkV2QueryJobs"}
    assert limits["DailyApiRequests"].used == 1000


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _spend(budget: ApiBudget, calls: int) -> None:
    for _ in range(calls):
        budget.reserve()


def test_budget_allows_its_share_of_the_daily_allowance_then_stops() -> None:
    clock = Clock()
    budget = ApiBudget(0.1, name="contacts sync", clock=clock)
    budget.reserve()
    budget.observe(ApiUsage(501, 10_000))  # the first answer: 500 used before this window
    _spend(budget, 999)
    with pytest.raises(BudgetExhausted) as exhausted:
        budget.reserve()
    message = str(exhausted.value)
    for part in ("'contacts sync'", "10%", "10,000 calls", "(1,000 calls)", "spent 1,000"):
        assert part in message
    assert "Raise the budget's max_share, or wait until" in message
    assert isinstance(exhausted.value, FatalError)
    clock.now += DAILY_WINDOW_SECONDS  # a new 24-hour window
    budget.reserve()
    assert budget.status().spent == 1


def test_budget_never_promises_more_than_the_org_has_left() -> None:
    budget = ApiBudget(0.5, clock=Clock())
    budget.reserve()
    budget.observe(ApiUsage(9_901, 10_000))
    assert budget.status().allowance == 100


def test_the_exhausted_hook_may_wait_for_the_window() -> None:
    clock = Clock()
    seen: list[BudgetStatus] = []

    def wait_for_window(status: BudgetStatus) -> None:
        seen.append(status)
        clock.now = status.window_ends.timestamp()

    budget = ApiBudget(0.001, clock=clock, on_exhausted=wait_for_window)
    budget.reserve()
    budget.observe(ApiUsage(1, 2_000))  # allowance: 2 calls
    budget.reserve()
    budget.reserve()  # over: the hook waits for the next window, then the call goes
    assert len(seen) == 1 and seen[0].exhausted
    assert budget.status().spent == 1


def test_a_share_outside_zero_to_one_is_a_config_error() -> None:
    for share in (0.0, 1.5):
        with pytest.raises(ConfigError, match="max_share"):
            ApiBudget(share)


def test_the_budget_stops_a_client_at_its_share_of_the_org(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    faults = org_server.org.faults
    faults.settings.daily_api_limit = 250
    faults.api_used = 0
    client = make_client(budget=ApiBudget(0.2, name="contacts sync"))
    before = api_calls(org_server)
    with pytest.raises(BudgetExhausted, match="'contacts sync'"):
        for _ in range(250):
            client.limits()
    assert api_calls(org_server) - before == 50
    assert client.api_calls == 50
    assert client.api_usage == ApiUsage(50, 250)


def test_api_calls_count_what_the_org_counted(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    sf_client.connect()
    before = api_calls(org_server)
    sf_client.limits()
    org_server.app.auth.expire_all_sessions()  # the 401 is not counted, the retry is
    assert sf_client.count("Contact") > 0
    assert (
        sum(1 for _ in sf_client.query("SELECT Id FROM Contact LIMIT 450", batch_size=200)) == 450
    )
    assert sf_client.api_calls == api_calls(org_server) - before == 5
    usage = sf_client.api_usage
    assert usage is not None and usage.max == org_server.org.faults.settings.daily_api_limit


def test_an_exhausted_org_stops_the_job_with_the_limit_named(
    org_server: RunningEmulator, sf_client: SalesforceClient, sleeps: list[float]
) -> None:
    sf_client.connect()
    faults = org_server.org.faults
    faults.settings.daily_api_limit = 500
    faults.api_used = 500
    calls_before = len(faults.calls)
    with pytest.raises(RequestLimitExceeded) as stopped:
        sf_client.count("Contact")
    message = str(stopped.value)
    assert "REQUEST_LIMIT_EXCEEDED (HTTP 403)" in message
    assert "TotalRequests Limit exceeded." in message
    assert "DailyApiRequests" in message and "500/500" in message
    assert "resume" in message
    assert len(faults.calls) - calls_before == 1 and sleeps == []  # never retried
    assert sf_client.api_calls == 0
