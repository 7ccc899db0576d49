"""Sync templates fit the emulator's standard objects, and feed the integration-user check."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sfbridge.connect import access_check
from sfbridge.errors import ConfigError
from sfbridge.salesforce.describe import ObjectDescribe
from sfbridge.sync import (
    TEMPLATE_FIELDS,
    TEMPLATES,
    EventFormat,
    ObjectFormat,
    PersonFormat,
    RelationshipFormat,
    check_against_describe,
    list_templates,
    template,
)

Related = Callable[[str], ObjectDescribe | None]
DescribeOf = Callable[[str], ObjectDescribe]


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_every_template_fits_the_standard_describe(
    name: str, describe_of: DescribeOf, related: Related
) -> None:
    spec = template(name, connection="emu", destinations=["customerio"], enabled=True)
    check = check_against_describe(spec, describe_of(spec.object), related)
    assert check.ok, check.errors
    assert check.warnings == ()
    if spec.filter is not None:
        assert check.filter is not None and check.filter.text == spec.filter


def test_the_product_templates_come_first_with_their_filters() -> None:
    products = [t for t in list_templates() if not t.preset]
    assert [t.name for t in list_templates()[:3]] == ["contacts", "leads", "accounts"]
    assert [t.name for t in products] == ["contacts", "leads", "accounts"]
    assert TEMPLATES["contacts"].filter == "Email != null"
    assert TEMPLATES["leads"].filter == "Email != null AND IsConverted = false"
    contacts = TEMPLATES["contacts"].format
    assert isinstance(contacts, PersonFormat)
    assert (contacts.id_field, contacts.email_field) == ("Id", "Email")
    accounts = TEMPLATES["accounts"].format
    assert isinstance(accounts, ObjectFormat)
    assert (accounts.object_type.plural, accounts.object_type.singular) == ("Accounts", "Account")


def test_presets_for_popular_objects() -> None:
    opportunities = TEMPLATES["opportunities"].format
    assert isinstance(opportunities, ObjectFormat)
    assert opportunities.object_type.plural == "Opportunities"
    account_contacts = TEMPLATES["account-contacts"].format
    assert isinstance(account_contacts, RelationshipFormat)
    assert (account_contacts.person_field, account_contacts.object_field) == ("Id", "AccountId")
    tasks = TEMPLATES["tasks"]
    assert isinstance(tasks.format, EventFormat) and tasks.format.person_field == "WhoId"
    assert tasks.filter is not None and "IsClosed = true" in tasks.filter
    assert isinstance(TEMPLATES["campaign-members"].format, RelationshipFormat)


def test_template_makes_a_disabled_spec_to_review_first() -> None:
    spec = template("leads", connection="prod")
    assert (spec.name, spec.object, spec.enabled, spec.destinations) == ("leads", "Lead", False, ())
    named = template("leads", connection="prod", sync_name="eu-leads", destinations=["cio"])
    assert named.name == "eu-leads" and named.destinations == ("cio",)


def test_unknown_template_lists_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        template("contact", connection="prod")
    assert "no sync template 'contact'; did you mean 'contacts'?" in str(caught.value)
    assert "leads, accounts" in str(caught.value)


def test_template_fields_are_what_the_templates_read(describe_of: DescribeOf) -> None:
    assert vars(access_check)["TEMPLATE_FIELDS"] is TEMPLATE_FIELDS  # one source of the lists
    for name, (object_name, fields) in TEMPLATE_FIELDS.items():
        assert object_name in access_check.CHECKED_OBJECTS
        spec = template(name, connection="emu")
        assert set(spec.read_fields) <= set(fields)
        assert set(fields) <= set(describe_of(object_name).field_names), name
    # The filter's fields count: a user who cannot read IsConverted cannot run the leads sync.
    assert "IsConverted" in TEMPLATE_FIELDS["leads"][1]
