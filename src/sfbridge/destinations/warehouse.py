"""The warehouse destination: people, objects, relationships and events as SQL tables.

The embedded default: a SQLite file ``<home>/warehouse.sqlite``, or any
PostgreSQL database (``postgresql+psycopg://...``), with the tables of
``warehouse_schema``: people, objects, relationships, events, and a raw
``sf_<object>`` table per Salesforce object.

It applies messages with Customer.io's semantics (customerio-api.md §2, §5):
``identify`` and ``group`` merge attributes (new keys overwrite, absent keys
stay, ``null`` or ``""`` removes a key); the semantic deletes remove the
person, object or link; ``User Suppressed`` flags the person. The raw tables
keep the newest version of each record a message came from.

Re-delivery changes nothing: merges are idempotent, events are keyed by
``messageId``, and ``updated_at`` moves only when data changes. One batch is
one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Engine, Table, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError

from sfbridge.messages import (
    Group,
    Identify,
    Message,
    SalesforceOrigin,
    SemanticEvent,
    Track,
    Traits,
)

from .base import (
    DeliveryResult,
    Destination,
    DestinationSettings,
    MessageOutcome,
    RunInfo,
    unique_messages,
)
from .warehouse_schema import events, objects, open_engine, people, raw_table, relationships

WAREHOUSE_FILE_NAME = "warehouse.sqlite"


class WarehouseSpec(DestinationSettings):
    """Settings of a warehouse destination."""

    kind: Literal["warehouse"] = Field(default="warehouse", description="Destination kind.")
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the warehouse database, e.g. "
        "postgresql+psycopg://user:password@host/db; SQLite under the home folder when unset.",
    )


def merge_attributes(current: Traits, changes: Traits) -> Traits:
    """Customer.io's merge: new keys overwrite, absent keys stay, null or "" removes a key."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class WarehouseDestination(Destination):
    """Messages applied to SQL tables; see the module docstring."""

    def __init__(self, engine: Engine, name: str = "warehouse") -> None:
        """Wrap an engine whose database has the tables; use ``WarehouseDestination.open``."""
        self.engine = engine
        self.name = name
        self._raw_ready: set[str] = set()

    @classmethod
    def open(cls, spec: WarehouseSpec, run: RunInfo) -> WarehouseDestination:
        """Connect to the spec's database (or the home folder's SQLite file) and create tables."""
        if spec.url:
            url = spec.url
        else:
            run.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            url = f"sqlite:///{run.home / WAREHOUSE_FILE_NAME}"
        return cls(open_engine(url), spec.name or spec.kind)

    def deliver(self, batch: Sequence[Message]) -> DeliveryResult:
        """Apply the batch in one transaction; a database error fails it whole, as retriable."""
        unique = unique_messages(batch)
        try:
            self._create_raw_tables(unique)
            try:
                outcomes = self._apply_all(unique, isolate=False)
            except DataError:
                # One value the database refuses (PostgreSQL rejects \u0000 in
                # JSON) must not block the batch: apply each message on its own
                # savepoint so only the bad ones fail.
                outcomes = self._apply_all(unique, isolate=True)
        except DBAPIError as error:
            reason = f"warehouse write failed: {error.orig}"
            outcomes = [MessageOutcome.failed(m.message_id, reason, retriable=True) for m in unique]
        return DeliveryResult.of(self.name, batch, {o.message_id: o for o in outcomes})

    def close(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()

    def _create_raw_tables(self, batch: Sequence[Message]) -> None:
        names = {m.salesforce.object.lower() for m in batch if m.salesforce} - self._raw_ready
        for name in sorted(names):
            raw_table(name).create(self.engine, checkfirst=True)
            self._raw_ready.add(name)

    def _apply_all(self, batch: Sequence[Message], *, isolate: bool) -> list[MessageOutcome]:
        now = datetime.now(UTC)
        outcomes = []
        with self.engine.begin() as connection:
            for message in batch:
                if not isolate:
                    outcomes.append(_apply(connection, message, now))
                    continue
                try:
                    with connection.begin_nested():
                        outcomes.append(_apply(connection, message, now))
                except DataError as error:
                    reason = f"the warehouse refused a value: {error.orig}"
                    outcomes.append(
                        MessageOutcome.failed(message.message_id, reason, retriable=False)
                    )
        return outcomes


def _apply(connection: Connection, message: Message, now: datetime) -> MessageOutcome:
    """Apply one message inside the batch's transaction."""
    when = message.timestamp or now
    match message:
        case Identify(user_id=None):
            return MessageOutcome.failed(
                message.message_id,
                "the warehouse keeps people by userId; this identify has only an anonymousId",
                retriable=False,
            )
        case Identify(user_id=str(user_id)):
            _merge(connection, people, {"id": user_id}, "traits", message.traits, when)
        case Group():
            target = message.object
            key = {"object_type_id": target.object_type_id, "id": target.object_id}
            _merge(connection, objects, key, "traits", message.object_traits, when)
            if message.user_id:
                link = {
                    "user_id": message.user_id,
                    "object_type_id": target.object_type_id,
                    "object_id": target.object_id,
                }
                attributes = message.relationship_attributes
                _merge(connection, relationships, link, "attributes", attributes, when)
        case Track() if message.semantic is not None:
            _APPLY_SEMANTIC[message.semantic](connection, message, when)
        case Track():
            row: dict[str, Any] = {
                "message_id": message.message_id,
                "user_id": message.user_id,
                "anonymous_id": message.anonymous_id,
                "event": message.event,
                "properties": message.properties,
                "timestamp": when,
            }
            connection.execute(_insert(connection, events).values(row).on_conflict_do_nothing())
    if message.salesforce is not None:
        deleted = isinstance(message, Track) and message.semantic is not None
        _upsert_raw(connection, message.salesforce, deleted=deleted)
    return MessageOutcome.delivered(message.message_id)


def _merge(
    connection: Connection,
    table: Table,
    key: dict[str, str],
    column: str,
    changes: Traits,
    when: datetime,
) -> None:
    """Merge ``changes`` into the row's JSON ``column``, creating the row if needed.

    The row is created first and then read ``FOR UPDATE``, so two writers of
    the same new row on PostgreSQL queue up instead of one overwriting the
    other's keys (SQLite writers queue on the transaction's lock already).
    """
    new_row = {**key, column: {}, "created_at": when, "updated_at": when}
    connection.execute(_insert(connection, table).values(new_row).on_conflict_do_nothing())
    where = and_(*(table.c[name] == value for name, value in key.items()))
    current = connection.execute(
        select(table.c[column]).where(where).with_for_update()
    ).scalar_one()
    merged = merge_attributes(current, changes)
    # Unchanged data keeps its updated_at, so a re-delivered batch changes nothing.
    if merged != current:
        connection.execute(update(table).where(where).values({column: merged, "updated_at": when}))


def _delete_user(connection: Connection, message: Track, when: datetime) -> None:
    connection.execute(delete(people).where(people.c.id == message.user_id))
    connection.execute(delete(relationships).where(relationships.c.user_id == message.user_id))


def _suppress_user(connection: Connection, message: Track, when: datetime) -> None:
    # A person never seen is recorded too: the suppression must outlast a later identify.
    row: dict[str, Any] = {
        "id": message.user_id,
        "traits": {},
        "created_at": when,
        "updated_at": when,
    }
    connection.execute(_insert(connection, people).values(row).on_conflict_do_nothing())
    connection.execute(
        update(people)
        .where(people.c.id == message.user_id, people.c.suppressed.is_(False))
        .values(suppressed=True, updated_at=when)
    )


def _delete_object(connection: Connection, message: Track, when: datetime) -> None:
    target = message.deleted_object()
    connection.execute(
        delete(objects).where(
            objects.c.object_type_id == target.object_type_id, objects.c.id == target.object_id
        )
    )
    connection.execute(
        delete(relationships).where(
            relationships.c.object_type_id == target.object_type_id,
            relationships.c.object_id == target.object_id,
        )
    )


def _delete_relationship(connection: Connection, message: Track, when: datetime) -> None:
    target = message.deleted_object()
    connection.execute(
        delete(relationships).where(
            relationships.c.user_id == message.user_id,
            relationships.c.object_type_id == target.object_type_id,
            relationships.c.object_id == target.object_id,
        )
    )


_APPLY_SEMANTIC: dict[SemanticEvent, Callable[[Connection, Track, datetime], None]] = {
    SemanticEvent.USER_DELETED: _delete_user,
    SemanticEvent.USER_SUPPRESSED: _suppress_user,
    SemanticEvent.OBJECT_DELETED: _delete_object,
    SemanticEvent.RELATIONSHIP_DELETED: _delete_relationship,
}


def _upsert_raw(connection: Connection, origin: SalesforceOrigin, *, deleted: bool) -> None:
    """Keep the newest version of the record; an older one arriving late changes nothing."""
    table = raw_table(origin.object)
    is_deleted = deleted or origin.record.get("IsDeleted") is True
    statement = _insert(connection, table).values(
        id=origin.id,
        system_modstamp=origin.system_modstamp,
        is_deleted=is_deleted,
        record=origin.record,
    )
    changes: dict[str, Any] = {
        "system_modstamp": statement.excluded.system_modstamp,
        "is_deleted": statement.excluded.is_deleted,
    }
    # A delete read from the recycle bin or getDeleted may carry only the Id:
    # keep the last full record rather than replace it with nothing.
    if origin.record:
        changes["record"] = statement.excluded.record
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.id],
            set_=changes,
            where=table.c.system_modstamp <= statement.excluded.system_modstamp,
        )
    )


def _insert(connection: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """The dialect's ``INSERT`` with ``ON CONFLICT`` (SQLite and PostgreSQL spell it alike)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
