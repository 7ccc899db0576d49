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
one transaction, written with a few set-based statements per table
(``_BatchWriter``) rather than several per message: building and running one
SQLAlchemy statement costs far more than one more row in an ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Engine, Table, and_, bindparam, delete, select, tuple_, update
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
        with self.engine.begin() as connection:
            if not isolate:
                return _apply_batch(connection, batch, now)
            outcomes = []
            for message in batch:
                try:
                    with connection.begin_nested():
                        outcomes += _apply_batch(connection, [message], now)
                except DataError as error:
                    reason = f"the warehouse refused a value: {error.orig}"
                    outcomes.append(
                        MessageOutcome.failed(message.message_id, reason, retriable=False)
                    )
            return outcomes


def _apply_batch(
    connection: Connection, batch: Sequence[Message], now: datetime
) -> list[MessageOutcome]:
    """Apply ``batch`` in order inside the caller's transaction; one outcome per message."""
    writer = _BatchWriter(connection)
    outcomes = [writer.add(message, message.timestamp or now) for message in batch]
    writer.flush()
    return outcomes


_Key = tuple[str, ...]


@dataclass
class _PendingMerges:
    """Attribute changes waiting for one table, in message order per row key."""

    table: Table
    column: str
    key_columns: tuple[str, ...]
    changes: dict[_Key, list[tuple[Traits, datetime]]] = field(default_factory=dict)

    def add(self, key: _Key, changes: Traits, when: datetime) -> None:
        self.changes.setdefault(key, []).append((changes, when))

    def flush(self, connection: Connection) -> None:
        """Merge every pending change: create missing rows, lock and read, write what changed.

        Rows are created first (empty) and then read ``FOR UPDATE``, in key
        order, so two writers of the same new row on PostgreSQL queue up
        instead of one overwriting the other's keys, and never deadlock
        (SQLite writers queue on the transaction's lock already).
        """
        keys = sorted(self.changes)
        for start in range(0, len(keys), _KEYS_PER_STATEMENT):
            self._flush_keys(connection, keys[start : start + _KEYS_PER_STATEMENT])
        self.changes.clear()

    def _flush_keys(self, connection: Connection, keys: list[_Key]) -> None:
        table, column = self.table, self.column
        new_rows = []
        for key in keys:
            first = self.changes[key][0][1]
            new_rows.append(
                {**self._named(key), column: {}, "created_at": first, "updated_at": first}
            )
        connection.execute(_insert(connection, table).on_conflict_do_nothing(), new_rows)
        key_columns = [table.c[name] for name in self.key_columns]
        current = {
            tuple(row[:-1]): row[-1]
            for row in connection.execute(
                select(*key_columns, table.c[column])
                .where(tuple_(*key_columns).in_(keys))
                .order_by(*key_columns)
                .with_for_update()
            )
        }
        updates = []
        for key in keys:
            value = current[key]
            changed_at = None
            for changes, when in self.changes[key]:
                merged = merge_attributes(value, changes)
                # Unchanged data keeps its updated_at: a re-delivered batch changes nothing.
                if merged != value:
                    value, changed_at = merged, when
            if changed_at is not None:
                named = {f"key_{name}": part for name, part in self._named(key).items()}
                updates.append({**named, "new_value": value, "new_updated_at": changed_at})
        if updates:
            where = and_(*(c == bindparam(f"key_{c.name}") for c in key_columns))
            statement = (
                update(table)
                .where(where)
                .values({column: bindparam("new_value"), "updated_at": bindparam("new_updated_at")})
            )
            connection.execute(statement, updates)

    def _named(self, key: _Key) -> dict[str, str]:
        return dict(zip(self.key_columns, key, strict=True))


# Rows per IN list and VALUES list: far below SQLite's 32,766 bound parameters.
_KEYS_PER_STATEMENT = 500


class _BatchWriter:
    """Collects a batch's writes per table and runs them as a few set-based statements.

    Messages keep their order: merges fold their changes per row in order,
    and a semantic delete or suppression first flushes everything before it.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.people = _PendingMerges(people, "traits", ("id",))
        self.objects = _PendingMerges(objects, "traits", ("object_type_id", "id"))
        self.relationships = _PendingMerges(
            relationships, "attributes", ("user_id", "object_type_id", "object_id")
        )
        self.events: list[dict[str, Any]] = []
        self.raw: dict[str, list[tuple[SalesforceOrigin, bool]]] = {}

    def add(self, message: Message, when: datetime) -> MessageOutcome:
        """Queue (or, for a semantic event, apply) one message; its outcome."""
        match message:
            case Identify(user_id=None):
                return MessageOutcome.failed(
                    message.message_id,
                    "the warehouse keeps people by userId; this identify has only an anonymousId",
                    retriable=False,
                )
            case Identify(user_id=str(user_id)):
                self.people.add((user_id,), message.traits, when)
            case Group():
                target = message.object
                self.objects.add(
                    (target.object_type_id, target.object_id), message.object_traits, when
                )
                if message.user_id:
                    link = (message.user_id, target.object_type_id, target.object_id)
                    self.relationships.add(link, message.relationship_attributes, when)
            case Track() if message.semantic is not None:
                self.flush()
                _APPLY_SEMANTIC[message.semantic](self.connection, message, when)
            case Track():
                self.events.append(
                    {
                        "message_id": message.message_id,
                        "user_id": message.user_id,
                        "anonymous_id": message.anonymous_id,
                        "event": message.event,
                        "properties": message.properties,
                        "timestamp": when,
                    }
                )
        if message.salesforce is not None:
            deleted = isinstance(message, Track) and message.semantic is not None
            self.raw.setdefault(message.salesforce.object, []).append((message.salesforce, deleted))
        return MessageOutcome.delivered(message.message_id)

    def flush(self) -> None:
        """Write everything queued so far."""
        for merges in (self.people, self.objects, self.relationships):
            merges.flush(self.connection)
        if self.events:
            statement = _insert(self.connection, events).on_conflict_do_nothing()
            self.connection.execute(statement, self.events)
            self.events = []
        for object_name, versions in self.raw.items():
            _upsert_raw(self.connection, object_name, versions)
        self.raw = {}


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


def _upsert_raw(
    connection: Connection, object_name: str, versions: list[tuple[SalesforceOrigin, bool]]
) -> None:
    """Keep the newest version of each record; an older one arriving late changes nothing.

    ``versions`` are (origin, deleted) in message order; consecutive ones of
    the same shape go out as one ``executemany``.
    """
    table = raw_table(object_name)
    statement = _insert(connection, table)
    excluded = statement.excluded
    newer = table.c.system_modstamp <= excluded.system_modstamp
    keep_fields = {"system_modstamp": excluded.system_modstamp, "is_deleted": excluded.is_deleted}
    # A delete read from the recycle bin or getDeleted may carry only the Id:
    # keep the last full record rather than replace it with nothing.
    by_shape = {
        True: statement.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={**keep_fields, "record": excluded.record},
            where=newer,
        ),
        False: statement.on_conflict_do_update(
            index_elements=[table.c.id], set_=keep_fields, where=newer
        ),
    }
    for has_record, run in groupby(versions, key=lambda version: bool(version[0].record)):
        rows = [
            {
                "id": origin.id,
                "system_modstamp": origin.system_modstamp,
                "is_deleted": deleted or origin.record.get("IsDeleted") is True,
                "record": origin.record,
            }
            for origin, deleted in run
        ]
        connection.execute(by_shape[has_record], rows)


def _insert(connection: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """The dialect's ``INSERT`` with ``ON CONFLICT`` (SQLite and PostgreSQL spell it alike)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
