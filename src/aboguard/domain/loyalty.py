"""Loyalty rewards for punctual payers.

A rule says: after ``streak`` consecutive invoices of a subscription that met the criterion, the next
invoice is ``percent`` off (100: that period is free). Criteria:

* ``on_time``: paid in full by its due date, with no failed or returned payment on the way;
* ``no_failure``: paid without any failed or returned payment (a late transfer still counts).

A failed or returned payment resets the streak at once; an invoice paid late resets it under ``on_time``.
When the streak is complete the reward is granted (recorded with the invoices that earned it, and
announced) and the count starts again from zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from aboguard.errors import InvalidInput

from . import events as ev
from .coupons import CODE, Discount, DiscountKind


class InvalidLoyaltyRule(InvalidInput):
    code = "loyalty.invalid_rule"


class Criterion(StrEnum):
    ON_TIME = "on_time"
    NO_FAILURE = "no_failure"


class RewardStatus(StrEnum):
    PENDING = "pending"  # waits for the subscription's next invoice
    APPLIED = "applied"
    VOID = "void"  # the subscription ended before it could be used


@dataclass(frozen=True, slots=True)
class LoyaltyRule:
    code: str
    name: str
    criterion: Criterion
    streak: int
    percent: Decimal
    created_at: datetime
    active: bool = True

    def describe(self) -> str:
        what = "paid on time" if self.criterion is Criterion.ON_TIME else "paid without a failed payment"
        gift = "the next period free" if self.percent == 100 else f"{self.percent.normalize():f} % off the next invoice"
        return f"after {self.streak} consecutive invoices {what}: {gift}"


def build_rule(code: str, name: str, *, criterion: Criterion, streak: int, percent: Decimal,
               created_at: datetime) -> LoyaltyRule:
    code = code.strip().upper()
    if not CODE.match(code):
        raise InvalidLoyaltyRule(f"rule code {code!r} must be 3-40 letters, digits, '-' or '_'")
    if not name.strip():
        raise InvalidLoyaltyRule("a loyalty rule needs a name the customer can read")
    if not 1 <= streak <= 120:
        raise InvalidLoyaltyRule(f"the streak must be between 1 and 120 invoices, not {streak}")
    if not Decimal(0) < percent <= Decimal(100):
        raise InvalidLoyaltyRule(f"the reward must be above 0 and at most 100 percent, not {percent}")
    return LoyaltyRule(code, name.strip(), criterion, streak, percent, created_at)


@dataclass(frozen=True, slots=True)
class Streak:
    subscription_id: str
    rule_code: str
    invoice_ids: tuple[str, ...] = ()
    version: int = 0  # 0: not stored yet

    @property
    def count(self) -> int:
        return len(self.invoice_ids)


@dataclass(frozen=True, slots=True)
class Reward:
    id: str
    rule_code: str
    customer_id: str
    subscription_id: str
    percent: Decimal
    earned_by: tuple[str, ...]  # the invoices of the completed streak
    granted_at: datetime
    status: RewardStatus = RewardStatus.PENDING
    applied_invoice_id: str | None = None
    version: int = 1

    def discount(self, rule_name: str) -> Discount:
        return Discount(f"Loyalty reward: {rule_name} ({self.percent.normalize():f} % off)", DiscountKind.PERCENT,
                        self.percent)


def paid_on_time(due_on: date | None, paid_on: date | None, collected_on: date | None) -> bool:
    """On time: the money arrived by the due date, or a charge that succeeded was made by then (a SEPA debit
    made on the due date settles days later; the customer did nothing late)."""
    if due_on is None:
        return True
    return (paid_on is not None and paid_on <= due_on) or (collected_on is not None and collected_on <= due_on)


def settle(rule: LoyaltyRule, streak: Streak, invoice_id: str, *, on_time: bool, had_failure: bool
           ) -> tuple[Streak, tuple[str, ...] | None]:
    """The streak after ``invoice_id`` was paid; and the invoices that earned a reward, if one is due now."""
    if invoice_id in streak.invoice_ids:
        return streak, None  # counted before
    counts = not had_failure and (on_time or rule.criterion is Criterion.NO_FAILURE)
    if not counts:
        return replace(streak, invoice_ids=()), None
    earned = (*streak.invoice_ids, invoice_id)
    if len(earned) >= rule.streak:
        return replace(streak, invoice_ids=()), earned
    return replace(streak, invoice_ids=earned), None


def broken(streak: Streak) -> Streak:
    """A failed or returned payment: the streak starts again."""
    return replace(streak, invoice_ids=())


@dataclass(frozen=True, slots=True)
class LoyaltyRewardGranted(ev.Event):
    """Announce it to the customer: what they earned, why, and when it applies."""

    name: ClassVar[str] = "loyalty.reward_granted"
    aggregate: ClassVar[str] = "subscription"

    customer_id: str
    reward_id: str
    rule_code: str
    description: str
    earned_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoyaltyRewardApplied(ev.Event):
    name: ClassVar[str] = "loyalty.reward_applied"
    aggregate: ClassVar[str] = "subscription"

    reward_id: str
    invoice_id: str
