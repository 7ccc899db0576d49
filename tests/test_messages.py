"""Pipelines messages: wire format, validation, size limit, semantic deletes, message ids."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sfbridge.errors import SkippableError
from sfbridge.messages import (
    MAX_MESSAGE_BYTES,
    Context,
    Group,
    Identify,
    InvalidMessage,
    Message,
    MessageTooLarge,
    ObjectRef,
    SalesforceOrigin,
    SemanticEvent,
    Track,
    message_id,
    object_deleted,
    parse_message,
    relationship_deleted,
    user_deleted,
    user_suppressed,
)
from sfbridge.salesforce.ids import make_id

CONTACT_ID = make_id("003", 42)
T0 = datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)

# -- JSON round trip ---------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=5)
ids = st.text(min_size=1, max_size=24)
timestamps = st.none() | st.datetimes(
    min_value=datetime(1970, 1, 2), timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7))])
)
# Lambdas, not the classes: hypothesis would read the models' camelCase signatures.
origins = st.none() | st.builds(
    lambda **fields: SalesforceOrigin(**fields),
    object=st.sampled_from(["Contact", "Account", "Invoice__c"]),
    id=st.integers(min_value=1, max_value=10**9).map(lambda n: make_id("003", n)),
    system_modstamp=st.datetimes(timezones=st.just(UTC)),
    record=json_objects,
)
contexts = st.builds(
    lambda extra, origin: Context(**extra, salesforce=origin),
    st.dictionaries(st.sampled_from(["ip", "locale", "library"]), json_values, max_size=2),
    origins,
)
people = st.one_of(
    st.fixed_dictionaries({"user_id": ids}),
    st.fixed_dictionaries({"anonymous_id": ids}),
    st.fixed_dictionaries({"user_id": ids, "anonymous_id": ids}),
)
common = {"message_id": ids, "timestamp": timestamps, "context": contexts}
messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(lambda who, **kw: Identify(**who, **kw), people, traits=json_objects, **common),
    st.builds(
        lambda **fields: Group(**fields),
        group_id=ids,
        user_id=st.none() | ids,
        traits=st.builds(
            lambda t, type_id, rel: {**t, "object_type_id": type_id, "relationshipAttributes": rel},
            json_objects,
            st.integers(min_value=1, max_value=99).map(str),
            json_objects,
        ),
        **common,
    ),
    st.builds(
        lambda who, **kw: Track(**who, **kw),
        people,
        event=st.text(min_size=1, max_size=20).filter(lambda e: e not in set(SemanticEvent)),
        properties=json_objects,
        **common,
    ),
)


@given(messages)
def test_json_round_trip_keeps_every_message_whole(message: Message) -> None:
    text = message.to_json()

    assert parse_message(text) == message
    assert parse_message(json.loads(text)) == message
    assert parse_message(text).to_json() == text


def test_the_wire_format_is_the_specs_camel_case() -> None:
    origin = SalesforceOrigin(
        object="Contact",
        id=CONTACT_ID,
        system_modstamp="2024-05-01T12:30:15.123+0000",  # as Salesforce writes it
        record={"Id": CONTACT_ID, "Email": "ada@example.com"},
    )
    message = Group(
        group_id="acme",
        user_id=CONTACT_ID,
        traits={"object_type_id": "2", "name": "Acme", "relationshipAttributes": {"role": "CFO"}},
        message_id="m-1",
        timestamp=T0,
        context=Context(salesforce=origin, ip="10.0.0.1"),
    )

    assert message.to_dict() == {
        "type": "group",
        "messageId": "m-1",
        "timestamp": "2024-05-01T12:30:15.123000Z",
        "groupId": "acme",
        "userId": CONTACT_ID,
        "traits": {
            "object_type_id": "2",
            "name": "Acme",
            "relationshipAttributes": {"role": "CFO"},
        },
        "context": {
            "ip": "10.0.0.1",
            "salesforce": {
                "object": "Contact",
                "id": CONTACT_ID,
                "systemModstamp": "2024-05-01T12:30:15.123Z",
                "record": {"Id": CONTACT_ID, "Email": "ada@example.com"},
            },
        },
    }
    assert message.salesforce == origin
    assert message.object == ObjectRef("2", "acme")
    assert message.object_traits == {"name": "Acme"}
    assert message.relationship_attributes == {"role": "CFO"}


def test_a_pipelines_message_from_another_source_parses() -> None:
    sent = {
        "type": "identify",
        "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
        "userId": "97980cfea0067",
        "traits": {"email": "peter@example.com", "plan": "premium", "phone": None},
        "context": {"ip": "8.8.8.8", "library": {"name": "analytics-python", "version": "2.2"}},
        "timestamp": "2015-02-23T22:28:55.111Z",
    }

    message = parse_message(sent)

    assert isinstance(message, Identify)
    assert message.traits["phone"] is None  # null means "remove" to Customer.io: kept
    assert message.salesforce is None
    assert json.loads(message.to_json()) == {**sent, "timestamp": "2015-02-23T22:28:55.111000Z"}


# -- validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "identify", "messageId": "m1", "traits": {}}, "needs a userId or an anonymousId"),
        ({"type": "track", "messageId": "m2", "userId": 7, "event": "x"}, "userId: .* \\(got 7\\)"),
        ({"type": "track", "messageId": "m3", "userId": "u", "event": ""}, "event: .*got ''"),
        ({"type": "group", "messageId": "m4", "groupId": "g", "traits": {"object_type_id": "co"}},
         "object_type_id must be an object type id such as '1' \\(got 'co'\\)"),
        ({"type": "group", "messageId": "m5", "groupId": "g",
          "traits": {"relationshipAttributes": [1]}}, "relationshipAttributes must be an object"),
        ({"type": "page", "messageId": "m6"}, "tag 'page'"),
        ({"type": "identify", "messageId": "m7", "userId": "u", "sentAt": "now"},
         "sentAt: Extra inputs are not permitted"),
        ({"type": "track", "messageId": "m8", "event": "User Deleted", "anonymousId": "a"},
         "'User Deleted' event needs the person's userId"),
        ({"type": "track", "messageId": "m9", "event": "Object Deleted", "anonymousId": "a",
          "properties": {"objectId": ""}}, "properties.objectId must be a non-empty string"),
        ({"type": "identify", "messageId": "m10", "userId": "u", "timestamp": "2024-05-01T12:00"},
         "timestamp: .*timezone"),
        ({"type": "identify", "messageId": "m11", "userId": "u",
          "context": {"salesforce": {"object": "Contact", "id": "003bad",
                                     "systemModstamp": "2024-05-01T12:00:00Z"}}},
         "context.salesforce.id: not a Salesforce record Id: '003bad'"),
    ],
)  # fmt: skip
def test_invalid_messages_name_the_field_and_the_value(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidMessage, match=expected) as raised:
        parse_message(data)

    assert isinstance(raised.value, SkippableError)
    assert str(raised.value).startswith(f"invalid message {data['messageId']!r}: ")


def test_constructors_report_wire_field_names() -> None:
    with pytest.raises(InvalidMessage, match=r"invalid message 'm': userId: .*\(got 3\)"):
        Identify(user_id=3, message_id="m")  # type: ignore[arg-type]


def test_broken_json_is_an_invalid_message() -> None:
    with pytest.raises(InvalidMessage, match=r"invalid message: .*JSON"):
        parse_message('{"type": "identify", ')


# -- size limit ------------------------------------------------------------------


def identify_of_size(size: int) -> dict[str, Any]:
    """An identify whose compact JSON is exactly ``size`` bytes."""
    data: dict[str, Any] = {"type": "identify", "messageId": "big", "userId": "u"}
    data["traits"] = {"pad": ""}
    overhead = len(json.dumps(data, separators=(",", ":")))
    data["traits"]["pad"] = "x" * (size - overhead)
    return data


def test_a_message_of_exactly_32_kb_is_accepted() -> None:
    message = parse_message(identify_of_size(MAX_MESSAGE_BYTES))

    assert len(message.to_json().encode()) == MAX_MESSAGE_BYTES == 32 * 1024


def test_a_larger_message_is_refused_with_its_id_and_size() -> None:
    with pytest.raises(MessageTooLarge) as raised:
        parse_message(identify_of_size(MAX_MESSAGE_BYTES + 1))

    assert isinstance(raised.value, SkippableError)
    assert (raised.value.message_id, raised.value.size) == ("big", MAX_MESSAGE_BYTES + 1)
    assert "message 'big' is 32769 bytes of JSON, over the 32768-byte limit" in str(raised.value)


def test_the_limit_counts_encoded_bytes_not_characters() -> None:
    with pytest.raises(MessageTooLarge):
        Identify(user_id="u", traits={"name": "é" * 17_000}, message_id="m")


# -- semantic deletes ------------------------------------------------------------


def test_semantic_deletes_have_the_specs_shape() -> None:
    company = ObjectRef("1", "acme")

    assert [
        user_deleted("u1", message_id="a").to_dict(),
        user_suppressed("u1", message_id="b").to_dict(),
        object_deleted(company, message_id="c", timestamp=T0).to_dict(),
        relationship_deleted("u1", company, message_id="d").to_dict(),
    ] == [
        {"type": "track", "messageId": "a", "event": "User Deleted", "userId": "u1",
         "properties": {}},
        {"type": "track", "messageId": "b", "event": "User Suppressed", "userId": "u1",
         "properties": {}},
        {"type": "track", "messageId": "c", "timestamp": "2024-05-01T12:30:15.123000Z",
         "event": "Object Deleted", "anonymousId": "acme",
         "properties": {"objectId": "acme", "object_type_id": "1"}},
        {"type": "track", "messageId": "d", "event": "Relationship Deleted", "userId": "u1",
         "properties": {"objectId": "acme", "object_type_id": "1"}},
    ]  # fmt: skip


def test_deletes_keep_the_record_they_came_from() -> None:
    origin = SalesforceOrigin(object="Contact", id=CONTACT_ID, system_modstamp=T0)

    deleted = user_deleted(CONTACT_ID, message_id="x", context=Context(salesforce=origin))

    assert deleted.semantic is SemanticEvent.USER_DELETED
    assert parse_message(deleted.to_json()).salesforce == origin


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"objectId": "acme", "objectTypeId": 3}, ObjectRef("3", "acme")),  # the spec's spelling
        ({"objectId": "acme", "object_type_id": "2"}, ObjectRef("2", "acme")),
        ({"objectId": "acme"}, ObjectRef("1", "acme")),
    ],
)
def test_deleted_objects_are_read_in_every_spelling(
    properties: dict[str, Any], expected: ObjectRef
) -> None:
    event = Track(event="Relationship Deleted", user_id="u1", properties=properties, message_id="m")

    assert event.deleted_object() == expected


def test_ordinary_events_are_not_semantic() -> None:
    assert Track(event="Order Completed", user_id="u", message_id="m").semantic is None


# -- message ids -------------------------------------------------------------------


def test_message_ids_are_deterministic_uuids() -> None:
    first = message_id("contacts", CONTACT_ID, "2024-05-01T12:30:15.000+0000", "identify")

    assert first == message_id("contacts", CONTACT_ID, "2024-05-01T12:30:15.000+0000", "identify")
    assert uuid.UUID(first).version == 5
    assert first != message_id("contacts", CONTACT_ID, "2024-05-01T12:30:16.000+0000", "identify")


def test_message_id_parts_do_not_run_together() -> None:
    assert message_id("a", "bc") != message_id("ab", "c")
    assert message_id(1) != message_id("1")
