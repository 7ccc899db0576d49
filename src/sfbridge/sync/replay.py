"""Replaying kept failed records: read them again from Salesforce and deliver them.

A record that failed during a run (it could not be mapped, or a destination
refused its message for good) is kept with its reason (``SyncStore.failures``)
and the run goes on. Once the cause is fixed (the record's data in
Salesforce, the sync's mapping, the destination), ``replay_failures`` reads
each such record again by Id, builds its messages with the sync's current
spec and delivers them: to the destination that refused them, or to every
destination of the sync when the record failed before delivery::

    summary = replay_failures(spec, client=client, destinations=opened, store=store)
    summary.replayed, summary.still_failing   # 12, {"003...": "has no person id: ..."}

Records that go through are marked replayed. A record the sync would no
longer send (deleted under the ``ignore`` policy, or out of the filter now)
is marked replayed too and counted as skipped, so it does not come back. The
others stay kept; ``still_failing`` says why each failed this time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sfbridge.destinations import Destination
from sfbridge.errors import ConfigError
from sfbridge.messages import Message
from sfbridge.salesforce.client import SalesforceClient
from sfbridge.salesforce.rest import Record
from sfbridge.salesforce.soql_builder import F, Select
from sfbridge.store.syncs import FailedRecord, SyncStore

from .deletes import DeletedRecord, delete_messages
from .formats import ID_FIELD
from .plan import record_key
from .records import RecordMapper, RecordMappingError
from .spec import CURSOR_FIELD, DeletePolicy, SyncSpec
from .spec_check import check_spec

# Ids per query: 200 quoted 18-character ids keep the URL near 5,000 characters.
IDS_PER_QUERY = 200


@dataclass(frozen=True)
class ReplaySummary:
    """What one replay did."""

    replayed: int = 0
    """Kept records that reached every destination they had failed for."""
    skipped: int = 0
    """Kept records the sync would no longer send (deleted or out of the filter): let go."""
    still_failing: dict[str, str] = field(default_factory=dict)
    """Record id -> why it failed again; these stay kept."""
    api_calls: int = 0


def replay_failures(
    spec: SyncSpec,
    *,
    client: SalesforceClient,
    destinations: Sequence[Destination],
    store: SyncStore,
    record_ids: Collection[str] = (),
    object_type_id: str | None = None,
) -> ReplaySummary:
    """Read the kept failed records of ``spec`` again and deliver them; see the module docstring.

    ``record_ids`` limits the replay to those records; ``object_type_id`` is
    the resolved type of an object or relationship sync whose spec names none.
    """
    calls = client.api_calls
    kept: dict[str, list[FailedRecord]] = defaultdict(list)
    for failure in store.failures(spec.name):
        if failure.record_id is not None and (not record_ids or failure.record_id in record_ids):
            kept[failure.record_id].append(failure)
    unknown = set(record_ids) - set(kept)
    if unknown:
        raise ConfigError(
            f"sync {spec.name!r} keeps no failed record {sorted(unknown)[0]!r}; "
            f"list them with: sfbridge sync failures {spec.name}"
        )
    if not kept:
        return ReplaySummary()
    describe = client.describe(spec.object)
    records = _read(spec, client, list(kept))
    mapper = RecordMapper(spec, object_type_id=object_type_id, describe=describe)
    by_name = {destination.name: destination for destination in destinations}
    replayed, skipped, done = 0, 0, []
    still_failing: dict[str, str] = {}
    for record_id, failures in kept.items():
        try:
            messages = _messages(spec, mapper, record_id, records.get(record_id), object_type_id)
        except RecordMappingError as error:
            still_failing[record_id] = error.reason
            continue
        if not messages:
            skipped += 1
            done += [failure.id for failure in failures]
            continue
        reason = _deliver(messages, _targets(failures, spec), by_name)
        if reason is None:
            replayed += 1
            done += [failure.id for failure in failures]
        else:
            still_failing[record_id] = reason
    store.mark_replayed(done)
    return ReplaySummary(replayed, skipped, still_failing, client.api_calls - calls)


def _read(spec: SyncSpec, client: SalesforceClient, ids: list[str]) -> dict[str, Record]:
    """The current version of each record by Id (deleted ones too) that matches the filter."""

    check = check_spec(spec, client)
    found: dict[str, Record] = {}
    for start in range(0, len(ids), IDS_PER_QUERY):
        query = (
            Select(spec.object)
            .fields(ID_FIELD, CURSOR_FIELD, "IsDeleted", *spec.read_fields)
            .where(F(ID_FIELD).in_(ids[start : start + IDS_PER_QUERY]))
        )
        if check.filter is not None:
            query = query.where_raw(check.filter)
        for record in client.query_all(query.soql()):
            found[str(record[ID_FIELD])] = record
    return found


def _messages(
    spec: SyncSpec,
    mapper: RecordMapper,
    record_id: str,
    record: Record | None,
    object_type_id: str | None,
) -> list[Message]:
    """What the sync sends for the record now; none when it would send nothing."""
    if record is None:
        # Purged, or no longer matching the filter: a run would not send it either.
        return []
    if record.get("IsDeleted") is True:
        if spec.delete_policy == DeletePolicy.IGNORE:
            return []
        deleted = DeletedRecord(record_id, record_key(record).modstamp, record)
        return delete_messages(spec, deleted, object_type_id=object_type_id)
    return mapper.map(record)


def _targets(failures: list[FailedRecord], spec: SyncSpec) -> list[str]:
    """The destinations to deliver to: those that refused, or all when mapping failed."""
    if any(failure.destination is None for failure in failures):
        return list(spec.destinations)
    return list(dict.fromkeys(f.destination for f in failures if f.destination is not None))


def _deliver(
    messages: list[Message], targets: list[str], by_name: dict[str, Destination]
) -> str | None:
    """Deliver to each target; the first reason one did not take everything, or None."""
    for name in targets:
        destination = by_name.get(name)
        if destination is None:
            return f"destination {name!r} is no longer one of the sync's destinations"
        result = destination.deliver(messages)
        if result.failed:
            return f"{name}: {result.failed[0].reason}"
    return None
