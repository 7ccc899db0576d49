"""SyncStore: syncs and their versions, one live run at a time, atomic checkpoints, failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from sfbridge.errors import ConfigError, FatalError
from sfbridge.store import (
    AlreadyRunning,
    Database,
    FailedItem,
    RunCounts,
    RunStatus,
    RunTrigger,
    SyncStore,
)
from sfbridge.sync import RecordKey, SyncSpec, Window

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = Window(start=None, end=T0 - timedelta(minutes=1))
TIMEOUT = timedelta(minutes=10)


class FakeClock:
    """A clock the test moves by hand, so staleness needs no sleeping."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def syncs(fresh_state: Database, clock: FakeClock) -> SyncStore:
    """A sync store on a fresh state database, on a hand-moved clock."""
    return SyncStore(fresh_state, heartbeat_timeout=TIMEOUT, clock=clock)


def contacts_spec(**changes: Any) -> SyncSpec:
    """A Contact person sync to Customer.io, with ``changes``."""
    return SyncSpec.model_validate(
        {
            "name": "contacts",
            "connection": "prod",
            "object": "Contact",
            "format": {"type": "person", "id_field": "Id", "email_field": "Email"},
            "fields": ["FirstName", {"source": "LastName", "target": "last_name"}],
            "filter": "Email != null",
            "interval": "6h",
            "destinations": ["customerio"],
            **changes,
        }
    )


def test_an_added_sync_comes_back_with_the_same_spec(syncs: SyncStore) -> None:
    added = syncs.add(contacts_spec())

    assert added.spec == contacts_spec()
    assert added.spec_version == 1
    assert syncs.get("contacts") == added
    assert [record.name for record in syncs.list()] == ["contacts"]


def test_a_second_sync_with_the_same_name_is_refused(syncs: SyncStore) -> None:
    syncs.add(contacts_spec())

    with pytest.raises(ConfigError, match="'contacts' already exists"):
        syncs.add(contacts_spec(interval="1h"))


def test_an_unknown_name_lists_the_known_ones(syncs: SyncStore) -> None:
    with pytest.raises(ConfigError, match="no sync has been added yet"):
        syncs.get("leads")
    syncs.add(contacts_spec())
    syncs.add(contacts_spec(name="accounts"))

    with pytest.raises(ConfigError, match="known syncs: accounts, contacts"):
        syncs.get("leads")


def test_every_change_bumps_the_version_and_a_no_op_does_not(
    syncs: SyncStore, clock: FakeClock
) -> None:
    syncs.add(contacts_spec())
    clock.advance(timedelta(seconds=5))

    updated = syncs.update(contacts_spec(interval="1h"))
    unchanged = syncs.update(contacts_spec(interval="1h"))
    paused = syncs.set_enabled("contacts", False)

    assert updated.spec.interval == timedelta(hours=1)
    assert updated.updated_at == T0 + timedelta(seconds=5)
    assert unchanged.spec_version == 2
    assert paused.spec_version == 3
    assert paused.spec.enabled is False
    assert syncs.get("contacts").spec == contacts_spec(interval="1h", enabled=False)


def test_a_running_run_keeps_the_spec_version_it_started_with(syncs: SyncStore) -> None:
    syncs.add(contacts_spec())
    run = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)

    syncs.update(contacts_spec(interval="1h"))

    assert syncs.runs("contacts")[0].spec_version == run.spec_version == 1
    assert syncs.get("contacts").spec_version == 2


def test_a_second_run_is_refused_while_the_first_is_alive(
    syncs: SyncStore, clock: FakeClock
) -> None:
    syncs.add(contacts_spec())
    first = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)
    clock.advance(TIMEOUT - timedelta(seconds=1))
    syncs.heartbeat(first.id)
    clock.advance(TIMEOUT)  # within the timeout of the heartbeat, not of the start

    with pytest.raises(AlreadyRunning, match=f"'contacts' is already running \\(run {first.id}"):
        syncs.start_run("contacts", RunTrigger.MANUAL, WINDOW)

    syncs.finish_run(first.id, RunStatus.SUCCEEDED)
    second = syncs.start_run("contacts", RunTrigger.MANUAL, WINDOW)
    assert [run.id for run in syncs.runs("contacts")] == [second.id, first.id]


def test_a_run_whose_process_died_is_failed_and_taken_over(
    syncs: SyncStore, clock: FakeClock
) -> None:
    syncs.add(contacts_spec())
    dead = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)
    clock.advance(TIMEOUT + timedelta(seconds=1))  # SIGKILLed: no heartbeat since it started

    new = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)

    latest, previous = syncs.runs("contacts")
    assert latest.id == new.id and latest.status is RunStatus.RUNNING
    assert previous.status is RunStatus.FAILED
    assert previous.error is not None and previous.error.startswith("process died")
    assert previous.finished_at == dead.heartbeat_at
    # The old process, if it was only paused, may no longer write anything.
    with pytest.raises(FatalError, match="no longer running"):
        syncs.commit_checkpoint(dead.id, T0, [], None, RunCounts(delivered=1))
    with pytest.raises(FatalError, match="no longer running"):
        syncs.heartbeat(dead.id)


def test_a_checkpoint_moves_the_cursor_and_adds_to_the_run_counts(syncs: SyncStore) -> None:
    syncs.add(contacts_spec())
    run = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)
    edge = [RecordKey("003A", WINDOW.end - timedelta(seconds=3))]
    assert syncs.cursor("contacts") is None

    syncs.commit_checkpoint(
        run.id, None, [], {"bulk_job": "750x", "locator": "MTAwMDA"}, RunCounts(records_read=2)
    )
    # Microseconds below SystemModstamp's millisecond are cut, never rounded up.
    syncs.commit_checkpoint(
        run.id, WINDOW.end + timedelta(microseconds=999), edge, None, RunCounts(records_read=3)
    )
    finished = syncs.finish_run(run.id, RunStatus.SUCCEEDED, RunCounts(api_calls=4))

    state = syncs.cursor("contacts")
    assert state is not None
    assert state.cursor == WINDOW.end
    assert state.boundary_keys == frozenset(edge)
    assert state.resume_state is None
    assert finished.counts == RunCounts(records_read=5, api_calls=4)
    assert json.loads(json.dumps(state.public_dict()))["boundary_keys"] == [
        ["003A", "2025-03-01T11:58:57Z"]
    ]


def test_the_formula_refresh_time_is_kept_until_a_checkpoint_names_a_new_one(
    syncs: SyncStore,
) -> None:
    syncs.add(contacts_spec())
    first = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)
    syncs.commit_checkpoint(first.id, None, [], {"phase": "records"}, RunCounts(records_read=1))
    assert syncs.cursor("contacts").formula_refreshed_at is None  # type: ignore[union-attr]

    syncs.commit_checkpoint(
        first.id, WINDOW.end, [], None, RunCounts(), formula_refreshed_at=WINDOW.end
    )
    syncs.finish_run(first.id, RunStatus.SUCCEEDED)
    second = syncs.start_run("contacts", RunTrigger.SCHEDULE, Window(WINDOW.end, T0))
    syncs.commit_checkpoint(second.id, T0, [], None, RunCounts(refreshed=4))
    finished = syncs.finish_run(second.id, RunStatus.SUCCEEDED)

    state = syncs.cursor("contacts")
    assert state is not None
    assert (state.cursor, state.formula_refreshed_at) == (T0, WINDOW.end)
    assert finished.counts == RunCounts(refreshed=4)
    assert state.public_dict()["formula_refreshed_at"] == "2025-03-01T11:59:00Z"

    syncs.reset_cursor("contacts")  # the next run reads everything: a refresh in itself
    assert syncs.cursor("contacts") is None


def test_a_checkpoint_that_fails_midway_changes_nothing(
    syncs: SyncStore, fresh_state: Database
) -> None:
    syncs.add(contacts_spec())
    run = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)
    syncs.commit_checkpoint(run.id, T0, [], None, RunCounts(delivered=10))
    before = syncs.cursor("contacts")

    writes: list[str] = []

    def fail_on_second_write(conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(("INSERT", "UPDATE")):
            writes.append(statement)
            if len(writes) == 2:
                raise OSError("disk full")

    event.listen(fresh_state.engine, "before_cursor_execute", fail_on_second_write)
    try:
        with pytest.raises(OSError, match="disk full"):
            syncs.commit_checkpoint(
                run.id,
                T0 + timedelta(hours=1),
                [RecordKey("003B", T0)],
                None,
                RunCounts(delivered=7),
                failures=[FailedItem("003C", {"id": "003C"}, "bad email", retriable=False)],
            )
    finally:
        event.remove(fresh_state.engine, "before_cursor_execute", fail_on_second_write)

    assert syncs.cursor("contacts") == before
    assert syncs.runs("contacts")[0].counts == RunCounts(delivered=10)
    assert syncs.failures("contacts") == []


def test_reset_forgets_the_cursor_but_not_while_a_run_is_alive(syncs: SyncStore) -> None:
    syncs.add(contacts_spec())
    run = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)
    syncs.commit_checkpoint(run.id, T0, [], None, RunCounts())

    with pytest.raises(AlreadyRunning):
        syncs.reset_cursor("contacts")
    syncs.finish_run(run.id, RunStatus.SUCCEEDED)
    syncs.reset_cursor("contacts")

    assert syncs.cursor("contacts") is None


def test_failures_are_kept_until_replayed(syncs: SyncStore, clock: FakeClock) -> None:
    syncs.add(contacts_spec())
    run = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)
    syncs.commit_checkpoint(
        run.id,
        None,
        [],
        None,
        RunCounts(failed=1),
        failures=[
            FailedItem("003A", {"identifiers": {"id": "003A"}}, "400 bad email", False, "cio")
        ],
    )
    syncs.record_failures(run.id, [FailedItem(None, {"Id": "003B"}, "unmappable", True)])

    first, second = syncs.failures("contacts")
    assert (first.record_id, first.destination, first.retriable) == ("003A", "cio", False)
    assert (second.payload, second.run_id) == ({"Id": "003B"}, run.id)
    assert second.public_dict()["created_at"] == "2025-03-01T12:00:00Z"

    clock.advance(timedelta(hours=1))
    assert syncs.mark_replayed([first.id]) == 1
    assert syncs.mark_replayed([first.id]) == 0
    assert [failure.id for failure in syncs.failures("contacts")] == [second.id]
    replayed = syncs.failures("contacts", include_replayed=True)[0]
    assert replayed.replayed_at == T0 + timedelta(hours=1)


def test_removing_a_sync_removes_its_cursor_runs_and_failures(
    syncs: SyncStore, fresh_state: Database
) -> None:
    syncs.add(contacts_spec())
    run = syncs.start_run("contacts", RunTrigger.SCHEDULE, WINDOW)
    syncs.commit_checkpoint(
        run.id, T0, [], None, RunCounts(), failures=[FailedItem("003A", {}, "x", True)]
    )

    syncs.remove("contacts")

    with fresh_state.engine.connect() as connection:
        for table in ("syncs", "sync_cursors", "sync_runs", "failed_records"):
            assert connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar() == 0
    with pytest.raises(FatalError, match="does not exist"):
        syncs.heartbeat(run.id)


def test_records_print_as_json(syncs: SyncStore) -> None:
    syncs.add(contacts_spec())
    run = syncs.start_run("contacts", RunTrigger.RESYNC, WINDOW)

    sync_json = syncs.get("contacts").public_dict()
    run_json = run.public_dict()

    assert sync_json["spec"] == contacts_spec().model_dump(mode="json")
    assert sync_json["spec"]["interval"] == "6h"
    assert run_json["status"] == "running" and run_json["trigger"] == "resync"
    assert run_json["counts"]["delivered"] == 0
    json.dumps([sync_json, run_json])
