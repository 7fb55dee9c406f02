"""Default under German law: § 286 start of default, § 288 interest and flat fee, § 367 payment order.

Every interest figure below is worked out by hand in the comments (principal x rate x days / 365 per segment,
the segments added exactly, the sum rounded once half up), so a wrong day count or a rounding per segment fails.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aboguard.domain.interest import (
    BUSINESS_FLAT_FEE,
    BUSINESS_MARGIN,
    CONSUMER_MARGIN,
    DEFAULT_BASE_RATES,
    Allocation,
    BaseRate,
    BaseRateTable,
    Claim,
    ClaimKind,
    InterestCalculation,
    InterestSegment,
    allocate_payment,
    business_flat_fee,
    default_interest,
    default_starts_on,
)
from aboguard.errors import CurrencyMismatch, InvalidDate, InvalidInput, UnknownCurrency
from aboguard.money import Money

D = Decimal
DAY = timedelta(days=1)


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def flat_table(base: str, valid_from: date = date(2020, 1, 1)) -> BaseRateTable:
    return BaseRateTable((BaseRate(valid_from, D(base)),))


# -- the base rate table ------------------------------------------------------------------------------------


def test_default_table_is_reference_section_2_3() -> None:
    assert [(r.valid_from, r.rate) for r in DEFAULT_BASE_RATES.rates] == [
        (date(2016, 7, 1), D("-0.0088")),
        (date(2023, 1, 1), D("0.0162")),
        (date(2023, 7, 1), D("0.0312")),
        (date(2024, 1, 1), D("0.0362")),
        (date(2024, 7, 1), D("0.0337")),
        (date(2025, 1, 1), D("0.0227")),
        (date(2025, 7, 1), D("0.0127")),
        (date(2026, 1, 1), D("0.0127")),
        (date(2026, 7, 1), D("0.0152")),
    ]
    assert D("0.05") == CONSUMER_MARGIN
    assert D("0.09") == BUSINESS_MARGIN
    assert D("40.00") == BUSINESS_FLAT_FEE


@pytest.mark.parametrize(("day", "rate"), [
    (date(2016, 7, 1), "-0.0088"),  # first day of the first entry
    (date(2022, 12, 31), "-0.0088"),
    (date(2023, 1, 1), "0.0162"),  # a new rate counts from its first day
    (date(2025, 6, 30), "0.0227"),
    (date(2025, 7, 1), "0.0127"),
    (date(2026, 6, 30), "0.0127"),
    (date(2026, 7, 1), "0.0152"),
    (date(2040, 1, 1), "0.0152"),  # the last entry stays valid
])
def test_rate_on(day: date, rate: str) -> None:
    assert DEFAULT_BASE_RATES.rate_on(day) == D(rate)


def test_rate_before_the_first_entry_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match=r"2016-06-30.*2016-07-01"):
        DEFAULT_BASE_RATES.rate_on(date(2016, 6, 30))
    with pytest.raises(InvalidInput, match="empty"):
        BaseRateTable(()).rate_on(date(2025, 1, 1))


def test_table_is_sorted_and_refuses_duplicate_days() -> None:
    table = BaseRateTable((BaseRate(date(2025, 7, 1), D("0.0127")), BaseRate(date(2025, 1, 1), D("0.0227"))))
    assert [r.valid_from for r in table.rates] == [date(2025, 1, 1), date(2025, 7, 1)]
    with pytest.raises(InvalidInput, match="two rates from 2025-01-01"):
        BaseRateTable((BaseRate(date(2025, 1, 1), D("0.0227")), BaseRate(date(2025, 1, 1), D("0.0127"))))


@pytest.mark.parametrize("rate", [D("1.27"), D("-0.5"), D("NaN"), 0.0127, "0.0127", True])
def test_base_rate_refuses_a_percent_a_float_or_nonsense(rate: object) -> None:
    with pytest.raises(InvalidInput):
        BaseRate(date(2025, 1, 1), rate)  # type: ignore[arg-type]


def test_base_rate_refuses_a_datetime() -> None:
    with pytest.raises(InvalidDate):
        BaseRate(datetime(2025, 1, 1, 0, 0), D("0.01"))  # noqa: DTZ001


def test_with_rate_replaces_a_future_rate_and_leaves_the_original_alone() -> None:
    corrected = DEFAULT_BASE_RATES.with_rate(date(2026, 7, 1), D("0.0102"))
    assert corrected.rate_on(date(2026, 7, 1)) == D("0.0102")
    assert len(corrected.rates) == len(DEFAULT_BASE_RATES.rates)
    assert DEFAULT_BASE_RATES.rate_on(date(2026, 7, 1)) == D("0.0152")  # immutable
    # July 2026 on 1,000.00 for a consumer: 31 days x 6.02 % / 365 = 1000 x 0.0602 x 31 / 365 = 1866.2 / 365
    # = 5.11287... -> 5.11 (at the old 6.52 %: 2021.2 / 365 = 5.5375... -> 5.54)
    start, end = date(2026, 7, 1), date(2026, 8, 1)
    assert default_interest(eur(100_000), start, end, consumer=True, table=corrected).total == eur(511)
    assert default_interest(eur(100_000), start, end, consumer=True).total == eur(554)


def test_with_rate_adds_a_new_half_year() -> None:
    extended = DEFAULT_BASE_RATES.with_rate(date(2027, 1, 1), D("0.0177"))
    assert extended.rates[-1] == BaseRate(date(2027, 1, 1), D("0.0177"))
    assert extended.rate_on(date(2026, 12, 31)) == D("0.0152")
    assert extended.rate_on(date(2027, 1, 1)) == D("0.0177")
    with pytest.raises(InvalidInput):
        DEFAULT_BASE_RATES.with_rate(date(2027, 1, 1), D("1.77"))  # a percent, not a fraction


# -- the table from TOML -------------------------------------------------------------------------------------


def test_table_from_toml() -> None:
    table = BaseRateTable.from_toml("""
# Basiszinssatz, Deutsche Bundesbank
[[rate]]
valid_from = 2025-07-01
rate = "1.27"

[[rate]]
valid_from = 2025-01-01
rate = "2.27"

[[rate]]
valid_from = "2026-07-01"   # a quoted ISO date is fine too
rate = "1,52 %"

[[rate]]
valid_from = 2022-01-01
rate = "-0.88"
""")
    assert [(r.valid_from, r.rate) for r in table.rates] == [
        (date(2022, 1, 1), D("-0.0088")), (date(2025, 1, 1), D("0.0227")),
        (date(2025, 7, 1), D("0.0127")), (date(2026, 7, 1), D("0.0152")),
    ]


def test_default_table_round_trips_through_toml() -> None:
    text = "\n".join(f'[[rate]]\nvalid_from = {r.valid_from}\nrate = "{r.rate * 100}"\n'
                     for r in DEFAULT_BASE_RATES.rates)
    assert BaseRateTable.from_toml(text) == DEFAULT_BASE_RATES


@pytest.mark.parametrize(("text", "message"), [
    ("[[rate]\nvalid_from = 2025-01-01", "not valid TOML"),
    ("", "no rates"),
    ("[[rate]]\nvalid_from = 2025-01-01\nrate = 1.27", "quoted percent string"),
    ("[[rate]]\nvalid_from = 2025-01-01", "entry 1 has no rate"),
    ("[[rate]]\nrate = \"1.27\"", "entry 1 has no valid_from"),
    ("[[rate]]\nvalid-from = 2025-01-01\nrate = \"1.27\"", "unknown keys valid-from"),
    ("[[rate]]\nvalid_from = 2025-01-01\nrate = \"1.27\"\n[[rate]]\nvalid_from = 2025-01-01\nrate = \"2\"",
     "two rates from 2025-01-01"),
    ("[[rate]]\nvalid_from = \"1.1.2025\"\nrate = \"1.27\"", "not a date like"),
    ("[[rate]]\nvalid_from = 2025-01-01T00:00:00\nrate = \"1.27\"", "must be a date"),
    ("[[rate]]\nvalid_from = 2025-01-01\nrate = \"abc\"", "not a percent figure"),
    ("[[rate]]\nvalid_from = 2025-01-01\nrate = \"\"", "not a percent figure"),
    ("[[rate]]\nvalid_from = 2025-01-01\nrate = \"127\"", "not a plausible base rate"),
    ("[[rate]]\nvalid_from = 2025-01-01\nrate = true", "percent string"),
    ("rate = \"1.27\"", "array of tables"),
    ("[[rates]]\nvalid_from = 2025-01-01\nrate = \"1.27\"", "unknown keys rates"),
    ("[[rate]]\nvalid_from = 2025-01-01\nrate = \"1.27\"\n[[rate]]\nvalid_from = 2025-07-01\nrate = \"x\"",
     "entry 2 \\(from 2025-07-01\\)"),
])
def test_bad_toml_is_a_clear_invalid_input(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        BaseRateTable.from_toml(text)


# -- default interest (§ 288 BGB) -----------------------------------------------------------------------------


def test_consumer_interest_across_a_base_rate_change() -> None:
    calc = default_interest(eur(100_000), date(2025, 6, 1), date(2025, 8, 31), consumer=True)
    # 1 Jun - 30 Jun: 30 days at 2.27 % + 5 = 7.27 %: 1000 x 0.0727 x 30 / 365 = 2181   / 365 = 5.9753424...
    # 1 Jul - 30 Aug: 61 days at 1.27 % + 5 = 6.27 %: 1000 x 0.0627 x 61 / 365 = 3824.7 / 365 = 10.4786301...
    # total: 6005.7 / 365 = 16.4539726... -> 16.45 (rounding each segment first would give 5.98 + 10.48 = 16.46)
    assert calc.segments == (
        InterestSegment(date(2025, 6, 1), date(2025, 7, 1), 30, D("0.0227"), D("0.0727"), calc.segments[0].amount),
        InterestSegment(date(2025, 7, 1), date(2025, 8, 31), 61, D("0.0127"), D("0.0627"), calc.segments[1].amount),
    )
    assert calc.segments[0].amount.quantize(D("1E-12")) == D("5.975342465753")
    assert calc.segments[1].amount.quantize(D("1E-12")) == D("10.478630136986")
    assert calc.total == eur(1645)
    assert calc.days == 91
    assert (calc.principal, calc.start, calc.end, calc.consumer) == (eur(100_000), date(2025, 6, 1),
                                                                     date(2025, 8, 31), True)


def test_business_interest_is_base_plus_nine() -> None:
    calc = default_interest(eur(100_000), date(2025, 6, 1), date(2025, 8, 31), consumer=False)
    # 30 days at 11.27 %: 1000 x 0.1127 x 30 = 3381; 61 days at 10.27 %: 1000 x 0.1027 x 61 = 6264.7
    # (3381 + 6264.7) / 365 = 9645.7 / 365 = 26.4265753... -> 26.43
    assert [s.rate for s in calc.segments] == [D("0.1127"), D("0.1027")]
    assert calc.total == eur(2643)


def test_effective_rates_first_half_of_2026() -> None:
    # REFERENCE 2.3: B2C 6.27 %, B2B 10.27 % in 1H2026. 365 days of 2026-H1-rate on 365.00: exactly the rate.
    start, end = date(2026, 1, 1), date(2026, 7, 1)
    assert default_interest(eur(36_500), start, end, consumer=True).segments[0].rate == D("0.0627")
    assert default_interest(eur(36_500), start, end, consumer=False).segments[0].rate == D("0.1027")
    # 181 days x 365.00 x 0.0627 / 365 = 181 x 0.0627 = 11.3487 -> 11.35
    assert default_interest(eur(36_500), start, end, consumer=True).total == eur(1135)


def test_leap_year_still_divides_by_365() -> None:
    calc = default_interest(eur(100_000), date(2024, 1, 1), date(2025, 1, 1), consumer=True)
    # 1 Jan - 30 Jun 2024: 182 days (31+29+31+30+31+30) at 3.62 + 5 = 8.62 %: 1000 x 0.0862 x 182 = 15688.4
    # 1 Jul - 31 Dec 2024: 184 days at 3.37 + 5 = 8.37 %:                      1000 x 0.0837 x 184 = 15400.8
    # (15688.4 + 15400.8) / 365 = 31089.2 / 365 = 85.1758904... -> 85.18 (over 366 it would be 84.94)
    assert [s.days for s in calc.segments] == [182, 184]
    assert calc.total == eur(8518)
    feb = default_interest(eur(100_000), date(2024, 2, 1), date(2024, 3, 1), consumer=True)
    # February 2024 has 29 days: 1000 x 0.0862 x 29 / 365 = 2499.8 / 365 = 6.8487671... -> 6.85
    assert feb.days == 29
    assert feb.total == eur(685)


def test_negative_base_rate_era() -> None:
    consumer = default_interest(eur(100_000), date(2022, 3, 1), date(2022, 4, 1), consumer=True)
    # 31 days at -0.88 + 5 = 4.12 %: 1000 x 0.0412 x 31 / 365 = 1277.2 / 365 = 3.4991780... -> 3.50
    assert consumer.segments[0].base_rate == D("-0.0088")
    assert consumer.segments[0].rate == D("0.0412")
    assert consumer.total == eur(350)
    business = default_interest(eur(100_000), date(2022, 3, 1), date(2022, 4, 1), consumer=False)
    # 31 days at -0.88 + 9 = 8.12 %: 1000 x 0.0812 x 31 / 365 = 2517.2 / 365 = 6.8964383... -> 6.90
    assert business.total == eur(690)


def test_from_negative_into_positive_base_rate() -> None:
    calc = default_interest(eur(100_000), date(2022, 12, 1), date(2023, 2, 1), consumer=True)
    # December 2022: 31 days at 4.12 % = 1277.2; January 2023: 31 days at 1.62 + 5 = 6.62 % = 2052.2
    # (1277.2 + 2052.2) / 365 = 3329.4 / 365 = 9.1216438... -> 9.12
    assert [(s.days, s.rate) for s in calc.segments] == [(31, D("0.0412")), (31, D("0.0662"))]
    assert calc.total == eur(912)


def test_negative_base_plus_margin_is_floored_at_zero() -> None:
    table = flat_table("-0.06")
    consumer = default_interest(eur(100_000), date(2025, 1, 1), date(2025, 2, 1), consumer=True, table=table)
    assert consumer.segments[0].base_rate == D("-0.06")
    assert consumer.segments[0].rate == 0
    assert consumer.segments[0].amount == 0
    assert consumer.total == eur(0)
    business = default_interest(eur(100_000), date(2025, 1, 1), date(2025, 2, 1), consumer=False, table=table)
    # -6 + 9 = 3 %: 1000 x 0.03 x 31 / 365 = 930 / 365 = 2.5479... -> 2.55
    assert business.total == eur(255)


def test_rate_change_exactly_on_the_start_day() -> None:
    calc = default_interest(eur(100_000), date(2025, 7, 1), date(2025, 7, 11), consumer=True)
    # one segment: 10 days at 6.27 %: 1000 x 0.0627 x 10 / 365 = 627 / 365 = 1.7178082... -> 1.72
    assert len(calc.segments) == 1
    assert (calc.segments[0].start, calc.segments[0].base_rate) == (date(2025, 7, 1), D("0.0127"))
    assert calc.total == eur(172)


def test_rate_change_on_the_end_day_is_not_a_segment() -> None:
    calc = default_interest(eur(100_000), date(2025, 6, 21), date(2025, 7, 1), consumer=True)
    # 10 days at 7.27 %: 727 / 365 = 1.9917808... -> 1.99; 1 July itself is not counted
    assert [(s.start, s.end, s.days) for s in calc.segments] == [(date(2025, 6, 21), date(2025, 7, 1), 10)]
    assert calc.total == eur(199)


def test_one_day_either_side_of_a_change() -> None:
    calc = default_interest(eur(100_000), date(2025, 6, 30), date(2025, 7, 2), consumer=True)
    # 30 Jun at 7.27 % + 1 Jul at 6.27 %: (72.7 + 62.7) / 365 = 135.4 / 365 = 0.3709589... -> 0.37
    assert [(s.days, s.rate) for s in calc.segments] == [(1, D("0.0727")), (1, D("0.0627"))]
    assert calc.total == eur(37)


def test_an_entry_repeating_the_rate_does_not_split() -> None:
    calc = default_interest(eur(100_000), date(2025, 12, 1), date(2026, 2, 1), consumer=True)
    # 1 Jan 2026 keeps 1.27 %: one segment of 62 days at 6.27 %: 3887.4 / 365 = 10.6504109... -> 10.65
    assert [(s.start, s.end, s.days) for s in calc.segments] == [(date(2025, 12, 1), date(2026, 2, 1), 62)]
    assert calc.total == eur(1065)


def test_total_is_rounded_once_half_up() -> None:
    table = flat_table("0.00")
    # 73 days at 5 % = exactly 1 % of the principal: 0.50 -> 0.005 -> 0.01 (half even would give 0.00)
    assert default_interest(eur(50), date(2025, 1, 1), date(2025, 3, 15), consumer=True, table=table).total == eur(1)
    # 2.50 -> 0.025 -> 0.03 (half even: 0.02)
    calc = default_interest(eur(250), date(2025, 1, 1), date(2025, 3, 15), consumer=True, table=table)
    assert calc.segments[0].amount == D("0.025")
    assert calc.total == eur(3)


def test_other_currencies_round_to_their_minor_unit() -> None:
    calc = default_interest(Money(100_000, "JPY"), date(2025, 7, 1), date(2025, 7, 31), consumer=False)
    # 100000 JPY x 10.27 % x 30 / 365 = 308100 / 365 = 844.1095... -> 844 JPY
    assert calc.total == Money(844, "JPY")


@pytest.mark.parametrize(("start", "end"), [
    (date(2025, 7, 1), date(2025, 7, 1)),  # empty span
    (date(2025, 7, 10), date(2025, 7, 1)),  # end before start
])
def test_no_interest_for_an_empty_or_negative_span(start: date, end: date) -> None:
    calc = default_interest(eur(100_000), start, end, consumer=True)
    assert calc.segments == ()
    assert calc.total == eur(0)
    assert calc.days == 0


@pytest.mark.parametrize("principal", [eur(0), eur(-100_000)])
def test_no_interest_on_a_zero_or_negative_principal(principal: Money) -> None:
    calc = default_interest(principal, date(2025, 1, 1), date(2026, 1, 1), consumer=False)
    assert calc.segments == ()
    assert calc.total == eur(0)


def test_one_day_is_one_day() -> None:
    calc = default_interest(eur(36_500_00), date(2025, 7, 1), date(2025, 7, 2), consumer=True)
    # 36,500.00 x 6.27 % / 365 = 6.27
    assert calc.total == eur(627)


def test_interest_before_the_table_starts_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="no base rate"):
        default_interest(eur(100_000), date(2016, 6, 1), date(2016, 8, 1), consumer=True)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidDate):
        default_interest(eur(100), datetime(2025, 1, 1), date(2025, 2, 1), consumer=True)  # noqa: DTZ001
    with pytest.raises(InvalidInput):
        default_interest(100, date(2025, 1, 1), date(2025, 2, 1), consumer=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        default_interest(eur(100), date(2025, 1, 1), date(2025, 2, 1), consumer=None)  # type: ignore[arg-type]


def test_values_are_frozen() -> None:
    calc = default_interest(eur(100_000), date(2025, 6, 1), date(2025, 8, 31), consumer=True)
    assert isinstance(calc, InterestCalculation)
    with pytest.raises(dataclasses.FrozenInstanceError):
        calc.total = eur(0)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_BASE_RATES.rates = ()  # type: ignore[misc]


def _per_day_reference(principal: Money, start: date, end: date, margin: Decimal) -> Fraction:
    """Interest summed day by day, independent of segments: each day earns rate / 365 of the principal."""
    total = Fraction(0)
    day = start
    while day < end:
        rate = max(Decimal(0), DEFAULT_BASE_RATES.rate_on(day) + margin)
        total += Fraction(principal.to_decimal()) * Fraction(rate) / 365
        day += DAY
    return total


@settings(max_examples=60, deadline=None)
@given(minor=st.integers(min_value=1, max_value=10**9),
       start=st.dates(min_value=date(2016, 7, 1), max_value=date(2027, 6, 30)),
       length=st.integers(min_value=0, max_value=800), consumer=st.booleans())
def test_segments_match_a_day_by_day_sum(minor: int, start: date, length: int, consumer: bool) -> None:
    principal, end = eur(minor), start + timedelta(days=length)
    calc = default_interest(principal, start, end, consumer=consumer)
    assert sum(s.days for s in calc.segments) == length
    if calc.segments:  # contiguous, covering [start, end)
        assert calc.segments[0].start == start and calc.segments[-1].end == end
        assert all(a.end == b.start for a, b in pairwise(calc.segments))
        assert all(s.days == (s.end - s.start).days > 0 for s in calc.segments)
    exact = _per_day_reference(principal, start, end, CONSUMER_MARGIN if consumer else BUSINESS_MARGIN)
    cents = exact * 100
    assert calc.total.minor == int(cents + Fraction(1, 2))  # half up, non-negative
    summed = sum((s.amount for s in calc.segments), Decimal(0))
    assert summed.quantize(D("0.01"), rounding=ROUND_HALF_UP) == calc.total.to_decimal()


# -- the § 288 (5) flat fee -----------------------------------------------------------------------------------


def test_business_flat_fee_is_forty_euro() -> None:
    assert business_flat_fee("EUR") == eur(4000)
    assert business_flat_fee("eur") == eur(4000)


def test_business_flat_fee_exists_only_in_euro() -> None:
    with pytest.raises(InvalidInput, match="USD"):
        business_flat_fee("USD")
    with pytest.raises(UnknownCurrency):
        business_flat_fee("ABC")


# -- when default starts (§ 286 BGB) --------------------------------------------------------------------------

DUE = date(2025, 3, 1)


@pytest.mark.parametrize("consumer", [True, False])
def test_calendar_fixed_due_date_defaults_the_day_after(consumer: bool) -> None:
    # § 286 (2) Nr. 1: paying on 1 March is in time; default and interest from 2 March
    assert default_starts_on(DUE, consumer=consumer, due_date_fixed_by_calendar=True) == date(2025, 3, 2)


@pytest.mark.parametrize("consumer", [True, False])
def test_dunning_after_the_due_date_defaults_the_day_after_the_letter(consumer: bool) -> None:
    # § 286 (1): letter on 10 March -> interest from 11 March (§ 187 (1): the day of the event does not count)
    assert default_starts_on(DUE, consumer=consumer, first_dunning_on=date(2025, 3, 10)) == date(2025, 3, 11)


@pytest.mark.parametrize("sent", [date(2025, 2, 20), DUE])
def test_dunning_on_or_before_the_due_date_does_not_count(sent: date) -> None:
    assert default_starts_on(DUE, consumer=True, first_dunning_on=sent) is None
    # a business still falls under the 30-day rule: 1 March + 31 = 1 April
    assert default_starts_on(DUE, consumer=False, first_dunning_on=sent) == date(2025, 4, 1)


def test_business_30_day_rule_without_a_known_receipt_counts_from_the_due_date() -> None:
    # the 30 days are 2 March .. 31 March (§§ 187 (1), 188 (1)); paying on 31 March is in time; default 1 April
    assert default_starts_on(DUE, consumer=False) == date(2025, 4, 1)
    # the common textbook example: due and received on 2 January -> in default from 2 February
    assert default_starts_on(date(2025, 1, 2), consumer=False) == date(2025, 2, 2)


def test_30_day_rule_counts_from_the_later_of_due_date_and_receipt() -> None:
    assert default_starts_on(DUE, consumer=False, invoice_received_on=date(2025, 3, 10)) == date(2025, 4, 10)
    assert default_starts_on(DUE, consumer=False, invoice_received_on=date(2025, 2, 10)) == date(2025, 4, 1)


def test_consumer_30_day_rule_only_when_the_invoice_says_so() -> None:
    received = date(2025, 3, 5)
    assert default_starts_on(DUE, consumer=True) is None
    assert default_starts_on(DUE, consumer=True, invoice_received_on=received) is None
    assert default_starts_on(DUE, consumer=True, invoice_received_on=received,
                             invoice_states_30_day_rule=True) == date(2025, 4, 5)
    # the fallback for an unknown receipt is for businesses only (§ 286 (3) sentence 2)
    assert default_starts_on(DUE, consumer=True, invoice_states_30_day_rule=True) is None


def test_the_earliest_trigger_wins() -> None:
    late_letter = date(2025, 4, 15)
    assert default_starts_on(DUE, consumer=False, first_dunning_on=late_letter) == date(2025, 4, 1)
    assert default_starts_on(DUE, consumer=True, first_dunning_on=late_letter) == date(2025, 4, 16)
    assert default_starts_on(DUE, consumer=True, first_dunning_on=date(2025, 3, 10),
                             due_date_fixed_by_calendar=True) == date(2025, 3, 2)
    assert default_starts_on(DUE, consumer=True, first_dunning_on=date(2025, 3, 10), invoice_received_on=DUE,
                             invoice_states_30_day_rule=True) == date(2025, 3, 11)


def test_default_start_feeds_interest() -> None:
    start = default_starts_on(date(2025, 6, 30), consumer=True, due_date_fixed_by_calendar=True)
    assert start == date(2025, 7, 1)
    # paid on 3 July: interest for 1 and 2 July at 6.27 % on 36,500.00 = 2 x 6.27 = 12.54
    assert default_interest(eur(36_500_00), start, date(2025, 7, 3), consumer=True).total == eur(1254)


def test_default_starts_on_refuses_bad_dates() -> None:
    with pytest.raises(InvalidDate):
        default_starts_on(datetime(2025, 3, 1), consumer=True)  # noqa: DTZ001
    with pytest.raises(InvalidDate):
        default_starts_on(DUE, consumer=True, first_dunning_on="2025-03-10")  # type: ignore[arg-type]


# -- applying a payment (§ 367 BGB) ---------------------------------------------------------------------------

# Two invoices in dunning, each with a dunning fee and interest booked.
CLAIMS = [
    Claim("inv-B", ClaimKind.PRINCIPAL, eur(5000), date(2025, 2, 1)),
    Claim("inv-A", ClaimKind.PRINCIPAL, eur(10_000), date(2025, 1, 1)),
    Claim("int-A", ClaimKind.INTEREST, eur(120), date(2025, 3, 1)),
    Claim("int-B", ClaimKind.INTEREST, eur(40), date(2025, 3, 1)),
    Claim("fee-B", ClaimKind.COSTS, eur(250), date(2025, 2, 15)),
    Claim("fee-A", ClaimKind.COSTS, eur(250), date(2025, 1, 15)),
]  # 156.60 in all


def allocated(allocations: list[Allocation]) -> list[tuple[str, int]]:
    return [(a.claim_id, a.amount.minor) for a in allocations]


def test_costs_then_interest_then_principal_across_two_invoices() -> None:
    allocations, surplus = allocate_payment(eur(6000), CLAIMS)
    assert allocated(allocations) == [("fee-A", 250), ("fee-B", 250), ("int-A", 120), ("int-B", 40),
                                      ("inv-A", 5340)]
    assert [a.kind for a in allocations] == [ClaimKind.COSTS, ClaimKind.COSTS, ClaimKind.INTEREST,
                                             ClaimKind.INTEREST, ClaimKind.PRINCIPAL]
    assert surplus == eur(0)


def test_a_partial_payment_stops_inside_the_costs() -> None:
    allocations, surplus = allocate_payment(eur(400), CLAIMS)
    assert allocated(allocations) == [("fee-A", 250), ("fee-B", 150)]
    assert surplus == eur(0)


def test_older_principal_is_paid_first() -> None:
    # 150.00: 6.60 costs and interest, 100.00 for inv-A (due 1 Jan), the remaining 43.40 for inv-B (due 1 Feb)
    allocations, surplus = allocate_payment(eur(15_000), CLAIMS)
    assert allocated(allocations)[-2:] == [("inv-A", 10_000), ("inv-B", 4340)]
    assert surplus == eur(0)


def test_overpayment_leaves_a_surplus() -> None:
    allocations, surplus = allocate_payment(eur(20_000), CLAIMS)
    assert sum(a.amount.minor for a in allocations) == 15_660
    assert surplus == eur(20_000 - 15_660)  # 43.40
    assert {a.claim_id: a.amount for a in allocations} == {c.id: c.open for c in CLAIMS}


def test_same_due_date_goes_by_id_and_input_order_does_not_matter() -> None:
    allocations, _ = allocate_payment(eur(100), list(reversed(CLAIMS)))
    assert allocated(allocations) == [("fee-A", 100)]
    both = [Claim("b", ClaimKind.INTEREST, eur(100), DUE), Claim("a", ClaimKind.INTEREST, eur(100), DUE)]
    assert allocated(allocate_payment(eur(150), both)[0]) == [("a", 100), ("b", 50)]


def test_zero_payment_and_settled_claims() -> None:
    assert allocate_payment(eur(0), CLAIMS) == ([], eur(0))
    settled = [Claim("fee", ClaimKind.COSTS, eur(0), DUE), Claim("inv", ClaimKind.PRINCIPAL, eur(500), DUE)]
    assert allocated(allocate_payment(eur(200), settled)[0]) == [("inv", 200)]
    assert allocate_payment(eur(200), []) == ([], eur(200))


def test_currency_mismatch() -> None:
    claims = [*CLAIMS, Claim("usd", ClaimKind.PRINCIPAL, Money(100, "USD"), DUE)]
    with pytest.raises(CurrencyMismatch, match="usd"):
        allocate_payment(eur(100), claims)
    with pytest.raises(InvalidInput):
        allocate_payment(Money(100, "USD"), CLAIMS)


def test_negative_amounts_and_duplicate_ids_are_refused() -> None:
    with pytest.raises(InvalidInput, match="negative"):
        allocate_payment(eur(-1), CLAIMS)
    with pytest.raises(InvalidInput, match="negative open"):
        allocate_payment(eur(100), [Claim("x", ClaimKind.COSTS, eur(-5), DUE)])
    with pytest.raises(InvalidInput, match="twice"):
        allocate_payment(eur(100), [CLAIMS[0], CLAIMS[0]])


claims_strategy = st.lists(
    st.builds(Claim,
              id=st.text(alphabet="abcdef", min_size=1, max_size=4),
              kind=st.sampled_from(list(ClaimKind)),
              open=st.integers(min_value=0, max_value=100_000).map(eur),
              due_on=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31))),
    max_size=8, unique_by=lambda c: c.id)


@given(amount=st.integers(min_value=0, max_value=500_000).map(eur), claims=claims_strategy)
def test_allocation_properties(amount: Money, claims: list[Claim]) -> None:
    allocations, surplus = allocate_payment(amount, claims)
    by_id = {c.id: c for c in claims}
    total_open = sum(c.open.minor for c in claims)
    # allocations sum to amount - surplus; surplus is never negative and only exists when everything is paid
    assert sum(a.amount.minor for a in allocations) == amount.minor - surplus.minor
    assert surplus.minor == max(0, amount.minor - total_open)
    # no claim gets more than is open, nor anything twice; every allocation is positive
    assert len({a.claim_id for a in allocations}) == len(allocations)
    assert all(0 < a.amount.minor <= by_id[a.claim_id].open.minor for a in allocations)
    assert all(a.kind is by_id[a.claim_id].kind for a in allocations)
    # § 367: a later kind gets money only once every earlier one is paid in full
    order = [ClaimKind.COSTS, ClaimKind.INTEREST, ClaimKind.PRINCIPAL]
    for a in allocations:
        earlier = [c for c in claims if order.index(c.kind) < order.index(a.kind)]
        paid = {x.claim_id: x.amount.minor for x in allocations}
        assert all(paid.get(c.id, 0) == c.open.minor for c in earlier)
