"""The only module that reads the system time.

Everything else asks an injected :class:`Clock`. Instants are timezone-aware UTC; calendar dates
are taken in the merchant's time zone with :meth:`Clock.today`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def today(self, tz: ZoneInfo | str) -> date:
        """Today's calendar date in time zone ``tz``."""
        ...


def _today_in(instant: datetime, tz: ZoneInfo | str) -> date:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return instant.astimezone(zone).date()


class SystemClock:
    """The real time of this machine."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self, tz: ZoneInfo | str) -> date:
        return _today_in(self.now(), tz)


class TestClock:
    """A frozen clock that moves only when told to: for tests, simulations and sandbox installations."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime) -> None:
        self._now = _aware_utc(start)

    def now(self) -> datetime:
        return self._now

    def today(self, tz: ZoneInfo | str) -> date:
        return _today_in(self._now, tz)

    def set(self, instant: datetime) -> None:
        """Move to ``instant`` (forwards or backwards)."""
        self._now = _aware_utc(instant)

    def advance(self, delta: timedelta | None = None, *, days: int = 0, hours: int = 0) -> datetime:
        """Move forward by ``delta`` and/or days and hours; returns the new instant."""
        step = (delta or timedelta()) + timedelta(days=days, hours=hours)
        if step < timedelta(0):
            raise ValueError("a test clock only advances forwards; use set() to go back")
        self._now += step
        return self._now

    def advance_to(self, instant: datetime) -> datetime:
        target = _aware_utc(instant)
        if target < self._now:
            raise ValueError(f"cannot advance to {target.isoformat()}: it is before {self._now.isoformat()}")
        self._now = target
        return self._now


def _aware_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instants must be timezone-aware")
    return instant.astimezone(UTC)
