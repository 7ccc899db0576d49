"""Replaying kept failed records against the emulated org, into a SQLite warehouse.

Each test has its own org (its records are changed), store and warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sfbridge.config import Settings
from sfbridge.destinations import (
    DeliveryResult,
    Destination,
    MessageOutcome,
    RunInfo,
    WarehouseDestination,
    WarehouseSpec,
)
from sfbridge.destinations.warehouse_schema import people
from sfbridge.emulators.salesforce.server import RunningEmulator, start_emulator
from sfbridge.errors import ConfigError
from sfbridge.messages import Message
from sfbridge.salesforce import ClientCredentialsGrant, HttpOptions, OAuthSession, SalesforceClient
from sfbridge.store import Database, RunStatus, SyncStore
from sfbridge.sync import CursorSettings, SyncSpec, run_sync
from sfbridge.sync.replay import replay_failures

NO_SETTLE = CursorSettings(overlap=timedelta(minutes=10), settle=timedelta(0))


@pytest.fixture
def org(tmp_path: Path) -> Iterator[RunningEmulator]:
    running = start_emulator(tmp_path / "org", seed="tiny", seed_value=8)
    running.org.faults.settings.daily_api_limit = 10_000_000
    yield running
    running.stop()


@pytest.fixture
def client(org: RunningEmulator) -> Iterator[SalesforceClient]:
    grant = ClientCredentialsGrant(org.credentials.client_id, org.credentials.client_secret)
    with SalesforceClient(
        OAuthSession(org.login_url, grant), http=HttpOptions(verify=org.trust())
    ) as made:
        yield made


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SyncStore]:
    with Database.open(Settings(home=tmp_path / "home")) as database:
        yield SyncStore(database)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[WarehouseDestination]:
    spec = WarehouseSpec(url=f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    with WarehouseDestination.open(spec, RunInfo("people", "1", tmp_path)) as destination:
        yield destination


def people_by_email(store: SyncStore) -> SyncSpec:
    """Contacts as people identified by their email, with no filter: those without one fail."""
    spec = SyncSpec.model_validate(
        {
            "name": "people",
            "connection": "org",
            "object": "Contact",
            "format": {"type": "person", "id_field": None, "email_field": "Email"},
            "fields": [{"source": "LastName", "target": "last_name"}],
            "destinations": ["warehouse"],
        }
    )
    store.add(spec)
    return spec


def run_once(
    spec: SyncSpec, client: SalesforceClient, store: SyncStore, destination: Destination
) -> None:
    summary = run_sync(
        spec,
        client=client,
        destinations=[destination],
        state=store,
        now=lambda: datetime.now(UTC),
        settings=NO_SETTLE,
    )
    assert summary.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), summary.error


def stored_people(warehouse: WarehouseDestination) -> dict[str, dict[str, object]]:
    with warehouse.engine.connect() as connection:
        return {row.id: row.traits for row in connection.execute(select(people))}


def test_records_fixed_in_salesforce_are_replayed_and_the_rest_stay_kept(
    client: SalesforceClient, store: SyncStore, warehouse: WarehouseDestination
) -> None:
    spec = people_by_email(store)
    no_email = [client.create("Contact", {"LastName": f"Nomail{n}"}) for n in range(4)]
    run_once(spec, client, store, warehouse)
    kept = {f.record_id for f in store.failures("people")}
    assert set(no_email) <= kept
    assert all("has no person id" in f.reason for f in store.failures("people"))

    fixed = no_email[:2]
    for n, record_id in enumerate(fixed):
        client.update("Contact", record_id, {"Email": f"fixed{n}@example.com"})
    summary = replay_failures(spec, client=client, destinations=[warehouse], store=store)

    assert summary.replayed == 2
    assert summary.still_failing.keys() == kept - set(fixed)
    assert stored_people(warehouse)["fixed0@example.com"] == {
        "email": "fixed0@example.com",
        "last_name": "Nomail0",
    }
    assert {f.record_id for f in store.failures("people")} == kept - set(fixed)
    again = replay_failures(spec, client=client, destinations=[warehouse], store=store)
    assert again.replayed == 0 and again.still_failing == summary.still_failing


class Refusing(Destination):
    """The warehouse, except that it refuses, for good, the people named in ``refused``."""

    def __init__(self, inner: WarehouseDestination, refused: set[str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.refused = refused

    def deliver(self, batch: Sequence[Message]) -> DeliveryResult:
        allowed = [m for m in batch if m.user_id not in self.refused]
        outcomes = {o.message_id: o for o in self.inner.deliver(allowed).outcomes}
        for message in batch:
            if message.user_id in self.refused:
                reason = "value too long for column"
                outcomes[message.message_id] = MessageOutcome.failed(
                    message.message_id, reason, retriable=False
                )
        return DeliveryResult.of(self.name, batch, outcomes)

    def close(self) -> None:
        self.inner.close()


def test_messages_a_destination_refused_are_delivered_to_it_once_it_takes_them(
    client: SalesforceClient, store: SyncStore, warehouse: WarehouseDestination
) -> None:
    spec = people_by_email(store)
    emails = ["refused1@example.com", "refused2@example.com"]
    ids = [client.create("Contact", {"LastName": "Refused", "Email": e}) for e in emails]
    run_once(spec, client, store, Refusing(warehouse, set(emails)))
    refused = [f for f in store.failures("people") if f.destination == "warehouse"]
    assert {f.record_id for f in refused} == set(ids)
    assert not set(emails) & stored_people(warehouse).keys()

    summary = replay_failures(spec, client=client, destinations=[warehouse], store=store)

    assert summary.replayed == 2
    assert set(emails) <= stored_people(warehouse).keys()
    assert not [f for f in store.failures("people") if f.destination == "warehouse"]


def test_a_kept_record_deleted_since_is_let_go_and_an_unknown_id_is_refused(
    client: SalesforceClient, store: SyncStore, warehouse: WarehouseDestination
) -> None:
    spec = people_by_email(store)
    gone = client.create("Contact", {"LastName": "Gone"})
    run_once(spec, client, store, warehouse)
    client.delete("Contact", gone)

    with pytest.raises(ConfigError, match="keeps no failed record '003000000000000AAA'"):
        replay_failures(
            spec,
            client=client,
            destinations=[warehouse],
            store=store,
            record_ids=["003000000000000AAA"],
        )
    summary = replay_failures(
        spec, client=client, destinations=[warehouse], store=store, record_ids=[gone]
    )

    assert (summary.replayed, summary.skipped, summary.still_failing) == (0, 1, {})
    assert gone not in {f.record_id for f in store.failures("people")}
