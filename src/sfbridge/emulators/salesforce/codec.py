"""Values between Salesforce's JSON forms and the emulator's SQLite columns.

Storage forms, chosen so that SQLite's own comparisons and indexes give
SOQL's order:

- datetime: ``YYYY-MM-DDTHH:MM:SS.fffZ`` in UTC (text sorts chronologically)
- date: ``YYYY-MM-DD``; time: ``HH:MM:SS.fffZ``
- boolean: 0 / 1; int: INTEGER; double, currency, percent: REAL
- multipicklist: values joined by ``;``
- everything else: TEXT as given

JSON output uses the REST forms: datetimes as ``2024-01-01T00:00:00.000+0000``
(REST API Developer Guide, "Valid Date and DateTime Formats").
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .schema import FieldDef

_DATETIME_INPUT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE_INPUT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME_INPUT = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?Z?$")


class FieldValueError(ValueError):
    """A value that does not fit its field; the message names both."""


def format_datetime(moment: datetime) -> str:
    """Storage form of an aware datetime (UTC, milliseconds)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> datetime:
    """Parse the datetime forms Salesforce accepts (any fraction, Z or +hh:mm or +hhmm)."""
    match = _DATETIME_INPUT.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a datetime (expected e.g. 2024-01-31T13:45:00.000Z)")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, UTC
    )
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment -= sign * offset
    return moment


def datetime_to_json(stored: str) -> str:
    """REST form of a stored datetime: ``2024-01-01T00:00:00.000+0000``."""
    return stored[:-1] + "+0000"


def stored_datetime(text: str) -> str:
    """Normalise any accepted datetime text to the storage form."""
    return format_datetime(parse_datetime(text))


def to_db(field: FieldDef, value: Any) -> Any:
    """Convert a JSON value to its storage form, or raise ``FieldValueError`` naming the field."""
    if value is None:
        return None
    kind = field.type
    try:
        if kind == "boolean":
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, str) and value.lower() in {"true", "false"}:
                return int(value.lower() == "true")
            raise ValueError
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if number != int(number):
                raise ValueError
            return int(number)
        if kind in {"double", "currency", "percent"}:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "datetime":
            return stored_datetime(str(value))
        if kind == "date":
            text = str(value)[:10]
            date.fromisoformat(text)
            return text
        if kind == "time":
            match = _TIME_INPUT.match(str(value))
            if not match:
                raise ValueError
            hour, minute, second, fraction = match.groups()
            millis = (fraction or "0")[:3].ljust(3, "0")
            return f"{hour}:{minute}:{second or '00'}.{millis}Z"
        if kind == "multipicklist":
            if isinstance(value, list):
                value = ";".join(str(v) for v in value)
            return ";".join(v for v in str(value).split(";") if v) or None
        if isinstance(value, dict | list):
            raise ValueError
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise FieldValueError(
            f"Cannot deserialize value {value!r} for field {field.name} of type {kind}"
        ) from exc


def from_db(field: FieldDef, stored: Any) -> Any:
    """Convert a stored value to the JSON form the REST API returns."""
    if stored is None:
        return False if field.type == "boolean" else None
    kind = field.type
    if kind == "boolean":
        return bool(stored)
    if kind == "datetime":
        return datetime_to_json(str(stored))
    if kind == "int":
        return int(stored)
    if kind in {"double", "currency", "percent"}:
        return float(stored)
    return stored


def compound_value(compound: FieldDef, components: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON value of an address or location field from its stored component values.

    ``components`` maps component field API names (``MailingCity``) to stored
    values; the result uses the compound's keys (``city``), or is None when
    every component is null, as the REST API returns it.
    """
    prefix = compound.name.removesuffix("Address")
    value: dict[str, Any] = {}
    for name, stored in components.items():
        suffix = name[len(prefix) :] if name.startswith(prefix) else name
        key = suffix[:1].lower() + suffix[1:]
        value[key] = (
            float(stored) if key in {"latitude", "longitude"} and stored is not None else stored
        )
    if all(v is None for v in value.values()):
        return None
    return dict(sorted(value.items()))
