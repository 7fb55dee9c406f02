"""Use cases against a real database (SQLite and PostgreSQL), with a test clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from aboguard.clock import TestClock
from aboguard.domain.catalog import Audience, PlanSpec, Terms
from aboguard.domain.customers import CustomerKind, CustomerSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import ChangeTiming, SubscriptionStatus
from aboguard.errors import DuplicateCustomer, DuplicatePlanCode, InvalidSubscription, PlanNotFound
from aboguard.money import Money
from aboguard.services import customers, plans, subscriptions
from aboguard.services.context import ServiceContext

MONTH = Interval(IntervalUnit.MONTH)


@pytest.fixture
def ctx(uow_factory) -> ServiceContext:
    clock = TestClock(datetime(2025, 1, 30, 23, 30, tzinfo=UTC))  # 31 Jan 00:30 in Berlin
    return ServiceContext(uow=uow_factory, clock=clock, merchant_tz=ZoneInfo("Europe/Berlin"))


def _events(ctx: ServiceContext, aggregate_id: str | None = None) -> list[str]:
    with ctx.uow() as uow:
        return [e.name for e in uow.events.list(aggregate_id=aggregate_id)]


def _anna(ctx: ServiceContext):
    return customers.create_customer(ctx, CustomerSpec(email="anna@example.de", name="Anna", country="DE",
                                                       external_ref="shop-1"))


def test_the_merchant_calendar_date_comes_from_the_clock_in_berlin(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(Money(10_00, "EUR"), MONTH))
    view = subscriptions.create_subscription(ctx, customer_id=_anna(ctx).id, plan_code="basic")
    assert view.subscription.start_on == date(2025, 1, 31)
    assert view.current_period is not None and view.current_period.end == date(2025, 2, 28)


def test_a_new_price_is_a_new_version_and_running_subscriptions_keep_theirs(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(Money(10_00, "EUR"), MONTH))
    old = subscriptions.create_subscription(ctx, customer_id=_anna(ctx).id, plan_code="basic")
    changed = plans.change_plan_price(ctx, "basic", Money(12_00, "EUR"))
    assert [v.number for v in changed.versions] == [1, 2] and changed.current.price == Money(12_00, "EUR")
    reloaded = plans.get_plan(ctx, "basic")
    assert reloaded.current.price == Money(12_00, "EUR") and len(reloaded.versions) == 2
    assert subscriptions.get_subscription(ctx, old.subscription.id).version.price == Money(10_00, "EUR")
    bob = customers.create_customer(ctx, CustomerSpec(email="bob@example.de", name="Bob", country="DE"))
    new = subscriptions.create_subscription(ctx, customer_id=bob.id, plan_code="basic")
    assert new.version.price == Money(12_00, "EUR")
    assert _events(ctx, changed.id) == ["plan.created", "plan.price_changed"]


def test_duplicates_are_refused(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(Money(10_00, "EUR"), MONTH))
    with pytest.raises(DuplicatePlanCode):
        plans.create_plan(ctx, code="basic", name="Again", spec=PlanSpec(Money(10_00, "EUR"), MONTH))
    _anna(ctx)
    with pytest.raises(DuplicateCustomer):
        _anna(ctx)
    assert len(customers.list_customers(ctx)) == 1


def test_a_refused_subscription_writes_nothing(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="team", name="Team", spec=PlanSpec(Money(49_00, "EUR"), MONTH,
                                                                  audience=Audience.BUSINESS))
    anna = _anna(ctx)
    before = _events(ctx)
    with pytest.raises(InvalidSubscription, match="for business customers"):
        subscriptions.create_subscription(ctx, customer_id=anna.id, plan_code="team")
    with pytest.raises(PlanNotFound):
        subscriptions.create_subscription(ctx, customer_id=anna.id, plan_code="nope")
    assert subscriptions.list_subscriptions(ctx) == [] and _events(ctx) == before


def test_cancel_respects_minimum_term_and_notice_and_records_events(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="pro", name="Pro", spec=PlanSpec(
        Money(20_00, "EUR"), MONTH, terms=Terms(min_term_months=12, notice_days=30)))
    view = subscriptions.create_subscription(ctx, customer_id=_anna(ctx).id, plan_code="pro")
    sub_id = view.subscription.id
    assert view.subscription.min_term_end_on == date(2026, 1, 31)
    ctx.clock.advance(days=60)  # type: ignore[attr-defined]
    cancelled = subscriptions.cancel_subscription(ctx, sub_id)
    assert cancelled.subscription.status is SubscriptionStatus.CANCELED
    assert cancelled.subscription.ends_on == date(2026, 1, 31)
    assert cancelled.subscription.version == 2
    assert _events(ctx, sub_id) == ["subscription.created", "subscription.canceled", "contract.cancellation_confirmed"]


def test_business_customer_upgrades_and_downgrades(ctx: ServiceContext) -> None:
    spec = PlanSpec(Money(30_00, "EUR"), MONTH, audience=Audience.BUSINESS)
    plans.create_plan(ctx, code="small", name="Small", spec=spec)
    plans.create_plan(ctx, code="large", name="Large", spec=replace(spec, price=Money(90_00, "EUR")))
    firm = customers.create_customer(ctx, CustomerSpec(email="ap@firma.example", name="Erika", country="DE",
                                                       kind=CustomerKind.BUSINESS, vat_id="DE136695976"))
    sub_id = subscriptions.create_subscription(ctx, customer_id=firm.id, plan_code="small").subscription.id
    up, proration, document = subscriptions.change_subscription_plan(ctx, sub_id, "large")
    assert up.plan.code == "large" and proration is None and document is None  # nothing billed yet to prorate
    down, _, _ = subscriptions.change_subscription_plan(ctx, sub_id, "small", ChangeTiming.AUTO)
    assert down.plan.code == "large" and down.pending_plan_code == "small"
    assert down.subscription.pending_change_on == date(2025, 2, 28)


def test_pause_and_resume_move_the_billing_dates(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(Money(10_00, "EUR"), MONTH))
    sub_id = subscriptions.create_subscription(ctx, customer_id=_anna(ctx).id, plan_code="basic").subscription.id
    ctx.clock.advance(days=5)  # type: ignore[attr-defined]
    assert subscriptions.pause_subscription(ctx, sub_id).subscription.status is SubscriptionStatus.PAUSED
    ctx.clock.advance(days=7)  # type: ignore[attr-defined]
    resumed = subscriptions.resume_subscription(ctx, sub_id).subscription
    assert resumed.status is SubscriptionStatus.ACTIVE
    assert resumed.billing_anchor == date(2025, 2, 7) and resumed.next_bill_on == date(2025, 2, 7)
