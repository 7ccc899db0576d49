"""Unmodified simple-salesforce against the emulator over HTTPS: the acceptance of faithfulness.

The client is configured the way a user configures it for any org: trust the
CA (REQUESTS_CA_BUNDLE) and, because it hard-codes ``https://{domain}.salesforce.com``
for logins, reach that host through HTTPS_PROXY. Nothing in the client is patched.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sfbridge.emulators.salesforce.server import RunningEmulator


@pytest.fixture
def sf(sf_client_env: RunningEmulator) -> Salesforce:
    """A client logged in with the client-credentials flow (My Domain login host)."""
    creds = sf_client_env.credentials
    return Salesforce(
        consumer_key=creds.client_id,
        consumer_secret=creds.client_secret,
        domain="sfbridge-emulator.my",
        version="62.0",
    )


def test_client_credentials_login(sf: Salesforce, sf_client_env: RunningEmulator) -> None:
    assert sf.sf_instance == f"127.0.0.1:{sf_client_env.port}"
    assert sf.is_sandbox() is False


def test_password_login_oauth_and_soap(sf_client_env: RunningEmulator) -> None:
    creds = sf_client_env.credentials
    oauth = Salesforce(
        username=creds.username,
        password=creds.password,
        consumer_key=creds.client_id,
        consumer_secret=creds.client_secret,
    )
    assert oauth.query("SELECT COUNT() FROM Account")["totalSize"] > 0
    soap = Salesforce(
        username=creds.username, password=creds.password, security_token=creds.security_token
    )
    assert soap.query("SELECT Id FROM User LIMIT 1")["totalSize"] == 1


def test_query_and_query_all_paging(sf: Salesforce, sf_client_env: RunningEmulator) -> None:
    total = sf_client_env.org.count("Contact")
    assert total >= 5000
    first = sf.query("SELECT Id, Name, Account.Name FROM Contact")
    assert first["done"] is False and len(first["records"]) == 2000
    everything = sf.query_all("SELECT Id, Email FROM Contact ORDER BY Id")
    ids = [r["Id"] for r in everything["records"]]
    assert len(ids) == total == len(set(ids))
    assert ids == sorted(ids)


def test_describe(sf: Salesforce) -> None:
    describe = sf.Contact.describe()
    assert describe["keyPrefix"] == "003"
    assert any(f["name"] == "Email" for f in describe["fields"])
    assert "Contact" in {s["name"] for s in sf.describe()["sobjects"]}


def test_crud_and_upsert_by_external_id(sf: Salesforce, sf_client_env: RunningEmulator) -> None:
    org = sf_client_env.org
    if org.object("Account").field("SimpleExt__c") is None:
        org.add_custom_field(
            "Account", {"name": "SimpleExt__c", "type": "Text", "externalId": True}
        )
    created = sf.Account.create({"Name": "Simple Co"})
    assert created["success"] is True
    record = sf.Account.get(created["id"])
    assert record["Name"] == "Simple Co"
    assert sf.Account.update(created["id"], {"Industry": "Energy"}) == 204
    assert sf.Account.get(created["id"])["Industry"] == "Energy"
    assert sf.Account.upsert("SimpleExt__c/ext-1", {"Name": "Upserted"}) == 201
    assert sf.Account.upsert("SimpleExt__c/ext-1", {"Name": "Again"}) == 200
    assert sf.Account.get_by_custom_id("SimpleExt__c", "ext-1")["Name"] == "Again"
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.create({"LastName": "No Company"})
    assert raised.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_deleted_and_updated(sf: Salesforce) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    victim = sf.Contact.create({"LastName": "Temporary"})["id"]
    sf.Contact.update(victim, {"Title": "Changed"})
    sf.Contact.delete(victim)
    end = datetime.now(UTC) + timedelta(minutes=1)
    deleted = sf.Contact.deleted(start, end)
    assert victim in [d["id"] for d in deleted["deletedRecords"]]
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    updated = sf.Contact.updated(start, datetime.now(UTC) + timedelta(minutes=1))
    assert kept in updated["ids"]


def test_composite_collections_and_limits(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Account"}, "Name": f"Batch {i}"} for i in range(150)]
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )
    assert len(results) == 150 and all(r["success"] for r in results)
    ids = ",".join(r["id"] for r in results[:5])
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids})
    assert all(d["success"] for d in deleted)
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] >= limits["DailyApiRequests"]["Remaining"]
    assert sf.api_usage["api-usage"].total == limits["DailyApiRequests"]["Max"]


def test_tooling_creates_an_external_id_field(
    sf: Salesforce, sf_client_env: RunningEmulator
) -> None:
    body = {
        "FullName": "Contact.Bulk2_Key__c",
        "Metadata": {"label": "Bulk2 Key", "type": "Text", "length": 40, "externalId": True},
    }
    created = sf.toolingexecute("sobjects/CustomField", method="POST", data=body)
    assert created["success"] is True and created["id"].startswith("00N")
    found = sf.toolingexecute(
        "query/?q=SELECT+Id,DeveloperName+FROM+CustomField+WHERE+TableEnumOrId='Contact'"
    )
    assert {"Id": created["id"], "DeveloperName": "Bulk2_Key"} in [
        {k: r[k] for k in ("Id", "DeveloperName")} for r in found["records"]
    ]
    assert sf_client_env.org.object("Contact").field("Bulk2_Key__c") is not None


def test_bulk2_upsert_records_and_csv_file_then_query(
    sf: Salesforce, sf_client_env: RunningEmulator, tmp_path: Path
) -> None:
    org = sf_client_env.org
    if org.object("Contact").field("Bulk2_Ext__c") is None:
        org.add_custom_field(
            "Contact", {"name": "Bulk2_Ext__c", "type": "Text", "externalId": True, "unique": True}
        )
    records = [{"Bulk2_Ext__c": f"b2-{i}", "LastName": f"Bulk {i}"} for i in range(300)]
    loaded = sf.bulk2.Contact.upsert(records=records, external_id_field="Bulk2_Ext__c", wait=0.1)
    assert [(r["numberRecordsProcessed"], r["numberRecordsFailed"]) for r in loaded] == [(300, 0)]
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text('Bulk2_Ext__c,LastName\nb2-0,"Renamed, Again"\nb2-new,Fresh\n')
    again = sf.bulk2.Contact.upsert(
        csv_file=str(csv_file), external_id_field="Bulk2_Ext__c", wait=0.1
    )
    job_id = again[0]["job_id"]
    assert (again[0]["numberRecordsProcessed"], again[0]["numberRecordsFailed"]) == (2, 0)
    outcome = sf.bulk2.Contact.get_all_ingest_records(job_id)
    created = {r["Bulk2_Ext__c"]: r["sf__Created"] for r in outcome["successfulRecords"]}
    assert created == {"b2-0": "false", "b2-new": "true"}
    soql = "SELECT Id, Bulk2_Ext__c, LastName FROM Contact WHERE Bulk2_Ext__c LIKE 'b2-%'"
    pages = list(sf.bulk2.Contact.query(soql, max_records=120, wait=0.1))
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert len(pages) == 3 and len(rows) == 301
    assert {r["Bulk2_Ext__c"]: r["LastName"] for r in rows}["b2-0"] == "Renamed, Again"


def test_bulk2_query_pages_every_seeded_contact(
    sf: Salesforce, sf_client_env: RunningEmulator
) -> None:
    total = sf_client_env.org.count("Contact")
    pages = list(
        sf.bulk2.Contact.query("SELECT Id, Email FROM Contact", max_records=2500, wait=0.1)
    )
    ids = [row["Id"] for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert len(pages) == -(-total // 2500)
    assert len(ids) == len(set(ids)) == total
