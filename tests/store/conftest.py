"""Fixtures for the state database: settings pointing at a fresh home, an open database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sfbridge.config import Settings
from sfbridge.store import Database


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a fresh home folder: SQLite state and a generated key file."""
    for variable in ("SFBRIDGE_HOME", "SFBRIDGE_DATABASE_URL", "SFBRIDGE_SECRET_KEY"):
        monkeypatch.delenv(variable, raising=False)
    return Settings(home=tmp_path / "home")


@pytest.fixture
def fresh_state(settings: Settings) -> Iterator[Database]:
    """A newly created state database, migrated to head, closed after the test."""
    with Database.open(settings) as database:
        yield database
