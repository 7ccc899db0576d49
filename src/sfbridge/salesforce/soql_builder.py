"""Build SOQL queries from parts, so that no caller writes SOQL by string concatenation.

::

    query = (
        Select("Contact")
        .fields("Id", "Email", "Account.Name")
        .where(F("SystemModstamp") >= since, F("Email") != None, F("Id").in_(ids))
        .where_raw(checked)  # a ValidatedFilter from soql_validate.validate_filter
        .order_by("SystemModstamp", "Id")
        .limit(2000)
    )
    query.soql()   # SELECT Id, Email, Account.Name FROM Contact WHERE SystemModstamp >= ...
    query.count()  # SELECT COUNT() FROM Contact WHERE ...

Every value goes through ``soql.literal``, every name through the grammar's
rule for names; the only text taken as it is is a ``ValidatedFilter``. Each
step returns a new ``Select``, so a base query can be shared and extended.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

from .soql import (
    Scalar,
    checked_field_path,
    checked_object_name,
    literal,
    quote_like_pattern,
)
from .soql_validate import ValidatedFilter

# A REST query travels in the URL, and Salesforce allows 16,384 bytes for the
# URI plus headers (SOQL semantics notes, item 10); this leaves room for the
# path, the host and the headers (Authorization and the rest).
MAX_QUERY_URL_CHARS = 14_000
# SOQL ref "OFFSET": larger offsets fail with NUMBER_OUTSIDE_VALID_RANGE.
MAX_OFFSET = 2000


@dataclass(frozen=True)
class Predicate:
    """A WHERE condition: ``a & b`` is AND, ``a | b`` OR, ``~a`` NOT.

    Made by the operators of ``F``, never from text. ``joiner`` is the
    operator between ``terms`` (``""`` for a single comparison).
    """

    terms: tuple[str, ...]
    joiner: str = ""

    def soql(self) -> str:
        """The condition's SOQL text."""
        return f" {self.joiner} ".join(self.terms)

    def __and__(self, other: Predicate) -> Predicate:
        return _join("AND", (self, other))

    def __or__(self, other: Predicate) -> Predicate:
        return _join("OR", (self, other))

    def __invert__(self) -> Predicate:
        return Predicate((f"NOT {self._unit()}",))

    def __bool__(self) -> bool:
        # `F("a") == 1 and F("b") == 2` would silently keep only the second condition.
        raise TypeError("a Predicate has no truth value; combine conditions with &, | and ~")

    def _unit(self) -> str:
        """The text as one operand of AND, OR or NOT: a compound condition in parentheses.

        Salesforce refuses ``a AND b OR c`` without parentheses, so a compound
        operand is always wrapped.
        """
        return f"({self.soql()})" if self.joiner else self.soql()


def _join(joiner: str, predicates: Iterable[Predicate]) -> Predicate:
    terms: list[str] = []
    for predicate in predicates:
        if not isinstance(predicate, Predicate):
            raise TypeError(
                f"expected a condition such as F('Name') == 'x', got {predicate!r}; "
                "a filter typed by a person goes through validate_filter() and where_raw()"
            )
        if predicate.joiner == joiner:
            terms.extend(predicate.terms)
        else:
            terms.append(predicate._unit())
    return Predicate(tuple(terms), joiner if len(terms) > 1 else "")


@dataclass(frozen=True)
class Sort:
    """One ORDER BY key, as ``F("CreatedDate").desc()`` makes it."""

    path: str
    descending: bool = False
    nulls_first: bool | None = None

    def __post_init__(self) -> None:
        checked_field_path(self.path)

    def soql(self) -> str:
        """The key's SOQL text (``CreatedDate DESC NULLS LAST``)."""
        text = self.path + (" DESC" if self.descending else "")
        if self.nulls_first is not None:
            text += " NULLS FIRST" if self.nulls_first else " NULLS LAST"
        return text


class F:
    """A field, or a path to a parent's field (``F("Account.Name")``); operators make conditions.

    ``F("Email") != None``, ``F("Amount") >= 100``, ``F("Name").like("Acme%")``,
    ``F("Id").in_(ids)``. A name that is not a SOQL name raises ``ValueError``.
    """

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = checked_field_path(path)

    def __repr__(self) -> str:
        return f"F({self.path!r})"

    # == and != build conditions instead of comparing, as in SQLAlchemy; mypy
    # expects object's bool-returning signature, hence the ignores.
    def __eq__(self, value: object) -> Predicate:  # type: ignore[override]
        return self._compare("=", value)

    def __ne__(self, value: object) -> Predicate:  # type: ignore[override]
        return self._compare("!=", value)

    def __lt__(self, value: Scalar) -> Predicate:
        return self._ordered("<", value)

    def __le__(self, value: Scalar) -> Predicate:
        return self._ordered("<=", value)

    def __gt__(self, value: Scalar) -> Predicate:
        return self._ordered(">", value)

    def __ge__(self, value: Scalar) -> Predicate:
        return self._ordered(">=", value)

    # Defining __eq__ would drop hashing anyway; say so for readers and mypy.
    __hash__ = None  # type: ignore[assignment]

    def like(self, pattern: str) -> Predicate:
        """``LIKE pattern``: ``%`` and ``_`` are wildcards, a backslash makes one literal.

        Match literal text with ``soql.escape_like``:
        ``F("Name").like(escape_like(prefix) + "%")``.
        """
        if not isinstance(pattern, str):
            raise TypeError(f"a LIKE pattern is a string, got {pattern!r}")
        return Predicate((f"{self.path} LIKE {quote_like_pattern(pattern)}",))

    def in_(self, values: Iterable[Scalar]) -> Predicate:
        """``IN (...)``; an empty list raises ``ValueError`` (SOQL has no empty list)."""
        return Predicate((f"{self.path} IN {_list(values)}",))

    def not_in(self, values: Iterable[Scalar]) -> Predicate:
        """``NOT IN (...)``; matches rows where the field is null too (SOQL semantics item 1)."""
        return Predicate((f"{self.path} NOT IN {_list(values)}",))

    def includes(self, values: Iterable[str]) -> Predicate:
        """Multi-select picklist ``INCLUDES``: ``"a;b"`` means both, two strings either."""
        return Predicate((f"{self.path} INCLUDES {_list(_strings(values))}",))

    def excludes(self, values: Iterable[str]) -> Predicate:
        """Multi-select picklist ``EXCLUDES``: none of the values (``"a;b"``: not both)."""
        return Predicate((f"{self.path} EXCLUDES {_list(_strings(values))}",))

    def asc(self, *, nulls_first: bool | None = None) -> Sort:
        """Ascending order; Salesforce puts nulls first unless told."""
        return Sort(self.path, False, nulls_first)

    def desc(self, *, nulls_first: bool | None = None) -> Sort:
        """Descending order."""
        return Sort(self.path, True, nulls_first)

    def _compare(self, operator: str, value: object) -> Predicate:
        return Predicate((f"{self.path} {operator} {_one(value)}",))

    def _ordered(self, operator: str, value: object) -> Predicate:
        if value is None:
            raise ValueError(
                f"{self.path} {operator} None has no meaning in SOQL; compare with None "
                "only through == and != (null tests)"
            )
        return self._compare(operator, value)


def _one(value: object) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        raise TypeError(f"compare with one value, got {value!r}; use in_() or not_in() for a list")
    if not isinstance(value, Scalar):
        raise TypeError(f"cannot write {type(value).__name__} {value!r} as a SOQL value")
    return literal(value)


def _list(values: Iterable[Scalar]) -> str:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"expected a list of values, got {values!r}")
    return literal(tuple(values))


def _strings(values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"expected a list of picklist values, got the string {values!r}")
    items = list(values)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"picklist values are strings, got {item!r}")
    return items


def _path(name: str | F) -> str:
    return name.path if isinstance(name, F) else checked_field_path(name)


def _url_length(text: str) -> int:
    """Characters of ``text`` percent-encoded with every reserved character escaped.

    An upper bound of what an HTTP client puts in ``?q=`` (a space may become
    ``+`` rather than ``%20``); encoding is per character, so lengths add up.
    """
    return len(quote(text, safe=""))


@dataclass(frozen=True)
class Select:
    """A SOQL query on one object; each method returns a new, extended query."""

    sobject: str
    selected: tuple[str, ...] = field(default=(), init=False)
    condition: Predicate | None = field(default=None, init=False)
    ordering: tuple[Sort, ...] = field(default=(), init=False)
    row_limit: int | None = field(default=None, init=False)
    row_offset: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        checked_object_name(self.sobject)

    def fields(self, *names: str | F) -> Select:
        """Add fields to SELECT (``Id`` when none are given); repeats are dropped."""
        selected = list(self.selected)
        seen = {name.lower() for name in selected}
        for name in names:
            path = _path(name)
            if path.lower() not in seen:
                seen.add(path.lower())
                selected.append(path)
        return self._with(selected=tuple(selected))

    def where(self, *conditions: Predicate) -> Select:
        """Add conditions; all of them, and those given before, must hold (AND)."""
        if not conditions:
            return self
        existing = () if self.condition is None else (self.condition,)
        return self._with(condition=_join("AND", (*existing, *conditions)))

    def where_raw(self, checked: ValidatedFilter) -> Select:
        """Add a person's filter, accepted by ``validate_filter`` for this object, with AND."""
        if not isinstance(checked, ValidatedFilter):
            raise TypeError(
                f"where_raw() takes a ValidatedFilter from validate_filter(), got {checked!r}"
            )
        if checked.object_name.lower() != self.sobject.lower():
            raise ValueError(
                f"the filter was validated for {checked.object_name}, not {self.sobject}; "
                f"validate it against {self.sobject}'s fields"
            )
        # Parenthesised: the filter may join its parts with OR.
        return self.where(Predicate((f"({checked.text})",)))

    def order_by(self, *keys: str | F | Sort) -> Select:
        """Add ORDER BY keys: a name or ``F`` sorts ascending, ``F(...).desc()`` descending."""
        added = tuple(key if isinstance(key, Sort) else Sort(_path(key)) for key in keys)
        return self._with(ordering=self.ordering + added)

    def limit(self, rows: int) -> Select:
        """Return at most ``rows`` records."""
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise ValueError(f"LIMIT takes a whole number of rows, 0 or more; got {rows!r}")
        return self._with(row_limit=rows)

    def offset(self, rows: int) -> Select:
        """Skip the first ``rows`` records (at most 2,000, Salesforce's limit)."""
        if isinstance(rows, bool) or not isinstance(rows, int) or not 0 <= rows <= MAX_OFFSET:
            raise ValueError(
                f"OFFSET takes a whole number from 0 to {MAX_OFFSET} (Salesforce's maximum); "
                f"got {rows!r}"
            )
        return self._with(row_offset=rows)

    def soql(self) -> str:
        """The query's SOQL text."""
        select = f"SELECT {', '.join(self.selected or ('Id',))} FROM {self.sobject}"
        order = ""
        if self.ordering:
            order = " ORDER BY " + ", ".join(key.soql() for key in self.ordering)
        return select + self._where_text() + order + self._window_text()

    def count(self) -> str:
        """``SELECT COUNT() FROM ...``: how many records the query selects.

        ORDER BY is left out: it does not change a count, and Salesforce
        refuses it with COUNT().
        """
        return f"SELECT COUNT() FROM {self.sobject}" + self._where_text() + self._window_text()

    def chunk_in(
        self, name: str | F, values: Iterable[Scalar], *, max_chars: int = MAX_QUERY_URL_CHARS
    ) -> list[Select]:
        """This query with ``name IN (...)`` added, split so that each stays short enough.

        Together the queries cover every value (repeats dropped; no values
        give no queries). Each one's SOQL, percent-encoded as in a REST
        ``?q=`` URL, is at most ``max_chars`` characters. Raises
        ``ValueError`` when even one value does not fit.
        """
        path = _path(name)
        unique = list(dict.fromkeys(values))
        if not unique:
            return []
        costs = [_url_length(_one(value)) for value in unique]
        comma = _url_length(",")
        # Everything but the values: the query with a one-value list, less that value.
        overhead = _url_length(self.where(F(path).in_(unique[:1])).soql()) - costs[0]
        chunks: list[list[Scalar]] = []
        size = 0
        for value, cost in zip(unique, costs, strict=True):
            if chunks and size + comma + cost <= max_chars:
                chunks[-1].append(value)
                size += comma + cost
                continue
            size = overhead + cost
            if size > max_chars:
                raise ValueError(
                    f"the query with {path} IN ({_one(value)}) is {size} characters in a URL, "
                    f"over max_chars={max_chars}; shorten the query or allow more characters"
                )
            chunks.append([value])
        return [self.where(F(path).in_(chunk)) for chunk in chunks]

    def _where_text(self) -> str:
        return "" if self.condition is None else " WHERE " + self.condition.soql()

    def _window_text(self) -> str:
        text = "" if self.row_limit is None else f" LIMIT {self.row_limit}"
        return text + ("" if self.row_offset is None else f" OFFSET {self.row_offset}")

    def _with(self, **changes: object) -> Select:
        clone = copy.copy(self)
        for attribute, value in changes.items():
            # Frozen for callers; a fresh copy may still be filled in here.
            object.__setattr__(clone, attribute, value)
        return clone
