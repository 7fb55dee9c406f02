"""Billing periods: boundaries counted from the anchor (month-ends stay month-ends), containment, proration."""

from __future__ import annotations

import calendar
import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aboguard.domain.periods import (
    Interval,
    IntervalUnit,
    Period,
    add_months,
    boundary,
    first_boundary_on_or_after,
    parse_date,
    period_containing,
    period_index,
    period_starting,
    prorate,
)
from aboguard.errors import InvalidDate, InvalidPlan
from aboguard.money import Money

MONTHLY = Interval(IntervalUnit.MONTH)
YEARLY = Interval(IntervalUnit.YEAR)
WEEKLY = Interval(IntervalUnit.WEEK)
DAILY = Interval(IntervalUnit.DAY)
QUARTERLY = Interval(IntervalUnit.MONTH, 3)


def boundaries(anchor: date, interval: Interval, count: int) -> list[date]:
    return [boundary(anchor, interval, n) for n in range(count)]


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


# --- boundaries -----------------------------------------------------------------------------------


def test_month_end_anchor_stays_on_the_month_end() -> None:
    assert boundaries(date(2025, 1, 31), MONTHLY, 5) == [
        date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31)]


def test_month_end_anchor_reaches_29_february_in_a_leap_year() -> None:
    assert boundaries(date(2024, 1, 31), MONTHLY, 4) == [
        date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_anchor_on_the_30th_is_clamped_only_in_february() -> None:
    assert boundaries(date(2025, 1, 30), MONTHLY, 4) == [
        date(2025, 1, 30), date(2025, 2, 28), date(2025, 3, 30), date(2025, 4, 30)]


def test_yearly_from_29_february_falls_back_to_28th_and_returns_in_leap_years() -> None:
    anchor = date(2024, 2, 29)
    assert boundaries(anchor, YEARLY, 5) == [
        date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29)]


def test_weekly_daily_and_quarterly_boundaries() -> None:
    assert boundaries(date(2025, 1, 31), WEEKLY, 3) == [date(2025, 1, 31), date(2025, 2, 7), date(2025, 2, 14)]
    assert boundaries(date(2025, 2, 27), DAILY, 3) == [date(2025, 2, 27), date(2025, 2, 28), date(2025, 3, 1)]
    assert boundaries(date(2025, 11, 30), QUARTERLY, 4) == [
        date(2025, 11, 30), date(2026, 2, 28), date(2026, 5, 30), date(2026, 8, 30)]
    assert boundaries(date(2025, 1, 1), Interval(IntervalUnit.WEEK, 2), 2) == [date(2025, 1, 1), date(2025, 1, 15)]


def test_negative_boundaries_count_backwards_from_the_anchor() -> None:
    assert boundary(date(2025, 3, 31), MONTHLY, -1) == date(2025, 2, 28)
    assert boundary(date(2025, 3, 31), MONTHLY, -2) == date(2025, 1, 31)
    assert boundary(date(2025, 1, 10), WEEKLY, -1) == date(2025, 1, 3)


def test_add_months_clamps_to_the_month_and_honours_an_explicit_anchor_day() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2025, 2, 28), 1, anchor_day=31) == date(2025, 3, 31)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)
    assert add_months(date(2025, 1, 15), -1) == date(2024, 12, 15)


# --- containment ----------------------------------------------------------------------------------


def test_period_containing_a_day_inside_a_period() -> None:
    assert period_containing(date(2025, 1, 31), MONTHLY, date(2025, 3, 15)) == Period(date(2025, 2, 28),
                                                                                        date(2025, 3, 31))


def test_period_containing_a_boundary_starts_on_it() -> None:
    anchor = date(2025, 1, 31)
    assert period_containing(anchor, MONTHLY, date(2025, 3, 31)) == Period(date(2025, 3, 31), date(2025, 4, 30))
    assert period_containing(anchor, MONTHLY, anchor) == Period(date(2025, 1, 31), date(2025, 2, 28))
    assert period_containing(anchor, MONTHLY, date(2025, 3, 30)) == Period(date(2025, 2, 28), date(2025, 3, 31))


def test_period_containing_a_day_before_the_anchor_counts_backwards() -> None:
    anchor = date(2025, 1, 31)
    assert period_containing(anchor, MONTHLY, date(2025, 1, 30)) == Period(date(2024, 12, 31), date(2025, 1, 31))
    assert period_index(anchor, MONTHLY, date(2025, 1, 30)) == -1
    assert period_containing(anchor, WEEKLY, date(2025, 1, 24)) == Period(date(2025, 1, 24), date(2025, 1, 31))
    assert period_containing(anchor, WEEKLY, date(2025, 1, 23)) == Period(date(2025, 1, 17), date(2025, 1, 24))


def test_period_starting_refuses_a_day_that_is_not_a_boundary() -> None:
    anchor = date(2025, 1, 31)
    assert period_starting(anchor, MONTHLY, date(2025, 2, 28)) == Period(date(2025, 2, 28), date(2025, 3, 31))
    with pytest.raises(InvalidDate, match="2025-03-01 is not a period boundary"):
        period_starting(anchor, MONTHLY, date(2025, 3, 1))


def test_first_boundary_on_or_after() -> None:
    anchor = date(2025, 1, 31)
    assert first_boundary_on_or_after(anchor, MONTHLY, date(2025, 2, 28)) == date(2025, 2, 28)
    assert first_boundary_on_or_after(anchor, MONTHLY, date(2025, 3, 1)) == date(2025, 3, 31)


def test_period_days_last_day_and_days_from() -> None:
    period = Period(date(2025, 2, 28), date(2025, 3, 31))
    assert period.days == 31
    assert period.last_day == date(2025, 3, 30)
    assert period.contains(date(2025, 2, 28)) and not period.contains(date(2025, 3, 31))
    assert period.days_from(date(2025, 3, 21)) == 10
    assert period.days_from(date(2025, 1, 1)) == 31
    assert period.days_from(date(2025, 4, 1)) == 0


def test_a_period_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidDate, match="must end after it starts"):
        Period(date(2025, 1, 1), date(2025, 1, 1))


# --- intervals ------------------------------------------------------------------------------------


def test_interval_count_must_be_a_positive_whole_number() -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(InvalidPlan, match="at least 1"):
            Interval(IntervalUnit.MONTH, bad)  # type: ignore[arg-type]


def test_interval_months_and_text() -> None:
    assert (MONTHLY.months(), QUARTERLY.months(), YEARLY.months(), WEEKLY.months()) == (1, 3, 12, None)
    assert (str(MONTHLY), str(QUARTERLY)) == ("1 month", "3 months")


# --- properties -----------------------------------------------------------------------------------

anchors = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
intervals = st.builds(Interval, st.sampled_from(list(IntervalUnit)), st.integers(min_value=1, max_value=6))


@given(anchor=anchors, interval=intervals, offset=st.integers(min_value=-4000, max_value=4000))
def test_the_containing_period_contains_the_day_and_is_bounded_by_boundaries(
        anchor: date, interval: Interval, offset: int) -> None:
    day = anchor + timedelta(days=offset)
    period = period_containing(anchor, interval, day)
    assert period.contains(day)
    n = period_index(anchor, interval, day)
    assert (period.start, period.end) == (boundary(anchor, interval, n), boundary(anchor, interval, n + 1))


@given(anchor=anchors, interval=intervals, start=st.integers(min_value=-30, max_value=30))
def test_consecutive_periods_tile_without_gaps_or_overlaps(anchor: date, interval: Interval, start: int) -> None:
    periods = [Period(boundary(anchor, interval, n), boundary(anchor, interval, n + 1))
               for n in range(start, start + 14)]
    for before, after in itertools.pairwise(periods):
        assert before.end == after.start
    for period in periods:
        # every day of a period is contained by that very period, by no other
        assert period_containing(anchor, interval, period.start) == period
        assert period_containing(anchor, interval, period.last_day) == period


@given(anchor=anchors, interval=intervals, n=st.integers(min_value=-100, max_value=100))
def test_boundaries_strictly_increase(anchor: date, interval: Interval, n: int) -> None:
    assert boundary(anchor, interval, n) < boundary(anchor, interval, n + 1)


@given(year=st.integers(min_value=1990, max_value=2100), month=st.integers(min_value=1, max_value=12),
       day=st.integers(min_value=28, max_value=31), count=st.integers(min_value=1, max_value=12),
       n=st.integers(min_value=-60, max_value=60))
def test_monthly_boundaries_of_late_anchors_are_the_anchor_day_or_the_last_day(
        year: int, month: int, day: int, count: int, n: int) -> None:
    last = calendar.monthrange(year, month)[1]
    anchor = date(year, month, min(day, last))
    b = boundary(anchor, Interval(IntervalUnit.MONTH, count), n)
    month_length = calendar.monthrange(b.year, b.month)[1]
    assert b.day == anchor.day or (b.day == month_length and month_length < anchor.day)


# --- proration ------------------------------------------------------------------------------------


def test_prorate_a_third_of_thirty_euros() -> None:
    assert prorate(eur(30_00), 10, 30) == eur(10_00)


def test_prorate_rounds_half_up_away_from_zero() -> None:
    assert prorate(eur(1), 1, 2) == eur(1)  # 0.5 cent -> 1
    assert prorate(eur(3), 1, 2) == eur(2)  # 1.5 cent -> 2
    assert prorate(eur(1), 1, 3) == eur(0)  # 0.33 -> 0
    assert prorate(eur(2), 1, 3) == eur(1)  # 0.67 -> 1
    assert prorate(eur(-1), 1, 2) == eur(-1)  # -0.5 -> -1
    assert prorate(eur(9_99), 1, 31) == eur(32)  # 32.2 -> 32
    assert prorate(Money(1000, "JPY"), 1, 3) == Money(333, "JPY")


def test_prorate_whole_and_zero_parts() -> None:
    assert prorate(eur(29_99), 31, 31) == eur(29_99)
    assert prorate(eur(29_99), 0, 31) == eur(0)


@pytest.mark.parametrize(("part", "whole"), [(1, 0), (0, 0), (-1, 30), (31, 30), (1, -5)])
def test_prorate_rejects_impossible_day_counts(part: int, whole: int) -> None:
    with pytest.raises(InvalidDate, match=f"cannot prorate {part} of {whole} days"):
        prorate(eur(30_00), part, whole)


@given(minor=st.integers(min_value=-10**12, max_value=10**12), whole=st.integers(min_value=1, max_value=400),
       data=st.data())
def test_two_complementary_prorations_add_up_to_the_amount_within_one_cent(
        minor: int, whole: int, data: st.DataObject) -> None:
    part = data.draw(st.integers(min_value=0, max_value=whole))
    amount = eur(minor)
    first, second = prorate(amount, part, whole), prorate(amount, whole - part, whole)
    assert abs((first + second).minor - minor) <= 1
    assert abs(first.minor) <= abs(minor)
    assert abs(first.minor * whole - minor * part) * 2 <= whole  # within half a cent of the exact value


# --- parsing --------------------------------------------------------------------------------------


def test_parse_date_accepts_iso_dates_with_spaces() -> None:
    assert parse_date(" 2024-02-29 ") == date(2024, 2, 29)


@pytest.mark.parametrize("text", ["2025-02-30", "2025-13-01", "31.01.2025", ""])
def test_parse_date_rejects_impossible_dates_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidDate, match=r"start date .* is not a valid calendar date: use YYYY-MM-DD"):
        parse_date(text, "start date")


def test_parse_date_30_february_is_not_a_calendar_date() -> None:
    with pytest.raises(InvalidDate, match="'2025-02-30' is not a valid calendar date"):
        parse_date("2025-02-30")
