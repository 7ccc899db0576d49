"""Acceptance tests of issue #4: no record lost or sent twice by concurrent writes or a kill.

1. Records written while a run is in progress are delivered by the next run.
2. A ``sfbridge sync run`` process killed with SIGKILL at random points
   resumes, once its stale run is taken over, without losing or repeating anything.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from sfbridge.config import Settings
from sfbridge.destinations import RunInfo, WarehouseDestination, WarehouseSpec
from sfbridge.destinations.warehouse_schema import events, people
from sfbridge.emulators.salesforce.server import RunningEmulator, start_emulator
from sfbridge.messages import message_id
from sfbridge.salesforce import ClientCredentialsGrant, HttpOptions, OAuthSession, SalesforceClient
from sfbridge.store import Database, RunStatus, SyncStore
from sfbridge.sync import RunSummary, run_sync, template

FILTER = "Email != null"


# -- 1. writes during a run ----------------------------------------------------


@pytest.fixture(scope="module")
def busy_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An org of its own (the writer changes it) with 2,000 seeded contacts."""
    running = start_emulator(tmp_path_factory.mktemp("busy-org"), seed=2000, seed_value=11)
    running.org.faults.settings.daily_api_limit = 10_000_000
    yield running
    running.stop()


def client_of(org: RunningEmulator) -> SalesforceClient:
    credentials = org.credentials
    grant = ClientCredentialsGrant(credentials.client_id, credentials.client_secret)
    return SalesforceClient(
        OAuthSession(org.login_url, grant), http=HttpOptions(verify=org.trust())
    )


class Writer(threading.Thread):
    """Creates contacts with emails and retitles existing ones until stopped."""

    def __init__(self, client: SalesforceClient, targets: list[str]) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.targets = targets
        self.stop_event = threading.Event()
        self.random = random.Random(4)
        self.created: list[str] = []
        self.titles: dict[str, str] = {}  # contact id -> the latest title written
        self.writes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            n = 0
            while not self.stop_event.is_set():
                n += 1
                results = self.client.create_records(
                    "Contact",
                    [{"LastName": "Busy", "Email": f"busy{n}.{i}@example.com"} for i in range(3)],
                )
                self.created += [r.id for r in results if r.id is not None]
                for record_id in self.random.sample([*self.targets, *self.created], 3):
                    title = f"Title {n}"
                    self.client.update("Contact", record_id, {"Title": title})
                    self.titles[record_id] = title
                self.writes += 1
        except BaseException as error:
            self.error = error


def test_records_written_while_a_run_is_in_progress_are_delivered_by_the_next_run(
    busy_org: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("SFBRIDGE_HOME", "SFBRIDGE_DATABASE_URL", "SFBRIDGE_SECRET_KEY"):
        monkeypatch.delenv(variable, raising=False)
    spec = template("contacts", connection="prod", destinations=["warehouse"], enabled=True)
    assert spec.filter == FILTER
    reader, writing = client_of(busy_org), client_of(busy_org)
    warehouse_spec = WarehouseSpec(url=f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    with (
        Database.open(Settings(home=tmp_path / "home")) as database,
        WarehouseDestination.open(warehouse_spec, RunInfo("contacts", "1", tmp_path)) as warehouse,
    ):
        store = SyncStore(database)
        store.add(spec)

        def sync(now: Any) -> RunSummary:
            return run_sync(
                spec,
                client=reader,
                destinations=[warehouse],
                state=store,
                now=now,
                page_size=50,
            )

        targets = [r["Id"] for r in reader.query(f"SELECT Id FROM Contact WHERE {FILTER}")]
        assert len(targets) > 1_000
        writer = Writer(writing, targets)
        writer.start()
        try:
            first = sync(lambda: datetime.now(UTC))
            writes_during_run = writer.writes
        finally:
            writer.stop_event.set()
            writer.join(timeout=30)
        assert writer.error is None, writer.error
        assert first.status is RunStatus.SUCCEEDED, first.error
        assert first.counts.api_calls > 20  # many pages, so the writer had time to interleave
        assert writes_during_run > 5, "the writer did not write while the run was in progress"

        second = sync(lambda: datetime.now(UTC) + timedelta(minutes=2))

        assert second.status is RunStatus.SUCCEEDED, second.error
        in_org = {r["Id"] for r in reader.query(f"SELECT Id FROM Contact WHERE {FILTER}")}
        assert set(writer.created) <= in_org
        with warehouse.engine.connect() as connection:
            delivered = {row.id: dict(row.traits) for row in connection.execute(select(people))}
        assert set(delivered) == in_org
        assert writer.titles
        stale = {
            record_id: (title, delivered[record_id].get("title"))
            for record_id, title in writer.titles.items()
            if delivered[record_id].get("title") != title
        }
        assert stale == {}, f"{len(stale)} updated contacts keep an older title: {stale}"
    reader.close()
    writing.close()


# -- 2. SIGKILL at random points -----------------------------------------------

# `sfbridge sync run` has neither a page-size option nor a heartbeat timeout
# setting: this wrapper runs the same CLI app with run_sync's page size and the
# SyncStore's heartbeat timeout patched from the environment, so a run takes a
# few seconds and the run after a kill takes over the dead one at once
# (instead of after the default 10 minutes).
CLI = """
import functools, os, sys
from datetime import timedelta
import sfbridge.cli.sync as cli_sync
import sfbridge.sync.service as service
from sfbridge.store import SyncStore
service.run_sync = functools.partial(
    service.run_sync, page_size=int(os.environ["TEST_PAGE_SIZE"])
)
cli_sync.SyncStore = functools.partial(
    SyncStore, heartbeat_timeout=timedelta(seconds=float(os.environ["TEST_HEARTBEAT_TIMEOUT"]))
)
from sfbridge.cli.main import app
sys.argv[0] = "sfbridge"
app()
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SFBRIDGE_HOME", str(tmp_path))
    monkeypatch.delenv("SFBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SFBRIDGE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(home: Path, *args: str, page_size: int = 40) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SFBRIDGE_HOME": str(home),
        "TEST_PAGE_SIZE": str(page_size),
        "TEST_HEARTBEAT_TIMEOUT": "0.5",
    }
    env.pop("SFBRIDGE_SECRET_KEY", None)
    env.pop("SFBRIDGE_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cli_json(home: Path, *args: str) -> Any:
    process = cli(home, *args, "--json")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, out + err
    return json.loads(out)


def connect(home: Path, org: RunningEmulator) -> None:
    assert org.tls is not None
    cli_json(
        home,
        "connect",
        "salesforce",
        "--name",
        "emu",
        "--login-url",
        org.login_url,
        "--client-id",
        org.credentials.client_id,
        "--client-secret",
        org.credentials.client_secret,
        "--ca-bundle",
        str(org.tls.ca_bundle),
        "--flow",
        "client_credentials",
    )


def all_runs(home: Path, name: str) -> list[dict[str, Any]]:
    with Database.open(Settings(home=home)) as database:
        return [run.public_dict() for run in SyncStore(database).runs(name)]


def latest_run(home: Path, name: str) -> dict[str, Any] | None:
    runs = all_runs(home, name)
    return runs[0] if runs else None


def delivered_by_running(home: Path, name: str, after: int) -> int:
    """Records checkpointed by the run of ``name`` started after run ``after`` (0 before)."""
    run = latest_run(home, name)
    if run is None or run["id"] <= after or run["status"] != "running":
        return 0
    return int(run["counts"]["delivered"])


def test_a_run_killed_at_random_points_resumes_without_loss_or_duplicates(
    sf_server: RunningEmulator, home: Path
) -> None:
    connect(home, sf_server)
    cli_json(home, "sync", "add", "tasks", "--connection", "emu", "--template", "tasks")
    closed = [
        row["Id"]
        for row in sf_server.org.records("Task")
        if row.get("IsClosed") and row.get("WhoId")
    ]
    assert len(closed) > 1_000

    # Four kill points at random progress: each run is killed once it has
    # checkpointed a random number of further records, plus a random moment
    # (inside a page's read, delivery or checkpoint). Together they stay
    # within one run's work, so every kill lands mid-run.
    chooser = random.Random(2024)
    delivered = 0
    killed: list[int] = []
    for _ in range(4):
        target = chooser.randint(100, 350)  # records more than the runs before
        process = cli(home, "sync", "run", "tasks", "--json")
        deadline = time.monotonic() + 60
        while (progress := delivered_by_running(home, "tasks", max(killed, default=0))) < target:
            assert process.poll() is None, f"the run ended before {target} more records"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(chooser.uniform(0, 0.1))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL, f"the run ended before {progress}"
        run = latest_run(home, "tasks")
        assert run is not None and run["id"] not in killed
        killed.append(run["id"])
        assert run["status"] == "running", [
            (r["status"], r["counts"], r["error"]) for r in all_runs(home, "tasks")
        ]
        delivered = sum(r["counts"]["delivered"] for r in all_runs(home, "tasks"))
        assert delivered < len(closed)
        time.sleep(0.6)  # past the heartbeat timeout: the next run takes the dead one over

    summary = cli_json(home, "sync", "run", "tasks")

    assert summary["status"] == "succeeded", summary
    assert summary["resumed"] is True
    runs = cli_json(home, "sync", "runs", "tasks")
    assert runs[0]["status"] == "succeeded"
    assert [r["id"] for r in runs[1:]] == killed[::-1]
    assert all(r["status"] in ("failed", "succeeded") for r in runs), runs
    # Each record counted once over all runs: what a killed run checkpointed is not read again.
    assert sum(r["counts"]["delivered"] for r in runs) == len(closed)
    engine = create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(events.c.message_id, events.c.user_id)).all()
    finally:
        engine.dispose()
    expected = {message_id("tasks", task_id, "track") for task_id in closed}
    assert len(rows) == len(expected)
    assert {row.message_id for row in rows} == expected
    who = {
        message_id("tasks", row["Id"], "track"): row["WhoId"]
        for row in sf_server.org.records("Task")
        if row["Id"] in set(closed)
    }
    assert all(who[row.message_id] == row.user_id for row in rows)
