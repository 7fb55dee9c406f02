"""The TARGET2 (T2) banking calendar: the days on which SEPA payments settle (REFERENCE 1.7).

A day is a banking day unless it is a Saturday, a Sunday or one of the T2 closing days: 1 January, Good
Friday, Easter Monday, 1 May, 25 December and 26 December. National holidays (3 October, Ascension,
Whit Monday, ...) are *not* closing days. A SEPA due date (``ReqdColltnDt``) must be a banking day.

Pure functions on calendar dates, no I/O.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from functools import lru_cache

__all__ = [
    "add_banking_days",
    "closing_days",
    "easter_sunday",
    "is_banking_day",
    "last_banking_day_of_month",
    "next_banking_day",
    "previous_banking_day",
]

_FIXED_CLOSING_DAYS = frozenset({(1, 1), (5, 1), (12, 25), (12, 26)})
_ONE_DAY = timedelta(days=1)


def easter_sunday(year: int) -> date:
    """Easter Sunday of ``year`` in the Gregorian calendar (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def closing_days(year: int) -> frozenset[date]:
    """The weekday-independent T2 closing days of ``year`` (weekends are closed as well)."""
    easter = easter_sunday(year)
    fixed = {date(year, month, day) for month, day in _FIXED_CLOSING_DAYS}
    return frozenset(fixed | {easter - timedelta(days=2), easter + timedelta(days=1)})


def is_banking_day(d: date) -> bool:
    """True if T2 is open on ``d``: a weekday that is no T2 closing day."""
    return d.weekday() < 5 and d not in closing_days(d.year)


def next_banking_day(d: date, *, include_today: bool = True) -> date:
    """The first banking day on or after ``d`` (strictly after ``d`` with ``include_today=False``)."""
    day = d if include_today else d + _ONE_DAY
    while not is_banking_day(day):
        day += _ONE_DAY
    return day


def previous_banking_day(d: date, *, include_today: bool = True) -> date:
    """The last banking day on or before ``d`` (strictly before ``d`` with ``include_today=False``)."""
    day = d if include_today else d - _ONE_DAY
    while not is_banking_day(day):
        day -= _ONE_DAY
    return day


def add_banking_days(d: date, n: int) -> date:
    """The ``n``-th banking day after ``d`` (``d`` itself never counts); before ``d`` for a negative ``n``.

    ``add_banking_days(d, 0)`` is ``d`` unchanged, banking day or not. So a debit made on Friday settles at
    ``add_banking_days(friday, 2)`` = Tuesday, and a file for due date D must reach the bank by
    ``add_banking_days(D, -1)``.
    """
    step = _ONE_DAY if n >= 0 else -_ONE_DAY
    day, left = d, abs(n)
    while left:
        day += step
        if is_banking_day(day):
            left -= 1
    return day


def last_banking_day_of_month(year: int, month: int) -> date:
    """The last banking day of the month (31 Jan 2026 is a Saturday, so 30 Jan 2026)."""
    return previous_banking_day(date(year, month, calendar.monthrange(year, month)[1]))
