"""Acceptance (issue #4): a sync under transient faults and expiring sessions ends equal to the org.

The org runs in its own process (``sfbridge emulate salesforce``), as in
production, and is told through its admin API to fail 5% of API calls with
the transient answers real orgs give (503, 500, UNABLE_TO_LOCK_ROW, 429 with
Retry-After) and to expire every access token every N calls. The sync reads
the whole org into the warehouse; then, with the faults off, the warehouse's
people must be exactly the org's contacts that match the filter, with their
values, and every count must add up.

The 200,000-record runs are ``slow`` (``make test-slow``); the default run
has the same test on 4,000 records with expiries every 60 calls.
"""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sfbridge.config import Settings
from sfbridge.destinations import RunInfo, WarehouseDestination, WarehouseSpec
from sfbridge.destinations.warehouse_schema import events, people
from sfbridge.emulators.salesforce.org import Org
from sfbridge.emulators.salesforce.process import emulator_process
from sfbridge.emulators.salesforce.seed import seed_org
from sfbridge.salesforce import ClientCredentialsGrant, HttpOptions, OAuthSession, SalesforceClient
from sfbridge.salesforce.retry import RetryPolicy
from sfbridge.store import Database, RunStatus, SyncStore
from sfbridge.sync import CursorSettings, ReadApi, RunSummary, run_sync, template

FILTER = "Email != null"
# Transient answers, 5% of calls in all (each rule draws in turn).
TRANSIENT = ("SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "UNABLE_TO_LOCK_ROW", "TOO_MANY_REQUESTS")
FAULT_RATE = 0.05
# Quick retries keep the test short; the schedule of tries is the production one.
QUICK_RETRIES = RetryPolicy(base_delay=0.05, max_delay=0.5)
NO_SETTLE = CursorSettings(overlap=timedelta(minutes=10), settle=timedelta(0))


@contextmanager
def faulty_org(
    folder: Path, contacts: int, *, session_lifetime_calls: int
) -> Iterator[dict[str, str]]:
    """A seeded org in its own process, failing 5% of calls and expiring sessions; its banner."""
    data_dir = folder / "org"
    org = Org.open(data_dir)
    try:
        seed_org(org, contacts, seed=29, only={"Contact"})
    finally:
        org.close()
    with emulator_process(data_dir) as banner:
        with admin(banner) as api:
            api.put(
                "/__admin__/settings",
                json={
                    "dailyApiRequests": 10_000_000,
                    "sessionLifetimeCalls": session_lifetime_calls,
                },
            ).raise_for_status()
            for code in TRANSIENT:
                rate = 1 - (1 - FAULT_RATE) ** (1 / len(TRANSIENT))
                api.post("/__admin__/faults", json={"errorCode": code, "rate": rate})
        yield banner


@contextmanager
def admin(banner: dict[str, str]) -> Iterator[httpx.Client]:
    trust = ssl.create_default_context(cafile=banner["ca_bundle"])
    with httpx.Client(base_url=banner["login_url"], verify=trust) as client:
        yield client


def client_of(banner: dict[str, str]) -> SalesforceClient:
    grant = ClientCredentialsGrant(banner["client_id"], banner["client_secret"])
    session = OAuthSession(banner["login_url"], grant)
    return SalesforceClient(
        session, http=HttpOptions(verify=banner["ca_bundle"]), retry=QUICK_RETRIES
    )


def sync_all(
    banner: dict[str, str], folder: Path, api: ReadApi, *, page_size: int, bulk_page_size: int
) -> tuple[RunSummary, WarehouseDestination]:
    """One run of the contacts template from the start, read with ``api``; the open warehouse."""
    home = folder / "home"
    database = Database.open(Settings(home=home, secret_key=None, database_url=None))
    store = SyncStore(database)
    spec = template("contacts", connection="org", destinations=["warehouse"], enabled=True)
    store.add(spec)
    warehouse = WarehouseDestination.open(
        WarehouseSpec(), RunInfo(sync=spec.name, run_id="faults", home=home)
    )
    with client_of(banner) as client:
        summary = run_sync(
            spec,
            client=client,
            destinations=[warehouse],
            state=store,
            now=lambda: datetime.now(UTC),
            settings=NO_SETTLE,
            page_size=page_size,
            bulk_page_size=bulk_page_size,
            bulk_threshold=0 if api is ReadApi.BULK else 10**9,
        )
    database.close()
    return summary, warehouse


def statuses_then_faults_off(banner: dict[str, str]) -> Counter[int]:
    """How many calls the org answered with each status; then stop failing calls."""
    with admin(banner) as api:
        calls = api.get("/__admin__/calls").json()
        api.delete("/__admin__/faults").raise_for_status()
    return Counter(call["status"] for call in calls)


def org_contacts(banner: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The org's contacts with an email, by Id (call with the faults turned off)."""
    with client_of(banner) as client:
        soql = f"SELECT Id, Email, FirstName, LastName, Title FROM Contact WHERE {FILTER}"
        return {row["Id"]: row for row in client.query_all(soql)}


def assert_warehouse_equals_org(
    summary: RunSummary, warehouse: WarehouseDestination, org: dict[str, dict[str, Any]]
) -> None:
    with warehouse.engine.connect() as connection:
        stored = {row.id: row.traits for row in connection.execute(select(people))}
        event_count = len(connection.execute(select(events.c.message_id)).all())
    assert summary.status is RunStatus.SUCCEEDED, summary.error
    assert stored.keys() == org.keys()
    for record_id, record in org.items():
        traits = stored[record_id]
        assert traits["email"] == record["Email"]
        assert traits.get("first_name") == record["FirstName"]
        assert traits.get("last_name") == record["LastName"]
        assert traits.get("title") == record["Title"]
    assert event_count == 0
    counts = summary.counts
    assert (counts.records_read, counts.delivered, counts.failed) == (len(org), len(org), 0)


def run_case(
    folder: Path,
    *,
    contacts: int,
    session_lifetime_calls: int,
    api: ReadApi,
    page_size: int = 2000,
    bulk_page_size: int = 25_000,
) -> RunSummary:
    with faulty_org(folder, contacts, session_lifetime_calls=session_lifetime_calls) as banner:
        summary, warehouse = sync_all(
            banner, folder, api, page_size=page_size, bulk_page_size=bulk_page_size
        )
        with warehouse:
            statuses = statuses_then_faults_off(banner)
            org = org_contacts(banner)
            assert_warehouse_equals_org(summary, warehouse, org)
    assert summary.api is api
    # The faults did happen: expired sessions and transient answers.
    calls = sum(statuses.values())
    assert statuses[401] >= calls // session_lifetime_calls - 1
    assert sum(statuses[status] for status in (400, 429, 500, 503)) > 0
    return summary


def test_a_rest_sync_under_faults_and_expiring_sessions_ends_equal_to_the_org(
    tmp_path: Path,
) -> None:
    summary = run_case(
        tmp_path, contacts=4_000, session_lifetime_calls=60, api=ReadApi.REST, page_size=20
    )
    # Enough calls for several expiries, and more than the pages: retries happened.
    assert summary.counts.api_calls > 3 * 60


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_200000_record_rest_sync_under_faults_and_token_expiries_ends_equal_to_the_org(
    tmp_path: Path,
) -> None:
    # 217,500 contacts of which ~200,000 have an email; 50-row pages make ~4,000
    # calls, so the run meets a token expiry every 2,000 of them.
    summary = run_case(
        tmp_path, contacts=217_500, session_lifetime_calls=2000, api=ReadApi.REST, page_size=50
    )
    assert summary.counts.records_read >= 200_000
    assert summary.counts.api_calls > 2 * 2000


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_200000_record_bulk_sync_under_faults_and_token_expiries_ends_equal_to_the_org(
    tmp_path: Path,
) -> None:
    # Bulk spends few calls: expire sessions every 20 so the job's polling and paging meet them.
    summary = run_case(
        tmp_path,
        contacts=217_500,
        session_lifetime_calls=20,
        api=ReadApi.BULK,
        bulk_page_size=2000,
    )
    assert summary.counts.records_read >= 200_000
