"""Sync state: each sync's spec, cursor, runs and failed records.

``SyncStore`` keeps what a data-in sync needs between runs. Its rules follow
DESIGN.md, "How a sync runs":

- At most one run of a sync is ``running``. A run proves it is alive with
  ``heartbeat``; one silent for longer than ``heartbeat_timeout`` belongs to a
  process that died (SIGKILL, power loss), and the next ``start_run`` marks
  it failed and takes over.
- The cursor moves only in ``commit_checkpoint``, called after every
  destination confirmed a batch; the run's counts and the batch's failed
  records are written in the same transaction, so a crash never leaves a
  cursor past records nobody counted or kept.
- A run that lost its sync (marked dead while it was only paused) is refused
  every further write, so it cannot move the cursor under the run that took over.

The records returned (``SyncRecord``, ``CursorState``, ``RunRecord``,
``FailedRecord``) are frozen; ``public_dict()`` gives them as JSON-ready values.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sfbridge.errors import ConfigError, FatalError, RetriableError
from sfbridge.store.database import Database
from sfbridge.store.models import FailedRecordRow, SyncCursorRow, SyncRow, SyncRunRow

if TYPE_CHECKING:
    from sfbridge.sync.plan import RecordKey, Window
    from sfbridge.sync.spec import SyncSpec

# A live run writes a heartbeat at least this often (a checkpoint counts as one);
# silence for longer means its process is gone.
DEFAULT_HEARTBEAT_TIMEOUT = timedelta(minutes=10)
PROCESS_DIED = "process died"


class RunStatus(StrEnum):
    """Where a run is in its life; every status but ``running`` is final."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIAL = "partial"
    """Finished, but some records failed and were kept for replay."""
    SKIPPED = "skipped"
    """Nothing to do (an empty window, a paused destination)."""


class RunTrigger(StrEnum):
    """Why a run started."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    RESYNC = "resync"


class AlreadyRunning(RetriableError):
    """Another run of the same sync is in progress; try again once it has finished."""

    def __init__(self, name: str, run_id: int, heartbeat_at: datetime) -> None:
        """Name the sync and the run that holds it."""
        super().__init__(
            f"sync {name!r} is already running (run {run_id}, last heartbeat "
            f"{heartbeat_at.isoformat()}); wait for it to finish"
        )
        self.name = name
        self.run_id = run_id
        self.heartbeat_at = heartbeat_at


class _Record:
    """Base of the records this module returns."""

    def public_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values, for ``--json`` output and the API."""
        data: dict[str, Any] = to_jsonable_python(self)
        return data


@dataclasses.dataclass(frozen=True)
class SyncRecord(_Record):
    """A stored sync: its spec, the spec's version and when it was added and changed."""

    id: int
    spec: SyncSpec
    spec_version: int
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        """The sync's unique name."""
        return self.spec.name


@dataclasses.dataclass(frozen=True)
class CursorState(_Record):
    """Where the next run of a sync starts, and what it must not deliver twice.

    ``cursor`` is the ``Window.end`` of the last finished window (``None``
    until one finished). ``boundary_keys`` are the record versions near the
    cursor that the next window reads again (``plan.boundary_keys``).
    ``resume_state`` says how to continue a window that was cut short (a Bulk
    job id and locator, the last key of a REST page); ``None`` when none is.
    ``formula_refreshed_at`` is the window end as of which the sync last read
    its formula fields in full (a first run, a resync or a formula refresh);
    ``None`` until one completed.
    """

    cursor: datetime | None
    boundary_keys: frozenset[RecordKey]
    resume_state: dict[str, Any] | None
    updated_at: datetime
    formula_refreshed_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class RunCounts(_Record):
    """What a run did; checkpoints add theirs to the run's totals.

    ``refreshed`` counts the records a formula refresh sent again (their
    formula and lookup fields only); they are not in ``records_read`` or
    ``delivered``, which count the changed records of the run's window.
    """

    records_read: int = 0
    delivered: int = 0
    deleted: int = 0
    refreshed: int = 0
    failed: int = 0
    api_calls: int = 0

    def __add__(self, other: RunCounts) -> RunCounts:
        """Both counts together."""
        return RunCounts(
            **{
                field.name: getattr(self, field.name) + getattr(other, field.name)
                for field in dataclasses.fields(self)
            }
        )


@dataclasses.dataclass(frozen=True)
class RunRecord(_Record):
    """One run of a sync, with the spec version it started with."""

    id: int
    sync: str
    spec_version: int
    status: RunStatus
    trigger: RunTrigger
    started_at: datetime
    finished_at: datetime | None
    window_start: datetime | None
    window_end: datetime
    counts: RunCounts
    error: str | None
    heartbeat_at: datetime


@dataclasses.dataclass(frozen=True)
class FailedItem:
    """A record to keep for replay: what failed, why, and where it was going.

    ``payload`` is the message a destination refused, or the raw Salesforce
    record when it failed before becoming a message. ``destination`` is
    ``None`` for failures before delivery (mapping, reading).
    """

    record_id: str | None
    payload: dict[str, Any]
    reason: str
    retriable: bool
    destination: str | None = None


@dataclasses.dataclass(frozen=True)
class FailedRecord(_Record):
    """A kept failed record (see ``FailedItem``), with its run and when it was replayed."""

    id: int
    run_id: int
    sync: str
    record_id: str | None
    payload: dict[str, Any]
    reason: str
    retriable: bool
    destination: str | None
    created_at: datetime
    replayed_at: datetime | None


class SyncStore:
    """Adds, reads, updates and removes syncs, and keeps their cursors, runs and failures."""

    def __init__(
        self,
        database: Database,
        *,
        heartbeat_timeout: timedelta = DEFAULT_HEARTBEAT_TIMEOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Keep sync state in ``database``; a run silent for ``heartbeat_timeout`` is dead."""
        self._database = database
        self._heartbeat_timeout = heartbeat_timeout
        self._clock = clock

    # Syncs

    @property
    def database(self) -> Database:
        """The state database this store keeps its rows in (other repositories share it)."""
        return self._database

    def add(self, spec: SyncSpec) -> SyncRecord:
        """Store a new sync at spec version 1."""
        now = self._clock()
        row = SyncRow(
            name=spec.name,
            connection=spec.connection,
            spec=spec.model_dump(mode="json"),
            enabled=spec.enabled,
            spec_version=1,
            created_at=now,
            updated_at=now,
        )
        taken = (
            f"a sync named {spec.name!r} already exists; "
            "choose another name or update that one instead"
        )
        return _to_sync(self._database.insert_unique(row, taken=taken))

    def get(self, name: str) -> SyncRecord:
        """The sync called ``name``; a ConfigError listing the known names if none."""
        with self._database.session() as session:
            return _to_sync(_find(session, name))

    def list(self) -> builtins.list[SyncRecord]:
        """Every sync, by name."""
        with self._database.session() as session:
            return [
                _to_sync(row) for row in session.scalars(select(SyncRow).order_by(SyncRow.name))
            ]

    def update(self, spec: SyncSpec) -> SyncRecord:
        """Replace the spec of the sync ``spec.name``; its version goes up if anything changed.

        A run already in progress keeps the version it started with.
        """
        with self._database.session(write=True) as session:
            row = _find(session, spec.name, for_update=True)
            _set_spec(row, spec, self._clock())
            return _to_sync(row)

    def set_enabled(self, name: str, enabled: bool) -> SyncRecord:
        """Resume or pause a sync; its settings, cursor and history are kept."""
        with self._database.session(write=True) as session:
            row = _find(session, name, for_update=True)
            spec = _to_sync(row).spec.model_copy(update={"enabled": enabled})
            _set_spec(row, spec, self._clock())
            return _to_sync(row)

    def remove(self, name: str) -> None:
        """Delete the sync called ``name`` with its cursor, runs and failed records."""
        with self._database.session(write=True) as session:
            # The foreign keys cascade (SQLite enforces them: see database.py).
            session.delete(_find(session, name))

    # Runs

    def start_run(self, name: str, trigger: RunTrigger, window: Window) -> RunRecord:
        """Start a run of ``name`` over ``window``; AlreadyRunning if another one is alive.

        Runs of one sync never overlap: two would read the same changes and
        race to move the cursor. A run whose heartbeat is older than the
        timeout is marked failed ("process died") and this one starts.
        """
        now = self._clock()
        with self._database.session(write=True) as session:
            sync = _find(session, name, for_update=True)
            self._refuse_if_running(session, sync, now)
            run = SyncRunRow(
                sync_id=sync.id,
                spec_version=sync.spec_version,
                status=RunStatus.RUNNING,
                trigger=trigger,
                started_at=now,
                window_start=window.start,
                window_end=window.end,
                heartbeat_at=now,
                **dataclasses.asdict(RunCounts()),
            )
            session.add(run)
            session.flush()
            return _to_run(run, name)

    def heartbeat(self, run_id: int) -> None:
        """Tell other processes that run ``run_id`` is alive; FatalError if it was taken over."""
        with self._database.session(write=True) as session:
            self._running(session, run_id).heartbeat_at = self._clock()

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        counts: RunCounts | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """End run ``run_id`` with ``status``, adding ``counts`` not yet checkpointed."""
        if status is RunStatus.RUNNING:
            raise ValueError("finish_run needs a final status, not running")
        now = self._clock()
        with self._database.session(write=True) as session:
            run = self._running(session, run_id)
            _add_counts(run, counts or RunCounts())
            run.status = status
            run.error = error
            run.finished_at = now
            run.heartbeat_at = now
            return _to_run(run, _sync_name(session, run.sync_id))

    def runs(self, name: str, limit: int = 20) -> builtins.list[RunRecord]:
        """The newest ``limit`` runs of ``name``, newest first."""
        with self._database.session() as session:
            sync = _find(session, name)
            rows = session.scalars(
                select(SyncRunRow)
                .where(SyncRunRow.sync_id == sync.id)
                .order_by(SyncRunRow.started_at.desc(), SyncRunRow.id.desc())
                .limit(limit)
            )
            return [_to_run(row, name) for row in rows]

    # Cursor

    def commit_checkpoint(
        self,
        run_id: int,
        cursor: datetime | None,
        boundary_keys: Iterable[RecordKey],
        resume_state: dict[str, Any] | None,
        counts_delta: RunCounts,
        failures: Sequence[FailedItem] = (),
        *,
        formula_refreshed_at: datetime | None = None,
    ) -> CursorState:
        """Save the cursor, the run's counts and a batch's failed records in one transaction.

        Call it only once every destination confirmed the batch: from then on
        a restart continues after it. ``cursor`` is cut to the millisecond
        (SystemModstamp's precision), downwards so nothing is skipped.
        ``formula_refreshed_at``, given when a full read or formula refresh
        completed, replaces the saved one; left out, the saved one stays.
        """
        now = self._clock()
        keys = sorted(boundary_keys)
        with self._database.session(write=True) as session:
            run = self._running(session, run_id)
            _add_counts(run, counts_delta)
            run.heartbeat_at = now
            _add_failures(session, run, failures, now)
            state = session.get(SyncCursorRow, run.sync_id)
            if state is None:
                state = SyncCursorRow(sync_id=run.sync_id)
                session.add(state)
            state.cursor = _whole_millisecond(cursor)
            state.boundary_keys = [[key.id, key.modstamp.isoformat()] for key in keys]
            state.resume_state = resume_state
            state.updated_at = now
            if formula_refreshed_at is not None:
                state.formula_refreshed_at = formula_refreshed_at
            session.flush()
            return _to_cursor(state)

    def cursor(self, name: str) -> CursorState | None:
        """Where the next run of ``name`` starts; ``None`` before its first checkpoint."""
        with self._database.session() as session:
            state = session.get(SyncCursorRow, _find(session, name).id)
            return None if state is None else _to_cursor(state)

    def reset_cursor(self, name: str) -> None:
        """Forget the cursor of ``name``: its next run reads all of its records again.

        Refused while a run is alive, which would write its cursor back.
        """
        with self._database.session(write=True) as session:
            sync = _find(session, name, for_update=True)
            self._refuse_if_running(session, sync, self._clock())
            state = session.get(SyncCursorRow, sync.id)
            if state is not None:
                session.delete(state)

    # Failed records

    def record_failures(self, run_id: int, items: Sequence[FailedItem]) -> None:
        """Keep failed records outside a checkpoint (deletes, a run given up on)."""
        now = self._clock()
        with self._database.session(write=True) as session:
            _add_failures(session, self._running(session, run_id), items, now)

    def failures(self, name: str, *, include_replayed: bool = False) -> builtins.list[FailedRecord]:
        """The failed records of ``name``, oldest first; replayed ones only if asked."""
        with self._database.session() as session:
            query = select(FailedRecordRow).where(
                FailedRecordRow.sync_id == _find(session, name).id
            )
            if not include_replayed:
                query = query.where(FailedRecordRow.replayed_at.is_(None))
            rows = session.scalars(query.order_by(FailedRecordRow.id))
            return [_to_failure(row, name) for row in rows]

    def mark_replayed(self, ids: Iterable[int]) -> int:
        """Mark failed records as replayed now; return how many were not already."""
        with self._database.session(write=True) as session:
            result = session.execute(
                update(FailedRecordRow)
                .where(FailedRecordRow.id.in_(builtins.list(ids)))
                .where(FailedRecordRow.replayed_at.is_(None))
                .values(replayed_at=self._clock())
            )
            marked: int = result.rowcount  # type: ignore[attr-defined]
            return marked

    # Internals

    def _refuse_if_running(self, session: Session, sync: SyncRow, now: datetime) -> None:
        """AlreadyRunning if a run of ``sync`` is alive; mark any silent one failed."""
        running = session.scalars(
            select(SyncRunRow).where(
                SyncRunRow.sync_id == sync.id, SyncRunRow.status == RunStatus.RUNNING
            )
        ).all()
        for run in running:
            if now - run.heartbeat_at <= self._heartbeat_timeout:
                raise AlreadyRunning(sync.name, run.id, run.heartbeat_at)
            run.status = RunStatus.FAILED
            run.error = f"{PROCESS_DIED}: no heartbeat since {run.heartbeat_at.isoformat()}"
            # Its last sign of life is the best estimate of when it ended.
            run.finished_at = run.heartbeat_at

    def _running(self, session: Session, run_id: int) -> SyncRunRow:
        """Run ``run_id``, which must still be running; FatalError otherwise.

        A process marked dead may only have been paused; refusing its writes
        keeps it from moving the cursor under the run that took over.
        """
        query = select(SyncRunRow).where(SyncRunRow.id == run_id).with_for_update()
        run = session.scalars(query).one_or_none()
        if run is None:
            raise FatalError(f"sync run {run_id} does not exist (was its sync removed?); stop it")
        if run.status != RunStatus.RUNNING:
            raise FatalError(
                f"sync run {run_id} is no longer running ({run.status}: {run.error}); "
                f"stop it, another run has taken over"
            )
        return run


def _find(session: Session, name: str, *, for_update: bool = False) -> SyncRow:
    """The sync called ``name``, or a ConfigError that lists the names that exist."""
    query = select(SyncRow).where(SyncRow.name == name)
    if for_update:
        # SQLite ignores FOR UPDATE; a write session holds its file lock instead.
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is not None:
        return row
    known = session.scalars(select(SyncRow.name).order_by(SyncRow.name)).all()
    if known:
        raise ConfigError(f"no sync named {name!r}; known syncs: {', '.join(known)}")
    raise ConfigError(f"no sync named {name!r}; no sync has been added yet")


def _set_spec(row: SyncRow, spec: SyncSpec, now: datetime) -> None:
    """Store ``spec`` in ``row``, bumping its version unless nothing changed."""
    dumped = spec.model_dump(mode="json")
    if dumped == row.spec:
        return
    row.spec = dumped
    row.connection = spec.connection
    row.enabled = spec.enabled
    row.spec_version += 1
    row.updated_at = now


def _sync_name(session: Session, sync_id: int) -> str:
    return session.scalars(select(SyncRow.name).where(SyncRow.id == sync_id)).one()


def _add_counts(run: SyncRunRow, counts: RunCounts) -> None:
    for field, value in dataclasses.asdict(counts).items():
        setattr(run, field, getattr(run, field) + value)


def _add_failures(
    session: Session, run: SyncRunRow, items: Sequence[FailedItem], now: datetime
) -> None:
    session.add_all(
        FailedRecordRow(
            run_id=run.id,
            sync_id=run.sync_id,
            created_at=now,
            **{field.name: getattr(item, field.name) for field in dataclasses.fields(FailedItem)},
        )
        for item in items
    )


def _whole_millisecond(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _to_sync(row: SyncRow) -> SyncRecord:
    # Imported here: sfbridge.sync.spec imports sfbridge.store (connection
    # names), so a module-level import would be circular.
    from sfbridge.sync.spec import SyncSpec

    return SyncRecord(
        id=row.id,
        spec=SyncSpec.model_validate(row.spec),
        spec_version=row.spec_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _to_cursor(row: SyncCursorRow) -> CursorState:
    from sfbridge.sync.plan import RecordKey  # circular at module level, as above

    return CursorState(
        cursor=row.cursor,
        boundary_keys=frozenset(
            RecordKey(record_id, datetime.fromisoformat(stamp))
            for record_id, stamp in row.boundary_keys
        ),
        resume_state=row.resume_state,
        updated_at=row.updated_at,
        formula_refreshed_at=row.formula_refreshed_at,
    )


def _to_run(row: SyncRunRow, name: str) -> RunRecord:
    return RunRecord(
        id=row.id,
        sync=name,
        spec_version=row.spec_version,
        status=RunStatus(row.status),
        trigger=RunTrigger(row.trigger),
        started_at=row.started_at,
        finished_at=row.finished_at,
        window_start=row.window_start,
        window_end=row.window_end,
        counts=RunCounts(
            **{field.name: getattr(row, field.name) for field in dataclasses.fields(RunCounts)}
        ),
        error=row.error,
        heartbeat_at=row.heartbeat_at,
    )


def _to_failure(row: FailedRecordRow, name: str) -> FailedRecord:
    return FailedRecord(
        id=row.id,
        run_id=row.run_id,
        sync=name,
        record_id=row.record_id,
        payload=row.payload,
        reason=row.reason,
        retriable=row.retriable,
        destination=row.destination,
        created_at=row.created_at,
        replayed_at=row.replayed_at,
    )
