"""Billing intervals, periods and proration.

Period boundaries are always computed from the anchor (boundary n = anchor + n intervals, clamped to
the month's length), never by chaining, so a month-end anchor stays a month-end: 31 Jan -> 29 Feb ->
31 Mar -> 30 Apr. Periods are half-open: ``start`` is the first day, ``end`` the first day after.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

from aboguard.errors import InvalidDate, InvalidPlan
from aboguard.money import Money


class IntervalUnit(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Interval:
    unit: IntervalUnit
    count: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise InvalidPlan(f"interval count must be a whole number of at least 1, not {self.count!r}")
        object.__setattr__(self, "unit", IntervalUnit(self.unit))

    @classmethod
    def parse(cls, unit: str, count: int = 1) -> Interval:
        try:
            return cls(IntervalUnit(unit.lower()), count)
        except ValueError:
            raise InvalidPlan(f"unknown interval {unit!r}: use day, week, month or year") from None

    def months(self) -> int | None:
        """Length in months for month and year intervals, else None."""
        if self.unit is IntervalUnit.MONTH:
            return self.count
        if self.unit is IntervalUnit.YEAR:
            return 12 * self.count
        return None

    def approx_days(self) -> float:
        """Average length in days, only for comparing prices of different intervals."""
        per_unit = {IntervalUnit.DAY: 1.0, IntervalUnit.WEEK: 7.0, IntervalUnit.MONTH: 365.2425 / 12,
                    IntervalUnit.YEAR: 365.2425}
        return per_unit[self.unit] * self.count

    def __str__(self) -> str:
        return f"{self.count} {self.unit.value}{'s' if self.count != 1 else ''}"


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # exclusive

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidDate(f"a period must end after it starts ({self.start} .. {self.end})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def days_from(self, day: date) -> int:
        """Days of this period on and after ``day`` (0 if after it, all if before)."""
        clamped = min(max(day, self.start), self.end)
        return (self.end - clamped).days


def add_months(day: date, months: int, *, anchor_day: int | None = None) -> date:
    """``day`` plus ``months`` calendar months, on ``anchor_day`` (default ``day.day``) clamped to the month."""
    total = day.year * 12 + (day.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    wanted = anchor_day or day.day
    return date(year, month, min(wanted, calendar.monthrange(year, month)[1]))


def boundary(anchor: date, interval: Interval, n: int) -> date:
    """The n-th period boundary counted from ``anchor`` (n may be negative)."""
    months = interval.months()
    if months is not None:
        return add_months(anchor, n * months)
    days = interval.count * (7 if interval.unit is IntervalUnit.WEEK else 1)
    return anchor + timedelta(days=n * days)


def period_index(anchor: date, interval: Interval, day: date) -> int:
    """Index n of the period [boundary(n), boundary(n+1)) that contains ``day``."""
    months = interval.months()
    if months is not None:
        n = ((day.year - anchor.year) * 12 + day.month - anchor.month) // months
    else:
        n = (day - anchor).days // ((boundary(anchor, interval, 1) - anchor).days)
    while boundary(anchor, interval, n) > day:
        n -= 1
    while boundary(anchor, interval, n + 1) <= day:
        n += 1
    return n


@lru_cache(maxsize=65_536)
def period_containing(anchor: date, interval: Interval, day: date) -> Period:
    """The period of ``anchor``'s cycle that contains ``day`` (cached: a billing run asks the same often)."""
    n = period_index(anchor, interval, day)
    return Period(boundary(anchor, interval, n), boundary(anchor, interval, n + 1))


def period_starting(anchor: date, interval: Interval, start: date) -> Period:
    """The period that starts on ``start``, which must be a boundary of ``anchor``."""
    period = period_containing(anchor, interval, start)
    if period.start != start:
        raise InvalidDate(f"{start} is not a period boundary for anchor {anchor} and interval {interval}")
    return period


def first_boundary_on_or_after(anchor: date, interval: Interval, day: date) -> date:
    period = period_containing(anchor, interval, day)
    return period.start if period.start == day else period.end


def prorate(amount: Money, part_days: int, whole_days: int) -> Money:
    """``amount * part_days / whole_days`` rounded half away from zero to the minor unit, exactly."""
    if whole_days <= 0 or not 0 <= part_days <= whole_days:
        raise InvalidDate(f"cannot prorate {part_days} of {whole_days} days")
    numerator = abs(amount.minor) * part_days
    minor = (2 * numerator + whole_days) // (2 * whole_days)
    return Money(-minor if amount.minor < 0 else minor, amount.currency)


def parse_date(text: str, what: str = "date") -> date:
    """An ISO date from user input, with an error that names the field."""
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise InvalidDate(f"{what} {text!r} is not a valid calendar date: use YYYY-MM-DD") from None
