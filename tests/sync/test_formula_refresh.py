"""The formula refresh: fields that change without SystemModstamp reach the destination.

The emulated org's Contact gets a formula field, ``Score__c``: Salesforce
computes a formula when it is read, so a test changes its stored value
directly, leaving SystemModstamp as it was. ``Account.Name`` read through
the Contact's lookup is the other kind: renaming the Account does not
touch its Contacts. Each test has its own store and warehouse, and runs on
a clock it moves by hand (``now``), so a day passes in an instant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from sfbridge.emulators.salesforce.schema import FieldDef, field_describe
from sfbridge.emulators.salesforce.server import RunningEmulator, start_emulator
from sfbridge.messages import Identify, Message
from sfbridge.salesforce import ClientCredentialsGrant, HttpOptions, OAuthSession, SalesforceClient
from sfbridge.store import Database, RunStatus, SyncStore
from sfbridge.sync import CursorSettings, ReadApi, RecordMapper, RunSummary, SyncSpec, run_sync
from sfbridge.sync.formula_refresh import RefreshMapper, refresh_due, refresh_spec

FILTER = "Email != null"
# Reads up to the clock: a window ends at the run's "now".
NO_SETTLE = CursorSettings(overlap=timedelta(minutes=10), settle=timedelta(0))
DAY = timedelta(hours=24)


def contacts_spec(**changes: Any) -> SyncSpec:
    """Contacts as people, with a formula field and a field through a lookup, refreshed daily."""
    return SyncSpec.model_validate(
        {
            "name": "contacts",
            "connection": "prod",
            "object": "Contact",
            "format": {"type": "person", "id_field": "Id", "email_field": "Email"},
            "fields": [
                {"source": "LastName", "target": "last_name"},
                {"source": "Title", "target": "title"},
                {"source": "Account.Name", "target": "company"},
                {"source": "Score__c", "target": "score"},
            ],
            "filter": FILTER,
            "destinations": ["warehouse"],
            "formula_refresh": "24h",
            **changes,
        }
    )


# -- deciding and mapping, no org ----------------------------------------------

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "last", "now", "due"),
    [
        ({}, None, T0, True),
        ({}, T0, T0 + DAY - timedelta(seconds=1), False),
        ({}, T0, T0 + DAY, True),
        ({"formula_refresh": None}, None, T0, False),
        (
            {
                "object": "Task",
                "format": {"type": "event", "name": "Task Completed", "person_field": "WhoId"},
                "fields": ["Subject"],
                "filter": None,
            },
            None,
            T0,
            False,
        ),
    ],
)
def test_a_refresh_is_due_once_formula_refresh_has_passed_and_never_for_events(
    changes: dict[str, Any], last: datetime | None, now: datetime, due: bool
) -> None:
    assert refresh_due(contacts_spec(**changes), last, now) is due


def test_the_refresh_spec_keeps_the_identifiers_and_only_the_refreshed_fields() -> None:
    spec = refresh_spec(contacts_spec(), ["account.name", "Score__c"])

    assert spec is not None
    assert [m.target for m in spec.fields] == ["company", "score"]
    assert spec.read_fields == ("Id", "SystemModstamp", "Email", "Account.Name", "Score__c")
    assert refresh_spec(contacts_spec(), ["MailingCity"]) is None


RECORD = {
    "attributes": {"type": "Contact"},
    "Id": "0038c0000000001AAA",
    "SystemModstamp": "2025-02-01T10:00:00.000+0000",
    "Email": "ada@example.com",
    "LastName": "Lovelace",
    "Title": "Analyst",
    "Account": {"attributes": {"type": "Account"}, "Name": "Engines Ltd"},
    "Score__c": 42.0,
}


def test_a_refresh_message_carries_only_the_refreshed_attributes_under_a_new_id() -> None:
    spec = contacts_spec()
    narrow = refresh_spec(spec, ["Account.Name", "Score__c"])
    assert narrow is not None

    (usual,) = RecordMapper(spec).map(RECORD)
    (refreshed,) = RefreshMapper(narrow, as_of=T0).map(RECORD)
    (again,) = RefreshMapper(narrow, as_of=T0).map(RECORD)
    (next_day,) = RefreshMapper(narrow, as_of=T0 + DAY).map(RECORD)

    assert isinstance(refreshed, Identify)
    assert refreshed.user_id == "0038c0000000001AAA"
    assert refreshed.traits == {"company": "Engines Ltd", "score": 42, "email": "ada@example.com"}
    # The same refresh resumed sends the same ids; the next one, and the record's own, differ.
    assert refreshed.message_id == again.message_id
    assert len({usual.message_id, refreshed.message_id, next_day.message_id}) == 3
    origin = refreshed.salesforce
    assert origin is not None and (origin.id, origin.record) == ("0038c0000000001AAA", {})
    assert refreshed.to_dict()["messageId"] == refreshed.message_id


# -- runs against the emulated org ---------------------------------------------


@pytest.fixture(scope="module")
def org_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An emulated org of about 100 contacts whose Contact has a formula field, Score__c."""
    running = start_emulator(tmp_path_factory.mktemp("formula-org"), seed="tiny", seed_value=5)
    running.org.faults.settings.daily_api_limit = 10_000_000
    contact = running.org.object("Contact")
    contact.add_field(FieldDef(field_describe("Score__c", "double", calculated=True)))
    running.org.store.ensure_table(contact)
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
    """A sync store on a fresh state database, holding the contacts sync."""
    for variable in ("SFBRIDGE_HOME", "SFBRIDGE_DATABASE_URL", "SFBRIDGE_SECRET_KEY"):
        monkeypatch.delenv(variable, raising=False)
    with Database.open(Settings(home=tmp_path / "home")) as database:
        store = SyncStore(database)
        store.add(contacts_spec())
        yield store


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[WarehouseDestination]:
    """A warehouse destination on a fresh SQLite file."""
    spec = WarehouseSpec(url=f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    with WarehouseDestination.open(spec, RunInfo("contacts", "1", tmp_path)) as destination:
        yield destination


class Clock:
    """The runs' clock, moved by hand from the real time the test starts."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Recording(Destination):
    """Passes batches on to ``inner``, keeping the messages it settled.

    With ``refuse_call`` set, that call (1-based) is refused as retriable,
    as a destination that is down answers; nothing reaches ``inner``.
    """

    def __init__(self, inner: Destination, refuse_call: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.refuse_call = refuse_call
        self.calls = 0
        self.settled: list[Message] = []

    def deliver(self, batch: Sequence[Message]) -> DeliveryResult:
        self.calls += 1
        if self.calls == self.refuse_call:
            refused = [
                MessageOutcome.failed(m.message_id, "connection refused", retriable=True)
                for m in batch
            ]
            return DeliveryResult(self.name, tuple(refused))
        result = self.inner.deliver(batch)
        delivered = set(result.delivered)
        self.settled += [m for m in batch if m.message_id in delivered]
        return result

    def close(self) -> None:
        self.inner.close()


RunSync = Callable[..., RunSummary]


@pytest.fixture
def sync(
    sf_client: SalesforceClient,
    sync_store: SyncStore,
    warehouse: WarehouseDestination,
    clock: Clock,
) -> RunSync:
    """``sync(destinations=..., **options)``: one run of the contacts sync at the clock's time."""

    def run(destinations: Sequence[Destination] = (), **options: Any) -> RunSummary:
        return run_sync(
            options.pop("spec", contacts_spec()),
            client=sf_client,
            destinations=list(destinations) or [warehouse],
            state=sync_store,
            settings=NO_SETTLE,
            now=clock,
            **options,
        )

    return run


def person(warehouse: WarehouseDestination, person_id: str) -> dict[str, Any]:
    with warehouse.engine.connect() as connection:
        row = connection.execute(select(people).where(people.c.id == person_id)).first()
    assert row is not None, person_id
    return dict(row.traits)


def org_contacts(client: SalesforceClient) -> dict[str, dict[str, Any]]:
    """The contacts the sync sends, by Id, as the org reads them now."""
    query = f"SELECT Id, SystemModstamp, Account.Name, Score__c FROM Contact WHERE {FILTER}"
    return {record["Id"]: record for record in client.query(query)}


def change_formulas(
    org: RunningEmulator, client: SalesforceClient, score: float, company: str
) -> str:
    """Give every contact Score__c ``score`` and rename one account ``company``; its id.

    Neither touches a contact's SystemModstamp: a formula's value changes when
    what it reads does, and the account is another record.
    """
    before = org_contacts(client)
    org.org.store.execute('UPDATE "Contact" SET "Score__c" = ?', (score,))
    account_id = next(
        record["AccountId"]
        for record in client.query(f"SELECT AccountId FROM Contact WHERE {FILTER}")
        if record["AccountId"]
    )
    client.update("Account", account_id, {"Name": company})
    after = org_contacts(client)
    assert {i: r["SystemModstamp"] for i, r in after.items()} == {
        i: r["SystemModstamp"] for i, r in before.items()
    }
    return str(account_id)


def assert_warehouse_matches_org(warehouse: WarehouseDestination, client: SalesforceClient) -> None:
    for record_id, record in org_contacts(client).items():
        traits = person(warehouse, record_id)
        account = record["Account"]
        assert traits.get("company") == (None if account is None else account["Name"])
        assert traits.get("score") == record["Score__c"]


def test_a_formula_change_is_missed_by_incremental_runs_and_delivered_by_the_refresh(
    sync: RunSync,
    sync_store: SyncStore,
    sf_client: SalesforceClient,
    org_server: RunningEmulator,
    warehouse: WarehouseDestination,
    clock: Clock,
) -> None:
    first = sync()
    assert first.status is RunStatus.SUCCEEDED, first.error
    # A first run reads every field of every record: a refresh in itself.
    assert first.counts.refreshed == 0 and first.refresh_api is None
    saved = sync_store.cursor("contacts")
    assert saved is not None and saved.formula_refreshed_at == first.window.end
    someone = next(iter(org_contacts(sf_client)))
    kept = person(warehouse, someone)

    change_formulas(org_server, sf_client, 7.5, "Renamed Holdings")
    clock.now += timedelta(hours=1)
    incremental = sync()

    assert incremental.status is RunStatus.SUCCEEDED, incremental.error
    assert (incremental.counts.delivered, incremental.counts.refreshed) == (0, 0)
    assert person(warehouse, someone) == kept  # stale: SystemModstamp did not move

    clock.now += DAY
    recording = Recording(warehouse)
    refreshing = sync([recording])

    expected = len(org_contacts(sf_client))
    assert refreshing.status is RunStatus.SUCCEEDED, refreshing.error
    assert refreshing.refresh_api is ReadApi.REST
    assert refreshing.counts.refreshed == expected
    assert (refreshing.counts.records_read, refreshing.counts.delivered) == (0, 0)
    assert sync_store.runs("contacts")[0].counts.refreshed == expected
    assert sync_store.cursor("contacts").formula_refreshed_at == refreshing.window.end  # type: ignore[union-attr]
    assert_warehouse_matches_org(warehouse, sf_client)
    # Only the refreshed attributes travel; identify merges them into the rest.
    assert len(recording.settled) == expected
    for message in recording.settled:
        assert isinstance(message, Identify)
        assert set(message.traits) <= {"company", "score", "email"}
    now = person(warehouse, someone)
    assert now["score"] == 7.5
    unrefreshed = {"last_name", "title", "email"}
    assert {k: now.get(k) for k in unrefreshed} == {k: kept.get(k) for k in unrefreshed}


def test_a_refresh_is_not_repeated_before_formula_refresh_has_passed(
    sync: RunSync,
    sf_client: SalesforceClient,
    org_server: RunningEmulator,
    warehouse: WarehouseDestination,
    clock: Clock,
) -> None:
    sync()
    clock.now += DAY
    first = Recording(warehouse)
    assert sync([first]).counts.refreshed > 0

    change_formulas(org_server, sf_client, 11, "Second Holdings")
    for hours in (1, 12, 23):
        clock.now += timedelta(hours=1 if hours == 1 else 11)
        quiet = sync()
        assert quiet.status is RunStatus.SUCCEEDED, quiet.error
        assert quiet.counts.refreshed == 0 and quiet.refresh_api is None
    clock.now += timedelta(hours=1)
    second = Recording(warehouse)
    again = sync([second])

    assert again.counts.refreshed == len(org_contacts(sf_client))
    # A new refresh, new message ids: destinations that drop repeats take it.
    assert not {m.message_id for m in first.settled} & {m.message_id for m in second.settled}
    assert_warehouse_matches_org(warehouse, sf_client)


@pytest.mark.parametrize("api", [ReadApi.REST, ReadApi.BULK])
def test_a_refresh_that_failed_mid_way_is_finished_by_the_next_run(
    api: ReadApi,
    sync: RunSync,
    sync_store: SyncStore,
    sf_client: SalesforceClient,
    org_server: RunningEmulator,
    warehouse: WarehouseDestination,
    clock: Clock,
) -> None:
    expected = len(org_contacts(sf_client))
    page_size = math.ceil(expected / 4)
    sizes: dict[str, Any] = {"page_size": page_size, "bulk_page_size": page_size}
    if api is ReadApi.BULK:
        sizes["bulk_threshold"] = 10
    first = sync(**sizes)
    change_formulas(org_server, sf_client, 3 if api is ReadApi.REST else 4, f"Resumed {api}")
    clock.now += DAY
    # Nothing changed in the window: the refresh's pages are the only deliveries.
    failing = Recording(warehouse, refuse_call=3)

    failed = sync([failing], **sizes)

    assert failed.status is RunStatus.FAILED
    assert failed.error is not None and "connection refused" in failed.error
    assert failed.refresh_api is api
    assert failed.counts.refreshed == 2 * page_size
    saved = sync_store.cursor("contacts")
    assert saved is not None and saved.resume_state is not None
    assert saved.resume_state["phase"] == "refresh"
    # Neither the cursor nor the refresh time moves before the refresh is done.
    assert (saved.cursor, saved.formula_refreshed_at) == (first.window.end, first.window.end)

    clock.now += timedelta(minutes=5)
    healthy = Recording(warehouse)
    resumed = sync([healthy], **sizes)

    assert resumed.status is RunStatus.SUCCEEDED, resumed.error
    assert resumed.resumed and resumed.window == failed.window
    assert resumed.refresh_api is api
    assert resumed.counts.refreshed == expected - 2 * page_size
    settled = [m.message_id for m in failing.settled + healthy.settled]
    assert len(settled) == len(set(settled)) == expected
    saved = sync_store.cursor("contacts")
    assert saved is not None and saved.resume_state is None
    assert (saved.cursor, saved.formula_refreshed_at) == (failed.window.end, failed.window.end)
    assert_warehouse_matches_org(warehouse, sf_client)


def test_an_event_sync_never_refreshes_and_never_sends_an_event_twice(
    sync: RunSync,
    sync_store: SyncStore,
    sf_client: SalesforceClient,
    warehouse: WarehouseDestination,
    clock: Clock,
) -> None:
    spec = SyncSpec.model_validate(
        {
            "name": "tasks",
            "connection": "prod",
            "object": "Task",
            "format": {"type": "event", "name": "Task Completed", "person_field": "WhoId"},
            # Read through a lookup: what formula_refresh would re-read.
            "fields": ["Subject", {"source": "CreatedBy.Name", "target": "created_by"}],
            "filter": "IsClosed = true AND WhoId != null",
            "destinations": ["warehouse"],
            "formula_refresh": "24h",
        }
    )
    sync_store.add(spec)
    first = sync(spec=spec)
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert first.counts.delivered == sf_client.count("Task", spec.filter or "")

    clock.now += 2 * DAY
    recording = Recording(warehouse)
    later = sync([recording], spec=spec)

    assert later.status is RunStatus.SUCCEEDED, later.error
    assert later.refresh_api is None
    assert (later.counts.delivered, later.counts.refreshed) == (0, 0)
    assert recording.calls == 0
