"""Run enabled syncs on their intervals, never the same sync twice at once.

A sync is due when its interval has passed since its last scheduled start
(at once when it has never run on schedule). Due syncs run in a small
worker pool, so different syncs overlap but one sync never does: when its
interval comes while it is still running, that interval is skipped and
**one** catch-up is kept, however many intervals pass, which starts as soon
as the current run ends. The store refuses overlapping runs too
(``AlreadyRunning``), so a run another process holds comes back ``skipped``
and is tried again on a later tick.

The clock and the run are injected; ``tick(now)`` is one decision, for tests::

    scheduler = Scheduler(store, run, clock=lambda: datetime.now(UTC))
    scheduler.serve(stop_event)
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sfbridge.store.syncs import RunRecord, RunStatus, RunTrigger, SyncRecord

log = logging.getLogger(__name__)

MAX_SLEEP = timedelta(seconds=30)
"""The longest ``serve`` sleeps between ticks, so paused and added syncs are noticed."""
MIN_SLEEP = timedelta(seconds=1)
"""The shortest ``serve`` sleeps, so a sync another process is running is not polled hot."""
RUN_HISTORY = 50
"""How many recent runs are searched for a sync's last scheduled start."""


class ScheduleSource(Protocol):
    """Where the scheduler reads syncs and their runs: ``SyncStore`` is one."""

    def list(self) -> builtins.list[SyncRecord]:
        """Every sync."""
        ...

    def runs(self, name: str, limit: int = 20) -> builtins.list[RunRecord]:
        """The newest ``limit`` runs of ``name``, newest first."""
        ...


class RunResult(Protocol):
    """What a run returns: ``RunSummary`` is one."""

    @property
    def status(self) -> RunStatus:
        """How the run ended (``skipped`` when another run of the sync was alive)."""
        ...


RunSync = Callable[[str, RunTrigger], RunResult]
"""Runs the named sync once with a trigger and says how it ended."""


@dataclass(frozen=True)
class Outcome:
    """How one scheduled run ended: its status, or the error that escaped it."""

    sync: str
    status: RunStatus
    error: str | None = None


class Scheduler:
    """Decides which enabled syncs are due and runs them in a worker pool."""

    def __init__(
        self,
        source: ScheduleSource,
        run: RunSync,
        *,
        clock: Callable[[], datetime],
        workers: int = 4,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        """Read syncs from ``source``; ``run(name, trigger)`` runs one; ``clock`` is now (UTC)."""
        self._source = source
        self._run = run
        self._clock = clock
        self._on_outcome = on_outcome
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sfbridge-sync")
        self._changed = threading.Condition()
        # Scheduled starts this process made, newer than the store's until the run is recorded.
        self._started: dict[str, datetime] = {}
        self._running: set[str] = set()
        self._pending: set[str] = set()
        self._closed = False

    def due(self, now: datetime) -> list[str]:
        """Enabled syncs whose interval has passed since their last scheduled start, by name."""
        return [record.name for record in self._enabled() if self._next_at(record) <= now]

    def tick(self, now: datetime) -> list[str]:
        """Start the due syncs that are idle; keep one catch-up for those still running.

        Returns the names started now.
        """
        started: list[str] = []
        for name in self.due(now):
            with self._changed:
                if self._closed:
                    break
                if name in self._running:
                    self._pending.add(name)
                    continue
                self._start(name, now)
            started.append(name)
        return started

    def next_at(self) -> datetime | None:
        """When the next sync falls due, not counting those already waiting to catch up."""
        with self._changed:
            pending = set(self._pending)
        times = [self._next_at(record) for record in self._enabled() if record.name not in pending]
        return min(times, default=None)

    def running(self) -> set[str]:
        """The syncs running now."""
        with self._changed:
            return set(self._running)

    def pending(self) -> set[str]:
        """The syncs with a catch-up waiting for their current run to end."""
        with self._changed:
            return set(self._pending)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing runs and no catch-up waits; False if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._running and not self._pending, timeout)

    def serve(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set, sleeping until the next due time (at most 30 s)."""
        try:
            while not stop.is_set():
                now = self._clock()
                self.tick(now)
                next_at = self.next_at()
                sleep = MAX_SLEEP if next_at is None else next_at - now
                stop.wait(max(MIN_SLEEP, min(sleep, MAX_SLEEP)).total_seconds())
        finally:
            self.close()

    def close(self) -> None:
        """Start nothing more (dropping waiting catch-ups) and wait for running syncs to end."""
        with self._changed:
            self._closed = True
            self._pending.clear()
            self._changed.notify_all()
        self._pool.shutdown(wait=True)

    def _enabled(self) -> Sequence[SyncRecord]:
        return [record for record in self._source.list() if record.spec.enabled]

    def _next_at(self, record: SyncRecord) -> datetime:
        """The last scheduled start plus the interval; the distant past when never started."""
        last = self._last_started(record.name)
        return datetime.min.replace(tzinfo=UTC) if last is None else last + record.spec.interval

    def _last_started(self, name: str) -> datetime | None:
        stored = next(
            (
                run.started_at
                for run in self._source.runs(name, RUN_HISTORY)
                if run.trigger == RunTrigger.SCHEDULE
            ),
            None,
        )
        with self._changed:
            mine = self._started.get(name)
        candidates = [moment for moment in (stored, mine) if moment is not None]
        return max(candidates, default=None)

    def _start(self, name: str, now: datetime) -> None:
        """Submit one run of ``name``; the caller holds ``_changed``."""
        previous = self._started.get(name)
        self._started[name] = now
        self._running.add(name)
        future = self._pool.submit(self._run, name, RunTrigger.SCHEDULE)
        future.add_done_callback(lambda done: self._finished(name, previous, done))

    def _finished(self, name: str, previous: datetime | None, done: Future[RunResult]) -> None:
        error = done.exception()
        if error is not None:
            # One sync's failure must not stop the others; its next interval tries again.
            log.error("scheduled run of sync %r failed: %s", name, error, exc_info=error)
            outcome = Outcome(name, RunStatus.FAILED, str(error))
        else:
            outcome = Outcome(name, done.result().status)
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        # Read before taking the lock: a sync paused mid-run does not catch up.
        enabled = name in self.pending() and self._still_enabled(name)
        with self._changed:
            self._running.discard(name)
            if outcome.status == RunStatus.SKIPPED:
                # Another process holds the run; this start did not happen, so try again later.
                if previous is None:
                    self._started.pop(name, None)
                else:
                    self._started[name] = previous
            if name in self._pending:
                self._pending.discard(name)
                if enabled and not self._closed:
                    self._start(name, self._clock())
            self._changed.notify_all()

    def _still_enabled(self, name: str) -> bool:
        """Whether ``name`` is still enabled."""
        return any(record.name == name for record in self._enabled())
