"""The Tooling API: custom fields and objects created at run time, and Tooling queries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sfbridge.emulators.salesforce.app import create_app
from sfbridge.emulators.salesforce.oauth import AuthService
from sfbridge.emulators.salesforce.org import Org

from .conftest import INSTANCE, Api, login


def custom_field(full_name: str, **metadata: Any) -> dict[str, Any]:
    """A CustomField create body; a Text field labelled after the name unless told otherwise."""
    label = full_name.split(".")[-1].removesuffix("__c")
    return {"FullName": full_name, "Metadata": {"label": label, "type": "Text", **metadata}}


SUBSCRIPTION = {
    "FullName": "Subscription__c",
    "Metadata": {
        "label": "Subscription",
        "pluralLabel": "Subscriptions",
        "nameField": {"type": "Text", "label": "Subscription Name"},
        "deploymentStatus": "Deployed",
        "sharingModel": "ReadWrite",
    },
}


def tooling_query(api: Api, soql: str) -> Any:
    return api.get("/tooling/query", params={"q": soql})


def test_a_new_field_is_in_describe_soql_and_tooling_at_once(api: Api, org: Org) -> None:
    body = custom_field("Contact.CIO_Id__c", length=64, externalId=True, unique=True)
    created = api.post("/tooling/sobjects/CustomField", body)
    assert created.status_code == 201
    result = created.json()
    assert result["id"].startswith("00N") and result == {
        "id": result["id"],
        "success": True,
        "errors": [],
    }
    fields = {f["name"]: f for f in api.get("/sobjects/Contact/describe").json()["fields"]}
    described = fields["CIO_Id__c"]
    assert (described["type"], described["length"], described["externalId"]) == (
        "string",
        64,
        True,
    )
    assert described["unique"] is True and described["custom"] is True
    api.post("/sobjects/Contact", {"LastName": "Lin", "CIO_Id__c": "cio-1"})
    rows = api.get("/query", params={"q": "SELECT CIO_Id__c FROM Contact"}).json()["records"]
    assert [r["CIO_Id__c"] for r in rows] == ["cio-1"]
    found = tooling_query(
        api,
        "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE TableEnumOrId = 'Contact'",
    ).json()
    assert found["entityTypeName"] == "CustomField" and found["done"] is True
    assert [(r["Id"], r["DeveloperName"], r["TableEnumOrId"]) for r in found["records"]] == [
        (result["id"], "CIO_Id", "Contact")
    ]
    assert found["records"][0]["attributes"] == {
        "type": "CustomField",
        "url": f"/services/data/v62.0/tooling/sobjects/CustomField/{result['id']}",
    }


def test_an_existing_field_is_a_duplicate_developer_name(api: Api) -> None:
    assert api.post("/tooling/sobjects/CustomField", custom_field("Lead.Ext__c")).status_code == 201
    again = api.post("/tooling/sobjects/CustomField", custom_field("Lead.Ext__c"))
    assert again.status_code == 400
    assert again.json() == [
        {
            "message": "There is already a field named Ext on Lead.",
            "errorCode": "DUPLICATE_DEVELOPER_NAME",
        }
    ]


@pytest.mark.parametrize(
    ("body", "error_code"),
    [
        (custom_field("Contact.Kind__c", type="Blob"), "JSON_PARSER_ERROR"),
        (custom_field("Nope__c.Kind__c"), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        (custom_field("Contact.Kind"), "FIELD_INTEGRITY_EXCEPTION"),
        (custom_field("Contact.Bad__Name__c"), "FIELD_INTEGRITY_EXCEPTION"),
        (custom_field("Contact.Kind__c", label=""), "REQUIRED_FIELD_MISSING"),
        (custom_field("Contact.Owner__c", type="Lookup"), "REQUIRED_FIELD_MISSING"),
        (
            custom_field(
                "Contact.Owner__c", type="Lookup", referenceTo="Nope__c", relationshipName="O"
            ),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        ({"FullName": "Contact.Kind__c"}, "JSON_PARSER_ERROR"),
    ],
)
def test_bad_field_definitions_are_refused(api: Api, body: dict[str, Any], error_code: str) -> None:
    response = api.post("/tooling/sobjects/CustomField", body)
    assert (response.status_code, response.json()[0]["errorCode"]) == (400, error_code)


def test_unknown_tooling_entities_are_not_found(api: Api) -> None:
    assert api.post("/tooling/sobjects/ApexClass", {"Metadata": {}}).status_code == 404


def test_picklist_and_number_fields(api: Api, org: Org) -> None:
    values = {
        "valueSetDefinition": {
            "value": [{"fullName": "Free", "label": "Free"}, {"fullName": "Pro", "label": "Pro"}]
        }
    }
    api.post(
        "/tooling/sobjects/CustomField",
        custom_field("Account.Plan__c", type="Picklist", valueSet=values),
    )
    api.post(
        "/tooling/sobjects/CustomField",
        custom_field("Account.Seats__c", type="Number", precision=6, scale=0),
    )
    fields = {f["name"]: f for f in api.get("/sobjects/Account/describe").json()["fields"]}
    assert [v["value"] for v in fields["Plan__c"]["picklistValues"]] == ["Free", "Pro"]
    assert (fields["Seats__c"]["type"], fields["Seats__c"]["precision"]) == ("double", 6)


def test_a_custom_object_with_a_lookup_works_through_rest_and_soql(api: Api, org: Org) -> None:
    created = api.post("/tooling/sobjects/CustomObject", SUBSCRIPTION)
    assert created.status_code == 201 and created.json()["id"].startswith("01I")
    lookup = custom_field(
        "Subscription__c.Contact__c",
        type="Lookup",
        referenceTo="Contact",
        relationshipName="Contact",
    )
    field_id = api.post("/tooling/sobjects/CustomField", lookup).json()["id"]
    contact = api.post("/sobjects/Contact", {"LastName": "Lin"}).json()["id"]
    record = api.post("/sobjects/Subscription__c", {"Name": "Pro plan", "Contact__c": contact})
    assert record.status_code == 201
    soql = "SELECT Name, Contact__r.LastName FROM Subscription__c"
    rows = api.get("/query", params={"q": soql}).json()["records"]
    assert [(r["Name"], r["Contact__r"]["LastName"]) for r in rows] == [("Pro plan", "Lin")]
    objects = tooling_query(api, "SELECT Id, DeveloperName FROM CustomObject").json()["records"]
    assert [(o["Id"], o["DeveloperName"]) for o in objects] == [
        (created.json()["id"], "Subscription")
    ]
    fields = tooling_query(
        api, f"SELECT TableEnumOrId FROM CustomField WHERE Id = '{field_id}'"
    ).json()
    assert fields["records"][0]["TableEnumOrId"] == created.json()["id"]  # a custom object's id
    again = api.post("/tooling/sobjects/CustomObject", SUBSCRIPTION)
    assert again.json()[0]["errorCode"] == "DUPLICATE_DEVELOPER_NAME"
    incomplete = {"FullName": "Plan__c", "Metadata": {"label": "Plan"}}
    assert api.post("/tooling/sobjects/CustomObject", incomplete).json()[0]["errorCode"] == (
        "REQUIRED_FIELD_MISSING"
    )


def test_tooling_query_filters_orders_and_limits(api: Api) -> None:
    for name in ("Lead.Alpha__c", "Lead.Beta__c", "Contact.Gamma__c"):
        api.post("/tooling/sobjects/CustomField", custom_field(name))

    def names(soql: str) -> list[str]:
        response = tooling_query(api, soql)
        assert response.status_code == 200, response.text
        return [r["DeveloperName"] for r in response.json()["records"]]

    base = "SELECT DeveloperName FROM CustomField"
    assert names(f"{base} WHERE TableEnumOrId IN ('lead') ORDER BY DeveloperName DESC") == [
        "Beta",
        "Alpha",
    ]
    assert names(f"{base} WHERE DeveloperName LIKE '%a' AND NOT TableEnumOrId = 'Contact'") == [
        "Alpha",
        "Beta",
    ]
    assert names(f"{base} ORDER BY DeveloperName LIMIT 2 OFFSET 1") == ["Beta", "Gamma"]
    one = tooling_query(api, "SELECT FullName FROM CustomField WHERE DeveloperName = 'Gamma'")
    assert one.json()["records"][0]["FullName"] == "Contact.Gamma__c"


@pytest.mark.parametrize(
    ("soql", "error_code"),
    [
        ("SELECT FullName FROM CustomField", "MALFORMED_QUERY"),
        ("SELECT Label FROM CustomField", "INVALID_FIELD"),
        ("SELECT Id FROM ApexClass", "INVALID_TYPE"),
        ("SELECT Id FROM CustomField WHERE", "MALFORMED_QUERY"),
    ],
)
def test_tooling_query_errors(api: Api, soql: str, error_code: str) -> None:
    for name in ("Lead.One__c", "Lead.Two__c"):
        api.post("/tooling/sobjects/CustomField", custom_field(name))
    response = tooling_query(api, soql)
    assert (response.status_code, response.json()[0]["errorCode"]) == (400, error_code)


def test_fields_and_their_ids_survive_a_restart(tmp_path: Path) -> None:
    def client_for(org: Org) -> TestClient:
        auth = AuthService(org, tmp_path)
        credentials = auth.ensure_defaults()
        client = TestClient(create_app(org, auth, lambda: INSTANCE).asgi, base_url=INSTANCE)
        token = login(client, credentials, credentials.username, credentials.password)
        client.headers["Authorization"] = f"Bearer {token}"
        return client

    first = Org.open(tmp_path)
    created = client_for(first).post(
        "/services/data/v62.0/tooling/sobjects/CustomField", json=custom_field("Contact.Keep__c")
    )
    first.close()
    again = Org.open(tmp_path)
    try:
        assert again.object("Contact").field("Keep__c") is not None
        found = client_for(again).get(
            "/services/data/v62.0/tooling/query",
            params={"q": "SELECT Id FROM CustomField WHERE DeveloperName = 'Keep'"},
        )
        assert found.json()["records"][0]["Id"] == created.json()["id"]
    finally:
        again.close()
