"""Parse SOQL into a typed syntax tree, with Salesforce's own error messages.

``parse_soql`` reads the grammar in ``soql.lark`` and returns a ``Query``.
Every node keeps its 1-based row and column so that the emulator can report
a later error (an unknown field, a type mismatch) where a real org does.

Errors are ``SoqlError``: an ``error_code`` such as ``MALFORMED_QUERY`` and a
``message`` shaped like Salesforce's (SOQL semantics notes, item 13)::

    \\n<query excerpt>\\n<spaces>^\\nERROR at Row:1:Column:N\\n<text>
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from importlib import resources
from typing import Any, TypeAlias

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

# -- syntax tree --------------------------------------------------------------


@dataclass(frozen=True)
class StringLit:
    """A quoted string, escapes decoded."""

    value: str
    column: int
    row: int = 1


@dataclass(frozen=True)
class LikePattern:
    """The quoted pattern of a LIKE, in the form SQL's ``LIKE ... ESCAPE '\\'`` reads.

    ``%`` and ``_`` are wildcards; a literal ``%``, ``_`` or backslash is
    preceded by a backslash (SOQL ``\\%`` and ``\\_``, SOQL ref "Comparison
    Operators").
    """

    pattern: str
    column: int
    row: int = 1


@dataclass(frozen=True)
class NumberLit:
    """A number, kept exact."""

    value: Decimal
    column: int
    row: int = 1


@dataclass(frozen=True)
class DateLit:
    """An unquoted date ``YYYY-MM-DD``."""

    value: date
    column: int
    row: int = 1


@dataclass(frozen=True)
class DateTimeLit:
    """An unquoted datetime; ``value`` is aware, in the literal's own offset."""

    value: datetime
    column: int
    row: int = 1


@dataclass(frozen=True)
class DateLiteral:
    """A relative date range such as ``TODAY`` or ``LAST_N_DAYS:30`` (``n`` = 30)."""

    name: str
    n: int | None
    column: int
    row: int = 1


@dataclass(frozen=True)
class BoolLit:
    """``true`` or ``false``."""

    value: bool
    column: int
    row: int = 1


@dataclass(frozen=True)
class NullLit:
    """``null``."""

    column: int
    row: int = 1


Literal: TypeAlias = (
    StringLit | LikePattern | NumberLit | DateLit | DateTimeLit | DateLiteral | BoolLit | NullLit
)


@dataclass(frozen=True)
class FieldPath:
    """A field, or a child-to-parent path such as ``Account.Owner.Name``, as typed."""

    parts: tuple[str, ...]
    column: int
    row: int = 1

    @property
    def text(self) -> str:
        """The path as typed, dots included."""
        return ".".join(self.parts)


@dataclass(frozen=True)
class Aggregate:
    """An aggregate call in SELECT or ORDER BY: ``COUNT()``, ``COUNT(Id) total``, ``MAX(Amount)``.

    ``function`` is upper case; ``field`` is None only for ``COUNT()``.
    """

    function: str
    field: FieldPath | None
    alias: str | None
    column: int
    row: int = 1


SelectItem: TypeAlias = FieldPath | Aggregate


@dataclass(frozen=True)
class SObjectRef:
    """The object named in FROM, as typed."""

    name: str
    column: int
    row: int = 1


@dataclass(frozen=True)
class Comparison:
    """``field <operator> value(s)``.

    ``operator`` is one of ``= != < <= > >= LIKE IN NOT IN INCLUDES EXCLUDES``
    (``<>`` reads as ``!=``). ``values`` holds one literal, or the list of
    IN / NOT IN / INCLUDES / EXCLUDES.
    """

    field: FieldPath
    operator: str
    values: tuple[Literal, ...]
    column: int
    row: int = 1


@dataclass(frozen=True)
class And:
    """Every condition holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """At least one condition holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """The condition does not hold (two-valued: null is a value, item 1)."""

    item: Condition


Condition: TypeAlias = Comparison | And | Or | Not


@dataclass(frozen=True)
class OrderKey:
    """One ORDER BY key; ``nulls_first`` is None when the query does not say."""

    key: FieldPath | Aggregate
    descending: bool
    nulls_first: bool | None


@dataclass(frozen=True)
class Query:
    """A parsed SELECT statement; ``text`` is the statement itself, for error messages."""

    select: tuple[SelectItem, ...]
    sobject: SObjectRef
    where: Condition | None
    group_by: tuple[FieldPath, ...]
    order_by: tuple[OrderKey, ...]
    limit: int | None
    offset: int | None
    text: str

    @property
    def is_count_only(self) -> bool:
        """True for ``SELECT COUNT() ...``, whose result is only a total."""
        return (
            len(self.select) == 1
            and isinstance(self.select[0], Aggregate)
            and self.select[0].field is None
        )


# -- errors -------------------------------------------------------------------

# Beyond this length a query line is cut around the error (item 13).
_WHOLE_LINE_MAX = 100
_EXCERPT_REACH = 30
_EXCERPT_TOKEN = re.compile(r"'(?:[^'\\\n]|\\.)*'?|[\w.:+\-]+|\S")


class SoqlError(Exception):
    """A query Salesforce would refuse: ``error_code`` plus Salesforce's ``message``."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message

    @classmethod
    def at(cls, query: str, row: int, column: int, error_code: str, text: str) -> SoqlError:
        """An error at ``row``/``column`` of ``query``, with the excerpt and caret lines."""
        return cls(error_code, error_message(query, row, column, text))


def error_message(query: str, row: int, column: int, text: str) -> str:
    """Salesforce's message shape: the query line (or an excerpt), a caret, the position, text.

    A short line is echoed whole. A long one is cut to the tokens that start
    within 30 characters of the error, as real messages show
    (``CreatedById,OCE__ActualCap__c,TPI_Product__c,...`` with the caret 30
    characters in).
    """
    lines = query.split("\n")
    line = lines[row - 1].rstrip("\r") if 0 < row <= len(lines) else ""
    index = column - 1
    start = 0
    excerpt = line
    if len(line) > _WHOLE_LINE_MAX:
        spans = [
            m.span()
            for m in _EXCERPT_TOKEN.finditer(line)
            if index - _EXCERPT_REACH <= m.start() <= index + _EXCERPT_REACH
        ]
        if spans:
            start = min(spans[0][0], index)
            excerpt = line[start : max(spans[-1][1], index)]
    caret = " " * max(index - start, 0) + "^"
    return f"\n{excerpt}\n{caret}\nERROR at Row:{row}:Column:{column}\n{text}"


def _malformed(query: str, row: int, column: int, text: str) -> SoqlError:
    return SoqlError.at(query, row, column, "MALFORMED_QUERY", text)


# -- literal rules ------------------------------------------------------------

# Date literals (SOQL ref "Date Formats and Date Literals"): those that stand
# alone and those that take ":n". Fiscal periods are included; a new org's
# fiscal year starts in January, which the emulator assumes.
_PERIODS = r"(?:DAY|WEEK|MONTH|QUARTER|YEAR|FISCAL_QUARTER|FISCAL_YEAR)S"
_DATE_LITERAL = re.compile(
    r"YESTERDAY|TODAY|TOMORROW|(?:LAST|NEXT)_90_DAYS"
    r"|(?:LAST|THIS|NEXT)_(?:FISCAL_)?(?:WEEK|MONTH|QUARTER|YEAR)"
)
_DATE_LITERAL_OF_N = re.compile(rf"(?:LAST|NEXT)_N_{_PERIODS}|N_{_PERIODS}_AGO")

# Escapes of SOQL ref "Quoted String Escape Sequences" (item 8), either case.
# \b is read as backspace (U+0008), as in Java and in simple-salesforce's
# format_soql; the docs' word "bell" is taken to be a slip.
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):?(\d{2}))?"
)
_AGGREGATES = frozenset({"COUNT", "COUNT_DISTINCT", "MIN", "MAX", "SUM", "AVG"})


class _RawString:
    """A string token whose escapes are decoded once its operator is known."""

    def __init__(self, token: Token) -> None:
        self.token = token


_Value: TypeAlias = Literal | _RawString


class _Builder(Transformer[Token, Any]):
    """Turns lark's parse into the syntax tree; raises ``SoqlError`` for refused input."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    # -- positions and errors

    def _fail(self, token: Token, text: str, shift: int = 0) -> SoqlError:
        return _malformed(self.text, token.line or 1, (token.column or 1) + shift, text)

    def _unexpected(self, token: Token) -> SoqlError:
        return self._fail(token, f"unexpected token: '{token}'")

    # -- statement

    def start(self, children: list[Any]) -> Query:
        query: Query = children[0]
        if len(children) > 1:
            raise self._fail(children[1], "ALL ROWS not allowed in this context")
        return query

    def query(self, children: list[Any]) -> Query:
        select, name, *clauses = children
        where: Condition | None = None
        group_by: tuple[FieldPath, ...] = ()
        order_by: tuple[OrderKey, ...] = ()
        limit = offset = None
        for kind, value in clauses:
            if kind == "where":
                where = value
            elif kind == "group":
                group_by = value
            elif kind == "order":
                order_by = value
            elif kind == "limit":
                limit = value
            else:
                offset = value
        sobject = SObjectRef(str(name), name.column or 1, name.line or 1)
        return Query(tuple(select), sobject, where, group_by, order_by, limit, offset, self.text)

    def select_list(self, children: list[Any]) -> list[SelectItem]:
        return children

    def subquery(self, children: list[Any]) -> SelectItem:
        raise self._unsupported(
            children[0], "parent-to-child subqueries are not supported by sfbridge's SOQL engine"
        )

    def typeof(self, children: list[Any]) -> SelectItem:
        raise self._fail(children[0], "TYPEOF is not supported by sfbridge's SOQL engine")

    def _unsupported(self, subquery: Query, text: str) -> SoqlError:
        # The inner SELECT keyword is not kept; its first item is the nearest position.
        item = subquery.select[0]
        return _malformed(self.text, item.row, item.column, text)

    def function_call(self, children: list[Any]) -> Aggregate:
        name, field, alias = children
        function = str(name).upper()
        if function not in _AGGREGATES:
            raise self._fail(
                name,
                f"{name}() is not supported by sfbridge's SOQL engine "
                "(it knows COUNT, COUNT_DISTINCT, MIN, MAX, SUM and AVG)",
            )
        if field is None and function != "COUNT":
            raise self._fail(name, "unexpected token: ')'", shift=len(name) + 1)
        return Aggregate(
            function, field, str(alias) if alias else None, name.column or 1, name.line or 1
        )

    def field_path(self, children: list[Token]) -> FieldPath:
        first = children[0]
        return FieldPath(tuple(str(c) for c in children), first.column or 1, first.line or 1)

    # -- clauses

    def where_clause(self, children: list[Any]) -> tuple[str, Condition]:
        return ("where", children[0])

    def group_clause(self, children: list[Any]) -> tuple[str, tuple[FieldPath, ...]]:
        return ("group", tuple(children))

    def order_clause(self, children: list[Any]) -> tuple[str, tuple[OrderKey, ...]]:
        return ("order", tuple(children))

    def order_key(self, children: list[Any]) -> OrderKey:
        key = children[0]
        if isinstance(key, Aggregate) and key.alias is not None:
            raise _malformed(self.text, key.row, key.column, f"unexpected token: '{key.alias}'")
        descending = False
        nulls_first: bool | None = None
        for token in children[1:]:
            if token.type == "DIRECTION":
                descending = token.upper() == "DESC"
            else:
                nulls_first = token.upper() == "FIRST"
        return OrderKey(key, descending, nulls_first)

    def limit_clause(self, children: list[Token]) -> tuple[str, int]:
        return ("limit", self._count(children[0]))

    def offset_clause(self, children: list[Token]) -> tuple[str, int]:
        return ("offset", self._count(children[0]))

    def _count(self, token: Token) -> int:
        if not token.isdigit():
            raise self._unexpected(token)
        return int(token)

    # -- conditions

    def and_(self, children: list[Condition]) -> And:
        return And(tuple(children))

    def or_(self, children: list[Condition]) -> Or:
        return Or(tuple(children))

    def not_(self, children: list[Condition]) -> Not:
        return Not(children[0])

    def compare(self, children: list[Any]) -> Comparison:
        field, operator, value = children
        op = "!=" if operator == "<>" else str(operator)
        return self._comparison(field, op, [value])

    def like(self, children: list[Any]) -> Comparison:
        field, value = children
        return self._comparison(field, "LIKE", [value])

    def in_(self, children: list[Any]) -> Comparison:
        return self._comparison(children[0], "IN", children[1])

    def not_in(self, children: list[Any]) -> Comparison:
        return self._comparison(children[0], "NOT IN", children[1])

    def includes(self, children: list[Any]) -> Comparison:
        return self._comparison(children[0], "INCLUDES", children[1])

    def excludes(self, children: list[Any]) -> Comparison:
        return self._comparison(children[0], "EXCLUDES", children[1])

    def _comparison(self, field: FieldPath, operator: str, values: list[_Value]) -> Comparison:
        like = operator == "LIKE"
        decoded = tuple(self._literal(v, like=like) for v in values)
        return Comparison(field, operator, decoded, field.column, field.row)

    def value_list(self, children: list[_Value]) -> list[_Value]:
        return children

    def semi_join(self, children: list[Any]) -> list[_Value]:
        raise self._unsupported(
            children[0],
            "semi-join subqueries (IN (SELECT ...)) are not supported by sfbridge's SOQL engine",
        )

    # -- values

    def _literal(self, value: _Value, *, like: bool) -> Literal:
        if not isinstance(value, _RawString):
            return value
        token = value.token
        body = str(token)[1:-1]
        decoded = _decode(body, like=like)
        column, row = token.column or 1, token.line or 1
        if isinstance(decoded, str):
            return LikePattern(decoded, column, row) if like else StringLit(decoded, column, row)
        # Salesforce points string-literal errors at the character before the quote.
        raise self._fail(token, f"Invalid string literal '{body}'. {decoded.reason}", shift=-1)

    def string(self, children: list[Token]) -> _RawString:
        return _RawString(children[0])

    def number(self, children: list[Token]) -> NumberLit:
        token = children[0]
        return NumberLit(Decimal(str(token)), token.column or 1, token.line or 1)

    def date(self, children: list[Token]) -> DateLit:
        token = children[0]
        try:
            value = date.fromisoformat(str(token))
        except ValueError:
            raise self._unexpected(token) from None
        return DateLit(value, token.column or 1, token.line or 1)

    def datetime(self, children: list[Token]) -> DateTimeLit:
        token = children[0]
        match = _DATETIME.fullmatch(str(token))
        if match is None or match.group(8) is None:
            raise _no_viable(self.text, token.end_pos or 0)
        year, month, day, hour, minute, second, fraction, zone, sign, zh, zm = match.groups()
        try:
            tz = UTC if zone == "Z" else _offset(sign, int(zh), int(zm))
            value = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                int((fraction or "0")[:6].ljust(6, "0")),
                tzinfo=tz,
            )
        except ValueError:
            raise self._unexpected(token) from None
        return DateTimeLit(value, token.column or 1, token.line or 1)

    def null(self, children: list[Token]) -> NullLit:
        token = children[0]
        return NullLit(token.column or 1, token.line or 1)

    def word(self, children: list[Token]) -> Literal:
        token = children[0]
        upper = token.upper()
        column, row = token.column or 1, token.line or 1
        if upper in {"TRUE", "FALSE"}:
            return BoolLit(upper == "TRUE", column, row)
        if _DATE_LITERAL.fullmatch(upper):
            return DateLiteral(upper, None, column, row)
        raise self._unexpected(token)

    def word_n(self, children: list[Token]) -> DateLiteral:
        token, count = children
        upper = token.upper()
        if not _DATE_LITERAL_OF_N.fullmatch(upper):
            if _DATE_LITERAL.fullmatch(upper) or upper in {"TRUE", "FALSE"}:
                raise self._fail(token, "unexpected token: ':'", shift=len(token))
            raise self._unexpected(token)
        if not count.isdigit():
            raise self._unexpected(count)
        return DateLiteral(upper, int(count), token.column or 1, token.line or 1)


def _offset(sign: str, hours: int, minutes: int) -> timezone:
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)


@dataclass(frozen=True)
class _BadEscape:
    reason: str


def _decode(body: str, *, like: bool) -> str | _BadEscape:
    """Decode the escapes of a string literal's body (item 8).

    With ``like``, the result is a LIKE pattern: wildcards stay bare and every
    literal ``%``, ``_`` or backslash gets a backslash in front.
    """
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append("\\" + char if like and char == "\\" else char)
            i += 1
            continue
        code = body[i + 1] if i + 1 < len(body) else ""
        lowered = code.lower()
        if lowered in _ESCAPES:
            literal = _ESCAPES[lowered]
            i += 2
        elif lowered == "u":
            digits = body[i + 2 : i + 6]
            if not _HEX4.fullmatch(digits):
                return _BadEscape(f"Illegal unicode sequence. '\\u{digits}' in string literal.")
            literal = chr(int(digits, 16))
            i += 6
        elif like and code in {"%", "_"}:
            out.append("\\" + code)
            i += 2
            continue
        else:
            return _BadEscape(f"Illegal character sequence '\\{code}' in string literal.")
        if like and literal in {"%", "_", "\\"}:
            literal = "\\" + literal
        out.append(literal)
    return "".join(out)


# -- entry point --------------------------------------------------------------

# Salesforce refuses statements longer than this (item 10).
MAX_QUERY_LENGTH = 100_000


@functools.cache
def _parser() -> Lark:
    grammar = resources.files("sfbridge.salesforce").joinpath("soql.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=False)


def parse_soql(text: str) -> Query:
    """Parse one SOQL statement; raises ``SoqlError`` as Salesforce would refuse it."""
    if len(text) > MAX_QUERY_LENGTH:
        raise SoqlError(
            "MALFORMED_QUERY",
            f"SOQL statements cannot be longer than {MAX_QUERY_LENGTH} characters",
        )
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    try:
        result: Query = _Builder(text).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, SoqlError):
            raise error.orig_exc from None
        raise
    return result


def _syntax_error(text: str, error: UnexpectedInput) -> SoqlError:
    if isinstance(error, UnexpectedToken):
        token = error.token
        at_end = token.type == "$END"
        position = len(text) if at_end else token.start_pos or 0
        zoneless = _ZONELESS_DATETIME.search(text, 0, position)
        if zoneless:
            # A datetime without its zone (often a '+' that the URL decoded to a
            # space): Salesforce's lexer fails on the character after it (item 6).
            return _no_viable(text, zoneless.end())
        if at_end:
            lines = text.split("\n")
            return _malformed(text, len(lines), len(lines[-1]) + 1, "unexpected token: '<EOF>'")
        return _malformed(text, token.line or 1, token.column or 1, f"unexpected token: '{token}'")
    assert isinstance(error, UnexpectedCharacters)
    row, column = error.line, error.column
    position = error.pos_in_stream or 0
    word = _EXCERPT_TOKEN.match(text, position)
    found = word.group() if word else text[position]
    if found[0].isalnum():
        return _malformed(text, row, column, f"unexpected token: '{found}'")
    return _malformed(text, row, column, f"no viable alternative at character '{found[0]}'")


_ZONELESS_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(?=\s*$)")


def _no_viable(text: str, position: int) -> SoqlError:
    """``no viable alternative at character`` for the character at ``position``."""
    row = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    found = text[position] if position < len(text) else "<EOF>"
    return _malformed(text, row, column, f"no viable alternative at character '{found}'")
