"""VAT: which treatment applies to a customer, at which rate, and the invoice's VAT breakdown.

EN 16931 computes VAT once per rate category on the sum of the line nets (BG-23), not per line, so the
breakdown is reproducible from the lines. With tax-inclusive prices the group gross is fixed (what the
customer was shown), VAT is taken out of it once, and the line nets are the group net allocated over
the lines: a 9.99 EUR gross price stays 9.99 EUR whatever the customer's country rate.
Facts (rates, notes) from ``shared/domain/REFERENCE.md`` section 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from aboguard.errors import UnknownTaxRate
from aboguard.money import Money, round_to_minor

from .catalog import TaxCategory
from .countries import EU_COUNTRIES, is_country
from .customers import CustomerKind


class TaxTreatment(StrEnum):
    DOMESTIC = "domestic"
    OSS = "oss"
    REVERSE_CHARGE = "reverse_charge"
    EXPORT = "export"
    SMALL_BUSINESS = "small_business"


ZERO_RATED = frozenset({TaxTreatment.REVERSE_CHARGE, TaxTreatment.EXPORT, TaxTreatment.SMALL_BUSINESS})

Rate = tuple[str, TaxCategory, date | None, date | None, Decimal]  # country, category, from, to (excl.), rate

# Rates that did not change in the period aboguard bills: (country, standard %, main reduced % or None).
# Standard rates: TEDB dataset 2026-09-23. Reduced: the first "main reduced" rate listed per country;
# REFERENCE.md marks reduced rates as indicative, so a merchant selling reduced-rate goods abroad checks them.
_STEADY = (
    ("AT", "20", "10"), ("BE", "21", "6"), ("BG", "20", "9"), ("CY", "19", "9"), ("CZ", "21", "12"),
    ("DE", "19", "7"), ("DK", "25", None), ("ES", "21", "10"), ("FR", "20", "10"), ("GR", "24", "13"),
    ("HR", "25", "13"), ("HU", "27", "18"), ("IE", "23", "13.5"), ("IT", "22", "10"), ("LT", "21", "9"),
    ("LU", "17", "14"), ("LV", "21", "12"), ("MT", "18", "7"), ("NL", "21", "9"), ("PL", "23", "8"),
    ("PT", "23", "13"), ("SE", "25", "12"), ("SI", "22", "9.5"),
)
_CHANGED: tuple[Rate, ...] = (
    ("EE", TaxCategory.STANDARD, None, date(2025, 7, 1), Decimal("0.22")),
    ("EE", TaxCategory.STANDARD, date(2025, 7, 1), None, Decimal("0.24")),
    ("EE", TaxCategory.REDUCED, None, None, Decimal("0.13")),
    ("FI", TaxCategory.STANDARD, None, date(2024, 9, 1), Decimal("0.24")),
    ("FI", TaxCategory.STANDARD, date(2024, 9, 1), None, Decimal("0.255")),
    ("FI", TaxCategory.REDUCED, None, None, Decimal("0.14")),
    ("RO", TaxCategory.STANDARD, None, date(2025, 8, 1), Decimal("0.19")),
    ("RO", TaxCategory.STANDARD, date(2025, 8, 1), None, Decimal("0.21")),
    ("RO", TaxCategory.REDUCED, None, None, Decimal("0.11")),
    ("SK", TaxCategory.STANDARD, None, date(2025, 1, 1), Decimal("0.20")),
    ("SK", TaxCategory.STANDARD, date(2025, 1, 1), None, Decimal("0.23")),
    ("SK", TaxCategory.REDUCED, None, None, Decimal("0.19")),
)


def _table() -> tuple[Rate, ...]:
    rows: list[Rate] = []
    for country, standard, reduced in _STEADY:
        rows.append((country, TaxCategory.STANDARD, None, None, Decimal(standard) / 100))
        if reduced is not None:
            rows.append((country, TaxCategory.REDUCED, None, None, Decimal(reduced) / 100))
    return (*rows, *_CHANGED)


RATES: tuple[Rate, ...] = _table()

NOTES: dict[TaxTreatment, tuple[str, str]] = {
    TaxTreatment.REVERSE_CHARGE: ("Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge, § 13b UStG)",
                                  "Reverse charge: VAT is owed by the recipient (Article 196 VAT Directive)"),
    TaxTreatment.SMALL_BUSINESS: ("Gemäß § 19 UStG wird keine Umsatzsteuer berechnet.",
                                  "No VAT is charged under the small-business scheme (§ 19 UStG)."),
    TaxTreatment.EXPORT: ("Nicht im Inland steuerbare Leistung (Leistungsort außerhalb der EU)",
                          "Not subject to German VAT: place of supply outside the EU"),
}
_CODES = {TaxTreatment.REVERSE_CHARGE: "AE", TaxTreatment.EXPORT: "G", TaxTreatment.SMALL_BUSINESS: "E"}
_ORDER = (TaxCategory.STANDARD, TaxCategory.REDUCED, TaxCategory.EXEMPT)


def _iso(country: str) -> str:
    country = (country or "").strip().upper()
    return "GR" if country == "EL" else country


def vat_rate(country: str, category: TaxCategory, on: date) -> Decimal:
    """The VAT rate of an EU member state for a category on a day."""
    if category is TaxCategory.EXEMPT:
        return Decimal(0)
    cc = _iso(country)
    if cc not in EU_COUNTRIES:
        raise UnknownTaxRate(f"no VAT rates for {country!r}: only EU member states have rates here")
    for row_cc, row_category, valid_from, valid_to, rate in RATES:
        if row_cc == cc and row_category is category and (valid_from is None or valid_from <= on) \
                and (valid_to is None or on < valid_to):
            return rate
    raise UnknownTaxRate(f"{cc} has no {category.value} VAT rate on {on.isoformat()}; use the standard category "
                         f"for plans sold to customers in {cc}")


@dataclass(frozen=True, slots=True)
class MerchantTax:
    country: str = "DE"
    vat_id: str | None = None
    small_business: bool = False  # § 19 UStG Kleinunternehmer
    oss: bool = True  # above the EUR 10,000 EU threshold: EU consumers at their country's rates


@dataclass(frozen=True, slots=True)
class TaxDecision:
    treatment: TaxTreatment
    country: str
    note_de: str | None = None
    note_en: str | None = None

    def rate(self, category: TaxCategory, on: date) -> Decimal:
        if self.treatment in ZERO_RATED or category is TaxCategory.EXEMPT:
            return Decimal(0)
        return vat_rate(self.country, category, on)

    def code(self, category: TaxCategory) -> str:
        """EN 16931 VAT category code (UNCL 5305)."""
        if self.treatment in _CODES:
            return _CODES[self.treatment]
        return "E" if category is TaxCategory.EXEMPT else "S"


def decide(merchant: MerchantTax, *, customer_kind: CustomerKind, customer_country: str,
           customer_vat_id: str | None) -> TaxDecision:
    """Domestic, one-stop-shop, reverse charge, export or small business, from who sells to whom."""
    home = _iso(merchant.country)
    cc = _iso(customer_country)
    if not is_country(cc):
        raise UnknownTaxRate(f"customer country {customer_country!r} is not an ISO 3166 country code; "
                             "correct the customer's country")
    if merchant.small_business:
        return _with_note(TaxTreatment.SMALL_BUSINESS, home)
    if cc == home:
        return TaxDecision(TaxTreatment.DOMESTIC, home)
    if cc in EU_COUNTRIES:
        if customer_kind is CustomerKind.BUSINESS and customer_vat_id:
            return _with_note(TaxTreatment.REVERSE_CHARGE, cc)
        return TaxDecision(TaxTreatment.OSS, cc) if merchant.oss else TaxDecision(TaxTreatment.DOMESTIC, home)
    return _with_note(TaxTreatment.EXPORT, cc)


def _with_note(treatment: TaxTreatment, country: str) -> TaxDecision:
    de, en = NOTES[treatment]
    return TaxDecision(treatment, country, de, en)


@dataclass(frozen=True, slots=True)
class TaxGroup:
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
    groups: tuple[TaxGroup, ...]
    line_nets: tuple[Money, ...]
    net: Money
    tax: Money
    total: Money


def compute(amounts: Sequence[tuple[TaxCategory, Money]], decision: TaxDecision, *, on: date,
            prices_include_tax: bool, currency: str) -> TaxResult:
    """The VAT breakdown: tax rounded once per category on the group sum (half away from zero)."""
    zero = Money.zero(currency)
    nets: list[Money] = [zero] * len(amounts)
    groups: list[TaxGroup] = []
    for category in _ORDER:
        members = [i for i, (cat, _) in enumerate(amounts) if cat is category]
        if not members:
            continue
        rate = decision.rate(category, on)
        base = sum((amounts[i][1] for i in members), zero)
        if prices_include_tax:
            tax = Money(round_to_minor(base.to_decimal() * rate / (1 + rate), currency, ROUND_HALF_UP), currency)
            net = base - tax
            for i, part in zip(members, _spread(net, [amounts[i][1] for i in members]), strict=True):
                nets[i] = part
        else:
            net = base
            tax = Money(round_to_minor(base.to_decimal() * rate, currency, ROUND_HALF_UP), currency)
            for i in members:
                nets[i] = amounts[i][1]
        groups.append(TaxGroup(category, decision.code(category), rate, net, tax))
    net = sum((g.net for g in groups), zero)
    tax = sum((g.tax for g in groups), zero)
    return TaxResult(tuple(groups), tuple(nets), net, tax, net + tax)


def _spread(total: Money, weights: Sequence[Money]) -> list[Money]:
    """``total`` split in proportion to ``weights`` (any signs), summing exactly to ``total``."""
    if len(weights) == 1:
        return [total]
    base = sum((w for w in weights), Money.zero(total.currency))
    if base.is_zero():
        shares = [Money.zero(total.currency)] * len(weights)
        shares[0] = total
        return shares
    exact = [Decimal(total.minor) * w.minor / base.minor for w in weights]
    rounded = [int(x.to_integral_value(ROUND_HALF_UP)) for x in exact]
    rest = total.minor - sum(rounded)
    order = sorted(range(len(weights)), key=lambda i: -(exact[i] - rounded[i]) * (1 if rest > 0 else -1))
    for k in range(abs(rest)):
        rounded[order[k % len(order)]] += 1 if rest > 0 else -1
    return [Money(m, total.currency) for m in rounded]
