"""Bulk API 2.0 ingest jobs: job info, upload, the state machine, CSV semantics, results, limits."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest

from sfbridge.emulators.salesforce.bulk_csv import DELIMITERS, LINE_ENDINGS
from sfbridge.emulators.salesforce.faults import FaultRule
from sfbridge.emulators.salesforce.org import INTEGRATION_USERNAME, Org

from .conftest import Api

FINAL_STATES = {"JobComplete", "Failed", "Aborted"}


def finished(api: Api, kind: str, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll a job until it reaches a final state, as a client does; its last job info."""
    deadline = time.monotonic() + timeout
    while True:
        info = api.get(f"/jobs/{kind}/{job_id}").json()
        if info["state"] in FINAL_STATES:
            return info
        assert time.monotonic() < deadline, f"job {job_id} still {info['state']}"
        time.sleep(0.01)


def ingest(
    api: Api, object_name: str, operation: str, data: str | bytes, **options: str
) -> dict[str, Any]:
    """Create, upload, close and wait for one ingest job; its final job info."""
    job = api.post("/jobs/ingest", {"object": object_name, "operation": operation, **options})
    assert job.status_code == 200, job.text
    job_id = job.json()["id"]
    body = data.encode() if isinstance(data, str) else data
    upload = api.client.put(
        api.url(f"/jobs/ingest/{job_id}/batches"),
        content=body,
        headers={"Content-Type": "text/csv"},
    )
    assert upload.status_code == 201, upload.text
    closed = api.patch(f"/jobs/ingest/{job_id}", {"state": "UploadComplete"})
    assert closed.status_code == 200, closed.text
    return finished(api, "ingest", job_id)


def results(api: Api, job_id: str, kind: str, **fmt: str) -> list[list[str]]:
    """One result set of a job, parsed in the job's CSV format (header first)."""
    response = api.get(f"/jobs/ingest/{job_id}/{kind}/")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    delimiter = DELIMITERS[fmt.get("columnDelimiter", "COMMA")]
    return list(csv.reader(io.StringIO(response.text, newline=""), delimiter=delimiter))


@pytest.fixture
def ext_account(org: Org) -> Org:
    """The org with a unique external-id field ``Ext__c`` on Account."""
    org.add_custom_field(
        "Account", {"name": "Ext__c", "type": "Text", "externalId": True, "unique": True}
    )
    return org


# -- creating jobs ---------------------------------------------------------------------


def test_create_answers_the_real_job_info(api: Api, ext_account: Org) -> None:
    response = api.post(
        "/jobs/ingest",
        {"object": "account", "operation": "upsert", "externalIdFieldName": "ext__c"},
    )
    assert response.status_code == 200
    info = response.json()
    assert info["id"].startswith("750") and len(info["id"]) == 18
    assert info["contentUrl"] == f"services/data/v62.0/jobs/ingest/{info['id']}/batches"
    assert info["apiVersion"] == 62.0 and isinstance(info["apiVersion"], float)
    assert info["createdById"] == ext_account.user(username=api.credentials.username).id
    assert {k: info[k] for k in ("object", "externalIdFieldName", "state", "jobType")} == {
        "object": "Account",
        "externalIdFieldName": "Ext__c",
        "state": "Open",
        "jobType": "V2Ingest",
    }
    assert (info["lineEnding"], info["columnDelimiter"], info["contentType"]) == (
        "LF",
        "COMMA",
        "CSV",
    )
    assert info["createdDate"].endswith("+0000")


@pytest.mark.parametrize(
    ("body", "error_code"),
    [
        ({"object": "Nope__c", "operation": "insert"}, "INVALIDENTITY"),
        ({"object": "Account", "operation": "merge"}, "JSON_PARSER_ERROR"),
        (
            {"object": "Account", "operation": "insert", "columnDelimiter": "COLON"},
            "JSON_PARSER_ERROR",
        ),
        ({"object": "Account", "operation": "insert", "lineEnding": "CR"}, "JSON_PARSER_ERROR"),
        ({"object": "Account", "operation": "insert", "contentType": "JSON"}, "JSON_PARSER_ERROR"),
        ({"object": "Account", "operation": "upsert"}, "INVALIDJOB"),
        ({"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"}, "INVALIDJOB"),
    ],
)
def test_create_refuses_what_a_real_org_refuses(
    api: Api, body: dict[str, str], error_code: str
) -> None:
    response = api.post("/jobs/ingest", body)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == error_code


# -- the state machine -----------------------------------------------------------------


def test_a_job_moves_from_open_to_complete(api: Api, org: Org) -> None:
    job_id = api.post("/jobs/ingest", {"object": "Account", "operation": "insert"}).json()["id"]
    upload = api.client.put(api.url(f"/jobs/ingest/{job_id}/batches"), content=b"Name\nA\nB\n")
    assert (upload.status_code, upload.content) == (201, b"")
    assert api.get(f"/jobs/ingest/{job_id}").json()["state"] == "Open"
    closed = api.patch(f"/jobs/ingest/{job_id}", {"state": "UploadComplete"}).json()
    assert closed["state"] in {"UploadComplete", "InProgress", "JobComplete"}
    info = finished(api, "ingest", job_id)
    assert info["state"] == "JobComplete"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"], info["retries"]) == (
        2,
        0,
        0,
    )
    assert {"totalProcessingTime", "apiActiveProcessingTime", "apexProcessingTime"} <= set(info)
    assert org.count("Account") == 2


def test_illegal_transitions_are_refused(api: Api) -> None:
    job_id = api.post("/jobs/ingest", {"object": "Account", "operation": "insert"}).json()["id"]
    batches = api.url(f"/jobs/ingest/{job_id}/batches")
    assert api.delete(f"/jobs/ingest/{job_id}").json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert api.client.put(batches, content=b"Name\nA\n").status_code == 201
    second = api.client.put(batches, content=b"Name\nB\n")
    assert second.status_code == 400
    assert second.json()[0]["message"].startswith(f"Found multiple contents for job: {job_id}")
    bogus = api.patch(f"/jobs/ingest/{job_id}", {"state": "JobComplete"})
    assert bogus.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    api.patch(f"/jobs/ingest/{job_id}", {"state": "UploadComplete"})
    late = api.client.put(batches, content=b"Name\nC\n")
    assert (late.status_code, late.json()[0]["errorCode"]) == (400, "INVALIDJOBSTATE")
    finished(api, "ingest", job_id)
    for state in ("UploadComplete", "Aborted"):
        refused = api.patch(f"/jobs/ingest/{job_id}", {"state": state})
        assert (refused.status_code, refused.json()[0]["errorCode"]) == (400, "INVALIDJOBSTATE")
    assert api.delete(f"/jobs/ingest/{job_id}").status_code == 204
    assert api.get(f"/jobs/ingest/{job_id}").status_code == 404


def test_aborting_an_open_job_leaves_its_upload_unprocessed(api: Api, org: Org) -> None:
    job_id = api.post("/jobs/ingest", {"object": "Account", "operation": "insert"}).json()["id"]
    api.client.put(api.url(f"/jobs/ingest/{job_id}/batches"), content=b"Name\nA\nB\n")
    assert api.patch(f"/jobs/ingest/{job_id}", {"state": "Aborted"}).json()["state"] == "Aborted"
    assert results(api, job_id, "unprocessedrecords") == [["Name"], ["A"], ["B"]]
    assert org.count("Account") == 0


def test_aborting_a_running_job_stops_it_between_chunks(api: Api, org: Org) -> None:
    job_id = api.post("/jobs/ingest", {"object": "Account", "operation": "insert"}).json()["id"]
    rows = "".join(f"A{i}\n" for i in range(1200))
    api.client.put(api.url(f"/jobs/ingest/{job_id}/batches"), content=f"Name\n{rows}".encode())
    with org.store.lock:  # the worker waits for the store before its first chunk
        api.patch(f"/jobs/ingest/{job_id}", {"state": "UploadComplete"})
        time.sleep(0.05)
        aborted = api.patch(f"/jobs/ingest/{job_id}", {"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    deadline = time.monotonic() + 10
    while len(results(api, job_id, "unprocessedRecords")) == 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    processed = len(results(api, job_id, "successfulResults")) - 1
    unprocessed = len(results(api, job_id, "unprocessedRecords")) - 1
    assert 0 < processed < 1200 and processed + unprocessed == 1200
    assert org.count("Account") == processed
    assert api.get(f"/jobs/ingest/{job_id}").json()["state"] == "Aborted"


# -- CSV formats and semantics ---------------------------------------------------------


@pytest.mark.parametrize("line_ending", sorted(LINE_ENDINGS))
@pytest.mark.parametrize("delimiter", sorted(DELIMITERS))
def test_every_delimiter_and_line_ending(
    api: Api, org: Org, delimiter: str, line_ending: str
) -> None:
    fmt = {"columnDelimiter": delimiter, "lineEnding": line_ending}
    tricky = f'Co {DELIMITERS[delimiter]} "Q", Ltd\nline two'
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=DELIMITERS[delimiter], lineterminator=LINE_ENDINGS[line_ending]
    )
    writer.writerows([["Name", "Description"], [tricky, "plain"], ["Ünïcödé ✓", ""]])
    info = ingest(api, "Account", "insert", buffer.getvalue(), **fmt)
    assert (info["state"], info["numberRecordsProcessed"]) == ("JobComplete", 2)
    names = sorted(r["Name"] for r in org.records("Account"))
    assert names == sorted([tricky, "Ünïcödé ✓"])
    rows = results(api, info["id"], "successfulResults", **fmt)
    assert rows[0] == ["sf__Id", "sf__Created", "Name", "Description"]
    assert rows[1][1:] == ["true", tricky, "plain"]
    raw = api.get(f"/jobs/ingest/{info['id']}/successfulResults/").content
    assert raw.startswith(b'"sf__Id"' + DELIMITERS[delimiter].encode())
    assert raw.endswith(LINE_ENDINGS[line_ending].encode())


def test_data_with_other_line_endings_fails_the_job(api: Api, org: Org) -> None:
    info = ingest(api, "Account", "insert", "Name\r\nA\r\n")
    assert info["state"] == "Failed"
    assert info["errorMessage"] == (
        "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
    )
    assert org.count("Account") == 0


def test_empty_cell_leaves_a_value_and_na_sets_null(api: Api, org: Org) -> None:
    created = ingest(api, "Account", "insert", "Name,Industry,Phone\nAcme,,555-0100\n")
    record_id = results(api, created["id"], "successfulResults")[1][0]
    assert org.get("Account", record_id)["Industry"] is None  # not set on insert
    ingest(api, "Account", "update", f"Id,Industry,Phone\n{record_id},Energy,\n")
    assert org.get("Account", record_id)["Industry"] == "Energy"
    assert org.get("Account", record_id)["Phone"] == "555-0100"  # empty cell: unchanged
    ingest(api, "Account", "update", f"Id,Industry,Phone\n{record_id},,#N/A\n")
    record = org.get("Account", record_id)
    assert (record["Industry"], record["Phone"]) == ("Energy", None)


def test_upsert_creates_then_updates_and_reports_created(api: Api, ext_account: Org) -> None:
    first = ingest(
        api, "Account", "upsert", "Ext__c,Name\nA1,One\nA2,Two\n", externalIdFieldName="Ext__c"
    )
    created = results(api, first["id"], "successfulResults")
    assert [row[1] for row in created[1:]] == ["true", "true"]
    second = ingest(
        api, "Account", "upsert", "Ext__c,Name\na1,Uno\nA3,Tres\n", externalIdFieldName="Ext__c"
    )
    again = results(api, second["id"], "successfulResults")
    assert [(row[1], row[3]) for row in again[1:]] == [("false", "Uno"), ("true", "Tres")]
    assert again[1][0] == created[1][0]
    assert sorted(r["Name"] for r in ext_account.records("Account")) == ["Tres", "Two", "Uno"]


def test_relationship_headers_find_parents_by_external_id(api: Api, ext_account: Org) -> None:
    ingest(api, "Account", "upsert", "Ext__c,Name\nP1,Parent\n", externalIdFieldName="Ext__c")
    info = ingest(api, "Contact", "insert", "LastName,Account.Ext__c\nKid,P1\nOrphan,NOPE\n")
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    kid = next(r for r in ext_account.records("Contact") if r["LastName"] == "Kid")
    parent = ext_account.records("Account")[0]
    assert kid["AccountId"] == parent["Id"]
    failed = results(api, info["id"], "failedResults")
    assert failed[1] == [
        "",
        "INVALID_FIELD:Foreign key external ID: NOPE not found for field Ext__c in entity "
        "Account:AccountId --",
        "Orphan",
        "NOPE",
    ]
    ingest(api, "Contact", "update", f"Id,Account.Ext__c\n{kid['Id']},#N/A\n")
    assert ext_account.get("Contact", kid["Id"])["AccountId"] is None


def test_failed_rows_carry_the_exact_sf_error(api: Api, org: Org) -> None:
    data = "LastName,AccountId,Email\n,,a@example.com\nX,001000000000000AAA,\nY,,not-an-email\n"
    info = ingest(api, "Contact", "insert", data)
    assert (info["state"], info["numberRecordsFailed"]) == ("JobComplete", 3)
    failed = results(api, info["id"], "failedResults")
    assert failed[0] == ["sf__Id", "sf__Error", "LastName", "AccountId", "Email"]
    assert [row[:2] for row in failed[1:]] == [
        ["", "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"],
        ["", "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:AccountId --"],
        ["", "INVALID_EMAIL_ADDRESS:Email: invalid email address: not-an-email:Email --"],
    ]
    assert results(api, info["id"], "successfulResults") == [
        ["sf__Id", "sf__Created", "LastName", "AccountId", "Email"]
    ]


def test_update_without_an_id_fails_the_row_with_dashes(api: Api, org: Org) -> None:
    info = ingest(api, "Account", "update", "Id,Name\n,Nameless\n")
    failed = results(api, info["id"], "failedResults")
    assert failed[1][:2] == ["", "MISSING_ARGUMENT:Id not specified in an update call:Id --"]
    deleted = ingest(api, "Account", "delete", "Id\n001000000000000AAA\n")
    row = results(api, deleted["id"], "failedResults")[1]
    assert row[:2] == ["001000000000000AAA", "NOT_FOUND:The requested resource does not exist:--"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Name,Foo", "InvalidBatch : Field name not found : Foo"),
        ("Name,Parent.Nope__c", "InvalidBatch : Field name not found : Parent.Nope__c"),
    ],
)
def test_an_unknown_header_fails_the_whole_job(
    api: Api, org: Org, header: str, message: str
) -> None:
    info = ingest(api, "Account", "insert", f"{header}\nA,x\n")
    assert (info["state"], info["errorMessage"], info["numberRecordsProcessed"]) == (
        "Failed",
        message,
        0,
    )
    assert results(api, info["id"], "unprocessedRecords") == [header.split(","), ["A", "x"]]
    assert org.count("Account") == 0


def test_jobs_run_as_their_creator_with_field_level_security(restricted_api: Api, org: Org) -> None:
    hidden = ingest(restricted_api, "Contact", "insert", "LastName,Birthdate\nX,2000-01-01\n")
    assert hidden["errorMessage"] == "InvalidBatch : Field name not found : Birthdate"
    info = ingest(restricted_api, "Contact", "insert", "LastName\nMade By Ivo\n")
    record = org.records("Contact")[0]
    integration = org.user(username=INTEGRATION_USERNAME)
    assert integration is not None
    assert record["CreatedById"] == integration.id == info["createdById"]


def test_delete_recycles_and_hard_delete_purges(api: Api, org: Org) -> None:
    created = ingest(api, "Account", "insert", "Name\nSoft\nHard\n")
    soft, hard = (row[0] for row in results(api, created["id"], "successfulResults")[1:])
    ingest(api, "Contact", "insert", f"LastName,AccountId\nChild,{hard}\n")
    assert ingest(api, "Account", "delete", f"Id\n{soft}\n")["numberRecordsFailed"] == 0
    purged = ingest(api, "Account", "hardDelete", f"id\n{hard}\n")
    assert results(api, purged["id"], "successfulResults")[1][:2] == [hard, "false"]
    assert org.get("Account", soft, include_deleted=True)["IsDeleted"] is True
    assert org.get("Account", hard, include_deleted=True) is None
    assert org.count("Contact", include_deleted=True) == 0  # the cascade went too


def test_purged_records_stay_listed_by_the_deleted_resource(api: Api, org: Org) -> None:
    start = org.store.clock.now()
    created = ingest(api, "Account", "insert", "Name\nSoft\nHard\n")
    soft, hard = (row[0] for row in results(api, created["id"], "successfulResults")[1:])
    ingest(api, "Account", "delete", f"Id\n{soft}\n")
    ingest(api, "Account", "hardDelete", f"Id\n{hard}\n")
    window = {"start": start.isoformat(), "end": org.store.clock.now().isoformat()}

    listed = api.get("/sobjects/Account/deleted/", params=window).json()["deletedRecords"]
    rows = api.get("/queryAll", params={"q": "SELECT Id FROM Account WHERE IsDeleted = true"})

    assert sorted(d["id"] for d in listed) == sorted([soft, hard])
    assert [r["Id"] for r in rows.json()["records"]] == [soft]


def test_deletes_take_only_an_id_column(api: Api, org: Org) -> None:
    info = ingest(api, "Account", "delete", "Id,Name\n001000000000000AAA,X\n")
    assert info["errorMessage"] == "InvalidBatch : The 'delete' batch must contain only ids"


# -- results, listing, faults and limits -----------------------------------------------


def test_result_routes_ignore_letter_case(api: Api, org: Org) -> None:
    info = ingest(api, "Account", "insert", "Name\nA\n")
    for kind in ("successfulResults", "SUCCESSFULRESULTS/", "failedresults", "unprocessedRecords"):
        response = api.get(f"/jobs/ingest/{info['id']}/{kind}")
        assert response.status_code == 200, kind
    assert api.get(f"/jobs/ingest/{info['id']}/everything").status_code == 404
    assert api.get(f"/jobs/ingest/{info['id']}/batches").status_code == 405


def test_list_jobs_shows_every_ingest_job(api: Api, org: Org) -> None:
    first = ingest(api, "Account", "insert", "Name\nA\n")
    second = api.post("/jobs/ingest", {"object": "Contact", "operation": "insert"}).json()
    listing = api.get("/jobs/ingest").json()
    assert listing["done"] is True and listing["nextRecordsUrl"] is None
    assert [(j["id"], j["state"]) for j in listing["records"]] == [
        (first["id"], "JobComplete"),
        (second["id"], "Open"),
    ]


def test_injected_faults_hit_bulk_calls_and_a_retry_succeeds(api: Api, org: Org) -> None:
    org.faults.add_rule(FaultRule("SERVER_UNAVAILABLE", remaining=1, path_contains="/jobs/ingest"))
    refused = api.post("/jobs/ingest", {"object": "Account", "operation": "insert"})
    assert (refused.status_code, refused.json()[0]["errorCode"]) == (503, "SERVER_UNAVAILABLE")
    assert ingest(api, "Account", "insert", "Name\nA\n")["state"] == "JobComplete"


def test_each_10000_records_spend_a_batch_of_the_daily_allocation(api: Api, org: Org) -> None:
    org.faults.settings.daily_bulk_batch_limit = 1
    assert ingest(api, "Account", "insert", "Name\nA\n")["state"] == "JobComplete"
    assert api.get("/limits").json()["DailyBulkApiBatches"] == {"Max": 1, "Remaining": 0}
    over = ingest(api, "Account", "insert", "Name\nB\nC\n")
    assert (over["state"], over["errorMessage"]) == (
        "Failed",
        "ExceededQuota : ApiBatchItems Limit exceeded.",
    )
    assert results(api, over["id"], "unprocessedRecords") == [["Name"], ["B"], ["C"]]
    assert org.count("Account") == 1


def test_an_upload_over_150_mb_encoded_is_refused(api: Api) -> None:
    job_id = api.post("/jobs/ingest", {"object": "Account", "operation": "insert"}).json()["id"]
    too_big = b"Name\n" + b"x" * (113 * 1024 * 1024)  # about 151 MB once base64-encoded
    response = api.client.put(api.url(f"/jobs/ingest/{job_id}/batches"), content=too_big)
    assert response.status_code == 400
    assert response.json()[0]["message"].startswith("Failed to read request. Exceeded max size")
    assert api.get(f"/jobs/ingest/{job_id}").json()["state"] == "Open"


@pytest.mark.slow
def test_a_20000_row_upsert_completes_in_two_batches(api: Api, ext_account: Org) -> None:
    rows = "".join(f"K{i},Name {i}\n" for i in range(20_000))
    started = time.monotonic()
    info = ingest(api, "Account", "upsert", f"Ext__c,Name\n{rows}", externalIdFieldName="Ext__c")
    assert (info["state"], info["numberRecordsProcessed"]) == ("JobComplete", 20_000)
    assert time.monotonic() - started < 30
    assert ext_account.faults.bulk_batches_used == 2
