"""VAT: treatments, the dated rate table, and the per-category breakdown (hand-computed figures + properties)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aboguard.domain.catalog import TaxCategory
from aboguard.domain.countries import EU_COUNTRIES
from aboguard.domain.customers import CustomerKind
from aboguard.domain.tax import (
    NOTES,
    RATES,
    RATES_FROM,
    MerchantTax,
    TaxDecision,
    TaxResult,
    TaxTreatment,
    compute,
    decide,
    vat_rate,
)
from aboguard.errors import CurrencyMismatch, InvalidInput, UnknownTaxRate
from aboguard.money import Money

STD, RED, EXEMPT = TaxCategory.STANDARD, TaxCategory.REDUCED, TaxCategory.EXEMPT
CONSUMER, BUSINESS = CustomerKind.CONSUMER, CustomerKind.BUSINESS
DAY = date(2025, 3, 1)
MERCHANT = MerchantTax()  # Germany, VAT-registered, above the OSS threshold


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def jpy(minor: int) -> Money:
    return Money(minor, "JPY")


def consumer_in(country: str, merchant: MerchantTax = MERCHANT) -> TaxDecision:
    return decide(merchant, customer_kind=CONSUMER, customer_country=country, customer_vat_id=None)


def business_in(country: str, vat_id: str | None, merchant: MerchantTax = MERCHANT) -> TaxDecision:
    return decide(merchant, customer_kind=BUSINESS, customer_country=country, customer_vat_id=vat_id)


def gross(decision: TaxDecision, *lines: tuple[TaxCategory, Money], on: date = DAY) -> TaxResult:
    currency = lines[0][1].currency if lines else "EUR"
    return compute(lines, decision, on=on, prices_include_tax=True, currency=currency)


def net(decision: TaxDecision, *lines: tuple[TaxCategory, Money], on: date = DAY) -> TaxResult:
    currency = lines[0][1].currency if lines else "EUR"
    return compute(lines, decision, on=on, prices_include_tax=False, currency=currency)


def figures(result: TaxResult) -> tuple[int, int, int]:
    return result.net.minor, result.tax.minor, result.total.minor


# -- treatments -------------------------------------------------------------------------------------------


RC_NOTE_DE = "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge, § 13b UStG)"
RC_NOTE_EN = "Reverse charge: VAT is owed by the recipient (Article 196 VAT Directive)"
SB_NOTE_DE = "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet."
SB_NOTE_EN = "No VAT is charged under the small-business scheme (§ 19 UStG)."
EXPORT_NOTE_DE = "Nicht im Inland steuerbare Leistung (Leistungsort außerhalb der EU)"
EXPORT_NOTE_EN = "Not subject to German VAT: place of supply outside the EU"


@pytest.mark.parametrize(("merchant", "kind", "country", "vat_id", "treatment", "rates_of"), [
    (MERCHANT, CONSUMER, "DE", None, TaxTreatment.DOMESTIC, "DE"),
    (MERCHANT, BUSINESS, "DE", "DE136695976", TaxTreatment.DOMESTIC, "DE"),  # domestic B2B stays domestic
    (MERCHANT, CONSUMER, "AT", None, TaxTreatment.OSS, "AT"),
    (MERCHANT, BUSINESS, "AT", None, TaxTreatment.OSS, "AT"),  # no VAT ID: taxed like a consumer
    (MERCHANT, BUSINESS, "AT", "  ", TaxTreatment.OSS, "AT"),  # a blank VAT ID is no VAT ID
    (MerchantTax(oss=False), CONSUMER, "AT", None, TaxTreatment.DOMESTIC, "DE"),  # below the threshold
    (MERCHANT, BUSINESS, "FR", "FR40303265045", TaxTreatment.REVERSE_CHARGE, "FR"),
    (MerchantTax(oss=False), BUSINESS, "FR", "FR40303265045", TaxTreatment.REVERSE_CHARGE, "FR"),
    (MERCHANT, CONSUMER, "US", None, TaxTreatment.EXPORT, "US"),
    (MERCHANT, BUSINESS, "CH", "CHE-113.552.490 MWST", TaxTreatment.EXPORT, "CH"),
    (MerchantTax(small_business=True), CONSUMER, "DE", None, TaxTreatment.SMALL_BUSINESS, "DE"),
    (MerchantTax(small_business=True), BUSINESS, "FR", "FR40303265045", TaxTreatment.SMALL_BUSINESS, "DE"),
    (MerchantTax(small_business=True), CONSUMER, "US", None, TaxTreatment.SMALL_BUSINESS, "DE"),
    (MERCHANT, CONSUMER, "el", None, TaxTreatment.OSS, "GR"),  # Greece's VAT code, any case
    (MerchantTax(country="AT"), CONSUMER, "DE", None, TaxTreatment.OSS, "DE"),
    (MerchantTax(country="AT"), CONSUMER, "AT", None, TaxTreatment.DOMESTIC, "AT"),
])
def test_decide_picks_the_treatment_and_whose_rates_apply(merchant: MerchantTax, kind: CustomerKind, country: str,
                                                           vat_id: str | None, treatment: TaxTreatment,
                                                           rates_of: str) -> None:
    decision = decide(merchant, customer_kind=kind, customer_country=country, customer_vat_id=vat_id)
    assert (decision.treatment, decision.country) == (treatment, rates_of)


def test_decide_gives_the_legally_required_notes_word_for_word() -> None:
    assert (consumer_in("DE").note_de, consumer_in("DE").note_en) == (None, None)
    assert (consumer_in("AT").note_de, consumer_in("AT").note_en) == (None, None)
    reverse = business_in("FR", "FR40303265045")
    assert (reverse.note_de, reverse.note_en) == (RC_NOTE_DE, RC_NOTE_EN)
    export = consumer_in("US")
    assert (export.note_de, export.note_en) == (EXPORT_NOTE_DE, EXPORT_NOTE_EN)
    small = consumer_in("DE", MerchantTax(small_business=True))
    assert (small.note_de, small.note_en) == (SB_NOTE_DE, SB_NOTE_EN)
    assert NOTES[TaxTreatment.REVERSE_CHARGE] == (RC_NOTE_DE, RC_NOTE_EN)


@pytest.mark.parametrize("country", ["", "  ", "XX", "Germany", "D", "EU"])
def test_decide_refuses_a_blank_or_unknown_customer_country(country: str) -> None:
    with pytest.raises(UnknownTaxRate, match="not an ISO 3166 two-letter code"):
        consumer_in(country)


def test_decide_refuses_a_merchant_outside_the_eu() -> None:
    with pytest.raises(UnknownTaxRate, match="not an EU member state"):
        consumer_in("DE", MerchantTax(country="US"))


def test_unknown_tax_rate_is_bad_input_with_a_stable_code() -> None:
    assert issubclass(UnknownTaxRate, InvalidInput)
    assert UnknownTaxRate.code == "tax.unknown_rate"


@pytest.mark.parametrize(("decision", "standard", "reduced", "exempt"), [
    (consumer_in("DE"), "S", "S", "E"),
    (consumer_in("AT"), "S", "S", "E"),
    (business_in("FR", "FR40303265045"), "AE", "AE", "E"),
    (consumer_in("US"), "G", "G", "E"),
    (consumer_in("DE", MerchantTax(small_business=True)), "E", "E", "E"),
])
def test_en16931_category_codes(decision: TaxDecision, standard: str, reduced: str, exempt: str) -> None:
    assert (decision.code(STD), decision.code(RED), decision.code(EXEMPT)) == (standard, reduced, exempt)


def test_zero_rated_treatments_and_exempt_lines_have_rate_zero() -> None:
    for decision in (business_in("FR", "FR40303265045"), consumer_in("US"),
                     consumer_in("DE", MerchantTax(small_business=True))):
        assert decision.rate(STD, DAY) == decision.rate(RED, DAY) == Decimal(0)
    assert consumer_in("DE").rate(EXEMPT, DAY) == 0
    assert consumer_in("DE").rate(STD, DAY) == Decimal("0.19")
    assert consumer_in("DE").rate(RED, DAY) == Decimal("0.07")
    assert consumer_in("HU").rate(STD, DAY) == Decimal("0.27")


# -- rate table -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("country", "before", "changed_on", "old", "new"), [
    ("EE", date(2025, 6, 30), date(2025, 7, 1), "0.22", "0.24"),
    ("FI", date(2024, 8, 31), date(2024, 9, 1), "0.24", "0.255"),
    ("RO", date(2025, 7, 31), date(2025, 8, 1), "0.19", "0.21"),
    ("SK", date(2024, 12, 31), date(2025, 1, 1), "0.20", "0.23"),
])
def test_standard_rates_change_on_the_day_the_law_says(country: str, before: date, changed_on: date, old: str,
                                                       new: str) -> None:
    assert vat_rate(country, STD, before) == Decimal(old)
    assert vat_rate(country, STD, changed_on) == Decimal(new)
    assert vat_rate(country, STD, date(2027, 1, 1)) == Decimal(new)


def test_a_rate_change_changes_the_invoice_by_its_tax_date() -> None:
    ee = consumer_in("EE")
    assert figures(gross(ee, (STD, eur(9_99)), on=date(2025, 6, 30))) == (8_19, 1_80, 9_99)  # 9.99 / 1.22 = 8.1885
    assert figures(gross(ee, (STD, eur(9_99)), on=date(2025, 7, 1))) == (8_06, 1_93, 9_99)  # 9.99 / 1.24 = 8.0565
    fi = consumer_in("FI")
    assert figures(gross(fi, (STD, eur(9_99)), on=date(2024, 8, 31))) == (8_06, 1_93, 9_99)
    assert figures(gross(fi, (STD, eur(9_99)), on=date(2024, 9, 1))) == (7_96, 2_03, 9_99)  # 9.99 / 1.255 = 7.9602
    assert figures(net(fi, (STD, eur(10_00)), on=date(2024, 9, 1))) == (10_00, 2_55, 12_55)
    ro = consumer_in("RO")
    assert figures(net(ro, (STD, eur(100_00)), on=date(2025, 7, 31))) == (100_00, 19_00, 119_00)
    assert figures(net(ro, (STD, eur(100_00)), on=date(2025, 8, 1))) == (100_00, 21_00, 121_00)
    sk = consumer_in("SK")
    assert figures(net(sk, (STD, eur(100_00)), on=date(2024, 12, 31))) == (100_00, 20_00, 120_00)
    assert figures(net(sk, (STD, eur(100_00)), on=date(2025, 1, 1))) == (100_00, 23_00, 123_00)


def test_the_reference_standard_rates() -> None:
    expected = {"AT": "20", "BE": "21", "BG": "20", "CY": "19", "CZ": "21", "DE": "19", "DK": "25", "EE": "24",
                "ES": "21", "FI": "25.5", "FR": "20", "GR": "24", "HR": "25", "HU": "27", "IE": "23", "IT": "22",
                "LT": "21", "LU": "17", "LV": "21", "MT": "18", "NL": "21", "PL": "23", "PT": "23", "RO": "21",
                "SE": "25", "SI": "22", "SK": "23"}
    assert set(expected) == EU_COUNTRIES
    on = date(2026, 1, 1)
    assert {cc: vat_rate(cc, STD, on) for cc in expected} == {cc: Decimal(p) / 100 for cc, p in expected.items()}


def test_the_first_main_reduced_rate_of_the_reference() -> None:
    on = date(2026, 1, 1)
    assert vat_rate("DE", RED, on) == Decimal("0.07")
    assert vat_rate("AT", RED, on) == Decimal("0.10")
    assert vat_rate("IE", RED, on) == Decimal("0.135")
    assert vat_rate("SI", RED, on) == Decimal("0.095")
    assert vat_rate("RO", RED, on) == Decimal("0.11")
    assert vat_rate("SK", RED, on) == Decimal("0.19")
    assert vat_rate("HU", RED, on) == Decimal("0.18")


def test_greece_answers_to_gr_and_el() -> None:
    assert vat_rate("GR", STD, DAY) == vat_rate("EL", STD, DAY) == vat_rate(" el ", STD, DAY) == Decimal("0.24")
    assert vat_rate("EL", RED, DAY) == Decimal("0.13")
    assert figures(gross(consumer_in("EL"), (STD, eur(12_40)))) == (10_00, 2_40, 12_40)


def test_denmark_has_no_reduced_rate() -> None:
    assert vat_rate("DK", STD, DAY) == Decimal("0.25")
    with pytest.raises(UnknownTaxRate, match="DK has no reduced VAT rate"):
        vat_rate("DK", RED, DAY)
    with pytest.raises(UnknownTaxRate, match="DK has no reduced VAT rate"):
        gross(consumer_in("DK"), (RED, eur(9_99)))


def test_exempt_is_always_zero_in_the_eu() -> None:
    assert all(vat_rate(cc, EXEMPT, DAY) == 0 for cc in EU_COUNTRIES)
    assert vat_rate("DE", EXEMPT, date(2020, 1, 1)) == 0


@pytest.mark.parametrize(("country", "category", "on", "message"), [
    ("US", STD, DAY, "only the EU member states"),
    ("CH", EXEMPT, DAY, "only the EU member states"),
    ("GB", STD, DAY, "only the EU member states"),
    ("", STD, DAY, "only the EU member states"),
    ("DE", STD, RATES_FROM - timedelta(days=1), "before 2024-01-01 are not in aboguard's table"),
    ("RO", RED, date(2025, 7, 31), "no reduced VAT rate for RO on 2025-07-31"),
    ("SK", RED, date(2024, 12, 31), "no reduced VAT rate for SK on 2024-12-31"),
    ("DE", "luxury", DAY, "unknown tax category 'luxury'"),
])
def test_unknown_rates_are_refused_with_a_clear_message(country: str, category: TaxCategory, on: date,
                                                        message: str) -> None:
    with pytest.raises(UnknownTaxRate, match=message):
        vat_rate(country, category, on)


def test_the_table_has_one_standard_rate_per_member_state_every_day_and_no_overlaps() -> None:
    for cc in EU_COUNTRIES:
        for category in (STD, RED):
            rows = sorted((r for r in RATES if r.country == cc and r.category is category), key=lambda r: r.valid_from)
            if category is STD or cc != "DK":
                assert rows, (cc, category)
            if category is STD:
                assert rows[0].valid_from == RATES_FROM, cc
            for earlier, later in pairwise(rows):
                assert earlier.valid_to == later.valid_from, (cc, category)  # no gap, no overlap
            if rows:
                assert rows[-1].valid_to is None, (cc, category)
    assert all(r.country in EU_COUNTRIES and Decimal(0) < r.rate < Decimal("0.3") for r in RATES)
    assert all(r.valid_to is None or r.valid_from < r.valid_to for r in RATES)


# -- breakdown: hand-computed invoices --------------------------------------------------------------------


def test_de_consumer_gross_price() -> None:
    result = gross(consumer_in("DE"), (STD, eur(9_99)))  # 9.99 / 1.19 = 8.3950
    assert figures(result) == (8_39, 1_60, 9_99)
    (group,) = result.groups
    assert (group.category, group.code, group.rate, group.net, group.tax, group.gross) == (
        STD, "S", Decimal("0.19"), eur(8_39), eur(1_60), eur(9_99))
    assert result.line_nets == (eur(8_39),)


def test_the_same_gross_price_for_an_at_consumer_under_oss() -> None:
    # VAT 9.99 x 0.20 / 1.20 = 1.665 exactly: the tax is the rounded figure, 1.67, leaving 8.32 net; still 9.99.
    assert figures(gross(consumer_in("AT"), (STD, eur(9_99)))) == (8_32, 1_67, 9_99)


def test_hu_consumer_at_27_percent() -> None:
    assert figures(gross(consumer_in("HU"), (STD, eur(9_99)))) == (7_87, 2_12, 9_99)  # 9.99 / 1.27 = 7.8661


def test_reduced_rate_gross_price_in_germany() -> None:
    result = gross(consumer_in("DE"), (RED, eur(29_90)))  # 29.90 / 1.07 = 27.9439
    assert figures(result) == (27_94, 1_96, 29_90)
    assert (result.groups[0].category, result.groups[0].rate) == (RED, Decimal("0.07"))


def test_business_net_price_in_germany() -> None:
    result = net(business_in("DE", "DE136695976"), (STD, eur(49_00)))  # 49.00 x 0.19 = 9.31
    assert figures(result) == (49_00, 9_31, 58_31)
    assert result.line_nets == (eur(49_00),)


def test_reverse_charge_for_an_fr_business() -> None:
    decision = business_in("FR", "FR40303265045")
    result = net(decision, (STD, eur(49_00)))
    assert figures(result) == (49_00, 0, 49_00)
    assert (result.groups[0].code, result.groups[0].rate) == ("AE", Decimal(0))
    assert decision.note_de == RC_NOTE_DE


def test_export_to_a_us_customer_takes_the_gross_price_as_net() -> None:
    result = gross(consumer_in("US"), (STD, eur(9_99)))
    assert figures(result) == (9_99, 0, 9_99)
    assert result.line_nets == (eur(9_99),)
    assert result.groups[0].code == "G"


def test_small_business_charges_no_vat() -> None:
    small = MerchantTax(small_business=True)
    assert figures(gross(consumer_in("DE", small), (STD, eur(9_99)), (RED, eur(29_90)))) == (39_89, 0, 39_89)
    assert figures(net(business_in("FR", "FR40303265045", small), (STD, eur(49_00)))) == (49_00, 0, 49_00)
    assert {g.code for g in gross(consumer_in("DE", small), (STD, eur(9_99))).groups} == {"E"}


def test_mixed_categories_on_one_gross_invoice() -> None:
    result = gross(consumer_in("DE"), (RED, eur(29_90)), (STD, eur(9_99)), (EXEMPT, eur(5_00)))
    assert [(g.category, g.code, g.net.minor, g.tax.minor) for g in result.groups] == [
        (STD, "S", 8_39, 1_60), (RED, "S", 27_94, 1_96), (EXEMPT, "E", 5_00, 0)]  # always in this order
    assert result.line_nets == (eur(27_94), eur(8_39), eur(5_00))
    assert figures(result) == (41_33, 3_56, 44_89)


def test_mixed_categories_on_one_net_invoice() -> None:
    result = net(business_in("DE", None), (STD, eur(49_00)), (RED, eur(20_00)))  # 9.31 + 1.40
    assert [(g.net.minor, g.tax.minor) for g in result.groups] == [(49_00, 9_31), (20_00, 1_40)]
    assert figures(result) == (69_00, 10_71, 79_71)


def test_vat_is_rounded_once_per_category_not_per_line() -> None:
    # Three 0.13 EUR lines: per line 0.0247 -> 0.02 each (0.06); on the sum 0.39 x 0.19 = 0.0741 -> 0.07.
    result = net(consumer_in("DE"), (STD, eur(13)), (STD, eur(13)), (STD, eur(13)))
    assert figures(result) == (39, 7, 46)
    # Three 9.99 gross lines: 29.97 / 1.19 = 25.1849 -> 25.18 net, 4.79 VAT (per line it would be 25.17 + 4.80).
    result = gross(consumer_in("DE"), (STD, eur(9_99)), (STD, eur(9_99)), (STD, eur(9_99)))
    assert figures(result) == (25_18, 4_79, 29_97)
    assert result.line_nets == (eur(8_40), eur(8_39), eur(8_39))  # the extra cent to the first line


def test_a_negative_proration_credit_in_the_same_group() -> None:
    # Upgrade: 9.99 for the new plan, -4.99 for the unused old one. Group gross 5.00 -> net 4.20, VAT 0.80.
    # The smaller side (the credit) gets its own net: -4.99 less its VAT -0.7968 -> -0.80 = -4.19; the charge
    # gets the rest of the group net, 4.20 + 4.19 = 8.39.
    result = gross(consumer_in("DE"), (STD, eur(9_99)), (STD, eur(-4_99)))
    assert figures(result) == (4_20, 80, 5_00)
    assert result.line_nets == (eur(8_39), eur(-4_19))


def test_a_credit_that_nearly_cancels_a_charge_keeps_sensible_line_nets() -> None:
    # 1000.00 - 999.99 = 0.01 gross: group net 0.01, VAT 0.00; each line still shows its own net.
    result = gross(consumer_in("DE"), (STD, eur(1000_00)), (STD, eur(-999_99)))
    assert figures(result) == (1, 0, 1)
    assert result.line_nets == (eur(840_34), eur(-840_33))  # 1000 / 1.19 = 840.336, 999.99 / 1.19 = 840.328


def test_negative_groups_round_half_away_from_zero() -> None:
    de = consumer_in("DE")
    assert figures(net(de, (STD, eur(50)))) == (50, 10, 60)  # 0.50 x 0.19 = 0.095 -> 0.10
    assert figures(net(de, (STD, eur(-50)))) == (-50, -10, -60)  # -0.095 -> -0.10
    assert figures(gross(consumer_in("AT"), (STD, eur(-9_99)))) == (-8_32, -1_67, -9_99)  # -1.665 -> -1.67
    credit_note = net(business_in("DE", "DE136695976"), (STD, eur(-49_00)), (RED, eur(-20_00)))
    assert figures(credit_note) == (-69_00, -10_71, -79_71)


def test_a_zero_currency_exponent_jpy() -> None:
    assert figures(gross(consumer_in("DE"), (STD, jpy(1000)))) == (840, 160, 1000)  # 1000 / 1.19 = 840.34
    assert figures(net(consumer_in("DE"), (STD, jpy(999)))) == (999, 190, 1189)  # 999 x 0.19 = 189.81
    assert figures(gross(consumer_in("AT"), (STD, jpy(999)))) == (832, 167, 999)  # VAT 999 / 6 = 166.5, a tie
    assert figures(gross(consumer_in("AT"), (STD, jpy(-999)))) == (-832, -167, -999)
    result = gross(consumer_in("DE"), (STD, jpy(500)), (STD, jpy(500)), (RED, jpy(300)))
    assert figures(result) == (1120, 180, 1300)  # VAT 1000 x 19/119 = 159.66 -> 160; 300 x 7/107 = 19.63 -> 20
    assert result.line_nets == (jpy(420), jpy(420), jpy(280))


def test_exempt_lines_under_gross_prices_are_their_own_net() -> None:
    result = gross(consumer_in("DE"), (EXEMPT, eur(10_00)))
    assert figures(result) == (10_00, 0, 10_00)
    assert (result.groups[0].code, result.groups[0].rate) == ("E", Decimal(0))


def test_no_lines_no_groups_zero_totals() -> None:
    for currency in ("EUR", "JPY"):
        result = compute([], consumer_in("DE"), on=DAY, prices_include_tax=True, currency=currency)
        assert result == TaxResult((), (), Money.zero(currency), Money.zero(currency), Money.zero(currency))


def test_lines_in_another_currency_are_refused() -> None:
    with pytest.raises(CurrencyMismatch, match=r"9\.99 USD cannot be on an invoice in EUR"):
        compute([(STD, eur(1_00)), (STD, Money(9_99, "USD"))], consumer_in("DE"), on=DAY, prices_include_tax=True,
                currency="EUR")


# -- breakdown: properties --------------------------------------------------------------------------------

DECISIONS = [
    consumer_in("DE"), consumer_in("AT"), consumer_in("HU"), consumer_in("FI"), consumer_in("EE"),
    consumer_in("LU"), consumer_in("CZ"), consumer_in("IE"), consumer_in("EL"),  # all with reduced rates since 2024
    business_in("FR", "FR40303265045"), consumer_in("US"), consumer_in("DE", MerchantTax(small_business=True)),
]
CURRENCIES = ["EUR", "JPY", "BHD"]

invoices = st.fixed_dictionaries({
    "lines": st.lists(st.tuples(st.sampled_from(list(TaxCategory)), st.integers(min_value=-10**7, max_value=10**7)),
                      max_size=8),
    "decision": st.sampled_from(DECISIONS),
    "on": st.dates(min_value=RATES_FROM, max_value=date(2028, 12, 31)),
    "inclusive": st.booleans(),
    "currency": st.sampled_from(CURRENCIES),
})


def run(case: dict) -> tuple[list[tuple[TaxCategory, Money]], TaxResult]:
    lines = [(category, Money(minor, case["currency"])) for category, minor in case["lines"]]
    result = compute(lines, case["decision"], on=case["on"], prices_include_tax=case["inclusive"],
                     currency=case["currency"])
    return lines, result


def total_of(moneys: list[Money], currency: str) -> Money:
    return sum(moneys, Money.zero(currency))


@settings(max_examples=400, deadline=None)
@given(case=invoices)
def test_every_total_is_reproducible_from_the_lines(case: dict) -> None:
    lines, result = run(case)
    cur = case["currency"]
    assert len(result.line_nets) == len(lines)
    assert total_of(list(result.line_nets), cur) == result.net
    assert total_of([g.net for g in result.groups], cur) == result.net
    assert total_of([g.tax for g in result.groups], cur) == result.tax
    assert result.net + result.tax == result.total == total_of([g.gross for g in result.groups], cur)
    for group in result.groups:
        members = [i for i, (category, _) in enumerate(lines) if category is group.category]
        assert total_of([result.line_nets[i] for i in members], cur) == group.net
        assert total_of([lines[i][1] for i in members], cur) == (group.gross if case["inclusive"] else group.net)
        assert group.rate == case["decision"].rate(group.category, case["on"])
        assert group.code == case["decision"].code(group.category)
    present = {category for category, _ in lines}
    assert [g.category for g in result.groups] == [c for c in (STD, RED, EXEMPT) if c in present]
    if case["inclusive"]:
        assert result.total == total_of([amount for _, amount in lines], cur)
    else:
        assert list(result.line_nets) == [amount for _, amount in lines]


@settings(max_examples=300, deadline=None)
@given(case=invoices)
def test_vat_is_the_exact_figure_rounded_once_per_group(case: dict) -> None:
    _, result = run(case)
    for group in result.groups:
        rate = Fraction(group.rate)
        exact = Fraction(group.gross.minor) * rate / (1 + rate) if case["inclusive"] else group.net.minor * rate
        assert abs(group.tax.minor - exact) <= Fraction(1, 2)
        # EN 16931 BR-CO-17 (tax = taxable amount x rate, rounded) holds within one minor unit for gross prices
        # and exactly for net prices.
        from_net = group.net.multiply(group.rate).minor
        assert abs(group.tax.minor - from_net) <= (1 if case["inclusive"] else 0)


@settings(max_examples=300, deadline=None)
@given(case=invoices)
def test_line_nets_stay_close_to_each_line_own_net_and_keep_its_sign(case: dict) -> None:
    lines, result = run(case)
    for (category, amount), line_net in zip(lines, result.line_nets, strict=True):
        rate = Fraction(case["decision"].rate(category, case["on"]))
        own = Fraction(amount.minor) / (1 + rate) if case["inclusive"] else Fraction(amount.minor)
        assert abs(line_net.minor - own) < 2
        assert line_net.minor * amount.minor >= 0  # a charge never turns into a credit or the reverse


@settings(max_examples=300, deadline=None)
@given(case=invoices)
def test_negating_every_amount_negates_every_figure(case: dict) -> None:
    _, result = run(case)
    _, mirrored = run({**case, "lines": [(category, -minor) for category, minor in case["lines"]]})
    assert [-m for m in result.line_nets] == list(mirrored.line_nets)
    assert [(g.category, -g.net, -g.tax) for g in result.groups] == [
        (g.category, g.net, g.tax) for g in mirrored.groups]
    assert (-result.net, -result.tax, -result.total) == (mirrored.net, mirrored.tax, mirrored.total)


@settings(max_examples=200, deadline=None)
@given(case=invoices)
def test_zero_rated_invoices_carry_no_vat_and_the_amounts_are_the_nets(case: dict) -> None:
    lines, result = run(case)
    for group in result.groups:
        if group.rate == 0:
            assert group.tax.is_zero()
            assert group.net == group.gross
    if case["decision"].treatment in (TaxTreatment.REVERSE_CHARGE, TaxTreatment.EXPORT, TaxTreatment.SMALL_BUSINESS):
        assert result.tax.is_zero()
        assert list(result.line_nets) == [amount for _, amount in lines]


@settings(max_examples=200, deadline=None)
@given(minors=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=6),
       decision=st.sampled_from(DECISIONS[:9]))
def test_a_gross_price_stays_the_price_whatever_the_country(minors: list[int], decision: TaxDecision) -> None:
    result = gross(decision, *[(STD, eur(m)) for m in minors])
    assert result.total == eur(sum(minors))
    assert result.tax.minor > 0 or sum(minors) < 10
