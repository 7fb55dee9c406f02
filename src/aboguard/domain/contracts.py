"""Consumer contract rules: when a customer can cancel, cancellation requests (§ 312k BGB) and withdrawal
(§§ 355, 356 BGB).

**Cancellation dates** come from one rule, :func:`aboguard.domain.subscriptions.earliest_end` (notice period,
minimum term, period ends, the one-month cap for consumers of § 309 Nr. 9 BGB). All dates are calendar dates in
the merchant's time zone; an ``ends_on`` is the first day without service, the last day is the day before. The
engine counts a notice of *n* days so that a cancellation received on ``ends_on - n`` still ends the contract on
``ends_on``: the merchant gives up at most one day against §§ 187, 188 BGB, never the customer.

:func:`cancellation_window` answers the transparency question (REFERENCE 3.1): by which day must a
cancellation arrive, and when would the contract then end? It is the last day whose earliest end is still the
earliest end of today; ``earliest_end`` grows with the request day, so a bisection finds it.

**Cancellation requests** (§ 312k BGB) keep what the customer gave (name, e-mail, contract identifier as typed),
whether ordinary or extraordinary (with reason), the wished-for date or "earliest possible", and the instant
received. A wished-for date earlier than the contract allows is read as "at the earliest possible date"
(a cancellation is not void because the date is too early); the confirmation says so.

**Withdrawal** (Widerruf): 14 days for a consumer, counted from the day after the contract was concluded
(§ 187 (1), § 355 (2) BGB: for services the period starts with conclusion); a period ending on a Saturday,
a Sunday or a public holiday at the merchant's place runs to the next working day (§ 193 BGB). Without proof
that the customer was told about the right (no acceptance record with the summary, which states it), the period is
12 months and 14 days (§ 356 (3)). What was paid for the days after the withdrawal is refunded pro rata;
the days served before it are owed as value compensation (§ 357a (2)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from aboguard.errors import InvalidInput, InvalidTransition
from aboguard.money import Money

from . import events as ev
from .catalog import PlanVersion
from .periods import add_months, prorate
from .subscriptions import LIVE, Subscription, SubscriptionStatus, earliest_end

WITHDRAWAL_DAYS = 14
UNINSTRUCTED_EXTRA_MONTHS = 12  # § 356 (3) BGB: no (proper) instruction -> 12 months more


class InvalidCancellation(InvalidInput):
    code = "contract.invalid_cancellation"


class WithdrawalRefused(InvalidTransition):
    code = "contract.withdrawal_refused"


class CancellationKind(StrEnum):
    ORDINARY = "ordinary"  # with the notice period, at the end the terms allow
    EXTRAORDINARY = "extraordinary"  # for an important reason (§ 314 BGB), without notice
    WITHDRAWAL = "withdrawal"  # Widerruf within the withdrawal period (§ 355 BGB)


# -- when can the customer cancel -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CancellationWindow:
    deadline: date  # the last day a cancellation can arrive to end the contract on ``ends_on``
    ends_on: date  # first day without service

    @property
    def last_day(self) -> date:
        return self.ends_on - timedelta(days=1)


def cancellation_window(sub: Subscription, version: PlanVersion, today: date) -> CancellationWindow | None:
    """The next cancellation deadline on or after ``today`` and the end it gives; None unless the contract runs."""
    if sub.status not in LIVE:
        return None
    target = earliest_end(sub, version, today)
    low, high = today, max(today, target)
    while low < high:  # the last day d in [today, target] with earliest_end(d) == target
        middle = low + timedelta(days=((high - low).days + 1) // 2)
        if earliest_end(sub, version, middle) <= target:
            low = middle
        else:
            high = middle - timedelta(days=1)
    # Without notice a cancellation on a period's first day ends the contract that same day; the window still
    # names a deadline no later than the last day of service, which reads right and is never too late.
    return CancellationWindow(min(low, max(today, target - timedelta(days=1))), target)


# -- cancellation requests (§ 312k BGB) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CancellationIdentity:
    """What the customer gave to identify themselves and the contract, kept as typed."""

    name: str
    email: str
    contract_ref: str

    def __post_init__(self) -> None:
        if not self.name.strip() and not self.email.strip():
            raise InvalidCancellation("a cancellation needs the customer's name or e-mail address")
        if not self.contract_ref.strip():
            raise InvalidCancellation("a cancellation needs the contract it cancels")


@dataclass(frozen=True, slots=True)
class CancellationRequest:
    id: str
    subscription_id: str
    customer_id: str
    kind: CancellationKind
    received_at: datetime
    received_on: date  # in the merchant's time zone
    identity: CancellationIdentity
    channel: str
    earliest_possible: bool  # no date wished for, or one too early
    ends_on: date  # first day without service
    reason: str | None = None
    requested_last_day: date | None = None
    requested_too_early: bool = False

    @property
    def last_day(self) -> date:
        return self.ends_on - timedelta(days=1)


def decide_end(sub: Subscription, version: PlanVersion, *, kind: CancellationKind, received_on: date,
               requested_last_day: date | None, reason: str | None) -> tuple[date, bool]:
    """(``ends_on``, the wish was too early) for a cancellation received on ``received_on``."""
    if kind is CancellationKind.WITHDRAWAL:
        raise InvalidCancellation("a withdrawal is not a cancellation: use `aboguard contracts withdraw`")
    if kind is CancellationKind.EXTRAORDINARY:
        if not (reason or "").strip():
            raise InvalidCancellation("an extraordinary cancellation needs the important reason (§ 314 BGB)")
        if requested_last_day is None:
            return received_on, False  # without notice: the contract ends now
        if requested_last_day < received_on - timedelta(days=1):
            raise InvalidCancellation(f"the wished-for last day {requested_last_day} has already passed")
        return requested_last_day + timedelta(days=1), False
    earliest = earliest_end(sub, version, received_on)
    if requested_last_day is None:
        return earliest, False
    wanted = requested_last_day + timedelta(days=1)
    return (earliest, True) if wanted < earliest else (wanted, False)


# -- withdrawal (§§ 355, 356 BGB) -----------------------------------------------------------------------------


def withdrawal_deadline(concluded_on: date, *, instructed: bool = True,
                        is_holiday: Callable[[date], bool] = lambda day: False) -> date:
    """The last day a withdrawal of a contract concluded on ``concluded_on`` may be declared. ``is_holiday``:
    the public holidays at the merchant's place (``services.public_holidays``)."""
    end = concluded_on + timedelta(days=WITHDRAWAL_DAYS)
    if not instructed:
        end = add_months(concluded_on, UNINSTRUCTED_EXTRA_MONTHS) + timedelta(days=WITHDRAWAL_DAYS)
    while end.weekday() >= 5 or is_holiday(end):  # § 193 BGB: Saturday, Sunday, holiday -> the next working day
        end += timedelta(days=1)
    return end


def check_withdrawal(sub: Subscription, *, concluded_on: date, received_on: date, instructed: bool,
                     is_holiday: Callable[[date], bool] = lambda day: False) -> date:
    """The deadline, if ``sub`` may still be withdrawn from on ``received_on``; else WithdrawalRefused."""
    if not sub.consumer:
        raise WithdrawalRefused(f"subscription {sub.id} belongs to a business customer: the statutory right of "
                                "withdrawal is for consumers only")
    if sub.cancel_reason == CancellationKind.WITHDRAWAL.value:
        raise WithdrawalRefused(f"subscription {sub.id} was already withdrawn from on {sub.canceled_on}")
    if sub.status is SubscriptionStatus.ENDED:
        raise WithdrawalRefused(f"subscription {sub.id} has already ended")
    deadline = withdrawal_deadline(concluded_on, instructed=instructed, is_holiday=is_holiday)
    if received_on > deadline:
        raise WithdrawalRefused(f"the withdrawal period of subscription {sub.id} ended on {deadline} (14 days "
                                f"from the contract of {concluded_on}); cancel it instead with "
                                "`aboguard contracts cancel`")
    return deadline


def unused_share(total: Money, supply_start: date, supply_end: date, withdrawn_on: date) -> Money:
    """The part of ``total`` (for the days ``supply_start`` .. ``supply_end``, exclusive) after ``withdrawn_on``."""
    days = (supply_end - supply_start).days
    if days <= 0:
        return Money.zero(total.currency)
    unused = (supply_end - max(withdrawn_on, supply_start)).days
    return prorate(total, min(max(unused, 0), days), days)


# -- events ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CancellationConfirmed(ev.Event):
    """§ 312k (4) BGB: the confirmation the customer gets at once (content, date and time received, end)."""

    name: ClassVar[str] = "contract.cancellation_confirmed"
    aggregate: ClassVar[str] = "subscription"
    request_id: str
    customer_id: str
    kind: str
    reason: str | None
    received_at: datetime  # UTC
    received_at_local: str  # the same instant in the merchant's time zone, ISO 8601 with offset
    requested_last_day: date | None
    earliest_possible: bool
    requested_too_early: bool
    ends_on: date
    last_day: date
    customer_name: str
    customer_email: str
    contract_ref: str
    locale: str


@dataclass(frozen=True, slots=True)
class WithdrawalConfirmed(ev.Event):
    name: ClassVar[str] = "contract.withdrawal_confirmed"
    aggregate: ClassVar[str] = "subscription"
    request_id: str
    customer_id: str
    received_at: datetime
    received_at_local: str
    concluded_on: date
    deadline: date
    refund_total: Money
    customer_email: str
    locale: str


def confirmation(request: CancellationRequest, *, local_received: datetime, locale: str) -> CancellationConfirmed:
    return CancellationConfirmed(
        request.subscription_id, request.id, request.customer_id, request.kind.value, request.reason,
        request.received_at, local_received.isoformat(), request.requested_last_day, request.earliest_possible,
        request.requested_too_early, request.ends_on, request.last_day, request.identity.name,
        request.identity.email, request.identity.contract_ref, locale)
