"""Coupons and the discount lines they put on invoices.

A coupon takes a percentage or a fixed amount off an invoice, once, for N billing periods or forever.
It is redeemed onto one subscription; each invoice billed for that subscription while the redemption
runs carries the discount, and the redemption counts the periods it has used.

Discounts are document-level allowances in the sense of EN 16931 (BG-20): they reduce the VAT base of
each rate category, so they become one negative ``discount`` line per VAT category present, split in
proportion to what the invoice charges in each category (largest remainder: not a cent lost). Stacking
is explicit: a subscription holds one coupon, or several only if every one of them is ``stackable``.
Percentages apply before fixed amounts, each to what is left, and no discount takes an invoice below
zero (nor any VAT category: an allowance never exceeds its category's base).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from aboguard.errors import InvalidInput
from aboguard.money import Money

from . import events as ev
from .catalog import TaxCategory
from .invoicing import LineDraft, LineKind

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,39}$")


class InvalidCoupon(InvalidInput):
    code = "coupon.invalid"


class CouponNotRedeemable(InvalidInput):
    code = "coupon.not_redeemable"


class DiscountKind(StrEnum):
    PERCENT = "percent"
    AMOUNT = "amount"


class CouponDuration(StrEnum):
    ONCE = "once"  # the next invoice only
    REPEATING = "repeating"  # the next N invoices (billing periods)
    FOREVER = "forever"


class RedemptionStatus(StrEnum):
    ACTIVE = "active"
    USED_UP = "used_up"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Discount:
    """One reduction to apply to an invoice: from a coupon or a loyalty reward."""

    label: str
    kind: DiscountKind
    percent: Decimal | None = None
    amount: Money | None = None


@dataclass(frozen=True, slots=True)
class Coupon:
    code: str
    name: str
    kind: DiscountKind
    duration: CouponDuration
    created_at: datetime
    percent: Decimal | None = None
    amount: Money | None = None
    periods: int | None = None  # REPEATING only
    plan_codes: frozenset[str] = frozenset()  # empty: every plan
    max_redemptions: int | None = None  # in all
    per_customer: int = 1
    redeem_by: date | None = None  # last day it can be redeemed
    stackable: bool = False
    active: bool = True

    def discount(self) -> Discount:
        return Discount(f"Coupon {self.code} ({self.describe()})", self.kind, self.percent, self.amount)

    def describe(self) -> str:
        off = f"{self.percent.normalize():f} % off" if self.kind is DiscountKind.PERCENT else f"{self.amount} off"
        span = {CouponDuration.ONCE: "once", CouponDuration.FOREVER: "forever",
                CouponDuration.REPEATING: f"for {self.periods} billing periods"}[self.duration]
        return f"{off}, {span}"


def build_coupon(code: str, name: str, *, percent: Decimal | None = None, amount: Money | None = None,
                 duration: CouponDuration = CouponDuration.ONCE, periods: int | None = None,
                 plan_codes: Iterable[str] = (), max_redemptions: int | None = None, per_customer: int = 1,
                 redeem_by: date | None = None, stackable: bool = False, created_at: datetime) -> Coupon:
    """A validated coupon; every rule broken is named in the error."""
    code = code.strip().upper()
    if not CODE.match(code):
        raise InvalidCoupon(f"coupon code {code!r} must be 3-40 letters, digits, '-' or '_' (e.g. WELCOME10)")
    if not name.strip():
        raise InvalidCoupon("a coupon needs a name the customer can read")
    if (percent is None) == (amount is None):
        raise InvalidCoupon("give either a percentage (--percent) or a fixed amount (--amount), not both or none")
    if percent is not None and not Decimal(0) < percent <= Decimal(100):
        raise InvalidCoupon(f"a percentage must be above 0 and at most 100, not {percent}")
    if amount is not None and not amount.is_positive():
        raise InvalidCoupon(f"a fixed discount must be positive, not {amount}")
    if duration is CouponDuration.REPEATING:
        if periods is None or periods < 1:
            raise InvalidCoupon("a repeating coupon needs the number of billing periods it runs (--periods N)")
    elif periods is not None:
        raise InvalidCoupon(f"--periods applies to repeating coupons only, not to {duration.value}")
    if max_redemptions is not None and max_redemptions < 1:
        raise InvalidCoupon("the redemption limit must be at least 1")
    if per_customer < 1:
        raise InvalidCoupon("the per-customer limit must be at least 1")
    kind = DiscountKind.PERCENT if percent is not None else DiscountKind.AMOUNT
    return Coupon(code, name.strip(), kind, duration, created_at, percent=percent, amount=amount, periods=periods,
                  plan_codes=frozenset(p.strip() for p in plan_codes if p.strip()), max_redemptions=max_redemptions,
                  per_customer=per_customer, redeem_by=redeem_by, stackable=stackable)


@dataclass(frozen=True, slots=True)
class Redemption:
    id: str
    coupon_code: str
    customer_id: str
    subscription_id: str
    redeemed_at: datetime
    periods_used: int = 0
    status: RedemptionStatus = RedemptionStatus.ACTIVE
    version: int = 1

    def periods_left(self, coupon: Coupon) -> int | None:
        """None: no end (forever)."""
        if coupon.duration is CouponDuration.FOREVER:
            return None
        total = 1 if coupon.duration is CouponDuration.ONCE else coupon.periods or 0
        return max(0, total - self.periods_used)


def check_redeemable(coupon: Coupon, *, today: date, plan_code: str, redeemed_in_all: int,
                     redeemed_by_customer: int, running: Sequence[Coupon]) -> None:
    """Raise CouponNotRedeemable with the reason, if this subscription may not take the coupon now."""
    if not coupon.active:
        raise CouponNotRedeemable(f"coupon {coupon.code} is archived")
    if any(c.code == coupon.code for c in running):
        raise CouponNotRedeemable(f"coupon {coupon.code} already runs on this subscription")
    if coupon.redeem_by is not None and today > coupon.redeem_by:
        raise CouponNotRedeemable(f"coupon {coupon.code} expired on {coupon.redeem_by.isoformat()}")
    if coupon.plan_codes and plan_code not in coupon.plan_codes:
        raise CouponNotRedeemable(f"coupon {coupon.code} is valid for the plans {', '.join(sorted(coupon.plan_codes))}"
                                  f" only, not for {plan_code}")
    if coupon.max_redemptions is not None and redeemed_in_all >= coupon.max_redemptions:
        raise CouponNotRedeemable(f"coupon {coupon.code} has been redeemed {redeemed_in_all} times, its limit")
    if redeemed_by_customer >= coupon.per_customer:
        raise CouponNotRedeemable(f"this customer has already redeemed coupon {coupon.code} "
                                  f"{redeemed_by_customer} time(s), the most one customer may")
    if running and not (coupon.stackable and all(c.stackable for c in running)):
        names = ", ".join(c.code for c in running)
        raise CouponNotRedeemable(f"the subscription already has coupon {names}; coupons stack only when every one "
                                  "of them is marked stackable (remove the other first)")


def use_period(redemption: Redemption, coupon: Coupon) -> Redemption:
    """The redemption after one more invoice carried its discount."""
    used = replace(redemption, periods_used=redemption.periods_used + 1)
    if used.periods_left(coupon) == 0:
        used = replace(used, status=RedemptionStatus.USED_UP)
    return used


def allowance_lines(lines: Sequence[LineDraft], discounts: Sequence[Discount], currency: str
                    ) -> list[tuple[Discount, list[LineDraft]]]:
    """The discount lines for ``discounts`` on an invoice with ``lines`` (see the module docstring).

    Returns each discount with its lines (empty when nothing was left to take off); the amounts of a
    discount's lines sum to exactly its value, rounded half up once.
    """
    zero = Money.zero(currency)
    base: dict[TaxCategory, Money] = {}
    for line in lines:
        base[line.tax_category] = base.get(line.tax_category, zero) + line.amount
    left = {cat: amount for cat, amount in base.items() if amount.is_positive()}
    ordered = sorted(discounts, key=lambda d: 0 if d.kind is DiscountKind.PERCENT else 1)
    result: list[tuple[Discount, list[LineDraft]]] = []
    for discount in ordered:
        remaining = sum(left.values(), zero)
        if discount.kind is DiscountKind.PERCENT:
            assert discount.percent is not None
            value = remaining.multiply(discount.percent / 100)
        else:
            assert discount.amount is not None
            if discount.amount.currency != currency:
                raise InvalidCoupon(f"a discount of {discount.amount} cannot apply to an invoice in {currency}")
            value = discount.amount
        value = min(value, remaining)
        if not value.is_positive():
            result.append((discount, []))
            continue
        categories = [cat for cat in left if left[cat].is_positive()]
        parts = value.allocate([left[cat].minor for cat in categories])
        made = []
        for cat, part in zip(categories, parts, strict=True):
            if part.is_zero():
                continue
            left[cat] = left[cat] - part
            made.append(LineDraft(LineKind.DISCOUNT, discount.label, -part, cat))
        result.append((discount, made))
    return result


@dataclass(frozen=True, slots=True)
class Grant:
    """A discount granted on one invoice and what granted it: for the incentives report and the evidence."""

    id: str
    invoice_id: str
    customer_id: str
    subscription_id: str | None
    source: str  # coupon, loyalty, skonto
    source_code: str  # the coupon or rule code; "SKONTO"
    source_id: str | None  # the redemption, the reward, the Skonto credit note
    amount: Money
    created_at: datetime


# -- events -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CouponCreated(ev.Event):
    name: ClassVar[str] = "coupon.created"
    aggregate: ClassVar[str] = "coupon"

    description: str


@dataclass(frozen=True, slots=True)
class CouponRedeemed(ev.Event):
    name: ClassVar[str] = "coupon.redeemed"
    aggregate: ClassVar[str] = "subscription"

    coupon_code: str
    customer_id: str
    redemption_id: str


@dataclass(frozen=True, slots=True)
class CouponRemoved(ev.Event):
    name: ClassVar[str] = "coupon.removed"
    aggregate: ClassVar[str] = "subscription"

    coupon_code: str
    redemption_id: str
