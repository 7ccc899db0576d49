"""``sync.service.destination_run_id``: the run id destinations see, kept by a resumed run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sfbridge.config import Settings
from sfbridge.store import Database, RunStatus, RunTrigger, SyncStore
from sfbridge.store.syncs import RunCounts
from sfbridge.sync import Window, template
from sfbridge.sync.service import destination_run_id

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
"""A clock reading; a run at NOW reads up to a minute (the settle margin) before it."""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncStore]:
    """A sync store on a fresh state database, holding the contacts template as ``contacts``."""
    for variable in ("SFBRIDGE_HOME", "SFBRIDGE_DATABASE_URL", "SFBRIDGE_SECRET_KEY"):
        monkeypatch.delenv(variable, raising=False)
    with Database.open(Settings(home=tmp_path)) as database:
        syncs = SyncStore(database)
        syncs.add(template("contacts", connection="prod", destinations=["warehouse"]))
        yield syncs


def cut_short(store: SyncStore, window: Window) -> None:
    """A run of ``window`` that checkpointed a page, then failed: the window is unfinished."""
    run = store.start_run("contacts", RunTrigger.MANUAL, window)
    store.commit_checkpoint(run.id, None, (), {"unfinished": True}, RunCounts(delivered=40))
    store.finish_run(run.id, RunStatus.FAILED, error="a destination was down")


def test_a_run_is_named_for_the_end_of_the_window_it_reads(store: SyncStore) -> None:
    assert destination_run_id("contacts", store, NOW) == "contacts-20260102T030305.678Z"

    first = store.start_run("contacts", RunTrigger.MANUAL, Window(None, NOW))
    store.commit_checkpoint(first.id, NOW, (), None, RunCounts())
    store.finish_run(first.id, RunStatus.SUCCEEDED)
    later = NOW + timedelta(hours=1)
    assert destination_run_id("contacts", store, later) == "contacts-20260102T040305.678Z"


def test_the_runs_that_finish_an_unfinished_window_keep_its_id(store: SyncStore) -> None:
    window = Window(None, NOW - timedelta(minutes=1))
    cut_short(store, window)
    later = NOW + timedelta(hours=2)
    assert destination_run_id("contacts", store, later) == "contacts-20260102T030305.678Z"
    cut_short(store, window)  # the next run failed too, in the same window
    assert destination_run_id("contacts", store, later) == "contacts-20260102T030305.678Z"
    # A resync reads everything up to now instead.
    resync = destination_run_id("contacts", store, later, resync=True)
    assert resync == "contacts-20260102T050305.678Z"
