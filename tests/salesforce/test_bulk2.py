"""Bulk API 2.0 query and ingest jobs against the emulated org over HTTPS.

The org's own tables are read directly (``stored``) to check what the client
says against what the org holds.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.errors import ConfigError, FatalError, RetriableError
from sfbridge.salesforce import (
    AsyncSalesforceClient,
    BulkQueryPage,
    ClientCredentialsGrant,
    HttpOptions,
    IngestOperation,
    JobPolling,
    MalformedQueryError,
    OAuthSession,
    SalesforceClient,
    SalesforceConfigError,
    SalesforceRecordError,
    SalesforceRetriableError,
)
from sfbridge.salesforce.bulk2 import BulkJobInfo, JobKind, JobState
from sfbridge.salesforce.bulk2_csv import encode_cell, read_rows, row_error, uploads, write_csv
from sfbridge.salesforce.bulk2_ingest import JobOutcome

from .conftest import FakeOrg, answer, tls_bundle

MakeClient = Callable[..., SalesforceClient]
NAP = 0.02


class Naps(list[float]):
    """The delays a client asked for, each slept for at most ``NAP`` seconds.

    Polling a Bulk job with no pause at all would spin against the emulator's
    worker on this small machine; no test waits a backoff or a Retry-After.
    """

    def append(self, seconds: float) -> None:
        super().append(seconds)
        time.sleep(min(seconds, NAP))


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the client asked for (napped briefly, see ``Naps``)."""
    return Naps()


def tag() -> str:
    """A unique last name, so each test finds exactly its own records."""
    return "B" + uuid.uuid4().hex[:12]


def stored(org_server: RunningEmulator, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of the org's own tables (not through the API)."""
    store = org_server.org.store
    with store.lock:
        return [tuple(row) for row in store.connection.execute(sql, params).fetchall()]


# -- query -----------------------------------------------------------------------------


def test_query_values_are_typed_and_parents_nested_like_rest(sf_client: SalesforceClient) -> None:
    soql = (
        "SELECT Id, LastName, DoNotCall, Birthdate, CreatedDate, Account.Name, "
        "Account.NumberOfEmployees, Account.AnnualRevenue, Account.Owner.Name FROM Contact "
        "WHERE LastName LIKE 'A%'"
    )
    result = sf_client.bulk_query(soql)
    records = {r["Id"]: r for r in result.records()}
    rest = {r["Id"]: r for r in sf_client.query(soql)}
    assert records.keys() == rest.keys() and len(records) > 100
    for record_id, bulk in records.items():
        assert bulk == _typed(rest[record_id])
    sample = next(r for r in records.values() if r["Account"] is not None)
    assert isinstance(sample["CreatedDate"], datetime) and sample["CreatedDate"].tzinfo is not None
    assert isinstance(sample["DoNotCall"], bool)
    assert isinstance(sample["Account"]["NumberOfEmployees"], int | None)
    assert isinstance(sample["Account"]["Owner"]["Name"], str)
    assert any(r["Account"] is None for r in records.values())  # an empty lookup is None
    assert any(isinstance(r["Birthdate"], date) for r in records.values())


def _typed(rest: dict[str, Any]) -> dict[str, Any]:
    """A REST record in the form Bulk records take: no attributes, dates as dates."""
    typed: dict[str, Any] = {}
    for key, value in rest.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            typed[key] = _typed(value)
        elif key == "Birthdate" and value is not None:
            typed[key] = date.fromisoformat(value)
        elif key == "CreatedDate":
            typed[key] = datetime.fromisoformat(value)
        elif key == "AnnualRevenue" and value is not None:
            typed[key] = float(value)
        else:
            typed[key] = value
    return typed


def test_results_are_read_in_pages_of_page_size(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    result = sf_client.bulk_query("SELECT Id FROM Contact", page_size=20_000)
    live = result.total_size
    assert live == org_server.org.count("Contact") > 40_000
    pages = []
    ids: list[str] = []
    for page in result.pages():
        pages.append((page.locator is None, page.size, page.next_locator is None))
        ids.extend(r["Id"] for r in page.records())
    assert pages == [
        (True, 20_000, False),
        (False, 20_000, False),
        (False, live - 40_000, True),
    ]
    assert len(ids) == len(set(ids)) == live
    assert set(ids) == {
        row[0] for row in stored(org_server, 'SELECT "Id" FROM "Contact" WHERE "IsDeleted" = 0')
    }
    assert result.done and result.locator is None


def test_a_page_is_let_go_before_the_next_one_is_fetched(org_server: RunningEmulator) -> None:
    held: list[int] = []

    class PageCounter(httpx.HTTPTransport):
        """Counts the pages still alive whenever the next one is asked for."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/results"):
                held.append(sum(isinstance(o, BulkQueryPage) for o in gc.get_objects()))
            return super().handle_request(request)

    credentials = org_server.credentials
    session = OAuthSession(
        org_server.login_url,
        ClientCredentialsGrant(credentials.client_id, credentials.client_secret),
    )
    trust = HttpOptions(verify=tls_bundle(org_server)).ssl_context()
    http = HttpOptions(transport=PageCounter(verify=trust))
    with SalesforceClient(session, http=http, sleep=Naps().append) as client:
        result = client.bulk_query("SELECT Id, Name, Email FROM Contact", page_size=10_000)
        count = sum(1 for _ in result.records())
    assert count == result.total_size
    assert held == [0] * 5  # never two pages at once: memory stays at one page


def test_a_saved_locator_resumes_the_job_where_it_stood(sf_client: SalesforceClient) -> None:
    result = sf_client.bulk_query("SELECT Id FROM Contact", page_size=15_000)
    records = result.records()
    first = [next(records)["Id"] for _ in range(15_000)]
    # Mid-page the checkpoint still points at the page being read: nothing is skipped.
    assert result.locator is None
    second_page_start = next(records)["Id"]
    checkpoint = (result.job_id, result.locator)
    assert checkpoint[1] is not None
    resumed = sf_client.bulk_query_resume(*checkpoint, page_size=15_000)
    rest = [r["Id"] for r in resumed.records()]
    assert rest[0] == second_page_start
    assert len(first) + len(rest) == result.total_size
    assert len(set(first) | set(rest)) == result.total_size


def test_all_rows_adds_deleted_records(sf_client: SalesforceClient) -> None:
    name = tag()
    kept = sf_client.create("Contact", {"LastName": name})
    gone = sf_client.create("Contact", {"LastName": name})
    sf_client.delete("Contact", gone)
    soql = f"SELECT Id, IsDeleted FROM Contact WHERE LastName = '{name}'"
    live = list(sf_client.bulk_query(soql).records())
    every = list(sf_client.bulk_query(soql, all_rows=True).records())
    assert live == [{"Id": kept, "IsDeleted": False}]
    assert {r["Id"]: r["IsDeleted"] for r in every} == {kept: False, gone: True}
    assert len(every) == 2


def test_a_query_bulk_refuses_is_a_config_error_and_a_spent_allocation_fatal(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    with pytest.raises(MalformedQueryError, match="Aggregate queries not supported") as refused:
        sf_client.bulk_query("SELECT COUNT() FROM Contact")
    assert "REST query" in str(refused.value)
    with pytest.raises(MalformedQueryError, match="No such column 'Naem'"):
        sf_client.bulk_query("SELECT Naem FROM Contact")
    faults = org_server.org.faults
    limit = faults.settings.daily_bulk_query_job_limit
    faults.settings.daily_bulk_query_job_limit = faults.bulk_query_jobs_used
    try:
        with pytest.raises(FatalError, match="Max bulk v2 query jobs") as spent:
            sf_client.bulk_query("SELECT Id FROM Contact")
    finally:
        faults.settings.daily_bulk_query_job_limit = limit
    assert "DailyBulkV2QueryJobs" in str(spent.value)
    calls = len(org_server.org.faults.calls)
    with pytest.raises(ConfigError, match="page_size 0"):
        sf_client.bulk_query("SELECT Id FROM Contact", page_size=0)
    assert len(org_server.org.faults.calls) == calls  # refused before a job was made


# -- ingest ----------------------------------------------------------------------------


def test_insert_maps_every_result_to_its_input_row(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    name = tag()
    records: list[dict[str, Any]] = [
        {"LastName": name, "FirstName": "Ada", "DoNotCall": True},
        {"FirstName": "No last name"},
        {"LastName": name, "FirstName": "Twin", "Email": "twin@example.com"},
        {"LastName": name, "FirstName": "Twin", "Email": "twin@example.com"},
        {"LastName": name, "Email": "not-an-email"},
        {"LastName": name, "FirstName": "Born", "Birthdate": date(1990, 5, 17)},
    ]
    result = sf_client.bulk_ingest("Contact", "insert", records, job_rows=4)
    assert len(result.job_ids) == 2 and result.operation is IngestOperation.INSERT
    assert [r.index for r in result.results] == list(range(6))
    assert [r.success for r in result.results] == [True, False, True, True, False, True]
    assert all(r.created for r in result.results if r.success)
    missing, bad_email = result.results[1].error, result.results[4].error
    assert isinstance(missing, SalesforceRecordError) and missing.row == 1
    assert (missing.error_code, missing.fields) == ("REQUIRED_FIELD_MISSING", ("LastName",))
    assert bad_email is not None and bad_email.error_code == "INVALID_EMAIL_ADDRESS"
    rows = {
        row[0]: row[1:]
        for row in stored(
            org_server,
            'SELECT "Id", "FirstName", "DoNotCall", "Birthdate" FROM "Contact" '
            'WHERE "LastName" = ?',
            name,
        )
    }
    ids = [r.id for r in result.results]
    assert ids[2] != ids[3] and set(rows) == {ids[0], ids[2], ids[3], ids[5]}
    assert rows[ids[0]][:2] == ("Ada", 1) and rows[ids[5]] == ("Born", 0, "1990-05-17")


def test_update_sets_null_for_none_and_leaves_missing_keys_alone(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    name = tag()
    first = sf_client.create(
        "Contact", {"LastName": name, "Email": "a@example.com", "Title": "CEO"}
    )
    second = sf_client.create(
        "Contact", {"LastName": name, "Email": "b@example.com", "Title": "CTO"}
    )
    result = sf_client.bulk_ingest(
        "Contact",
        IngestOperation.UPDATE,
        [
            {"Id": first, "Email": None},
            {"Id": "0038c0000000000AAA", "Title": "Nobody"},
            {"Id": second, "Title": "CFO"},
        ],
    )
    assert [(r.id, r.success, r.created) for r in result.results] == [
        (first, True, False),
        ("0038c0000000000AAA", False, None),
        (second, True, False),
    ]
    assert result.results[1].error is not None
    assert result.results[1].error.error_code == "NOT_FOUND"
    found = stored(
        org_server,
        'SELECT "Id", "Email", "Title" FROM "Contact" WHERE "LastName" = ? ORDER BY "Id"',
        name,
    )
    assert sorted(found) == sorted([(first, None, "CEO"), (second, "b@example.com", "CFO")])


def test_upsert_reports_created_and_updated_rows(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    name = tag()
    existing = sf_client.create("Contact", {"LastName": name, "Ext_Id__c": f"{name}-1"})
    result = sf_client.bulk_ingest(
        "Contact",
        "upsert",
        [
            {"Ext_Id__c": f"{name}-2", "LastName": name, "FirstName": "new"},
            {"Ext_Id__c": f"{name}-1", "FirstName": "updated"},
            {"LastName": name, "FirstName": "no key"},
        ],
        external_id_field="Ext_Id__c",
    )
    created, updated, keyless = result.results
    assert (updated.id, updated.created) == (existing, False)
    assert created.created is True and created.id is not None
    assert keyless.error is not None and keyless.error.error_code == "MISSING_ARGUMENT"
    found = stored(
        org_server,
        'SELECT "Ext_Id__c", "Id", "FirstName" FROM "Contact" WHERE "LastName" = ?',
        name,
    )
    assert sorted(found) == [(f"{name}-1", existing, "updated"), (f"{name}-2", created.id, "new")]


def test_delete_and_hard_delete(org_server: RunningEmulator, sf_client: SalesforceClient) -> None:
    name = tag()
    ids = [sf_client.create("Contact", {"LastName": name}) for _ in range(3)]
    sf_client.delete("Contact", ids[2])
    deleted = sf_client.bulk_ingest("Contact", "delete", [{"Id": ids[0]}, {"Id": ids[2]}])
    assert [r.success for r in deleted.results] == [True, False]
    assert deleted.results[1].error is not None
    assert deleted.results[1].error.error_code == "ENTITY_IS_DELETED"
    purged = sf_client.bulk_ingest("Contact", "hardDelete", [{"Id": ids[1]}])
    assert purged.results[0].success
    found = stored(org_server, 'SELECT "Id", "IsDeleted" FROM "Contact" WHERE "LastName" = ?', name)
    assert sorted(found) == sorted([(ids[0], 1), (ids[2], 1)])


def test_a_lookup_is_set_through_the_parents_external_id(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    name = tag()
    manager = sf_client.create("Contact", {"LastName": name, "Ext_Id__c": f"{name}-boss"})
    result = sf_client.bulk_ingest(
        "Contact",
        "insert",
        [
            {"LastName": name, "ReportsTo.Ext_Id__c": f"{name}-boss"},
            {"LastName": name, "ReportsTo.Ext_Id__c": f"{name}-nobody"},
        ],
    )
    report, orphan = result.results
    assert report.success and orphan.error is not None
    assert "Foreign key external ID" in orphan.error.message
    found = stored(org_server, 'SELECT "ReportsToId" FROM "Contact" WHERE "Id" = ?', report.id)
    assert found == [(manager,)]


def test_records_that_cannot_be_written_fail_alone_before_any_call(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    name = tag()
    sf_client.connect()
    before = len(org_server.org.faults.calls)
    result = sf_client.bulk_ingest(
        "Contact",
        "insert",
        [
            {"LastName": name, "Birthdate": object()},
            {"LastName": name, "Bad Column": "x"},
            {"LastName": name, "CreatedDate": datetime(2025, 1, 1)},
        ],
    )
    assert [type(r.error) for r in result.results] == [SalesforceConfigError] * 3
    assert [r.error.row for r in result.results if r.error] == [0, 1, 2]
    assert result.job_ids == () and len(org_server.org.faults.calls) == before
    with pytest.raises(ConfigError, match="external_id_field is required"):
        sf_client.bulk_ingest("Contact", "upsert", [{"LastName": name}])
    with pytest.raises(ConfigError, match="not one of insert"):
        sf_client.bulk_ingest("Contact", "merge", [{"LastName": name}])
    deleted = sf_client.bulk_ingest("Contact", "delete", [{"Id": "003x", "LastName": name}])
    assert "only an Id" in str(deleted.results[0].error)


def test_a_failed_job_stops_the_ingest_and_marks_rows_unprocessed(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    name = tag()
    result = sf_client.bulk_ingest("Contact", "insert", [{"LastName": name, "Nope__c": "x"}] * 3)
    assert result.unprocessed == (0, 1, 2) and len(result.job_ids) == 1
    assert isinstance(result.stopped_by, SalesforceConfigError)
    assert "Field name not found : Nope__c" in str(result.stopped_by)
    assert all(isinstance(r.error, ConfigError) for r in result.results)

    faults = org_server.org.faults
    limit = faults.settings.daily_bulk_batch_limit
    faults.settings.daily_bulk_batch_limit = faults.bulk_batches_used + 1  # one job's worth
    try:
        rows = [{"LastName": name, "FirstName": str(i)} for i in range(5)]
        quota = sf_client.bulk_ingest("Contact", "insert", rows, job_rows=2)
    finally:
        faults.settings.daily_bulk_batch_limit = limit
    assert [r.success for r in quota.results] == [True, True, False, False, False]
    assert quota.unprocessed == (2, 3, 4) and len(quota.job_ids) == 2  # the third never ran
    assert isinstance(quota.stopped_by, FatalError)
    assert "DailyBulkApiBatches" in str(quota.stopped_by)
    assert "ApiBatchItems Limit exceeded" in str(quota.results[4].error)
    assert len(stored(org_server, 'SELECT 1 FROM "Contact" WHERE "LastName" = ?', name)) == 2


# -- async -----------------------------------------------------------------------------


def test_the_async_client_queries_and_ingests(org_server: RunningEmulator) -> None:
    credentials = org_server.credentials
    session = OAuthSession(
        org_server.login_url,
        ClientCredentialsGrant(credentials.client_id, credentials.client_secret),
    )
    name = tag()

    async def nap(seconds: float) -> None:
        await asyncio.sleep(min(seconds, NAP))

    async def run() -> tuple[list[Any], list[dict[str, Any]], int]:
        http = HttpOptions(verify=tls_bundle(org_server))
        async with AsyncSalesforceClient(session, http=http, sleep=nap) as client:
            rows = [{"LastName": name, "FirstName": str(i)} for i in range(300)]
            written = await client.bulk_ingest("Contact", "insert", rows, job_rows=120)
            result = await client.bulk_query(
                f"SELECT Id, FirstName FROM Contact WHERE LastName = '{name}'", page_size=100
            )
            pages = [page async for page in result.pages()]
            resumed = await client.bulk_query_resume(result.job_id, pages[1].locator)
            again = [r async for r in resumed.records()]
            return (
                [r.id for r in written.results],
                [r for p in pages for r in p.records()],
                len(again),
            )

    ids, records, resumed_count = asyncio.run(run())
    assert {r["Id"]: r["FirstName"] for r in records} == {
        record_id: str(i) for i, record_id in enumerate(ids)
    }
    assert resumed_count == 200  # pages two and three


# -- job failures the emulator does not produce ------------------------------------------


def job(state: str, **extra: Any) -> Callable[[], Any]:
    """A scripted job-info answer."""
    return answer(200, {"id": "7508c0000000009AAA", "object": "Contact", "state": state, **extra})


def test_a_failed_query_job_raises_with_its_error_message(sleeps: list[float]) -> None:
    message = "QUERY_TIMEOUT : Your query request was running for too long."
    org = FakeOrg(job("UploadComplete"), job("InProgress"), job("Failed", errorMessage=message))
    with pytest.raises(SalesforceRetriableError) as failed:
        org.client(sleeps).bulk_query("SELECT Id FROM Contact")
    error = failed.value
    assert error.error_code == "QUERY_TIMEOUT" and error.object_name == "Contact"
    assert "7508c0000000009AAA" in str(error) and message in str(error)
    assert "Narrow the query" in str(error)  # the retry table's hint for the code
    assert sleeps == [0.5]  # asked at once, then after the first pause

    aborted = FakeOrg(job("UploadComplete"), job("Aborted"))
    with pytest.raises(FatalError, match="ended Aborted: the job was Aborted"):
        aborted.client(sleeps).bulk_query("SELECT Id FROM Contact")


def test_a_job_that_never_finishes_times_out(sleeps: list[float]) -> None:
    org = FakeOrg(job("UploadComplete"), job("InProgress"))
    polling = JobPolling(first_delay=1.0, max_delay=4.0, timeout=20.0)
    with pytest.raises(RetriableError, match="still InProgress after 19 s"):
        org.client(sleeps).bulk_query("SELECT Id FROM Contact", polling=polling)
    assert sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]  # 19 s; 4 more would pass 20


def test_each_look_at_a_running_job_is_heard_before_the_pause(sleeps: list[float]) -> None:
    org = FakeOrg(
        job("UploadComplete"),  # the job as created
        job("InProgress"),
        job("InProgress"),
        job("JobComplete", numberRecordsProcessed=0),
        answer(200, "", headers={"Sforce-Locator": "null", "Sforce-NumberOfRecords": "0"}),
    )
    heard: list[tuple[str, int]] = []
    polling = JobPolling(on_wait=lambda info: heard.append((str(info.state), len(sleeps))))

    org.client(sleeps).bulk_query("SELECT Id FROM Contact", polling=polling)

    assert heard == [("InProgress", 0), ("InProgress", 1)]
    assert sleeps == [0.5, 1.0]


# -- CSV and result mapping, offline ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, "#N/A"),
        ("", "#N/A"),
        ('a,b "c"', 'a,b "c"'),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (1e20, "100000000000000000000"),
        (0.1, "0.1"),
        (date(2024, 2, 29), "2024-02-29"),
        (datetime(2024, 1, 1, 12, 30, 5, 123456, tzinfo=UTC), "2024-01-01T12:30:05.123Z"),
        (["Red", "Blue"], "Red;Blue"),
    ],
)
def test_cells_are_written_as_bulk_api_reads_them(value: Any, cell: str) -> None:
    assert encode_cell(value, "Field__c") == cell


def test_unwritable_values_name_the_column() -> None:
    for value in (float("nan"), datetime(2024, 1, 1), {"Ext__c": "x"}, b"bytes"):
        with pytest.raises(ConfigError, match="Field__c"):
            encode_cell(value, "Field__c")


def test_sf_error_cells_keep_code_message_and_fields() -> None:
    error = row_error(
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
        object_name="Contact",
        row=7,
    )
    assert isinstance(error, SalesforceRecordError)
    assert (error.error_code, error.message, error.fields, error.row) == (
        "REQUIRED_FIELD_MISSING",
        "Required fields are missing: [LastName]",
        ("LastName",),
        7,
    )
    locked = row_error(
        "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access:--", object_name="X", row=0
    )
    assert isinstance(locked, SalesforceRetriableError) and locked.fields == ()


values = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
    st.integers(),
    st.booleans(),
)
records = st.lists(
    st.dictionaries(
        st.sampled_from(["Name", "Email", "Ext__c", "Account.Ext__c"]), values, min_size=1
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(records, st.randoms(use_true_random=False))
def test_results_in_any_order_map_back_to_their_input_rows(
    batch: list[dict[str, Any]], shuffle: Any
) -> None:
    (upload,) = list(uploads(batch, first_columns=[], only_id=False, max_rows=100, max_bytes=10**6))
    sent = list(read_rows(upload.content))
    assert sent[0] == upload.header and [tuple(r) for r in sent[1:]] == upload.rows
    # The org answers each row once, in its own order: every third row fails.
    ids = {index: f"003{index:015d}" for index in upload.indexes}
    answers = list(zip(upload.indexes, upload.rows, strict=True))
    shuffle.shuffle(answers)
    succeeded = [[ids[i], "true", *row] for i, row in answers if i % 3]
    failed = [["", "DUPLICATE_VALUE:dup:Email --", *row] for i, row in answers if not i % 3]
    info = BulkJobInfo("750", JobKind.INGEST, JobState.JOB_COMPLETE, "Contact", "insert")
    outcome = JobOutcome(info, upload.header, upload.rows, upload.indexes, None)
    outcome.add(
        "successfulResults", write_csv(["sf__Id", "sf__Created", *upload.header], succeeded)
    )
    outcome.add("failedResults", write_csv(["sf__Id", "sf__Error", *upload.header], failed))
    outcome.finish()
    assert outcome.unprocessed == []
    # Identical rows are interchangeable: per distinct row, the same outcomes and ids.
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, row in zip(upload.indexes, upload.rows, strict=True):
        groups.setdefault(row, []).append(index)
    for group in groups.values():
        got = [outcome.results[i] for i in group]
        assert sorted(r.success for r in got) == sorted(bool(i % 3) for i in group)
        assert {int(r.id[3:]) for r in got if r.id} == {i for i in group if i % 3}
        assert all(r.index == i for r, i in zip(got, group, strict=True))


def test_uploads_split_by_rows_and_by_bytes() -> None:
    rows = [{"Name": f"{i:04d}" * 25} for i in range(10)]  # about 100 bytes each
    by_rows = list(uploads(rows, first_columns=[], only_id=False, max_rows=4, max_bytes=10**6))
    assert [u.indexes for u in by_rows] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    by_bytes = list(uploads(rows, first_columns=[], only_id=False, max_rows=100, max_bytes=350))
    assert all(len(u.content) <= 350 for u in by_bytes)
    assert [i for u in by_bytes for i in u.indexes] == list(range(10))
    mixed = [{"Name": "a"}, {"Email": "b@example.com"}, {"Name": "c", "Title": "d"}]
    (upload,) = list(uploads(mixed, first_columns=["Id"], only_id=False, max_rows=9, max_bytes=999))
    assert upload.header == ["Id", "Name", "Email", "Title"]
    assert upload.rows == [("", "a", "", ""), ("", "", "b@example.com", ""), ("", "c", "", "d")]
