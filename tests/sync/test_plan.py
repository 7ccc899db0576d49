"""Planning a run: windows, keyset-paged window queries, the API, wide and compound objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfbridge.emulators.salesforce.codec import format_datetime
from sfbridge.emulators.salesforce.org import Org
from sfbridge.emulators.salesforce.soql_compile import plan_query
from sfbridge.emulators.salesforce.soql_engine import QueryEngine
from sfbridge.salesforce.describe import ObjectDescribe
from sfbridge.salesforce.ids import make_id
from sfbridge.salesforce.soql_builder import MAX_QUERY_URL_CHARS
from sfbridge.salesforce.soql_parser import (
    And,
    Comparison,
    Condition,
    DateTimeLit,
    FieldPath,
    Not,
    Or,
    StringLit,
    parse_soql,
)
from sfbridge.salesforce.soql_validate import FieldInfo, validate_filter
from sfbridge.sync import (
    BULK_THRESHOLD,
    FIELD_LIST_MAX_CHARS,
    CursorSettings,
    ReadApi,
    RecordKey,
    SyncSpec,
    Window,
    boundary_keys,
    choose_api,
    dedupe,
    deletes_select,
    estimated_calls,
    expand_compound,
    plan_window,
    record_key,
    select_for_window,
    split_fields,
    stitch,
)
from sfbridge.sync.plan import SplitPage, stitch_page

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=1))


def spec(object_name: str = "Contact", filter: str | None = None) -> SyncSpec:
    return SyncSpec.model_validate(
        {
            "name": "contacts",
            "connection": "prod",
            "object": object_name,
            "format": {"type": "person", "id_field": "Id", "email_field": "Email"},
            "filter": filter,
            "enabled": False,
        }
    )


# -- windows


def test_first_run_reads_everything_up_to_now_less_settle() -> None:
    now = datetime(2024, 3, 1, 12, 0, 0, 123_456, tzinfo=UTC)
    window = plan_window(None, now)
    assert window == Window(None, datetime(2024, 3, 1, 11, 59, 0, 123_000, tzinfo=UTC))


def test_later_runs_start_one_overlap_before_the_cursor() -> None:
    window = plan_window(T0, T0 + timedelta(hours=1))
    assert window.start == T0 - timedelta(minutes=10)
    assert window.end == T0 + timedelta(hours=1) - timedelta(seconds=60)
    settings_ = CursorSettings(overlap=timedelta(0), settle=timedelta(0))
    assert plan_window(T0, T0 + timedelta(hours=1), settings_) == Window(
        T0, T0 + timedelta(hours=1)
    )


def test_the_cursor_never_moves_back_when_the_clock_is_behind() -> None:
    # now - settle lies before the cursor: a clock behind the one that set it.
    window = plan_window(T0, T0 + timedelta(seconds=30))
    assert window == Window(T0 - timedelta(minutes=10), T0)
    assert not window.is_empty
    no_overlap = CursorSettings(overlap=timedelta(0))
    assert plan_window(T0, T0 - timedelta(hours=1), no_overlap).is_empty


def test_windows_are_in_utc_and_need_a_time_zone() -> None:
    paris = timezone(timedelta(hours=1))
    window = plan_window(T0.astimezone(paris), T0.astimezone(paris) + timedelta(hours=1))
    assert window.start is not None and window.start.tzinfo is UTC
    with pytest.raises(ValueError, match="has no time zone"):
        plan_window(None, datetime(2024, 3, 1))


def test_cursor_settings_read_from_yaml_values() -> None:
    chosen = CursorSettings.model_validate({"overlap": "15m", "settle": "2m"})
    assert (chosen.overlap, chosen.settle) == (timedelta(minutes=15), timedelta(minutes=2))
    assert chosen.model_dump(mode="json") == {"overlap": "15m", "settle": "2m"}


# -- window queries

STAMP = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
AFTER = RecordKey("003000000000001AAA", STAMP)


def test_window_query_keyset_and_order() -> None:
    contacts = spec(filter="Email != null")
    fields = {"Email": FieldInfo("Email", "email")}
    where = validate_filter("Contact", "Email != null", fields)
    query = select_for_window(contacts, WINDOW, ["Email"], where=where, after=AFTER, limit=2000)
    assert query.soql() == (
        "SELECT Id, SystemModstamp, Email FROM Contact WHERE (Email != null) "
        "AND SystemModstamp >= 2024-03-01T12:00:00.000Z "
        "AND SystemModstamp < 2024-03-01T13:00:00.000Z "
        "AND SystemModstamp >= 2024-03-01T12:30:00.000Z "
        "AND (SystemModstamp > 2024-03-01T12:30:00.000Z OR Id > '003000000000001AAA') "
        "ORDER BY SystemModstamp, Id LIMIT 2000"
    )


def test_bulk_query_reads_the_whole_window_unordered() -> None:
    query = select_for_window(
        spec(), Window(None, WINDOW.end), ["Email"], where=None, api=ReadApi.BULK
    )
    assert query.soql() == (
        "SELECT Id, SystemModstamp, Email FROM Contact "
        "WHERE SystemModstamp < 2024-03-01T13:00:00.000Z"
    )
    with pytest.raises(ValueError, match="resume it by its locator"):
        select_for_window(spec(), WINDOW, [], where=None, after=AFTER, api=ReadApi.BULK)


def test_the_filter_must_come_validated() -> None:
    with pytest.raises(ValueError, match="check_against_describe"):
        select_for_window(spec(filter="Email != null"), WINDOW, [], where=None)


def test_deletes_query_reads_the_recycle_bin_in_the_window() -> None:
    query = deletes_select(spec(), WINDOW, where=None)
    assert query.soql() == (
        "SELECT Id, SystemModstamp, Email FROM Contact WHERE IsDeleted = true "
        "AND SystemModstamp >= 2024-03-01T12:00:00.000Z "
        "AND SystemModstamp < 2024-03-01T13:00:00.000Z ORDER BY SystemModstamp, Id"
    )
    with pytest.raises(ValueError, match="first run has sent nothing"):
        deletes_select(spec(), Window(None, WINDOW.end), where=None)


def _holds(node: Condition, row: dict[str, Any]) -> bool:
    """Evaluate a parsed WHERE on a row (the comparisons window queries use)."""
    if isinstance(node, And):
        return all(_holds(item, row) for item in node.items)
    if isinstance(node, Or):
        return any(_holds(item, row) for item in node.items)
    if isinstance(node, Not):
        return not _holds(node.item, row)
    assert isinstance(node, Comparison)
    [literal] = node.values
    assert isinstance(literal, DateTimeLit | StringLit)
    left, right = row[node.field.text], literal.value
    return bool(
        {
            "=": left == right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[node.operator]
    )


def _run_query(soql: str, table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Salesforce answers: rows matching WHERE, in ORDER BY order, at most LIMIT."""
    query = parse_soql(soql)
    assert query.where is not None
    rows = [row for row in table if _holds(query.where, row)]
    names = [key.key.text for key in query.order_by if isinstance(key.key, FieldPath)]
    rows.sort(key=lambda row: tuple(row[name] for name in names))
    return rows[: query.limit]


_ids = st.from_regex(r"003[0-9A-Za-z]{15}", fullmatch=True)
# Few distinct stamps for many rows: ties at page edges are the common case.
_stamps = st.integers(0, 4).map(lambda ms: T0 + timedelta(milliseconds=ms))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(_stamps, _ids), max_size=40, unique_by=lambda row: row[1]),
    page_size=st.integers(1, 7),
)
def test_keyset_pages_return_every_row_exactly_once(
    rows: list[tuple[datetime, str]], page_size: int
) -> None:
    table = [{"SystemModstamp": stamp, "Id": record_id} for stamp, record_id in rows]
    window = Window(T0, T0 + timedelta(seconds=1))
    read: list[dict[str, Any]] = []
    after: RecordKey | None = None
    for _ in range(len(rows) + 2):
        query = select_for_window(spec(), window, [], where=None, after=after, limit=page_size)
        page = _run_query(query.soql(), table)
        read += page
        if len(page) < page_size:
            break
        after = record_key(page[-1])
    assert [record_key(row) for row in read] == sorted(
        (RecordKey(record_id, stamp) for stamp, record_id in rows),
        key=lambda key: (key.modstamp, key.id),
    )


@pytest.fixture(scope="module")
def tied_org() -> Iterator[Org]:
    """An in-memory emulated org: 30 contacts on 3 SystemModstamps, 5 of them deleted."""
    org = Org.open(None)
    rows = [
        (
            make_id("003", 900 + n),
            f"Last{n}",
            f"c{n}@example.com",
            format_datetime(T0 + timedelta(milliseconds=n % 3)),
            int(n % 6 == 0),
        )
        for n in range(30)
    ]
    columns = ["Id", "LastName", "Email", "SystemModstamp", "IsDeleted"]
    org.store.insert_rows(org.object("Contact"), columns, rows)
    yield org
    org.close()


def _pages(org: Org, page_size: int, *, deleted: bool) -> list[RecordKey]:
    engine = QueryEngine(org.store)
    window = Window(T0, T0 + timedelta(seconds=1))
    keys: list[RecordKey] = []
    after: RecordKey | None = None
    while True:
        if deleted:
            query = deletes_select(spec(), window, where=None, after=after, limit=page_size)
        else:
            query = select_for_window(spec(), window, [], where=None, after=after, limit=page_size)
        cursor = engine.execute(query.soql(), include_deleted=deleted, api_version="62.0", now=T0)
        page = [record_key(record) for record in cursor.page(0, cursor.total_size)]
        keys += page
        if len(page) < page_size:
            return keys
        after = page[-1]


@pytest.mark.parametrize("page_size", [1, 2, 4, 7])
def test_the_emulator_pages_a_tied_window_without_loss(tied_org: Org, page_size: int) -> None:
    live = _pages(tied_org, page_size, deleted=False)
    assert len(live) == 25 and len(set(live)) == 25
    assert live == sorted(live, key=lambda key: (key.modstamp, key.id))
    # queryAll returns the live rows too; IsDeleted = true keeps the recycle bin only.
    assert len(_pages(tied_org, page_size, deleted=True)) == 5


# -- which API


def test_choose_api_at_the_threshold() -> None:
    assert choose_api(0) == ReadApi.REST
    assert choose_api(BULK_THRESHOLD) == ReadApi.REST
    assert choose_api(BULK_THRESHOLD + 1) == ReadApi.BULK
    assert choose_api(500, threshold=100) == ReadApi.BULK
    with pytest.raises(ValueError, match="0 or more"):
        choose_api(-1)


@given(st.integers(0, 5_000_000))
def test_the_chosen_api_never_costs_more_calls(count: int) -> None:
    chosen = choose_api(count)
    other = ReadApi.BULK if chosen == ReadApi.REST else ReadApi.REST
    assert estimated_calls(count, chosen) <= estimated_calls(count, other)


def test_estimated_calls() -> None:
    assert estimated_calls(0, ReadApi.REST) == 1
    assert estimated_calls(2001, ReadApi.REST) == 2
    assert estimated_calls(1_000_000, ReadApi.REST) == 500
    assert estimated_calls(1_000_000, ReadApi.BULK) == 44  # 4 fixed + 40 pages of 25,000


# -- compound and wide objects


def test_expand_compound_replaces_addresses_by_their_components(
    describe_of: Callable[[str], ObjectDescribe], related: Callable[[str], ObjectDescribe | None]
) -> None:
    fields = ["Id", "MailingAddress", "MailingCity", "Name", "Account.BillingAddress"]
    expanded = expand_compound(fields, describe_of("Contact"), related)
    assert expanded[-8:] == [
        "Account.BillingStreet",
        "Account.BillingCity",
        "Account.BillingState",
        "Account.BillingPostalCode",
        "Account.BillingCountry",
        "Account.BillingLatitude",
        "Account.BillingLongitude",
        "Account.BillingGeocodeAccuracy",
    ]
    # Without the Account's describe the path stays as it is.
    assert expand_compound(fields, describe_of("Contact")) == [
        "Id",
        "MailingStreet",
        "MailingCity",
        "MailingState",
        "MailingPostalCode",
        "MailingCountry",
        "MailingLatitude",
        "MailingLongitude",
        "MailingGeocodeAccuracy",
        "Name",  # a compound too, but a string, which Bulk reads
        "Account.BillingAddress",
    ]


def test_a_split_window_query_stays_within_the_url_budget() -> None:
    object_name = "Very_Long_Custom_Object_Name_Here_40c__c"
    text = "Description__c = '" + "é" * 300 + "'"  # 600 UTF-8 bytes: 1,800 URL characters
    text += " AND Code__c = '" + "x" * (3000 - len(quote(text, safe="")) - 40) + "'"
    long_spec = spec(object_name, filter=text)
    info = {name: FieldInfo(name, "string") for name in ("Description__c", "Code__c")}
    where = validate_filter(object_name, text, info)
    fields = [f"Custom_Field_Number_{i:04d}__c" for i in range(1500)]
    groups = split_fields(fields)
    assert len(groups) > 1
    assert len(quote(", ".join(groups[0]), safe="")) > FIELD_LIST_MAX_CHARS - 40
    assert len(quote(text, safe="")) > 2900
    for group in groups:
        query = select_for_window(long_spec, WINDOW, group, where=where, after=AFTER, limit=2000)
        assert len(quote(query.soql(), safe="")) <= MAX_QUERY_URL_CHARS
    assert [f for group in groups for f in group[2:]] == fields


@settings(max_examples=100, deadline=None)
@given(
    names=st.lists(
        st.from_regex(r"[A-Z][a-z]{2,12}__c", fullmatch=True), unique_by=str.lower, max_size=30
    ),
    ids=st.lists(_ids, unique=True, max_size=8),
    max_chars=st.integers(80, 300),
)
def test_split_then_stitch_gives_back_the_records(
    names: list[str], ids: list[str], max_chars: int
) -> None:
    groups = split_fields(["Id", *names], max_chars=max_chars)
    assert all(group[:2] == ["Id", "SystemModstamp"] for group in groups)
    assert all(len(quote(", ".join(group), safe="")) <= max_chars for group in groups)
    records = [
        {
            "Id": i,
            "SystemModstamp": "2024-03-01T12:00:00.000+0000",
            **{n: f"{i}-{n}" for n in names},
        }
        for i in ids
    ]
    parts = [{r["Id"]: {f: r[f] for f in group} for r in records} for group in groups]
    stitched = stitch(parts)
    assert stitched.records == records and stitched.deferred_ids == []


def test_stitch_defers_records_that_changed_between_reads() -> None:
    def row(record_id: str, stamp: str, **values: Any) -> dict[str, Any]:
        return {"Id": record_id, "SystemModstamp": stamp, **values}

    early, late = "2024-03-01T12:00:00.000+0000", "2024-03-01T12:00:05.000+0000"
    first = {"a": row("a", early, A=1), "b": row("b", early, A=2), "c": row("c", early, A=3)}
    second = {"a": row("a", early, B=1), "c": row("c", late, B=3), "d": row("d", early, B=4)}
    stitched = stitch([first, second])
    assert stitched.records == [row("a", early, A=1, B=1)]
    assert stitched.deferred_ids == ["b", "c", "d"]


def test_stitch_joins_a_parent_read_in_two_parts() -> None:
    stamp = "2024-03-01T12:00:00.000+0000"
    first = {"a": {"Id": "a", "SystemModstamp": stamp, "Account": {"Name": "Acme"}}}
    second = {"a": {"Id": "a", "SystemModstamp": stamp, "Account": {"Industry": "Energy"}}}
    (joined,) = stitch([first, second]).records
    assert joined["Account"] == {"Name": "Acme", "Industry": "Energy"}
    empty = {"a": {"Id": "a", "SystemModstamp": stamp, "Account": None}}
    assert stitch([empty, empty]).records == [empty["a"]]


def _row(record_id: str, second: int, **values: Any) -> dict[str, Any]:
    return {"Id": record_id, "SystemModstamp": T0 + timedelta(seconds=second), **values}


def test_a_page_read_in_agreeing_parts_goes_on_after_its_last_record() -> None:
    first = [_row(i, n, A=n) for n, i in enumerate("abc")]
    second = [_row(i, n, B=n) for n, i in enumerate("abc")]
    page = stitch_page([first, second], limit=3)
    assert [r["Id"] for r in page.records] == ["a", "b", "c"]
    assert page.records[1] == _row("b", 1, A=1, B=1)
    assert page.after == record_key(first[-1]) and not page.done
    last = stitch_page([first[:2], second[:2]], limit=3)
    assert last.done and last.after == record_key(first[1]) and not last.deferred_ids
    assert stitch_page([[], []], limit=3) == SplitPage([], [], None, True)


def test_a_record_changed_between_part_reads_is_deferred() -> None:
    # b changed after the first part: gone from the window, so the second part reads d too.
    first = [_row("a", 0, A=0), _row("b", 1, A=1), _row("c", 2, A=2)]
    second = [_row("a", 0, B=0), _row("c", 2, B=2), _row("d", 3, B=3)]
    page = stitch_page([first, second], limit=3)
    assert [r["Id"] for r in page.records] == ["a", "c"]
    assert page.deferred_ids == ["b"]
    # d lies past the first part's last key: the next page reads it, whole.
    assert page.after == record_key(first[-1]) and not page.done


def test_a_record_entering_between_part_reads_pushes_no_record_out() -> None:
    # n came into the filter after the first part (its stamp unchanged, early):
    # the second part holds it and so cannot hold c, which did not change.
    first = [_row("a", 1, A=1), _row("b", 2, A=2), _row("c", 3, A=3)]
    second = [_row("n", 0, B=0), _row("a", 1, B=1), _row("b", 2, B=2)]
    page = stitch_page([first, second], limit=3)
    assert [r["Id"] for r in page.records] == ["a", "b"]
    assert page.deferred_ids == ["n"]
    # The page covers only what both parts read: c is read again, not skipped.
    assert page.after == record_key(second[-1]) and not page.done


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(0, 14),
    limit=st.integers(1, 5),
    events=st.lists(
        st.tuples(
            st.integers(0, 40),  # after how many part reads
            st.sampled_from(["change", "leave", "enter", "late"]),
            st.integers(0, 15),  # which record
        ),
        max_size=6,
    ),
)
def test_paging_in_parts_loses_and_mixes_nothing(
    count: int, limit: int, events: list[tuple[int, str, int]]
) -> None:
    """Keyset pages read in 2 parts while records change, leave and enter the filter.

    Every record that stayed as it was is delivered once; none is delivered
    twice or joined from two versions. A record that changed has a stamp past
    the window's end and is the next window's to read.
    """
    end = 100
    # Id -> [second, version, in filter]
    org = {f"r{n:02d}": [n // 2, 0, True] for n in range(count)}
    for n in range(4):
        org[f"q{n:02d}"] = [n, 0, False]  # match the filter only once they "enter"
    touched: set[str] = set()
    reads = 0

    def read(part: str, after: RecordKey | None) -> list[dict[str, Any]]:
        nonlocal reads
        for at, kind, which in events:
            if at != reads:
                continue
            names = sorted(org)
            name = f"q{which % 4:02d}" if kind == "enter" else names[which % len(names)]
            state = org[name]
            touched.add(name)
            if kind == "change":
                state[0], state[1] = end + at, state[1] + 1
            elif kind == "leave":
                state[2] = False
            elif kind == "enter":
                state[2] = True
            else:  # committed late, stamped inside the window
                org[f"z{at:02d}{which:02d}"] = [which % 8, 0, True]
                touched.add(f"z{at:02d}{which:02d}")
        reads += 1
        rows = sorted(
            (_row(i, s[0], **{part: f"{i}.{s[1]}"}) for i, s in org.items() if s[2] and s[0] < end),
            key=lambda r: (r["SystemModstamp"], r["Id"]),
        )
        if after is not None:
            rows = [r for r in rows if (r["SystemModstamp"], r["Id"]) > (after.modstamp, after.id)]
        return rows[:limit]

    delivered: list[dict[str, Any]] = []
    after = None
    while True:
        page = stitch_page([read("A", after), read("B", after)], limit)
        delivered += page.records
        if page.after is None:
            break
        assert after is None or (page.after.modstamp, page.after.id) > (after.modstamp, after.id)
        after = page.after
        if page.done:
            break
    ids = [r["Id"] for r in delivered]
    assert len(ids) == len(set(ids))
    for record in delivered:
        assert record["A"].split(".")[1] == record["B"].split(".")[1], record
    untouched = {i for i, s in org.items() if s[2] and s[0] < end and i not in touched}
    assert untouched <= set(ids)


# -- dedupe at the boundary


def test_dedupe_drops_what_the_overlap_read_again() -> None:
    rest_row = {"Id": "a", "SystemModstamp": "2024-03-01T12:00:00.000+0000"}
    bulk_row = {"Id": "a", "SystemModstamp": datetime(2024, 3, 1, 12, tzinfo=UTC)}
    changed = {"Id": "a", "SystemModstamp": "2024-03-01T12:07:00.000Z"}
    other = {"Id": "b", "SystemModstamp": "2024-03-01T12:01:00.000Z"}
    seen = {record_key(bulk_row)}
    assert dedupe([rest_row, changed, other, other], seen) == [changed, other]


def test_boundary_keys_are_the_versions_the_next_overlap_reads() -> None:
    window = Window(T0, T0 + timedelta(hours=1))
    inside = {"Id": "a", "SystemModstamp": T0 + timedelta(minutes=55)}
    before = {"Id": "b", "SystemModstamp": T0 + timedelta(minutes=49)}
    assert boundary_keys([inside, before], window) == {record_key(inside)}
    next_window = plan_window(window.end, window.end + timedelta(hours=1))
    assert next_window.start == window.end - CursorSettings().overlap


def test_a_keyset_page_walks_the_stamp_index_without_sorting_the_rest() -> None:
    # The emulator's SQLite stands in for a real query planner: the page must
    # be a range on (SystemModstamp, Id), not every later row gathered and sorted.
    query = select_for_window(spec(), WINDOW, ["Email"], where=None, after=AFTER, limit=2000)
    org = Org.open(None)
    try:
        plan = plan_query(
            parse_soql(query.soql()),
            org.store.schema,
            include_deleted=False,
            now=WINDOW.end,
            tz=UTC,
            readable=None,
        )
        steps = [
            row[3] for row in org.store.execute("EXPLAIN QUERY PLAN " + plan.rows_sql, plan.params)
        ]
    finally:
        org.close()
    assert any("USING INDEX ix_contact_sysmod" in step for step in steps), steps
    assert not any("TEMP B-TREE" in step or "MULTI-INDEX OR" in step for step in steps), steps
