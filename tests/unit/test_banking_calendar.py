"""The TARGET2 banking calendar (REFERENCE 1.7): weekends, Easter, the fixed closing days, month ends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aboguard.domain.banking_calendar import (
    add_banking_days,
    closing_days,
    easter_sunday,
    is_banking_day,
    last_banking_day_of_month,
    next_banking_day,
    previous_banking_day,
)


# REFERENCE 1.7 table.
@pytest.mark.parametrize(("year", "good_friday", "easter_monday"), [
    (2025, date(2025, 4, 18), date(2025, 4, 21)),
    (2026, date(2026, 4, 3), date(2026, 4, 6)),
    (2027, date(2027, 3, 26), date(2027, 3, 29)),
])
def test_good_friday_and_easter_monday_are_closed(year: int, good_friday: date, easter_monday: date) -> None:
    assert easter_sunday(year) == good_friday + timedelta(days=2) == easter_monday - timedelta(days=1)
    assert not is_banking_day(good_friday)
    assert not is_banking_day(easter_monday)
    assert is_banking_day(good_friday - timedelta(days=1))  # Maundy Thursday
    assert is_banking_day(easter_monday + timedelta(days=1))
    assert {good_friday, easter_monday} <= closing_days(year)


@pytest.mark.parametrize(("year", "easter"), [
    (2000, date(2000, 4, 23)), (2019, date(2019, 4, 21)), (2024, date(2024, 3, 31)), (2038, date(2038, 4, 25)),
])
def test_easter_sunday(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


@pytest.mark.parametrize("closed", [
    date(2026, 1, 1), date(2026, 5, 1), date(2026, 12, 25), date(2025, 12, 26), date(2027, 1, 1),
])
def test_fixed_closing_days(closed: date) -> None:
    assert closed.weekday() < 5
    assert not is_banking_day(closed)


@pytest.mark.parametrize("open_", [
    date(2025, 10, 3),  # Tag der Deutschen Einheit: a national holiday, not a T2 closing day
    date(2026, 5, 14),  # Ascension
    date(2026, 5, 25),  # Whit Monday
    date(2026, 12, 24),  # Christmas Eve
    date(2026, 12, 31),  # New Year's Eve
    date(2026, 11, 1) + timedelta(days=1),  # a plain Monday
])
def test_national_holidays_and_eves_are_banking_days(open_: date) -> None:
    assert is_banking_day(open_)


def test_weekends_are_closed() -> None:
    assert not is_banking_day(date(2026, 3, 7))  # Saturday
    assert not is_banking_day(date(2026, 3, 8))  # Sunday
    assert is_banking_day(date(2026, 3, 9))
    assert len(closing_days(2026)) == 6


def test_next_and_previous_banking_day() -> None:
    assert next_banking_day(date(2026, 3, 9)) == date(2026, 3, 9)
    assert next_banking_day(date(2026, 3, 9), include_today=False) == date(2026, 3, 10)
    assert next_banking_day(date(2026, 3, 7)) == date(2026, 3, 9)
    assert next_banking_day(date(2026, 4, 2), include_today=False) == date(2026, 4, 7)  # over Easter 2026
    assert next_banking_day(date(2026, 12, 31), include_today=False) == date(2027, 1, 4)  # New Year, weekend
    assert previous_banking_day(date(2026, 4, 6)) == date(2026, 4, 2)
    assert previous_banking_day(date(2026, 4, 2), include_today=False) == date(2026, 4, 1)


def test_add_banking_days() -> None:
    friday = date(2026, 3, 6)
    assert add_banking_days(friday, 0) == friday
    assert add_banking_days(date(2026, 3, 7), 0) == date(2026, 3, 7)  # zero days: unchanged, even on a Saturday
    assert add_banking_days(friday, 1) == date(2026, 3, 9)
    assert add_banking_days(friday, 2) == date(2026, 3, 10)
    assert add_banking_days(date(2026, 4, 2), 1) == date(2026, 4, 7)  # Easter 2026
    assert add_banking_days(date(2025, 12, 24), 1) == date(2025, 12, 29)  # 25 and 26 Dec, weekend
    assert add_banking_days(date(2026, 12, 23), 2) == date(2026, 12, 28)
    assert add_banking_days(date(2026, 4, 7), -1) == date(2026, 4, 2)  # D-1 before a due date
    assert add_banking_days(date(2026, 1, 2), -1) == date(2025, 12, 31)


@pytest.mark.parametrize(("year", "month", "last"), [
    (2026, 1, date(2026, 1, 30)),  # 31 Jan is a Saturday
    (2026, 2, date(2026, 2, 27)),  # 28 Feb is a Saturday
    (2026, 3, date(2026, 3, 31)),
    (2024, 3, date(2024, 3, 28)),  # 29 Mar Good Friday, 30/31 weekend
    (2029, 3, date(2029, 3, 29)),  # 30 Mar Good Friday, 31 Saturday
    (2026, 5, date(2026, 5, 29)),  # 31 May is a Sunday
    (2026, 12, date(2026, 12, 31)),  # 31 Dec is no closing day
    (2027, 12, date(2027, 12, 31)),
])
def test_last_banking_day_of_month(year: int, month: int, last: date) -> None:
    assert last_banking_day_of_month(year, month) == last
    assert is_banking_day(last)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)), st.integers(min_value=-30, max_value=30))
def test_add_banking_days_counts_banking_days(start: date, n: int) -> None:
    result = add_banking_days(start, n)
    if n == 0:
        assert result == start
        return
    assert is_banking_day(result)
    lo, hi = (start, result) if n > 0 else (result, start)
    between = [lo + timedelta(days=i) for i in range(1, (hi - lo).days + (1 if n > 0 else 0))]
    if n < 0:
        between = [result, *between]
    assert sum(is_banking_day(d) for d in between) == abs(n)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_next_banking_day_is_the_first_open_day(start: date) -> None:
    found = next_banking_day(start)
    assert is_banking_day(found) and found >= start
    assert all(not is_banking_day(start + timedelta(days=i)) for i in range((found - start).days))
    assert (found - start).days <= 4  # at most a long Easter or Christmas weekend
