"""Plan versions: price and contract-term validation, consumer protection (§ 309 Nr. 9 BGB), tax defaults."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from aboguard.domain.catalog import (
    Audience,
    PaymentMethodKind,
    PlanSpec,
    PlanVersion,
    RenewalMode,
    TaxCategory,
    Terms,
    build_version,
    parse_enum,
    validate_code,
)
from aboguard.domain.periods import Interval, IntervalUnit, Period
from aboguard.errors import InvalidCustomer, InvalidPlan
from aboguard.ids import PlanId, PlanVersionId
from aboguard.money import Money

CREATED = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def a_spec(**overrides: Any) -> PlanSpec:
    spec = PlanSpec(price=eur(9_99), interval=Interval(IntervalUnit.MONTH))
    return replace(spec, **overrides)


def a_version(**overrides: Any) -> PlanVersion:
    return build_version(a_spec(**overrides), version_id=PlanVersionId("pv-basic-1"), plan_id=PlanId("plan-basic"),
                         number=1, created_at=CREATED)


def test_a_valid_spec_becomes_a_version_with_its_values() -> None:
    version = a_version(trial_days=14, setup_fee=eur(5_00), tax_category=TaxCategory.REDUCED,
                        payment_methods=frozenset({PaymentMethodKind.SEPA_DEBIT}))
    assert version.id == "pv-basic-1" and version.plan_id == "plan-basic" and version.number == 1
    assert version.price == eur(9_99)
    assert version.interval == Interval(IntervalUnit.MONTH)
    assert version.trial_days == 14 and version.setup_fee == eur(5_00)
    assert version.tax_category is TaxCategory.REDUCED
    assert version.payment_methods == frozenset({PaymentMethodKind.SEPA_DEBIT})
    assert version.created_at == CREATED


def test_a_free_plan_is_allowed() -> None:
    assert a_version(price=eur(0)).price.is_zero()


def test_negative_price_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="price must not be negative"):
        a_version(price=eur(-1))


def test_negative_setup_fee_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="setup fee must not be negative"):
        a_version(setup_fee=eur(-1))


def test_setup_fee_in_another_currency_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="setup fee currency USD differs from price currency EUR"):
        a_version(setup_fee=Money(5_00, "USD"))


@pytest.mark.parametrize("days", [-1, 366])
def test_trial_days_outside_0_to_365_are_rejected(days: int) -> None:
    with pytest.raises(InvalidPlan, match=f"trial days must be between 0 and 365, got {days}"):
        a_version(trial_days=days)


@pytest.mark.parametrize("days", [0, 365])
def test_trial_days_at_the_limits_are_accepted(days: int) -> None:
    assert a_version(trial_days=days).trial_days == days


def test_trial_period_starts_on_the_start_day() -> None:
    assert a_version(trial_days=14).trial_period(date(2025, 1, 31)) == Period(date(2025, 1, 31), date(2025, 2, 14))
    assert a_version(trial_days=0).trial_period(date(2025, 1, 31)) is None


def test_consumer_minimum_term_of_24_months_is_the_limit() -> None:
    assert a_version(terms=Terms(min_term_months=24)).terms.min_term_months == 24
    with pytest.raises(InvalidPlan, match=r"at most 24 months \(§ 309 Nr. 9 BGB\), got 25"):
        a_version(terms=Terms(min_term_months=25))


def test_consumer_notice_of_more_than_30_days_is_rejected() -> None:
    assert a_version(terms=Terms(notice_days=30)).terms.notice_days == 30
    with pytest.raises(InvalidPlan, match=r"at most one month \(30 days\) notice .* got 31 days"):
        a_version(terms=Terms(notice_days=31))


def test_consumer_fixed_term_renewal_is_rejected_but_a_business_may_have_it() -> None:
    terms = Terms(min_term_months=12, notice_days=30, renewal=RenewalMode.FIXED_TERM, renewal_term_months=12)
    with pytest.raises(InvalidPlan, match="consumer plans may not renew for another fixed term"):
        a_version(terms=terms)
    assert a_version(terms=terms, audience=Audience.BUSINESS).terms == terms


def test_business_plans_may_bind_longer_with_longer_notice() -> None:
    terms = Terms(min_term_months=36, notice_days=90)
    assert a_version(terms=terms, audience=Audience.BUSINESS).terms == terms


def test_fixed_term_renewal_needs_a_term_length() -> None:
    with pytest.raises(InvalidPlan, match="fixed-term renewal needs a renewal term or a minimum term"):
        a_version(audience=Audience.BUSINESS, terms=Terms(renewal=RenewalMode.FIXED_TERM))


@pytest.mark.parametrize("terms", [Terms(min_term_months=-1), Terms(notice_days=-1), Terms(renewal_term_months=-1)])
def test_negative_terms_are_rejected(terms: Terms) -> None:
    with pytest.raises(InvalidPlan, match="must not be negative"):
        a_version(terms=terms, audience=Audience.BUSINESS)


def test_a_plan_without_payment_methods_is_rejected() -> None:
    with pytest.raises(InvalidPlan, match="at least one payment method"):
        a_version(payment_methods=frozenset())


def test_all_payment_methods_are_allowed_by_default() -> None:
    assert a_version().payment_methods == frozenset(PaymentMethodKind)


def test_consumer_prices_default_to_gross_and_business_prices_to_net() -> None:
    assert a_version(audience=Audience.CONSUMER).tax_inclusive is True
    assert a_version(audience=Audience.BUSINESS).tax_inclusive is False


def test_an_explicit_tax_inclusive_choice_is_kept() -> None:
    assert a_version(audience=Audience.CONSUMER, tax_inclusive=False).tax_inclusive is False
    assert a_version(audience=Audience.BUSINESS, tax_inclusive=True).tax_inclusive is True


def test_daily_rate_compares_prices_across_intervals() -> None:
    monthly = a_version(price=eur(30_00))
    yearly = a_version(price=eur(300_00), interval=Interval(IntervalUnit.YEAR))
    assert yearly.daily_rate() < monthly.daily_rate()


# --- parsing --------------------------------------------------------------------------------------


def test_interval_parse_accepts_any_case() -> None:
    assert Interval.parse("Month", 3) == Interval(IntervalUnit.MONTH, 3)
    assert Interval.parse("year") == Interval(IntervalUnit.YEAR)


def test_interval_parse_rejects_an_unknown_unit_naming_the_choices() -> None:
    with pytest.raises(InvalidPlan, match="unknown interval 'fortnight': use day, week, month or year"):
        Interval.parse("fortnight")


def test_interval_parse_rejects_a_count_below_one() -> None:
    with pytest.raises(InvalidPlan, match="at least 1, not 0"):
        Interval.parse("month", 0)


def test_parse_enum_trims_and_lower_cases() -> None:
    assert parse_enum(Audience, " Business ", "audience") is Audience.BUSINESS


def test_parse_enum_error_lists_the_allowed_values() -> None:
    with pytest.raises(InvalidPlan, match="unknown audience 'public': use one of consumer, business"):
        parse_enum(Audience, "public", "audience")


def test_parse_enum_raises_the_error_class_asked_for() -> None:
    with pytest.raises(InvalidCustomer, match="unknown tax category 'zero': use one of standard, reduced, exempt"):
        parse_enum(TaxCategory, "zero", "tax category", InvalidCustomer)


@pytest.mark.parametrize("code", ["", "  ", "a b", "x" * 65, "päckchen!"])
def test_validate_code_rejects_bad_codes(code: str) -> None:
    with pytest.raises(InvalidPlan, match="must be 1-64 letters"):
        validate_code(code)


def test_validate_code_trims() -> None:
    assert validate_code(" pro-2025_v1.0 ") == "pro-2025_v1.0"


# --- terms ----------------------------------------------------------------------------------------


def test_min_term_end_is_counted_in_months_from_the_first_paid_day() -> None:
    assert Terms(min_term_months=12).min_term_end(date(2024, 2, 29)) == date(2025, 2, 28)
    assert Terms(min_term_months=1).min_term_end(date(2025, 1, 31)) == date(2025, 2, 28)
    assert Terms().min_term_end(date(2025, 1, 31)) is None


def test_term_end_on_or_after_walks_renewal_terms_after_the_minimum_term() -> None:
    terms = Terms(min_term_months=12, renewal=RenewalMode.FIXED_TERM, renewal_term_months=6)
    start = date(2025, 1, 15)
    assert terms.term_end_on_or_after(start, date(2025, 6, 1)) == date(2026, 1, 15)
    assert terms.term_end_on_or_after(start, date(2026, 1, 15)) == date(2026, 1, 15)
    assert terms.term_end_on_or_after(start, date(2026, 1, 16)) == date(2026, 7, 15)
    assert terms.term_end_on_or_after(start, date(2026, 7, 16)) == date(2027, 1, 15)


def test_term_end_on_or_after_uses_the_minimum_term_as_renewal_term_by_default() -> None:
    terms = Terms(min_term_months=12, renewal=RenewalMode.FIXED_TERM)
    assert terms.term_end_on_or_after(date(2025, 1, 15), date(2026, 2, 1)) == date(2027, 1, 15)


def test_term_boundaries_of_a_month_end_start_stay_on_the_month_end() -> None:
    terms = Terms(min_term_months=1, renewal=RenewalMode.FIXED_TERM, renewal_term_months=1)
    start = date(2025, 1, 31)
    assert terms.term_end_on_or_after(start, date(2025, 2, 1)) == date(2025, 2, 28)
    assert terms.term_end_on_or_after(start, date(2025, 3, 1)) == date(2025, 3, 31)


def test_cancellation_deadline_is_the_notice_period_before_the_term_end() -> None:
    assert Terms(notice_days=30).cancellation_deadline(date(2026, 1, 31)) == date(2026, 1, 1)
    assert Terms(notice_days=0).cancellation_deadline(date(2026, 1, 31)) == date(2026, 1, 31)
    assert Terms(notice_days=90).cancellation_deadline(date(2026, 3, 1)) == date(2025, 12, 1)
