"""Building SOQL values safely: the only way sfbridge puts a value into a query.

``literal`` turns a Python value into SOQL text (``'O\\'Brien'``, ``true``,
``2024-01-31T12:00:00.000Z``, ``('a','b')``); ``quote_like`` quotes a value
to be matched literally by LIKE, and ``quote_like_pattern`` a pattern with
wildcards (``escape_like`` makes text safe to put in one).
``checked_field_path`` and ``checked_object_name`` let through only names the
grammar reads as names. The parser in ``soql_parser.py`` reads back exactly
what these write (property tests check the round trips). Whole queries are
built by ``soql_builder.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from .soql_parser import SoqlError, parse_soql

# SOQL ref "Quoted String Escape Sequences": the characters that must be escaped.
_STRING_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "'": "\\'",
        '"': '\\"',
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\b": "\\b",
        "\f": "\\f",
    }
)
# Inside LIKE, % and _ are wildcards unless escaped (SOQL ref "Comparison Operators").
_LIKE_ESCAPES = str.maketrans({"%": "\\%", "_": "\\_"})

# Letters, digits and underscores, from a letter; dots between the names of a path.
# The parser then refuses what the grammar reserves (FROM, LIMIT ...).
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# The Python values that have a SOQL form.
Scalar = str | bool | int | float | Decimal | date | datetime | None


def checked_field_path(path: str) -> str:
    """``path`` if it is a field name or parent path (``Account.Owner.Name``); else ValueError."""
    if isinstance(path, str) and _PATH.fullmatch(path):
        try:
            parse_soql(f"SELECT {path} FROM Account")
        except SoqlError:
            pass
        else:
            return path
    raise ValueError(
        f"{path!r} is not a SOQL field name: use letters, digits and underscores, starting "
        "with a letter and not a SOQL keyword, with dots between the names of a path "
        "(Account.Name)"
    )


def checked_object_name(name: str) -> str:
    """``name`` if it is an object's API name (``Contact``, ``Invoice__c``); else ValueError."""
    if isinstance(name, str) and _NAME.fullmatch(name):
        try:
            parse_soql(f"SELECT Id FROM {name}")
        except SoqlError:
            pass
        else:
            return name
    raise ValueError(
        f"{name!r} is not a SOQL object name: use the object's API name, letters, digits "
        "and underscores starting with a letter (Contact, Invoice__c)"
    )


def quote_string(value: str) -> str:
    """A SOQL string literal that reads back as exactly ``value``."""
    return "'" + value.translate(_STRING_ESCAPES) + "'"


def quote_like(value: str) -> str:
    """A LIKE pattern that matches exactly ``value`` (``%`` and ``_`` escaped).

    For a pattern with wildcards around literal text, use
    ``quote_like_pattern(escape_like(prefix) + "%")``.
    """
    return quote_like_pattern(escape_like(value))


def escape_like(text: str) -> str:
    """``text`` as part of a LIKE pattern: ``\\``, ``%`` and ``_`` made literal with a backslash."""
    return text.replace("\\", "\\\\").translate(_LIKE_ESCAPES)


def quote_like_pattern(pattern: str) -> str:
    """The SOQL string of a LIKE pattern: ``%`` and ``_`` are wildcards, ``\\`` makes one literal.

    ``quote_like_pattern("100\\%%")`` matches text that starts with ``100%``.
    A backslash before any other character stands for that character;
    a pattern ending in a lone backslash raises ``ValueError``.
    """
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char != "\\":
            out.append(char.translate(_STRING_ESCAPES))
            continue
        escaped = next(chars, None)
        if escaped is None:
            raise ValueError(
                f"LIKE pattern {pattern!r} ends in a lone backslash; write \\\\ for a backslash"
            )
        # SOQL spells a literal wildcard \% or \_ (SOQL ref "Comparison Operators").
        out.append("\\" + escaped if escaped in "%_" else escaped.translate(_STRING_ESCAPES))
    return "'" + "".join(out) + "'"


def literal(value: Scalar | Iterable[Scalar]) -> str:
    """The SOQL text of a value: strings quoted, datetimes in UTC, lists as ``(a,b)`` for IN.

    Raises ``ValueError`` for values SOQL cannot express (a naive datetime, a
    NaN, an empty list) and ``TypeError`` for other types.
    """
    if isinstance(value, list | tuple | set | frozenset):
        if not value:
            raise ValueError("an IN list needs at least one value; SOQL has no empty list")
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return "(" + ",".join(_scalar(item) for item in items) + ")"
    if isinstance(value, Scalar):
        return _scalar(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a SOQL value")


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} has no SOQL form; SOQL numbers are finite")
        decimal = Decimal(repr(value)) if isinstance(value, float) else value
        if not decimal.is_finite():
            raise ValueError(f"{value!r} has no SOQL form; SOQL numbers are finite")
        # SOQL has no exponent notation: 1E-7 must be written 0.0000001.
        return format(decimal, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"datetime {value.isoformat()} has no time zone; pass an aware datetime "
                "(e.g. datetime.now(UTC)) so the query means one instant"
            )
        utc = value.astimezone(UTC).replace(tzinfo=None)
        # isoformat pads the year to four digits, which strftime("%Y") does not
        # do for years before 1000 on glibc; the grammar needs all four.
        return utc.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a SOQL value")
