"""run_sync against the emulated org over HTTPS, a SQLite warehouse and the real sync store.

The org is shared by the module and changed by the tests; each test has its
own store and warehouse, so its first run reads the whole org, and compares
against what the org holds at that moment. The tie test adds 5,000 contacts
and runs last, to keep the other tests' reads small.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

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
from sfbridge.messages import Message
from sfbridge.salesforce import ClientCredentialsGrant, HttpOptions, OAuthSession, SalesforceClient
from sfbridge.salesforce.http import DEFAULT_API_VERSION
from sfbridge.store import Database, RunStatus, RunTrigger, SyncStore
from sfbridge.sync import (
    CursorSettings,
    ReadApi,
    RunSummary,
    SyncSpec,
    Window,
    run_sync,
    template,
)

FILTER = "Email != null"
# Reads up to now: records written just before a run are in its window.
NO_SETTLE = CursorSettings(overlap=timedelta(minutes=10), settle=timedelta(0))


@pytest.fixture(scope="module")
def org_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An emulated org with 100 seeded contacts, shared by this module's tests."""
    running = start_emulator(tmp_path_factory.mktemp("sync-run-org"), seed="tiny", seed_value=5)
    running.org.faults.settings.daily_api_limit = 10_000_000
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sf_client(org_server: RunningEmulator) -> Iterator[SalesforceClient]:
    """A client of the org, logged in with the client credentials flow."""
    credentials = org_server.credentials
    grant = ClientCredentialsGrant(credentials.client_id, credentials.client_secret)
    client = SalesforceClient(
        OAuthSession(org_server.login_url, grant), http=HttpOptions(verify=org_server.trust())
    )
    yield client
    client.close()


@pytest.fixture
def sync_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncStore]:
    """A sync store on a fresh state database."""
    for variable in ("SFBRIDGE_HOME", "SFBRIDGE_DATABASE_URL", "SFBRIDGE_SECRET_KEY"):
        monkeypatch.delenv(variable, raising=False)
    with Database.open(Settings(home=tmp_path / "home")) as database:
        yield SyncStore(database)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[WarehouseDestination]:
    """A warehouse destination on a fresh SQLite file."""
    spec = WarehouseSpec(url=f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    with WarehouseDestination.open(spec, RunInfo("contacts", "1", tmp_path)) as destination:
        yield destination


class Recording(Destination):
    """Passes batches on to ``inner`` and notes the messages it settled, and their ids.

    With ``refuse_call`` set, that call (1-based) is refused as retriable,
    as a destination that is down answers; nothing reaches ``inner``.
    """

    def __init__(self, inner: Destination, refuse_call: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.refuse_call = refuse_call
        self.calls = 0
        self.settled_ids: list[str] = []
        self.messages: list[Message] = []

    def deliver(self, batch: Sequence[Message]) -> DeliveryResult:
        self.calls += 1
        if self.calls == self.refuse_call:
            refused = [
                MessageOutcome.failed(m.message_id, "connection refused", retriable=True)
                for m in batch
            ]
            return DeliveryResult(self.name, tuple(refused))
        result = self.inner.deliver(batch)
        self.settled_ids += result.delivered
        self.messages += [m for m in batch if m.message_id in set(result.delivered)]
        return result

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def contacts(sync_store: SyncStore) -> SyncSpec:
    """The contacts template as a stored sync to the warehouse."""
    spec = template("contacts", connection="prod", destinations=["warehouse"], enabled=True)
    assert spec.filter == FILTER
    sync_store.add(spec)
    return spec


RunSync = Callable[..., RunSummary]


@pytest.fixture
def sync(
    sf_client: SalesforceClient, sync_store: SyncStore, warehouse: WarehouseDestination
) -> RunSync:
    """``sync(spec, destinations=..., **options)``: one run to the warehouse by default."""

    def run(spec: SyncSpec, destinations: Sequence[Destination] = (), **options: Any) -> RunSummary:
        return run_sync(
            spec,
            client=sf_client,
            destinations=list(destinations) or [warehouse],
            state=sync_store,
            settings=options.pop("settings", NO_SETTLE),
            now=lambda: datetime.now(UTC),
            **options,
        )

    return run


def people_count(warehouse: WarehouseDestination) -> int:
    with warehouse.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(people)) or 0)


def person(warehouse: WarehouseDestination, person_id: str) -> dict[str, Any] | None:
    with warehouse.engine.connect() as connection:
        row = connection.execute(select(people).where(people.c.id == person_id)).first()
    return None if row is None else dict(row.traits)


def with_emails(client: SalesforceClient) -> int:
    return client.count("Contact", FILTER)


def new_contacts(client: SalesforceClient, count: int, last_name: str) -> list[str]:
    results = client.create_records(
        "Contact",
        [
            {"LastName": last_name, "Email": f"{last_name.lower()}{n}@example.com"}
            for n in range(count)
        ],
    )
    ids = [result.id for result in results]
    assert all(ids)
    return [i for i in ids if i is not None]


def test_a_first_run_delivers_every_matching_contact(
    sync: RunSync, contacts: SyncSpec, sf_client: SalesforceClient, warehouse: WarehouseDestination
) -> None:
    summary = sync(contacts, page_size=30)

    expected = with_emails(sf_client)
    assert summary.status is RunStatus.SUCCEEDED, summary.error
    assert summary.api is ReadApi.REST
    assert summary.counts.delivered == summary.counts.records_read == expected
    assert summary.counts.api_calls >= math.ceil(expected / 30)
    assert people_count(warehouse) == expected


def test_a_spec_that_does_not_fit_the_org_fails_the_run_with_its_problems(
    sync: RunSync, sync_store: SyncStore, warehouse: WarehouseDestination
) -> None:
    spec = template("contacts", connection="prod", destinations=["warehouse"], enabled=True)
    spec = SyncSpec.model_validate({**spec.model_dump(), "fields": ["Shoe_Size__c"]})
    sync_store.add(spec)

    summary = sync(spec)

    assert summary.status is RunStatus.FAILED
    assert summary.error is not None and "Shoe_Size__c" in summary.error
    assert sync_store.runs(spec.name)[0].status is RunStatus.FAILED
    assert sync_store.cursor(spec.name) is None
    assert people_count(warehouse) == 0


def test_an_incremental_run_delivers_only_what_changed(
    sync: RunSync,
    contacts: SyncSpec,
    sf_client: SalesforceClient,
    sync_store: SyncStore,
    warehouse: WarehouseDestination,
) -> None:
    sync(contacts)
    changed = [
        r["Id"] for r in sf_client.query("SELECT Id FROM Contact WHERE Email != null LIMIT 2")
    ]
    for record_id in changed:
        sf_client.update("Contact", record_id, {"Title": "Chief Syncing Officer"})
    created = new_contacts(sf_client, 1, "Incremental")

    summary = sync(contacts)

    assert summary.status is RunStatus.SUCCEEDED, summary.error
    assert summary.counts.delivered == 3
    assert people_count(warehouse) == with_emails(sf_client)
    assert all(person(warehouse, i) is not None for i in created)
    assert all(
        (person(warehouse, i) or {}).get("title") == "Chief Syncing Officer" for i in changed
    )
    latest = sync_store.runs(contacts.name)[0]
    assert latest.status is RunStatus.SUCCEEDED
    assert latest.counts.delivered == 3
    # The COUNT() that chose REST and the page read: what the run reports is what it stored.
    assert summary.counts.api_calls == latest.counts.api_calls >= 2


def test_a_deleted_contact_is_removed_with_the_delete_policy(
    sync: RunSync,
    sync_store: SyncStore,
    sf_client: SalesforceClient,
    warehouse: WarehouseDestination,
) -> None:
    spec = template("contacts", connection="prod", destinations=["warehouse"], enabled=True)
    spec = SyncSpec.model_validate({**spec.model_dump(), "delete_policy": "delete"})
    sync_store.add(spec)
    (doomed,) = new_contacts(sf_client, 1, "Doomed")
    sync(spec)
    assert person(warehouse, doomed) is not None

    sf_client.delete("Contact", doomed)
    summary = sync(spec)

    assert summary.status is RunStatus.SUCCEEDED, summary.error
    assert summary.counts.deleted == 1
    assert person(warehouse, doomed) is None
    assert people_count(warehouse) == with_emails(sf_client)


def test_a_run_is_skipped_while_another_is_in_progress(
    sync: RunSync, contacts: SyncSpec, sync_store: SyncStore, warehouse: WarehouseDestination
) -> None:
    other = sync_store.start_run(contacts.name, RunTrigger.MANUAL, Window(None, datetime.now(UTC)))

    summary = sync(contacts)

    assert summary.status is RunStatus.SKIPPED
    assert summary.run_id is None
    assert summary.error is not None and "already running" in summary.error
    assert people_count(warehouse) == 0
    assert sync_store.cursor(contacts.name) is None
    sync_store.finish_run(other.id, RunStatus.SUCCEEDED)
    assert sync(contacts).status is RunStatus.SUCCEEDED


def test_a_run_failed_mid_way_is_finished_by_the_next_without_loss_or_repeats(
    sync: RunSync, contacts: SyncSpec, sf_client: SalesforceClient, warehouse: WarehouseDestination
) -> None:
    expected = with_emails(sf_client)
    page_size = math.ceil(expected / 5)
    failing = Recording(warehouse, refuse_call=3)

    failed = sync(contacts, [failing], page_size=page_size)

    assert failed.status is RunStatus.FAILED
    assert failed.error is not None and "connection refused" in failed.error
    assert failed.counts.delivered == 2 * page_size
    assert people_count(warehouse) == 2 * page_size

    healthy = Recording(warehouse)
    resumed = sync(contacts, [healthy], page_size=page_size)

    assert resumed.status is RunStatus.SUCCEEDED, resumed.error
    assert resumed.resumed
    assert resumed.window == failed.window
    assert resumed.counts.delivered == expected - 2 * page_size
    assert people_count(warehouse) == expected
    settled = failing.settled_ids + healthy.settled_ids
    assert len(settled) == len(set(settled)) == expected


def test_a_large_window_is_read_with_bulk(
    sync: RunSync, contacts: SyncSpec, sf_client: SalesforceClient, warehouse: WarehouseDestination
) -> None:
    summary = sync(contacts, bulk_threshold=10, page_size=40, bulk_page_size=40)

    assert summary.status is RunStatus.SUCCEEDED, summary.error
    assert summary.api is ReadApi.BULK
    assert summary.counts.delivered == with_emails(sf_client)
    assert people_count(warehouse) == with_emails(sf_client)


def test_a_bulk_run_failed_mid_way_is_resumed_from_its_job_and_locator(
    sync: RunSync, contacts: SyncSpec, sf_client: SalesforceClient, warehouse: WarehouseDestination
) -> None:
    expected = with_emails(sf_client)
    page_size = math.ceil(expected / 3)
    failing = Recording(warehouse, refuse_call=2)

    failed = sync(
        contacts, [failing], bulk_threshold=10, page_size=page_size, bulk_page_size=page_size
    )
    healthy = Recording(warehouse)
    resumed = sync(
        contacts, [healthy], bulk_threshold=10, page_size=page_size, bulk_page_size=page_size
    )

    assert failed.status is RunStatus.FAILED
    assert failed.counts.delivered == page_size
    assert resumed.status is RunStatus.SUCCEEDED, resumed.error
    assert resumed.resumed and resumed.api is ReadApi.BULK
    assert resumed.counts.delivered == expected - page_size
    settled = failing.settled_ids + healthy.settled_ids
    assert len(settled) == len(set(settled)) == expected
    assert people_count(warehouse) == expected


def test_a_bulk_run_delivers_address_fields_as_rest_gives_them(
    sync: RunSync,
    sync_store: SyncStore,
    sf_client: SalesforceClient,
    warehouse: WarehouseDestination,
) -> None:
    spec = template("contacts", connection="prod", destinations=["warehouse"], enabled=True)
    fields = [*spec.model_dump()["fields"], "MailingAddress"]
    spec = SyncSpec.model_validate({**spec.model_dump(), "name": "addresses", "fields": fields})
    sync_store.add(spec)
    (addressed,) = sf_client.create_records(
        "Contact",
        [
            {
                "LastName": "Addressed",
                "Email": "addressed@example.com",
                "MailingStreet": "1 Infinite Loop",
                "MailingCity": "Cupertino",
                "MailingPostalCode": "95014",
                "MailingLatitude": 37.33,
            }
        ],
    )
    assert addressed.id is not None

    summary = sync(spec, bulk_threshold=10, page_size=40, bulk_page_size=40)

    assert summary.status is RunStatus.SUCCEEDED, summary.error
    assert summary.api is ReadApi.BULK
    assert people_count(warehouse) == with_emails(sf_client)
    over_rest = {
        r["Id"]: r["MailingAddress"]
        for r in sf_client.query(f"SELECT Id, MailingAddress FROM Contact WHERE {FILTER}")
    }
    assert over_rest[addressed.id] == {
        "city": "Cupertino",
        "country": None,
        "geocodeAccuracy": None,
        "latitude": 37.33,
        "longitude": None,
        "postalCode": "95014",
        "state": None,
        "street": "1 Infinite Loop",
    }
    for record_id, address in over_rest.items():
        traits = person(warehouse, record_id)
        assert traits is not None, record_id
        assert traits.get("MailingAddress") == address  # a null trait is cleared


def test_rest_and_bulk_deliver_an_address_read_through_a_lookup_alike(
    sync: RunSync,
    sync_store: SyncStore,
    sf_client: SalesforceClient,
    warehouse: WarehouseDestination,
) -> None:
    # Bulk API 2.0 refuses Account.BillingAddress as it refuses any compound:
    # the run reads its components and rebuilds it inside the Account.
    billed = sf_client.create(
        "Account",
        {
            "Name": "Billed Ltd",
            "BillingStreet": "1 Poultry",
            "BillingCity": "London",
            "BillingCountry": "UK",
            "BillingLatitude": 51.5,
            "BillingLongitude": -0.09,
        },
    )
    unbilled = sf_client.create("Account", {"Name": "Unbilled Ltd"})
    for last_name, account in (("Billed", billed), ("Unbilled", unbilled), ("Unaccounted", None)):
        sf_client.create(
            "Contact",
            {
                "LastName": last_name,
                "Email": f"{last_name.lower()}@example.com",
                "AccountId": account,
            },
        )
    base = template("contacts", connection="prod", destinations=["warehouse"], enabled=True)
    fields = [
        *base.model_dump()["fields"],
        {"source": "Account.BillingAddress", "target": "billing"},
    ]
    delivered: dict[ReadApi, dict[str, dict[str, Any]]] = {}
    for api, threshold in ((ReadApi.REST, 1_000_000), (ReadApi.BULK, 0)):
        spec = SyncSpec.model_validate(
            {**base.model_dump(), "name": f"billing-{api.value}", "fields": fields}
        )
        sync_store.add(spec)
        recording = Recording(warehouse)

        summary = sync(spec, [recording], bulk_threshold=threshold, bulk_page_size=40)

        assert summary.status is RunStatus.SUCCEEDED, summary.error
        assert summary.api is api
        # The message id names the sync; everything else must be the same.
        delivered[api] = {
            str(m.to_dict()["userId"]): {k: v for k, v in m.to_dict().items() if k != "messageId"}
            for m in recording.messages
        }
    assert delivered[ReadApi.REST] == delivered[ReadApi.BULK]
    assert len(delivered[ReadApi.REST]) == with_emails(sf_client)
    by_email = {m["traits"]["email"]: m["traits"] for m in delivered[ReadApi.BULK].values()}
    assert by_email["billed@example.com"]["billing"] == {
        "city": "London",
        "country": "UK",
        "geocodeAccuracy": None,
        "latitude": 51.5,
        "longitude": -0.09,
        "postalCode": None,
        "state": None,
        "street": "1 Poultry",
    }
    assert by_email["unbilled@example.com"]["billing"] is None
    assert by_email["unaccounted@example.com"]["billing"] is None


def test_a_bulk_resume_whose_job_was_deleted_reads_the_window_again_over_rest(
    sync: RunSync,
    contacts: SyncSpec,
    sf_client: SalesforceClient,
    sync_store: SyncStore,
    warehouse: WarehouseDestination,
    org_server: RunningEmulator,
) -> None:
    expected = with_emails(sf_client)
    page_size = math.ceil(expected / 3)
    failed = sync(
        contacts,
        [Recording(warehouse, refuse_call=2)],
        bulk_threshold=10,
        page_size=page_size,
        bulk_page_size=page_size,
    )
    assert failed.status is RunStatus.FAILED and failed.api is ReadApi.BULK
    saved = sync_store.cursor(contacts.name)
    assert saved is not None and saved.resume_state is not None
    job_id = saved.resume_state["job_id"]
    assert job_id
    # Salesforce deletes finished jobs after some days; here, at once.
    tokens = sf_client.connect()
    deleted = httpx.delete(
        f"{tokens.instance_url}/services/data/v{DEFAULT_API_VERSION}/jobs/query/{job_id}",
        headers={"Authorization": f"Bearer {tokens.access_token}"},
        verify=org_server.trust(),
    )
    assert deleted.status_code == 204, deleted.text

    resumed = sync(contacts, bulk_threshold=10, page_size=page_size, bulk_page_size=page_size)

    assert resumed.status is RunStatus.SUCCEEDED, resumed.error
    assert resumed.resumed and resumed.window == failed.window
    assert resumed.api is ReadApi.REST
    assert len(resumed.warnings) == 1 and job_id in resumed.warnings[0]
    assert "no longer exists" in (sync_store.runs(contacts.name)[0].error or "")
    assert sync_store.cursor(contacts.name).resume_state is None  # type: ignore[union-attr]
    in_org = {r["Id"] for r in sf_client.query(f"SELECT Id FROM Contact WHERE {FILTER}")}
    with warehouse.engine.connect() as connection:
        assert set(connection.scalars(select(people.c.id))) == in_org
    # The next run goes on from the window's end as usual.
    assert sync(contacts).status is RunStatus.SUCCEEDED


def test_records_that_cannot_be_mapped_are_kept_and_the_run_goes_on(
    sync: RunSync, sync_store: SyncStore, sf_client: SalesforceClient
) -> None:
    # Identified by email with no filter: contacts without one cannot become people.
    spec = SyncSpec.model_validate(
        {
            "name": "by-email",
            "connection": "prod",
            "object": "Contact",
            "format": {"type": "person", "id_field": "Email"},
            "fields": ["LastName"],
            "destinations": ["warehouse"],
        }
    )
    sync_store.add(spec)
    without_email = sf_client.count("Contact", "Email = null")
    assert without_email > 0

    summary = sync(spec)

    assert summary.status is RunStatus.PARTIAL, summary.error
    assert summary.counts.failed == without_email
    assert summary.counts.delivered == with_emails(sf_client)
    kept = sync_store.failures(spec.name)
    assert len(kept) == without_email
    assert all(failure.record_id and "Email" in failure.reason for failure in kept)


def test_records_sharing_one_modstamp_across_pages_are_delivered_exactly_once(
    sync: RunSync,
    contacts: SyncSpec,
    sf_client: SalesforceClient,
    org_server: RunningEmulator,
    warehouse: WarehouseDestination,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Salesforce stamps the rows of one transaction alike; the emulator's
    # clock, frozen, does the same for the whole Bulk job.
    frozen = datetime.now(UTC)
    with monkeypatch.context() as patched:
        patched.setattr(org_server.org.store.clock, "now", lambda: frozen)
        results = sf_client.bulk_ingest(
            "Contact",
            "insert",
            [{"LastName": "Tie", "Email": f"tie{n}@example.com"} for n in range(5_000)],
        )
    assert len(results.job_ids) == 1 and not results.failures
    ties = sf_client.query("SELECT SystemModstamp FROM Contact WHERE LastName = 'Tie'")
    assert len({record["SystemModstamp"] for record in ties}) == 1
    recording = Recording(warehouse)

    summary = sync(contacts, [recording], page_size=1_000)

    expected = with_emails(sf_client)
    assert summary.status is RunStatus.SUCCEEDED, summary.error
    assert summary.counts.delivered == expected
    assert len(recording.settled_ids) == len(set(recording.settled_ids)) == expected
    assert people_count(warehouse) == expected


def test_a_run_with_nothing_new_still_reports_the_calls_it_spent(
    sync: RunSync, sync_store: SyncStore
) -> None:
    spec = template("contacts", connection="prod", destinations=["warehouse"], enabled=True)
    spec = SyncSpec.model_validate(
        {**spec.model_dump(), "name": "nobody", "filter": "Email = 'nobody@nowhere.example'"}
    )
    sync_store.add(spec)
    summary = sync(spec)

    assert summary.status is RunStatus.SUCCEEDED, summary.error
    assert summary.counts.records_read == 0
    latest = sync_store.runs(spec.name)[0]
    assert summary.counts.api_calls == latest.counts.api_calls >= 1
