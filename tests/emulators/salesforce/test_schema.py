"""The org's schema: standard objects from describe data, custom objects and fields from a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfbridge.emulators.salesforce.org import Org
from sfbridge.emulators.salesforce.schema import OrgSchema

SCHEMA_FILE = """
objects:
  Contact:
    fields:
      - {name: CIO_Id__c, type: Text, externalId: true, unique: true}
      - {name: Interests__c, type: MultiselectPicklist, values: [Golf, Tennis, Chess]}
  Subscription__c:
    label: Subscription
    fields:
      - {name: Plan__c, type: Picklist, values: [Free, Pro]}
      - {name: Contact__c, type: Lookup, referenceTo: Contact}
      - {name: Seats__c, type: Number, precision: 6, scale: 0}
"""


def test_standard_objects_have_real_key_prefixes_and_required_fields() -> None:
    schema = OrgSchema.standard()
    prefixes = {o.name: o.key_prefix for o in schema.objects()}
    assert prefixes["Account"] == "001" and prefixes["Lead"] == "00Q"
    assert prefixes["CampaignMember"] == "00v" and prefixes["AccountContactRelation"] == "07k"
    assert schema.object("lead").required_on_create == ["LastName", "Company"]
    assert schema.object("CONTACT").field("mailingaddress").is_compound


def test_schema_file_declares_custom_objects_and_fields(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text(SCHEMA_FILE)
    org = Org.open(tmp_path / "org", schema_file=path)
    contact = org.object("Contact")
    assert contact.field("CIO_Id__c").describe["externalId"] is True
    assert contact.field("Interests__c").type == "multipicklist"
    subscription = org.object("Subscription__c")
    assert subscription.key_prefix.startswith("a")
    lookup = subscription.field("Contact__c")
    assert lookup.reference_to == ["Contact"]
    assert lookup.relationship_name == "Contact__r"
    assert subscription.field("Name").flag("nameField")
    assert org.count("Subscription__c") == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "NoSuffix", "type": "Text"}, "must end with '__c'"),
        ({"name": "LastName__c", "type": "Text", "object": "Nope"}, "does not exist"),
    ],
)
def test_bad_custom_fields_are_refused_with_the_name(spec: dict, message: str) -> None:
    schema = OrgSchema.standard()
    with pytest.raises(ValueError, match=message):
        schema.add_custom_field(spec.pop("object", "Contact"), spec)
