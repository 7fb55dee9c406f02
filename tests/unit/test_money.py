"""Money: integer minor units, one currency at a time, explicit rounding, allocation, parsing, formatting."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aboguard.errors import CurrencyMismatch, InvalidMoney, UnknownCurrency
from aboguard.money import CURRENCY_EXPONENTS, Money, check_currency, exponent, round_to_minor

any_currency = st.sampled_from(sorted(CURRENCY_EXPONENTS))
minors = st.integers(min_value=-(10**15), max_value=10**15)


def minor_units(money_list: list[Money]) -> list[int]:
    return [m.minor for m in money_list]


# -- currencies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "places"), [
    ("EUR", 2), ("USD", 2), ("GBP", 2), ("HUF", 2), ("XCG", 2),
    ("JPY", 0), ("KRW", 0), ("ISK", 0), ("CLP", 0), ("VND", 0), ("XOF", 0), ("XAF", 0),
    ("BHD", 3), ("KWD", 3), ("JOD", 3), ("OMR", 3), ("TND", 3), ("LYD", 3), ("IQD", 3),
    ("CLF", 4), ("UYW", 4),
])
def test_exponent_is_the_iso_4217_minor_unit(code: str, places: int) -> None:
    assert exponent(code) == places
    assert CURRENCY_EXPONENTS[code] == places


def test_currency_table_holds_only_active_codes_with_a_minor_unit() -> None:
    assert 160 <= len(CURRENCY_EXPONENTS) <= 170
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in CURRENCY_EXPONENTS)
    assert set(CURRENCY_EXPONENTS.values()) == {0, 2, 3, 4}
    for not_money in ("XAU", "XAG", "XPT", "XPD", "XTS", "XXX", "XDR", "XSU", "XUA", "XBA"):
        assert not_money not in CURRENCY_EXPONENTS
    for withdrawn in ("HRK", "SLL", "ZWL", "ANG", "BGN", "DEM"):
        assert withdrawn not in CURRENCY_EXPONENTS


def test_currency_table_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        CURRENCY_EXPONENTS["EUR"] = 3  # type: ignore[index]


def test_check_currency_normalises_case_and_surrounding_space() -> None:
    assert check_currency("eur") == "EUR"
    assert check_currency(" usd ") == "USD"
    assert exponent("jpy") == 0
    assert Money(1, "eur").currency == "EUR"
    assert Money(1, "eur") == Money(1, "EUR")


@pytest.mark.parametrize("bad", ["EURO", "XAU", "", "E U", None, 978])
def test_unknown_currency_is_refused_with_a_hint(bad: object) -> None:
    expected = f"unknown currency {bad!r}: use a three-letter ISO 4217 code such as EUR"
    for attempt in (lambda: check_currency(bad), lambda: exponent(bad), lambda: Money(1, bad)):  # type: ignore[arg-type]
        with pytest.raises(UnknownCurrency) as caught:
            attempt()
        assert str(caught.value) == expected


# -- construction ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [9.99, True, False, "999", Decimal("9.99"), Decimal(999), None])
def test_minor_units_must_be_an_int(bad: object) -> None:
    with pytest.raises(InvalidMoney, match="whole number of minor units") as caught:
        Money(bad, "EUR")  # type: ignore[arg-type]
    assert repr(bad) in str(caught.value)


def test_zero_is_zero_in_the_given_currency() -> None:
    assert Money.zero("jpy") == Money(0, "JPY")
    assert Money.zero("EUR").is_zero()


def test_money_is_immutable_and_hashable() -> None:
    price = Money(19_99, "EUR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        price.minor = 1  # type: ignore[misc]
    assert len({Money(19_99, "EUR"), Money(19_99, "eur"), Money(19_99, "USD")}) == 2


# -- parsing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "minor"), [
    ("9.99", 9_99), ("9,99", 9_99), ("-9.99", -9_99), ("-9,99", -9_99), ("+5", 5_00), ("1000", 1000_00),
    ("1.234,56", 1234_56), ("1,234.56", 1234_56), ("-1.234,56", -1234_56), ("  9.9 ", 9_90), ("0,05", 5),
    ("1 234,56", 1234_56), ("1\u00a0234,56", 1234_56), ("1\u202f234,56", 1234_56), ("1 234 567", 1234567_00),
    ("1.234.567", 1234567_00), ("1,234,567", 1234567_00), ("1.234.567,89", 1234567_89),
    ("1,234,567.89", 1234567_89), ("007", 7_00), ("0", 0),
])
def test_parse_accepts_common_ways_of_writing_amounts(text: str, minor: int) -> None:
    assert Money.parse(text, "EUR") == Money(minor, "EUR")


@pytest.mark.parametrize(("text", "message"), [
    ("9.999", r"^'9.999' has more decimals than EUR allows \(2\)"),
    ("9,999", r"^'9,999' has more decimals than EUR allows \(2\)"),
    ("0.001", r"^'0.001' has more decimals than EUR allows \(2\)$"),
    ("9.990", "more decimals than EUR allows"),
    ("1,234,567.891", "more decimals than EUR allows"),
    ("", "^'' is not an amount"), ("   ", "^'' is not an amount"), ("abc", "^'abc' is not an amount"),
    ("9.99 EUR", "is not an amount"), ("€9.99", "is not an amount"), ("9.99€", "is not an amount"),
    ("1e3", "is not an amount"), (".5", "is not an amount"), ("9.", "is not an amount"),
    ("- 9", "is not an amount"), ("--9", "is not an amount"), ("1 234.567,89", "is not an amount"),
    ("1.234,5 6", "is not an amount"), ("1,2.3,4", "is not an amount"),
    ("1.2.3", "^'1.2.3' is not an amount: digits between group separators come in threes"),
    ("1.234.56", "come in threes"), ("1,23,4.5", "come in threes"), ("12 34", "come in threes"),
    ("1..234", "come in threes"), ("1234.567,89", "come in threes"),
])
def test_parse_refuses_what_it_cannot_read_exactly(text: str, message: str) -> None:
    with pytest.raises(InvalidMoney, match=message):
        Money.parse(text, "EUR")


def test_parse_reads_a_lone_separator_as_decimal_and_says_so() -> None:
    with pytest.raises(InvalidMoney) as caught:
        Money.parse("1.234", "EUR")
    assert str(caught.value) == (
        "'1.234' has more decimals than EUR allows (2); a single '.' is read as the decimal separator"
    )
    with pytest.raises(InvalidMoney, match="a single ',' is read as the decimal separator"):
        Money.parse("1,234", "EUR")


def test_parse_uses_the_currency_exponent() -> None:
    assert Money.parse("1000", "JPY") == Money(1000, "JPY")
    assert Money.parse("1.234.567", "jpy") == Money(1_234_567, "JPY")
    assert Money.parse("1.234", "BHD") == Money(1_234, "BHD")
    assert Money.parse("0,0001", "CLF") == Money(1, "CLF")
    with pytest.raises(InvalidMoney, match=r"more decimals than JPY allows \(0\)"):
        Money.parse("10,5", "JPY")


def test_parse_keeps_every_digit_of_a_long_amount() -> None:
    assert Money.parse("123456789012345678901234567890,12", "EUR").minor == 12345678901234567890123456789012


def test_parse_refuses_non_text_and_unknown_currencies() -> None:
    with pytest.raises(InvalidMoney, match="is not an amount"):
        Money.parse(9.99, "EUR")  # type: ignore[arg-type]
    with pytest.raises(UnknownCurrency):
        Money.parse("9.99", "EURO")


# -- Decimal in and out ---------------------------------------------------------------------------------


def test_from_decimal_rounds_half_up_by_default() -> None:
    assert Money.from_decimal(Decimal("0.005"), "EUR") == Money(1, "EUR")
    assert Money.from_decimal(Decimal("-0.005"), "EUR") == Money(-1, "EUR")
    assert Money.from_decimal(Decimal("0.00499"), "EUR") == Money(0, "EUR")
    assert Money.from_decimal(Decimal("12.345"), "eur") == Money(12_35, "EUR")
    assert Money.from_decimal(Decimal("0.5"), "JPY") == Money(1, "JPY")
    assert Money.from_decimal(Decimal("1.2345"), "BHD") == Money(1_235, "BHD")
    assert Money.from_decimal(Decimal("19.99"), "EUR") == Money(19_99, "EUR")
    assert round_to_minor(Decimal("0.025"), "EUR") == 3  # half-even would give 2
    assert round_to_minor(Decimal("-0.025"), "EUR") == -3


def test_from_decimal_takes_an_explicit_rounding_mode() -> None:
    assert Money.from_decimal(Decimal("0.005"), "EUR", ROUND_HALF_EVEN) == Money(0, "EUR")
    assert Money.from_decimal(Decimal("0.015"), "EUR", ROUND_HALF_EVEN) == Money(2, "EUR")
    assert Money.from_decimal(Decimal("0.019"), "EUR", ROUND_DOWN) == Money(1, "EUR")
    assert round_to_minor(Decimal("-0.019"), "EUR", ROUND_DOWN) == -1
    with pytest.raises(ValueError, match="unknown rounding mode 'HALF_UP'"):
        round_to_minor(Decimal("0.005"), "EUR", "HALF_UP")


def test_rounding_happens_once_even_beyond_28_digits() -> None:
    # The default decimal context would first round this to 0.5 (28 digits) and then half-up to 1 cent.
    assert round_to_minor(Decimal("0.00499999999999999999999999999999"), "EUR") == 0
    big = Decimal("12345678901234567890123456789.015")
    assert round_to_minor(big, "EUR") == 1234567890123456789012345678902


@pytest.mark.parametrize("bad", [0.005, 1, "0.005"])
def test_from_decimal_refuses_anything_but_decimal(bad: object) -> None:
    with pytest.raises(TypeError, match="takes a Decimal"):
        Money.from_decimal(bad, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_from_decimal_refuses_non_finite_amounts(bad: Decimal) -> None:
    with pytest.raises(InvalidMoney, match="must be a finite number"):
        Money.from_decimal(bad, "EUR")


@pytest.mark.parametrize(("money", "text"), [
    (Money(9_99, "EUR"), "9.99"), (Money(0, "EUR"), "0.00"), (Money(-5, "EUR"), "-0.05"),
    (Money(1000, "JPY"), "1000"), (Money(1_000, "BHD"), "1.000"), (Money(1, "CLF"), "0.0001"),
    (Money(12345678901234567890123456789012, "EUR"), "123456789012345678901234567890.12"),
])
def test_to_decimal_has_exactly_the_currency_places(money: Money, text: str) -> None:
    value = money.to_decimal()
    assert str(value) == text
    assert value.as_tuple().exponent == -exponent(money.currency)


# -- arithmetic and comparison --------------------------------------------------------------------------


def test_arithmetic_within_one_currency() -> None:
    assert Money(9_99, "EUR") + Money(1, "EUR") == Money(10_00, "EUR")
    assert Money(10_00, "EUR") - Money(10_01, "EUR") == Money(-1, "EUR")
    assert -Money(5, "EUR") == Money(-5, "EUR")
    assert abs(Money(-5, "EUR")) == Money(5, "EUR")
    assert abs(Money(5, "EUR")) == Money(5, "EUR")


def test_comparison_within_one_currency() -> None:
    assert Money(1, "EUR") < Money(2, "EUR")
    assert not Money(2, "EUR") < Money(2, "EUR")
    assert Money(2, "EUR") <= Money(2, "EUR")
    assert Money(3, "EUR") > Money(2, "EUR")
    assert Money(2, "EUR") >= Money(2, "EUR")
    assert not Money(1, "EUR") >= Money(2, "EUR")
    assert max(Money(3, "EUR"), Money(-7, "EUR"), Money(5, "EUR")) == Money(5, "EUR")


@pytest.mark.parametrize(("op", "message"), [
    (lambda a, b: a + b, "cannot add USD to EUR"),
    (lambda a, b: a - b, "cannot subtract USD from EUR"),
    (lambda a, b: a < b, "cannot compare EUR with USD"),
    (lambda a, b: a <= b, "cannot compare EUR with USD"),
    (lambda a, b: a > b, "cannot compare EUR with USD"),
    (lambda a, b: a >= b, "cannot compare EUR with USD"),
])
def test_mixing_currencies_is_refused(op, message: str) -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        op(Money(1_00, "EUR"), Money(1_00, "USD"))
    assert str(caught.value) == message


def test_equality_across_currencies_is_simply_false() -> None:
    assert Money(1_00, "EUR") != Money(1_00, "USD")
    assert Money(1_00, "EUR") != 100
    assert Money(1_00, "EUR") == Money(1_00, "EUR")


def test_money_does_not_mix_with_plain_numbers() -> None:
    with pytest.raises(TypeError):
        Money(1, "EUR") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        1 + Money(1, "EUR")  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(1, "EUR") - Decimal(1)  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(1, "EUR") < 2  # type: ignore[operator]  # noqa: B015


def test_sign_questions_instead_of_truthiness() -> None:
    zero, plus, minus = Money(0, "EUR"), Money(1, "EUR"), Money(-1, "EUR")
    assert (zero.is_zero(), zero.is_positive(), zero.is_negative()) == (True, False, False)
    assert (plus.is_zero(), plus.is_positive(), plus.is_negative()) == (False, True, False)
    assert (minus.is_zero(), minus.is_positive(), minus.is_negative()) == (False, False, True)
    assert bool(Money(0, "EUR")) is True  # no __bool__: ask is_zero() instead


# -- multiply -------------------------------------------------------------------------------------------


def test_multiply_by_a_rate_rounds_half_up_once() -> None:
    assert Money(9_99, "EUR").multiply(Decimal("0.19")) == Money(1_90, "EUR")  # 189.81 cents
    assert Money(25, "EUR").multiply(Decimal("0.5")) == Money(13, "EUR")
    assert Money(-25, "EUR").multiply(Decimal("0.5")) == Money(-13, "EUR")  # half away from zero
    assert Money(19_99, "EUR").multiply(Decimal("1.19")) == Money(23_79, "EUR")  # 2378.81 cents


def test_multiply_takes_an_explicit_rounding_mode() -> None:
    assert Money(25, "EUR").multiply(Decimal("0.5"), ROUND_HALF_EVEN) == Money(12, "EUR")
    assert Money(9_99, "EUR").multiply(Decimal("0.19"), ROUND_DOWN) == Money(1_89, "EUR")


def test_multiply_by_an_int_is_exact() -> None:
    assert Money(3_00, "EUR").multiply(3) == Money(9_00, "EUR")
    assert Money(3_00, "EUR").multiply(-2) == Money(-6_00, "EUR")
    assert Money(1000, "JPY").multiply(0) == Money(0, "JPY")


def test_multiply_does_not_round_before_the_final_rounding() -> None:
    assert Money(1, "EUR").multiply(Decimal("0.4999999999999999999999999999999")) == Money(0, "EUR")
    big = 10**30 + 1
    assert Money(big, "EUR").multiply(Decimal("1.0000000000")) == Money(big, "EUR")


@pytest.mark.parametrize("bad", [0.19, True, "0.19", Fraction(1, 2)])
def test_multiply_refuses_floats_and_other_types(bad: object) -> None:
    with pytest.raises(TypeError, match="Decimal or an int"):
        Money(1_00, "EUR").multiply(bad)  # type: ignore[arg-type]


def test_multiply_refuses_non_finite_factors() -> None:
    with pytest.raises(InvalidMoney, match="must be a finite number"):
        Money(1_00, "EUR").multiply(Decimal("NaN"))


# -- allocate and split ---------------------------------------------------------------------------------


def test_allocation_gives_left_over_units_to_the_first_of_equal_parts() -> None:
    assert minor_units(Money(10_00, "EUR").allocate([1, 1, 1])) == [3_34, 3_33, 3_33]
    assert minor_units(Money(11_00, "EUR").allocate([1, 1, 1])) == [3_67, 3_67, 3_66]
    assert minor_units(Money(7, "EUR").split(2)) == [4, 3]
    assert minor_units(Money(5, "EUR").split(3)) == [2, 2, 1]


def test_allocation_of_a_negative_amount_is_symmetric() -> None:
    assert minor_units(Money(-10_00, "EUR").allocate([1, 1, 1])) == [-3_34, -3_33, -3_33]
    assert minor_units(Money(-4, "EUR").allocate([1, 2])) == [-1, -3]


def test_allocation_gives_left_over_units_by_largest_remainder() -> None:
    assert minor_units(Money(4, "EUR").allocate([1, 2])) == [1, 3]  # exact 1.33 / 2.67
    assert minor_units(Money(1, "EUR").allocate([1, 100])) == [0, 1]
    assert minor_units(Money(10, "EUR").allocate([3, 3, 4])) == [3, 3, 4]


def test_allocation_gives_zero_ratios_nothing() -> None:
    assert minor_units(Money(5, "EUR").allocate([0, 1, 1])) == [0, 3, 2]
    assert minor_units(Money(1, "EUR").allocate([1, 0, 1])) == [1, 0, 0]


def test_allocation_accepts_decimal_ratios_and_keeps_the_currency() -> None:
    parts = Money(100_00, "EUR").allocate([Decimal("0.7"), Decimal("0.3")])
    assert parts == [Money(70_00, "EUR"), Money(30_00, "EUR")]
    assert Money(1000, "JPY").allocate([1, 2]) == [Money(333, "JPY"), Money(667, "JPY")]
    assert Money(0, "EUR").allocate([1, 2]) == [Money(0, "EUR"), Money(0, "EUR")]


@pytest.mark.parametrize("ratios", [
    [], [0, 0], [1, -1], [Decimal("-0.5"), 1], [0.5, 0.5], [True, 1], [Decimal("NaN"), 1], ["1", 1], "11",
    {1, 2}, None,
])
def test_allocation_refuses_bad_ratios(ratios) -> None:
    with pytest.raises(InvalidMoney, match="allocation ratios must be ints or Decimals"):
        Money(1_00, "EUR").allocate(ratios)


@pytest.mark.parametrize("n", [0, -1, True, 1.5, "2"])
def test_split_needs_a_positive_whole_number_of_parts(n: object) -> None:
    with pytest.raises(InvalidMoney, match="cannot split money into"):
        Money(1_00, "EUR").split(n)  # type: ignore[arg-type]


# -- text -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("money", "locale", "text"), [
    (Money(9_99, "EUR"), "de", "9,99\xa0€"),  # babel puts a no-break space before the symbol
    (Money(9_99, "EUR"), "de_DE", "9,99\xa0€"),
    (Money(9_99, "EUR"), "de-DE", "9,99\xa0€"),
    (Money(9_99, "EUR"), "en", "€9.99"),
    (Money(9_99, "EUR"), "en_GB", "€9.99"),
    (Money(9_99, "GBP"), "en_GB", "£9.99"),
    (Money(9_99, "USD"), "en", "$9.99"),
    (Money(9_99, "USD"), "de", "9,99\xa0$"),
    (Money(0, "EUR"), "de", "0,00\xa0€"),
    (Money(1234567_89, "EUR"), "de", "1.234.567,89\xa0€"),
    (Money(1234567_89, "EUR"), "en", "€1,234,567.89"),
    (Money(-9_99, "EUR"), "de", "-9,99\xa0€"),
    (Money(-9_99, "EUR"), "en", "-€9.99"),
    (Money(1000, "JPY"), "en", "¥1,000"),
    (Money(1000, "JPY"), "de", "1.000\xa0¥"),
    (Money(-1000, "JPY"), "en", "-¥1,000"),
    (Money(1_000, "BHD"), "en", "BHD1.000"),  # three decimals, as ISO 4217 says
    (Money(1_500, "IQD"), "en", "IQD1.500"),  # ISO 3 decimals, although CLDR would show none
    (Money(1_00, "HUF"), "de", "1,00\xa0HUF"),  # ISO 2 decimals, although CLDR would show none
    (Money(1_2345, "CLF"), "en", "CLF1.2345"),
])
def test_format_uses_babel_with_iso_decimals(money: Money, locale: str, text: str) -> None:
    assert money.format(locale) == text


def test_format_defaults_to_german() -> None:
    assert Money(19_99, "EUR").format() == "19,99\xa0€"


def test_format_leaves_babels_shared_locale_data_alone() -> None:
    from babel.numbers import format_currency

    Money(1000, "JPY").format("en")
    Money(1_000, "BHD").format("de")
    assert format_currency(Decimal("9.99"), "USD", locale="en", currency_digits=False) == "$9.99"
    assert format_currency(Decimal("9.99"), "EUR", locale="de", currency_digits=False) == "9,99\xa0€"


@pytest.mark.parametrize(("money", "text"), [
    (Money(9_99, "EUR"), "9.99 EUR"), (Money(1000, "JPY"), "1000 JPY"), (Money(-5, "EUR"), "-0.05 EUR"),
    (Money(0, "EUR"), "0.00 EUR"), (Money(1_000, "BHD"), "1.000 BHD"),
    (Money(10**30, "JPY"), f"{10**30} JPY"),
])
def test_str_is_plain_text_for_logs(money: Money, text: str) -> None:
    assert str(money) == text


def test_to_dict_names_the_minor_amount() -> None:
    assert Money(9_99, "eur").to_dict() == {"amount_minor": 999, "currency": "EUR"}
    assert Money(-1000, "JPY").to_dict() == {"amount_minor": -1000, "currency": "JPY"}


# -- properties -----------------------------------------------------------------------------------------

ratio_lists = st.lists(
    st.one_of(st.integers(min_value=0, max_value=1000),
              st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)),
    min_size=1, max_size=12,
).filter(lambda ratios: sum(ratios) > 0)


@given(minors, ratio_lists, any_currency)
def test_allocated_parts_sum_to_the_whole_and_stay_within_one_unit_of_the_exact_share(
    minor: int, ratios: list[int | Decimal], currency: str,
) -> None:
    parts = Money(minor, currency).allocate(ratios)
    assert len(parts) == len(ratios)
    assert sum(p.minor for p in parts) == minor
    assert all(p.currency == check_currency(currency) for p in parts)
    total = sum(Fraction(r) for r in ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        assert abs(part.minor - minor * Fraction(ratio) / total) < 1
        if ratio == 0:
            assert part.minor == 0


@given(minors, st.integers(min_value=1, max_value=50))
def test_equal_parts_differ_by_at_most_one_minor_unit_larger_first(minor: int, n: int) -> None:
    parts = minor_units(Money(minor, "EUR").split(n))
    assert sum(parts) == minor
    assert max(parts) - min(parts) <= 1
    assert [abs(p) for p in parts] == sorted((abs(p) for p in parts), reverse=True)


@given(minors, any_currency)
def test_parse_round_trips_the_decimal_text(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    plain = str(money.to_decimal())
    assert Money.parse(plain, currency) == money
    assert Money.parse(plain.replace(".", ","), currency) == money
    assert Money.from_decimal(money.to_decimal(), currency) == money


@given(minors, st.sampled_from(["EUR", "JPY", "BHD", "CLF"]))
def test_parse_round_trips_grouped_text(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    english = f"{money.to_decimal():,f}"  # "-1,234,567.89"
    german = english.translate(str.maketrans(",.", ".,"))
    for text in (english, german):
        if text.count(".") == 1 and "," not in text and len(text.split(".")[1]) == 3:
            continue  # "1.234" alone is read as a decimal, by design
        if text.count(",") == 1 and "." not in text and len(text.split(",")[1]) == 3:
            continue
        assert Money.parse(text, currency) == money


@given(minors, minors)
def test_add_and_subtract_are_inverse(a: int, b: int) -> None:
    x, y = Money(a, "EUR"), Money(b, "EUR")
    assert x + y - y == x
    assert x - y + y == x
    assert x + y == y + x
    assert x - x == Money.zero("EUR")
    assert -x + x == Money.zero("EUR")
    assert (-x).minor == -a


@given(minors, any_currency)
def test_multiply_by_one_is_identity(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert money.multiply(1) == money
    assert money.multiply(Decimal(1)) == money
    assert money.multiply(Decimal("1.000000")) == money


@given(minors, minors)
def test_ordering_follows_minor_units(a: int, b: int) -> None:
    x, y = Money(a, "EUR"), Money(b, "EUR")
    assert (x < y) == (a < b)
    assert (x <= y) == (a <= b)
    assert (x > y) == (a > b)
    assert (x >= y) == (a >= b)
    assert (x == y) == (a == b)
