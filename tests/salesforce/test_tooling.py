"""Tooling API: custom fields and objects the org's describe, SOQL and Bulk jobs then see."""

from __future__ import annotations

import uuid

import pytest

from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.errors import ConfigError
from sfbridge.salesforce import SalesforceClient, SalesforceConfigError


def unique(prefix: str) -> str:
    """A developer name no other test (or earlier run of the session org) used."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def test_a_new_field_is_seen_by_describe_soql_and_bulk(sf_client: SalesforceClient) -> None:
    field = unique("Score") + "__c"
    assert sf_client.describe("Contact").field(field) is None  # cached before the create
    field_id = sf_client.create_custom_field(
        "Contact", field, "Number", label="Score", precision=6, scale=2, external_id=True
    )
    assert field_id.startswith("00N")
    described = sf_client.describe("Contact").field(field)
    assert described is not None
    assert (described.type, described.precision, described.scale) == ("double", 6, 2)
    assert described.external_id
    record_id = sf_client.create("Contact", {"LastName": "Scored", field: 12.5})
    written = sf_client.bulk_ingest("Contact", "update", [{"Id": record_id, field: 99.25}])
    assert written.results[0].success
    (record,) = sf_client.bulk_query(
        f"SELECT {field} FROM Contact WHERE Id = '{record_id}'"
    ).records()
    assert record == {field: 99.25}
    found = sf_client.tooling_query(
        "SELECT Id, DeveloperName FROM CustomField WHERE TableEnumOrId = 'Contact' "
        f"AND DeveloperName = '{field.removesuffix('__c')}'"
    )
    assert [r["Id"] for r in found] == [field_id]


def test_an_existing_field_is_an_error_unless_exists_ok(sf_client: SalesforceClient) -> None:
    field = unique("Code") + "__c"
    first = sf_client.create_custom_field("Contact", field, "Text", label="Code", length=40)
    with pytest.raises(SalesforceConfigError, match="already exists") as exists:
        sf_client.create_custom_field("Contact", field, "Text", label="Code")
    assert exists.value.error_code == "DUPLICATE_DEVELOPER_NAME"
    assert "exists_ok=True" in str(exists.value)
    again = sf_client.create_custom_field("Contact", field, "Text", label="Code", exists_ok=True)
    assert again == first


def test_a_custom_object_with_lookup_and_picklist_fields(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    name = unique("Plan") + "__c"
    object_id = sf_client.create_custom_object(name, label="Plan", plural_label="Plans")
    assert object_id.startswith("01I")
    assert name in {o.name for o in sf_client.describe_global()}
    assert (
        sf_client.create_custom_object(name, label="Plan", plural_label="Plans", exists_ok=True)
        == object_id
    )
    tier = sf_client.create_custom_field(
        name, "Tier__c", "Picklist", label="Tier", picklist_values=["Free", "Pro"]
    )
    owner = sf_client.create_custom_field(
        name,
        "Holder__c",
        "Lookup",
        label="Holder",
        reference_to="Contact",
        relationship_name="Holder",
    )
    described = sf_client.describe(name)
    picklist, lookup = described.field("Tier__c"), described.field("Holder__c")
    assert picklist is not None and [v.value for v in picklist.picklist_values] == ["Free", "Pro"]
    assert lookup is not None and lookup.reference_to == ("Contact",)
    assert lookup.relationship_name == "Holder__r"
    # exists_ok finds a custom object's field through the object's Tooling id.
    assert (
        sf_client.create_custom_field(
            name, "Tier__c", "Picklist", label="Tier", picklist_values=["Free"], exists_ok=True
        )
        == tier
    )
    assert owner.startswith("00N")


def test_bad_definitions_fail_before_any_call(
    org_server: RunningEmulator, sf_client: SalesforceClient
) -> None:
    sf_client.connect()
    before = len(org_server.org.faults.calls)
    with pytest.raises(ConfigError, match="must end in __c"):
        sf_client.create_custom_field("Contact", "Score", "Number", label="Score")
    with pytest.raises(ConfigError, match="needs reference_to"):
        sf_client.create_custom_field("Contact", "Boss__c", "Lookup", label="Boss")
    with pytest.raises(ConfigError, match="needs picklist_values"):
        sf_client.create_custom_field("Contact", "Size__c", "Picklist", label="Size")
    with pytest.raises(ConfigError, match="must end in __c"):
        sf_client.create_custom_object("Plan", label="Plan", plural_label="Plans")
    assert len(org_server.org.faults.calls) == before
