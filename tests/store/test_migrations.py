"""Migrations run in-process on open: fresh files, reopening, model drift, bad URLs."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from sfbridge.config import Settings
from sfbridge.errors import ConfigError
from sfbridge.store import Database, SyncStore, head_revision
from sfbridge.store.database import alembic_config
from sfbridge.store.models import Base


def test_a_fresh_file_is_created_at_the_newest_revision(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another working directory: nothing may depend on an alembic.ini or a relative path.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    with Database.open(settings) as database:
        assert (settings.home / "state.sqlite").is_file()
        assert database.schema_revision() == head_revision()
        assert {
            "alembic_version",
            "connections",
            "syncs",
            "sync_cursors",
            "sync_runs",
            "failed_records",
        } <= set(inspect(database.engine).get_table_names())


def test_reopening_is_a_no_op_that_keeps_the_data(settings: Settings) -> None:
    with Database.open(settings) as database, database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO connections (name, kind, environment, login_url, auth_flow,"
            " is_legacy, budget_share, secrets_encrypted, created_at, updated_at)"
            " VALUES ('kept', 'salesforce', 'sandbox', 'https://test.salesforce.com',"
            " 'jwt_bearer', 0, 0.2, 'x', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
        )

    for _ in range(2):
        with Database.open(settings) as database:
            assert database.schema_revision() == head_revision()

    with sqlite3.connect(settings.home / "state.sqlite") as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
        assert raw.execute("SELECT name FROM connections").fetchall() == [("kept",)]


def test_a_file_made_at_0001_is_upgraded_and_keeps_its_connections(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    path = settings.home / "state.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute(
            "INSERT INTO connections (name, kind, environment, login_url, auth_flow,"
            " is_legacy, budget_share, secrets_encrypted, created_at, updated_at)"
            " VALUES ('kept', 'salesforce', 'sandbox', 'https://test.salesforce.com',"
            " 'jwt_bearer', 0, 0.2, 'x', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
        )

    with Database.open(settings) as database:
        assert database.schema_revision() == head_revision() == "0004"
        assert SyncStore(database).list() == []

    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT name FROM connections").fetchall() == [("kept",)]


def test_runs_and_cursors_made_before_0003_keep_their_data(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    path = settings.home / "state.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.executescript(
            "INSERT INTO syncs (id, name, connection, spec, enabled, spec_version, created_at,"
            " updated_at) VALUES (1, 'old', 'prod', '{}', 0, 1, '2025-01-01 00:00:00',"
            " '2025-01-01 00:00:00');"
            "INSERT INTO sync_cursors (sync_id, cursor, boundary_keys, updated_at)"
            " VALUES (1, '2025-01-01 00:00:00', '[]', '2025-01-01 00:00:00');"
            "INSERT INTO sync_runs (sync_id, spec_version, status, trigger, started_at,"
            " window_end, records_read, delivered, deleted, failed, api_calls, heartbeat_at)"
            " VALUES (1, 1, 'succeeded', 'manual', '2025-01-01 00:00:00',"
            " '2025-01-01 00:00:00', 5, 5, 0, 0, 3, '2025-01-01 00:00:00');"
        )

    with Database.open(settings) as database:
        assert database.schema_revision() == head_revision()

    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT delivered, refreshed FROM sync_runs").fetchall() == [(5, 0)]
        assert raw.execute("SELECT cursor, formula_refreshed_at FROM sync_cursors").fetchall() == [
            ("2025-01-01 00:00:00", None)
        ]


def test_the_models_describe_exactly_what_the_migrations_create(fresh_state: Database) -> None:
    with fresh_state.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert differences == []


def test_sqlite_lets_readers_in_while_a_writer_works(fresh_state: Database) -> None:
    with fresh_state.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_database_from_a_newer_sfbridge_asks_for_an_upgrade(settings: Settings) -> None:
    Database.open(settings).close()
    with sqlite3.connect(settings.home / "state.sqlite") as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")

    with pytest.raises(ConfigError, match="upgrade sfbridge"):
        Database.open(settings)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url with hunter2 inside", "SFBRIDGE_DATABASE_URL is not a database URL"),
        ("postgresql+nosuchdriver://sf:hunter2@db/sfbridge", "pip install 'psycopg"),
    ],
)
def test_a_bad_database_url_is_explained_without_its_password(
    tmp_path: Path, url: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Database.open(Settings(home=tmp_path, database_url=url))

    assert expected in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_database_file_that_cannot_be_opened_names_the_home_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.sqlite").mkdir()  # a folder where the file should be

    with pytest.raises(ConfigError, match="cannot open the state database") as caught:
        Database.open(Settings(home=home, database_url=None))

    assert str(home) in str(caught.value)


def test_many_opening_a_new_file_at_once_all_succeed(settings: Settings) -> None:
    # Each thread has its own engine, like the server and a CLI command
    # started together on a fresh home.
    barrier = threading.Barrier(6)

    def open_and_close(_: int) -> str | None:
        barrier.wait()
        with Database.open(settings) as database:
            return database.schema_revision()

    with ThreadPoolExecutor(max_workers=6) as pool:
        revisions = list(pool.map(open_and_close, range(6)))

    assert revisions == [head_revision()] * 6
