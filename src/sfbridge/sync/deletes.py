"""What a Salesforce deletion becomes at the destinations, per the sync's ``delete_policy``.

The Pipelines API has no delete call: a deletion travels as a ``track`` with a
semantic event name (customerio-salesforce-mapping.md section 4)::

    delete_messages(spec, DeletedRecord(id="003...", deleted_at=stamp, record=row))

| policy   | person                             | object         | relationship           |
|----------|------------------------------------|----------------|------------------------|
| ignore   | nothing                            | nothing        | nothing                |
| delete   | User Deleted                       | Object Deleted | Relationship Deleted   |
| suppress | User Deleted, then User Suppressed | (not allowed)  | (not allowed)          |
| mark     | identify with the mark             | group, same    | group, relationshipAttributes |

The mark is ``{<mark_attribute>: true, <mark_attribute>_at: "<deletion time>"}``
(``salesforce_deleted`` and ``salesforce_deleted_at`` by default).

**suppress sends both.** ``DeletePolicy.SUPPRESS`` promises "delete and
suppress", while ``User Suppressed`` on its own only flags the person
(``messages.user_suppressed``): a warehouse or webhook would keep the data.
Customer.io's suppression deletes as well, so there the delete is a no-op;
the suppression comes last so that it is the state the person is left in.

Identifiers are the ones the sync sent: a person synced by ``Id`` is deleted
by the record's Id; one synced by another field (Email, an external id) needs
the deleted row's fields, which ``plan.deletes_select`` reads from the
recycle bin. A deletion without them fails (``RecordMappingError``) rather
than guessing. Event syncs have no delete (a sent event cannot be taken back;
``SyncSpec`` refuses any other policy for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sfbridge.messages import (
    Context,
    Group,
    Identify,
    InvalidMessage,
    Message,
    ObjectRef,
    Traits,
    message_id,
    object_deleted,
    relationship_deleted,
    user_deleted,
    user_suppressed,
)

from .formats import ID_FIELD, ObjectFormat, PersonFormat, RelationshipFormat
from .records import RecordMappingError, RecordValues, iso_datetime, resolve_object_type_id
from .spec import CURSOR_FIELD, DeletePolicy, SyncSpec


@dataclass(frozen=True)
class DeletedRecord:
    """A record deleted in Salesforce, as ``queryAll`` found it in the recycle bin."""

    id: str
    deleted_at: datetime
    """Its SystemModstamp: deleting a record stamps it."""
    record: Mapping[str, Any] | None = None
    """Its fields (``deletes_select``'s identifier fields); None when only the Id is known."""


def delete_messages(
    spec: SyncSpec, deleted: DeletedRecord, *, object_type_id: str | None = None
) -> list[Message]:
    """The messages that carry ``deleted`` to the destinations under ``spec.delete_policy``.

    ``object_type_id`` is the resolved type of an object or relationship sync
    whose spec names none (as for ``RecordMapper``). A deletion that lacks the
    identifier the sync used raises ``RecordMappingError``, kept for replay.
    """
    policy = spec.delete_policy
    if policy == DeletePolicy.IGNORE or spec.format.type == "event":
        return []
    type_id = resolve_object_type_id(spec, object_type_id)
    values = _values(spec, deleted)
    context = values.origin(deleted.deleted_at)
    stamp = deleted.deleted_at
    # The same deletion read twice (the window's overlap, a retry) gets the same ids.
    deleted_id = message_id(spec.name, deleted.id, "deleted")
    try:
        if policy == DeletePolicy.MARK:
            return [_mark(spec, values, type_id, deleted, deleted_id, context)]
        if isinstance(spec.format, PersonFormat):
            user_id = values.identifier(_person_path(spec.format), "person id")
            messages: list[Message] = [
                user_deleted(user_id, message_id=deleted_id, timestamp=stamp, context=context)
            ]
            if policy == DeletePolicy.SUPPRESS:
                suppressed_id = message_id(spec.name, deleted.id, "suppressed")
                messages.append(
                    user_suppressed(
                        user_id, message_id=suppressed_id, timestamp=stamp, context=context
                    )
                )
            return messages
        assert type_id is not None  # resolve_object_type_id gives one for these formats
        if isinstance(spec.format, ObjectFormat):
            target = ObjectRef(type_id, values.identifier(spec.format.id_field, "object id"))
            return [object_deleted(target, message_id=deleted_id, timestamp=stamp, context=context)]
        assert isinstance(spec.format, RelationshipFormat)
        target = ObjectRef(type_id, values.identifier(spec.format.object_field, "object id"))
        user_id = values.identifier(spec.format.person_field, "person id")
        return [
            relationship_deleted(
                user_id, target, message_id=deleted_id, timestamp=stamp, context=context
            )
        ]
    except InvalidMessage as error:
        raise values.error(f"makes an invalid delete message: {error}") from None


def _person_path(person: PersonFormat) -> str:
    """The field whose value the sync sent as the person's userId."""
    path = person.id_field or person.email_field
    assert path is not None  # PersonFormat requires one of the two
    return path


def _identifier_paths(spec: SyncSpec) -> tuple[str, ...]:
    """The fields a delete message is addressed by; a person's email is one only without an id."""
    if isinstance(spec.format, PersonFormat):
        return (_person_path(spec.format),)
    return spec.identifier_fields


def _values(spec: SyncSpec, deleted: DeletedRecord) -> RecordValues:
    """The identifier fields of ``deleted``; its Id and stamp stand in for a missing row."""
    row: dict[str, Any] = {ID_FIELD: deleted.id, CURSOR_FIELD: deleted.deleted_at}
    paths = tuple(dict.fromkeys((ID_FIELD, CURSOR_FIELD, *_identifier_paths(spec))))
    if deleted.record is None:
        known = (ID_FIELD.lower(), CURSOR_FIELD.lower())
        needed = [path for path in paths if path.lower() not in known]
        if needed:
            raise RecordMappingError(
                spec,
                deleted.id,
                f"was deleted, but its fields are unavailable and the sync identifies it by "
                f"{', '.join(needed)}; read deletes with queryAll before the recycle bin "
                "is emptied (about 15 days)",
                field=needed[0],
            )
    else:
        row = {**deleted.record, **row}
    return RecordValues.read(spec, row, paths)


def _mark(
    spec: SyncSpec,
    values: RecordValues,
    type_id: str | None,
    deleted: DeletedRecord,
    deleted_id: str,
    context: Context,
) -> Message:
    """An update that keeps the data and sets ``mark_attribute`` (and ``<mark>_at``) on it."""
    mark = str(spec.mark_attribute)
    flags: Traits = {mark: True, f"{mark}_at": iso_datetime(deleted.deleted_at)}
    common: dict[str, Any] = {
        "message_id": deleted_id,
        "timestamp": deleted.deleted_at,
        "context": context,
    }
    if isinstance(spec.format, PersonFormat):
        user_id = values.identifier(_person_path(spec.format), "person id")
        return Identify(user_id=user_id, traits=flags, **common)
    if isinstance(spec.format, ObjectFormat):
        group_id = values.identifier(spec.format.id_field, "object id")
        return Group(group_id=group_id, traits={"object_type_id": type_id, **flags}, **common)
    assert isinstance(spec.format, RelationshipFormat)
    # The relationship is what was deleted, not the object or the person:
    # the flag goes on the relationship's attributes.
    return Group(
        group_id=values.identifier(spec.format.object_field, "object id"),
        user_id=values.identifier(spec.format.person_field, "person id"),
        traits={"object_type_id": type_id, "relationshipAttributes": flags},
        **common,
    )
