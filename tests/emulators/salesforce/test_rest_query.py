"""REST query and queryAll: paging with nextRecordsUrl, batch size, deleted rows, errors."""

from __future__ import annotations

import pytest

from sfbridge.emulators.salesforce.org import Org

from .conftest import Api


@pytest.fixture
def contacts(api: Api) -> list[str]:
    records = [
        {"attributes": {"type": "Contact"}, "LastName": f"Person{i:04d}"} for i in range(200)
    ]
    ids: list[str] = []
    for _ in range(26):
        ids += [r["id"] for r in api.post("/composite/sobjects", {"records": records}).json()]
    return ids


def test_query_pages_follow_next_records_url(api: Api, contacts: list[str]) -> None:
    first = api.get("/query", params={"q": "SELECT Id, Name FROM Contact ORDER BY Id"}).json()
    assert first["totalSize"] == 5200
    assert first["done"] is False
    assert len(first["records"]) == 2000
    seen = [r["Id"] for r in first["records"]]
    page = first
    while not page["done"]:
        assert page["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
        page = api.client.get(page["nextRecordsUrl"]).json()
        seen += [r["Id"] for r in page["records"]]
    assert seen == sorted(contacts)
    assert "nextRecordsUrl" not in page


def test_batch_size_header_lowers_the_page(api: Api, contacts: list[str]) -> None:
    headers = {"Sforce-Query-Options": "batchSize=500"}
    page = api.get("/query", params={"q": "SELECT Id FROM Contact"}, headers=headers).json()
    assert len(page["records"]) == 500
    nxt = api.client.get(page["nextRecordsUrl"]).json()
    assert len(nxt["records"]) == 500


def test_count_query(api: Api, contacts: list[str]) -> None:
    page = api.get("/query", params={"q": "SELECT COUNT() FROM Contact"}).json()
    assert page == {"totalSize": 5200, "done": True, "records": []}


def test_query_all_sees_the_recycle_bin(api: Api, org: Org) -> None:
    created = api.post("/sobjects/Account", {"Name": "Gone"}).json()["id"]
    api.delete(f"/sobjects/Account/{created}")
    soql = "SELECT Id, IsDeleted FROM Account"
    assert api.get("/query", params={"q": soql}).json()["totalSize"] == 0
    everything = api.get("/queryAll", params={"q": soql}).json()
    assert everything["records"][0]["IsDeleted"] is True


def test_bad_soql_is_a_400_with_the_code(api: Api) -> None:
    response = api.get("/query", params={"q": "SELECT Id FRM Contact"})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "MALFORMED_QUERY"
    unknown = api.get("/query", params={"q": "SELECT Naem FROM Account"}).json()[0]
    assert unknown["errorCode"] == "INVALID_FIELD"
    assert "ERROR at Row:1:Column:8" in unknown["message"]


def test_unknown_locator_is_refused(api: Api) -> None:
    response = api.client.get("/services/data/v62.0/query/01gXXXXXXXXXXXXXXX-2000")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_field_level_security_applies_to_soql(restricted_api: Api) -> None:
    response = restricted_api.get("/query", params={"q": "SELECT Birthdate FROM Contact"})
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"
