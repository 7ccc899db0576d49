"""Bulk API 2.0 query jobs: job info, CSV value forms, locator paging, gzip, versions, limits."""

from __future__ import annotations

import csv
import gzip
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfbridge.emulators.salesforce.bulk_csv import DELIMITERS, LINE_ENDINGS
from sfbridge.emulators.salesforce.org import Org

from .conftest import Api
from .test_bulk_ingest import finished, ingest


def query_job(api: Api, soql: str, operation: str = "query", **options: str) -> dict[str, Any]:
    """Create a query job and wait until it finishes; its final job info."""
    response = api.post("/jobs/query", {"operation": operation, "query": soql, **options})
    assert response.status_code == 200, response.text
    return finished(api, "query", response.json()["id"])


def page(api: Api, job_id: str, delimiter: str = ",", **params: Any) -> tuple[Any, list[list[str]]]:
    """One results page: the response and its parsed CSV rows (header first)."""
    response = api.get(f"/jobs/query/{job_id}/results", params=params)
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.text, newline=""), delimiter=delimiter))
    return response, rows


def seed_accounts(org: Org, count: int) -> list[str]:
    """``count`` Accounts written straight to the store (no API calls); their ids in order."""
    obj = org.object("Account")
    ids = org.store.next_ids(obj, count)
    now = org.store.clock.stamp()
    rows = [(i, f"Seeded {n}", 0, now, now, now) for n, i in enumerate(ids)]
    columns = ["Id", "Name", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp"]
    org.store.insert_rows(obj, columns, rows)
    return ids


def test_create_answers_upload_complete_and_runs_to_complete(api: Api, org: Org) -> None:
    seed_accounts(org, 3)
    created = api.post("/jobs/query", {"operation": "query", "query": "SELECT Id FROM account"})
    info = created.json()
    assert info["id"].startswith("750")
    assert {k: info[k] for k in ("operation", "object", "state", "jobType", "apiVersion")} == {
        "operation": "query",
        "object": "Account",
        "state": "UploadComplete",
        "jobType": "V2Query",
        "apiVersion": 62.0,
    }
    done = finished(api, "query", info["id"])
    assert (done["state"], done["numberRecordsProcessed"]) == ("JobComplete", 3)
    assert [j["id"] for j in api.get("/jobs/query").json()["records"]] == [info["id"]]


def test_csv_value_forms(api: Api, org: Org) -> None:
    ingest(api, "Account", "insert", "Name,Industry,NumberOfEmployees\nAcme,,42\n")
    ingest(api, "Contact", "insert", "LastName,DoNotCall\nLoose,true\n")
    account = org.records("Account")[0]
    ingest(api, "Contact", "insert", f"LastName,AccountId\nBound,{account['Id']}\n")
    soql = (
        "SELECT LastName, account.name, Account.Industry, Account.NumberOfEmployees, "
        "DoNotCall, CreatedDate FROM Contact ORDER BY LastName"
    )
    job = query_job(api, soql)
    _, rows = page(api, job["id"])
    assert rows[0] == [
        "LastName",
        "Account.Name",
        "Account.Industry",
        "Account.NumberOfEmployees",
        "DoNotCall",
        "CreatedDate",
    ]
    bound, loose = rows[1], rows[2]
    assert bound[:5] == ["Bound", "Acme", "", "42", "false"]
    assert loose[:5] == ["Loose", "", "", "", "true"]
    assert bound[5] == org.records("Contact")[1]["CreatedDate"].replace("+0000", "Z")
    raw = api.get(f"/jobs/query/{job['id']}/results").text
    assert raw.splitlines()[2] == '"Loose","","","","true","' + loose[5] + '"'


def test_locator_pages_through_25000_rows(api: Api, org: Org) -> None:
    ids = seed_accounts(org, 25_000)
    job = query_job(api, "SELECT Id, Name FROM Account ORDER BY Id")
    seen: list[str] = []
    locators: list[str] = []
    locator = None
    while True:
        params: dict[str, Any] = {"maxRecords": 10_000}
        if locator:
            params["locator"] = locator
        response, rows = page(api, job["id"], **params)
        assert rows[0] == ["Id", "Name"]  # every page starts with the header
        assert int(response.headers["Sforce-NumberOfRecords"]) == len(rows) - 1
        seen += [row[0] for row in rows[1:]]
        locator = response.headers["Sforce-Locator"]
        locators.append(locator)
        if locator == "null":
            break
    assert locators == ["MTAwMDA", "MjAwMDA", "null"]
    assert seen == ids


def test_results_are_gzipped_when_the_client_accepts_it(api: Api, org: Org) -> None:
    seed_accounts(org, 50)
    job = query_job(api, "SELECT Id, Name FROM Account")
    url = api.url(f"/jobs/query/{job['id']}/results")
    zipped = api.client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.text.count("\n") == 51  # httpx decodes it
    plain = api.client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    with api.client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert gzip.decompress(raw) == plain.content == zipped.content


def test_results_need_the_api_version_of_the_job(api: Api, org: Org) -> None:
    job = query_job(api, "SELECT Id FROM Account")
    other = api.client.get(f"/services/data/v61.0/jobs/query/{job['id']}/results")
    assert other.status_code == 409
    assert api.client.get(f"/services/data/v61.0/jobs/query/{job['id']}").status_code == 200


@pytest.mark.parametrize(
    ("soql", "message"),
    [
        ("SELECT COUNT() FROM Account", "Aggregate queries not supported in Bulk Query"),
        ("SELECT MAX(Name) FROM Account", "Aggregate queries not supported in Bulk Query"),
        (
            "SELECT Industry FROM Account GROUP BY Industry",
            "Aggregate queries not supported in Bulk Query",
        ),
        ("SELECT Id FROM Account LIMIT 5 OFFSET 5", "OFFSET not supported in Bulk Query"),
        (
            "SELECT Id, BillingAddress FROM Account",
            "Selecting compound data not supported in Bulk Query",
        ),
        (
            "SELECT Id, (SELECT Id FROM Contacts WHERE Name = ')') FROM Account",
            "Aggregate Relationships not supported in Bulk Query",
        ),
        (
            "SELECT TYPEOF Owner WHEN User THEN Name END FROM Account",
            "TYPEOF not supported in Bulk Query",
        ),
    ],
)
def test_soql_bulk_api_refuses(api: Api, soql: str, message: str) -> None:
    response = api.post("/jobs/query", {"operation": "query", "query": soql})
    assert response.status_code == 400
    assert response.json() == [{"message": message, "errorCode": "API_ERROR"}]


def test_queries_the_org_cannot_run_fail_at_creation(api: Api, restricted_api: Api) -> None:
    unknown = api.post("/jobs/query", {"operation": "query", "query": "SELECT Naem FROM Account"})
    assert unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    hidden = restricted_api.post(
        "/jobs/query", {"operation": "query", "query": "SELECT Birthdate FROM Contact"}
    )
    assert (hidden.status_code, hidden.json()[0]["errorCode"]) == (400, "INVALID_FIELD")
    ordered = query_job(api, "SELECT Id FROM Account ORDER BY Name LIMIT 10")
    assert ordered["state"] == "JobComplete"


def test_query_all_includes_the_recycle_bin(api: Api, org: Org) -> None:
    created = ingest(api, "Account", "insert", "Name\nKept\nGone\n")
    gone = org.records("Account")[1]["Id"]
    ingest(api, "Account", "delete", f"Id\n{gone}\n")
    live = query_job(api, "SELECT Id FROM Account")
    everything = query_job(api, "SELECT Id, IsDeleted FROM Account", operation="queryAll")
    assert live["numberRecordsProcessed"] == 1 and created["numberRecordsProcessed"] == 2
    _, rows = page(api, everything["id"])
    assert sorted(rows[1:]) == sorted([[org.records("Account")[0]["Id"], "false"], [gone, "true"]])


def test_daily_query_jobs_are_limited(api: Api, org: Org) -> None:
    org.faults.settings.daily_bulk_query_job_limit = 1
    query_job(api, "SELECT Id FROM Account")
    assert api.get("/limits").json()["DailyBulkV2QueryJobs"] == {"Max": 1, "Remaining": 0}
    refused = api.post("/jobs/query", {"operation": "query", "query": "SELECT Id FROM Account"})
    assert refused.status_code == 400
    assert refused.json()[0] == {
        "message": "Max bulk v2 query jobs (1) per 24 hrs has been reached (2)",
        "errorCode": "LIMIT_EXCEEDED",
    }


def test_finished_jobs_cannot_be_aborted_but_can_be_deleted(api: Api, org: Org) -> None:
    job = query_job(api, "SELECT Id FROM Account")
    refused = api.patch(f"/jobs/query/{job['id']}", {"state": "Aborted"})
    assert (refused.status_code, refused.json()[0]["errorCode"]) == (400, "INVALIDJOBSTATE")
    assert api.delete(f"/jobs/query/{job['id']}").status_code == 204
    assert api.get(f"/jobs/query/{job['id']}/results").status_code == 404


@pytest.mark.parametrize(
    ("params", "error_code"),
    [({"locator": "not a locator"}, "INVALID_QUERY_LOCATOR"), ({"maxRecords": "0"}, "API_ERROR")],
)
def test_bad_paging_parameters(api: Api, params: dict[str, str], error_code: str) -> None:
    job = query_job(api, "SELECT Id FROM Account")
    response = api.get(f"/jobs/query/{job['id']}/results", params=params)
    assert (response.status_code, response.json()[0]["errorCode"]) == (400, error_code)


_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
    | st.sampled_from(list(',"\n\r;|^`\t\\')),
    min_size=1,
    max_size=40,
).filter(lambda value: value != "#N/A")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    values=st.lists(_TEXT, min_size=1, max_size=8),
    delimiter=st.sampled_from(sorted(DELIMITERS)),
    line_ending=st.sampled_from(sorted(LINE_ENDINGS)),
)
def test_values_round_trip_through_bulk_insert_and_query(
    api: Api, values: list[str], delimiter: str, line_ending: str
) -> None:
    fmt = {"columnDelimiter": delimiter, "lineEnding": line_ending}
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=DELIMITERS[delimiter],
        lineterminator=LINE_ENDINGS[line_ending],
        quoting=csv.QUOTE_ALL,
    )
    writer.writerows([["Name", "Description"], *[[f"R{i}", v] for i, v in enumerate(values)]])
    loaded = ingest(api, "Account", "insert", buffer.getvalue(), **fmt)
    assert loaded["numberRecordsFailed"] == 0
    ids = ", ".join(f"'{row['Id']}'" for row in api.org.records("Account")[-len(values) :])
    job = query_job(api, f"SELECT Name, Description FROM Account WHERE Id IN ({ids})", **fmt)
    _, rows = page(api, job["id"], delimiter=DELIMITERS[delimiter])
    assert sorted(rows[1:]) == sorted([f"R{i}", v] for i, v in enumerate(values))
