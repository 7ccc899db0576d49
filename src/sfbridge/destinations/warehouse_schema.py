"""The warehouse's tables, and opening its database (SQLite or PostgreSQL).

::

    people(id, traits, created_at, updated_at, suppressed)
    objects(object_type_id, id, traits, created_at, updated_at)
    relationships(user_id, object_type_id, object_id, attributes, created_at, updated_at)
    events(message_id, user_id, anonymous_id, event, properties, timestamp)
    sf_<object>(id, system_modstamp, is_deleted, record)   one per Salesforce object

``traits``, ``attributes``, ``properties`` and ``record`` are JSON (JSONB on
PostgreSQL); times are stored as UTC. The tables are created when the
warehouse is opened, raw tables when their object first appears.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    String,
    Table,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from sfbridge.errors import ConfigError

_SQLITE_BUSY_TIMEOUT_MS = 10_000


class _UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every dialect (SQLite's DateTime drops the offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# JSONB on PostgreSQL: compact, and comparable by value in queries.
_Json = JSON().with_variant(postgresql.JSONB(), "postgresql")

metadata = MetaData()


def _timestamps() -> list[Column[Any]]:
    return [
        Column("created_at", _UtcDateTime(), nullable=False),
        Column("updated_at", _UtcDateTime(), nullable=False),
    ]


people = Table(
    "people",
    metadata,
    Column("id", String, primary_key=True),
    Column("traits", _Json, nullable=False),
    *_timestamps(),
    Column("suppressed", Boolean, nullable=False, default=False),
)
objects = Table(
    "objects",
    metadata,
    Column("object_type_id", String, primary_key=True),
    Column("id", String, primary_key=True),
    Column("traits", _Json, nullable=False),
    *_timestamps(),
)
relationships = Table(
    "relationships",
    metadata,
    Column("user_id", String, primary_key=True),
    Column("object_type_id", String, primary_key=True),
    Column("object_id", String, primary_key=True),
    Column("attributes", _Json, nullable=False),
    *_timestamps(),
)
events = Table(
    "events",
    metadata,
    Column("message_id", String, primary_key=True),
    Column("user_id", String, index=True),
    Column("anonymous_id", String),
    Column("event", String, nullable=False),
    Column("properties", _Json, nullable=False),
    Column("timestamp", _UtcDateTime(), nullable=False),
)
CORE_TABLES = (people, objects, relationships, events)


def raw_table(object_name: str) -> Table:
    """The raw table of a Salesforce object: ``sf_`` and its API name in lower case."""
    name = f"sf_{object_name.lower()}"
    existing = metadata.tables.get(name)
    if existing is not None:
        return existing
    return Table(
        name,
        metadata,
        Column("id", String(18), primary_key=True),
        Column("system_modstamp", _UtcDateTime(), nullable=False),
        Column("is_deleted", Boolean, nullable=False),
        Column("record", _Json, nullable=False),
    )


def open_engine(url: str) -> Engine:
    """An engine for the warehouse at ``url``, with its core tables created."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Never echo the URL: it usually holds a password.
        raise ConfigError(
            "the warehouse url is not a database URL; expected for example "
            "postgresql+psycopg://user:password@host:5432/warehouse"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"the warehouse supports SQLite and PostgreSQL, not {shown}")
    try:
        engine = create_engine(parsed)
    except (NoSuchModuleError, ImportError) as error:
        raise ConfigError(
            f"cannot load the database driver for {parsed.drivername} ({error}); "
            f"for PostgreSQL install one with: pip install 'psycopg[binary]'"
        ) from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    try:
        metadata.create_all(engine, tables=list(CORE_TABLES))
    except DBAPIError as error:
        engine.dispose()
        raise ConfigError(f"cannot open the warehouse at {shown}: {error.orig}") from None
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """Real transactions that take the write lock at BEGIN, and concurrent readers.

    The same settings as the state database (``sfbridge.store.database``): a
    batch reads traits and then writes them, so it must hold the write lock
    from its start or another process's write could slip in between.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the "begin" hook emit BEGIN instead of Python's sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
