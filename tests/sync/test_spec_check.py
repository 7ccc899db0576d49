"""check_against_describe: a spec checked against the emulator's standard describes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sfbridge.errors import ConfigError
from sfbridge.salesforce.describe import ObjectDescribe
from sfbridge.sync import SpecProblem, SyncSpec, check_against_describe, template

Related = Callable[[str], ObjectDescribe | None]
DescribeOf = Callable[[str], ObjectDescribe]
DescribeBuilder = Callable[..., ObjectDescribe]

FORMULA = {"name": "Score__c", "type": "double", "calculated": True, "custom": True}


def contact_spec(**changes: Any) -> SyncSpec:
    data: dict[str, Any] = {
        "name": "contacts",
        "connection": "prod",
        "object": "Contact",
        "format": {"type": "person", "id_field": "Id", "email_field": "Email"},
        "fields": ["FirstName", "LastName"],
        "filter": "Email != null",
        "destinations": ["customerio"],
    }
    data.update(changes)
    return SyncSpec.model_validate(data)


def messages(problems: tuple[SpecProblem, ...]) -> list[str]:
    return [str(problem) for problem in problems]


def test_a_fitting_spec_passes_with_its_filter_validated(describe_of: DescribeOf) -> None:
    check = check_against_describe(contact_spec(), describe_of("Contact"))
    assert check.ok and check.warnings == ()
    assert check.filter is not None and check.filter.text == "Email != null"
    check.raise_if_invalid()


def test_unknown_field_suggests_the_closest_name(describe_of: DescribeOf) -> None:
    check = check_against_describe(contact_spec(fields=["Emial"]), describe_of("Contact"))
    assert not check.ok
    [problem] = check.errors
    assert problem.location == "fields[0].source"
    assert "no field 'Emial' on Contact (did you mean 'Email'?)" in problem.message


def test_a_field_hidden_by_field_level_security_says_so(describe_with: DescribeBuilder) -> None:
    restricted = describe_with("Contact", without=("Birthdate",))
    check = check_against_describe(contact_spec(fields=["Birthdate"]), restricted)
    assert "the connected user cannot read it" in check.errors[0].message


def test_identifiers_must_exist(describe_of: DescribeOf) -> None:
    spec = contact_spec(format={"type": "person", "email_field": "EmailAddress"})
    check = check_against_describe(spec, describe_of("Contact"))
    assert [p.location for p in check.errors] == ["format.email_field"]


def test_an_identifier_of_an_unexpected_type_is_warned_about(describe_of: DescribeOf) -> None:
    spec = contact_spec(format={"type": "person", "email_field": "LastName"})
    check = check_against_describe(spec, describe_of("Contact"))
    assert check.ok
    assert messages(check.warnings) == [
        "format.email_field: LastName is a string field, not an email field"
    ]


def test_formula_field_warns_until_formula_refresh_is_set(describe_with: DescribeBuilder) -> None:
    describe = describe_with("Contact", FORMULA)
    check = check_against_describe(contact_spec(fields=["Score__c"]), describe)
    assert check.ok
    assert check.refresh_fields == ("Score__c",)
    assert messages(check.warnings) == [
        "fields[0].source: Score__c is a formula field: formula fields change without "
        "SystemModstamp changing; enable formula_refresh (for example 24h)"
    ]
    refreshed = contact_spec(fields=["Score__c"], formula_refresh="24h")
    check = check_against_describe(refreshed, describe)
    assert check.warnings == () and check.refresh_fields == ("Score__c",)


def test_an_event_sync_is_not_told_to_refresh_formula_fields(
    describe_with: DescribeBuilder, related: Related
) -> None:
    def task_spec(**changes: Any) -> SyncSpec:
        base = template("tasks", connection="prod", destinations=["customerio"], enabled=True)
        return SyncSpec.model_validate({**base.model_dump(), **changes})

    describe = describe_with("Task", FORMULA)
    check = check_against_describe(task_spec(fields=["Score__c", "Who.Name"]), describe, related)
    assert check.ok and check.refresh_fields == ()
    assert messages(check.warnings)[0] == (
        "fields[0].source: Score__c is a formula field: formula fields change without "
        "SystemModstamp changing; an event carries the value read when it is sent and is "
        "never sent again, so it keeps that value (formula_refresh does not apply to events)"
    )
    assert not any("enable formula_refresh" in w for w in messages(check.warnings))
    refreshing = task_spec(fields=["Score__c"], formula_refresh="24h")
    check = check_against_describe(refreshing, describe, related)
    assert messages(check.warnings)[0].startswith(
        "formula_refresh: an event sync never refreshes: a sent event is never sent again"
    )


def test_paths_through_lookups(describe_of: DescribeOf, related: Related) -> None:
    spec = contact_spec(fields=["Account.Name"], filter="Account.Industry = 'Energy'")
    check = check_against_describe(spec, describe_of("Contact"), related)
    assert check.ok and check.filter is not None
    assert check.refresh_fields == ("Account.Name",)
    assert "read through a lookup" in check.warnings[0].message

    unchecked = check_against_describe(spec, describe_of("Contact"))
    assert "no describe of Account was given" in unchecked.warnings[0].message

    wrong = check_against_describe(contact_spec(fields=["Acount.Name"]), describe_of("Contact"))
    assert "no lookup 'Acount' on Contact (did you mean 'Account'?)" in wrong.errors[0].message

    missing = check_against_describe(
        contact_spec(fields=["Account.Nmae"]), describe_of("Contact"), related
    )
    assert "no field 'Nmae' on Account (did you mean 'Name'?)" in missing.errors[0].message


def test_polymorphic_lookup_is_warned_about_not_refused(
    describe_of: DescribeOf, related: Related
) -> None:
    spec = SyncSpec.model_validate(
        {
            "name": "tasks",
            "connection": "prod",
            "object": "Task",
            "format": {
                "type": "event",
                "name": "Task Completed",
                "person_field": "Who.Email",
                "person_identifier": "email",
                "timestamp_field": "Subject",
            },
            "destinations": ["customerio"],
        }
    )
    check = check_against_describe(spec, describe_of("Task"), related)
    assert "Who may be any of Contact, Lead" in check.warnings[0].message
    assert messages(check.errors) == [
        "format.timestamp_field: Subject is a combobox field; an event's time comes from a "
        "date or datetime field such as CreatedDate"
    ]


def test_filter_problems_are_errors_at_filter(describe_of: DescribeOf) -> None:
    check = check_against_describe(contact_spec(filter="Emial != null"), describe_of("Contact"))
    assert check.filter is None
    assert messages(check.errors) == [
        "filter: filter column 1: no field 'Emial' on Contact (did you mean 'Email'?)"
    ]
    check = check_against_describe(
        contact_spec(filter="LeadSource = 'Carrier pigeon'"), describe_of("Contact")
    )
    assert check.ok and "is not a value of picklist 'LeadSource'" in check.warnings[0].message


def test_object_level_problems(describe_of: DescribeOf, describe_with: DescribeBuilder) -> None:
    check = check_against_describe(contact_spec(), describe_of("Lead"))
    assert "the describe given is Lead's, not Contact's" in messages(check.errors)[0]

    no_recycle_bin = describe_with("Contact", without=("IsDeleted",))
    check = check_against_describe(contact_spec(delete_policy="delete"), no_recycle_bin)
    assert messages(check.errors) == [
        "delete_policy: Contact has no IsDeleted field, so deletes cannot be found; "
        "set delete_policy: ignore"
    ]
    no_stamp = describe_with("Contact", without=("SystemModstamp",))
    check = check_against_describe(contact_spec(), no_stamp)
    assert "Contact has no SystemModstamp field" in check.errors[0].message


def test_raise_if_invalid_lists_every_error(describe_of: DescribeOf) -> None:
    spec = contact_spec(fields=["Emial", "Titel"])
    with pytest.raises(ConfigError) as caught:
        check_against_describe(spec, describe_of("Contact")).raise_if_invalid()
    text = str(caught.value)
    assert text.startswith("sync 'contacts' does not fit the org:")
    assert "fields[0].source" in text and "fields[1].source" in text
