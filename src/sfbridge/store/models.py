"""The state database's tables as typed SQLAlchemy 2 ORM classes.

The schema itself is created by the Alembic revisions in ``migrations/versions``;
these classes must describe the same tables (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Float, ForeignKey, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Named constraints let later migrations drop or alter them by name, which
# SQLite's table-rebuilding batch mode needs.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect.

    SQLite stores datetimes without an offset and hands them back naive; this
    type stores UTC and returns aware UTC values, so comparisons never mix the two.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing; naive datetimes are refused, not guessed."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to values read back naive (SQLite)."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every table of the state database."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ConnectionRow(Base):
    """One account sfbridge can reach (a Salesforce org today), with its encrypted secrets.

    Enumerated columns (kind, environment, auth_flow) are plain strings checked in
    Python, not database CHECK constraints, so adding a value is not a migration.
    """

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    environment: Mapped[str] = mapped_column(String(16))
    login_url: Mapped[str] = mapped_column(String(255))
    instance_url: Mapped[str | None] = mapped_column(String(255))
    auth_flow: Mapped[str] = mapped_column(String(32))
    is_legacy: Mapped[bool]
    client_id: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(255))
    org_id: Mapped[str | None] = mapped_column(String(18))
    user_id: Mapped[str | None] = mapped_column(String(18))
    api_version: Mapped[str | None] = mapped_column(String(16))
    ca_bundle: Mapped[str | None] = mapped_column(String(1024))
    # Spelled out: SQLAlchemy 2.1 maps a bare float to Double, 2.0 to Float.
    budget_share: Mapped[float] = mapped_column(Float())
    secrets_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_test_ok: Mapped[bool | None]


class SyncRow(Base):
    """One data-in sync: its spec as JSON and a version bumped on every change.

    ``name``, ``connection`` and ``enabled`` repeat values of the spec so the
    scheduler and the console can query them without parsing every spec.
    """

    __tablename__ = "syncs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    connection: Mapped[str] = mapped_column(String(63))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON())
    enabled: Mapped[bool]
    spec_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SyncCursorRow(Base):
    """Where a sync's next run starts reading, and how to resume the window in progress."""

    __tablename__ = "sync_cursors"

    # The database removes a sync's cursor, runs and failures with the sync.
    sync_id: Mapped[int] = mapped_column(
        ForeignKey("syncs.id", ondelete="CASCADE"), primary_key=True
    )
    cursor: Mapped[datetime | None] = mapped_column(UTCDateTime())
    boundary_keys: Mapped[list[list[str]]] = mapped_column(JSON())
    resume_state: Mapped[dict[str, Any] | None] = mapped_column(JSON())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The window end of the last completed full read or formula refresh (sync/formula_refresh.py).
    formula_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SyncRunRow(Base):
    """One run of a sync: its window, counts, outcome and last sign of life."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sync_id: Mapped[int] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"), index=True)
    spec_version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    records_read: Mapped[int]
    delivered: Mapped[int]
    deleted: Mapped[int]
    # Filled with 0 for the runs that existed before migration 0003.
    refreshed: Mapped[int] = mapped_column(server_default="0")
    failed: Mapped[int]
    api_calls: Mapped[int]
    error: Mapped[str | None] = mapped_column(Text)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FailedRecordRow(Base):
    """A record a run could not read, map or deliver, kept with its reason for replay."""

    __tablename__ = "failed_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    sync_id: Mapped[int] = mapped_column(ForeignKey("syncs.id", ondelete="CASCADE"), index=True)
    record_id: Mapped[str | None] = mapped_column(String(18))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON())
    reason: Mapped[str] = mapped_column(Text)
    retriable: Mapped[bool]
    destination: Mapped[str | None] = mapped_column(String(63))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ObjectTypeRow(Base):
    """A custom object type syncs send objects of: its workspace id and its names.

    Syncs that name a type without an id get the id recorded here for its
    plural name, or the next free one when the name is new.
    """

    __tablename__ = "object_types"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    singular: Mapped[str] = mapped_column(String(100))
    plural: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
