"""run_sync over REST on an object too wide for one query URL (pain point 4, "URI Too Long").

The module's org gets 360 custom text fields with 40-character names on
Contact: a SELECT of them all makes a URL of about 17 KB, which the emulator,
like an org, refuses with 414. A sync reading them all reads each keyset page
in parts (``plan.split_fields``) and stitches them by Id. Each test writes its
own contacts (its own LastName) and runs a fresh client, so its API calls
count from zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sfbridge.config import Settings
from sfbridge.destinations import RunInfo, WarehouseDestination, WarehouseSpec
from sfbridge.destinations.warehouse_schema import people
from sfbridge.emulators.salesforce.server import RunningEmulator, start_emulator
from sfbridge.salesforce import (
    ClientCredentialsGrant,
    HttpOptions,
    OAuthSession,
    SalesforceClient,
    SalesforceConfigError,
)
from sfbridge.salesforce.rest import Record
from sfbridge.store import Database, RunStatus, SyncStore
from sfbridge.sync import CursorSettings, ReadApi, RunSummary, SyncSpec, run_sync
from sfbridge.sync.plan import split_fields

# Reads up to now: records written just before a run are in its window.
NO_SETTLE = CursorSettings(overlap=timedelta(minutes=10), settle=timedelta(0))
WIDE_FIELDS = [f"Wide_Attribute_Number_{i:03d}_For_Url_Budget__c" for i in range(360)]
PAGE = 50
DEFERRED = (
    "{count} record(s) changed between the 2 queries that read each page of the window; "
    "left for the next run, which reads them whole"
)


@pytest.fixture(scope="module")
def org_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An emulated org whose Contact and Account have the 360 wide fields."""
    running = start_emulator(tmp_path_factory.mktemp("wide-org"), seed="tiny", seed_value=7)
    running.org.faults.settings.daily_api_limit = 10_000_000
    with connect(running) as admin:
        for object_name in ("Contact", "Account"):
            for index, name in enumerate(WIDE_FIELDS):
                admin.create_custom_field(
                    object_name, name, "Text", label=f"Wide {index}", length=40
                )
    yield running
    running.stop()


def connect(org: RunningEmulator) -> SalesforceClient:
    """A new client of ``org``: no describe cached, no API call counted yet."""
    grant = ClientCredentialsGrant(org.credentials.client_id, org.credentials.client_secret)
    return SalesforceClient(
        OAuthSession(org.login_url, grant), http=HttpOptions(verify=org.trust())
    )


@pytest.fixture
def admin(org_server: RunningEmulator) -> Iterator[SalesforceClient]:
    """A client that writes to and reads the org for a test, apart from the runs."""
    with connect(org_server) as client:
        yield client


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
    with WarehouseDestination.open(spec, RunInfo("wide", "1", tmp_path)) as destination:
        yield destination


def wide_spec(last_name: str, sync_filter: str | None = None) -> SyncSpec:
    """A person sync of the contacts named ``last_name``, sending every wide field as w000..."""
    return SyncSpec.model_validate(
        {
            "name": last_name.lower(),
            "connection": "prod",
            "object": "Contact",
            "format": {"type": "person", "id_field": "Id", "email_field": "Email"},
            # Short targets keep a message under the 32 KB limit.
            "fields": [
                {"source": name, "target": f"w{index:03d}"}
                for index, name in enumerate(WIDE_FIELDS)
            ],
            "filter": sync_filter or f"LastName = '{last_name}'",
            "destinations": ["warehouse"],
        }
    )


def wide_contacts(admin: SalesforceClient, last_name: str, count: int, **fields: Any) -> list[str]:
    """``count`` contacts with a value in every wide field; their ids, oldest first."""
    rows = [
        {
            "LastName": last_name,
            "Email": f"{last_name.lower()}{n}@example.com",
            **{name: f"{n}-{i}" for i, name in enumerate(WIDE_FIELDS)},
            **fields,
        }
        for n in range(count)
    ]
    written = admin.bulk_ingest("Contact", "insert", rows)
    assert not written.failures
    return [str(result.id) for result in written.results]


def run(
    org: RunningEmulator,
    spec: SyncSpec,
    store: SyncStore,
    warehouse: WarehouseDestination,
    client: SalesforceClient | None = None,
    **options: Any,
) -> RunSummary:
    """One run over REST, ``PAGE`` records a page, with a new client unless one is given."""
    with client or connect(org) as reader:
        return run_sync(
            spec,
            client=reader,
            destinations=[warehouse],
            state=store,
            settings=options.pop("settings", NO_SETTLE),
            now=options.pop("now", lambda: datetime.now(UTC)),
            page_size=PAGE,
            bulk_threshold=1_000_000,
            **options,
        )


def in_org(admin: SalesforceClient, sync_filter: str) -> dict[str, Record]:
    """Every wide field of the matching contacts by Id, read with Bulk (its query is a body)."""
    soql = f"SELECT Id, Email, {', '.join(WIDE_FIELDS)} FROM Contact WHERE {sync_filter}"
    return {str(r["Id"]): r for r in admin.bulk_query(soql).records()}


def in_warehouse(warehouse: WarehouseDestination, ids: Sequence[str]) -> dict[str, Any]:
    with warehouse.engine.connect() as connection:
        rows = connection.execute(select(people).where(people.c.id.in_(list(ids))))
        return {row.id: dict(row.traits) for row in rows}


def expected_traits(record: Record) -> dict[str, Any]:
    """The traits a person made of ``record`` has: every wide field renamed, and the email."""
    traits = {f"w{index:03d}": record[name] for index, name in enumerate(WIDE_FIELDS)}
    return {**traits, "email": record["Email"]}


def assert_equal_to_org(
    warehouse: WarehouseDestination, admin: SalesforceClient, sync_filter: str
) -> None:
    expected = in_org(admin, sync_filter)
    held = in_warehouse(warehouse, list(expected))
    assert held.keys() == expected.keys()
    for record_id, record in expected.items():
        assert held[record_id] == expected_traits(record), record_id


def test_a_sync_wider_than_a_query_url_reads_each_page_in_parts(
    org_server: RunningEmulator,
    admin: SalesforceClient,
    sync_store: SyncStore,
    warehouse: WarehouseDestination,
) -> None:
    spec = wide_spec("Wide")
    sync_store.add(spec)
    wide_contacts(admin, "Wide", 120)
    # One query for every field is refused, as an org refuses it.
    with pytest.raises(SalesforceConfigError, match="URI_TOO_LONG"):
        list(admin.query(f"SELECT {', '.join(spec.read_fields)} FROM Contact LIMIT 1"))
    groups = split_fields(spec.read_fields)
    assert len(groups) == 2

    summary = run(org_server, spec, sync_store, warehouse)

    assert summary.status is RunStatus.SUCCEEDED, summary.error
    assert summary.api is ReadApi.REST
    assert summary.counts.records_read == summary.counts.delivered == 120
    assert summary.warnings == ()
    # 120 records are 3 pages of 50, each read in both parts; besides them,
    # Contact's describe and the COUNT() that chose REST.
    assert summary.counts.api_calls == len(groups) * 3 + 2
    assert_equal_to_org(warehouse, admin, spec.filter or "")


class WritingBetweenParts(SalesforceClient):
    """A client that writes to the org once, right after the first part of a page is read.

    ``first_field`` is a field only the first part selects; ``write`` gets
    that part's rows and makes its write with another client.
    """

    def __init__(
        self, org: RunningEmulator, first_field: str, write: Callable[[list[Record]], None]
    ) -> None:
        grant = ClientCredentialsGrant(org.credentials.client_id, org.credentials.client_secret)
        super().__init__(OAuthSession(org.login_url, grant), http=HttpOptions(verify=org.trust()))
        self.first_field = first_field
        self.write = write
        self.written = False

    def query(self, soql: str, *, batch_size: int | None = None) -> Iterator[Record]:
        rows = list(super().query(soql, batch_size=batch_size))
        if not self.written and self.first_field in soql:
            self.written = True
            self.write(rows)
        return iter(rows)


def test_a_record_changed_between_part_reads_arrives_whole_with_the_next_run(
    org_server: RunningEmulator,
    admin: SalesforceClient,
    sync_store: SyncStore,
    warehouse: WarehouseDestination,
) -> None:
    spec = wide_spec("WideChanged")
    sync_store.add(spec)
    ids = wide_contacts(admin, "WideChanged", 120)
    groups = split_fields(spec.read_fields)
    last_field = groups[-1][-1]
    changed: list[str] = []

    def change_one(rows: list[Record]) -> None:
        changed.append(str(rows[10]["Id"]))
        admin.update("Contact", changed[0], {last_field: "changed mid-read"})

    first = run(
        org_server,
        spec,
        sync_store,
        warehouse,
        WritingBetweenParts(org_server, groups[0][2], change_one),
    )

    assert first.status is RunStatus.SUCCEEDED, first.error
    # The first part read the old version, the second found it gone from the
    # window (its new stamp is past the window's end): rather than half old,
    # half new, the record is left for the next run.
    assert first.counts.delivered == 119
    assert first.warnings == (DEFERRED.format(count=1),)
    held = in_warehouse(warehouse, ids)
    assert changed[0] not in held and len(held) == 119

    second = run(org_server, spec, sync_store, warehouse)

    assert second.status is RunStatus.SUCCEEDED, second.error
    assert second.counts.delivered == 1  # the overlap's 119 others were sent already
    traits = in_warehouse(warehouse, changed)[changed[0]]
    assert traits[f"w{WIDE_FIELDS.index(last_field):03d}"] == "changed mid-read"
    assert_equal_to_org(warehouse, admin, spec.filter or "")


def test_records_entering_the_filter_between_part_reads_push_no_other_record_out(
    org_server: RunningEmulator,
    admin: SalesforceClient,
    sync_store: SyncStore,
    warehouse: WarehouseDestination,
) -> None:
    # The filter follows a lookup: renaming an Account brings its contacts into
    # the filter without changing their SystemModstamp. Renamed between the
    # part reads, its 5 contacts (older than the others, so first in the
    # order) are in the second part only, and push the first part's last 5
    # past the second part's limit.
    sync_filter = "LastName = 'WideJoin' AND Account.Name = 'Wide Join Co'"
    spec = wide_spec("WideJoin", sync_filter)
    sync_store.add(spec)
    elsewhere = admin.create("Account", {"Name": "Wide Join Elsewhere"})
    joining = wide_contacts(admin, "WideJoin", 5, AccountId=elsewhere)
    company = admin.create("Account", {"Name": "Wide Join Co"})
    members = wide_contacts(admin, "WideJoin", 2 * PAGE, AccountId=company)
    groups = split_fields(spec.read_fields)

    def rename(rows: list[Record]) -> None:
        admin.update("Account", elsewhere, {"Name": "Wide Join Co"})

    renaming = WritingBetweenParts(org_server, groups[0][2], rename)
    first = run(org_server, spec, sync_store, warehouse, renaming)

    assert first.status is RunStatus.SUCCEEDED, first.error
    # Every member is delivered: a page that went on after the first part's
    # last key would have skipped, for good, the 5 the second part could not hold.
    assert first.counts.delivered == 2 * PAGE
    assert in_warehouse(warehouse, members).keys() == set(members)
    assert first.warnings == (DEFERRED.format(count=5),)
    assert in_warehouse(warehouse, joining) == {}
    # Their stamps did not change: the next window's overlap reads them (they
    # are minutes old), as it reads a record committed late.
    second = run(org_server, spec, sync_store, warehouse)
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert second.counts.delivered == 5
    assert_equal_to_org(warehouse, admin, sync_filter)


def test_a_formula_refresh_wider_than_a_query_url_reads_each_page_in_parts(
    org_server: RunningEmulator,
    admin: SalesforceClient,
    sync_store: SyncStore,
    warehouse: WarehouseDestination,
) -> None:
    # Every field is read through the Account lookup: the refresh re-reads them all.
    spec = SyncSpec.model_validate(
        {
            **wide_spec("WideRefresh").model_dump(),
            "fields": [
                {"source": f"Account.{name}", "target": f"a{index:03d}"}
                for index, name in enumerate(WIDE_FIELDS)
            ],
            "formula_refresh": "1h",
        }
    )
    sync_store.add(spec)
    company = admin.create("Account", {"Name": "Wide Refresh Co"})
    ids = wide_contacts(admin, "WideRefresh", PAGE + 10, AccountId=company)
    # No overlap: the second window reads none of the contacts, the refresh all of them.
    settings = CursorSettings(overlap=timedelta(0), settle=timedelta(0))
    first = run(org_server, spec, sync_store, warehouse, settings=settings)
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert first.counts.delivered == PAGE + 10
    admin.update("Account", company, {name: f"new-{i}" for i, name in enumerate(WIDE_FIELDS)})

    later = datetime.now(UTC) + timedelta(hours=2)  # the refresh is due
    second = run(org_server, spec, sync_store, warehouse, settings=settings, now=lambda: later)

    assert second.status is RunStatus.SUCCEEDED, second.error
    assert second.refresh_api is ReadApi.REST and second.warnings == ()
    assert second.counts.delivered == 0 and second.counts.refreshed == PAGE + 10
    expected = {f"a{i:03d}": f"new-{i}" for i in range(len(WIDE_FIELDS))}
    for record_id, traits in in_warehouse(warehouse, ids).items():
        assert {key: traits[key] for key in expected} == expected, record_id
