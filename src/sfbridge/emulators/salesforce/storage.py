"""The org's records in SQLite: one table per sObject, one column per stored field.

Layout (the SOQL compiler and the seeder rely on it):

- table name = the object's API name (``"Contact"``, ``"Subscription__c"``),
  always double-quoted in SQL;
- one column per non-compound field, named by its API name; values in the
  storage forms of ``codec.py``;
- text columns compare with ``COLLATE NOCASE`` (SOQL string comparisons are
  case-insensitive), except id and reference columns, which are case-sensitive;
- hidden column ``_DeletedDate`` (storage datetime) set when a record goes to
  the recycle bin; ``IsDeleted`` is 1 for those rows;
- indexes on Id (unique), (SystemModstamp, Id), LastModifiedDate, CreatedDate,
  external-id, idLookup and reference fields.

One connection is shared by every thread behind a re-entrant lock: the
emulator's HTTP handlers, its Python handle in tests and background jobs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sfbridge.salesforce.ids import make_id

from .codec import format_datetime
from .schema import ID_TYPES, NUMBER_TYPES, TEXT_TYPES, FieldDef, ObjectDef, OrgSchema

DELETED_DATE = "_DeletedDate"
_INDEXED_NAMES = ("SystemModstamp", "LastModifiedDate", "CreatedDate")


def quote_name(name: str) -> str:
    """SQL identifier quoting for an object or field API name."""
    return '"' + name.replace('"', '""') + '"'


def column_type(field: FieldDef) -> str:
    """The SQLite column declaration of a field."""
    if field.type == "boolean":
        return "INTEGER NOT NULL DEFAULT 0"
    if field.type == "int":
        return "INTEGER"
    if field.type in NUMBER_TYPES:
        return "REAL"
    if field.type in ID_TYPES:
        return "TEXT"
    if field.type in TEXT_TYPES:
        return "TEXT COLLATE NOCASE"
    return "TEXT"


class Clock:
    """The org's clock: real time, optionally shifted by tests and demos."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()
        self._last = ""

    def now(self) -> datetime:
        """Current org time (UTC, millisecond precision)."""
        moment = datetime.now(UTC) + self._offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def stamp(self) -> str:
        """Current time in storage form, never earlier than the last stamp handed out."""
        with self._lock:
            value = format_datetime(self.now())
            if value < self._last:
                value = self._last
            self._last = value
            return value

    def advance(self, delta: timedelta) -> None:
        """Move the org's clock forward (or back) by ``delta``."""
        with self._lock:
            self._offset += delta


class OrgStore:
    """SQLite-backed record storage for one org."""

    def __init__(self, path: Path | None, schema: OrgSchema) -> None:
        self.schema = schema
        self.path = path
        self.lock = threading.RLock()
        self.clock = Clock()
        self._depth = 0
        target = str(path) if path is not None else ":memory:"
        self.connection = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA cache_size=-200000")
        self.connection.execute("PRAGMA temp_store=MEMORY")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS _sequences (object TEXT PRIMARY KEY, next INTEGER NOT NULL)"
        )
        # Records purged from the recycle bin (hardDelete, an emptied bin) leave
        # queryAll but stay listed by the "deleted" resource for its replication
        # window, as in a real org (REST API Developer Guide, "Get Deleted Records").
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS _purged "
            "(object TEXT NOT NULL, id TEXT NOT NULL, deleted_date TEXT NOT NULL, "
            "PRIMARY KEY (object, id))"
        )
        for obj in schema.objects():
            self.ensure_table(obj)

    # -- schema ---------------------------------------------------------------

    def ensure_table(self, obj: ObjectDef) -> None:
        """Create the object's table, or add the columns it lacks."""
        table = quote_name(obj.name)
        with self.lock:
            existing = {
                row[1].lower() for row in self.connection.execute(f"PRAGMA table_info({table})")
            }
            if not existing:
                columns = [f"{quote_name(f.name)} {column_type(f)}" for f in obj.stored_fields()]
                columns.append(f"{quote_name(DELETED_DATE)} TEXT")
                self.connection.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
            else:
                for definition in obj.stored_fields():
                    if definition.name.lower() not in existing:
                        self.connection.execute(
                            f"ALTER TABLE {table} ADD COLUMN "
                            f"{quote_name(definition.name)} {column_type(definition)}"
                        )
            self._ensure_indexes(obj)

    def _ensure_indexes(self, obj: ObjectDef) -> None:
        table = quote_name(obj.name)
        base = obj.name.lower()
        statements = [f'CREATE UNIQUE INDEX IF NOT EXISTS "ix_{base}_id" ON {table} ("Id")']
        if obj.field("SystemModstamp"):
            statements.append(
                f'CREATE INDEX IF NOT EXISTS "ix_{base}_sysmod" ON {table} ("SystemModstamp", "Id")'
            )
        for definition in obj.stored_fields():
            indexed = (
                definition.name in _INDEXED_NAMES[1:]
                or definition.type == "reference"
                or definition.flag("externalId")
                or (definition.flag("idLookup") and definition.type != "id")
            )
            if indexed:
                column = definition.name.lower()
                statements.append(
                    f'CREATE INDEX IF NOT EXISTS "ix_{base}_{column}" '
                    f"ON {table} ({quote_name(definition.name)})"
                )
        for statement in statements:
            self.connection.execute(statement)

    # -- ids ------------------------------------------------------------------

    def reserve(self, sequence: str, count: int) -> int:
        """Reserve ``count`` numbers of a named sequence; returns the first (from 1)."""
        with self.lock:
            row = self.connection.execute(
                "SELECT next FROM _sequences WHERE object = ?", (sequence,)
            ).fetchone()
            start = int(row[0]) if row else 1
            self.connection.execute(
                "INSERT INTO _sequences(object, next) VALUES (?, ?) "
                "ON CONFLICT(object) DO UPDATE SET next = excluded.next",
                (sequence, start + count),
            )
        return start

    def next_ids(self, obj: ObjectDef, count: int) -> list[str]:
        """Reserve ``count`` new record ids for ``obj``."""
        start = self.reserve(obj.name, count)
        return [make_id(obj.key_prefix, n) for n in range(start, start + count)]

    # -- rows -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block atomically; blocks may nest (savepoints)."""
        with self.lock:
            self._depth += 1
            name = f"sp{self._depth}"
            self.connection.execute(f"SAVEPOINT {name}")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute(f"ROLLBACK TO {name}")
                self.connection.execute(f"RELEASE {name}")
                raise
            finally:
                self._depth -= 1
            self.connection.execute(f"RELEASE {name}")

    def insert_rows(
        self, obj: ObjectDef, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> int:
        """Insert rows given as value tuples in ``columns`` order; returns the count."""
        placeholders = ", ".join("?" for _ in columns)
        sql = (
            f"INSERT INTO {quote_name(obj.name)} ({', '.join(quote_name(c) for c in columns)}) "
            f"VALUES ({placeholders})"
        )
        with self.lock:
            cursor = self.connection.executemany(sql, rows)
            return cursor.rowcount

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement under the lock and return every row."""
        with self.lock:
            return self.connection.execute(sql, params).fetchall()

    def row_by_id(
        self, obj: ObjectDef, record_id: str, *, include_deleted: bool = False
    ) -> dict[str, Any] | None:
        """The stored row of one record as ``{column: value}``, or None."""
        clause = "" if include_deleted else ' AND "IsDeleted" = 0' if obj.field("IsDeleted") else ""
        with self.lock:
            cursor = self.connection.execute(
                f'SELECT * FROM {quote_name(obj.name)} WHERE "Id" = ?{clause}', (record_id,)
            )
            row = cursor.fetchone()
            if row is None:
                return None
            names = [d[0] for d in cursor.description]
        return dict(zip(names, row, strict=True))

    def count(self, obj: ObjectDef, *, include_deleted: bool = False) -> int:
        """How many records of ``obj`` exist (live only unless ``include_deleted``)."""
        where = "" if include_deleted or not obj.field("IsDeleted") else ' WHERE "IsDeleted" = 0'
        return int(self.execute(f"SELECT COUNT(*) FROM {quote_name(obj.name)}{where}")[0][0])

    def close(self) -> None:
        """Close the database connection."""
        with self.lock:
            self.connection.close()
