"""The state database's tables as typed SQLAlchemy 2 ORM classes.

The schema itself is created by the Alembic revisions in ``migrations/versions``;
these classes must describe the same tables (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, Float, MetaData, String, Text
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
