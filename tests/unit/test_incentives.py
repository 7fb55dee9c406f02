"""Coupons, allowances per VAT category, loyalty streaks and Skonto: the pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aboguard.domain import coupons, early_payment, loyalty
from aboguard.domain.catalog import TaxCategory
from aboguard.domain.coupons import CouponDuration, CouponNotRedeemable, Discount, DiscountKind, InvalidCoupon
from aboguard.domain.early_payment import EarlyPaymentTerms
from aboguard.domain.invoicing import LineDraft, LineKind
from aboguard.errors import InvalidInput
from aboguard.money import Money

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)
EUR = "EUR"


def m(minor: int) -> Money:
    return Money(minor, EUR)


def line(minor: int, category: TaxCategory = TaxCategory.STANDARD) -> LineDraft:
    return LineDraft(LineKind.PLAN, "Plan", m(minor), category)


def percent(p: str) -> Discount:
    return Discount(f"{p} %", DiscountKind.PERCENT, percent=Decimal(p))


def fixed(minor: int) -> Discount:
    return Discount(f"{minor}", DiscountKind.AMOUNT, amount=m(minor))


def amounts(result: list[tuple[Discount, list[LineDraft]]]) -> list[list[tuple[TaxCategory, int]]]:
    return [[(ln.tax_category, ln.amount.minor) for ln in lines] for _, lines in result]


def test_a_percentage_is_split_over_the_vat_categories_by_what_each_charges() -> None:
    result = coupons.allowance_lines([line(30_00), line(10_00, TaxCategory.REDUCED)], [percent("10")], EUR)
    assert amounts(result) == [[(TaxCategory.STANDARD, -3_00), (TaxCategory.REDUCED, -1_00)]]
    assert all(ln.kind is LineKind.DISCOUNT for _, lines in result for ln in lines)


def test_a_fixed_discount_spread_over_categories_loses_no_cent() -> None:
    result = coupons.allowance_lines([line(10_00), line(10_00, TaxCategory.REDUCED), line(10_00, TaxCategory.EXEMPT)],
                                     [fixed(10_00)], EUR)
    parts = amounts(result)[0]
    assert sum(p for _, p in parts) == -10_00
    assert sorted(p for _, p in parts) == [-3_34, -3_33, -3_33]


def test_percentages_come_before_fixed_amounts_and_nothing_goes_below_zero() -> None:
    result = coupons.allowance_lines([line(20_00)], [fixed(15_00), percent("50")], EUR)
    by_label = {d.label: lines for d, lines in result}
    assert [ln.amount.minor for ln in by_label["50 %"]] == [-10_00]  # half of 20.00 first
    assert [ln.amount.minor for ln in by_label["1500"]] == [-10_00]  # then only the 10.00 left
    total = sum(ln.amount.minor for lines in by_label.values() for ln in lines)
    assert total == -20_00


def test_a_discount_never_takes_a_category_below_zero_even_with_a_credit_line() -> None:
    lines = [line(10_00), LineDraft(LineKind.PRORATION_CREDIT, "credit", m(-4_00), TaxCategory.STANDARD),
             line(5_00, TaxCategory.REDUCED)]
    result = coupons.allowance_lines(lines, [fixed(50_00)], EUR)
    parts = dict(amounts(result)[0])
    assert parts == {TaxCategory.STANDARD: -6_00, TaxCategory.REDUCED: -5_00}


@given(st.lists(st.tuples(st.sampled_from(list(TaxCategory)), st.integers(1, 50_000)), min_size=1, max_size=6),
       st.integers(1, 100_000), st.integers(1, 100))
def test_allowances_sum_exactly_and_never_exceed_a_category(charges: list[tuple[TaxCategory, int]], off: int,
                                                            pct: int) -> None:
    lines = [line(minor, cat) for cat, minor in charges]
    result = coupons.allowance_lines(lines, [percent(str(pct)), fixed(off)], EUR)
    base: dict[TaxCategory, int] = {}
    for cat, minor in charges:
        base[cat] = base.get(cat, 0) + minor
    taken: dict[TaxCategory, int] = {}
    for _, made in result:
        for ln in made:
            assert ln.amount.is_negative()
            taken[ln.tax_category] = taken.get(ln.tax_category, 0) - ln.amount.minor
    assert all(taken.get(cat, 0) <= base[cat] for cat in base)
    pct_value = m(sum(base.values())).multiply(Decimal(pct) / 100).minor
    expected = min(sum(base.values()), pct_value + min(off, sum(base.values()) - pct_value))
    assert sum(taken.values()) == expected


def test_coupon_validation_names_what_is_wrong() -> None:
    with pytest.raises(InvalidCoupon, match="either a percentage"):
        coupons.build_coupon("WELCOME", "Welcome", created_at=NOW)
    with pytest.raises(InvalidCoupon, match="at most 100"):
        coupons.build_coupon("WELCOME", "Welcome", percent=Decimal(120), created_at=NOW)
    with pytest.raises(InvalidCoupon, match="--periods N"):
        coupons.build_coupon("WELCOME", "Welcome", percent=Decimal(10), duration=CouponDuration.REPEATING,
                             created_at=NOW)
    with pytest.raises(InvalidCoupon, match="letters, digits"):
        coupons.build_coupon("a b", "Welcome", percent=Decimal(10), created_at=NOW)
    ok = coupons.build_coupon("welcome10", "Welcome", percent=Decimal(10), created_at=NOW)
    assert ok.code == "WELCOME10" and ok.describe() == "10 % off, once"


def test_redemption_limits_expiry_plans_and_stacking() -> None:
    coupon = coupons.build_coupon("SPRING", "Spring", amount=m(5_00), max_redemptions=2, per_customer=1,
                                  redeem_by=date(2026, 3, 31), plan_codes=["basic"], created_at=NOW)
    check = {"today": date(2026, 3, 10), "plan_code": "basic", "redeemed_in_all": 0, "redeemed_by_customer": 0,
             "running": []}
    coupons.check_redeemable(coupon, **check)  # type: ignore[arg-type]
    for change, message in (({"today": date(2026, 4, 1)}, "expired on 2026-03-31"),
                            ({"plan_code": "pro"}, "valid for the plans basic only"),
                            ({"redeemed_in_all": 2}, "its limit"),
                            ({"redeemed_by_customer": 1}, "already redeemed")):
        with pytest.raises(CouponNotRedeemable, match=message):
            coupons.check_redeemable(coupon, **{**check, **change})  # type: ignore[arg-type]
    other = coupons.build_coupon("OTHER", "Other", percent=Decimal(5), created_at=NOW)
    with pytest.raises(CouponNotRedeemable, match="stackable"):
        coupons.check_redeemable(coupon, **{**check, "running": [other]})  # type: ignore[arg-type]
    both = coupons.build_coupon("STACK", "Stack", percent=Decimal(5), stackable=True, created_at=NOW)
    coupons.check_redeemable(both, **{**check, "plan_code": "basic",  # type: ignore[arg-type]
                                      "running": [coupons.build_coupon("STACK2", "S", percent=Decimal(5),
                                                                       stackable=True, created_at=NOW)]})


def test_a_repeating_redemption_is_used_up_after_its_periods() -> None:
    coupon = coupons.build_coupon("THREE", "Three", percent=Decimal(10), duration=CouponDuration.REPEATING,
                                  periods=3, created_at=NOW)
    redemption = coupons.Redemption("r", "THREE", "c", "s", NOW)
    for left in (2, 1, 0):
        redemption = coupons.use_period(redemption, coupon)
        assert redemption.periods_left(coupon) == left
    assert redemption.status is coupons.RedemptionStatus.USED_UP
    forever = coupons.build_coupon("ALWAYS", "Always", percent=Decimal(10), duration=CouponDuration.FOREVER,
                                   created_at=NOW)
    assert coupons.use_period(coupons.Redemption("r", "ALWAYS", "c", "s", NOW), forever).periods_left(forever) is None


RULE = loyalty.build_rule("PUNCTUAL3", "Punctual", criterion=loyalty.Criterion.ON_TIME, streak=3,
                          percent=Decimal(10), created_at=NOW)


def test_a_streak_of_on_time_payments_earns_a_reward_and_starts_again() -> None:
    streak = loyalty.Streak("s", RULE.code)
    earned = None
    for n in range(3):
        streak, earned = loyalty.settle(RULE, streak, f"i{n}", on_time=True, had_failure=False)
    assert earned == ("i0", "i1", "i2") and streak.count == 0
    streak, again = loyalty.settle(RULE, streak, "i2", on_time=True, had_failure=False)
    assert again is None and streak.count == 1  # i2 counted in the finished streak is a new one here


def test_a_late_or_failed_payment_resets_the_streak() -> None:
    streak = loyalty.Streak("s", RULE.code, ("i0", "i1"))
    late, earned = loyalty.settle(RULE, streak, "i2", on_time=False, had_failure=False)
    assert (late.count, earned) == (0, None)
    failed, _ = loyalty.settle(RULE, streak, "i2", on_time=True, had_failure=True)
    assert failed.count == 0
    assert loyalty.broken(streak).count == 0
    lenient = loyalty.build_rule("NOFAIL", "No failure", criterion=loyalty.Criterion.NO_FAILURE, streak=3,
                                 percent=Decimal(100), created_at=NOW)
    after, earned = loyalty.settle(lenient, streak, "i2", on_time=False, had_failure=False)
    assert earned == ("i0", "i1", "i2") and after.count == 0
    assert lenient.describe() == "after 3 consecutive invoices paid without a failed payment: the next period free"


def test_skonto_terms_parse_and_apply_only_in_time_and_for_the_reduced_amount() -> None:
    terms = EarlyPaymentTerms.parse("2/10")
    assert (terms.percent, terms.days) == (Decimal(2), 10)
    assert EarlyPaymentTerms.parse("2,5%/14d").percent == Decimal("2.5")
    with pytest.raises(InvalidInput, match="2/10"):
        EarlyPaymentTerms.parse("two percent")
    due = {"total": m(119_00), "paid": m(0), "credited": m(0), "percent": Decimal(2), "until": date(2026, 3, 12)}
    assert early_payment.skonto_due(**due, amount=m(116_62), paid_on=date(2026, 3, 12)) == m(2_38)
    assert early_payment.skonto_due(**due, amount=m(116_62), paid_on=date(2026, 3, 13)) is None  # too late
    assert early_payment.skonto_due(**due, amount=m(100_00), paid_on=date(2026, 3, 5)) is None  # too little
    assert early_payment.skonto_due(**due, amount=m(119_00), paid_on=date(2026, 3, 5)) is None  # paid in full
    assert early_payment.skonto_due(**{**due, "paid": m(10_00)}, amount=m(106_62), paid_on=date(2026, 3, 5)) is None
