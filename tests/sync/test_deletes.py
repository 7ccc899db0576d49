"""Deleted records to messages, per delete policy and format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sfbridge.messages import Group, Identify, SemanticEvent, Track
from sfbridge.salesforce.ids import to_18
from sfbridge.sync import SyncSpec, template
from sfbridge.sync.deletes import DeletedRecord, delete_messages
from sfbridge.sync.records import RecordMappingError

CONTACT = to_18("003000000000001")
ACCOUNT = to_18("001000000000001")
DELETED_AT = datetime(2024, 2, 1, 8, 0, tzinfo=UTC)


def spec_from(name: str, policy: str, **changes: Any) -> SyncSpec:
    """Template ``name`` as an enabled sync with delete policy ``policy``."""
    base = template(name, connection="prod", destinations=["customerio"], enabled=True)
    return SyncSpec.model_validate({**base.model_dump(), "delete_policy": policy, **changes})


def deleted_contact(record: dict[str, Any] | None = None) -> DeletedRecord:
    return DeletedRecord(id=CONTACT, deleted_at=DELETED_AT, record=record)


def deleted_account() -> DeletedRecord:
    return DeletedRecord(id=ACCOUNT, deleted_at=DELETED_AT)


ROW = {"Id": CONTACT, "Email": "ada@example.com", "AccountId": ACCOUNT}


@pytest.mark.parametrize(
    ("name", "deleted"),
    [
        ("contacts", deleted_contact()),
        ("accounts", deleted_account()),
        ("account-contacts", deleted_contact(ROW)),
        ("tasks", DeletedRecord(id=to_18("00T000000000001"), deleted_at=DELETED_AT)),
    ],
)
def test_ignore_sends_nothing(name: str, deleted: DeletedRecord):
    assert delete_messages(spec_from(name, "ignore"), deleted, object_type_id="1") == []


@pytest.mark.parametrize(
    ("name", "deleted", "event", "user_id", "object_id"),
    [
        ("contacts", deleted_contact(), SemanticEvent.USER_DELETED, CONTACT, None),
        ("accounts", deleted_account(), SemanticEvent.OBJECT_DELETED, None, ACCOUNT),
        (
            "account-contacts",
            deleted_contact(ROW),
            SemanticEvent.RELATIONSHIP_DELETED,
            CONTACT,
            ACCOUNT,
        ),
    ],
)
def test_delete_sends_the_semantic_delete(
    name: str, deleted: DeletedRecord, event: str, user_id: str | None, object_id: str | None
):
    [message] = delete_messages(spec_from(name, "delete"), deleted, object_type_id="1")
    assert isinstance(message, Track)
    assert message.event == event
    assert message.user_id == user_id
    if object_id is not None:
        assert message.deleted_object() == ("1", object_id)
    assert message.timestamp == DELETED_AT
    assert message.salesforce is not None and message.salesforce.id == deleted.id


def test_a_person_synced_by_email_is_deleted_by_the_email_of_the_deleted_row():
    spec = spec_from("contacts", "delete", format={"type": "person", "id_field": "Email"})
    [message] = delete_messages(spec, deleted_contact(ROW))
    assert message.user_id == "ada@example.com"


def test_without_the_deleted_row_a_person_synced_by_email_fails_naming_the_field():
    spec = spec_from("contacts", "delete", format={"type": "person", "id_field": "Email"})
    with pytest.raises(RecordMappingError) as caught:
        delete_messages(spec, deleted_contact())
    assert caught.value.field == "Email"
    assert CONTACT in str(caught.value) and "Email" in str(caught.value)


def test_a_relationship_without_its_object_id_fails():
    spec = spec_from("account-contacts", "delete")
    with pytest.raises(RecordMappingError, match="AccountId"):
        delete_messages(
            spec, deleted_contact({"Id": CONTACT, "AccountId": None}), object_type_id="1"
        )


def test_suppress_deletes_then_suppresses():
    messages = delete_messages(spec_from("contacts", "suppress"), deleted_contact())
    assert [m.event for m in messages if isinstance(m, Track)] == [
        SemanticEvent.USER_DELETED,
        SemanticEvent.USER_SUPPRESSED,
    ]
    assert {m.user_id for m in messages} == {CONTACT}
    assert len({m.message_id for m in messages}) == 2


def test_mark_flags_a_person():
    [message] = delete_messages(spec_from("contacts", "mark"), deleted_contact())
    assert isinstance(message, Identify)
    assert message.user_id == CONTACT
    assert message.traits == {
        "salesforce_deleted": True,
        "salesforce_deleted_at": "2024-02-01T08:00:00.000Z",
    }


def test_mark_flags_an_object_with_the_chosen_attribute():
    spec = spec_from("accounts", "mark", mark_attribute="gone")
    [message] = delete_messages(spec, deleted_account(), object_type_id="1")
    assert isinstance(message, Group)
    assert message.object == ("1", ACCOUNT)
    assert message.object_traits == {"gone": True, "gone_at": "2024-02-01T08:00:00.000Z"}


def test_mark_flags_a_relationship_not_its_object():
    [message] = delete_messages(
        spec_from("account-contacts", "mark"), deleted_contact(ROW), object_type_id="1"
    )
    assert isinstance(message, Group)
    assert message.user_id == CONTACT and message.group_id == ACCOUNT
    assert message.object_traits == {}
    assert message.relationship_attributes["salesforce_deleted"] is True


@pytest.mark.parametrize("policy", ["delete", "suppress", "mark"])
def test_delete_message_ids_are_deterministic(policy: str):
    spec = spec_from("contacts", policy)
    first = [m.message_id for m in delete_messages(spec, deleted_contact())]
    again = [m.message_id for m in delete_messages(spec, deleted_contact(ROW))]
    assert first == again
