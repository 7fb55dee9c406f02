"""VAT: which treatment applies to a sale, at which rate, and the invoice's VAT breakdown (EN 16931 BG-23).

Who sells to whom decides the treatment (:func:`decide`): domestic, one-stop shop (EU consumers at their
country's rate), reverse charge (EU businesses with a VAT ID), export (customers outside the EU) or
small business (§ 19 UStG, no VAT at all). Rates come from :data:`RATES`, dated rows per member state.

Rounding happens once per rate category, never per line. EN 16931 takes the VAT of a category from the
sum of its line nets (BT-116 x BT-119 = BT-117), so the breakdown can be recomputed from the lines:

- prices without tax: the line nets are the amounts; group tax = sum of the nets x rate, rounded once.
- prices with tax (German consumers see gross prices): the group gross is the sum of the amounts and is
  kept exactly; the tax in it, gross x rate / (1 + rate), is rounded once and group net = gross - tax. A
  9.99 EUR price is therefore 9.99 EUR on the invoice whatever the customer's country rate. The group net
  is then split over the lines in proportion to their amounts so the line nets sum exactly to it.
  The tax is the figure that is rounded, so an exact tie (net and tax both ending in half a cent, possible
  only at rates such as 20 % and 12 %) goes to the tax: 9.99 EUR at 20 % is VAT 1.665 -> 1.67, net 8.32.

Rounding is half up to the currency's minor unit, symmetric around zero (0.005 -> 0.01, -0.005 -> -0.01),
on the exact value: the inclusive division is done on fractions, so nothing is rounded twice. Negative
amounts (proration credits, discounts, credit notes) give exactly the negated figures of positive ones.

Facts (rates, notes, treatments) come from ``shared/domain/REFERENCE.md`` section 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from aboguard.errors import CurrencyMismatch, UnknownTaxRate
from aboguard.money import Money, check_currency

from .catalog import TaxCategory
from .countries import EU_COUNTRIES, is_country
from .customers import CustomerKind

__all__ = [
    "NOTES", "RATES", "RATES_FROM", "ZERO_RATED", "MerchantTax", "RateRow", "TaxDecision", "TaxGroup",
    "TaxResult", "TaxTreatment", "compute", "decide", "vat_rate",
]


class TaxTreatment(StrEnum):
    DOMESTIC = "domestic"  # customer in the merchant's country: merchant-country rates
    OSS = "oss"  # EU consumer (or EU business without VAT ID), merchant above the threshold: customer-country rates
    REVERSE_CHARGE = "reverse_charge"  # EU business with a VAT ID in another member state: 0 %, note
    EXPORT = "export"  # customer outside the EU: not taxable here, 0 %, note
    SMALL_BUSINESS = "small_business"  # merchant under § 19 UStG: no VAT at all, note


ZERO_RATED = frozenset({TaxTreatment.REVERSE_CHARGE, TaxTreatment.EXPORT, TaxTreatment.SMALL_BUSINESS})

# -- rates ------------------------------------------------------------------------------------------------


class RateRow(NamedTuple):
    country: str  # ISO 3166 code (Greece is GR here; EL is accepted on lookup)
    category: TaxCategory
    valid_from: date
    valid_to: date | None  # exclusive; None: still valid
    rate: Decimal  # a fraction: Decimal("0.19") is 19 %


# The first day the table is complete. The last standard-rate changes REFERENCE.md does not list took effect
# on 1 Jan 2024 (EE 20 -> 22 %, LU 16 -> 17 %), so rates before that day are not known here and are refused
# rather than guessed.
RATES_FROM = date(2024, 1, 1)

_STD, _RED = TaxCategory.STANDARD, TaxCategory.REDUCED


def _row(country: str, category: TaxCategory, percent: str, valid_from: date = RATES_FROM,
         valid_to: date | None = None) -> RateRow:
    return RateRow(country, category, valid_from, valid_to, Decimal(percent) / 100)


# Standard rates: REFERENCE.md 4.4 (TEDB-derived dataset, version 2026-09-23), with the dated changes of
# EE, FI, RO and SK. Reduced rates: the first "main reduced" rate REFERENCE.md lists per country, which it
# marks as indicative only -- a merchant selling reduced-rate goods to other member states must check them.
# Denmark has no reduced rate. RO's 11 % is the rate consolidated on 1 Aug 2025 and SK's 19 % came with the
# reform of 1 Jan 2025; earlier reduced rates of those two are not in the table.
RATES: tuple[RateRow, ...] = (
    _row("AT", _STD, "20"), _row("AT", _RED, "10"),
    _row("BE", _STD, "21"), _row("BE", _RED, "6"),
    _row("BG", _STD, "20"), _row("BG", _RED, "9"),
    _row("CY", _STD, "19"), _row("CY", _RED, "9"),
    _row("CZ", _STD, "21"), _row("CZ", _RED, "12"),
    _row("DE", _STD, "19"), _row("DE", _RED, "7"),
    _row("DK", _STD, "25"),
    _row("EE", _STD, "22", valid_to=date(2025, 7, 1)),
    _row("EE", _STD, "24", valid_from=date(2025, 7, 1)),
    _row("EE", _RED, "13"),
    _row("ES", _STD, "21"), _row("ES", _RED, "10"),
    _row("FI", _STD, "24", valid_to=date(2024, 9, 1)),
    _row("FI", _STD, "25.5", valid_from=date(2024, 9, 1)),
    _row("FI", _RED, "14"),
    _row("FR", _STD, "20"), _row("FR", _RED, "10"),
    _row("GR", _STD, "24"), _row("GR", _RED, "13"),
    _row("HR", _STD, "25"), _row("HR", _RED, "13"),
    _row("HU", _STD, "27"), _row("HU", _RED, "18"),
    _row("IE", _STD, "23"), _row("IE", _RED, "13.5"),
    _row("IT", _STD, "22"), _row("IT", _RED, "10"),
    _row("LT", _STD, "21"), _row("LT", _RED, "9"),
    _row("LU", _STD, "17"), _row("LU", _RED, "14"),
    _row("LV", _STD, "21"), _row("LV", _RED, "12"),
    _row("MT", _STD, "18"), _row("MT", _RED, "7"),
    _row("NL", _STD, "21"), _row("NL", _RED, "9"),
    _row("PL", _STD, "23"), _row("PL", _RED, "8"),
    _row("PT", _STD, "23"), _row("PT", _RED, "13"),
    _row("RO", _STD, "19", valid_to=date(2025, 8, 1)),
    _row("RO", _STD, "21", valid_from=date(2025, 8, 1)),
    _row("RO", _RED, "11", valid_from=date(2025, 8, 1)),
    _row("SE", _STD, "25"), _row("SE", _RED, "12"),
    _row("SI", _STD, "22"), _row("SI", _RED, "9.5"),
    _row("SK", _STD, "20", valid_to=date(2025, 1, 1)),
    _row("SK", _STD, "23", valid_from=date(2025, 1, 1)),
    _row("SK", _RED, "19", valid_from=date(2025, 1, 1)),
)

_ZERO = Decimal(0)


def _country(code: str) -> str:
    """Upper-case ISO code; Greece's VAT code EL is read as GR."""
    cc = code.strip().upper() if isinstance(code, str) else ""
    return "GR" if cc == "EL" else cc


def _category(value: TaxCategory | str) -> TaxCategory:
    try:
        return TaxCategory(value)
    except ValueError:
        raise UnknownTaxRate(f"unknown tax category {value!r}: use standard, reduced or exempt") from None


@lru_cache(maxsize=4096)
def vat_rate(country: str, category: TaxCategory, on: date) -> Decimal:
    """The VAT rate of an EU member state for ``category`` on the day ``on``: Decimal("0.19") for DE standard.

    EXEMPT is always 0. A country outside the EU, a day before :data:`RATES_FROM` or a category the country
    does not have (Denmark has no reduced rate) is ``UnknownTaxRate``.
    """
    cc = _country(country)
    if cc not in EU_COUNTRIES:
        raise UnknownTaxRate(f"no VAT rates for {country!r}: only the EU member states have rates here "
                             f"(two-letter codes such as DE, AT or EL)")
    category = _category(category)
    if category is TaxCategory.EXEMPT:
        return _ZERO
    if on < RATES_FROM:
        raise UnknownTaxRate(f"VAT rates before {RATES_FROM.isoformat()} are not in aboguard's table "
                             f"(asked for {cc} on {on.isoformat()})")
    for row in RATES:
        if row.country == cc and row.category is category and row.valid_from <= on \
                and (row.valid_to is None or on < row.valid_to):
            return row.rate
    if not any(row.country == cc and row.category is category for row in RATES):
        raise UnknownTaxRate(f"{cc} has no {category.value} VAT rate: sell this plan in the standard category "
                             f"to customers taxed in {cc}")
    raise UnknownTaxRate(f"no {category.value} VAT rate for {cc} on {on.isoformat()} in aboguard's table "
                         f"(reduced rates are indicative; check the rate and use the standard category)")


# -- treatment --------------------------------------------------------------------------------------------

NOTES: dict[TaxTreatment, tuple[str, str]] = {  # (German, English) note the invoice must carry
    TaxTreatment.REVERSE_CHARGE: ("Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge, § 13b UStG)",
                                  "Reverse charge: VAT is owed by the recipient (Article 196 VAT Directive)"),
    TaxTreatment.SMALL_BUSINESS: ("Gemäß § 19 UStG wird keine Umsatzsteuer berechnet.",
                                  "No VAT is charged under the small-business scheme (§ 19 UStG)."),
    TaxTreatment.EXPORT: ("Nicht im Inland steuerbare Leistung (Leistungsort außerhalb der EU)",
                          "Not subject to German VAT: place of supply outside the EU"),
}
# EN 16931 VAT category codes (UNCL 5305) of the zero-rated treatments.
_CODES = {TaxTreatment.REVERSE_CHARGE: "AE", TaxTreatment.EXPORT: "G", TaxTreatment.SMALL_BUSINESS: "E"}


@dataclass(frozen=True, slots=True)
class MerchantTax:
    country: str = "DE"
    vat_id: str | None = None
    small_business: bool = False  # § 19 UStG Kleinunternehmer
    oss: bool = True  # above the EUR 10,000 EU threshold: EU B2C at destination rates; False: home rates


@dataclass(frozen=True, slots=True)
class TaxDecision:
    """How one customer's invoices are taxed: the treatment, whose rates, and the note the invoice carries."""

    treatment: TaxTreatment
    country: str  # whose rates apply: the merchant's (domestic, home-rate B2C), the customer's (OSS)
    note_de: str | None  # the legally required note for the invoice, German (None: no note)
    note_en: str | None  # the same, English

    def rate(self, category: TaxCategory, on: date) -> Decimal:
        """The rate of ``category`` on ``on``; 0 for reverse charge, export, small business and EXEMPT."""
        if self.treatment in ZERO_RATED or category == TaxCategory.EXEMPT:
            return _ZERO
        return vat_rate(self.country, category, on)

    def code(self, category: TaxCategory) -> str:
        """EN 16931 VAT category code (UNCL 5305): S, AE (reverse charge), G (export), E (exempt, § 19)."""
        if category == TaxCategory.EXEMPT:
            return "E"
        return _CODES.get(self.treatment, "S")


def decide(merchant: MerchantTax, *, customer_kind: CustomerKind, customer_country: str,
           customer_vat_id: str | None) -> TaxDecision:
    """The treatment of sales from ``merchant`` to a customer (REFERENCE.md 4.4-4.6).

    Small business first (no VAT whoever buys); then domestic; an EU business with a VAT ID in another
    member state is reverse charge; other EU customers are taxed at their country's rates under OSS (or at
    the merchant's when ``merchant.oss`` is off); customers outside the EU are export. A blank or unknown
    customer country, or a merchant outside the EU, is ``UnknownTaxRate``.
    """
    home = _country(merchant.country)
    if home not in EU_COUNTRIES:
        raise UnknownTaxRate(f"merchant country {merchant.country!r} is not an EU member state: aboguard applies "
                             f"EU VAT rules only")
    cc = _country(customer_country)
    if cc not in EU_COUNTRIES and not is_country(cc):
        raise UnknownTaxRate(f"customer country {customer_country!r} is not an ISO 3166 two-letter code such as "
                             f"DE or AT; the VAT treatment depends on it")
    if merchant.small_business:
        return _with_note(TaxTreatment.SMALL_BUSINESS, home)
    if cc == home:
        return TaxDecision(TaxTreatment.DOMESTIC, home, None, None)
    if cc in EU_COUNTRIES:
        if CustomerKind(customer_kind) is CustomerKind.BUSINESS and (customer_vat_id or "").strip():
            return _with_note(TaxTreatment.REVERSE_CHARGE, cc)
        if merchant.oss:
            return TaxDecision(TaxTreatment.OSS, cc, None, None)
        return TaxDecision(TaxTreatment.DOMESTIC, home, None, None)
    return _with_note(TaxTreatment.EXPORT, cc)


def _with_note(treatment: TaxTreatment, country: str) -> TaxDecision:
    note_de, note_en = NOTES[treatment]
    return TaxDecision(treatment, country, note_de, note_en)


# -- breakdown --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxGroup:
    """One row of the invoice's VAT breakdown (EN 16931 BG-23), one per rate category present.

    Under a zero-rated treatment the STANDARD and REDUCED groups share code and rate; an e-invoice writer
    that needs one BG-23 per (code, rate) merges them.
    """

    category: TaxCategory
    code: str
    rate: Decimal
    net: Money
    tax: Money

    @property
    def gross(self) -> Money:
        return self.net + self.tax


@dataclass(frozen=True, slots=True)
class TaxResult:
    groups: tuple[TaxGroup, ...]  # ordered: standard, reduced, exempt (only categories present)
    line_nets: tuple[Money, ...]  # one per input amount, same order; sum per group == group.net exactly
    net: Money
    tax: Money
    total: Money  # == net + tax == sum of the groups' gross


_ORDER = (TaxCategory.STANDARD, TaxCategory.REDUCED, TaxCategory.EXEMPT)


def compute(amounts: Sequence[tuple[TaxCategory, Money]], decision: TaxDecision, *, on: date,
            prices_include_tax: bool, currency: str) -> TaxResult:
    """The VAT breakdown of an invoice's line amounts (see the module docstring for the rounding rules).

    ``amounts`` are (category, amount) per line, all in ``currency``, gross when ``prices_include_tax``
    and net otherwise; they may be negative. Under a zero rate the amounts are the nets, also when prices
    include tax.
    """
    cur = check_currency(currency)
    zero = Money.zero(cur)
    lines: list[tuple[TaxCategory, Money]] = []
    for category, amount in amounts:
        if amount.currency != cur:
            raise CurrencyMismatch(f"a line of {amount} cannot be on an invoice in {cur}")
        lines.append((_category(category), amount))
    nets = [zero] * len(lines)
    groups: list[TaxGroup] = []
    for category in _ORDER:
        members = [i for i, (cat, _) in enumerate(lines) if cat is category]
        if not members:
            continue
        rate = decision.rate(category, on)
        parts = [lines[i][1] for i in members]
        base = sum(parts, zero)
        if prices_include_tax and rate:  # base is the group gross
            tax = _tax_in(base, rate)
            group_net = base - tax
            line_nets = [group_net] if len(parts) == 1 else _line_nets(parts, rate)  # one line: its net is the group's
        else:  # base is the group net (under a zero rate also with prices that include tax)
            tax = base.multiply(rate)  # the exact product, rounded once, half away from zero
            group_net, line_nets = base, parts
        for i, line_net in zip(members, line_nets, strict=True):
            nets[i] = line_net
        groups.append(TaxGroup(category, decision.code(category), rate, group_net, tax))
    net = sum((g.net for g in groups), zero)
    tax = sum((g.tax for g in groups), zero)
    return TaxResult(tuple(groups), tuple(nets), net, tax, net + tax)


def _round_half_up(value: Fraction) -> int:
    """``value`` to the nearest integer, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    whole = (2 * abs(value.numerator) + value.denominator) // (2 * value.denominator)
    return -whole if value < 0 else whole


def _tax_in(gross: Money, rate: Decimal) -> Money:
    """The VAT contained in ``gross``: gross x rate / (1 + rate), computed exactly and rounded once, half up."""
    return Money(_round_half_up(gross.minor * _share(rate)), gross.currency)


@lru_cache(maxsize=64)
def _share(rate: Decimal) -> Fraction:
    """rate / (1 + rate), exactly (cached: a billing run asks for the same few rates a million times)."""
    return Fraction(rate) / (1 + Fraction(rate))


def _line_nets(grosses: Sequence[Money], rate: Decimal) -> list[Money]:
    """Nets of one group's gross line amounts, summing exactly to the group net (their sum minus its tax).

    Lines of the same sign share their side's net in proportion to their amounts (``Money.allocate``).
    With both signs in one group (a charge and a proration credit), each side needs its own net: the
    side with the smaller absolute sum gets its own net (its gross minus the tax in it), the other
    side the rest of the group net. Choosing by size, not by sign, keeps the result symmetric: negating
    every amount negates every net. Every line net is less than two minor units from gross / (1 + rate)
    and never of the opposite sign to its amount.
    """
    zero = Money.zero(grosses[0].currency)
    total = sum(grosses, zero)
    group_net = total - _tax_in(total, rate)
    plus = [i for i, g in enumerate(grosses) if g.is_positive()]
    minus = [i for i, g in enumerate(grosses) if g.is_negative()]
    plus_gross = sum((grosses[i] for i in plus), zero)
    minus_gross = sum((grosses[i] for i in minus), zero)
    if abs(plus_gross) <= abs(minus_gross):
        plus_net = plus_gross - _tax_in(plus_gross, rate)
        minus_net = group_net - plus_net
    else:
        minus_net = minus_gross - _tax_in(minus_gross, rate)
        plus_net = group_net - minus_net
    nets = [zero] * len(grosses)
    for side, side_net in ((plus, plus_net), (minus, minus_net)):
        if side:
            for i, part in zip(side, side_net.allocate([abs(grosses[i].minor) for i in side]), strict=True):
                nets[i] = part
    return nets
