"""The injected clock: a frozen test clock that only moves when told, and the real system clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from aboguard.clock import Clock, SystemClock, TestClock

START = datetime(2025, 3, 31, 22, 30, tzinfo=UTC)


def a_clock(start: datetime = START) -> TestClock:
    return TestClock(start)


def test_test_clock_stays_frozen_until_told_to_move() -> None:
    clock = a_clock()
    assert clock.now() == START
    assert clock.now() == START


def test_test_clock_advances_by_days_hours_and_timedelta() -> None:
    clock = a_clock()
    assert clock.advance(days=1) == START + timedelta(days=1)
    assert clock.advance(hours=5) == START + timedelta(days=1, hours=5)
    assert clock.advance(timedelta(minutes=30)) == START + timedelta(days=1, hours=5, minutes=30)
    assert clock.advance(timedelta(hours=1), days=2, hours=1) == START + timedelta(days=3, hours=7, minutes=30)
    assert clock.now() == START + timedelta(days=3, hours=7, minutes=30)


def test_advance_to_moves_to_a_later_instant() -> None:
    clock = a_clock()
    target = datetime(2025, 4, 15, 9, 0, tzinfo=UTC)
    assert clock.advance_to(target) == target
    assert clock.now() == target


@pytest.mark.parametrize("step", [
    {"days": -1}, {"hours": -1}, {"delta": timedelta(seconds=-1)},
])
def test_advance_refuses_to_go_backwards(step: dict[str, object]) -> None:
    clock = a_clock()
    with pytest.raises(ValueError, match="only advances forwards"):
        clock.advance(**step)  # type: ignore[arg-type]
    assert clock.now() == START


def test_advance_to_refuses_an_earlier_instant() -> None:
    clock = a_clock()
    with pytest.raises(ValueError, match=r"cannot advance to .* it is before"):
        clock.advance_to(START - timedelta(seconds=1))
    assert clock.now() == START


def test_set_goes_forwards_and_backwards() -> None:
    clock = a_clock()
    earlier = datetime(2020, 1, 1, tzinfo=UTC)
    clock.set(earlier)
    assert clock.now() == earlier
    later = datetime(2030, 6, 1, 12, tzinfo=UTC)
    clock.set(later)
    assert clock.now() == later


def test_other_time_zones_are_stored_as_utc() -> None:
    berlin_noon = datetime(2025, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    clock = a_clock(berlin_noon)
    assert clock.now() == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)
    clock.set(datetime(2025, 7, 2, 0, 0, tzinfo=timezone(timedelta(hours=5))))
    assert clock.now() == datetime(2025, 7, 1, 19, 0, tzinfo=UTC)


def test_naive_datetimes_are_rejected_everywhere() -> None:
    naive = datetime(2025, 1, 1, 12, 0)  # noqa: DTZ001 - deliberately naive
    with pytest.raises(ValueError, match="timezone-aware"):
        TestClock(naive)
    clock = a_clock()
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.advance_to(naive)
    assert clock.now() == START


def test_today_depends_on_the_time_zone_around_midnight() -> None:
    clock = a_clock(datetime(2025, 3, 31, 22, 30, tzinfo=UTC))  # 00:30 CEST on 1 April
    assert clock.today("Europe/Berlin") == date(2025, 4, 1)
    assert clock.today(ZoneInfo("Europe/Berlin")) == date(2025, 4, 1)
    assert clock.today("UTC") == date(2025, 3, 31)


def test_today_in_berlin_winter_time_is_one_hour_ahead() -> None:
    clock = a_clock(datetime(2025, 1, 31, 22, 59, tzinfo=UTC))
    assert clock.today("Europe/Berlin") == date(2025, 1, 31)
    clock.advance(timedelta(minutes=1))
    assert clock.today("Europe/Berlin") == date(2025, 2, 1)
    assert clock.today("UTC") == date(2025, 1, 31)


def test_system_clock_returns_aware_utc() -> None:
    clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert clock.today("UTC") in {now.date(), now.date() + timedelta(days=1)}


def test_both_clocks_satisfy_the_clock_protocol() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(a_clock(), Clock)

