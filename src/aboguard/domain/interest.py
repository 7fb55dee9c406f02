"""Default under German law: when it starts (§ 286 BGB), what it costs (§§ 288, 289 BGB), how money is applied (§ 367).

Facts come from ``shared/domain/REFERENCE.md`` sections 2.1-2.3.

**Base rate** (Basiszinssatz, § 247 BGB): a dated table (:class:`BaseRateTable`), changed by the Bundesbank on
1 January and 1 July. :data:`DEFAULT_BASE_RATES` holds the values from the reference; merchants load their own
from TOML (:meth:`BaseRateTable.from_toml`) or add a new half-year with :meth:`BaseRateTable.with_rate`. There
is no "current rate": every figure is looked up for a day.

**Interest** (:func:`default_interest`): base rate + 5 percentage points when a consumer is involved
(§ 288 (1)), + 9 pp between businesses (§ 288 (2)), per annum, day count actual/365 (a leap year still divides
by 365, as the common calculators do). The period is split at every base-rate change; no segment is rounded to
the cent, and the total is their exact (rational) sum rounded once, half up, to the minor unit. Simple
interest on the principal only: never on interest or costs (§ 289).

**Day convention** (the one place where an off-by-one costs money):

- A period is ``[start, end)``: interest is owed for every day from ``start`` (inclusive) to ``end``
  (exclusive), so the number of days is ``(end - start).days``. 2025-06-01 -> 2025-06-02 is one day.
- ``start`` is the first day of interest, which :func:`default_starts_on` returns: always the day after
  the event that puts the debtor in default (§ 187 (1) BGB: the day of the event does not count).

  ===================================  ==========================================  ===================
  trigger                              event                                       first interest day
  ===================================  ==========================================  ===================
  due date fixed by the calendar       the due date ``due_on`` (§ 286 (2) Nr. 1)    ``due_on + 1``
  dunning letter after the due date    the day the letter is sent (§ 286 (1))       ``sent + 1``
  30-day rule (§ 286 (3))              day 30 after ``max(due_on, receipt)``        ``max(...) + 31``
  ===================================  ==========================================  ===================

  The 30 days run from the day after due date and receipt (§ 187 (1)) and end with the 30th day
  (§ 188 (1)); payment on that day is still in time, so an invoice due and received on 1 March puts the
  debtor in default from 1 April, and interest is owed from 1 April.
- A dunning letter counts as received on the day it is sent (e-mail). Only a letter sent strictly after
  the due date counts: a reminder before (or on) the due date does not put anyone in default.

**Payments** (:func:`allocate_payment`): § 367 (1) BGB, costs first, then interest, then the principal.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Context, Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from typing import Any

from aboguard.errors import CurrencyMismatch, InvalidDate, InvalidInput
from aboguard.money import Money, check_currency, exponent

__all__ = [
    "BUSINESS_FLAT_FEE", "BUSINESS_MARGIN", "CONSUMER_MARGIN", "DAYS_PER_YEAR", "DEFAULT_BASE_RATES",
    "MAX_BASE_RATE", "MIN_BASE_RATE", "Allocation", "BaseRate", "BaseRateTable", "Claim", "ClaimKind",
    "InterestCalculation", "InterestSegment", "allocate_payment", "business_flat_fee", "default_interest",
    "default_starts_on",
]

CONSUMER_MARGIN = Decimal("0.05")  # § 288 (1) BGB: 5 percentage points above the base rate
BUSINESS_MARGIN = Decimal("0.09")  # § 288 (2) BGB: 9 percentage points, no consumer involved
BUSINESS_FLAT_FEE = Decimal("40.00")  # § 288 (5) BGB, in euro
DAYS_PER_YEAR = 365  # actual/365, also in leap years
THIRTY_DAY_RULE = 30  # § 286 (3) BGB

# Plausibility bounds for a base rate (as a fraction). The Basiszinssatz has stayed between -0.88 % and
# 6.17 % since it was introduced; the bounds catch a percent or basis-point figure given as a fraction.
MIN_BASE_RATE = Decimal("-0.10")
MAX_BASE_RATE = Decimal("0.20")

_ZERO = Decimal(0)
_DAY = timedelta(days=1)
_HUNDRED = Decimal(100)


# -- the base rate table -----------------------------------------------------------------------------------


def _check_day(value: object, what: str) -> date:
    """A calendar date; a datetime (a date subclass that does not compare with dates) is refused."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidDate(f"{what} must be a calendar date (YYYY-MM-DD), not {value!r}")
    return value


def _check_rate(rate: object, valid_from: object) -> Decimal:
    if isinstance(rate, bool) or not isinstance(rate, Decimal) or not rate.is_finite():
        raise InvalidInput(f"the base rate from {valid_from} must be a finite Decimal fraction "
                           f"(Decimal('0.0127') for 1.27 %), not {rate!r}")
    if not MIN_BASE_RATE <= rate <= MAX_BASE_RATE:
        raise InvalidInput(f"the base rate from {valid_from} would be {_percent(rate)}: a base rate lies between "
                           f"{_percent(MIN_BASE_RATE)} and {_percent(MAX_BASE_RATE)} (as a fraction: "
                           "Decimal('0.0127') for 1.27 %)")
    return rate


@dataclass(frozen=True, slots=True)
class BaseRate:
    """The base rate valid from ``valid_from`` until the next entry of the table."""

    valid_from: date
    rate: Decimal  # per annum as a fraction: Decimal("0.0127") for 1.27 %

    def __post_init__(self) -> None:
        _check_day(self.valid_from, "the first day of a base rate")
        _check_rate(self.rate, self.valid_from)


@dataclass(frozen=True, slots=True)
class BaseRateTable:
    """Base rates by the day they take effect. Kept sorted by ``valid_from``; two entries for one day are refused.

    An entry is valid from its ``valid_from`` up to the day before the next entry; the last one stays valid
    until a new one is added. A day before the first entry has no rate (``InvalidInput``).
    """

    rates: tuple[BaseRate, ...]

    def __post_init__(self) -> None:
        if isinstance(self.rates, str | bytes) or not isinstance(self.rates, Sequence):
            raise InvalidInput(f"a base rate table takes a sequence of BaseRate, not {self.rates!r}")
        for entry in self.rates:
            if not isinstance(entry, BaseRate):
                raise InvalidInput(f"a base rate table takes BaseRate entries, not {entry!r}")
        rates = tuple(sorted(self.rates, key=lambda r: r.valid_from))
        for earlier, later in pairwise(rates):
            if earlier.valid_from == later.valid_from:
                raise InvalidInput(f"the base rate table has two rates from {later.valid_from} "
                                   f"({_percent(earlier.rate)} and {_percent(later.rate)}): keep one")
        object.__setattr__(self, "rates", rates)

    def rate_on(self, day: date) -> Decimal:
        """The base rate valid on ``day``; ``InvalidInput`` before the first entry (or for an empty table)."""
        _check_day(day, "the day of a base rate")
        found: Decimal | None = None
        for entry in self.rates:
            if entry.valid_from > day:
                break
            found = entry.rate
        if found is None:
            first = f"the table starts on {self.rates[0].valid_from}" if self.rates else "the table is empty"
            raise InvalidInput(f"no base rate is known for {day}: {first}")
        return found

    def changes_between(self, start: date, end: date) -> list[date]:
        """The days in ``(start, end)`` on which the rate changes, in order (an entry repeating the rate before
        it, such as 1 Jan 2026 at an unchanged 1.27 %, is no change)."""
        days: list[date] = []
        previous: Decimal | None = None
        for entry in self.rates:
            if start < entry.valid_from < end and entry.rate != previous:
                days.append(entry.valid_from)
            previous = entry.rate
        return days

    def with_rate(self, valid_from: date, rate: Decimal) -> BaseRateTable:
        """A copy with ``rate`` valid from ``valid_from``: an entry for that day is replaced, else one is added."""
        new = BaseRate(valid_from, rate)
        return BaseRateTable((*(r for r in self.rates if r.valid_from != valid_from), new))

    @classmethod
    def from_toml(cls, text: str) -> BaseRateTable:
        """Read a table written as TOML, one ``[[rate]]`` per entry, the rate in percent as a string::

            [[rate]]
            valid_from = 2025-07-01
            rate = "1.27"        # percent: 1.27 % (also "-0.88", "1,27" or "1.27 %")

        The date may be a TOML date or a quoted ISO date. A float rate (``rate = 1.27``) is refused: binary
        floats are inexact, so quote it. Unknown keys, duplicate days, implausible rates and an empty table are
        ``InvalidInput`` naming the entry; nothing is read from a text with an error in it.
        """
        if not isinstance(text, str):
            raise InvalidInput(f"a base rate table is read from TOML text, not {type(text).__name__}")
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"the base rate table is not valid TOML: {exc}") from None
        extra = sorted(set(doc) - {"rate"})
        if extra:
            raise InvalidInput(f"the base rate table has unknown keys {', '.join(extra)}: write each entry as a "
                               "[[rate]] table with valid_from and rate")
        entries = doc.get("rate")
        if entries is None:
            raise InvalidInput("the base rate table has no rates: add [[rate]] tables with valid_from and rate")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise InvalidInput("'rate' must be an array of tables: write each entry as [[rate]] with valid_from "
                               "and rate")
        rates = [_rate_from_toml(number, entry) for number, entry in enumerate(entries, start=1)]
        if not rates:
            raise InvalidInput("the base rate table has no rates: add [[rate]] tables with valid_from and rate")
        return cls(tuple(rates))


def _rate_from_toml(number: int, entry: dict[str, Any]) -> BaseRate:
    where = f"base rate entry {number}"
    extra = sorted(set(entry) - {"valid_from", "rate"})
    if extra:
        raise InvalidInput(f"{where} has unknown keys {', '.join(extra)}: only valid_from and rate are allowed")
    missing = [key for key in ("valid_from", "rate") if key not in entry]
    if missing:
        raise InvalidInput(f"{where} has no {' and no '.join(missing)}")
    raw_day, raw_rate = entry["valid_from"], entry["rate"]
    if isinstance(raw_day, str):
        try:
            raw_day = date.fromisoformat(raw_day.strip())
        except ValueError:
            raise InvalidInput(f"{where}: valid_from {entry['valid_from']!r} is not a date like 2026-01-01") from None
    if not isinstance(raw_day, date) or isinstance(raw_day, datetime):
        raise InvalidInput(f"{where}: valid_from must be a date like 2026-01-01, not {raw_day!r}")
    where = f"{where} (from {raw_day})"
    if isinstance(raw_rate, float):
        raise InvalidInput(f"{where}: write the rate as a quoted percent string, rate = \"{raw_rate}\" "
                           "(a float is inexact)")
    if isinstance(raw_rate, bool) or not isinstance(raw_rate, str | int):
        raise InvalidInput(f"{where}: the rate must be a percent string like \"1.27\", not {raw_rate!r}")
    percent = _parse_percent(str(raw_rate), where)
    if not MIN_BASE_RATE <= percent / _HUNDRED <= MAX_BASE_RATE:
        raise InvalidInput(f"{where}: rate {raw_rate!r} is {percent.normalize():f} %, not a plausible base rate "
                           f"(between {_percent(MIN_BASE_RATE)} and {_percent(MAX_BASE_RATE)}; "
                           "write percent, \"1.27\" for 1.27 %)")
    return BaseRate(raw_day, percent / _HUNDRED)


def _parse_percent(text: str, where: str) -> Decimal:
    cleaned = text.strip().removesuffix("%").strip()
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not cleaned:
        raise InvalidInput(f"{where}: the rate {text!r} is not a percent figure like \"1.27\" or \"-0.88\"")
    return value


def _percent(rate: Decimal) -> str:
    return f"{(rate * _HUNDRED).normalize():f} %"


def _table(*rows: tuple[date, str]) -> BaseRateTable:
    return BaseRateTable(tuple(BaseRate(day, Decimal(percent) / _HUNDRED) for day, percent in rows))


# REFERENCE 2.3. The 2026-07-01 figure is from two third-party sources only (not yet confirmed from the
# Bundesbank): merchants can correct it with BaseRateTable.with_rate or their own TOML table.
DEFAULT_BASE_RATES: BaseRateTable = _table(
    (date(2016, 7, 1), "-0.88"),
    (date(2023, 1, 1), "1.62"),
    (date(2023, 7, 1), "3.12"),
    (date(2024, 1, 1), "3.62"),
    (date(2024, 7, 1), "3.37"),
    (date(2025, 1, 1), "2.27"),
    (date(2025, 7, 1), "1.27"),
    (date(2026, 1, 1), "1.27"),
    (date(2026, 7, 1), "1.52"),
)


# -- default interest --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InterestSegment:
    """Interest for the days ``[start, end)`` at one base rate."""

    start: date
    end: date  # exclusive
    days: int
    base_rate: Decimal
    rate: Decimal  # base rate + margin, floored at 0
    amount: Decimal  # principal x rate x days / 365 in currency units, unrounded (see default_interest)


@dataclass(frozen=True, slots=True)
class InterestCalculation:
    principal: Money
    start: date
    end: date  # exclusive
    consumer: bool
    segments: tuple[InterestSegment, ...]
    total: Money  # the exact sum of the segments, rounded once ROUND_HALF_UP to the minor unit

    @property
    def days(self) -> int:
        return sum(s.days for s in self.segments)

    @property
    def margin(self) -> Decimal:
        return CONSUMER_MARGIN if self.consumer else BUSINESS_MARGIN


def default_interest(principal: Money, start: date, end: date, *, consumer: bool,
                     table: BaseRateTable = DEFAULT_BASE_RATES) -> InterestCalculation:
    """Default interest under § 288 BGB on ``principal`` for the days ``[start, end)``.

    ``start`` is the first day of default (inclusive, as :func:`default_starts_on` returns it), ``end`` the
    first day not counted (the day of payment, or today for interest accrued so far). The yearly rate is the
    base rate of each day + 5 pp (``consumer``) or + 9 pp (business); each day earns rate / 365 of the
    principal, also in leap years (actual/365). The period is split into one segment per base rate.

    A base rate so negative that base + margin is below zero gives a rate of 0, never negative interest
    (a creditor never owes the debtor for the debtor's default); the segment shows the true base rate.

    Simple interest on the principal only (§ 289: no interest on interest); compounding is the caller's
    mistake if it passes accrued interest as principal. ``end <= start`` or a zero or negative principal
    gives no segments and a zero total. A day before the table's first entry is ``InvalidInput``.

    Exactness: a segment's ``amount`` is computed without rounding; when dividing by 365 does not terminate
    it carries at least 30 significant digits beyond the integer part. ``total`` is rounded once, half up, from
    the exact rational sum of the segments, so it never depends on those digits.
    """
    if not isinstance(principal, Money):
        raise InvalidInput(f"interest is computed on Money, not {principal!r}")
    _check_day(start, "the first day of interest")
    _check_day(end, "the end of the interest period")
    if not isinstance(consumer, bool):
        raise InvalidInput(f"consumer must be True or False, not {consumer!r}")
    if not isinstance(table, BaseRateTable):
        raise InvalidInput(f"table must be a BaseRateTable, not {table!r}")
    zero = Money.zero(principal.currency)
    if end <= start or not principal.is_positive():
        return InterestCalculation(principal, start, end, consumer, (), zero)
    margin = CONSUMER_MARGIN if consumer else BUSINESS_MARGIN
    major = principal.to_decimal()
    bounds = [start, *table.changes_between(start, end), end]
    segments: list[InterestSegment] = []
    exact_total = Fraction(0)
    for seg_start, seg_end in pairwise(bounds):
        days = (seg_end - seg_start).days
        base = table.rate_on(seg_start)
        rate = max(_ZERO, base + margin)
        exact = Fraction(major) * Fraction(rate) * days / DAYS_PER_YEAR
        exact_total += exact
        segments.append(InterestSegment(seg_start, seg_end, days, base, rate, _to_decimal(exact)))
    total = Money(_round_half_up(exact_total * 10 ** exponent(principal.currency)), principal.currency)
    return InterestCalculation(principal, start, end, consumer, tuple(segments), total)


def _round_half_up(value: Fraction) -> int:
    """``value`` (minor units) to the nearest integer, halves away from zero."""
    magnitude = (abs(value.numerator) * 2 + value.denominator) // (value.denominator * 2)
    return -magnitude if value < 0 else magnitude


def _to_decimal(value: Fraction) -> Decimal:
    """A fraction as a Decimal: exact when it terminates, else to 30+ digits beyond the integer part."""
    numerator, denominator = Decimal(value.numerator), Decimal(value.denominator)
    ctx = Context(prec=len(str(abs(value.numerator))) + 30)
    return ctx.divide(numerator, denominator).normalize(ctx)


def business_flat_fee(currency: str) -> Money:
    """The § 288 (5) BGB flat fee of EUR 40 per claim against a business in default.

    The amount is fixed in euro; for a claim in any other currency there is no statutory figure, so the
    call is ``InvalidInput`` (an unknown code is ``UnknownCurrency``). Consumers never owe it.
    """
    code = check_currency(currency)
    if code != "EUR":
        raise InvalidInput(f"the § 288 (5) BGB flat fee is EUR {BUSINESS_FLAT_FEE}; it does not exist for {code} "
                           "claims")
    return Money.from_decimal(BUSINESS_FLAT_FEE, code)


# -- when default starts -----------------------------------------------------------------------------------


def default_starts_on(due_on: date, *, consumer: bool, first_dunning_on: date | None = None,
                      invoice_received_on: date | None = None, invoice_states_30_day_rule: bool = False,
                      due_date_fixed_by_calendar: bool = False) -> date | None:
    """The first day of default interest for a claim due on ``due_on``, or None if nothing puts the debtor in default.

    Always the day AFTER the event that causes default (§ 187 (1) BGB); the earliest trigger that applies wins:

    - ``due_date_fixed_by_calendar`` (§ 286 (2) Nr. 1, e.g. "monthly in advance on the 1st"): ``due_on + 1``.
    - ``first_dunning_on`` strictly after ``due_on`` (§ 286 (1); a letter is taken as received the day it is
      sent): ``first_dunning_on + 1``. A reminder on or before the due date is ignored: it cannot cause default.
    - the 30-day rule (§ 286 (3)): ``max(due_on, receipt) + 31``, i.e. the day after the 30th day after due
      date and receipt of the invoice. For a business, receipt defaults to ``due_on`` when unknown (the
      statute falls back to receipt of the performance, which aboguard takes to be no later than the due
      date). For a consumer only when ``invoice_states_30_day_rule`` (the invoice pointed out the
      consequence) and ``invoice_received_on`` is known; the fallback for an unknown receipt is for
      businesses only.

    The date may lie in the future (the 30-day rule, a calendar date not reached yet): the debtor is in
    default only from that day on; compare it with today. A serious and final refusal (§ 286 (2) Nr. 3) is
    not a date this function can know.
    """
    _check_day(due_on, "the due date")
    if not isinstance(consumer, bool):
        raise InvalidInput(f"consumer must be True or False, not {consumer!r}")
    candidates: list[date] = []
    if due_date_fixed_by_calendar:
        candidates.append(due_on + _DAY)
    if first_dunning_on is not None:
        _check_day(first_dunning_on, "the day of the first dunning letter")
        if first_dunning_on > due_on:
            candidates.append(first_dunning_on + _DAY)
    if invoice_received_on is not None:
        _check_day(invoice_received_on, "the day the invoice was received")
    if not consumer or invoice_states_30_day_rule:
        received = invoice_received_on if invoice_received_on is not None else (None if consumer else due_on)
        if received is not None:
            candidates.append(max(due_on, received) + timedelta(days=THIRTY_DAY_RULE + 1))
    return min(candidates, default=None)


# -- applying a payment (§ 367 BGB) ------------------------------------------------------------------------


class ClaimKind(StrEnum):
    COSTS = "costs"
    INTEREST = "interest"
    PRINCIPAL = "principal"


_ORDER = {ClaimKind.COSTS: 0, ClaimKind.INTEREST: 1, ClaimKind.PRINCIPAL: 2}


@dataclass(frozen=True, slots=True)
class Claim:
    """Something a debtor owes: ``open`` is what is still unpaid of it."""

    id: str
    kind: ClaimKind
    open: Money
    due_on: date


@dataclass(frozen=True, slots=True)
class Allocation:
    claim_id: str
    kind: ClaimKind
    amount: Money


def allocate_payment(amount: Money, claims: Sequence[Claim]) -> tuple[list[Allocation], Money]:
    """Apply ``amount`` to ``claims`` per § 367 (1) BGB: all costs first, then all interest, then principal.

    Within one kind the oldest claim goes first (``due_on``, then ``id``; for several principal claims this
    is the "older debt first" rule of § 366 (2)). Each claim gets at most its open amount. Returns the
    allocations (one per claim that receives something, in the order applied) and the surplus, the part of
    ``amount`` no claim took (zero or positive); the allocations always sum to ``amount - surplus``.

    All amounts must be in the currency of ``amount`` (``CurrencyMismatch``), none negative, and claim ids
    unique (``InvalidInput``).
    """
    if not isinstance(amount, Money):
        raise InvalidInput(f"a payment is Money, not {amount!r}")
    if amount.is_negative():
        raise InvalidInput(f"a payment to allocate cannot be negative: {amount}")
    if isinstance(claims, str | bytes) or not isinstance(claims, Sequence):
        raise InvalidInput(f"claims must be a sequence of Claim, not {claims!r}")
    seen: set[str] = set()
    for claim in claims:
        if not isinstance(claim, Claim):
            raise InvalidInput(f"claims must be Claim values, not {claim!r}")
        if not isinstance(claim.kind, ClaimKind):
            raise InvalidInput(f"claim {claim.id!r} has an unknown kind {claim.kind!r}")
        _check_day(claim.due_on, f"the due date of claim {claim.id!r}")
        if claim.open.currency != amount.currency:
            raise CurrencyMismatch(f"claim {claim.id!r} is in {claim.open.currency}; the payment is in "
                                   f"{amount.currency}")
        if claim.open.is_negative():
            raise InvalidInput(f"claim {claim.id!r} has a negative open amount {claim.open}")
        if claim.id in seen:
            raise InvalidInput(f"claim {claim.id!r} appears twice")
        seen.add(claim.id)
    left = amount
    allocations: list[Allocation] = []
    for claim in sorted(claims, key=lambda c: (_ORDER[c.kind], c.due_on, c.id)):
        if left.is_zero():
            break
        share = min(left, claim.open)
        if share.is_positive():
            allocations.append(Allocation(claim.id, claim.kind, share))
            left -= share
    return allocations, left
