"""Incentives with the test clock: coupons on invoices, loyalty streaks, Skonto, retention offers, win-back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from aboguard.domain.coupons import CouponNotRedeemable, RedemptionStatus
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.invoicing import DocumentKind, Invoice, InvoiceStatus, LineKind
from aboguard.domain.loyalty import RewardStatus
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.errors import InvalidTransition
from aboguard.money import Money
from aboguard.services import (
    billing,
    collection,
    customers,
    incentives,
    invoices,
    loyalty,
    payment_methods,
    retention,
    subscriptions,
)
from aboguard.services.context import ServiceContext

from .test_collection import card, check_ledger, collection_context, customer_paying_with

EUR = "EUR"


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    return collection_context(engine, tmp_path)


def month(ctx: ServiceContext, months: int = 1) -> None:
    """Move on month by month (31 days), billing and collecting every day on the way."""
    for _ in range(months * 31):
        ctx.clock.advance(days=1)  # type: ignore[attr-defined]
        billing.run_billing(ctx)
        collection.run_collection(ctx)


def bill_now(ctx: ServiceContext) -> None:
    billing.run_billing(ctx)
    collection.run_collection(ctx)


def invoices_of(ctx: ServiceContext, sub: str) -> list[Invoice]:
    return invoices.list_invoices(ctx, subscription_id=sub, kind="invoice")


def discount(invoice: Invoice) -> int:
    return sum(line.amount.minor for line in invoice.lines if line.kind is LineKind.DISCOUNT)


def test_a_repeating_coupon_discounts_its_periods_then_stops(ctx: ServiceContext) -> None:
    incentives.create_coupon(ctx, "HELLO10", "Hello", percent="10", duration="repeating", periods=2)
    _, sub = customer_paying_with(ctx, "hello@example.de", card("tok_visa"))
    redemption = incentives.redeem_coupon(ctx, sub, "hello10")
    bill_now(ctx)
    month(ctx, 3)
    found = invoices_of(ctx, sub)
    assert len(found) == 4
    assert [discount(i) for i in found] == [-1_00, -1_00, 0, 0]  # 10 % of 9.99, rounded half up
    first = found[0]
    assert first.total == Money(8_99, EUR) and first.status is InvoiceStatus.PAID
    assert first.tax_groups[0].net + first.tax_groups[0].tax == Money(8_99, EUR)  # VAT on the discounted base
    assert [line.description for line in first.lines if line.kind is LineKind.DISCOUNT] == \
        ["Coupon HELLO10 (10 % off, for 2 billing periods)"]
    _, redemptions = incentives.get_coupon(ctx, "HELLO10")
    assert (redemptions[0].id, redemptions[0].periods_used, redemptions[0].status) == \
        (redemption.id, 2, RedemptionStatus.USED_UP)
    with ctx.uow() as uow:
        grants = uow.incentives.grants()
    assert [(g.source, g.source_code, g.amount.minor) for g in grants] == [("coupon", "HELLO10", 1_00)] * 2
    check_ledger(ctx)


def test_a_fixed_coupon_larger_than_the_invoice_makes_it_free_never_negative(ctx: ServiceContext) -> None:
    incentives.create_coupon(ctx, "FREEMONTH", "A month on us", amount="25.00")
    _, sub = customer_paying_with(ctx, "free@example.de", card("tok_visa"))
    incentives.redeem_coupon(ctx, sub, "FREEMONTH")
    bill_now(ctx)
    month(ctx)
    first, second = invoices_of(ctx, sub)
    assert first.total.is_zero() and first.status is InvoiceStatus.PAID and discount(first) == -9_99
    assert second.total == Money(9_99, EUR) and discount(second) == 0
    assert collection.list_payments(ctx, invoice=first.id) == []  # nothing to charge
    check_ledger(ctx)


def test_coupon_limits_expiry_and_stacking_are_enforced(ctx: ServiceContext) -> None:
    incentives.create_coupon(ctx, "ONLYONE", "Only one", percent="50", max_redemptions=1,
                             redeem_by=ctx.today())
    incentives.create_coupon(ctx, "FOREVER5", "Five forever", amount="0.50", duration="forever")
    _, first = customer_paying_with(ctx, "a@example.de", card("tok_visa"))
    _, second = customer_paying_with(ctx, "b@example.de", card("tok_visa"))
    incentives.redeem_coupon(ctx, first, "ONLYONE")
    with pytest.raises(CouponNotRedeemable, match="its limit"):
        incentives.redeem_coupon(ctx, second, "ONLYONE")
    with pytest.raises(CouponNotRedeemable, match="stackable"):
        incentives.redeem_coupon(ctx, first, "FOREVER5")
    with pytest.raises(CouponNotRedeemable, match="already runs"):
        incentives.redeem_coupon(ctx, first, "ONLYONE")
    ctx.clock.advance(days=1)  # type: ignore[attr-defined]
    incentives.create_coupon(ctx, "LATE", "Late", percent="5", redeem_by=ctx.today())
    ctx.clock.advance(days=1)  # type: ignore[attr-defined]
    with pytest.raises(CouponNotRedeemable, match="expired"):
        incentives.redeem_coupon(ctx, second, "LATE")
    with ctx.uow() as uow:
        assert len(uow.incentives.redemptions()) == 1  # refusals stored nothing


def test_on_time_payers_earn_a_reward_and_a_failed_payment_resets_the_streak(ctx: ServiceContext) -> None:
    loyalty.create_rule(ctx, "PUNCTUAL3", "Thank you for paying on time", streak=3, percent="10")
    customer, sub = customer_paying_with(ctx, "punctual@example.de", card("tok_visa"))
    bill_now(ctx)
    month(ctx)  # invoices 1 and 2 paid on time
    payment_methods.add_payment_method(ctx, customer, replace(card("4000000000009995"), make_default=True))
    month(ctx)  # invoice 3 fails (insufficient funds): the streak starts again
    payment_methods.add_payment_method(ctx, customer, replace(card("tok_visa"), make_default=True))
    collection.run_collection(ctx)  # the new card pays invoice 3 at once, late
    assert loyalty.list_rewards(ctx) == []
    month(ctx, 3)  # invoices 4, 5, 6 on time: the reward
    rewards = loyalty.list_rewards(ctx)
    assert len(rewards) == 1 and rewards[0].status is RewardStatus.PENDING
    found = invoices_of(ctx, sub)
    assert rewards[0].earned_by == tuple(i.id for i in found[3:6])
    month(ctx)  # invoice 7 carries 10 % off
    seventh = invoices_of(ctx, sub)[6]
    assert discount(seventh) == -1_00 and seventh.total == Money(8_99, EUR)
    applied = loyalty.list_rewards(ctx)[0]
    assert applied.status is RewardStatus.APPLIED and applied.applied_invoice_id == seventh.id
    with ctx.uow() as uow:
        names = [e.name for e in uow.events.list(aggregate_id=sub, limit=10_000)]
    assert names.count("loyalty.reward_granted") == 1 and names.count("loyalty.reward_applied") == 1
    report = incentives.report(ctx)
    assert report["discounts_granted_minor"] == {"loyalty": {"PUNCTUAL3 EUR": 1_00}}
    assert report["rewards_granted"] == 1 and report["on_time"]["rewarded"]["due"] == 7
    assert report["on_time"]["rewarded"]["on_time"] == 6  # all but the failed third
    check_ledger(ctx)


def transfer_customer(ctx: ServiceContext, email: str) -> str:
    customer = customers.create_customer(ctx, CustomerSpec(email=email, name="Überweiser", country="DE"))
    return subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="pro").subscription.id


@pytest.fixture
def skonto_ctx(ctx: ServiceContext) -> ServiceContext:
    from aboguard.domain.catalog import PlanSpec
    from aboguard.domain.periods import Interval, IntervalUnit
    from aboguard.services import plans
    plans.create_plan(ctx, code="pro", name="Pro", spec=PlanSpec(Money(119_00, EUR), Interval(IntervalUnit.MONTH)))
    ctx.billing = replace(ctx.billing, skonto=(Decimal(2), 10))
    return ctx


def test_skonto_in_time_settles_the_invoice_with_a_vat_correcting_credit_note(skonto_ctx: ServiceContext) -> None:
    ctx = skonto_ctx
    sub = transfer_customer(ctx, "skonto@example.de")
    billing.run_billing(ctx)
    invoice = invoices_of(ctx, sub)[0]
    assert (invoice.skonto_percent, invoice.skonto_until) == (Decimal(2), invoice.issued_on + timedelta(days=10))
    assert invoice.skonto == Money(2_38, EUR)
    ctx.clock.advance(days=10)  # type: ignore[attr-defined]  # the last day of the Skonto period
    paid = collection.record_manual_payment(ctx, invoice.number, amount="116.62")
    assert paid.status is InvoiceStatus.PAID and paid.credited == Money(2_38, EUR)
    notes = invoices.list_invoices(ctx, subscription_id=sub, kind="credit_note")
    assert len(notes) == 1 and notes[0].total == Money(2_38, EUR) and "Skonto 2 %" in notes[0].lines[0].description
    assert notes[0].tax == Money(38, EUR)  # 19 % VAT in 2.38 corrected
    with ctx.uow() as uow:
        assert [(g.source, g.amount.minor) for g in uow.incentives.grants()] == [("skonto", 2_38)]
    check_ledger(ctx)


def test_skonto_too_late_or_too_little_is_an_ordinary_partial_payment(skonto_ctx: ServiceContext) -> None:
    ctx = skonto_ctx
    late, short = transfer_customer(ctx, "late@example.de"), transfer_customer(ctx, "short@example.de")
    billing.run_billing(ctx)
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]
    short_paid = collection.record_manual_payment(ctx, invoices_of(ctx, short)[0].number, amount="100.00")
    assert short_paid.status is InvoiceStatus.PARTIALLY_PAID and short_paid.credited.is_zero()
    ctx.clock.advance(days=8)  # type: ignore[attr-defined]  # day 11: too late
    late_paid = collection.record_manual_payment(ctx, invoices_of(ctx, late)[0].number, amount="116.62")
    assert late_paid.status is InvoiceStatus.PARTIALLY_PAID and late_paid.amount_due == Money(2_38, EUR)
    assert invoices.list_invoices(ctx, kind="credit_note") == []
    check_ledger(ctx)


def test_card_invoices_offer_no_skonto(skonto_ctx: ServiceContext) -> None:
    _, sub = customer_paying_with(skonto_ctx, "card@example.de", card("tok_visa"))
    billing.run_billing(skonto_ctx)
    assert invoices_of(skonto_ctx, sub)[0].skonto_percent is None


def test_retention_offers_are_recorded_and_never_block_the_cancellation(ctx: ServiceContext) -> None:
    from aboguard.domain.catalog import PlanSpec
    from aboguard.domain.periods import Interval, IntervalUnit
    from aboguard.services import plans
    plans.create_plan(ctx, code="lite", name="Lite", spec=PlanSpec(Money(4_99, EUR), Interval(IntervalUnit.MONTH)))
    incentives.create_coupon(ctx, "STAY50", "Stay with us", percent="50", duration="repeating", periods=3)
    retention.create_offer(ctx, "STAY50", "50 % off for three months", kind="discount", coupon="STAY50")
    retention.create_offer(ctx, "BREAK2", "Take a break", kind="pause", pause_months=2)
    retention.create_offer(ctx, "LITE", "Our cheaper plan", kind="switch_plan", plan="lite")
    _, leaving = customer_paying_with(ctx, "leaving@example.de", card("tok_visa"))
    _, staying = customer_paying_with(ctx, "staying@example.de", card("tok_visa"))
    _, resting = customer_paying_with(ctx, "resting@example.de", card("tok_visa"))
    bill_now(ctx)
    assert {o.code for o in retention.offers_for(ctx, leaving)} == {"STAY50", "BREAK2", "LITE"}
    ctx.clock.advance(days=1)  # type: ignore[attr-defined]
    declined = retention.decide(ctx, leaving, "STAY50", accept=False)
    view = subscriptions.cancel_subscription(ctx, leaving)  # refusing never stands in the way
    assert view.subscription.status is SubscriptionStatus.CANCELED and not declined.accepted
    retention.decide(ctx, staying, "STAY50", accept=True)
    with ctx.uow() as uow:
        assert [r.coupon_code for r in uow.incentives.running_redemptions([staying])[staying]] == ["STAY50"]
    paused = retention.decide(ctx, resting, "BREAK2", accept=True)
    assert subscriptions.get_subscription(ctx, resting).subscription.status is SubscriptionStatus.PAUSED
    assert paused.resume_on is not None
    while ctx.today() < paused.resume_on:
        ctx.clock.advance(days=1)  # type: ignore[attr-defined]
        assert retention.resume_ended_pauses(ctx) == (1 if ctx.today() == paused.resume_on else 0)
    assert subscriptions.get_subscription(ctx, resting).subscription.status is SubscriptionStatus.ACTIVE
    assert retention.resume_ended_pauses(ctx) == 0  # once
    report = incentives.report(ctx)["retention"]
    assert report["accepted"] == {"still_subscribed": 2, "decisions": 2, "rate": 1.0}
    assert report["declined"] == {"still_subscribed": 0, "decisions": 1, "rate": 0.0}  # cancelled


def test_win_back_needs_the_debt_paid_then_starts_again_with_an_offer(ctx: ServiceContext) -> None:
    incentives.create_coupon(ctx, "WELCOMEBACK", "Welcome back", percent="20")
    retention.create_offer(ctx, "WELCOMEBACK", "20 % off your first month back", kind="discount",
                           coupon="WELCOMEBACK")
    customer, sub = customer_paying_with(ctx, "gone@example.de", card("4000000000009995"))
    bill_now(ctx)
    subscriptions.cancel_subscription(ctx, sub, immediately=True, reason="non_payment")
    unpaid = invoices_of(ctx, sub)[0]
    with pytest.raises(InvalidTransition, match=f"still owes 9,99 € on {unpaid.number}|still owes .* on "):
        retention.win_back(ctx, sub, offer_code="WELCOMEBACK")
    collection.record_manual_payment(ctx, unpaid.number)
    back = retention.win_back(ctx, sub, offer_code="WELCOMEBACK")
    new_sub = back.subscription.subscription
    assert new_sub.id != sub and back.previous_id == sub and new_sub.status is SubscriptionStatus.ACTIVE
    payment_methods.add_payment_method(ctx, customer, replace(card("tok_visa"), make_default=True))
    bill_now(ctx)
    first = invoices_of(ctx, new_sub.id)[0]
    assert discount(first) == -2_00 and first.total == Money(7_99, EUR)
    with pytest.raises(InvalidTransition, match="win-back is for subscriptions cancelled for non-payment"):
        retention.win_back(ctx, new_sub.id)
    assert [i.kind for i in invoices.list_invoices(ctx, customer_id=customer)] == [DocumentKind.INVOICE] * 2
    check_ledger(ctx)
