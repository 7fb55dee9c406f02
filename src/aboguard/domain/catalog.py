"""Products, plans and their price versions, with the contract terms a plan carries.

A plan's price and terms live in immutable :class:`PlanVersion` values. Changing a price creates a new
version; subscriptions point at the version they signed up for and keep it. Consumer plans are checked
against § 309 Nr. 9 BGB: at most 24 months minimum term, at most one month notice, and after the first
term the contract runs on indefinitely (no tacit renewal for another fixed term).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from aboguard.errors import InvalidInput, InvalidPlan
from aboguard.ids import PlanId, PlanVersionId, ProductId
from aboguard.money import Money

from .periods import Interval, Period, add_months

CONSUMER_MAX_MIN_TERM_MONTHS = 24
E = TypeVar("E", bound=StrEnum)
CONSUMER_MAX_NOTICE_DAYS = 30


class TaxCategory(StrEnum):
    STANDARD = "standard"
    REDUCED = "reduced"
    EXEMPT = "exempt"


class Audience(StrEnum):
    CONSUMER = "consumer"
    BUSINESS = "business"


class PaymentMethodKind(StrEnum):
    CARD = "card"
    PAYPAL = "paypal"
    SEPA_DEBIT = "sepa_debit"
    BANK_TRANSFER = "bank_transfer"


class RenewalMode(StrEnum):
    INDEFINITE = "indefinite"  # after the minimum term: runs on, cancellable at any time with notice
    FIXED_TERM = "fixed_term"  # business only: renews for another renewal term unless cancelled in time


def parse_enum(kind: type[E], value: str, what: str, error: type[InvalidInput] = InvalidPlan) -> E:
    try:
        return kind(value.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise error(f"unknown {what} {value!r}: use one of {allowed}") from None


@dataclass(frozen=True, slots=True)
class Terms:
    """What the customer agrees to about duration and cancellation."""

    min_term_months: int = 0
    notice_days: int = 0
    renewal: RenewalMode = RenewalMode.INDEFINITE
    renewal_term_months: int = 0  # only for FIXED_TERM

    def min_term_end(self, paid_start: date) -> date | None:
        """First day after the minimum term that starts on ``paid_start`` (None without a minimum term)."""
        return add_months(paid_start, self.min_term_months) if self.min_term_months else None

    def term_end_on_or_after(self, paid_start: date, day: date) -> date:
        """For fixed terms: the first term boundary (end of minimum term, then every renewal term) >= day.

        Every boundary is counted from ``paid_start`` so a month-end start stays on the month end
        (31 Jan -> 28 Feb -> 31 Mar), rather than drifting from a clamped earlier boundary.
        """
        first = self.min_term_months
        step = self.renewal_term_months or self.min_term_months or 1
        n = 0
        while (candidate := add_months(paid_start, first + n * step)) < day:
            n += 1
        return candidate

    def cancellation_deadline(self, term_end: date) -> date:
        """The last day a cancellation can arrive to end the contract on ``term_end``."""
        return term_end - timedelta(days=self.notice_days)


@dataclass(frozen=True, slots=True)
class Product:
    id: ProductId
    code: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlanVersion:
    id: PlanVersionId
    plan_id: PlanId
    number: int
    price: Money
    interval: Interval
    trial_days: int
    setup_fee: Money | None
    tax_category: TaxCategory
    tax_inclusive: bool
    terms: Terms
    payment_methods: frozenset[PaymentMethodKind]
    created_at: datetime

    def daily_rate(self) -> float:
        """Price per average day, only to tell an upgrade from a downgrade."""
        return self.price.minor / self.interval.approx_days()

    def trial_period(self, start: date) -> Period | None:
        return Period(start, start + timedelta(days=self.trial_days)) if self.trial_days else None


@dataclass(frozen=True, slots=True)
class Plan:
    id: PlanId
    code: str
    name: str
    product_id: ProductId
    audience: Audience
    current: PlanVersion
    created_at: datetime
    active: bool = True
    versions: tuple[PlanVersion, ...] = field(default=())
    terms_code: str | None = None  # the terms document (AGB) that applies; the version in force at acceptance counts


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """A price and its terms as asked for, before validation."""

    price: Money
    interval: Interval
    audience: Audience = Audience.CONSUMER
    trial_days: int = 0
    setup_fee: Money | None = None
    tax_category: TaxCategory = TaxCategory.STANDARD
    tax_inclusive: bool | None = None  # default: gross for consumers, net for businesses
    terms: Terms = Terms()
    payment_methods: frozenset[PaymentMethodKind] = frozenset(PaymentMethodKind)


def validate_code(code: str) -> str:
    code = code.strip()
    if not code or len(code) > 64 or not all(c.isalnum() or c in "-_." for c in code):
        raise InvalidPlan(f"plan code {code!r} must be 1-64 letters, digits, '-', '_' or '.'")
    return code


def build_version(spec: PlanSpec, *, version_id: PlanVersionId, plan_id: PlanId, number: int,
                  created_at: datetime) -> PlanVersion:
    """Validate ``spec`` and turn it into an immutable plan version."""
    _check_price(spec)
    _check_terms(spec.terms, spec.audience)
    if not spec.payment_methods:
        raise InvalidPlan("a plan must allow at least one payment method")
    inclusive = spec.audience is Audience.CONSUMER if spec.tax_inclusive is None else spec.tax_inclusive
    return PlanVersion(
        id=version_id, plan_id=plan_id, number=number, price=spec.price, interval=spec.interval,
        trial_days=spec.trial_days, setup_fee=spec.setup_fee, tax_category=spec.tax_category,
        tax_inclusive=inclusive, terms=spec.terms, payment_methods=frozenset(spec.payment_methods),
        created_at=created_at,
    )


def _check_price(spec: PlanSpec) -> None:
    if spec.price.is_negative():
        raise InvalidPlan(f"price must not be negative, got {spec.price}")
    if spec.setup_fee is not None:
        if spec.setup_fee.currency != spec.price.currency:
            raise InvalidPlan(f"setup fee currency {spec.setup_fee.currency} differs from price currency "
                              f"{spec.price.currency}")
        if spec.setup_fee.is_negative():
            raise InvalidPlan(f"setup fee must not be negative, got {spec.setup_fee}")
    if not 0 <= spec.trial_days <= 365:
        raise InvalidPlan(f"trial days must be between 0 and 365, got {spec.trial_days}")


def _check_terms(terms: Terms, audience: Audience) -> None:
    if terms.min_term_months < 0 or terms.notice_days < 0 or terms.renewal_term_months < 0:
        raise InvalidPlan("minimum term, notice period and renewal term must not be negative")
    if terms.renewal is RenewalMode.FIXED_TERM and not (terms.renewal_term_months or terms.min_term_months):
        raise InvalidPlan("a fixed-term renewal needs a renewal term or a minimum term in months")
    if audience is not Audience.CONSUMER:
        return
    if terms.min_term_months > CONSUMER_MAX_MIN_TERM_MONTHS:
        raise InvalidPlan(f"consumer plans may bind for at most {CONSUMER_MAX_MIN_TERM_MONTHS} months "
                          f"(§ 309 Nr. 9 BGB), got {terms.min_term_months}")
    if terms.notice_days > CONSUMER_MAX_NOTICE_DAYS:
        raise InvalidPlan(f"consumer plans may ask for at most one month ({CONSUMER_MAX_NOTICE_DAYS} days) "
                          f"notice (§ 309 Nr. 9 BGB), got {terms.notice_days} days")
    if terms.renewal is RenewalMode.FIXED_TERM:
        raise InvalidPlan("consumer plans may not renew for another fixed term; after the minimum term they "
                          "run on indefinitely, cancellable with at most one month notice (§ 309 Nr. 9 BGB)")
