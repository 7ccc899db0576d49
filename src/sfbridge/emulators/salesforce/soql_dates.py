"""SOQL date literals (``TODAY``, ``LAST_N_DAYS:30``, ``THIS_QUARTER`` ...) as date ranges.

Each literal is a range of whole days in the running user's time zone
(SOQL ref "Date Formats and Date Literals in WHERE"; SOQL semantics notes,
item 5). The rules the emulator follows:

- a range starts at 00:00 of its first day; ``end`` is the first day after it;
- weeks start on Sunday (United States locale);
- ``LAST_N_*`` and ``NEXT_N_*`` exclude the current period, except
  ``LAST_N_DAYS`` / ``LAST_90_DAYS``, which include today "up to the current
  second" (``until_now``), and ``NEXT_N_DAYS`` / ``NEXT_90_DAYS``, which start
  tomorrow, as the current documentation says;
- fiscal periods equal calendar ones: a new org's fiscal year starts in January.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sfbridge.salesforce.soql_parser import DateLiteral

_SINGLE = {"YESTERDAY": ("DAY", -1), "TODAY": ("DAY", 0), "TOMORROW": ("DAY", 1)}
_NINETY = {"LAST_90_DAYS": "LAST_N_DAYS", "NEXT_90_DAYS": "NEXT_N_DAYS"}
_PERIOD = re.compile(r"(LAST|THIS|NEXT)_(?:FISCAL_)?(WEEK|MONTH|QUARTER|YEAR)")
_N_PERIODS = re.compile(r"(LAST|NEXT)_N_(?:FISCAL_)?(DAY|WEEK|MONTH|QUARTER|YEAR)S")
_AGO = re.compile(r"N_(?:FISCAL_)?(DAY|WEEK|MONTH|QUARTER|YEAR)S_AGO")
_STEP = {"LAST": -1, "THIS": 0, "NEXT": 1}
_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}


@dataclass(frozen=True)
class DateRange:
    """Local days ``start`` (included) to ``end`` (excluded).

    ``until_now`` means the range stops at the current moment on a DateTime
    field (``end`` is then tomorrow, which a Date field uses).
    """

    start: date
    end: date
    until_now: bool = False


def date_range(literal: DateLiteral, now: datetime, tz: tzinfo) -> DateRange:
    """The range ``literal`` covers for a user in ``tz`` at ``now``."""
    today = now.astimezone(tz).date()
    name = _NINETY.get(literal.name, literal.name)
    n = 90 if literal.name in _NINETY else literal.n or 0
    if name in _SINGLE:
        unit, offset = _SINGLE[name]
        return _periods(unit, today, offset, 1)
    if match := _PERIOD.fullmatch(name):
        return _periods(match.group(2), today, _STEP[match.group(1)], 1)
    if match := _AGO.fullmatch(name):
        return _periods(match.group(1), today, -n, 1)
    match = _N_PERIODS.fullmatch(name)
    if match is None:
        raise ValueError(f"{literal.name} is not a date literal the emulator knows")
    direction, unit = match.groups()
    if direction == "NEXT":
        return _periods(unit, today, 1, n)
    if unit == "DAY":
        return DateRange(today - timedelta(days=n), today + timedelta(days=1), until_now=True)
    return _periods(unit, today, -n, n)


def _periods(unit: str, today: date, offset: int, count: int) -> DateRange:
    """``count`` whole periods starting ``offset`` periods after the current one."""
    current = _period_start(unit, today)
    return DateRange(_shift(unit, current, offset), _shift(unit, current, offset + count))


def _period_start(unit: str, day: date) -> date:
    if unit == "DAY":
        return day
    if unit == "WEEK":
        return day - timedelta(days=(day.weekday() + 1) % 7)
    months = _MONTHS[unit]
    month = (day.month - 1) // months * months + 1
    return date(day.year, month, 1)


def _shift(unit: str, start: date, periods: int) -> date:
    if unit == "DAY":
        return start + timedelta(days=periods)
    if unit == "WEEK":
        return start + timedelta(weeks=periods)
    index = start.year * 12 + start.month - 1 + periods * _MONTHS[unit]
    return date(index // 12, index % 12 + 1, 1)
