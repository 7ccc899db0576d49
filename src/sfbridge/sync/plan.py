"""Planning a sync run: which window of changes to read, with which queries, over which API.

Pure functions, no I/O: the run (``run.py``) asks the org and calls these.
The cursor semantics are named settings rather than folklore (dlt's
incremental loading: closed start, lag, dedupe at the boundary):

- **cursor field** ``SystemModstamp``: it changes on every write, system
  writes included, which ``LastModifiedDate`` misses; it has millisecond
  precision, so windows are cut at whole milliseconds.
- **window** ``[cursor - overlap, now - settle)``: the start is closed, the
  end open, so without overlap consecutive windows would share no instant
  and miss none; the overlap reads the last minutes again on purpose.
- **ties** ``ORDER BY SystemModstamp, Id``; a page or a resume continues
  *after* the last ``(SystemModstamp, Id)`` read, never at a timestamp alone
  (data-in-peers.md pain point 1: paging on a shared timestamp loses rows).
- **dedupe at the boundary**: the overlap reads some records twice;
  ``(Id, SystemModstamp)`` seen in the previous window drops them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from sfbridge.salesforce.describe import ObjectDescribe
from sfbridge.salesforce.rest import Record
from sfbridge.salesforce.soql_builder import MAX_QUERY_URL_CHARS, F, Select
from sfbridge.salesforce.soql_validate import ValidatedFilter

from .compound import DescribeLookup, compound_components
from .formats import ID_FIELD
from .spec import CURSOR_FIELD, FILTER_MAX_URL_CHARS, Duration, SyncSpec


class RecordKey(NamedTuple):
    """One version of one record; also where a page or a resume continues from."""

    id: str
    modstamp: datetime


class CursorSettings(BaseModel):
    """How a sync's cursor turns into the window of changes one run reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Salesforce stamps SystemModstamp when a transaction writes, but the row
    # is visible only once it commits: a long transaction (a Bulk API ingest
    # batch may run for minutes) commits a stamp below a cursor already saved.
    # Airbyte settled on a 10-minute lookback after losing such rows
    # (airbyte#27146, pain point 1); the cost is re-reading 10 minutes of
    # changes, which dedupe drops.
    overlap: Duration = Field(
        default=timedelta(minutes=10),
        description="How far before the cursor each run starts reading again, to catch "
        "changes committed late with an earlier SystemModstamp.",
    )
    # Most transactions commit within seconds; a minute's lag keeps the
    # newest, possibly uncommitted stamps for the next run, so the overlap is
    # needed only for the rare long one. It also absorbs a small clock
    # difference between this host and Salesforce.
    settle: Duration = Field(
        default=timedelta(seconds=60),
        description="How far behind now each run stops reading, so changes still being "
        "committed are left for the next run.",
    )


DEFAULT_CURSOR = CursorSettings()


@dataclass(frozen=True)
class Window:
    """The changes one run reads: ``start <= SystemModstamp < end``; no start on a first run."""

    start: datetime | None
    end: datetime

    @property
    def is_empty(self) -> bool:
        """True when no instant lies in the window (nothing to read)."""
        return self.start is not None and self.start >= self.end


def plan_window(
    cursor: datetime | None, now: datetime, settings: CursorSettings = DEFAULT_CURSOR
) -> Window:
    """The window after ``cursor`` (the previous run's ``Window.end``) as of ``now``.

    A first run (no cursor) reads everything up to ``now - settle``. After a
    run, its window's end is the next cursor. The cursor never moves back: if
    ``now - settle`` lies before it (this clock is behind the one that set it),
    the window ends at the cursor and only the overlap is read again.
    ``now`` is best taken from Salesforce (a response's Date header), the
    clock that stamps SystemModstamp.
    """
    end = _whole_millisecond(now - settings.settle, "now")
    if cursor is None:
        return Window(None, end)
    cursor = _whole_millisecond(cursor, "cursor")
    return Window(cursor - settings.overlap, max(end, cursor))


def _whole_millisecond(moment: datetime, name: str) -> datetime:
    """``moment`` in UTC, cut to the millisecond: SystemModstamp's precision, and SOQL's."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} {moment.isoformat()} has no time zone; pass an aware datetime")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class ReadApi(StrEnum):
    """The API a window's records are read with."""

    REST = "rest"
    BULK = "bulk"


# A REST query page holds at most 2,000 records (fewer for wide rows), one
# API call each (data-in-peers.md section 6).
REST_PAGE_ROWS = 2_000
# A Bulk API 2.0 query costs calls besides its result pages: creating the
# job, asking for its state (about two looks for a small job) and the
# describe that types the CSV columns.
BULK_FIXED_CALLS = 4
# Where the estimates below cross: up to 10,000 records REST takes at most 5
# calls, Bulk at least 5; beyond, Bulk costs fewer (1,000,000 records: 500
# REST calls, 44 Bulk). Below it REST also answers sooner (no job to wait
# for) and spares the org's 10,000 Bulk query jobs a day, which other apps
# share (pain point 3).
BULK_THRESHOLD = 10_000
# Rows per Bulk results page in a sync: one API call, one delivery and one
# checkpoint each. 25,000 keeps a run's memory near 200 MB (a page of records
# and its messages) for 40 calls per million rows; 50,000 halves the calls but
# nearly doubles the memory (bench/sync.py measured 377 MB).
BULK_PAGE_ROWS = 25_000


def estimated_calls(count: int, api: ReadApi) -> int:
    """About how many API calls reading ``count`` records with ``api`` costs."""
    if api == ReadApi.REST:
        return max(1, math.ceil(count / REST_PAGE_ROWS))
    return BULK_FIXED_CALLS + max(1, math.ceil(count / BULK_PAGE_ROWS))


def choose_api(count: int, *, threshold: int = BULK_THRESHOLD) -> ReadApi:
    """Bulk API 2.0 for more than ``threshold`` records (a ``SELECT COUNT()``), REST otherwise."""
    if count < 0:
        raise ValueError(f"a record count is 0 or more, got {count}")
    return ReadApi.BULK if count > threshold else ReadApi.REST


def select_for_window(
    spec: SyncSpec,
    window: Window,
    fields: Iterable[str],
    *,
    where: ValidatedFilter | None,
    after: RecordKey | None = None,
    limit: int | None = None,
    api: ReadApi = ReadApi.REST,
) -> Select:
    """The query for ``window``'s changed records: ``fields`` plus Id and SystemModstamp.

    ``where`` is the spec's filter as ``check_against_describe`` validated
    it. Over REST the records come ordered by ``SystemModstamp, Id``; pass
    the last one's ``record_key`` as ``after`` to read on from it
    (a keyset page of ``limit`` records, or a resume). A Bulk job reads the
    whole window at once and resumes by its locator: no order, no ``after``
    (ORDER BY in Bulk 2.0 queries is unconfirmed, salesforce-api.md section 9),
    and ``fields`` must have been through ``expand_compound``.
    Run it with ``query`` (live records only); deletes have ``deletes_select``.
    """
    query = Select(spec.object).fields(ID_FIELD, CURSOR_FIELD, *fields)
    return _windowed(query, spec, window, where=where, after=after, limit=limit, api=api)


def deletes_select(
    spec: SyncSpec,
    window: Window,
    *,
    where: ValidatedFilter | None,
    after: RecordKey | None = None,
    limit: int | None = None,
    api: ReadApi = ReadApi.REST,
) -> Select:
    """The query for records deleted in ``window``: run it with ``queryAll`` (or Bulk ``all_rows``).

    Deleting a record stamps its SystemModstamp, so the same window finds
    it in the recycle bin (about 15 days; purged records are lost, pain
    point 6). It selects the identifier fields that a delete message needs.
    The spec's filter applies, as it stood at deletion: a record the sync
    never sent gets no delete, so a ``mark`` cannot create a person. For
    the same reason a first run (no ``window.start``) reads no deletes:
    it has sent nothing, and the recycle bin holds older deletions.
    """
    if window.start is None:
        raise ValueError("a first run has sent nothing to delete; read deletes from the second")
    query = Select(spec.object).fields(ID_FIELD, CURSOR_FIELD, *spec.identifier_fields)
    query = query.where(F("IsDeleted") == True)  # noqa: E712 (F builds a condition)
    return _windowed(query, spec, window, where=where, after=after, limit=limit, api=api)


def _windowed(
    query: Select,
    spec: SyncSpec,
    window: Window,
    *,
    where: ValidatedFilter | None,
    after: RecordKey | None,
    limit: int | None,
    api: ReadApi,
) -> Select:
    if (spec.filter is None) != (where is None):
        raise ValueError(
            f"sync {spec.name!r}: pass its filter as check_against_describe validated it "
            "(SpecCheck.filter), and only when the spec has one"
        )
    if api == ReadApi.BULK and (after is not None or limit is not None):
        raise ValueError("a Bulk query reads the whole window; resume it by its locator")
    if where is not None:
        query = query.where_raw(where)
    stamp = F(CURSOR_FIELD)
    if window.start is not None:
        query = query.where(stamp >= window.start)
    query = query.where(stamp < window.end)
    if after is not None:
        # "After (stamp, id)" spelt as a range on the indexed stamp plus a
        # tie-break, not as "stamp > s OR (stamp = s AND Id > i)": the OR form
        # makes the database gather every later row and sort it for each page
        # (measured on the emulator's SQLite: 156 ms a page at 100,000 rows,
        # 0.09 ms this way), where a range walks the (SystemModstamp, Id) index.
        query = query.where(
            stamp >= after.modstamp,
            (stamp > after.modstamp) | (F(ID_FIELD) > after.id),
        )
    if api == ReadApi.REST:
        query = query.order_by(CURSOR_FIELD, ID_FIELD)
    return query if limit is None else query.limit(limit)


def expand_compound(
    fields: Iterable[str], describe: ObjectDescribe, related: DescribeLookup | None = None
) -> list[str]:
    """``fields`` with each address or location field replaced by its components.

    Address and geolocation fields are compounds that Bulk API 2.0 refuses
    (pain point 5); their components are ordinary fields. ``MailingAddress``
    becomes ``MailingStreet, MailingCity, ...`` in describe's order, and
    ``Account.BillingAddress`` becomes ``Account.BillingStreet, ...`` with
    the Account's describe from ``related`` (``compound.compound_components``).
    Repeats are dropped. The Name compound (FirstName, LastName) is a plain
    string, which Bulk reads.
    """
    compounds = compound_components(describe, fields, related)
    by_path = {path.lower(): parts for path, parts in compounds.items()}
    expanded: dict[str, str] = {}
    for name in fields:
        for part in by_path.get(name.lower()) or [name]:
            expanded.setdefault(part.lower(), part)
    return list(expanded.values())


# What a window query needs besides its field list and filter, URL-encoded:
# SELECT, FROM and the object, the window and keyset conditions with three
# datetimes and an id, ORDER BY and LIMIT (about 400 characters).
_QUERY_FRAME_CHARS = 1_000
# The field list's share of the URL, so that a window query with any valid
# filter stays within MAX_QUERY_URL_CHARS (pain point 4, "URI Too Long").
FIELD_LIST_MAX_CHARS = MAX_QUERY_URL_CHARS - FILTER_MAX_URL_CHARS - _QUERY_FRAME_CHARS


def _url_length(text: str) -> int:
    """Characters of ``text`` in a ``?q=`` URL, every reserved character escaped."""
    return len(quote(text, safe=""))


def split_fields(
    fields: Iterable[str], *, max_chars: int = FIELD_LIST_MAX_CHARS
) -> list[list[str]]:
    """``fields`` in groups whose ``SELECT`` list is at most ``max_chars`` in a URL.

    Every group starts with Id and SystemModstamp, which ``stitch`` joins on.
    A wide object read over REST takes one query per group; Bulk jobs send
    the query in a body and need no split below the 100,000-character SOQL limit.
    """
    keys = [ID_FIELD, CURSOR_FIELD]
    unique: dict[str, str] = {}
    for name in fields:
        unique.setdefault(name.lower(), name)
    for key in keys:
        unique.pop(key.lower(), None)
    separator = _url_length(", ")
    base = _url_length(", ".join(keys))
    groups: list[list[str]] = []
    size = 0
    for name in unique.values():
        cost = separator + _url_length(name)
        if groups and size + cost <= max_chars:
            groups[-1].append(name)
            size += cost
            continue
        if base + cost > max_chars:
            raise ValueError(f"field {name!r} alone makes the SELECT longer than {max_chars}")
        groups.append([*keys, name])
        size = base + cost
    return groups or [keys]


@dataclass(frozen=True)
class Stitched:
    """Records joined from the parts of a split read, and the ids left for the next window."""

    records: list[Record]
    deferred_ids: list[str]


def stitch(parts: Sequence[Mapping[str, Record]]) -> Stitched:
    """One record per Id from the parts of a split read (each part: Id -> record).

    A record missing from some part, or with a different SystemModstamp in
    two parts, changed between the reads: its new stamp lies after this
    window's end (or, committed late, within the next window's overlap), so
    the next window reads it whole. Joining the halves would mix two versions.
    A parent read through a lookup (``Account.Name`` in one part,
    ``Account.Industry`` in another) is joined field by field.
    """
    if len(parts) < 2:
        return Stitched(list(parts[0].values()) if parts else [], [])
    records: list[Record] = []
    deferred: list[str] = []
    for record_id in parts[0]:
        versions = [part.get(record_id) for part in parts]
        stamps = {None if v is None else record_key(v).modstamp for v in versions}
        if len(stamps) != 1 or None in stamps:
            deferred.append(record_id)
            continue
        records.append(_joined([v for v in versions if v is not None]))
    deferred += [i for part in parts[1:] for i in part if i not in parts[0]]
    return Stitched(records, list(dict.fromkeys(deferred)))


def _joined(versions: Sequence[Mapping[str, Any]]) -> Record:
    """The fields of ``versions`` of one record in one record, parents joined too."""
    joined: Record = {}
    for version in versions:
        for name, value in version.items():
            held = joined.get(name)
            if isinstance(held, Mapping) and isinstance(value, Mapping):
                joined[name] = _joined([held, value])
            else:
                joined[name] = value
    return joined


@dataclass(frozen=True)
class SplitPage:
    """One keyset page of a window read in parts (``split_fields``), stitched.

    ``records`` come in the first part's order. ``after`` is where the next
    page starts (None when no part read a record); ``done`` says every part
    read to the window's end, so the page is the last. ``deferred_ids``
    changed between the part reads and are left to the next window.
    """

    records: list[Record]
    deferred_ids: list[str]
    after: RecordKey | None
    done: bool


def stitch_page(parts: Sequence[Sequence[Record]], limit: int) -> SplitPage:
    """Stitch the parts of one page: the same window query, ``after`` and ``limit`` per part.

    The parts are read one after another, and writes in between make them
    disagree:

    - a record changed after one part read it has a SystemModstamp past the
      window's end, so later parts lack it (and read one record further);
      it is deferred, and the next window reads it whole;
    - a record that came into the page's range after the first part's read
      (committed late with a stamp inside the window, or brought into the
      filter by a change to a parent it is filtered on) is in later parts
      only; it is deferred too, as if it had come just after that read,
      which the next window's overlap covers as it does for a page read whole;
    - such a newcomer pushes a full part's last records past its ``limit``.
      They did not change, and the next window would not read them again, so
      the page covers only the keys up to the lowest last key of the parts
      that came back full; the next page reads on from there, and records of
      the first part past it are read again rather than deferred.

    With a single part this is an ordinary keyset page. Keys are compared
    here only when the parts disagree on where the page ends.
    """
    ends = [record_key(part[-1]) for part in parts if part]
    if not ends:
        return SplitPage([], [], None, True)
    full = [record_key(part[-1]) for part in parts if len(part) >= limit]
    if not full:
        # Every part read to the window's end: the page holds the rest of it.
        stitched = stitch([_by_id(part) for part in parts])
        return SplitPage(stitched.records, stitched.deferred_ids, ends[0], True)
    covered = min(full, key=_order)
    within = [
        part if not part or record_key(part[-1]) == covered else _up_to(part, covered)
        for part in parts
    ]
    stitched = stitch([_by_id(part) for part in within])
    return SplitPage(stitched.records, stitched.deferred_ids, covered, False)


def _by_id(part: Iterable[Record]) -> dict[str, Record]:
    return {str(record[ID_FIELD]): record for record in part}


def _up_to(part: Iterable[Record], last: RecordKey) -> list[Record]:
    """The records of ``part`` up to ``last`` in the page order."""
    return [record for record in part if _order(record_key(record)) <= _order(last)]


def _order(key: RecordKey) -> tuple[datetime, str]:
    """A key's place in ``ORDER BY SystemModstamp, Id``.

    Ids compare by their characters, base 62 in ASCII order, as SOQL's
    ``Id >`` in the keyset condition compares them.
    """
    return key.modstamp, key.id


def record_key(record: Mapping[str, object]) -> RecordKey:
    """A record's ``(Id, SystemModstamp)``; REST's text and Bulk's datetime give the same key."""
    stamp = record[CURSOR_FIELD]
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp)  # 2024-01-31T12:00:00.000+0000
    if not isinstance(stamp, datetime):
        raise ValueError(f"record {record.get(ID_FIELD)!r} has no {CURSOR_FIELD}: {stamp!r}")
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)  # Salesforce's datetimes are UTC
    return RecordKey(str(record[ID_FIELD]), stamp.astimezone(UTC))


def dedupe(records: Iterable[Record], seen: Collection[RecordKey]) -> list[Record]:
    """``records`` without versions in ``seen`` or repeated: what the overlap read again.

    ``seen`` is the previous run's ``boundary_keys``. A record changed since
    has a new SystemModstamp, so its new version is kept.
    """
    kept: list[Record] = []
    keys: set[RecordKey] = set()
    for record in records:
        key = record_key(record)
        if key not in seen and key not in keys:
            keys.add(key)
            kept.append(record)
    return kept


def boundary_keys(
    records: Iterable[Record], window: Window, settings: CursorSettings = DEFAULT_CURSOR
) -> set[RecordKey]:
    """The versions the next window reads again: stamped within ``overlap`` of ``window.end``.

    Pass every record read in the window, before ``dedupe``: a version kept
    from an earlier run may still lie in the next overlap. Save these with
    the cursor; they are the next run's ``seen``.
    """
    since = window.end - settings.overlap
    return {key for key in map(record_key, records) if key.modstamp >= since}
