"""Building SOQL from parts: exact output, refusals, splitting IN lists, and three round trips.

The property tests check that (a) every value the builder writes parses
back to the same value, (b) every query it builds runs on the emulator's
engine and passes the filter validator, (c) a record stored with any last
name is found again by a query on that name.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfbridge.emulators.salesforce.org import Org
from sfbridge.emulators.salesforce.schema import ObjectDef
from sfbridge.emulators.salesforce.soql_engine import QueryEngine
from sfbridge.emulators.salesforce.storage import OrgStore
from sfbridge.salesforce.ids import make_id
from sfbridge.salesforce.soql import Scalar, escape_like
from sfbridge.salesforce.soql_builder import MAX_QUERY_URL_CHARS, F, Predicate, Select
from sfbridge.salesforce.soql_parser import (
    BoolLit,
    Comparison,
    DateLit,
    DateTimeLit,
    Literal,
    NumberLit,
    StringLit,
    parse_soql,
)
from sfbridge.salesforce.soql_rules import FieldKind, field_kind
from sfbridge.salesforce.soql_validate import FieldInfo, validate_filter

from .test_soql_validate import SCHEMA, describe

NOW = datetime(2024, 3, 13, 15, 30, tzinfo=UTC)
SINCE = datetime(2024, 1, 31, 12, 0, 0, 250000, tzinfo=UTC)
ID1 = make_id("003", 1)
ID2 = make_id("003", 2)

# -- exact output -------------------------------------------------------------


def test_the_whole_query() -> None:
    fields = {
        "LastName": FieldInfo("LastName", "string"),
        "Title": FieldInfo("Title", "string"),
    }
    person = validate_filter("Contact", "LastName = 'Smith' OR Title LIKE 'CEO%'", fields)
    query = (
        Select("Contact")
        .fields("Id", "Email", "Account.Name")
        .where(F("SystemModstamp") >= SINCE, F("Email") != None, F("Id").in_([ID1, ID2]))  # noqa: E711
        .where_raw(person)
        .order_by("SystemModstamp", "Id")
        .limit(2000)
    )
    assert query.soql() == (
        "SELECT Id, Email, Account.Name FROM Contact "
        "WHERE SystemModstamp >= 2024-01-31T12:00:00.250Z AND Email != null "
        f"AND Id IN ('{ID1}','{ID2}') AND (LastName = 'Smith' OR Title LIKE 'CEO%') "
        "ORDER BY SystemModstamp, Id LIMIT 2000"
    )
    assert query.count() == (
        "SELECT COUNT() FROM Contact "
        "WHERE SystemModstamp >= 2024-01-31T12:00:00.250Z AND Email != null "
        f"AND Id IN ('{ID1}','{ID2}') AND (LastName = 'Smith' OR Title LIKE 'CEO%') LIMIT 2000"
    )


@pytest.mark.parametrize(
    ("condition", "soql"),
    [
        (F("Name") == "O'Brien", "Name = 'O\\'Brien'"),
        (F("Name") != None, "Name != null"),  # noqa: E711
        (F("Name") == None, "Name = null"),  # noqa: E711
        (F("IsDeleted") == False, "IsDeleted = false"),  # noqa: E712
        (F("Amount") < 10, "Amount < 10"),
        (F("Amount") <= 1.5, "Amount <= 1.5"),
        (F("Amount") > Decimal("1E-7"), "Amount > 0.0000001"),
        (F("Amount") >= -3, "Amount >= -3"),
        (F("CloseDate") > date(2024, 1, 31), "CloseDate > 2024-01-31"),
        (
            F("CreatedDate") < datetime(2024, 1, 31, 13, 0, tzinfo=timezone(timedelta(hours=1))),
            "CreatedDate < 2024-01-31T12:00:00.000Z",
        ),
        (F("Name").like("Ac%"), "Name LIKE 'Ac%'"),
        (F("Name").like(escape_like("100%_") + "%"), "Name LIKE '100\\%\\_%'"),
        (F("Id").in_([ID1, None]), f"Id IN ('{ID1}',null)"),
        (F("Id").not_in((ID1,)), f"Id NOT IN ('{ID1}')"),
        (F("Amount").in_(n for n in [1, 2]), "Amount IN (1,2)"),
        (
            F("Interests__c").includes(["Golf;Tennis", "Chess"]),
            "Interests__c INCLUDES ('Golf;Tennis','Chess')",
        ),
        (F("Interests__c").excludes(["Golf"]), "Interests__c EXCLUDES ('Golf')"),
        (F("Account.Owner.Name") == "x", "Account.Owner.Name = 'x'"),
    ],
)
def test_comparisons(condition: Predicate, soql: str) -> None:
    assert condition.soql() == soql


A, B, C, D = (F(name) == 1 for name in "ABCD")


@pytest.mark.parametrize(
    ("condition", "soql"),
    [
        (A & B & C, "A = 1 AND B = 1 AND C = 1"),
        (A | B | C, "A = 1 OR B = 1 OR C = 1"),
        (A & (B | C), "A = 1 AND (B = 1 OR C = 1)"),
        ((A | B) & (C | D), "(A = 1 OR B = 1) AND (C = 1 OR D = 1)"),
        ((A & B) | C, "(A = 1 AND B = 1) OR C = 1"),
        (~A, "NOT A = 1"),
        (~(A & B), "NOT (A = 1 AND B = 1)"),
        (~A | ~B, "NOT A = 1 OR NOT B = 1"),
        (~~A, "NOT NOT A = 1"),
        ((A & B) & (C & D), "A = 1 AND B = 1 AND C = 1 AND D = 1"),
    ],
)
def test_combining(condition: Predicate, soql: str) -> None:
    assert condition.soql() == soql
    # Every combination is one SOQL condition the grammar reads.
    assert parse_soql(Select("Account").where(condition).soql()).where is not None


def test_where_again_adds_with_and() -> None:
    query = Select("Account").where(A | B).where(C).where()
    assert query.soql() == "SELECT Id FROM Account WHERE (A = 1 OR B = 1) AND C = 1"


def test_each_step_returns_a_new_query() -> None:
    base = Select("Account").fields("Name")
    recent = base.where(F("CreatedDate") > SINCE)
    assert base.soql() == "SELECT Name FROM Account"
    assert recent.soql() == "SELECT Name FROM Account WHERE CreatedDate > 2024-01-31T12:00:00.250Z"
    with pytest.raises(AttributeError):
        base.sobject = "Contact"  # type: ignore[misc]


def test_fields_default_to_id_and_repeats_are_dropped() -> None:
    assert Select("Lead").soql() == "SELECT Id FROM Lead"
    query = Select("Lead").fields("Id", F("Name")).fields("id", "Email", "NAME")
    assert query.soql() == "SELECT Id, Name, Email FROM Lead"


def test_ordering_limit_and_offset() -> None:
    query = (
        Select("Contact")
        .order_by(F("LastName").desc(nulls_first=False), "FirstName")
        .order_by(F("Id").asc(nulls_first=True))
        .limit(10)
        .offset(2000)
    )
    assert query.soql() == (
        "SELECT Id FROM Contact ORDER BY LastName DESC NULLS LAST, FirstName, Id NULLS FIRST "
        "LIMIT 10 OFFSET 2000"
    )
    assert query.count() == "SELECT COUNT() FROM Contact LIMIT 10 OFFSET 2000"


# -- refusals -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["First Name", "Name'", "Account..Name", "Limit", "Id, Name", ""])
def test_field_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="is not a SOQL field name") as caught:
        F(name)
    assert repr(name) in str(caught.value)
    with pytest.raises(ValueError, match="is not a SOQL field name"):
        Select("Contact").fields("Id", name)
    with pytest.raises(ValueError, match="is not a SOQL field name"):
        Select("Contact").order_by(name)


def test_object_names_are_checked() -> None:
    with pytest.raises(ValueError, match="'Contact WHERE Id' is not a SOQL object name"):
        Select("Contact WHERE Id")


@pytest.mark.parametrize(
    ("build", "error", "fragment"),
    [
        (lambda: F("Id") == [ID1], TypeError, "use in_() or not_in() for a list"),
        (lambda: F("Id") == F("Name"), TypeError, "cannot write F"),
        (lambda: F("Amount") < None, ValueError, "compare with None only through == and !="),
        (lambda: F("Id").in_([]), ValueError, "an IN list needs at least one value"),
        (lambda: F("Id").in_(ID1), TypeError, "expected a list of values"),
        (lambda: F("X").includes("Golf"), TypeError, "expected a list of picklist values"),
        (lambda: F("X").includes([1]), TypeError, "picklist values are strings"),  # type: ignore[list-item]
        (lambda: F("X").like(5), TypeError, "a LIKE pattern is a string"),  # type: ignore[arg-type]
        (lambda: F("X").like("ends\\"), ValueError, "lone backslash"),
        (lambda: F("X") == datetime(2024, 1, 1), ValueError, "has no time zone"),
        (lambda: Select("X").where("Name = 'x'"), TypeError, "validate_filter() and where_raw()"),  # type: ignore[arg-type]
        (lambda: Select("X").where_raw("Name = 'x'"), TypeError, "takes a ValidatedFilter"),  # type: ignore[arg-type]
        (lambda: Select("X").limit(-1), ValueError, "LIMIT takes a whole number"),
        (lambda: Select("X").limit(True), ValueError, "LIMIT takes a whole number"),
        (lambda: Select("X").offset(2001), ValueError, "from 0 to 2000"),
        (lambda: bool(A), TypeError, "combine conditions with &, | and ~"),
    ],
)
def test_refused(build: Callable[[], object], error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        build()
    assert fragment in str(caught.value)


def test_and_or_not_cannot_stand_for_and_or() -> None:
    # `a and b` would quietly keep only b; a Predicate refuses to be a bool.
    with pytest.raises(TypeError):
        _ = (F("A") == 1) and (F("B") == 2)


def test_a_filter_validated_for_another_object_is_refused() -> None:
    checked = validate_filter("Lead", "Company = 'x'", {"Company": FieldInfo("Company", "string")})
    with pytest.raises(ValueError, match="validated for Lead, not Contact"):
        Select("Contact").where_raw(checked)
    assert Select("lead").where_raw(checked).soql() == "SELECT Id FROM lead WHERE (Company = 'x')"


# -- splitting long IN lists --------------------------------------------------


def _url_length(soql: str) -> int:
    return len(quote(soql, safe=""))


def test_chunk_in_covers_every_value_within_the_budget() -> None:
    ids = [make_id("003", n) for n in range(3000)]
    base = Select("Contact").fields("Id", "LastName").where(F("IsDeleted") == False)  # noqa: E712
    queries = base.chunk_in("Id", ids + ids[:10], max_chars=4000)
    assert len(queries) > 1
    found: list[str] = []
    for query in queries:
        soql = query.soql()
        assert _url_length(soql) <= 4000
        parsed = parse_soql(soql)
        assert parsed.where is not None
        *_, in_list = parsed.where.items  # type: ignore[union-attr]
        assert isinstance(in_list, Comparison)
        assert in_list.operator == "IN"
        found += [v.value for v in in_list.values if isinstance(v, StringLit)]
    assert found == ids
    # Chunks are filled: merging two neighbours would exceed the budget.
    assert _url_length(queries[0].soql()) > 4000 - _url_length(",'" + ids[0] + "'")


def test_chunk_in_default_budget_and_small_lists() -> None:
    ids = [make_id("001", n) for n in range(5)]
    [query] = Select("Account").chunk_in(F("Id"), ids)
    assert (
        query.soql()
        == "SELECT Id FROM Account WHERE Id IN (" + ",".join(f"'{i}'" for i in ids) + ")"
    )
    assert Select("Account").chunk_in("Id", []) == []
    many = [make_id("001", n) for n in range(2000)]
    assert all(
        _url_length(q.soql()) <= MAX_QUERY_URL_CHARS for q in Select("Account").chunk_in("Id", many)
    )


def test_chunk_in_refuses_a_budget_too_small_for_one_value() -> None:
    with pytest.raises(ValueError, match="over max_chars=40"):
        Select("Account").chunk_in("Id", [ID1], max_chars=40)


# -- (a) values parse back ----------------------------------------------------

_OFFSETS = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
_DATETIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_OFFSETS
)
_NUMBERS = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False),
)
_VALUES = st.one_of(st.text(), st.booleans(), _NUMBERS, st.dates(), _DATETIMES)


def _expected(value: Scalar) -> object:
    """What the parser should read back for ``value``."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, datetime):
        # Written in UTC, to the millisecond (truncated).
        utc = value.astimezone(UTC)
        return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _read(node: Literal) -> object:
    assert isinstance(node, StringLit | BoolLit | NumberLit | DateLit | DateTimeLit)
    return node.value


@given(_VALUES)
def test_values_parse_back(value: Scalar) -> None:
    parsed = parse_soql(Select("Contact").where(F("Field__c") == value).soql())
    assert isinstance(parsed.where, Comparison)
    [node] = parsed.where.values
    assert _read(node) == _expected(value)
    assert type(_read(node)) is type(_expected(value))


@given(st.lists(_VALUES, min_size=1, max_size=5))
def test_value_lists_parse_back(values: list[Scalar]) -> None:
    parsed = parse_soql(Select("Contact").where(F("Field__c").in_(values)).soql())
    assert isinstance(parsed.where, Comparison)
    assert [_read(node) for node in parsed.where.values] == [_expected(v) for v in values]


# -- (b) every query runs on the engine and passes the validator ----------------
# The org: the standard objects, and Contact's custom fields of test_soql_validate.


OBJECTS = ("Contact", "Account", "Opportunity", "Lead", "Case")


def _obj(name: str) -> ObjectDef:
    obj = SCHEMA.object(name)
    assert obj is not None
    return obj


def _filterable(name: str) -> list[FieldInfo]:
    fields = describe(name) or {}
    return [
        info
        for info in fields.values()
        if info.filterable and info.type not in {"address", "location", "time"}
    ]


_TEXT = st.text(max_size=12)
_PATTERN = st.lists(st.one_of(st.sampled_from(["%", "_"]), _TEXT.map(escape_like)), max_size=4).map(
    "".join
)
_SAFE_NUMBERS = st.one_of(
    st.integers(-(2**53), 2**53),
    st.floats(-1e15, 1e15, allow_nan=False),
    st.decimals(-(10**12), 10**12, places=4, allow_nan=False),
)
# Salesforce's dates run from 1700 to 4000 (SOQL semantics notes, item 6).
_EARLIEST = datetime(1700, 1, 2)
_LATEST = datetime(4000, 12, 30)


def _values_for(kind: FieldKind, info: FieldInfo) -> st.SearchStrategy[Any]:
    if kind == FieldKind.ID:
        return st.builds(make_id, st.just("003"), st.integers(0, 10**6)).flatmap(
            lambda full: st.sampled_from([full, full[:15]])
        )
    if kind == FieldKind.MULTI:
        picks = st.lists(st.sampled_from(info.picklist_values), min_size=1, max_size=3)
        return picks.map(";".join)
    if kind == FieldKind.BOOLEAN:
        return st.booleans()
    if kind == FieldKind.NUMBER:
        return _SAFE_NUMBERS
    if kind == FieldKind.DATE:
        return st.dates(_EARLIEST.date(), _LATEST.date())
    if kind == FieldKind.DATETIME:
        return st.datetimes(_EARLIEST, _LATEST, timezones=_OFFSETS)
    return _TEXT


_OPERATORS = {
    FieldKind.TEXT: ["==", "!=", "<", ">=", "like", "in_", "not_in"],
    FieldKind.MULTI: ["==", "!=", "includes", "excludes"],
    FieldKind.BOOLEAN: ["==", "!=", "in_"],
}
_ORDERED = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _field_of_any_kind(object_name: str) -> st.SearchStrategy[FieldInfo]:
    """A filterable field; each kind as likely as another, so rare ones (multi) occur."""
    by_kind: dict[FieldKind, list[FieldInfo]] = {}
    for info in _filterable(object_name):
        by_kind.setdefault(field_kind(info.type), []).append(info)
    return st.sampled_from(sorted(by_kind)).flatmap(lambda kind: st.sampled_from(by_kind[kind]))


@st.composite
def _comparison(draw: st.DrawFn, object_name: str) -> Predicate:
    info = draw(_field_of_any_kind(object_name))
    path = info.name
    # Now and then a parent's field, through a lookup to one object: Account.Name.
    parent = info.reference_to[0] if len(info.reference_to) == 1 else ""
    if info.relationship_name and SCHEMA.object(parent) is not None and draw(st.booleans()):
        relationship = info.relationship_name
        info = draw(_field_of_any_kind(parent))
        path = f"{relationship}.{info.name}"
    field = F(path)
    kind = field_kind(info.type)
    values = _values_for(kind, info)
    with_null = st.one_of(values, st.none())
    default = ["==", "!=", "<", "<=", ">", ">=", "in_", "not_in"]
    name = draw(st.sampled_from(_OPERATORS.get(kind, default)))
    if name == "==":
        return field == draw(with_null)
    if name == "!=":
        return field != draw(with_null)
    if name == "like":
        return field.like(draw(_PATTERN))
    if name == "in_":
        return field.in_(draw(st.lists(with_null, min_size=1, max_size=4)))
    if name == "not_in":
        return field.not_in(draw(st.lists(with_null, min_size=1, max_size=4)))
    if name == "includes":
        return field.includes(draw(st.lists(values, min_size=1, max_size=3)))
    if name == "excludes":
        return field.excludes(draw(st.lists(values, min_size=1, max_size=3)))
    result: Predicate = _ORDERED[name](field, draw(values))
    return result


def _condition(object_name: str) -> st.SearchStrategy[Predicate]:
    return st.recursive(
        _comparison(object_name),
        lambda children: st.one_of(
            st.tuples(children, children).map(lambda pair: pair[0] & pair[1]),
            st.tuples(children, children).map(lambda pair: pair[0] | pair[1]),
            children.map(lambda child: ~child),
        ),
        max_leaves=5,
    )


@st.composite
def _query(draw: st.DrawFn) -> tuple[str, Predicate | None, Select]:
    object_name = draw(st.sampled_from(OBJECTS))
    stored = [f for f in _obj(object_name).fields.values() if not f.is_compound]
    sortable = [f.name for f in stored if f.flag("sortable")]
    stored_names = [f.name for f in stored]
    query = Select(object_name).fields(*draw(st.lists(st.sampled_from(stored_names), max_size=4)))
    condition = draw(st.none() | _condition(object_name))
    if condition is not None:
        query = query.where(condition)
    for key in draw(st.lists(st.sampled_from(sortable), max_size=2)):
        query = query.order_by(draw(st.sampled_from([F(key).asc(), F(key).desc(nulls_first=True)])))
    limit = draw(st.none() | st.integers(0, 5000))
    if limit is not None:
        query = query.limit(limit)
    return object_name, condition, query


@pytest.fixture(scope="module")
def engine() -> Iterator[QueryEngine]:
    """An engine on an empty org with the standard objects (and Contact.Interests__c)."""
    store = OrgStore(None, SCHEMA)
    yield QueryEngine(store)
    store.close()


def _run(engine: QueryEngine, soql: str) -> list[dict[str, Any]]:
    cursor = engine.execute(soql, include_deleted=False, api_version="62.0", now=NOW)
    return cursor.page(0, cursor.total_size)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_query())
def test_every_built_query_runs_and_its_filter_validates(
    engine: QueryEngine, built: tuple[str, Predicate | None, Select]
) -> None:
    object_name, condition, query = built
    _run(engine, query.soql())
    _run(engine, query.count())
    if condition is not None:
        fields = describe(object_name)
        assert fields is not None
        checked = validate_filter(object_name, condition.soql(), fields, related=describe)
        _run(engine, Select(object_name).where_raw(checked).soql())


def test_multi_select_picklist_conditions_run_on_the_engine() -> None:
    store = OrgStore(None, SCHEMA)
    rows = [(make_id("003", 1), "A", "Golf;Tennis"), (make_id("003", 2), "B", "Chess")]
    store.insert_rows(
        _obj("Contact"), ["Id", "LastName", "Interests__c"], [*rows, (make_id("003", 3), "C", None)]
    )
    engine = QueryEngine(store)

    def names(condition: Predicate) -> list[str]:
        query = Select("Contact").fields("LastName").where(condition).order_by("LastName")
        return [record["LastName"] for record in _run(engine, query.soql())]

    interests = F("Interests__c")
    assert names(interests.includes(["Tennis;Golf"])) == ["A"]
    assert names(interests.includes(["Golf", "Chess"])) == ["A", "B"]
    assert names(interests.excludes(["Golf"])) == ["B", "C"]
    assert names(interests == "Tennis;Golf") == ["A"]
    assert names(~(interests != None)) == ["C"]  # noqa: E711
    store.close()


# -- (c) a record is found by its name ------------------------------------------


@pytest.fixture(scope="module")
def org() -> Iterator[Org]:
    """An in-memory org, as the emulator's server runs it."""
    org = Org.open(None)
    yield org
    org.close()


_NUMBERS_USED = itertools.count(10**6)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=80))
def test_a_contact_is_found_by_any_last_name(org: Org, last_name: str) -> None:
    record_id = make_id("003", next(_NUMBERS_USED))
    org.store.insert_rows(org.object("Contact"), ["Id", "LastName"], [(record_id, last_name)])
    engine = QueryEngine(org.store)
    query = Select("Contact").fields("Id", "LastName").where(F("LastName") == last_name)
    records = _run(engine, query.soql())
    assert record_id in {record["Id"] for record in records}
    # Others match only as SOQL's case-insensitive = allows.
    assert {record["LastName"].lower() for record in records} == {last_name.lower()}
