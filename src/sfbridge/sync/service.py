"""What the ``sfbridge sync`` commands and ``sfbridge apply`` do, as library calls.

The CLI (``cli/sync.py``) only parses options and prints; every decision is
here, so the API and the console can make the same calls::

    spec = build_spec("contacts", connection="prod", template_name="contacts")
    added = add_sync(store, client, spec, project.destination_specs())
    print(added.count, "records on the first run; enable with sfbridge sync resume contacts")

A sync is saved **disabled** (``template()`` does the same): the product's
flow is add, preview, then enable with ``sfbridge sync resume NAME``.

Destinations are named. ``warehouse`` (SQLite at ``<home>/warehouse.sqlite``)
always exists; others are declared in ``sfbridge.yaml`` under
``destinations``, which also declares syncs under ``syncs`` for ``apply``.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sfbridge.connect.salesforce import open_client
from sfbridge.destinations import (
    DeliveryResult,
    Destination,
    DestinationSpec,
    RunInfo,
    WarehouseSpec,
    open_destination,
)
from sfbridge.errors import ConfigError
from sfbridge.messages import Message
from sfbridge.salesforce.client import SalesforceClient
from sfbridge.salesforce.soql_builder import Select
from sfbridge.store.connections import ConnectionStore
from sfbridge.store.object_types import ObjectTypeStore
from sfbridge.store.syncs import RunTrigger, SyncRecord, SyncStore

from .formats import ID_FIELD, ObjectFormat, RelationshipFormat
from .plan import (
    BULK_PAGE_ROWS,
    BULK_THRESHOLD,
    DEFAULT_CURSOR,
    REST_PAGE_ROWS,
    CursorSettings,
    plan_window,
)
from .records import RecordMapper, RecordMappingError
from .replay import ReplaySummary, replay_failures
from .run import RunSummary, run_sync
from .spec import CURSOR_FIELD, SyncSpec
from .spec_check import SpecCheck, check_spec
from .templates import TEMPLATES

WAREHOUSE = "warehouse"
"""The built-in destination: SQLite at ``<home>/warehouse.sqlite``."""
PROJECT_FILE = "sfbridge.yaml"
"""The project file ``apply`` and destination lookups read by default."""


class Project(BaseModel):
    """The contents of ``sfbridge.yaml``: named destinations and declared syncs."""

    model_config = ConfigDict(extra="forbid")

    destinations: dict[str, DestinationSpec] = Field(
        default_factory=dict,
        description=f"Destinations by name; '{WAREHOUSE}' is built in and may be overridden.",
    )
    syncs: list[SyncSpec] = Field(
        default_factory=list, description="Syncs that 'sfbridge apply' creates or updates."
    )

    def destination_specs(self) -> dict[str, DestinationSpec]:
        """Every destination by name: the built-in warehouse, then the declared ones."""
        return {WAREHOUSE: WarehouseSpec(name=WAREHOUSE), **self.destinations}


def config_error(error: ValidationError, where: str) -> ConfigError:
    """A pydantic error as one ConfigError naming each wrong value's location."""
    problems = "\n".join(
        f"  - {'.'.join(str(part) for part in item['loc']) or '(top)'}: {item['msg']}"
        for item in error.errors()
    )
    return ConfigError(f"{where} is not valid:\n{problems}")


def load_project(path: Path, *, required: bool = False) -> Project:
    """Read ``path`` (YAML); an empty project when it is missing and not ``required``."""
    if not path.exists():
        if required:
            raise ConfigError(f"no project file {str(path)!r}; create it or name another one")
        return Project()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    try:
        return Project.model_validate(data)
    except ValidationError as error:
        raise config_error(error, str(path)) from None


def parse_field(text: str) -> dict[str, str]:
    """``"FirstName:first_name"`` (or ``"Email"``) as a field mapping's data."""
    source, _, target = text.partition(":")
    return {"source": source.strip(), "target": target.strip() or source.strip()}


def parse_setting(text: str) -> tuple[list[str], str]:
    """``"object_type.plural=Accounts"`` as its key path and value."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise ConfigError(f"format option {text!r} is not KEY=VALUE, e.g. email_field=Email")
    return key.strip().split("."), value.strip()


def build_spec(
    name: str,
    *,
    connection: str,
    template_name: str | None = None,
    object_name: str | None = None,
    format_type: str | None = None,
    format_options: Sequence[str] = (),
    fields: Sequence[str] = (),
    filter_text: str | None = None,
    interval: str | None = None,
    destinations: Sequence[str] = (WAREHOUSE,),
    delete_policy: str | None = None,
    formula_refresh: str | None = None,
) -> SyncSpec:
    """A disabled sync spec from a template or an object and format, with overrides.

    Given ``fields`` replace the template's; ``format_options`` (``KEY=VALUE``,
    dotted for nested keys) set or change the format's settings.
    """
    data: dict[str, Any]
    if template_name is not None:
        if object_name is not None or format_type is not None:
            raise ConfigError("give --template, or --object with --format, not both")
        chosen = TEMPLATES.get(template_name)
        if chosen is None:
            raise ConfigError(
                f"no sync template {template_name!r}; choose one of: {', '.join(TEMPLATES)}"
            )
        data = {
            "object": chosen.object,
            "format": chosen.format.model_dump(mode="json", exclude_none=True),
            "fields": [m.model_dump(mode="json") for m in chosen.fields],
            "filter": chosen.filter,
        }
    elif object_name is not None and format_type is not None:
        data = {"object": object_name, "format": {"type": format_type}}
    else:
        raise ConfigError(
            "say what to sync: --template (contacts, leads, accounts or a preset) "
            "or --object with --format (person, object, relationship or event)"
        )
    for option in format_options:
        keys, value = parse_setting(option)
        target: dict[str, Any] = data["format"]
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    if fields:
        data["fields"] = [parse_field(text) for text in fields]
    if filter_text is not None:
        data["filter"] = filter_text
    if interval is not None:
        data["interval"] = interval
    if delete_policy is not None:
        data["delete_policy"] = delete_policy
    if formula_refresh is not None:
        data["formula_refresh"] = formula_refresh
    data |= {
        "name": name,
        "connection": connection,
        "destinations": list(destinations),
        "enabled": False,
    }
    try:
        return SyncSpec.model_validate(data)
    except ValidationError as error:
        raise config_error(error, f"sync {name!r}") from None


def check_destinations(spec: SyncSpec, known: Mapping[str, DestinationSpec]) -> None:
    """A ConfigError when ``spec`` names a destination neither built in nor declared."""
    for index, name in enumerate(spec.destinations):
        if name not in known:
            raise ConfigError(
                f"sync {spec.name!r}: destinations[{index}] {name!r} is not a destination; "
                f"use {', '.join(sorted(known))} or declare it in {PROJECT_FILE}"
            )


def count_records(spec: SyncSpec, client: SalesforceClient, check: SpecCheck) -> int:
    """How many records match the spec's filter now: what a first run reads."""
    return client.count(spec.object, None if check.filter is None else check.filter.text)


@dataclass(frozen=True)
class AddedSync:
    """A saved sync, how many records its first run will read, and the check's warnings."""

    record: SyncRecord
    count: int
    warnings: tuple[str, ...]


def add_sync(
    store: SyncStore,
    client: SalesforceClient,
    spec: SyncSpec,
    destinations: Mapping[str, DestinationSpec],
) -> AddedSync:
    """Check ``spec`` against the org and count its records, then save it (nothing if invalid)."""
    check_destinations(spec, destinations)
    check = check_spec(spec, client)
    count = count_records(spec, client, check)
    record = store.add(with_object_type(spec, store))
    return AddedSync(record, count, tuple(str(warning) for warning in check.warnings))


def with_object_type(spec: SyncSpec, store: SyncStore) -> SyncSpec:
    """``spec`` with its object type's id: as given, or found by name, or created if new.

    People and event syncs are returned as they are. See ``store.ObjectTypeStore``.
    """
    if not isinstance(spec.format, ObjectFormat | RelationshipFormat):
        return spec
    kind = spec.format.object_type
    type_id = ObjectTypeStore(store.database).resolve(
        kind.singular, kind.plural, kind.object_type_id
    )
    if type_id == kind.object_type_id:
        return spec
    resolved = spec.format.model_copy(
        update={"object_type": kind.model_copy(update={"object_type_id": type_id})}
    )
    return spec.model_copy(update={"format": resolved})


@dataclass(frozen=True)
class Preview:
    """Sample records as they will be delivered, with the fields read and the total count."""

    sync: str
    fields: tuple[str, ...]
    total: int
    messages: tuple[Message, ...]
    failures: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values for ``--json``."""
        return {
            "sync": self.sync,
            "fields": list(self.fields),
            "total": self.total,
            "messages": [m.to_dict() for m in self.messages],
            "failures": list(self.failures),
        }


def preview_sync(spec: SyncSpec, client: SalesforceClient, limit: int = 5) -> Preview:
    """Read ``limit`` records of ``spec`` and map them exactly as a run would."""
    if limit < 1:
        raise ConfigError(f"limit {limit} must be 1 or more")
    check = check_spec(spec, client)
    query = Select(spec.object).fields(ID_FIELD, CURSOR_FIELD, *spec.read_fields)
    if check.filter is not None:
        query = query.where_raw(check.filter)
    query = query.order_by(CURSOR_FIELD, ID_FIELD).limit(limit)
    mapper = RecordMapper(spec)
    messages: list[Message] = []
    failures: list[str] = []
    for record in client.query(query.soql()):
        try:
            messages += mapper.map(record)
        except RecordMappingError as error:
            failures.append(str(error))
    return Preview(
        spec.name,
        spec.read_fields,
        count_records(spec, client, check),
        tuple(messages),
        tuple(failures),
    )


class ObservedDestination(Destination):
    """A destination that reports each delivered batch's size: the CLI's progress hook."""

    def __init__(self, inner: Destination, on_delivered: Callable[[int], None]) -> None:
        """Wrap ``inner``; ``on_delivered(n)`` after each batch ``inner`` took."""
        self.inner = inner
        self.name = inner.name
        self._on_delivered = on_delivered

    def deliver(self, batch: Sequence[Message]) -> DeliveryResult:
        """Deliver through ``inner`` and report how many it took."""
        result = self.inner.deliver(batch)
        self._on_delivered(len(result.delivered))
        return result

    def close(self) -> None:
        """Close ``inner``."""
        self.inner.close()


def open_destinations(
    spec: SyncSpec, known: Mapping[str, DestinationSpec], run: RunInfo
) -> list[Destination]:
    """The destinations ``spec`` names, opened for ``run`` (closed again if one fails to open)."""
    check_destinations(spec, known)
    if not spec.destinations:
        raise ConfigError(
            f"sync {spec.name!r} has no destinations; add one (for example {WAREHOUSE})"
        )
    opened: list[Destination] = []
    try:
        for name in spec.destinations:
            settings = known[name]
            if settings.name is None:
                settings = settings.model_copy(update={"name": name})
            opened.append(open_destination(settings, run))
    except BaseException:
        for destination in opened:
            destination.close()
        raise
    return opened


@dataclass(frozen=True)
class RunOptions:
    """How one run reads Salesforce: page sizes and when to use Bulk API 2.0.

    Each page is one API call, one delivery and one checkpoint: smaller pages
    checkpoint more often and hold less in memory, at more API calls.
    """

    page_size: int = REST_PAGE_ROWS
    """Records per REST query page, 1 to 2,000 (a REST page holds at most 2,000)."""
    bulk_page_size: int = BULK_PAGE_ROWS
    """Records per Bulk API 2.0 results page."""
    bulk_threshold: int = BULK_THRESHOLD
    """A window of more records than this is read with Bulk API 2.0; 0 always uses Bulk."""

    def __post_init__(self) -> None:
        # Salesforce returns at most 2,000 records per REST query call; a
        # larger page would cost several calls per checkpoint.
        if not 1 <= self.page_size <= REST_PAGE_ROWS:
            raise ConfigError(
                f"page size {self.page_size} is out of range: a REST query page holds "
                f"1 to {REST_PAGE_ROWS} records"
            )
        if self.bulk_page_size < 1:
            raise ConfigError(
                f"Bulk page size {self.bulk_page_size} is out of range: use 1 record or more"
            )
        if self.bulk_threshold < 0:
            raise ConfigError(
                f"Bulk threshold {self.bulk_threshold} is out of range: use 0 (always Bulk) or more"
            )


ProgressHook = Callable[[int, int], None]
"""``hook(records, api_calls)``: records delivered and API calls made so far in a run."""


def destination_run_id(
    name: str,
    store: SyncStore,
    now: datetime,
    *,
    resync: bool = False,
    settings: CursorSettings = DEFAULT_CURSOR,
) -> str:
    """The run id destinations see: the sync's name and the end of the window the run reads.

    The end is the instant the run reads up to, as ``sync runs`` shows it.
    A run that finishes a window an earlier run left unfinished (killed,
    failed) reads that same window and so gets the same id: destinations
    keep a resumed run's id (the jsonl destination appends to its file).
    The store's run id cannot serve: it exists only once the run started,
    after the destinations were opened.
    """
    saved = None if resync else store.cursor(name)
    if saved is not None and saved.resume_state is not None:
        # Every run since the window was cut short has read that window
        # (run_sync takes it from the resume state), so the newest run's
        # window is the one this run finishes.
        newest = store.runs(name, limit=1)
        if newest:
            return _run_id(name, newest[0].window_end)
    return _run_id(name, plan_window(None if saved is None else saved.cursor, now, settings).end)


def replay_named(
    name: str,
    *,
    store: SyncStore,
    connections: ConnectionStore,
    known: Mapping[str, DestinationSpec],
    home: Path,
    record_ids: Collection[str] = (),
) -> ReplaySummary:
    """Replay the failed records the sync called ``name`` kept (``replay.replay_failures``)."""
    spec = store.get(name).spec
    info = RunInfo(sync=name, run_id=f"{_run_id(name, datetime.now(UTC))}-replay", home=home)
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(open_client(connections, spec.connection))
        destinations = [stack.enter_context(d) for d in open_destinations(spec, known, info)]
        return replay_failures(
            spec, client=client, destinations=destinations, store=store, record_ids=record_ids
        )


def _run_id(name: str, window_end: datetime) -> str:
    end = window_end.astimezone(UTC)
    return f"{name}-{end:%Y%m%dT%H%M%S}.{end.microsecond // 1000:03d}Z"


def run_named(
    name: str,
    *,
    store: SyncStore,
    connections: ConnectionStore,
    known: Mapping[str, DestinationSpec],
    home: Path,
    trigger: RunTrigger = RunTrigger.MANUAL,
    resync: bool = False,
    options: RunOptions = RunOptions(),
    progress: ProgressHook | None = None,
) -> RunSummary:
    """Run the sync called ``name`` once now, paused or not: open its client and destinations.

    ``progress`` hears after every batch the first destination took (each
    destination gets every record, so that is the run's progress).
    """
    spec = store.get(name).spec
    # One instant both names the run (its window's end) and cuts its window.
    started = datetime.now(UTC)
    run_id = destination_run_id(name, store, started, resync=resync)
    info = RunInfo(sync=name, run_id=run_id, home=home)
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(open_client(connections, spec.connection))
        destinations = [stack.enter_context(d) for d in open_destinations(spec, known, info)]
        if progress is not None:
            delivered = 0

            def on_delivered(count: int) -> None:
                nonlocal delivered
                delivered += count
                progress(delivered, client.api_calls)

            destinations[0] = ObservedDestination(destinations[0], on_delivered)
        return run_sync(
            spec,
            client=client,
            destinations=destinations,
            state=store,
            now=lambda: started,
            page_size=options.page_size,
            bulk_page_size=options.bulk_page_size,
            bulk_threshold=options.bulk_threshold,
            resync=resync,
            trigger=trigger,
        )


def failure_reasons(store: SyncStore, name: str) -> dict[str, int]:
    """How many kept failed records of ``name`` there are, by reason, most common first."""
    return dict(Counter(failure.reason for failure in store.failures(name)).most_common())


def resume_sync(store: SyncStore, name: str) -> SyncRecord:
    """Enable ``name``; a ConfigError when it has nowhere to deliver."""
    if not store.get(name).spec.destinations:
        raise ConfigError(f"sync {name!r} has no destinations; add one before resuming it")
    return store.set_enabled(name, True)


class Applied(StrEnum):
    """What ``apply_project`` did with one sync, declared or not."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    """Saved but not declared, and removed (``prune``)."""
    NOT_DECLARED = "not declared"
    """Saved but not declared, and kept (no ``prune``)."""


def apply_project(
    project: Project,
    store: SyncStore,
    client_for: Callable[[str], SalesforceClient],
    *,
    prune: bool = False,
) -> list[tuple[str, Applied]]:
    """Create or update every sync ``project`` declares, after checking all of them.

    ``client_for(connection)`` gives a client on a connection. Nothing is
    saved unless every sync fits its org and names known destinations.
    Saved syncs the project does not declare are reported after the declared
    ones, by name; with ``prune`` they are removed with their cursor, runs
    and failed records, as ``sfbridge sync remove`` does.
    """
    known = project.destination_specs()
    names = [spec.name for spec in project.syncs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"sync {repeated[0]!r} is declared twice; declare each sync once")
    for index, spec in enumerate(project.syncs):
        try:
            check_destinations(spec, known)
            check_spec(spec, client_for(spec.connection))
        except ConfigError as error:
            raise ConfigError(f"syncs[{index}]: {error}") from None
    existing = {record.name: record for record in store.list()}
    outcomes: list[tuple[str, Applied]] = []
    for declared in project.syncs:
        spec = with_object_type(declared, store)
        current = existing.get(spec.name)
        if current is None:
            store.add(spec)
            outcomes.append((spec.name, Applied.CREATED))
        elif current.spec == spec:
            outcomes.append((spec.name, Applied.UNCHANGED))
        else:
            store.update(spec)
            outcomes.append((spec.name, Applied.UPDATED))
    for name in sorted(existing.keys() - set(names)):
        if prune:
            store.remove(name)
        outcomes.append((name, Applied.REMOVED if prune else Applied.NOT_DECLARED))
    return outcomes
