"""The installation itself: how it was set up, and the sandbox clock that can be moved.

A sandbox installation (``aboguard init --test-clock``) keeps its clock in the database, so every
later command runs at the same simulated instant until it is moved. A production installation runs
on the system clock and refuses to move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aboguard.clock import TestClock
from aboguard.errors import AlreadyInitialised, ClockNotAdjustable, InvalidDate

from .context import ServiceContext

CLOCK_MODE = "clock_mode"
CLOCK_NOW = "test_clock_now"
INITIALISED_AT = "initialised_at"


@dataclass(frozen=True, slots=True)
class ClockState:
    mode: str  # "test" or "system"
    now: datetime
    today_iso: str
    tz: str


def record_installation(ctx: ServiceContext, *, test_clock: bool) -> ClockState:
    """Write the installation facts once; the schema has been migrated by bootstrap."""
    with ctx.uow() as uow:
        if uow.settings.get(INITIALISED_AT):
            raise AlreadyInitialised(f"aboguard is already initialised in {ctx.database_label}")
        uow.settings.set(INITIALISED_AT, ctx.now().isoformat())
        uow.settings.set(CLOCK_MODE, "test" if test_clock else "system")
        if test_clock:
            uow.settings.set(CLOCK_NOW, ctx.now().isoformat())
        uow.commit()
    return show_clock(ctx)


def is_initialised(ctx: ServiceContext) -> bool:
    with ctx.uow() as uow:
        return uow.settings.get(INITIALISED_AT) is not None


def stored_test_clock(ctx: ServiceContext) -> TestClock | None:
    """The sandbox clock as stored, or None on a production installation."""
    with ctx.uow() as uow:
        if uow.settings.get(CLOCK_MODE) != "test":
            return None
        stored = uow.settings.get(CLOCK_NOW)
    return TestClock(datetime.fromisoformat(stored)) if stored else None


def show_clock(ctx: ServiceContext) -> ClockState:
    mode = "test" if isinstance(ctx.clock, TestClock) else "system"
    now = ctx.now()
    return ClockState(mode, now, ctx.today().isoformat(), str(ctx.merchant_tz))


def set_clock(ctx: ServiceContext, instant: datetime) -> ClockState:
    """Move the sandbox clock to ``instant`` (a date alone means midnight in the merchant's zone)."""
    clock = _adjustable(ctx)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=ctx.merchant_tz)
    if instant < clock.now():
        raise InvalidDate(f"the sandbox clock only moves forwards: it is already {clock.now().isoformat()}")
    return _store(ctx, clock, instant.astimezone(UTC))


def advance_clock(ctx: ServiceContext, *, days: int = 0, hours: int = 0) -> ClockState:
    clock = _adjustable(ctx)
    if days < 0 or hours < 0 or (days == 0 and hours == 0):
        raise InvalidDate("advance the clock by a positive number of days or hours")
    return _store(ctx, clock, clock.now() + timedelta(days=days, hours=hours))


def _adjustable(ctx: ServiceContext) -> TestClock:
    if not isinstance(ctx.clock, TestClock):
        raise ClockNotAdjustable("this installation runs on the system clock; only a sandbox made with "
                                 "`aboguard init --test-clock` can move its clock")
    return ctx.clock


def _store(ctx: ServiceContext, clock: TestClock, instant: datetime) -> ClockState:
    with ctx.uow() as uow:
        uow.settings.set(CLOCK_NOW, instant.isoformat())
        uow.commit()
    clock.set(instant)
    return show_clock(ctx)
