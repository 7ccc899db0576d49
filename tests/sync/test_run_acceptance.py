"""Acceptance tests of issue #4: no record lost or sent twice by concurrent writes or a kill.

1. Records written while a run is in progress are delivered by the next run.
2. A ``sfbridge sync run`` process killed with SIGKILL at random points
   resumes, once its stale run is taken over, without losing or repeating
   anything: an event sync (tasks), a person sync (contacts) over REST, and
   one killed while it reads a Bulk API 2.0 job.
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
from typer.testing import CliRunner

from sfbridge.cli.main import app
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

# Killed runs are `sfbridge sync run` processes with small pages, so a run
# takes a few seconds, and `--stale-after 1s`, so the run after a kill takes
# the dead one over at once instead of after the default 10 minutes. Setting
# up and the run that finishes go through the same CLI in this process (a
# process of its own costs seconds of imports); that run keeps the default
# page sizes, since where a run resumes does not depend on them.
STALE_AFTER = ["--stale-after", "1s"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SFBRIDGE_HOME", str(tmp_path))
    monkeypatch.delenv("SFBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SFBRIDGE_DATABASE_URL", raising=False)
    monkeypatch.delenv("SFBRIDGE_STALE_RUN_AFTER", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> Any:
    """``sfbridge ARGS --json`` in this process, its JSON output."""
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    """``sfbridge ARGS`` in a process of its own (``home`` from the environment)."""
    return subprocess.Popen(
        [sys.executable, "-m", "sfbridge.cli", *args],
        cwd=home,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def org(sf_server: RunningEmulator, home: Path) -> RunningEmulator:
    """The shared emulator with a stored client-credentials connection named ``emu``."""
    assert sf_server.tls is not None
    invoke(
        "connect",
        "salesforce",
        "--name",
        "emu",
        "--login-url",
        sf_server.login_url,
        "--client-id",
        sf_server.credentials.client_id,
        "--client-secret",
        sf_server.credentials.client_secret,
        "--ca-bundle",
        str(sf_server.tls.ca_bundle),
        "--flow",
        "client_credentials",
    )
    return sf_server


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


def kill_at_random_points(
    home: Path,
    name: str,
    options: list[str],
    *,
    kills: int,
    further: tuple[int, int],
    total: int,
    chooser: random.Random,
) -> list[int]:
    """Start ``sync run NAME OPTIONS`` ``kills`` times and SIGKILL each mid-run; the run ids.

    Each run is killed once it has checkpointed a random number (within
    ``further``) of records more than the runs before, plus a random moment
    (inside a page's read, delivery or checkpoint). Together the kills stay
    within the ``total`` records the sync brings, so every kill lands mid-run.
    """
    killed: list[int] = []
    for _ in range(kills):
        target = chooser.randint(*further)
        command = ("sync", "run", name, *options, "--json")
        process = start(home, *command)
        deadline = time.monotonic() + 60
        while (progress := delivered_by_running(home, name, max(killed, default=0))) < target:
            if process.poll() is not None:
                # Started within --stale-after of the kill, the run found the
                # dead one still counting as alive and was skipped: start again.
                out, err = process.communicate()
                skipped = process.returncode == 0 and json.loads(out)["status"] == "skipped"
                assert skipped, f"the run ended before {target} more records: {out}{err}"
                process = start(home, *command)
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(chooser.uniform(0, 0.1))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL, f"the run ended before {progress}"
        run = latest_run(home, name)
        assert run is not None and run["id"] not in killed
        killed.append(run["id"])
        assert run["status"] == "running", [
            (r["status"], r["counts"], r["error"]) for r in all_runs(home, name)
        ]
        assert sum(r["counts"]["delivered"] for r in all_runs(home, name)) < total
    return killed


def run_after_kills(name: str) -> Any:
    """The run that takes over the last killed one, with default pages, and finishes the sync."""
    time.sleep(1.1)  # past --stale-after 1s since the killed run's last checkpoint
    summary = invoke("sync", "run", name, *STALE_AFTER)
    assert summary["status"] == "succeeded", summary
    assert summary["resumed"] is True
    return summary


def assert_each_record_counted_once(home: Path, name: str, killed: list[int], total: int) -> None:
    """The killed runs failed, the last one succeeded, and their deliveries add up to ``total``."""
    runs = all_runs(home, name)
    assert runs[0]["status"] == "succeeded"
    assert [r["id"] for r in runs[1:]] == killed[::-1]
    assert all(r["status"] == "failed" for r in runs[1:]), runs
    # What a killed run checkpointed is not read again by the runs after it.
    assert sum(r["counts"]["delivered"] for r in runs) == total


def warehouse_rows(home: Path, *columns: Any) -> list[Any]:
    engine = create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(*columns)).all())
    finally:
        engine.dispose()


def test_a_run_killed_at_random_points_resumes_without_loss_or_duplicates(
    org: RunningEmulator, home: Path
) -> None:
    invoke("sync", "add", "tasks", "--connection", "emu", "--template", "tasks")
    closed = [
        row["Id"] for row in org.org.records("Task") if row.get("IsClosed") and row.get("WhoId")
    ]
    assert len(closed) > 1_000
    options = ["--page-size", "40", *STALE_AFTER]

    killed = kill_at_random_points(
        home,
        "tasks",
        options,
        kills=4,
        further=(100, 350),
        total=len(closed),
        chooser=random.Random(2024),
    )
    run_after_kills("tasks")

    assert_each_record_counted_once(home, "tasks", killed, len(closed))
    rows = warehouse_rows(home, events.c.message_id, events.c.user_id)
    expected = {message_id("tasks", task_id, "track") for task_id in closed}
    assert len(rows) == len(expected)
    assert {row.message_id for row in rows} == expected
    who = {
        message_id("tasks", row["Id"], "track"): row["WhoId"]
        for row in org.org.records("Task")
        if row["Id"] in set(closed)
    }
    assert all(who[row.message_id] == row.user_id for row in rows)


def people_in_org(org: RunningEmulator, until: datetime) -> dict[str, dict[str, Any]]:
    """The org's contacts with an email as the contacts template's people: id -> traits.

    Read from the emulator's own data, only those last written before
    ``until`` (the run's window end; later writes belong to the next run).
    """
    spec = template("contacts", connection="emu", destinations=["warehouse"])
    assert spec.filter == FILTER
    people_by_id: dict[str, dict[str, Any]] = {}
    for row in org.org.records("Contact"):
        if row["Email"] is None or datetime.fromisoformat(row["SystemModstamp"]) >= until:
            continue
        traits = {m.target: row[str(m.source)] for m in spec.fields}
        people_by_id[row["Id"]] = {
            **{key: value for key, value in traits.items() if value is not None},
            "email": row["Email"],
        }
    return people_by_id


def assert_people_equal_the_org(home: Path, org: RunningEmulator, summary: Any) -> None:
    expected = people_in_org(org, datetime.fromisoformat(summary["window"]["end"]))
    rows = warehouse_rows(home, people.c.id, people.c.traits)
    assert len(rows) == len(expected)  # one row per person: no duplicates
    delivered = {row.id: row.traits for row in rows}
    assert delivered.keys() == expected.keys()
    different = {key for key in expected if delivered[key] != expected[key]}
    assert not different, [(delivered[key], expected[key]) for key in sorted(different)[:3]]


def test_a_person_sync_killed_at_random_points_ends_equal_to_the_org(
    org: RunningEmulator, home: Path
) -> None:
    (home / "sfbridge.yaml").write_text(
        "destinations:\n  files: {kind: jsonl, directory: out}\n", encoding="utf-8"
    )
    added = invoke(
        "sync",
        "add",
        "contacts",
        "--connection",
        "emu",
        "--template",
        "contacts",
        "--destination",
        "warehouse",
        "--destination",
        "files",
    )
    total = added["count"]
    assert total > 3_000
    options = ["--page-size", "100", *STALE_AFTER]

    killed = kill_at_random_points(
        home,
        "contacts",
        options,
        kills=3,
        further=(300, 900),
        total=total,
        chooser=random.Random(31),
    )
    summary = run_after_kills("contacts")

    assert summary["api"] == "rest"
    assert_each_record_counted_once(home, "contacts", killed, total)
    assert_people_equal_the_org(home, org, summary)
    # Every run of the window wrote to one file, named for the window's end,
    # and a page sent again after a kill was not written twice.
    end = datetime.fromisoformat(summary["window"]["end"])
    files = list((home / "out" / "contacts").iterdir())
    assert [f.name for f in files] == [f"contacts-{end:%Y%m%dT%H%M%S.%f}"[:-3] + "Z.jsonl"]
    lines = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
    assert sorted(m["userId"] for m in lines) == sorted(people_in_org(org, end))


def test_a_run_killed_during_a_bulk_read_resumes_its_job_and_ends_equal_to_the_org(
    org: RunningEmulator, home: Path
) -> None:
    added = invoke("sync", "add", "contacts", "--connection", "emu", "--template", "contacts")
    total = added["count"]
    assert total > 3_000
    # Bulk for any window, in many small results pages: each one a checkpoint to kill after.
    options = ["--bulk-threshold", "0", "--bulk-page-size", "200", *STALE_AFTER]

    killed = kill_at_random_points(
        home,
        "contacts",
        options,
        kills=3,
        further=(300, 900),
        total=total,
        chooser=random.Random(58),
    )
    summary = run_after_kills("contacts")

    # The last run went on with the killed runs' Bulk job (a new job would read
    # a later window) and read only the pages after their last checkpoint.
    assert summary["api"] == "bulk"
    assert summary["window"]["end"] == all_runs(home, "contacts")[-1]["window_end"]
    assert summary["counts"]["records_read"] < total
    assert_each_record_counted_once(home, "contacts", killed, total)
    assert_people_equal_the_org(home, org, summary)
