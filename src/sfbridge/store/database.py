"""Opening the state database: engine, sessions, and the schema migrated to head.

SQLite file ``<home>/state.sqlite`` by default; any SQLAlchemy URL (PostgreSQL:
``postgresql+psycopg://...``) through ``SFBRIDGE_DATABASE_URL``. Apart from a few
SQLite connection settings, nothing here depends on the dialect.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sfbridge.config import Settings
from sfbridge.errors import ConfigError

R = TypeVar("R")

DATABASE_FILE_NAME = "state.sqlite"
URL_ENV_VAR = "SFBRIDGE_DATABASE_URL"
# A package resource, not a file path: found wherever sfbridge is installed.
MIGRATIONS_LOCATION = "sfbridge.store:migrations"

# How long a SQLite writer waits for another process's write to finish.
_SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option asking SQLite for its write lock when the transaction begins.
_WRITE_LOCK_OPTION = "sfbridge_write_lock"
# Alembic's ``context`` and ``op`` are module-level proxies, so one migration
# runs at a time in a process; the database's own locks order processes.
_MIGRATION_LOCK = threading.Lock()


class Database:
    """The state database: one engine and a session factory, schema at the newest revision."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        """Wrap an engine whose schema is already at head; use ``Database.open`` instead."""
        self.engine = engine
        self.settings = settings
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: Settings | None = None) -> Database:
        """Connect to the configured database and upgrade its schema to head."""
        settings = settings if settings is not None else Settings()
        engine = _create_engine(settings)
        try:
            # Processes that open a new file together (server and CLI) would
            # otherwise both read "no schema" and then collide creating it.
            with (
                _MIGRATION_LOCK,
                engine.connect().execution_options(**{_WRITE_LOCK_OPTION: True}) as connection,
                connection.begin(),
            ):
                command.upgrade(alembic_config(connection), "head")
        except CommandError as error:
            engine.dispose()
            # Alembic cannot find the stored revision: a newer sfbridge wrote it.
            raise ConfigError(
                f"the state database at {_display_url(engine)} has a schema this "
                f"version of sfbridge does not know ({error}); upgrade sfbridge"
            ) from None
        except OperationalError as error:
            engine.dispose()
            hint = (
                f"check {URL_ENV_VAR}"
                if settings.database_url
                else f"check that {settings.home} is a writable folder (SFBRIDGE_HOME)"
            )
            raise ConfigError(
                f"cannot open the state database at {_display_url(engine)}: {error.orig}; {hint}"
            ) from None
        return cls(engine, settings)

    @property
    def url(self) -> str:
        """The database URL with any password hidden, for messages and status output."""
        return _display_url(self.engine)

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        ``write=True`` is for read-modify-write work: on SQLite the transaction
        takes the write lock at once, so it waits for other writers instead of
        failing with "database is locked" when it reaches its first write.
        Elsewhere it changes nothing (use ``SELECT ... FOR UPDATE`` there).
        """
        with self._sessions.begin() as session:
            if write:
                session.connection(execution_options={_WRITE_LOCK_OPTION: True})
            yield session

    def insert_unique(self, row: R, *, taken: str) -> R:
        """Insert ``row`` (flushed, so its id is set); a unique-name clash is a ConfigError
        whose message is ``taken`` (it names the value and what to do)."""
        try:
            with self.session(write=True) as session:
                session.add(row)
                session.flush()
                session.refresh(row)
                session.expunge(row)
                return row
        except IntegrityError:
            raise ConfigError(taken) from None

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (``None`` before any migration)."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def close(self) -> None:
        """Close every pooled connection (SQLite then folds its WAL into the file)."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def head_revision() -> str:
    """The newest revision this version of sfbridge ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_LOCATION}")
    return head


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the state database, without an ``alembic.ini``.

    ``connection`` is the open connection ``migrations/env.py`` migrates.
    """
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _create_engine(settings: Settings) -> Engine:
    """An engine for the configured URL, or for ``<home>/state.sqlite``."""
    if settings.database_url:
        try:
            url = make_url(settings.database_url)
        except ArgumentError:
            # Never echo the URL: it usually holds a password.
            raise ConfigError(
                f"{URL_ENV_VAR} is not a database URL; expected for example "
                f"postgresql+psycopg://user:password@host:5432/sfbridge"
            ) from None
    else:
        settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        url = make_url(f"sqlite:///{settings.home / DATABASE_FILE_NAME}")
    try:
        engine = create_engine(url)
    except (NoSuchModuleError, ImportError) as error:
        # Unknown driver names and uninstalled drivers fail here, before any connection.
        raise ConfigError(
            f"cannot load the database driver for {url.drivername} from {URL_ENV_VAR} "
            f"({error}); for PostgreSQL install one with: pip install 'psycopg[binary]'"
        ) from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    """Give SQLite real transactions, concurrent readers and enforced foreign keys."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Python's sqlite3 (before 3.16) does not BEGIN before DDL or SELECT, so a
        # migration could half-apply; turn its transaction handling off and let
        # the "begin" hook below emit BEGIN (SQLAlchemy docs, "Transactions with
        # SQLite and the sqlite3 driver").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets the server read while a sync writes; it persists in the file.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred BEGIN that later writes fails at once if another process
        # wrote meanwhile (SQLite docs, "BEGIN TRANSACTION"); IMMEDIATE waits
        # up to busy_timeout for the lock instead.
        wants_lock = connection.get_execution_options().get(_WRITE_LOCK_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if wants_lock else "BEGIN")


def _display_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
