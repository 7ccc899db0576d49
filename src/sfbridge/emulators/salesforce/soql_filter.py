"""SOQL WHERE conditions compiled to SQL predicates with SOQL's semantics.

The rules, with the SOQL semantics notes' item numbers:

- null is a value (item 1): ``!=``, ``NOT IN``, ``EXCLUDES`` and ``NOT (...)``
  match rows whose field is null; ``=`` / ``<`` / ``>`` / ``LIKE`` with a value
  do not. ``NOT`` is pushed down to the comparisons, and each comparison
  says explicitly what a null field gives, so SQL's three-valued logic never
  leaks through.
- a boolean is never null (item 4): ``Bool = null`` means ``Bool = false``.
- strings compare case-insensitively (item 2): the columns are ``COLLATE
  NOCASE``; a value with non-ASCII letters is compared through ``sf_fold``
  (Unicode lower case), which SQLite's ASCII-only NOCASE cannot do. Accents
  stay distinct. Fields described ``caseSensitive`` compare exactly.
- ids match case-sensitively, given as 15 or 18 characters (item 2).
- LIKE uses ``%``, ``_``, ``\\%`` and ``\\_`` (item 7) through SQL's LIKE with
  ``ESCAPE '\\'``; it is refused on id and multi-select picklist fields.
- multi-select picklists (item 14): ``;`` in a value means AND, a comma
  between values OR; ``=`` compares the set of selected values.
- a Date literal filters Date fields and a DateTime literal DateTime fields
  (item 6); date literals are ranges in the user's time zone (item 5).

Which operators and values a field accepts is decided by
``sfbridge.salesforce.soql_rules``, shared with the client's filter validator,
so both refuse the same filters with the same words.

A plain comparison on a column (``SystemModstamp >= ...``) stays a plain
comparison, so SQLite can use the column's index.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sfbridge.salesforce.ids import to_18
from sfbridge.salesforce.soql_parser import (
    And,
    BoolLit,
    Comparison,
    Condition,
    DateLit,
    DateLiteral,
    DateTimeLit,
    LikePattern,
    Literal,
    Not,
    NullLit,
    NumberLit,
    Or,
    SoqlError,
    StringLit,
)
from sfbridge.salesforce.soql_rules import FieldKind, comparison_problem, field_kind

from .codec import format_datetime
from .soql_dates import date_range
from .soql_paths import FieldRef, PathResolver, Relation

FOLD_FUNCTION = "sf_fold"
_NEGATED = {"!=": "=", "NOT IN": "IN", "EXCLUDES": "INCLUDES"}


def register_functions(connection: sqlite3.Connection) -> None:
    """Add the SQL functions compiled filters call (``sf_fold``) to ``connection``."""
    connection.create_function(FOLD_FUNCTION, 1, _fold, deterministic=True)


def _fold(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


class Params:
    """Positional SQL parameters, added in the order their ``?`` appear."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        """Keep ``value``; returns its placeholder."""
        self.values.append(value)
        return "?"

    def marks(self, values: list[Any]) -> str:
        """Placeholders for a list of values (``?, ?, ?``)."""
        return ", ".join(self.add(v) for v in values)


@dataclass(frozen=True)
class _Atom:
    """A predicate over a field; ``total`` when it is never NULL.

    When not total it is NULL exactly when the field is null, and
    ``null_match`` says whether such a row matches.
    """

    sql: str
    total: bool = False
    null_match: bool = False


_NEVER = _Atom("0", total=True)


class FilterCompiler:
    """Compiles one query's WHERE clause; remembers the relations it joined."""

    def __init__(
        self, resolver: PathResolver, params: Params, *, now: datetime, tz: tzinfo
    ) -> None:
        self.resolver = resolver
        self.params = params
        self.now = now
        self.tz = tz
        self.relations: list[Relation] = []

    def condition(self, node: Condition, negate: bool = False) -> str:
        """SQL for ``node`` (or its negation): true exactly for the rows SOQL returns."""
        if isinstance(node, Not):
            return self.condition(node.item, not negate)
        if isinstance(node, And | Or):
            joiner = " AND " if isinstance(node, And) != negate else " OR "
            return "(" + joiner.join(self.condition(item, negate) for item in node.items) + ")"
        return self._comparison(node, negate)

    def _comparison(self, node: Comparison, negate: bool) -> str:
        ref = self.resolver.resolve(node.field)
        self.relations.append(ref.relation)
        field = ref.field
        filterable = bool(field.describe.get("filterable", True))
        problem = comparison_problem(node, field.name, field.type, filterable=filterable)
        if problem is not None:
            raise SoqlError.at(
                self.resolver.text,
                problem.row,
                problem.salesforce_column,
                problem.error_code,
                problem.text,
            )
        operator = node.operator
        if operator in _NEGATED:
            operator, negate = _NEGATED[operator], not negate
        kind = field_kind(field.type)
        atom = self._atom(ref, kind, operator, node.values)
        if atom.total or not ref.nullable:
            return f"NOT ({atom.sql})" if negate else atom.sql
        body = f"NOT ({atom.sql})" if negate else atom.sql
        # A null field matches when exactly one of "atom matches null" and "negated" holds.
        return f"({body} OR {ref.sql} IS NULL)" if atom.null_match != negate else body

    # -- predicates

    def _atom(
        self, ref: FieldRef, kind: FieldKind, operator: str, values: tuple[Literal, ...]
    ) -> _Atom:
        if kind == FieldKind.MULTI:
            return self._multi(ref, operator, values)
        if operator == "IN":
            return self._in(ref, kind, values)
        value = values[0]
        if isinstance(value, DateLiteral):
            return self._range(ref, kind, operator, value)
        if kind == FieldKind.BOOLEAN:
            flag = isinstance(value, BoolLit) and value.value
            return _Atom(f"{ref.sql} {operator} {self.params.add(int(flag))}", total=True)
        if isinstance(value, NullLit):
            return _Atom(f"{ref.sql} IS NULL", total=True) if operator == "=" else _NEVER
        if operator == "LIKE":
            assert isinstance(value, LikePattern)
            return self._like(ref, value.pattern)
        scalar = self._scalar(ref, kind, value)
        if operator == "=":
            return self._equal(ref, kind, [scalar])
        return _Atom(f"{ref.sql} {operator} {self.params.add(scalar)}{self._collate(ref)}")

    def _in(self, ref: FieldRef, kind: FieldKind, values: tuple[Literal, ...]) -> _Atom:
        if kind == FieldKind.BOOLEAN:
            flags = [int(isinstance(v, BoolLit) and v.value) for v in values]
            return _Atom(f"{ref.sql} IN ({self.params.marks(flags)})", total=True)
        parts: list[str] = []
        scalars = [
            self._scalar(ref, kind, v) for v in values if not isinstance(v, NullLit | DateLiteral)
        ]
        if scalars:
            parts.append(self._equal(ref, kind, scalars).sql)
        parts += [self._range(ref, kind, "=", v).sql for v in values if isinstance(v, DateLiteral)]
        with_null = any(isinstance(v, NullLit) for v in values)
        if not parts:
            return _Atom(f"{ref.sql} IS NULL", total=True) if with_null else _NEVER
        sql = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
        return _Atom(sql, null_match=with_null)

    def _equal(self, ref: FieldRef, kind: FieldKind, scalars: list[Any]) -> _Atom:
        """``field = v`` or ``field IN (...)`` for non-null values."""
        column = ref.sql
        plain = scalars
        folded: list[str] = []
        if kind == FieldKind.TEXT and not ref.field.flag("caseSensitive"):
            plain = [s for s in scalars if s.isascii()]
            folded = [s.lower() for s in scalars if not s.isascii()]
        parts = []
        if len(plain) == 1:
            parts.append(f"{column} = {self.params.add(plain[0])}{self._collate(ref)}")
        elif plain:
            parts.append(f"{column} IN ({self.params.marks(plain)}){self._collate(ref)}")
        if folded:
            parts.append(f"{FOLD_FUNCTION}({column}) IN ({self.params.marks(folded)})")
        return _Atom(parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")")

    def _collate(self, ref: FieldRef) -> str:
        # Unique case-sensitive fields compare exactly (item 2).
        return " COLLATE BINARY" if ref.field.flag("caseSensitive") else ""

    def _like(self, ref: FieldRef, pattern: str) -> _Atom:
        if ref.field.flag("caseSensitive"):
            return _Atom(f"{ref.sql} GLOB {self.params.add(_glob(pattern))}")
        if pattern.isascii():
            return _Atom(f"{ref.sql} LIKE {self.params.add(pattern)} ESCAPE '\\'")
        folded = self.params.add(pattern.lower())
        return _Atom(f"{FOLD_FUNCTION}({ref.sql}) LIKE {folded} ESCAPE '\\'")

    def _scalar(self, ref: FieldRef, kind: FieldKind, value: Literal) -> Any:
        if kind == FieldKind.ID:
            # comparison_problem has refused ids that are not 15 or 18 letters and digits.
            assert isinstance(value, StringLit)
            return _id(value.value)
        if isinstance(value, StringLit):
            return value.value
        if isinstance(value, NumberLit):
            return _number(value.value)
        if isinstance(value, DateLit):
            return value.value.isoformat()
        if isinstance(value, DateTimeLit):
            return format_datetime(value.value)
        raise AssertionError(f"unchecked literal {value!r} for {ref.field.name}")

    def _range(self, ref: FieldRef, kind: FieldKind, operator: str, literal: DateLiteral) -> _Atom:
        # = is "within", < and >= compare to the start, > and <= to the end (item 5).
        span = date_range(literal, self.now, self.tz)
        if kind == FieldKind.DATE:
            start, end = span.start.isoformat(), span.end.isoformat()
        else:
            start = format_datetime(_midnight(span.start, self.tz))
            if span.until_now:
                now = self.now.replace(microsecond=self.now.microsecond // 1000 * 1000)
                end = format_datetime(now + timedelta(milliseconds=1))
            else:
                end = format_datetime(_midnight(span.end, self.tz))
        column = ref.sql
        if operator == "=":
            return _Atom(
                f"({column} >= {self.params.add(start)} AND {column} < {self.params.add(end)})"
            )
        bound, sql_operator = {
            "<": (start, "<"),
            ">=": (start, ">="),
            ">": (end, ">="),
            "<=": (end, "<"),
        }[operator]
        return _Atom(f"{column} {sql_operator} {self.params.add(bound)}")

    def _multi(self, ref: FieldRef, operator: str, values: tuple[Literal, ...]) -> _Atom:
        texts = [v.value for v in values if isinstance(v, StringLit)]
        with_null = any(isinstance(v, NullLit) for v in values)
        groups = [_picklist_set(text) for text in texts]
        if operator == "INCLUDES":
            alternatives = [self._has_all(ref, group) for group in groups if group]
        else:
            with_null = with_null or any(not group for group in groups)
            alternatives = [self._same_set(ref, group) for group in groups if group]
        if not alternatives:
            return _Atom(f"{ref.sql} IS NULL", total=True) if with_null else _NEVER
        sql = alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"
        return _Atom(sql, null_match=with_null)

    def _has_all(self, ref: FieldRef, group: list[str]) -> str:
        wrapped = f"';' || {ref.sql} || ';'"
        tests = []
        for item in group:
            pattern = "%;" + _like_escape(item) + ";%"
            if item.isascii():
                tests.append(f"{wrapped} LIKE {self.params.add(pattern)} ESCAPE '\\'")
            else:
                folded = self.params.add(pattern.lower())
                tests.append(f"{FOLD_FUNCTION}({wrapped}) LIKE {folded} ESCAPE '\\'")
        return "(" + " AND ".join(tests) + ")"

    def _same_set(self, ref: FieldRef, group: list[str]) -> str:
        # Every value present and no others: count the separators (item 14).
        separators = f"(length({ref.sql}) - length(replace({ref.sql}, ';', '')))"
        has_all = self._has_all(ref, group)
        return f"({has_all} AND {separators} = {self.params.add(len(group) - 1)})"


def _id(text: str) -> str:
    # 15 characters: add the checksum of *this* casing, so a wrongly cased
    # id finds nothing; 18 characters are compared as given (item 2).
    return to_18(text) if len(text) == 15 else text


def _picklist_set(text: str) -> list[str]:
    """The distinct values of a multi-select picklist string (case-insensitive)."""
    seen: dict[str, str] = {}
    for item in text.split(";"):
        item = item.strip()
        if item:
            seen.setdefault(item.lower(), item)
    return list(seen.values())


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _glob(pattern: str) -> str:
    """A LIKE pattern (backslash escapes) as a case-sensitive GLOB pattern."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(f"[{char}]" if char in "*?[" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(f"[{char}]" if char in "*?[" else char)
    return "".join(out)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _midnight(day: Any, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)
