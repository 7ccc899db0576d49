"""Records to messages: each format, both record shapes, renames, paths, failures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfbridge.errors import ConfigError, SkippableError
from sfbridge.messages import Group, Identify, Track
from sfbridge.salesforce.ids import to_18
from sfbridge.sync import SyncSpec, template
from sfbridge.sync.records import RecordMapper, RecordMappingError

CONTACT = to_18("003000000000001")
ACCOUNT = to_18("001000000000001")
TASK = to_18("00T000000000001")
STAMP = datetime(2024, 1, 31, 12, 0, 0, 123000, tzinfo=UTC)
REST_STAMP = "2024-01-31T12:00:00.123+0000"


def spec_from(name: str, **changes: Any) -> SyncSpec:
    """The template ``name`` as an enabled sync, with ``changes`` applied (and validated)."""
    base = template(name, connection="prod", destinations=["customerio"], enabled=True)
    return SyncSpec.model_validate({**base.model_dump(), **changes})


def rest(record_type: str, **fields: Any) -> dict[str, Any]:
    """A record as the REST API answers: ``attributes`` and text datetimes."""
    url = f"/services/data/v60.0/sobjects/{record_type}/{fields.get('Id')}"
    return {
        "attributes": {"type": record_type, "url": url},
        "SystemModstamp": REST_STAMP,
        **fields,
    }


def contact(**fields: Any) -> dict[str, Any]:
    """A REST Contact with every field the contacts template reads."""
    base = {
        "Id": CONTACT,
        "Email": "ada@example.com",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Title": None,
        "Phone": None,
        "AccountId": ACCOUNT,
        "MailingCity": "London",
        "MailingCountry": None,
        "LeadSource": "Web",
        "Birthdate": "1815-12-10",
    }
    return rest("Contact", **{**base, **fields})


def task(**fields: Any) -> dict[str, Any]:
    """A REST closed Task with every field the tasks template reads."""
    base = {
        "Id": TASK,
        "WhoId": CONTACT,
        "CompletedDateTime": "2024-01-30T09:30:00.000+0000",
        "Subject": "Call",
        "Type": "Call",
        "TaskSubtype": "Call",
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": "2024-01-30",
        "WhatId": None,
    }
    return rest("Task", **{**base, **fields})


def account(**fields: Any) -> dict[str, Any]:
    """A REST Account with every field the accounts template reads."""
    base = {
        "Id": ACCOUNT,
        "Name": "Acme",
        "Industry": None,
        "Type": "Customer",
        "Website": None,
        "BillingCity": None,
        "BillingCountry": "UK",
        "NumberOfEmployees": 12,
        "AnnualRevenue": 5.0e7,
    }
    return rest("Account", **{**base, **fields})


def mapper_for(spec: SyncSpec) -> RecordMapper:
    """A mapper for ``spec``; the templates' object types get id "1", as a run would resolve."""
    has_type = spec.format.type in ("object", "relationship")
    return RecordMapper(spec, object_type_id="1" if has_type else None)


def only(messages: list[Any]) -> Any:
    assert len(messages) == 1
    return messages[0]


@pytest.mark.parametrize(
    ("name", "record", "expected"),
    [
        (
            "contacts",
            contact(),
            {
                "type": "identify",
                "userId": CONTACT,
                "traits": {
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "title": None,
                    "phone": None,
                    "account_id": ACCOUNT,
                    "city": "London",
                    "country": None,
                    "lead_source": "Web",
                    "birthdate": "1815-12-10",
                    "email": "ada@example.com",
                },
            },
        ),
        (
            "accounts",
            account(),
            {
                "type": "group",
                "groupId": ACCOUNT,
                "traits": {
                    "name": "Acme",
                    "industry": None,
                    "type": "Customer",
                    "website": None,
                    "city": None,
                    "country": "UK",
                    "employees": 12,
                    "annual_revenue": 50000000,
                    "object_type_id": "1",
                },
            },
        ),
        (
            "account-contacts",
            contact(),
            {
                "type": "group",
                "groupId": ACCOUNT,
                "userId": CONTACT,
                "traits": {"object_type_id": "1"},
            },
        ),
        (
            "tasks",
            task(),
            {
                "type": "track",
                "event": "Task Completed",
                "userId": CONTACT,
                "timestamp": "2024-01-30T09:30:00Z",
                "properties": {
                    "subject": "Call",
                    "type": "Call",
                    "subtype": "Call",
                    "status": "Completed",
                    "priority": "Normal",
                    "due_date": "2024-01-30",
                    "related_to_id": None,
                },
            },
        ),
    ],
)
def test_each_format_becomes_its_call(name: str, record: dict[str, Any], expected: dict[str, Any]):
    message = only(mapper_for(spec_from(name)).map(record)).to_dict()
    assert {key: message[key] for key in expected} == expected
    assert set(message) - set(expected) == {"messageId", "context"}


def test_relationship_fields_become_relationship_attributes():
    spec = spec_from("opportunity-contacts")
    record = rest(
        "OpportunityContactRole",
        Id=to_18("00K000000000001"),
        ContactId=CONTACT,
        OpportunityId=to_18("006000000000001"),
        Role="Decision Maker",
        IsPrimary=True,
    )
    message = only(RecordMapper(spec, object_type_id="2").map(record))
    assert isinstance(message, Group)
    assert message.user_id == CONTACT
    assert message.object == ("2", to_18("006000000000001"))
    assert message.relationship_attributes == {"role": "Decision Maker", "is_primary": True}


def test_event_name_can_come_from_a_field():
    named = {**spec_from("tasks").format.model_dump(), "name": None, "name_field": "Subject"}
    spec = spec_from("tasks", format=named)
    assert only(RecordMapper(spec).map(task(Subject="Demo booked"))).event == "Demo booked"


def test_person_without_id_field_is_identified_by_email():
    base = spec_from("contacts")
    spec = SyncSpec.model_validate(
        {
            **base.model_dump(),
            "format": {"type": "person", "id_field": None, "email_field": "Email"},
        }
    )
    message = only(RecordMapper(spec).map(contact()))
    assert isinstance(message, Identify)
    assert message.user_id == "ada@example.com"
    assert message.traits["email"] == "ada@example.com"


def test_empty_email_is_left_out_rather_than_cleared():
    message = only(RecordMapper(spec_from("contacts")).map(contact(Email=None)))
    assert "email" not in message.traits


def dotted_spec() -> SyncSpec:
    return spec_from(
        "contacts",
        fields=[
            {"source": "Account.Name", "target": "company"},
            {"source": "Account.Owner.Email", "target": "account_owner"},
        ],
    )


def test_dotted_paths_read_through_parents():
    record = contact(
        Account={
            "attributes": {"type": "Account"},
            "Name": "Acme",
            "Owner": {"attributes": {"type": "User"}, "Email": "owner@example.com"},
        }
    )
    traits = only(RecordMapper(dotted_spec()).map(record)).traits
    assert traits["company"] == "Acme"
    assert traits["account_owner"] == "owner@example.com"


@pytest.mark.parametrize("parent", [None, {"Name": None, "Owner": None}])
def test_an_empty_lookup_gives_null(parent: dict[str, Any] | None):
    traits = only(RecordMapper(dotted_spec()).map(contact(Account=parent))).traits
    assert traits["company"] is None
    assert traits["account_owner"] is None


def test_field_names_match_without_regard_to_case():
    spec = spec_from("contacts", fields=["firstname"])
    assert only(RecordMapper(spec).map(contact())).traits["firstname"] == "Ada"


def test_a_field_the_query_left_out_fails_naming_it():
    record = contact()
    del record["Birthdate"]
    with pytest.raises(RecordMappingError) as caught:
        RecordMapper(spec_from("contacts")).map(record)
    assert caught.value.field == "Birthdate"
    assert caught.value.record_id == CONTACT
    assert CONTACT in str(caught.value) and "Birthdate" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "record", "field"),
    [
        ("contacts", contact(Id=None), "Id"),
        ("account-contacts", contact(AccountId=None), "AccountId"),
        ("tasks", task(WhoId=None), "WhoId"),
        ("contacts", contact(Email=12), "Email"),
    ],
)
def test_a_record_without_its_identifier_fails_naming_the_field(
    name: str, record: dict[str, Any], field: str
):
    with pytest.raises(RecordMappingError) as caught:
        mapper_for(spec_from(name)).map(record)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert isinstance(caught.value, SkippableError)  # the run keeps it for replay


def test_a_record_too_large_fails_naming_its_widest_field():
    spec = spec_from("contacts", fields=["FirstName", "Description"])  # 40 KB of notes
    with pytest.raises(RecordMappingError) as caught:
        RecordMapper(spec).map(contact(Description="x" * 40_000))
    text = str(caught.value)
    assert CONTACT in text and "too large" in text and "Description" in text


def test_context_holds_the_selected_fields_only():
    record = contact(Description="x" * 20_000, OtherPhone="555")
    origin = only(RecordMapper(spec_from("contacts")).map(record)).salesforce
    assert origin.object == "Contact"
    assert origin.id == CONTACT
    assert origin.system_modstamp == STAMP
    assert set(origin.record) == set(spec_from("contacts").read_fields)
    assert origin.record["SystemModstamp"] == "2024-01-31T12:00:00.123Z"


def test_message_ids_follow_the_record_version():
    mapper = RecordMapper(spec_from("contacts"))
    first = only(mapper.map(contact())).message_id
    assert only(mapper.map(contact())).message_id == first
    later = only(mapper.map(contact(SystemModstamp="2024-02-01T00:00:00.000+0000"))).message_id
    assert later != first


def test_an_edited_event_keeps_its_message_id():
    mapper = RecordMapper(spec_from("tasks"))
    first = only(mapper.map(task()))
    edited = only(mapper.map(task(SystemModstamp="2024-03-01T00:00:00.000+0000", Priority="High")))
    assert edited.message_id == first.message_id


@pytest.mark.parametrize("empty", [None, ""])
def test_an_event_without_its_timestamp_falls_back_to_system_modstamp(empty: str | None):
    message = only(RecordMapper(spec_from("tasks")).map(task(CompletedDateTime=empty)))
    assert isinstance(message, Track)
    assert message.timestamp == STAMP


def test_an_event_timestamp_from_a_date_field_is_midnight_utc():
    spec = spec_from(
        "tasks",
        format={**spec_from("tasks").format.model_dump(), "timestamp_field": "ActivityDate"},
    )
    message = only(RecordMapper(spec).map(task()))
    assert message.timestamp == datetime(2024, 1, 30, tzinfo=UTC)


def test_an_object_sync_needs_its_type_id():
    spec = spec_from("accounts")
    with pytest.raises(ConfigError, match="Accounts"):
        RecordMapper(spec)
    message = only(RecordMapper(spec, object_type_id="3").map(account()))
    assert message.object.object_type_id == "3"


def test_a_passed_type_id_may_not_contradict_the_spec():
    declared = {"singular": "Account", "plural": "Accounts", "object_type_id": "4"}
    spec = spec_from("accounts", format={"type": "object", "object_type": declared})
    assert only(RecordMapper(spec).map(account())).object.object_type_id == "4"
    with pytest.raises(ConfigError, match="declares object type id"):
        RecordMapper(spec, object_type_id="7")


# REST vs Bulk: the same record in both shapes gives the same messages.

_moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    _text,
    _moments,
    st.dates(min_value=date(1900, 1, 1)),
)


def _rest_value(value: Any, whole_as_int: bool) -> Any:
    """``value`` as the REST API writes it in JSON."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and whole_as_int:
        return int(value)
    return value


@given(
    values=st.lists(_values, min_size=4, max_size=4),
    parent=st.one_of(st.none(), st.tuples(_values)),
    stamp=_moments,
    whole_as_int=st.booleans(),
)
def test_rest_and_bulk_records_give_identical_messages(
    values: list[Any], parent: tuple[Any] | None, stamp: datetime, whole_as_int: bool
):
    spec = spec_from("accounts", fields=["Name", "Industry", "Type", "Website", "Parent.Name"])
    bulk: dict[str, Any] = {
        "Id": ACCOUNT,
        "SystemModstamp": stamp,
        **dict(zip(["Name", "Industry", "Type", "Website"], values, strict=True)),
        "Parent": None if parent is None else {"Name": parent[0]},
    }
    shaped = {key: _rest_value(value, whole_as_int) for key, value in bulk.items()}
    if parent is not None:
        shaped["Parent"] = {
            "attributes": {"type": "Account"},
            "Name": _rest_value(parent[0], whole_as_int),
        }
    as_rest = json.loads(json.dumps(rest("Account", **shaped)))
    mapper = mapper_for(spec)
    from_bulk = [message.to_json() for message in mapper.map(bulk)]
    assert [message.to_json() for message in mapper.map(as_rest)] == from_bulk


def test_bulk_naive_datetimes_are_utc():
    mapper = mapper_for(spec_from("accounts", fields=["Name"]))
    aware = {"Id": ACCOUNT, "SystemModstamp": STAMP, "Name": STAMP - timedelta(days=1)}
    naive = {**aware, "Name": (STAMP - timedelta(days=1)).replace(tzinfo=None)}
    assert only(mapper.map(naive)).traits["Name"] == "2024-01-30T12:00:00.123Z"
    assert only(mapper.map(naive)).to_json() == only(mapper.map(aware)).to_json()


# Address fields: Bulk reads the components, REST the compound; both map alike.

_ADDRESS_KEYS = (
    "city",
    "country",
    "geocodeAccuracy",
    "latitude",
    "longitude",
    "postalCode",
    "state",
    "street",
)
_components = st.fixed_dictionaries(
    {
        "street": st.one_of(st.none(), _text),
        "city": st.one_of(st.none(), _text),
        "state": st.one_of(st.none(), _text),
        "postalCode": st.one_of(st.none(), _text),
        "country": st.one_of(st.none(), _text),
        "latitude": st.one_of(st.none(), st.floats(-90, 90, width=32)),
        "longitude": st.one_of(st.none(), st.floats(-180, 180, width=32)),
        "geocodeAccuracy": st.one_of(st.none(), st.sampled_from(["Address", "Zip"])),
    }
)


def _bulk_address(prefix: str, parts: dict[str, Any], whole_as_int: bool) -> dict[str, Any]:
    """An address's components as Bulk's typed CSV gives them (MailingCity, ...)."""
    bulk: dict[str, Any] = {}
    for key, value in parts.items():
        typed = value
        if isinstance(value, float) and value.is_integer() and whole_as_int:
            typed = int(value)  # a CSV "51" may come back as an int
        bulk[prefix + key[:1].upper() + key[1:]] = typed
    return bulk


def _rest_address(parts: dict[str, Any]) -> dict[str, Any] | None:
    """The compound as the REST API writes it: every key, sorted, or null when all are."""
    if all(value is None for value in parts.values()):
        return None
    return {key: parts[key] for key in sorted(_ADDRESS_KEYS)}


@given(
    mailing=st.one_of(_components, st.just(dict.fromkeys(_ADDRESS_KEYS))),
    stamp=_moments,
    whole_as_int=st.booleans(),
)
# describe_of is a lookup with no state: nothing to reset between examples.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_rest_and_bulk_records_with_an_address_give_identical_messages(
    describe_of: Any, mailing: dict[str, Any], stamp: datetime, whole_as_int: bool
) -> None:
    spec = spec_from("contacts", fields=["LastName", "MailingAddress"])
    bulk: dict[str, Any] = {
        "Id": CONTACT,
        "SystemModstamp": stamp,
        "Email": "ada@example.com",
        "LastName": "Lovelace",
        **_bulk_address("Mailing", mailing, whole_as_int),
    }
    shaped = {
        "Id": CONTACT,
        "SystemModstamp": _rest_value(stamp, whole_as_int),
        "Email": "ada@example.com",
        "LastName": "Lovelace",
        "MailingAddress": _rest_address(mailing),
    }
    as_rest = json.loads(json.dumps(rest("Contact", **shaped)))
    mapper = RecordMapper(spec, describe=describe_of("Contact"))
    from_bulk = [message.to_json() for message in mapper.map(bulk)]
    assert [message.to_json() for message in mapper.map(as_rest)] == from_bulk
    traits = only(mapper.map(bulk)).traits
    assert (traits["MailingAddress"] is None) == all(v is None for v in mailing.values())


def test_a_bulk_address_without_a_describe_fails_naming_the_compound() -> None:
    spec = spec_from("contacts", fields=["MailingAddress"])
    bulk = {"Id": CONTACT, "SystemModstamp": STAMP, "Email": "a@example.com", "MailingCity": "X"}
    with pytest.raises(RecordMappingError, match="MailingAddress"):
        RecordMapper(spec).map(bulk)


def test_a_bulk_address_is_rebuilt_as_rest_gives_it(describe_of: Any) -> None:
    spec = spec_from("contacts", fields=["MailingAddress"])
    components = {
        "MailingStreet": "12 St James's Square",
        "MailingCity": "London",
        "MailingState": None,
        "MailingPostalCode": "SW1Y 4LB",
        "MailingCountry": "UK",
        "MailingLatitude": 51.5,
        "MailingLongitude": None,
        "MailingGeocodeAccuracy": None,
    }
    bulk = {"Id": CONTACT, "SystemModstamp": STAMP, "Email": "a@example.com", **components}
    message = only(RecordMapper(spec, describe=describe_of("Contact")).map(bulk))
    assert message.traits["MailingAddress"] == {
        "city": "London",
        "country": "UK",
        "geocodeAccuracy": None,
        "latitude": 51.5,
        "longitude": None,
        "postalCode": "SW1Y 4LB",
        "state": None,
        "street": "12 St James's Square",
    }
    record = message.context.salesforce.record
    assert record["MailingAddress"] == message.traits["MailingAddress"]
    assert "MailingCity" not in record


def test_a_bulk_address_through_a_lookup_is_rebuilt_inside_the_parent(
    describe_of: Any, related: Any
) -> None:
    spec = spec_from("contacts", fields=["LastName", "Account.BillingAddress", "Account.Name"])
    billing = {**dict.fromkeys(_ADDRESS_KEYS), "city": "London", "country": "UK", "latitude": 51.0}
    # Bulk answers Account.BillingCity, ... nested under Account (bulk2_csv.RecordShape).
    bulk = {
        "Id": CONTACT,
        "SystemModstamp": STAMP,
        "Email": "ada@example.com",
        "LastName": "Lovelace",
        "Account": {"Name": "Acme", **_bulk_address("Billing", billing, whole_as_int=True)},
    }
    parent = {"attributes": {"type": "Account", "url": "/services/data/v60.0/sobjects/Account/x"}}
    as_rest = rest(
        "Contact",
        Id=CONTACT,
        Email="ada@example.com",
        LastName="Lovelace",
        Account={**parent, "Name": "Acme", "BillingAddress": _rest_address(billing)},
    )
    mapper = RecordMapper(spec, describe=describe_of("Contact"), related=related)
    from_bulk = only(mapper.map(bulk)).to_json()
    assert from_bulk == only(mapper.map(as_rest)).to_json()
    # An empty lookup: Bulk's parent columns are all empty, REST's parent is null.
    assert only(mapper.map({**bulk, "Account": None})).to_json() == (
        only(mapper.map({**as_rest, "Account": None})).to_json()
    )
    # Without the parent's describe the compound cannot be named: the record fails.
    with pytest.raises(RecordMappingError, match=r"Account\.BillingAddress"):
        RecordMapper(spec, describe=describe_of("Contact")).map(bulk)
