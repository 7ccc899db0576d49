"""Checking a person's WHERE filter against describe, before anything is sent to Salesforce.

The describe data is the emulator's standard schema (real describe
responses), with two custom fields on Contact: ``Interests__c`` (a
multi-select picklist) and ``Limit__c`` (a number whose name holds a
keyword).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from sfbridge.emulators.salesforce.schema import OrgSchema
from sfbridge.emulators.salesforce.soql_engine import QueryEngine
from sfbridge.emulators.salesforce.storage import OrgStore
from sfbridge.errors import ConfigError
from sfbridge.salesforce.soql_parser import SoqlError
from sfbridge.salesforce.soql_validate import (
    FieldInfo,
    FilterError,
    ValidatedFilter,
    field_info_from_describe,
    validate_filter,
)


def _schema() -> OrgSchema:
    schema = OrgSchema.standard()
    schema.add_custom_field(
        "Contact",
        {"name": "Interests__c", "type": "multipicklist", "values": ["Golf", "Tennis", "Chess"]},
    )
    schema.add_custom_field("Contact", {"name": "Limit__c", "type": "number"})
    return schema


SCHEMA = _schema()


def describe(object_name: str) -> dict[str, FieldInfo] | None:
    """An object's fields as the client's describe gives them; None for an unknown object."""
    obj = SCHEMA.object(object_name)
    if obj is None:
        return None
    return field_info_from_describe({"fields": [dict(f.describe) for f in obj.fields.values()]})


def fields_of(object_name: str) -> Mapping[str, FieldInfo]:
    found = describe(object_name)
    assert found is not None
    return found


def check(where: str, object_name: str = "Contact") -> ValidatedFilter:
    return validate_filter(object_name, where, fields_of(object_name), related=describe)


def refused(where: str, object_name: str = "Contact") -> FilterError:
    with pytest.raises(FilterError) as caught:
        check(where, object_name)
    return caught.value


# -- accepted filters ---------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        "LastName = 'Smith'",
        "lastname = 'Smith'",
        "Email != null AND (LastName LIKE 'Sm%' OR NOT FirstName IN ('a', null))",
        "CreatedDate >= LAST_N_DAYS:30 AND Birthdate < 2000-01-01",
        "SystemModstamp > 2024-01-31T12:00:00.000+01:00",
        "HasOptedOutOfEmail = false AND MailingLatitude > -12.5",
        "Account.Name = 'Acme' AND Account.Owner.IsActive = true",
        "Account.NumberOfEmployees >= 50 AND Account.AnnualRevenue < 1000000.50",
        "Contact.LastName = 'x'",
        "Interests__c INCLUDES ('Golf;Tennis', 'Chess') OR Interests__c = null",
        "Id IN ('003000000000001AAA', '003000000000001') AND AccountId != null",
        "LastName = 'LIMIT 5; SELECT Id FROM Lead ORDER BY x'",
        "LastName = 'it\\'s' AND FirstName = 'back\\\\slash'",
        "Limit__c > 5",
        "LastName = 'x'\n  AND (Email = null\n    OR Email LIKE '%@example.com')",
        "Id != null",
    ],
)
def test_accepted(where: str) -> None:
    checked = check(where)
    assert checked.object_name == "Contact"
    assert checked.text == where.strip()
    assert checked.warnings == ()


def test_accepted_text_is_stripped() -> None:
    assert check("  LastName = 'x'\n").text == "LastName = 'x'"


# -- refused filters ----------------------------------------------------------

BAD_STRING = "Invalid string literal"


@pytest.mark.parametrize(
    ("where", "field", "column", "fragment"),
    [
        # unknown fields and relationships, with a suggestion when one is close
        (
            "Emial = 'x'",
            "Emial",
            1,
            "filter column 1: no field 'Emial' on Contact (did you mean 'Email'?)",
        ),
        ("LastName = 'x' AND Emial = 'y'", "Emial", 20, "no field 'Emial' on Contact"),
        (
            "Zzqx = 1",
            "Zzqx",
            1,
            "no field 'Zzqx' on Contact; use the field's API name (custom fields end in '__c')",
        ),
        (
            "Acount.Name = 'x'",
            "Acount.Name",
            1,
            "no relationship 'Acount' on Contact (did you mean 'Account'?)",
        ),
        ("AccountId.Name = 'x'", "AccountId.Name", 1, "(did you mean 'Account'?)"),
        (
            "Zzqx.Name = 'x'",
            "Zzqx.Name",
            1,
            "no relationship 'Zzqx' on Contact; follow a lookup by its relationship name",
        ),
        (
            "Account.Naem = 'x'",
            "Account.Naem",
            9,
            "no field 'Naem' on Account (did you mean 'Name'?)",
        ),
        ("Account.Owner.Emial = 'x'", "Account.Owner.Emial", 15, "no field 'Emial' on User"),
        ("Contact.Emial = 'x'", "Contact.Emial", 9, "no field 'Emial' on Contact"),
        ("NOT (LastName = 'x' OR Emial = 'y')", "Emial", 24, "no field 'Emial'"),
        # values of the wrong type
        (
            "Birthdate = '2020-01-01'",
            "Birthdate",
            13,
            "value of filter criterion for field 'Birthdate' must be of type date and should "
            "not be enclosed in quotes; write a date without quotes, as in 2024-01-31",
        ),
        (
            "CreatedDate > 2020-01-01",
            "CreatedDate",
            15,
            "must be of type dateTime and should not be enclosed in quotes; write a date and time",
        ),
        ("Birthdate > 2020-01-01T00:00:00Z", "Birthdate", 13, "must be of type date "),
        (
            "LastName = 5",
            "LastName",
            12,
            "must be of type string and should be enclosed in quotes; "
            "put the value in single quotes",
        ),
        ("LastName IN ('a', 5)", "LastName", 19, "must be of type string"),
        (
            "HasOptedOutOfEmail = 'true'",
            "HasOptedOutOfEmail",
            22,
            "must be of type boolean and should not be enclosed in quotes; write true or false",
        ),
        (
            "Account.NumberOfEmployees = '5'",
            "Account.NumberOfEmployees",
            29,
            "field 'NumberOfEmployees' must be of type integer",
        ),
        (
            "Account.AnnualRevenue > TODAY",
            "Account.AnnualRevenue",
            25,
            "must be of type double and should not be enclosed in quotes; write the number",
        ),
        (
            "AccountId = 5",
            "AccountId",
            13,
            "must be of type id and should be enclosed in quotes; put the id in single quotes",
        ),
        ("Id = 'abc'", "Id", 6, "invalid ID field: abc; an id is 15 or 18 letters and digits"),
        # fields Salesforce cannot filter
        (
            "Description = 'x'",
            "Description",
            1,
            "field 'Description' can not be filtered in a query call",
        ),
        (
            "MailingAddress != null",
            "MailingAddress",
            1,
            "field 'MailingAddress' can not be filtered",
        ),
        # operators that do not suit the field
        (
            "Birthdate LIKE '19%'",
            "Birthdate",
            1,
            "invalid operator on date field; LIKE works only on text fields",
        ),
        (
            "AccountId LIKE '001%'",
            "AccountId",
            1,
            "invalid operator on id field; compare ids with = or IN",
        ),
        (
            "Interests__c LIKE 'Golf%'",
            "Interests__c",
            1,
            "invalid operator on multipicklist field; "
            "compare a multi-select picklist with INCLUDES",
        ),
        ("Interests__c < 'Golf'", "Interests__c", 1, "invalid operator on multipicklist field"),
        (
            "LeadSource INCLUDES ('Web')",
            "LeadSource",
            1,
            "includes or excludes operator only valid on multipicklist field; "
            "compare 'LeadSource' with = or IN",
        ),
        (
            "LeadSource EXCLUDES ('Web')",
            "LeadSource",
            1,
            "includes or excludes operator only valid",
        ),
        # text that reaches past the condition
        ("LastName = 'x' LIMIT 5", None, 16, "'LIMIT' cannot be part of a filter"),
        ("LastName = 'x' limit 5", None, 16, "'limit' cannot be part of a filter"),
        ("LastName = 'x' ORDER  BY LastName", None, 16, "'ORDER BY' cannot be part of a filter"),
        ("LastName = 'x' GROUP BY LastName", None, 16, "'GROUP BY' cannot be part of a filter"),
        ("LastName = 'x' OFFSET 10", None, 16, "'OFFSET' cannot be part of a filter"),
        ("LastName = 'x' ALL ROWS", None, 16, "'ALL ROWS' cannot be part of a filter"),
        ("LastName = 'x'; DELETE FROM Contact", None, 15, "';' would end the query"),
        ("Id IN (SELECT ContactId FROM Case)", None, 8, "'SELECT' cannot be part of a filter"),
        ("LastName = 'x') OR (Id != null", None, 15, "the filter is not valid SOQL at this point"),
        ("WHERE LastName = 'x'", None, 1, "leave out the word WHERE"),
        ("  where LastName = 'x'", None, 3, "leave out the word WHERE"),
        # syntax
        ("", None, 1, "the filter is empty"),
        ("   ", None, 1, "the filter is empty"),
        (
            "a = 1 AND b = 2 OR c = 3",
            None,
            17,
            "unexpected token: 'OR'; to mix AND and OR, put parentheses",
        ),
        ("LastName = ", None, 12, "unexpected token: '<EOF>'; the condition is incomplete"),
        ("LastName == 'x'", None, 11, "unexpected token: '='"),
        (
            "LastName = 'a\\-b'",
            None,
            12,
            "Illegal character sequence '\\-' in string literal; inside quotes",
        ),
        ("CreatedDate > LAST_N_HOURS:3", None, 15, "unexpected token: 'LAST_N_HOURS'"),
        (
            "CreatedDate > 2024-01-01T00:00:00",
            None,
            34,
            "no viable alternative at character '<EOF>'",
        ),
    ],
)
def test_refused(where: str, field: str | None, column: int, fragment: str) -> None:
    error = refused(where)
    assert isinstance(error, ConfigError)
    assert (error.field, error.line, error.column) == (field, 1, column)
    assert str(error).startswith(f"filter column {column}: ")
    assert fragment in str(error)


def test_positions_on_later_lines_name_the_line() -> None:
    error = refused("LastName = 'x'\nAND Emial = 'y'")
    assert (error.field, error.line, error.column) == ("Emial", 2, 5)
    assert str(error).startswith("filter line 2 column 5: no field 'Emial' on Contact")


def test_syntax_error_on_a_later_line() -> None:
    error = refused("LastName = 'x'\nAND AND")
    assert (error.line, error.column) == (2, 5)


def test_a_filter_too_long_for_salesforce() -> None:
    error = refused("LastName = '" + "x" * 100_000 + "'")
    assert (error.line, error.column) == (1, 1)
    assert "cannot be longer than 100000 characters; shorten the filter" in str(error)


def test_object_name_must_be_a_name() -> None:
    with pytest.raises(ValueError, match="not a SOQL object name"):
        validate_filter("Contact WHERE", "LastName = 'x'", fields_of("Contact"))


# -- relationships ------------------------------------------------------------


def test_paths_are_checked_only_as_far_as_describe_reaches() -> None:
    contact = fields_of("Contact")
    # Without `related`, or when it knows no object, the parent's fields are not checked...
    assert validate_filter("Contact", "Account.Naem = 5", contact).text == "Account.Naem = 5"
    unknown = validate_filter("Contact", "Account.Naem = 5", contact, related=lambda name: None)
    assert unknown.warnings == ()
    # ...but the relationship itself is.
    assert refused("Acount.Name = 'x'").field == "Acount.Name"


def test_polymorphic_relationships_are_not_followed() -> None:
    # Task.What points at many objects: its fields are the Name entity's, not described.
    assert check("What.Name = 'Acme' AND What.Type IN ('Account')", "Task").warnings == ()
    assert refused("Wat.Name = 'x'", "Task").field == "Wat.Name"


def test_related_is_asked_once_per_object() -> None:
    asked: list[str] = []

    def related(name: str) -> dict[str, FieldInfo] | None:
        asked.append(name)
        return describe(name)

    validate_filter(
        "Contact",
        "Account.Name = 'a' OR Account.Industry = 'b' OR Owner.Name = 'c'",
        fields_of("Contact"),
        related=related,
    )
    assert asked == ["Account", "User"]


# -- picklist warnings --------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "column", "value"),
    [
        ("LeadSource = 'Webb'", 14, "Webb"),
        ("LeadSource IN ('Web', 'Fax')", 23, "Fax"),
        ("LastName = 'x' AND LeadSource != 'Walk-in'", 34, "Walk-in"),
        ("Interests__c INCLUDES ('Golf;Polo')", 24, "Polo"),
    ],
)
def test_unknown_picklist_values_warn(where: str, column: int, value: str) -> None:
    checked = check(where)
    assert checked.text == where
    [warning] = checked.warnings
    assert (warning.line, warning.column) == (1, column)
    assert str(warning).startswith(f"filter column {column}: '{value}' is not a value of picklist")
    assert "the filter matches only records that hold it" in str(warning)


@pytest.mark.parametrize(
    "where",
    [
        "LeadSource = 'web'",
        "LeadSource LIKE 'We%'",
        "LeadSource = null",
        "Interests__c INCLUDES ('golf ; Tennis')",
    ],
)
def test_known_picklist_values_do_not_warn(where: str) -> None:
    assert check(where).warnings == ()


def test_warning_lists_the_values() -> None:
    [warning] = check("LeadSource = 'Webb'").warnings
    assert warning.field == "LeadSource"
    assert "(Web, Phone Inquiry, Partner Referral, Purchased List, Other)" in str(warning)


# -- the ValidatedFilter ------------------------------------------------------


def test_a_validated_filter_cannot_be_made_by_hand() -> None:
    with pytest.raises(TypeError, match="only from validate_filter"):
        ValidatedFilter("Contact", "Id != null")
    checked = check("LastName = 'x'")
    with pytest.raises(TypeError):
        dataclasses.replace(checked, text="Id != null")


def test_field_info_from_describe() -> None:
    fields = field_info_from_describe(
        {
            "fields": [
                {
                    "name": "OwnerId",
                    "type": "reference",
                    "filterable": True,
                    "referenceTo": ["Group", "User"],
                    "relationshipName": "Owner",
                    "picklistValues": [],
                },
                {
                    "name": "Status__c",
                    "type": "picklist",
                    "filterable": True,
                    "referenceTo": [],
                    "relationshipName": None,
                    "picklistValues": [
                        {"value": "Open", "active": True},
                        {"value": "Retired", "active": False},
                    ],
                },
                {"name": "Notes__c", "type": "textarea", "filterable": False},
            ]
        }
    )
    assert fields == {
        "OwnerId": FieldInfo("OwnerId", "reference", True, ("Group", "User"), "Owner"),
        "Status__c": FieldInfo("Status__c", "picklist", picklist_values=("Open",)),
        "Notes__c": FieldInfo("Notes__c", "textarea", filterable=False),
    }


# -- one set of rules with the emulator ---------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        "Birthdate = '2020-01-01'",
        "CreatedDate > 2020-01-01",
        "HasOptedOutOfEmail = 1",
        "Account.NumberOfEmployees = '5'",
        "Description = 'x'",
        "MailingAddress != null",
        "Birthdate LIKE '19%'",
        "AccountId LIKE '001%'",
        "Interests__c LIKE 'Golf%'",
        "LeadSource EXCLUDES ('Web')",
        "Id IN ('003000000000001AAA', 'abc')",
    ],
)
def test_refuses_what_the_emulator_refuses_in_the_same_words(where: str) -> None:
    store = OrgStore(None, SCHEMA)
    try:
        with pytest.raises(SoqlError) as emulated:
            QueryEngine(store).execute(
                f"SELECT Id FROM Contact WHERE {where}",
                include_deleted=False,
                api_version="62.0",
                now=datetime(2024, 3, 13, tzinfo=UTC),
            )
    finally:
        store.close()
    salesforce_text = emulated.value.message.split("\n")[-1]
    assert f": {salesforce_text}; " in str(refused(where))
