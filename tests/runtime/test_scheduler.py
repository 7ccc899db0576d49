"""The interval scheduler with a fake clock, fake syncs and runs that can be held open."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from sfbridge.runtime import Outcome, Scheduler
from sfbridge.store.syncs import RunStatus, RunTrigger

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WAIT = 5.0


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> datetime:
        self.now += by
        return self.now


@dataclass
class Org:
    """Fake syncs and their runs: the store side of the scheduler, and the run function."""

    clock: Clock
    syncs: dict[str, Any] = field(default_factory=dict)
    started: list[tuple[str, RunTrigger, datetime]] = field(default_factory=list)
    holds: dict[str, threading.Event] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    active: set[str] = field(default_factory=set)
    overlaps: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, interval: timedelta, *, enabled: bool = True) -> None:
        spec = SimpleNamespace(name=name, interval=interval, enabled=enabled)
        self.syncs[name] = SimpleNamespace(name=name, spec=spec)

    def list(self) -> list[Any]:
        return [self.syncs[name] for name in sorted(self.syncs)]

    def runs(self, name: str, limit: int = 20) -> list[Any]:
        with self.lock:
            mine = [s for s in self.started if s[0] == name]
        return [
            SimpleNamespace(sync=n, trigger=trigger, started_at=at)
            for n, trigger, at in reversed(mine[-limit:])
        ]

    def hold(self, name: str) -> threading.Event:
        """Make the next runs of ``name`` last until the returned event is set."""
        self.holds[name] = threading.Event()
        return self.holds[name]

    def run(self, name: str, trigger: RunTrigger) -> Any:
        with self.lock:
            if name in self.active:
                self.overlaps.append(name)
            self.active.add(name)
            self.started.append((name, trigger, self.clock()))
        try:
            if name in self.holds:
                assert self.holds[name].wait(WAIT)
            if name in self.failing:
                raise RuntimeError(f"{name} broke")
            return SimpleNamespace(status=RunStatus.SUCCEEDED)
        finally:
            with self.lock:
                self.active.discard(name)

    def count(self, name: str) -> int:
        with self.lock:
            return sum(1 for s in self.started if s[0] == name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def org(clock: Clock) -> Org:
    return Org(clock)


@pytest.fixture
def outcomes() -> list[Outcome]:
    return []


@pytest.fixture
def scheduler(org: Org, clock: Clock, outcomes: list[Outcome]) -> Any:
    scheduler = Scheduler(org, org.run, clock=clock, workers=4, on_outcome=outcomes.append)
    yield scheduler
    for event in org.holds.values():
        event.set()
    scheduler.close()


def test_a_sync_never_run_is_due_at_once(org: Org, scheduler: Scheduler) -> None:
    org.add("contacts", timedelta(hours=1))
    assert scheduler.due(START) == ["contacts"]


@pytest.mark.parametrize(
    "interval", [timedelta(hours=1), timedelta(hours=6), timedelta(hours=24), timedelta(minutes=45)]
)
def test_due_again_one_interval_after_the_last_scheduled_start(
    org: Org, scheduler: Scheduler, clock: Clock, interval: timedelta
) -> None:
    org.add("contacts", interval)
    assert scheduler.tick(START) == ["contacts"]
    assert scheduler.wait_idle(WAIT)
    assert scheduler.due(START + interval - timedelta(seconds=1)) == []
    assert scheduler.next_at() == START + interval
    assert scheduler.tick(clock.advance(interval)) == ["contacts"]
    assert scheduler.wait_idle(WAIT)
    assert org.started == [
        ("contacts", RunTrigger.SCHEDULE, START),
        ("contacts", RunTrigger.SCHEDULE, START + interval),
    ]


def test_due_counts_from_the_stored_scheduled_start_not_manual_runs(
    org: Org, scheduler: Scheduler
) -> None:
    org.add("leads", timedelta(hours=6))
    org.started += [
        ("leads", RunTrigger.SCHEDULE, START - timedelta(hours=5)),
        ("leads", RunTrigger.MANUAL, START - timedelta(hours=1)),
    ]
    assert scheduler.due(START) == []
    assert scheduler.due(START + timedelta(hours=1)) == ["leads"]


def test_paused_syncs_are_not_run(org: Org, scheduler: Scheduler) -> None:
    org.add("contacts", timedelta(hours=1))
    org.add("paused", timedelta(hours=1), enabled=False)
    assert scheduler.tick(START) == ["contacts"]
    assert scheduler.wait_idle(WAIT)
    assert org.count("paused") == 0


def test_different_syncs_run_together(org: Org, scheduler: Scheduler) -> None:
    org.add("contacts", timedelta(hours=1))
    org.add("leads", timedelta(hours=1))
    release = [org.hold("contacts"), org.hold("leads")]
    assert scheduler.tick(START) == ["contacts", "leads"]
    assert scheduler.running() == {"contacts", "leads"}
    for event in release:
        event.set()
    assert scheduler.wait_idle(WAIT)


def test_missed_intervals_during_a_long_run_make_exactly_one_catch_up(
    org: Org, scheduler: Scheduler, clock: Clock
) -> None:
    org.add("contacts", timedelta(hours=1))
    release = org.hold("contacts")
    scheduler.tick(START)
    for _ in range(4):  # four intervals pass while the first run holds
        assert scheduler.tick(clock.advance(timedelta(hours=1))) == []
    assert org.count("contacts") == 1
    assert scheduler.pending() == {"contacts"}
    del org.holds["contacts"]
    release.set()
    assert scheduler.wait_idle(WAIT)
    assert org.count("contacts") == 2
    assert org.overlaps == []
    # The catch-up started at its own time; the next interval counts from there.
    assert org.started[-1][2] == clock.now
    assert scheduler.due(clock.now + timedelta(minutes=59)) == []


def test_the_same_sync_never_runs_twice_at_once(
    org: Org, scheduler: Scheduler, clock: Clock
) -> None:
    org.add("contacts", timedelta(minutes=5))
    release = org.hold("contacts")
    for _ in range(10):
        scheduler.tick(clock.advance(timedelta(minutes=5)))
    assert scheduler.running() == {"contacts"}
    release.set()
    assert scheduler.wait_idle(WAIT)
    assert org.overlaps == []
    assert org.count("contacts") == 2


def test_a_sync_paused_mid_run_does_not_catch_up(
    org: Org, scheduler: Scheduler, clock: Clock
) -> None:
    org.add("contacts", timedelta(hours=1))
    release = org.hold("contacts")
    scheduler.tick(START)
    scheduler.tick(clock.advance(timedelta(hours=2)))
    org.syncs["contacts"].spec.enabled = False
    release.set()
    assert scheduler.wait_idle(WAIT)
    assert org.count("contacts") == 1


def test_a_failing_run_does_not_stop_the_others(
    org: Org, scheduler: Scheduler, clock: Clock, outcomes: list[Outcome]
) -> None:
    org.add("broken", timedelta(hours=1))
    org.add("contacts", timedelta(hours=1))
    org.failing.add("broken")
    assert scheduler.tick(START) == ["broken", "contacts"]
    assert scheduler.wait_idle(WAIT)
    assert sorted(outcomes, key=lambda o: o.sync) == [
        Outcome("broken", RunStatus.FAILED, "broken broke"),
        Outcome("contacts", RunStatus.SUCCEEDED),
    ]
    # The broken sync waits for its next interval like any other.
    assert scheduler.due(START + timedelta(minutes=30)) == []
    assert scheduler.tick(clock.advance(timedelta(hours=1))) == ["broken", "contacts"]
    assert scheduler.wait_idle(WAIT)


def test_a_run_another_process_holds_is_tried_again(org: Org, clock: Clock) -> None:
    org.add("contacts", timedelta(hours=1))
    answers = [RunStatus.SKIPPED, RunStatus.SUCCEEDED]

    def run(name: str, trigger: RunTrigger) -> Any:
        return SimpleNamespace(status=answers.pop(0))

    scheduler = Scheduler(org, run, clock=clock)
    try:
        assert scheduler.tick(START) == ["contacts"]
        assert scheduler.wait_idle(WAIT)
        assert scheduler.tick(clock.advance(timedelta(seconds=30))) == ["contacts"]
        assert scheduler.wait_idle(WAIT)
        assert scheduler.due(clock.now + timedelta(minutes=30)) == []
    finally:
        scheduler.close()


def test_serve_runs_due_syncs_until_stopped(org: Org, clock: Clock) -> None:
    org.add("contacts", timedelta(hours=1))
    stop = threading.Event()
    started = threading.Event()

    def run(name: str, trigger: RunTrigger) -> Any:
        started.set()
        stop.set()
        return SimpleNamespace(status=RunStatus.SUCCEEDED)

    scheduler = Scheduler(org, run, clock=clock)
    thread = threading.Thread(target=scheduler.serve, args=(stop,))
    thread.start()
    assert started.wait(WAIT)
    thread.join(WAIT)
    assert not thread.is_alive()
    assert scheduler.tick(START + timedelta(hours=5)) == []  # closed: starts nothing more
