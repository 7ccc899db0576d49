"""A parsed SOQL query planned as SQL over the org's tables (layout: storage.py).

A record query runs in two steps, like a real org's query locator: ``rows_sql``
selects the matching rowids in order once (filter, order, LIMIT and OFFSET
all in SQL, so indexes are used), and ``page_sql`` fetches the selected
fields for one page of those rowids. ``SELECT COUNT()`` runs ``count_sql``;
aggregate queries (``COUNT(Id)``, ``GROUP BY``) run ``rows_sql`` and return
the rows themselves.

Ordering (SOQL semantics notes, item 3): ascending puts nulls first, as
documented; descending puts them last (the docs are silent; nulls sort as
the lowest value, which is also SQLite's order and keeps indexes usable).
A field reached through a relationship sorts nulls first whatever the query
says. Picklists sort in the order their values are defined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sfbridge.salesforce.soql_parser import Aggregate, FieldPath, OrderKey, Query, SoqlError

from .schema import NUMBER_TYPES, FieldDef, ObjectDef, OrgSchema
from .soql_filter import FilterCompiler, Params
from .soql_paths import FieldRef, PathResolver, Relation, sql_text
from .storage import quote_name

# SOQL ref "OFFSET": at most 2,000; with OFFSET only one batch comes back (item 10).
MAX_OFFSET = 2000
OFFSET_BATCH = 2000


@dataclass(frozen=True)
class Leaf:
    """A selected field: JSON key, describe, and its index in a page row."""

    key: str
    field: FieldDef
    index: int


@dataclass(frozen=True)
class CompoundLeaf:
    """A selected address or location field, built from its components' columns."""

    key: str
    field: FieldDef
    components: tuple[tuple[str, int], ...]


@dataclass
class Shape:
    """The JSON shape of one record (or nested parent record) in a page."""

    key: str
    relation: Relation
    id_index: int
    type_index: int
    entries: dict[str, Leaf | CompoundLeaf | Shape] = field(default_factory=dict)


@dataclass(frozen=True)
class AggregateColumn:
    """One column of an AggregateResult row: a grouped field or an aggregate."""

    key: str
    function: str | None
    field: FieldDef


@dataclass(frozen=True)
class Plan:
    """Everything the engine runs for one query."""

    sobject: ObjectDef
    kind: str  # "records", "count" or "aggregate"
    rows_sql: str
    count_sql: str
    params: tuple[Any, ...]
    page_sql: str = ""
    shape: Shape | None = None
    columns: tuple[AggregateColumn, ...] = ()


def plan_query(
    query: Query,
    schema: OrgSchema,
    *,
    include_deleted: bool,
    now: datetime,
    tz: tzinfo,
    readable: Callable[[str, str], bool] | None,
) -> Plan:
    """Plan ``query``; raises ``SoqlError`` as Salesforce would refuse it."""
    return _Planner(query, schema, include_deleted, now, tz, readable).plan()


class _Planner:
    def __init__(
        self,
        query: Query,
        schema: OrgSchema,
        include_deleted: bool,
        now: datetime,
        tz: tzinfo,
        readable: Callable[[str, str], bool] | None,
    ) -> None:
        self.query = query
        self.text = query.text
        obj = schema.object(query.sobject.name)
        if obj is None or not obj.describe.get("queryable", True):
            raise SoqlError.at(
                self.text,
                query.sobject.row,
                query.sobject.column,
                "INVALID_TYPE",
                f"sObject type '{query.sobject.name}' is not supported. If you are attempting "
                "to use a custom object, be sure to append the '__c' after the entity name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        self.obj = obj
        self.include_deleted = include_deleted
        self.resolver = PathResolver(schema, obj, self.text, readable)
        self.params = Params()
        self.filters = FilterCompiler(self.resolver, self.params, now=now, tz=tz)
        self._order_relations: list[Relation] = []
        self._grouped_refs: list[FieldRef] = []
        self._group_relations: list[Relation] = []

    def plan(self) -> Plan:
        query = self.query
        if query.offset is not None and query.offset > MAX_OFFSET:
            # A plain message, without the excerpt (item 10).
            raise SoqlError(
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"Maximum SOQL offset allowed for apiName {self.obj.name} is {MAX_OFFSET}",
            )
        if query.is_count_only:
            return self._count_plan()
        if query.group_by or any(isinstance(item, Aggregate) for item in query.select):
            return self._aggregate_plan()
        return self._records_plan()

    # -- the three kinds of query

    def _records_plan(self) -> Plan:
        shape, expressions, select_relations = self._projection()
        where = self._where()
        order = self._order(self.query.order_by)
        joins = self.resolver.joins(self.filters.relations + self._order_relations)
        table = f'{quote_name(self.obj.name)} AS "t0"'
        rows_sql = f'SELECT "t0".rowid FROM {table} {joins} {where} {order} {self._limit()}'
        page_sql = (
            f'SELECT "t0".rowid, {", ".join(expressions)} FROM {table} '
            f'{self.resolver.joins(select_relations)} WHERE "t0".rowid IN '
        )
        return Plan(self.obj, "records", rows_sql, "", tuple(self.params.values), page_sql, shape)

    def _count_plan(self) -> Plan:
        query = self.query
        if query.order_by:
            key = query.order_by[0].key
            raise self._malformed(key.row, key.column, "ORDER BY cannot be used with COUNT()")
        where = self._where()
        groups = self._group_by()
        joins = self.resolver.joins(self.filters.relations + self._group_relations)
        inner = f'SELECT 1 FROM {quote_name(self.obj.name)} AS "t0" {joins} {where} {groups}'
        count_sql = f"SELECT COUNT(*) FROM ({inner} {self._limit()})"
        return Plan(self.obj, "count", "", count_sql, tuple(self.params.values))

    def _aggregate_plan(self) -> Plan:
        query = self.query
        groups = self._group_by()
        grouped = {ref.key: ref for ref in self._grouped_refs}
        columns: list[AggregateColumn] = []
        expressions: list[str] = []
        relations: list[Relation] = list(self._group_relations)
        aliases: set[str] = set()
        unnamed = 0
        for item in query.select:
            if isinstance(item, FieldPath):
                ref = self.resolver.resolve(item)
                if ref.key not in grouped:
                    raise self._malformed(
                        item.row, item.column, f"Field must be grouped or aggregated: {item.text}"
                    )
                # A grouped field comes back under its bare name (item 11).
                columns.append(AggregateColumn(ref.field.name, None, ref.field))
                expressions.append(ref.sql)
                continue
            if item.field is None:
                raise self._malformed(
                    item.row, item.column, "COUNT() must be the only element in the SELECT list"
                )
            sql, ref = self._aggregate_sql(item)
            relations.append(ref.relation)
            if item.alias is None:
                key = f"expr{unnamed}"
                unnamed += 1
            else:
                key = item.alias
                if key.lower() in aliases:
                    raise self._malformed(item.row, item.column, f"duplicate alias: {key}")
                aliases.add(key.lower())
            columns.append(AggregateColumn(key, item.function, ref.field))
            expressions.append(sql)
        if query.limit is not None and not query.group_by:
            # SOQL ref "Aggregate Functions": LIMIT needs GROUP BY when aggregating.
            first = query.select[0]
            raise self._malformed(
                first.row, first.column, "An aggregate query without GROUP BY cannot use LIMIT"
            )
        where = self._where()
        order = self._aggregate_order(grouped, relations)
        joins = self.resolver.joins(self.filters.relations + relations)
        rows_sql = (
            f'SELECT {", ".join(expressions)} FROM {quote_name(self.obj.name)} AS "t0" '
            f"{joins} {where} {groups} {order} {self._limit()}"
        )
        return Plan(
            self.obj, "aggregate", rows_sql, "", tuple(self.params.values), columns=tuple(columns)
        )

    # -- clauses

    def _where(self) -> str:
        terms = []
        if self.query.where is not None:
            terms.append(self.filters.condition(self.query.where))
        # /query leaves out the recycle bin; /queryAll keeps it (item 12).
        if not self.include_deleted and self.obj.field("IsDeleted") is not None:
            terms.append('"t0"."IsDeleted" = 0')
        return "WHERE " + " AND ".join(terms) if terms else ""

    def _limit(self) -> str:
        limit, offset = self.query.limit, self.query.offset
        if offset is not None:
            limit = OFFSET_BATCH if limit is None else min(limit, OFFSET_BATCH)
        if limit is None:
            return ""
        return f"LIMIT {self.params.add(limit)} OFFSET {self.params.add(offset or 0)}"

    def _projection(self) -> tuple[Shape, list[str], list[Relation]]:
        root = self.resolver.root
        expressions = ['"t0"."Id"', sql_text(self.obj.name)]
        shape = Shape("", root, id_index=1, type_index=2)
        shapes: dict[int, Shape] = {id(root): shape}
        relations: list[Relation] = []
        seen: set[tuple[str, ...]] = set()

        def add(sql: str) -> int:
            expressions.append(sql)
            return len(expressions)  # rowid is column 0 of a page row

        def shape_of(relation: Relation) -> Shape:
            known = shapes.get(id(relation))
            if known is not None:
                return known
            assert relation.parent is not None
            parent = shape_of(relation.parent)
            child = Shape(relation.key, relation, add(relation.id_sql()), add(relation.type_sql()))
            parent.entries.setdefault(relation.key.lower(), child)
            shapes[id(relation)] = child
            return child

        for item in self.query.select:
            assert isinstance(item, FieldPath)
            ref = self.resolver.resolve(item)
            if ref.key in seen:
                raise SoqlError.at(
                    self.text,
                    item.row,
                    item.column,
                    "INVALID_FIELD",
                    f"duplicate field selected: {item.text}",
                )
            seen.add(ref.key)
            relations.append(ref.relation)
            owner = shape_of(ref.relation)
            name = ref.field.name
            if ref.field.is_compound:
                parts = tuple(
                    (part.name, add(ref.relation.column(part)))
                    for part in ref.relation.obj.components_of(ref.field)
                )
                owner.entries[name.lower()] = CompoundLeaf(name, ref.field, parts)
            else:
                owner.entries[name.lower()] = Leaf(name, ref.field, add(ref.sql))
        return shape, expressions, relations

    def _order(self, keys: tuple[OrderKey, ...]) -> str:
        terms: list[str] = []
        by_id = False
        for key in keys:
            if isinstance(key.key, Aggregate):
                raise self._malformed(
                    key.key.row, key.key.column, f"unexpected token: '{key.key.function}'"
                )
            ref = self.resolver.resolve(key.key)
            self._check_flag(ref, "sortable", "sorted")
            self._order_relations.append(ref.relation)
            terms += self._sort_terms(ref, key)
            by_id = by_id or (not ref.through_relationship and ref.field.type == "id")
        if terms and not by_id:
            # Id settles ties, so a query run twice (OFFSET paging) orders equal
            # rows alike; the (SystemModstamp, Id) index still delivers the order.
            terms.append('"t0"."Id"')
        return "ORDER BY " + ", ".join(terms) if terms else ""

    def _sort_terms(self, ref: FieldRef, key: OrderKey) -> list[str]:
        direction = "DESC" if key.descending else "ASC"
        if ref.through_relationship:
            nulls_first = True
        elif key.nulls_first is None:
            nulls_first = not key.descending
        else:
            nulls_first = key.nulls_first
        # SQLite's own default (nulls first ascending, last descending) is left
        # implicit so that an index can still deliver the order.
        nulls = (
            ""
            if nulls_first != key.descending
            else (" NULLS FIRST" if nulls_first else " NULLS LAST")
        )
        values = [v["value"] for v in ref.field.describe.get("picklistValues") or []]
        if ref.field.type != "picklist" or not values:
            return [f"{ref.sql} {direction}{nulls}"]
        # Picklists sort in definition order; undefined values after them (item 3).
        cases = " ".join(f"WHEN {ref.sql} = {sql_text(v)} THEN {i}" for i, v in enumerate(values))
        rank = f"(CASE WHEN {ref.sql} IS NULL THEN NULL {cases} ELSE {len(values)} END)"
        return [f"{rank} {direction}{nulls}", f"{ref.sql} {direction}"]

    def _group_by(self) -> str:
        for path in self.query.group_by:
            ref = self.resolver.resolve(path)
            self._check_flag(ref, "groupable", "grouped")
            self._grouped_refs.append(ref)
            self._group_relations.append(ref.relation)
        if not self._grouped_refs:
            return ""
        return "GROUP BY " + ", ".join(ref.sql for ref in self._grouped_refs)

    def _aggregate_sql(self, item: Aggregate) -> tuple[str, FieldRef]:
        assert item.field is not None
        ref = self.resolver.resolve(item.field)
        function = item.function
        usable = ref.field.describe.get("aggregatable", True) and not ref.field.is_compound
        if function in {"SUM", "AVG"}:
            usable = usable and ref.field.type in NUMBER_TYPES
        if not usable or (function != "COUNT" and ref.field.type == "boolean"):
            raise SoqlError.at(
                self.text,
                item.row,
                item.column,
                "INVALID_FIELD",
                f"field {ref.field.name} does not support aggregate operator {function}",
            )
        if function == "COUNT_DISTINCT":
            return f"COUNT(DISTINCT {ref.sql})", ref
        return f"{function}({ref.sql})", ref

    def _aggregate_order(
        self, grouped: dict[tuple[str, ...], FieldRef], relations: list[Relation]
    ) -> str:
        terms: list[str] = []
        for key in self.query.order_by:
            if isinstance(key.key, Aggregate):
                if key.key.field is None:
                    raise self._malformed(key.key.row, key.key.column, "unexpected token: ')'")
                sql, ref = self._aggregate_sql(key.key)
                relations.append(ref.relation)
                direction = "DESC" if key.descending else "ASC"
                terms.append(f"{sql} {direction}")
                continue
            ref = self.resolver.resolve(key.key)
            if ref.key not in grouped:
                raise self._malformed(
                    key.key.row,
                    key.key.column,
                    f"Ordered field must be grouped or aggregated: {key.key.text}",
                )
            terms += self._sort_terms(ref, key)
        return "ORDER BY " + ", ".join(terms) if terms else ""

    # -- errors

    def _check_flag(self, ref: FieldRef, flag: str, verb: str) -> None:
        if ref.field.is_compound or not ref.field.describe.get(flag, True):
            raise SoqlError.at(
                self.text,
                ref.path.row,
                ref.path.column,
                "INVALID_FIELD",
                f"field '{ref.field.name}' can not be {verb} in a query call",
            )

    def _malformed(self, row: int, column: int, text: str) -> SoqlError:
        return SoqlError.at(self.text, row, column, "MALFORMED_QUERY", text)
