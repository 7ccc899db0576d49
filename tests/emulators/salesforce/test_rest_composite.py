"""sObject Collections and /composite."""

from __future__ import annotations

from sfbridge.emulators.salesforce.org import Org

from .conftest import Api


def _accounts(n: int, prefix: str = "A") -> list[dict]:
    return [{"attributes": {"type": "Account"}, "Name": f"{prefix}{i}"} for i in range(n)]


def test_collection_create_reports_each_record_in_order(api: Api, org: Org) -> None:
    records = [*_accounts(2), {"attributes": {"type": "Lead"}, "LastName": "NoCompany"}]
    response = api.post("/composite/sobjects", {"allOrNone": False, "records": records})
    assert response.status_code == 200
    results = response.json()
    assert [r["success"] for r in results] == [True, True, False]
    assert results[2]["errors"] == [
        {
            "statusCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [Company]",
            "fields": ["Company"],
        }
    ]
    assert org.count("Account") == 2


def test_all_or_none_rolls_back_every_record(api: Api, org: Org) -> None:
    records = [*_accounts(2), {"attributes": {"type": "Account"}}]
    results = api.post("/composite/sobjects", {"allOrNone": True, "records": records}).json()
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert org.count("Account") == 0


def test_more_than_200_records_is_refused_whole(api: Api, org: Org) -> None:
    response = api.post("/composite/sobjects", {"records": _accounts(201)})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert org.count("Account") == 0


def test_collection_update_retrieve_delete(api: Api, org: Org) -> None:
    ids = [r["id"] for r in api.post("/composite/sobjects", {"records": _accounts(3)}).json()]
    updates = [{"attributes": {"type": "Account"}, "id": i, "Industry": "Energy"} for i in ids]
    assert all(r["success"] for r in api.patch("/composite/sobjects", {"records": updates}).json())
    fetched = api.post(
        "/composite/sobjects/Account",
        {"ids": [*ids, "001000000000009AAA"], "fields": ["Name", "Industry"]},
    ).json()
    assert [f["Industry"] for f in fetched[:3]] == ["Energy"] * 3
    assert fetched[3] is None
    deleted = api.delete("/composite/sobjects", params={"ids": ",".join(ids[:2])}).json()
    assert [d["id"] for d in deleted] == ids[:2]
    assert org.count("Account") == 1


def test_collection_upsert_by_external_id(api: Api, org: Org) -> None:
    org.add_custom_field("Contact", {"name": "Ext__c", "type": "Text", "externalId": True})
    records = [
        {"attributes": {"type": "Contact"}, "Ext__c": f"e{i}", "LastName": f"L{i}"}
        for i in range(3)
    ]
    first = api.patch("/composite/sobjects/Contact/Ext__c", {"records": records}).json()
    assert [r["created"] for r in first] == [True, True, True]
    records[0]["LastName"] = "Changed"
    second = api.patch("/composite/sobjects/Contact/Ext__c", {"records": records}).json()
    assert [r["created"] for r in second] == [False, False, False]
    assert [r["id"] for r in second] == [r["id"] for r in first]
    assert org.get("Contact", first[0]["id"])["LastName"] == "Changed"


def test_composite_references_earlier_results(api: Api, org: Org) -> None:
    base = "/services/data/v62.0"
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": f"{base}/sobjects/Account",
                "referenceId": "acct",
                "body": {"Name": "Ref Co"},
            },
            {
                "method": "POST",
                "url": f"{base}/sobjects/Contact",
                "referenceId": "person",
                "body": {"LastName": "Ref", "AccountId": "@{acct.id}"},
            },
            {"method": "GET", "url": f"{base}/query?q=SELECT+Id+FROM+Contact", "referenceId": "q"},
        ],
    }
    response = api.post("/composite", body).json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in response] == [201, 201, 200]
    account_id = response[0]["body"]["id"]
    assert response[0]["httpHeaders"]["Location"].endswith(account_id)
    assert org.get("Contact", response[1]["body"]["id"])["AccountId"] == account_id
    assert response[2]["body"]["totalSize"] == 1


def test_composite_all_or_none_halts_and_rolls_back(api: Api, org: Org) -> None:
    base = "/services/data/v62.0"
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": f"{base}/sobjects/Account",
                "referenceId": "a",
                "body": {"Name": "Kept?"},
            },
            {
                "method": "POST",
                "url": f"{base}/sobjects/Lead",
                "referenceId": "b",
                "body": {"LastName": "NoCompany"},
            },
            {
                "method": "POST",
                "url": f"{base}/sobjects/Account",
                "referenceId": "c",
                "body": {"Name": "Never"},
            },
        ],
    }
    response = api.post("/composite", body).json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in response] == [400, 400, 400]
    assert response[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert response[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert org.count("Account") == 0


def test_composite_counts_as_one_api_call(api: Api, org: Org) -> None:
    before = org.faults.api_used
    base = "/services/data/v62.0"
    body = {
        "compositeRequest": [
            {
                "method": "POST",
                "url": f"{base}/sobjects/Account",
                "referenceId": f"r{i}",
                "body": {"Name": f"N{i}"},
            }
            for i in range(5)
        ]
    }
    api.post("/composite", body)
    assert org.faults.api_used == before + 1
