"""The data-in half of ``make demo``: template syncs into the warehouse, a change, a second run.

It connects the running emulator as a stored connection, adds the contacts,
leads and accounts templates plus an Opportunities sync into the built-in
warehouse, runs them, changes, creates and deletes records in the org, runs
them again and prints what moved and what it cost in API calls.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sfbridge.config import Settings
from sfbridge.connect.salesforce import ConnectOptions, connect, open_client
from sfbridge.destinations import RunInfo
from sfbridge.emulators.salesforce.server import RunningEmulator
from sfbridge.salesforce import SalesforceClient
from sfbridge.store import AuthFlow, ConnectionStore, Database, Environment, SyncStore
from sfbridge.sync.run import RunSummary, run_sync
from sfbridge.sync.service import WAREHOUSE, Project, add_sync, build_spec, open_destinations

# (sync name, template, Customer.io object type id for object syncs)
DEMO_SYNCS = ("contacts", "leads", "accounts", "opportunities")
"""The syncs the tour adds, each from the template of its name."""
# The window ends a settle margin (60 s) before "now". Rather than make the
# viewer wait a minute, the second run's clock is set this far ahead.
SECOND_RUN_LATER = timedelta(minutes=2)


@dataclass
class _Moved:
    first: RunSummary
    second: RunSummary | None = None


def _run(
    name: str, syncs: SyncStore, client: SalesforceClient, home: Path, now: Callable[[], datetime]
) -> RunSummary:
    spec = syncs.get(name).spec
    known = Project().destination_specs()
    destinations = open_destinations(
        spec, known, RunInfo(sync=name, run_id=f"demo-{name}", home=home)
    )
    try:
        return run_sync(spec, client=client, destinations=destinations, state=syncs, now=now)
    finally:
        for destination in destinations:
            destination.close()


def _change_the_org(client: SalesforceClient) -> str:
    """Update three contacts, create two, delete one; returns what was done."""
    ids = [r["Id"] for r in client.query("SELECT Id FROM Contact WHERE Email != null LIMIT 4")]
    for record_id in ids[:3]:
        client.update("Contact", record_id, {"Title": "VP of Data"})
    for n in (1, 2):
        client.create("Contact", {"LastName": f"Newcomer {n}", "Email": f"new{n}@example.com"})
    client.delete("Contact", ids[3])
    return "3 contacts updated, 2 created, 1 deleted"


def _people(home: Path) -> int:
    with sqlite3.connect(home / "warehouse.sqlite") as db:
        return int(db.execute("SELECT COUNT(*) FROM people").fetchone()[0])


def data_in_tour(running: RunningEmulator, console: Console, home: Path) -> None:
    """Connect, add four syncs, run, change the org, run again; print the table."""
    assert running.tls is not None
    console.rule("[bold]8. Data in: syncs into the warehouse")
    database = Database.open(Settings(home=home, secret_key=None, database_url=None))
    try:
        connections, syncs = ConnectionStore(database), SyncStore(database)
        creds = running.credentials
        options = ConnectOptions(
            name="demo",
            environment=Environment.CUSTOM,
            login_url=running.login_url,
            flow=AuthFlow.CLIENT_CREDENTIALS,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            ca_bundle=running.tls.ca_bundle,
        )
        connect(connections, options, open_browser=lambda url: None)[1].close()
        moved: dict[str, _Moved] = {}
        with open_client(connections, "demo") as client:
            for name in DEMO_SYNCS:
                spec = build_spec(
                    name,
                    connection="demo",
                    template_name=name,
                    destinations=(WAREHOUSE,),
                    delete_policy="delete" if name == "contacts" else None,
                )
                added = add_sync(syncs, client, spec, Project().destination_specs())
                syncs.set_enabled(name, True)
                console.print(f"added {name}: the first run will bring {added.count:,} records")
            for name in DEMO_SYNCS:
                moved[name] = _Moved(_run(name, syncs, client, home, lambda: datetime.now(UTC)))
            console.print(f"warehouse people after the first runs: {_people(home):,}")
            console.print(f"changing the org: {_change_the_org(client)}")
            later = lambda: datetime.now(UTC) + SECOND_RUN_LATER  # noqa: E731 - a clock
            for name in DEMO_SYNCS:
                moved[name].second = _run(name, syncs, client, home, later)
        table = Table(
            "sync",
            "first run: delivered",
            "API calls",
            "second run: delivered",
            "deleted",
            "API calls",
            title="What moved, and what it cost",
        )
        for name, runs in moved.items():
            second = runs.second
            assert second is not None
            table.add_row(
                name,
                f"{runs.first.counts.delivered:,}",
                str(runs.first.counts.api_calls),
                f"{second.counts.delivered:,}",
                str(second.counts.deleted),
                str(second.counts.api_calls),
            )
        console.print(table)
        console.print(
            "The first runs leave out records written less than 60 s earlier (the settle "
            "margin, so nothing still being committed is skipped for good): the 500 contacts "
            "of the Bulk upsert above arrive in the second run, with the changed ones; the "
            "deleted contacts leave the warehouse. Runs that find nothing new cost 2 API calls."
        )
        console.print(
            f"warehouse people after the second runs: {_people(home):,} "
            f"(in {home / 'warehouse.sqlite'})"
        )
    finally:
        database.close()
