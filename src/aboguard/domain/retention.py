"""Retention offers: what a merchant may put before a customer who asks to cancel.

An offer is a discount (a coupon redeemed onto the subscription, e.g. 50 % off for three months), a
pause (the subscription rests for N months instead of ending, then resumes by itself), or a cheaper plan.
Whether the customer accepted or refused is recorded. Refusing never stands in the way of the
cancellation: § 312k BGB wants cancelling to be as easy as subscribing, so offers are shown alongside the
cancellation, never as a step that has to be passed first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from aboguard.errors import InvalidInput

from . import events as ev
from .coupons import CODE


class InvalidOffer(InvalidInput):
    code = "retention.invalid_offer"


class OfferKind(StrEnum):
    DISCOUNT = "discount"
    PAUSE = "pause"
    SWITCH_PLAN = "switch_plan"


@dataclass(frozen=True, slots=True)
class RetentionOffer:
    code: str
    name: str
    kind: OfferKind
    created_at: datetime
    coupon_code: str | None = None  # DISCOUNT
    pause_months: int | None = None  # PAUSE
    plan_code: str | None = None  # SWITCH_PLAN
    active: bool = True

    def describe(self) -> str:
        if self.kind is OfferKind.DISCOUNT:
            return f"{self.name} (coupon {self.coupon_code})"
        if self.kind is OfferKind.PAUSE:
            return f"{self.name} (pause for {self.pause_months} months instead of cancelling)"
        return f"{self.name} (switch to plan {self.plan_code})"


def build_offer(code: str, name: str, *, kind: OfferKind, created_at: datetime, coupon_code: str | None = None,
                pause_months: int | None = None, plan_code: str | None = None) -> RetentionOffer:
    code = code.strip().upper()
    if not CODE.match(code):
        raise InvalidOffer(f"offer code {code!r} must be 3-40 letters, digits, '-' or '_'")
    if not name.strip():
        raise InvalidOffer("an offer needs a name the customer can read")
    wanted = {OfferKind.DISCOUNT: ("--coupon", coupon_code), OfferKind.PAUSE: ("--pause-months", pause_months),
              OfferKind.SWITCH_PLAN: ("--plan", plan_code)}
    option, value = wanted[kind]
    if value in (None, ""):
        raise InvalidOffer(f"a {kind.value} offer needs {option}")
    others = [opt for k, (opt, v) in wanted.items() if k is not kind and v not in (None, "")]
    if others:
        raise InvalidOffer(f"a {kind.value} offer takes {option} only, not {', '.join(others)}")
    if kind is OfferKind.PAUSE and not 1 <= int(pause_months or 0) <= 6:
        raise InvalidOffer(f"a pause lasts 1 to 6 months, not {pause_months}")
    return RetentionOffer(code, name.strip(), kind, created_at,
                          coupon_code=coupon_code.strip().upper() if coupon_code else None,
                          pause_months=pause_months, plan_code=plan_code.strip() if plan_code else None)


@dataclass(frozen=True, slots=True)
class RetentionDecision:
    id: str
    subscription_id: str
    customer_id: str
    offer_code: str
    accepted: bool
    decided_at: datetime
    detail: str
    resume_on: date | None = None
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class RetentionOfferDecided(ev.Event):
    name: ClassVar[str] = "retention.offer_decided"
    aggregate: ClassVar[str] = "subscription"

    customer_id: str
    offer_code: str
    accepted: bool
    detail: str


@dataclass(frozen=True, slots=True)
class SubscriptionWonBack(ev.Event):
    """A customer whose subscription ended for non-payment paid what was due and came back."""

    name: ClassVar[str] = "subscription.won_back"
    aggregate: ClassVar[str] = "subscription"

    customer_id: str
    previous_subscription_id: str
    offer_code: str | None
