"""Building SOQL values safely: the only way sfbridge puts a value into a query.

``literal`` turns a Python value into SOQL text (``'O\\'Brien'``, ``true``,
``2024-01-31T12:00:00.000Z``, ``('a','b')``); ``quote_like`` quotes a value
to be matched literally by LIKE. The parser in ``soql_parser.py`` reads back
exactly what these write (a property test checks the round trip).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

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

# The Python values that have a SOQL form.
Scalar = str | bool | int | float | Decimal | date | datetime | None


def quote_string(value: str) -> str:
    """A SOQL string literal that reads back as exactly ``value``."""
    return "'" + value.translate(_STRING_ESCAPES) + "'"


def quote_like(value: str) -> str:
    """A LIKE pattern that matches exactly ``value`` (``%`` and ``_`` escaped).

    Add wildcards around the escaped text yourself, e.g.
    ``"Name LIKE " + quote_like(prefix)[:-1] + "%'"``.
    """
    return "'" + value.translate(_STRING_ESCAPES).translate(_LIKE_ESCAPES) + "'"


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
        utc = value.astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a SOQL value")
