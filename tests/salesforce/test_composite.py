"""sObject Collections chunked to 200 with results at the caller's indexes, and /composite."""

from __future__ import annotations

import json
import uuid

import pytest

from sfbridge.emulators.salesforce.faults import FaultRule
from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.errors import ConfigError
from sfbridge.salesforce import (
    SalesforceClient,
    SalesforceRecordError,
    SalesforceRetriableError,
    Subrequest,
)

from .conftest import FakeOrg, answer, api_calls


def tag() -> str:
    return "T" + uuid.uuid4().hex[:12]


def test_create_records_in_chunks_with_each_result_at_its_index(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    sf_client.connect()
    name = tag()
    records = [{"LastName": name, "FirstName": str(i)} for i in range(450)]
    records[123] = {"FirstName": "no last name"}
    before = api_calls(org_server)
    results = sf_client.create_records("Contact", records)
    assert api_calls(org_server) - before == 3  # 200 + 200 + 50
    assert [r.index for r in results] == list(range(450))
    refused = results[123]
    assert not refused.success and refused.id is None
    assert isinstance(refused.error, SalesforceRecordError)
    assert (refused.error.error_code, refused.error.row) == ("REQUIRED_FIELD_MISSING", 123)
    assert refused.error.fields == ("LastName",)
    created = {r.id for r in results if r.success}
    assert len(created) == 449
    rows = sf_client.query(f"SELECT Id FROM Contact WHERE LastName = '{name}'")
    assert {r["Id"] for r in rows} == created
    assert records[0] == {"LastName": name, "FirstName": "0"}  # the caller's dicts untouched


def test_update_upsert_retrieve_and_delete_records(sf_client: SalesforceClient) -> None:
    name = tag()
    ids = [r.id for r in sf_client.create_records("Contact", [{"LastName": name}] * 3)]
    assert all(ids)
    updates = [{"Id": i, "FirstName": f"n{n}"} for n, i in enumerate(ids)]
    updates.append({"Id": "003000000000000AAA", "FirstName": "ghost"})
    updated = sf_client.update_records("Contact", updates)
    assert [r.success for r in updated] == [True, True, True, False]
    assert updated[3].error is not None and updated[3].error.row == 3

    keys = [tag(), tag()]
    first = sf_client.upsert_records(
        "Contact", "Ext_Id__c", [{"Ext_Id__c": k, "LastName": name} for k in keys]
    )
    assert [r.created for r in first] == [True, True]
    again = sf_client.upsert_records(
        "Contact", "Ext_Id__c", [{"Ext_Id__c": keys[1], "FirstName": "x"}, {"LastName": "y"}]
    )
    assert (again[0].created, again[0].id) == (False, first[1].id)
    assert again[1].error is not None and again[1].error.error_code == "MISSING_ARGUMENT"

    missing = "003000000000000AAA"
    found = sf_client.retrieve_records("Contact", [ids[1], missing, ids[0]], ["Id", "FirstName"])
    assert found[0] is not None and found[0]["FirstName"] == "n1"
    assert found[1] is None
    assert found[2] is not None and found[2]["Id"] == ids[0]

    deleted = sf_client.delete_records([ids[0], "003,not-an-id", ids[1], ids[2]])
    assert [r.id for r in deleted] == [ids[0], None, ids[1], ids[2]]
    assert deleted[1].error is not None and deleted[1].error.error_code == "MALFORMED_ID"
    assert [r.success for r in deleted] == [True, False, True, True]
    twice = sf_client.delete_records(ids[:1])
    assert twice[0].error is not None and twice[0].error.error_code == "ENTITY_IS_DELETED"


def test_all_or_none_rolls_back_within_one_call(sf_client: SalesforceClient) -> None:
    name = tag()
    results = sf_client.create_records(
        "Contact", [{"LastName": name}, {"FirstName": "x"}], all_or_none=True
    )
    assert not any(r.success for r in results)
    assert results[0].error is not None
    assert results[0].error.error_code == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf_client.count("Contact", f"LastName = '{name}'") == 0
    with pytest.raises(ConfigError, match="at most 200 records; got 201"):
        sf_client.create_records("Contact", [{"LastName": name}] * 201, all_or_none=True)


def test_a_whole_collection_call_refused_by_a_lock_is_retried(
    org_server: RunningEmulator, sf_client: SalesforceClient, sleeps: list[float]
) -> None:
    sf_client.connect()
    org_server.org.faults.add_rule(
        FaultRule("UNABLE_TO_LOCK_ROW", remaining=2, path_contains="/composite/sobjects")
    )
    name = tag()
    results = sf_client.create_records("Contact", [{"LastName": name}] * 5)
    assert all(r.success for r in results) and len(sleeps) == 2
    assert sf_client.count("Contact", f"LastName = '{name}'") == 5


def test_records_refused_by_a_lock_are_sent_again_alone(sleeps: list[float]) -> None:
    locked = {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access"}
    org = FakeOrg(
        answer(200, [{"id": "003A", "success": True}, {"success": False, "errors": [locked]}]),
        answer(200, [{"id": "003B", "success": True}]),
    )
    with org.client(sleeps) as client:
        results = client.create_records("Contact", [{"LastName": "a"}, {"LastName": "b"}])
    assert [(r.index, r.id, r.success) for r in results] == [(0, "003A", True), (1, "003B", True)]
    resent = json.loads(org.api_requests[1].content)
    assert resent["records"] == [{"LastName": "b", "attributes": {"type": "Contact"}}]
    assert len(sleeps) == 1


def test_a_record_that_stays_locked_keeps_its_retriable_error(sleeps: list[float]) -> None:
    locked = {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}
    org = FakeOrg(answer(200, [{"success": False, "errors": [locked]}]))
    with org.client(sleeps) as client:
        (result,) = client.create_records("Contact", [{"LastName": "a"}])
    assert isinstance(result.error, SalesforceRetriableError) and result.error.row == 0
    assert len(org.api_requests) == 4  # the policy's four tries


def test_composite_resolves_references_and_reports_each_subrequest(
    sf_client: SalesforceClient,
) -> None:
    name = tag()
    results = sf_client.composite(
        [
            Subrequest("POST", "sobjects/Account", "newAccount", {"Name": name}),
            Subrequest(
                "POST",
                "sobjects/Contact",
                "newContact",
                {"LastName": name, "AccountId": "@{newAccount.id}"},
            ),
            Subrequest("POST", "sobjects/Contact", "badContact", {"FirstName": "x"}),
        ]
    )
    assert [r.reference_id for r in results] == ["newAccount", "newContact", "badContact"]
    assert [r.status for r in results] == [201, 201, 400]
    assert results[0].error is None and results[1].headers["Location"].endswith(
        results[1].body["id"]
    )
    contact = sf_client.get("Contact", results[1].body["id"], ["AccountId"])
    assert contact["AccountId"] == results[0].body["id"]
    bad = results[2].error
    assert isinstance(bad, SalesforceRecordError) and bad.error_code == "REQUIRED_FIELD_MISSING"


def test_composite_all_or_none_halts_the_rest(sf_client: SalesforceClient) -> None:
    name = tag()
    results = sf_client.composite(
        [
            Subrequest("POST", "/services/data/v62.0/sobjects/Account", "a", {"Name": name}),
            Subrequest("POST", "sobjects/Contact", "b", {"FirstName": "x"}),
        ],
        all_or_none=True,
    )
    assert [r.status for r in results] == [400, 400]
    assert results[0].error is not None and results[0].error.error_code == "PROCESSING_HALTED"
    assert sf_client.count("Account", f"Name = '{name}'") == 0


def test_composite_requests_are_checked_before_sending(sf_client: SalesforceClient) -> None:
    too_many = [Subrequest("GET", "limits", f"r{i}") for i in range(26)]
    with pytest.raises(ConfigError, match="1 to 25 subrequests; got 26"):
        sf_client.composite(too_many)
    with pytest.raises(ConfigError, match="referenceId 'new-account'"):
        sf_client.composite([Subrequest("GET", "limits", "new-account")])
