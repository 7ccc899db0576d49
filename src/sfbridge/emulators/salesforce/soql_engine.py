"""The emulator's SOQL engine: run a query over the org's SQLite tables, page REST records.

``QueryEngine.execute`` parses (soql_parser.py), plans (soql_compile.py) and
runs a query once. A record query keeps the matching rowids in order, a
snapshot like a real query locator; ``QueryCursor.page`` then reads the
selected fields of one slice of it and shapes them as the REST API does::

    {"attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003..."},
     "Id": "003...", "Account": {"attributes": {...}, "Name": "Acme"}}

A parent that does not exist is ``null``; a polymorphic parent's attributes
say ``"type": "Name"`` and its URL names the real object. Aggregate queries
return ``AggregateResult`` rows (``expr0``, ``expr1`` ... or the aliases).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from sfbridge.salesforce.soql_parser import parse_soql

from .codec import compound_value, from_db
from .soql_compile import AggregateColumn, CompoundLeaf, Leaf, Plan, Shape, plan_query
from .soql_filter import register_functions
from .storage import OrgStore

# SQLite's smallest default limit on parameters per statement is 999.
_IDS_PER_STATEMENT = 900

Pager = Callable[[int, int], list[dict[str, Any]]]


class QueryCursor:
    """The result of one query: its size, and its records read page by page."""

    def __init__(self, object_name: str, total_size: int, count_only: bool, pager: Pager) -> None:
        self.object_name = object_name
        self.total_size = total_size
        self.count_only = count_only
        self._pager = pager

    def page(self, start: int, size: int) -> list[dict[str, Any]]:
        """Records ``start`` to ``start + size`` (fewer at the end) as REST JSON."""
        if self.count_only or size <= 0 or start >= self.total_size:
            return []
        return self._pager(max(start, 0), size)


class QueryEngine:
    """Runs SOQL against one org's store."""

    def __init__(self, store: OrgStore) -> None:
        self.store = store
        with store.lock:
            register_functions(store.connection)

    def execute(
        self,
        soql: str,
        *,
        include_deleted: bool,
        api_version: str,
        now: datetime,
        tz: tzinfo = UTC,
        readable: Callable[[str, str], bool] | None = None,
    ) -> QueryCursor:
        """Run ``soql`` as ``/query`` (``include_deleted=False``) or ``/queryAll`` does.

        ``now`` and ``tz`` (the running user's time zone) fix the date
        literals; ``readable(object, field)`` is the user's field-level
        security, and a field it hides is an unknown field. ``api_version``
        is the number in record URLs (``"62.0"``). Raises ``SoqlError``.
        """
        query = parse_soql(soql)
        moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        plan = plan_query(
            query,
            self.store.schema,
            include_deleted=include_deleted,
            now=moment,
            tz=tz,
            readable=readable,
        )
        name = plan.sobject.name
        with self.store.lock:
            if plan.kind == "count":
                total = int(
                    self.store.connection.execute(plan.count_sql, plan.params).fetchone()[0]
                )
                return QueryCursor(name, total, True, lambda start, size: [])
            rows = self.store.connection.execute(plan.rows_sql, plan.params)
            if plan.kind == "aggregate":
                results = [_aggregate_record(plan.columns, row) for row in rows]
                return QueryCursor(name, len(results), False, _list_pager(results))
            rowids = array("q", (row[0] for row in rows))
        pages = _RecordPages(self.store, plan, rowids, f"/services/data/v{api_version}")
        return QueryCursor(name, len(rowids), False, pages)


def _list_pager(records: list[dict[str, Any]]) -> Pager:
    return lambda start, size: records[start : start + size]


class _RecordPages:
    """Reads pages of a record query's rowid snapshot."""

    def __init__(self, store: OrgStore, plan: Plan, rowids: array[int], base_url: str) -> None:
        self.store = store
        self.plan = plan
        self.rowids = rowids
        self.base_url = base_url

    def __call__(self, start: int, size: int) -> list[dict[str, Any]]:
        chosen = self.rowids[start : start + size]
        found: dict[int, Sequence[Any]] = {}
        with self.store.lock:
            for first in range(0, len(chosen), _IDS_PER_STATEMENT):
                batch = list(chosen[first : first + _IDS_PER_STATEMENT])
                sql = self.plan.page_sql + "(" + ", ".join("?" for _ in batch) + ")"
                for row in self.store.connection.execute(sql, batch):
                    found[row[0]] = row
        assert self.plan.shape is not None
        shape = self.plan.shape
        # A row purged since the query ran is skipped, as a real cursor skips it.
        return [self._record(shape, found[rowid]) for rowid in chosen if rowid in found]

    def _record(self, shape: Shape, row: Sequence[Any]) -> dict[str, Any]:
        type_name = row[shape.type_index]
        attributes_type = "Name" if shape.relation.polymorphic else type_name
        url = f"{self.base_url}/sobjects/{type_name}/{row[shape.id_index]}"
        record: dict[str, Any] = {"attributes": {"type": attributes_type, "url": url}}
        for entry in shape.entries.values():
            if isinstance(entry, Leaf):
                record[entry.key] = from_db(entry.field, row[entry.index])
            elif isinstance(entry, CompoundLeaf):
                parts = {name: row[index] for name, index in entry.components}
                record[entry.key] = compound_value(entry.field, parts)
            else:
                present = row[entry.id_index] is not None
                record[entry.key] = self._record(entry, row) if present else None
        return record


def _aggregate_record(columns: Sequence[AggregateColumn], row: Sequence[Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
    for column, value in zip(columns, row, strict=True):
        if column.function in {"COUNT", "COUNT_DISTINCT"}:
            record[column.key] = int(value or 0)
        elif column.function == "AVG":
            record[column.key] = None if value is None else float(value)
        else:
            record[column.key] = from_db(column.field, value)
    return record
