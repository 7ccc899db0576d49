"""Records, external ids, queries, replication and limits against the emulated org."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from sfbridge.emulators.salesforce.faults import FaultRule
from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.errors import ConfigError, SkippableError
from sfbridge.salesforce import (
    AsyncSalesforceClient,
    ClientCredentialsGrant,
    HttpOptions,
    MalformedQueryError,
    MultipleMatchesError,
    OAuthSession,
    RetryPolicy,
    SalesforceClient,
    SalesforceConfigError,
    SalesforceRecordError,
    SalesforceRetriableError,
)

from .conftest import api_calls, tls_bundle

MakeClient = Callable[..., SalesforceClient]


def tag() -> str:
    """A unique last name, so each test finds exactly its own records."""
    return "T" + uuid.uuid4().hex[:12]


# -- records -------------------------------------------------------------------------


def test_create_get_update_delete(sf_client: SalesforceClient) -> None:
    name = tag()
    record_id = sf_client.create("Contact", {"LastName": name, "Email": "ada@example.com"})
    got = sf_client.get("Contact", record_id, ["Id", "LastName", "Email"])
    assert got["Id"] == record_id and got["LastName"] == name
    assert got["attributes"]["type"] == "Contact"
    sf_client.update("Contact", record_id, {"Email": "ada@lovelace.example"})
    assert sf_client.get("Contact", record_id)["Email"] == "ada@lovelace.example"
    sf_client.delete("Contact", record_id)
    with pytest.raises(SalesforceRecordError) as gone:
        sf_client.get("Contact", record_id)
    assert (gone.value.error_code, gone.value.status) == ("ENTITY_IS_DELETED", 404)


def test_a_refused_record_is_skippable_and_keeps_salesforces_words(
    org_server: RunningEmulator, sf_client: SalesforceClient, sleeps: list[float]
) -> None:
    sf_client.connect()
    before = api_calls(org_server)
    with pytest.raises(SalesforceRecordError) as refused:
        sf_client.create("Contact", {"FirstName": "Ada"})
    error = refused.value
    assert isinstance(error, SkippableError)
    assert error.error_code == "REQUIRED_FIELD_MISSING" and error.fields == ("LastName",)
    assert error.object_name == "Contact" and "Required fields are missing" in str(error)
    assert api_calls(org_server) - before == 1 and sleeps == []


def test_an_unknown_field_is_a_config_error(sf_client: SalesforceClient) -> None:
    with pytest.raises(MalformedQueryError, match="No such column 'Naem'") as refused:
        sf_client.create("Contact", {"LastName": tag(), "Naem": "x"})
    assert isinstance(refused.value, ConfigError)


def test_bad_names_and_ids_fail_before_any_call(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    before = api_calls(org_server)
    with pytest.raises(SalesforceRecordError, match="not a Salesforce id") as malformed:
        sf_client.get("Contact", "003-not-an-id")
    assert malformed.value.error_code == "MALFORMED_ID"
    with pytest.raises(SalesforceConfigError, match=re.escape("'Contact/../x'")):
        sf_client.get("Contact/../x", "003000000000001AAA")
    with pytest.raises(SalesforceConfigError, match="'Ext Id'"):
        sf_client.upsert("Contact", "Ext Id", "1", {"LastName": "x"})
    assert api_calls(org_server) == before


# -- external ids --------------------------------------------------------------------


def test_upsert_by_external_id_reports_created(sf_client: SalesforceClient) -> None:
    key = "ext/" + tag() + " 1"  # a slash and a space travel URL-encoded
    created = sf_client.upsert("Contact", "Ext_Id__c", key, {"LastName": tag()})
    assert created.created and created.id
    updated = sf_client.upsert("Contact", "Ext_Id__c", key, {"FirstName": "Ada"})
    assert (updated.id, updated.created) == (created.id, False)
    found = sf_client.get_by_external_id("Contact", "Ext_Id__c", key, ["Id", "FirstName"])
    assert (found["Id"], found["FirstName"]) == (created.id, "Ada")
    with pytest.raises(SalesforceRecordError) as missing:
        sf_client.upsert("Contact", "Ext_Id__c", tag(), {"LastName": "x"}, update_only=True)
    assert missing.value.error_code == "NOT_FOUND"


def test_several_matches_are_an_error_listing_them(sf_client: SalesforceClient) -> None:
    legacy = tag()
    ids = {sf_client.create("Contact", {"LastName": tag(), "Legacy_Id__c": legacy}) for _ in "ab"}
    with pytest.raises(MultipleMatchesError) as lookup:
        sf_client.get_by_external_id("Contact", "Legacy_Id__c", legacy)
    error = lookup.value
    assert set(error.matches) == ids and error.status == 300
    assert f"2 Contact records have Legacy_Id__c = '{legacy}'" in str(error)
    assert isinstance(error, SkippableError)
    with pytest.raises(MultipleMatchesError) as upsert:
        sf_client.upsert("Contact", "Legacy_Id__c", legacy, {"FirstName": "x"})
    assert set(upsert.value.matches) == ids


# -- queries -------------------------------------------------------------------------


def test_query_pages_lazily_across_next_records_url(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    sf_client.connect()
    before = api_calls(org_server)
    records = sf_client.query("SELECT Id FROM Contact ORDER BY Id LIMIT 450", batch_size=200)
    assert api_calls(org_server) == before  # nothing is read until iteration starts
    ids = [r["Id"] for r in records]
    assert len(ids) == len(set(ids)) == 450 and ids == sorted(ids)
    assert api_calls(org_server) - before == 3


def test_query_all_sees_deleted_rows_and_count_filters(sf_client: SalesforceClient) -> None:
    name = tag()
    kept = sf_client.create("Contact", {"LastName": name})
    gone = sf_client.create("Contact", {"LastName": name})
    sf_client.delete("Contact", gone)
    soql = f"SELECT Id, IsDeleted FROM Contact WHERE LastName = '{name}' ORDER BY Id"
    assert [r["Id"] for r in sf_client.query(soql)] == [kept]
    every = {r["Id"]: r["IsDeleted"] for r in sf_client.query_all(soql)}
    assert every == {kept: False, gone: True}
    assert sf_client.count("Contact", f"LastName = '{name}'") == 1


def test_a_malformed_query_is_a_config_error_with_salesforces_pointer(
    sf_client: SalesforceClient,
) -> None:
    with pytest.raises(MalformedQueryError) as refused:
        list(sf_client.query("SELECT Id FROM Contact WHERE"))
    assert refused.value.error_code == "MALFORMED_QUERY"
    assert "ERROR at Row:1" in str(refused.value)
    with pytest.raises(ConfigError, match="batch_size 50"):
        list(sf_client.query("SELECT Id FROM Contact", batch_size=50))


def test_query_timeouts_get_fewer_tries(
    org_server: RunningEmulator, sf_client: SalesforceClient, sleeps: list[float]
) -> None:
    faults = org_server.org.faults
    faults.add_rule(FaultRule("QUERY_TIMEOUT", remaining=1, path_contains="/query"))
    assert sf_client.count("Contact") > 0
    assert len(sleeps) == 1
    faults.add_rule(FaultRule("QUERY_TIMEOUT", remaining=5, path_contains="/query"))
    with pytest.raises(SalesforceRetriableError, match="QUERY_TIMEOUT"):
        sf_client.count("Contact")
    assert len(sleeps) == 2  # two tries for a timeout, whatever the policy allows


def test_injected_faults_are_retried_to_exact_results(
    org_server: RunningEmulator, make_client: MakeClient, sleeps: list[float]
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=8, base_delay=0.01))
    client.connect()
    faults = org_server.org.faults
    faults.add_rule(FaultRule("UNABLE_TO_LOCK_ROW", rate=0.1, path_contains="/sobjects/Contact"))
    faults.add_rule(FaultRule("SERVER_UNAVAILABLE", rate=0.05))
    faults.add_rule(FaultRule("UNKNOWN_EXCEPTION", rate=0.05, path_contains="/query"))
    name = tag()
    created = [client.create("Contact", {"LastName": name, "FirstName": str(i)}) for i in range(40)]
    rows = list(client.query(f"SELECT Id, FirstName FROM Contact WHERE LastName = '{name}'"))
    assert sorted(r["Id"] for r in rows) == sorted(created)
    assert sorted(int(r["FirstName"]) for r in rows) == list(range(40))
    assert sleeps  # some calls failed and were retried


# -- replication, limits, versions ---------------------------------------------------


def test_deleted_and_updated_windows(sf_client: SalesforceClient) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    changed = sf_client.create("Contact", {"LastName": tag()})
    removed = sf_client.create("Contact", {"LastName": tag()})
    sf_client.delete("Contact", removed)
    end = datetime.now(UTC) + timedelta(minutes=1)
    deleted = sf_client.deleted("Contact", start, end)
    assert removed in {r.id for r in deleted.records}
    assert all(start <= r.deleted_date <= end for r in deleted.records)
    assert deleted.earliest_date_available < start
    updated = sf_client.updated("Contact", start, end)
    assert changed in updated.ids and removed not in updated.ids
    with pytest.raises(ConfigError, match="needs a time zone"):
        sf_client.updated("Contact", datetime(2025, 1, 1), end)


def test_limits_update_the_usage_seen(sf_client: SalesforceClient) -> None:
    limits = sf_client.limits()
    daily = limits["DailyApiRequests"]
    assert daily.max > daily.remaining >= 0
    usage = sf_client.api_usage
    assert usage is not None and usage.max == daily.max


def test_the_api_version_is_configurable(
    org_server: RunningEmulator, make_client: MakeClient
) -> None:
    client = make_client(api_version="v58.0")
    client.count("Contact")
    assert org_server.org.faults.calls[-1].path == "/services/data/v58.0/query"
    with pytest.raises(ConfigError, match="API version '62'"):
        make_client(api_version="62")


# -- async ---------------------------------------------------------------------------


def test_the_async_client_does_what_the_sync_one_does(org_server: RunningEmulator) -> None:
    credentials = org_server.credentials
    session = OAuthSession(
        org_server.login_url,
        ClientCredentialsGrant(credentials.client_id, credentials.client_secret),
    )
    name = tag()

    async def run() -> tuple[str, list[str], int, str]:
        http = HttpOptions(verify=tls_bundle(org_server))
        async with AsyncSalesforceClient(session, http=http) as client:
            record_id = await client.create("Contact", {"LastName": name})
            got = await client.get("Contact", record_id, ["LastName"])
            soql = "SELECT Id FROM Contact ORDER BY Id LIMIT 250"
            ids = [r["Id"] async for r in client.query(soql, batch_size=200)]
            count = await client.count("Contact", f"LastName = '{name}'")
            described = await client.describe("Contact")
            return got["LastName"], ids, count, described.name

    last_name, ids, count, described = asyncio.run(run())
    assert (last_name, count, described) == (name, 1, "Contact")
    assert len(set(ids)) == 250
