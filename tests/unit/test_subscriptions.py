"""The subscription lifecycle as calendar scenarios: start, trial, cancellation law, dunning states,
pause/resume, plan changes with proration, and billing of missed periods."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aboguard.domain import subscriptions as subs
from aboguard.domain.catalog import Audience, Plan, PlanSpec, PlanVersion, RenewalMode, Terms, build_version
from aboguard.domain.customers import Customer, CustomerKind, CustomerSpec, build_customer
from aboguard.domain.periods import Interval, IntervalUnit, Period, add_months
from aboguard.domain.subscriptions import ChangeTiming, Proration, Subscription, SubscriptionStatus
from aboguard.errors import AboguardError, InvalidDate, InvalidSubscription, InvalidTransition
from aboguard.ids import CustomerId, PlanId, PlanVersionId, ProductId, SubscriptionId
from aboguard.money import Money

CREATED = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
MONTHLY = Interval(IntervalUnit.MONTH)
YEARLY = Interval(IntervalUnit.YEAR)
WEEKLY = Interval(IntervalUnit.WEEK)
TWELVE_MONTHS_30_DAYS = Terms(min_term_months=12, notice_days=30)

S = SubscriptionStatus


# --- builders -------------------------------------------------------------------------------------


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def a_version(vid: str = "pv-basic-1", *, price: Money | int = 30_00, interval: Interval = MONTHLY,
              audience: Audience = Audience.CONSUMER, **overrides: Any) -> PlanVersion:
    amount = eur(price) if isinstance(price, int) else price
    spec = replace(PlanSpec(price=amount, interval=interval, audience=audience), **overrides)
    return build_version(spec, version_id=PlanVersionId(vid), plan_id=PlanId(f"plan-{vid}"), number=1,
                         created_at=CREATED)


def a_plan(version: PlanVersion | None = None, *, audience: Audience = Audience.CONSUMER, active: bool = True,
           code: str = "basic") -> Plan:
    version = version or a_version(audience=audience)
    return Plan(id=version.plan_id, code=code, name=code.title(), product_id=ProductId("prod-1"), audience=audience,
                current=version, created_at=CREATED, active=active, versions=(version,))


def a_customer(kind: CustomerKind = CustomerKind.CONSUMER) -> Customer:
    spec = CustomerSpec(email=f"{kind.value}@example.com", name="Erika Mustermann", country="DE", kind=kind)
    return build_customer(spec, customer_id=CustomerId(f"cus-{kind.value}"), created_at=CREATED)


def a_subscription(version: PlanVersion | None = None, *, start_on: date = date(2025, 1, 31),
                   kind: CustomerKind = CustomerKind.CONSUMER) -> Subscription:
    audience = Audience.BUSINESS if kind is CustomerKind.BUSINESS else Audience.CONSUMER
    plan = a_plan(version or a_version(audience=audience), audience=audience)
    sub, _ = subs.start(SubscriptionId("sub-1"), customer=a_customer(kind), plan=plan, start_on=start_on,
                        created_at=CREATED)
    return sub


def bill_through(sub: Subscription, version: PlanVersion, today: date) -> tuple[Subscription, list[Period]]:
    """Invoice every due period the way the billing run does: list them, mark each one billed."""
    billed = subs.periods_to_bill(sub, version, today)
    for period in billed:
        sub = subs.mark_billed(sub, period)
    return sub, billed


def names(events: list[Any]) -> list[str]:
    return [e.name for e in events]


# --- start ----------------------------------------------------------------------------------------


def test_start_without_trial_is_active_and_bills_from_the_start_day() -> None:
    version = a_version(terms=TWELVE_MONTHS_30_DAYS)
    sub, events = subs.start(SubscriptionId("sub-1"), customer=a_customer(), plan=a_plan(version),
                             start_on=date(2025, 1, 31), created_at=CREATED)
    assert sub.status is S.ACTIVE
    assert (sub.start_on, sub.billing_anchor, sub.next_bill_on) == (date(2025, 1, 31),) * 3
    assert sub.min_term_end_on == date(2026, 1, 31)
    assert sub.trial_end_on is None
    assert sub.consumer is True
    assert sub.plan_version_id == "pv-basic-1" and sub.customer_id == "cus-consumer"
    assert names(events) == ["subscription.created"]
    assert events[0].payload() == {
        "aggregate_id": "sub-1", "customer_id": "cus-consumer", "plan_version_id": "pv-basic-1",
        "status": "active", "start_on": "2025-01-31", "trial_end_on": None}


def test_start_with_trial_bills_and_counts_the_minimum_term_from_the_trial_end() -> None:
    version = a_version(trial_days=14, terms=TWELVE_MONTHS_30_DAYS)
    sub, events = subs.start(SubscriptionId("sub-1"), customer=a_customer(), plan=a_plan(version),
                             start_on=date(2025, 1, 31), created_at=CREATED)
    assert sub.status is S.TRIALING
    assert sub.start_on == date(2025, 1, 31)
    assert sub.trial_end_on == sub.billing_anchor == sub.next_bill_on == date(2025, 2, 14)
    assert sub.min_term_end_on == date(2026, 2, 14)
    assert names(events) == ["subscription.created"]
    assert events[0].payload()["status"] == "trialing"
    assert events[0].payload()["trial_end_on"] == "2025-02-14"


def test_a_consumer_cannot_take_a_business_plan() -> None:
    plan = a_plan(a_version(audience=Audience.BUSINESS), audience=Audience.BUSINESS, code="teams")
    with pytest.raises(InvalidSubscription, match=r"plan teams is for business customers; consumer@example\.com"):
        subs.start(SubscriptionId("sub-1"), customer=a_customer(), plan=plan, start_on=date(2025, 1, 31),
                   created_at=CREATED)


def test_a_business_may_take_a_consumer_plan_and_is_not_treated_as_consumer() -> None:
    sub, _ = subs.start(SubscriptionId("sub-1"), customer=a_customer(CustomerKind.BUSINESS), plan=a_plan(),
                        start_on=date(2025, 1, 31), created_at=CREATED)
    assert sub.consumer is False


def test_an_archived_plan_takes_no_new_subscriptions() -> None:
    with pytest.raises(InvalidSubscription, match="plan old is archived"):
        subs.start(SubscriptionId("sub-1"), customer=a_customer(), plan=a_plan(active=False, code="old"),
                   start_on=date(2025, 1, 31), created_at=CREATED)


# --- apply_due_changes ----------------------------------------------------------------------------


def test_trial_ends_on_its_end_day_and_applying_twice_changes_nothing() -> None:
    sub = a_subscription(a_version(trial_days=14))
    same, events = subs.apply_due_changes(sub, date(2025, 2, 13))
    assert (same, events) == (sub, [])
    active, events = subs.apply_due_changes(sub, date(2025, 2, 14))
    assert active.status is S.ACTIVE
    assert names(events) == ["subscription.activated"]
    assert events[0].payload() == {"aggregate_id": "sub-1", "on": "2025-02-14", "previous_status": "trialing"}
    again, events = subs.apply_due_changes(active, date(2025, 2, 14))
    assert (again, events) == (active, [])


def test_a_late_run_still_ends_the_trial_on_the_trial_end_date() -> None:
    sub = a_subscription(a_version(trial_days=14))
    active, events = subs.apply_due_changes(sub, date(2025, 3, 20))
    assert active.status is S.ACTIVE
    assert events[0].payload()["on"] == "2025-02-14"


def test_a_cancelled_subscription_ends_on_its_end_date() -> None:
    version = a_version(terms=TWELVE_MONTHS_30_DAYS)
    sub, _ = subs.cancel(a_subscription(version), version, requested_on=date(2025, 4, 15))
    assert sub.status is S.CANCELED and sub.ends_on == date(2026, 1, 31)
    still, events = subs.apply_due_changes(sub, date(2026, 1, 30))
    assert (still, events) == (sub, [])
    ended, events = subs.apply_due_changes(sub, date(2026, 1, 31))
    assert ended.status is S.ENDED
    assert ended.next_bill_on is None
    assert names(events) == ["subscription.ended"]
    assert subs.apply_due_changes(ended, date(2026, 2, 1)) == (ended, [])


# --- cancellation ---------------------------------------------------------------------------------


def test_cancel_inside_the_minimum_term_ends_at_the_term_end() -> None:
    version = a_version(terms=TWELVE_MONTHS_30_DAYS)  # start 31 Jan 2025: minimum term ends 31 Jan 2026
    sub, events = subs.cancel(a_subscription(version), version, requested_on=date(2025, 4, 15), reason="too_expensive")
    assert sub.status is S.CANCELED
    assert sub.canceled_on == date(2025, 4, 15)
    assert sub.ends_on == date(2026, 1, 31)
    assert sub.cancel_reason == "too_expensive"
    assert names(events) == ["subscription.canceled"]
    assert events[0].payload() == {"aggregate_id": "sub-1", "requested_on": "2025-04-15", "ends_on": "2026-01-31",
                                   "reason": "too_expensive"}


def test_cancel_on_the_deadline_still_ends_at_the_term_end_but_a_day_later_does_not() -> None:
    version = a_version(terms=TWELVE_MONTHS_30_DAYS)
    deadline = version.terms.cancellation_deadline(date(2026, 1, 31))
    assert deadline == date(2026, 1, 1)
    on_time, _ = subs.cancel(a_subscription(version), version, requested_on=deadline)
    assert on_time.ends_on == date(2026, 1, 31)
    late, _ = subs.cancel(a_subscription(version), version, requested_on=deadline + timedelta(days=1))
    assert late.ends_on > date(2026, 1, 31)


def test_business_cancel_20_days_before_term_end_ends_with_the_period_the_notice_runs_into() -> None:
    version = a_version(audience=Audience.BUSINESS, terms=TWELVE_MONTHS_30_DAYS)
    sub = a_subscription(version, kind=CustomerKind.BUSINESS)
    # notice runs from 11 Jan 2026 to 10 Feb 2026, into the period 31 Jan .. 27 Feb 2026
    sub, _ = subs.cancel(sub, version, requested_on=date(2026, 1, 11))
    assert sub.ends_on == date(2026, 2, 28)


def test_consumer_cancel_20_days_before_term_end_is_not_held_more_than_a_month() -> None:
    version = a_version(terms=TWELVE_MONTHS_30_DAYS)
    # the period the notice runs into ends 28 Feb 2026, more than a month after 11 Jan: cut to request + notice
    sub, _ = subs.cancel(a_subscription(version), version, requested_on=date(2026, 1, 11))
    assert sub.ends_on == date(2026, 2, 10)


def test_consumer_cancel_after_the_term_ends_with_the_period_when_that_is_within_a_month() -> None:
    version = a_version(terms=Terms(min_term_months=12, notice_days=7))
    sub, _ = subs.cancel(a_subscription(version), version, requested_on=date(2026, 2, 10))
    assert sub.ends_on == date(2026, 2, 28)


def test_consumer_yearly_plan_past_the_minimum_term_is_cut_to_request_plus_notice() -> None:
    version = a_version(price=300_00, interval=YEARLY, terms=TWELVE_MONTHS_30_DAYS)
    sub = a_subscription(version, start_on=date(2025, 1, 1))
    sub, _ = subs.cancel(sub, version, requested_on=date(2026, 3, 15))
    assert sub.ends_on == date(2026, 4, 14)  # not the period end, 1 Jan 2027


def test_consumer_is_never_held_longer_than_one_month_after_the_request_even_in_february() -> None:
    version = a_version(price=300_00, interval=YEARLY, terms=TWELVE_MONTHS_30_DAYS)
    sub = a_subscription(version, start_on=date(2025, 1, 1))
    sub, _ = subs.cancel(sub, version, requested_on=date(2026, 2, 1))
    assert sub.ends_on is not None
    assert sub.ends_on <= date(2026, 3, 1)  # one month after 1 Feb; actual: 3 Mar 2026


@given(start=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
       after=st.integers(min_value=0, max_value=800), notice=st.integers(min_value=0, max_value=28),
       interval=st.sampled_from([MONTHLY, YEARLY, Interval(IntervalUnit.MONTH, 3), WEEKLY]))
def test_consumer_past_the_minimum_term_ends_within_a_month_of_the_request(
        start: date, after: int, notice: int, interval: Interval) -> None:
    version = a_version(interval=interval, terms=Terms(min_term_months=3, notice_days=notice))
    sub = a_subscription(version, start_on=start)
    assert sub.min_term_end_on is not None
    requested = sub.min_term_end_on + timedelta(days=after)
    sub, _ = subs.cancel(sub, version, requested_on=requested)
    assert sub.ends_on is not None
    assert requested + timedelta(days=notice) <= sub.ends_on <= add_months(requested, 1)


def test_business_yearly_plan_ends_at_the_period_end() -> None:
    version = a_version(price=300_00, interval=YEARLY, audience=Audience.BUSINESS, terms=TWELVE_MONTHS_30_DAYS)
    sub = a_subscription(version, start_on=date(2025, 1, 1), kind=CustomerKind.BUSINESS)
    sub, _ = subs.cancel(sub, version, requested_on=date(2026, 3, 15))
    assert sub.ends_on == date(2027, 1, 1)


def test_business_fixed_term_renewal_ends_only_at_a_term_boundary() -> None:
    terms = Terms(min_term_months=12, notice_days=90, renewal=RenewalMode.FIXED_TERM, renewal_term_months=12)
    version = a_version(audience=Audience.BUSINESS, terms=terms)
    sub = a_subscription(version, start_on=date(2025, 1, 1), kind=CustomerKind.BUSINESS)
    deadline = terms.cancellation_deadline(date(2026, 1, 1))
    assert deadline == date(2025, 10, 3)
    in_time, _ = subs.cancel(sub, version, requested_on=deadline)
    assert in_time.ends_on == date(2026, 1, 1)
    too_late, _ = subs.cancel(sub, version, requested_on=deadline + timedelta(days=1))
    assert too_late.ends_on == date(2027, 1, 1)  # renewed for another year, not the monthly period end


def test_a_later_wished_for_end_is_accepted() -> None:
    version = a_version(terms=TWELVE_MONTHS_30_DAYS)
    sub, events = subs.cancel(a_subscription(version), version, requested_on=date(2025, 4, 15),
                              ends_on=date(2026, 3, 31))
    assert sub.ends_on == date(2026, 3, 31)
    assert events[0].payload()["ends_on"] == "2026-03-31"


def test_an_earlier_wished_for_end_is_rejected_naming_the_earliest_last_day() -> None:
    version = a_version(terms=TWELVE_MONTHS_30_DAYS)
    with pytest.raises(InvalidSubscription,
                       match=r"earliest possible last day is 2026-01-30 .* 2026-01-29 is too early"):
        subs.cancel(a_subscription(version), version, requested_on=date(2025, 4, 15), ends_on=date(2026, 1, 30))


def test_immediate_cancel_ends_the_subscription_now() -> None:
    version = a_version(terms=TWELVE_MONTHS_30_DAYS)
    sub, events = subs.cancel(a_subscription(version), version, requested_on=date(2025, 4, 15),
                              reason="fraud", immediately=True)
    assert sub.status is S.ENDED
    assert sub.ends_on == date(2025, 4, 15)
    assert sub.next_bill_on is None
    assert names(events) == ["subscription.canceled", "subscription.ended"]
    assert subs.periods_to_bill(sub, version, date(2025, 6, 1)) == []


def test_cancel_twice_or_after_the_end_is_rejected() -> None:
    version = a_version()
    canceled, _ = subs.cancel(a_subscription(version), version, requested_on=date(2025, 2, 10))
    with pytest.raises(InvalidTransition, match="already cancelled; its last day is 2025-02-27"):
        subs.cancel(canceled, version, requested_on=date(2025, 2, 11))
    ended, _ = subs.apply_due_changes(canceled, date(2025, 2, 28))
    with pytest.raises(InvalidTransition, match="has already ended"):
        subs.cancel(ended, version, requested_on=date(2025, 3, 1))


def test_cancel_during_the_trial_ends_at_the_trial_end_despite_term_and_notice() -> None:
    version = a_version(trial_days=14, terms=TWELVE_MONTHS_30_DAYS)
    sub, _ = subs.cancel(a_subscription(version), version, requested_on=date(2025, 2, 1))
    assert sub.ends_on == date(2025, 2, 14)
    assert subs.periods_to_bill(sub, version, date(2025, 2, 14)) == []
    ended, events = subs.apply_due_changes(sub, date(2025, 2, 14))
    assert ended.status is S.ENDED
    assert names(events) == ["subscription.ended"]


def test_cancel_drops_a_scheduled_downgrade() -> None:
    pro, basic = a_version("pv-pro-1", price=58_00), a_version()
    sub, _ = bill_through(a_subscription(pro), pro, date(2025, 1, 31))
    sub, _, _ = subs.change_plan(sub, pro, basic, today=date(2025, 2, 10))
    assert sub.pending_plan_version_id == "pv-basic-1"
    sub, _ = subs.cancel(sub, pro, requested_on=date(2025, 2, 11))
    assert sub.pending_plan_version_id is None and sub.pending_change_on is None


def test_cancelling_a_paused_subscription_does_not_bill_the_paused_months() -> None:
    version = a_version(terms=Terms())
    sub, _ = bill_through(a_subscription(version, start_on=date(2025, 1, 1)), version, date(2025, 1, 1))
    sub, _ = subs.pause(sub, date(2025, 1, 15))
    sub, _ = subs.cancel(sub, version, requested_on=date(2025, 3, 10))
    billed = subs.periods_to_bill(sub, version, date(2025, 3, 10))
    # the customer had no service from 15 Jan to 10 Mar; actual: [1 Feb .. 1 Mar) and [1 Mar .. 1 Apr) are billed
    assert not [p for p in billed if date(2025, 1, 15) <= p.start < date(2025, 3, 10)]


# --- dunning states -------------------------------------------------------------------------------


def test_past_due_then_suspended_then_reinstated() -> None:
    sub = a_subscription()
    sub, events = subs.mark_past_due(sub, date(2025, 2, 1))
    assert sub.status is S.PAST_DUE and names(events) == ["subscription.past_due"]
    assert subs.mark_past_due(sub, date(2025, 2, 2)) == (sub, [])
    sub, events = subs.suspend(sub, date(2025, 2, 15))
    assert sub.status is S.SUSPENDED and names(events) == ["subscription.suspended"]
    assert subs.suspend(sub, date(2025, 2, 16)) == (sub, [])
    sub, events = subs.reinstate(sub, date(2025, 2, 20))
    assert sub.status is S.ACTIVE
    assert events[0].payload() == {"aggregate_id": "sub-1", "on": "2025-02-20", "previous_status": "suspended"}


def test_reinstate_from_past_due() -> None:
    sub, _ = subs.mark_past_due(a_subscription(), date(2025, 2, 1))
    sub, events = subs.reinstate(sub, date(2025, 2, 3))
    assert sub.status is S.ACTIVE and events[0].payload()["previous_status"] == "past_due"


def test_invalid_dunning_transitions_are_rejected() -> None:
    active = a_subscription()
    with pytest.raises(InvalidTransition, match="cannot suspend subscription sub-1: it is active, not past_due"):
        subs.suspend(active, date(2025, 2, 1))
    with pytest.raises(InvalidTransition, match=r"cannot reinstate .* it is active, not past_due or suspended"):
        subs.reinstate(active, date(2025, 2, 1))
    trialing = a_subscription(a_version(trial_days=14))
    with pytest.raises(InvalidTransition, match=r"cannot mark past due .* it is trialing"):
        subs.mark_past_due(trialing, date(2025, 2, 1))
    past_due, _ = subs.mark_past_due(active, date(2025, 2, 1))
    with pytest.raises(InvalidTransition, match="cannot pause"):
        subs.pause(past_due, date(2025, 2, 2))


# --- pause / resume -------------------------------------------------------------------------------


def test_resume_shifts_anchor_next_bill_and_minimum_term_by_the_paused_days() -> None:
    version = a_version(terms=TWELVE_MONTHS_30_DAYS)
    sub, _ = bill_through(a_subscription(version), version, date(2025, 1, 31))
    assert sub.next_bill_on == date(2025, 2, 28)
    sub, events = subs.pause(sub, date(2025, 2, 10))
    assert sub.status is S.PAUSED and sub.paused_on == date(2025, 2, 10)
    assert names(events) == ["subscription.paused"]
    assert subs.periods_to_bill(sub, version, date(2025, 3, 15)) == []
    sub, events = subs.resume(sub, version, date(2025, 2, 20))
    assert sub.status is S.ACTIVE and sub.paused_on is None
    assert sub.billing_anchor == date(2025, 2, 10)
    assert sub.next_bill_on == date(2025, 3, 10)
    assert sub.min_term_end_on == date(2026, 2, 10)
    assert events[0].payload() == {"aggregate_id": "sub-1", "on": "2025-02-20", "paused_days": 10}


def test_resume_before_the_pause_is_rejected() -> None:
    sub, _ = subs.pause(a_subscription(), date(2025, 2, 10))
    with pytest.raises(InvalidDate, match="cannot resume on 2025-02-09: the subscription was paused on 2025-02-10"):
        subs.resume(sub, a_version(), date(2025, 2, 9))


def test_resume_on_the_pause_day_changes_no_dates() -> None:
    sub = a_subscription()
    paused, _ = subs.pause(sub, date(2025, 2, 10))
    resumed, _ = subs.resume(paused, a_version(), date(2025, 2, 10))
    assert (resumed.billing_anchor, resumed.next_bill_on, resumed.status) == (sub.billing_anchor, sub.next_bill_on,
                                                                              S.ACTIVE)


def test_only_an_active_subscription_can_be_paused_and_only_a_paused_one_resumed() -> None:
    with pytest.raises(InvalidTransition, match=r"cannot resume .* it is active, not paused"):
        subs.resume(a_subscription(), a_version(), date(2025, 2, 1))
    with pytest.raises(InvalidTransition, match=r"cannot pause .* it is trialing, not active"):
        subs.pause(a_subscription(a_version(trial_days=7)), date(2025, 2, 1))


# --- plan changes ---------------------------------------------------------------------------------

BASIC = a_version("pv-basic-1", price=30_00)
PRO = a_version("pv-pro-1", price=58_00)


def billed_first_period(version: PlanVersion = BASIC) -> Subscription:
    sub, billed = bill_through(a_subscription(version), version, date(2025, 1, 31))
    assert billed == [Period(date(2025, 1, 31), date(2025, 2, 28))]
    return sub


def test_upgrade_now_credits_the_unused_old_days_and_charges_the_new_ones() -> None:
    sub = billed_first_period()
    # Period 31 Jan .. 27 Feb 2025 has 28 days; on 19 Feb, 9 days are left (19..27 Feb).
    # credit = 30.00 * 9 / 28 = 9.642857 -> 9.64; charge = 58.00 * 9 / 28 = 18.642857 -> 18.64; net 9.00
    sub, events, proration = subs.change_plan(sub, BASIC, PRO, today=date(2025, 2, 19))
    assert proration == Proration(Period(date(2025, 2, 19), date(2025, 2, 28)), eur(9_64), eur(18_64))
    assert proration.net == eur(9_00)
    assert sub.plan_version_id == "pv-pro-1"
    assert (sub.billing_anchor, sub.next_bill_on) == (date(2025, 1, 31), date(2025, 2, 28))
    assert names(events) == ["subscription.plan_changed"]
    assert events[0].payload() == {
        "aggregate_id": "sub-1", "from_plan_version_id": "pv-basic-1", "to_plan_version_id": "pv-pro-1",
        "effective_on": "2025-02-19", "credit": {"amount_minor": 964, "currency": "EUR"},
        "charge": {"amount_minor": 1864, "currency": "EUR"}}


def test_downgrade_now_when_asked_gives_a_net_credit() -> None:
    sub = billed_first_period(PRO)
    _, _, proration = subs.change_plan(sub, PRO, BASIC, today=date(2025, 2, 19), timing=ChangeTiming.NOW)
    assert proration is not None
    assert proration.net == eur(-9_00)


def test_upgrade_to_another_interval_restarts_the_cycle_today_at_the_full_new_price() -> None:
    yearly = a_version("pv-pro-year", price=600_00, interval=YEARLY)
    sub = billed_first_period()
    sub, _, proration = subs.change_plan(sub, BASIC, yearly, today=date(2025, 2, 19))
    assert proration == Proration(Period(date(2025, 2, 19), date(2026, 2, 19)), eur(9_64), eur(600_00))
    assert sub.billing_anchor == date(2025, 2, 19)
    assert sub.next_bill_on == date(2026, 2, 19)
    assert sub.plan_version_id == "pv-pro-year"
    assert subs.periods_to_bill(sub, yearly, date(2026, 2, 18)) == []
    assert subs.periods_to_bill(sub, yearly, date(2026, 2, 19)) == [Period(date(2026, 2, 19), date(2027, 2, 19))]


def test_downgrade_is_scheduled_for_the_period_end_and_applied_then() -> None:
    sub = billed_first_period(PRO)
    sub, events, proration = subs.change_plan(sub, PRO, BASIC, today=date(2025, 2, 19))
    assert proration is None
    assert sub.plan_version_id == "pv-pro-1"
    assert (sub.pending_plan_version_id, sub.pending_change_on) == ("pv-basic-1", date(2025, 2, 28))
    assert events[0].payload() == {"aggregate_id": "sub-1", "to_plan_version_id": "pv-basic-1",
                                   "effective_on": "2025-02-28"}
    assert subs.apply_due_changes(sub, date(2025, 2, 27)) == (sub, [])
    sub, events = subs.apply_due_changes(sub, date(2025, 2, 28))
    assert sub.plan_version_id == "pv-basic-1" and sub.pending_plan_version_id is None
    assert names(events) == ["subscription.plan_changed"]
    assert events[0].payload()["credit"] is None
    assert subs.apply_due_changes(sub, date(2025, 2, 28)) == (sub, [])


def test_upgrade_can_be_scheduled_for_the_period_end() -> None:
    sub = billed_first_period()
    sub, _, proration = subs.change_plan(sub, BASIC, PRO, today=date(2025, 2, 19), timing=ChangeTiming.PERIOD_END)
    assert proration is None and sub.pending_change_on == date(2025, 2, 28)


def test_auto_timing_compares_daily_rates_not_prices() -> None:
    sub = billed_first_period()
    yearly = a_version("pv-year", price=300_00, interval=YEARLY)  # 0.82 a day < 0.99 a day: a downgrade
    scheduled, _, proration = subs.change_plan(sub, BASIC, yearly, today=date(2025, 2, 19))
    assert proration is None and scheduled.pending_plan_version_id == "pv-year"
    weekly = a_version("pv-week", price=10_00, interval=WEEKLY)  # 1.43 a day > 0.99 a day: an upgrade
    changed, _, proration = subs.change_plan(sub, BASIC, weekly, today=date(2025, 2, 19))
    assert proration is not None and changed.plan_version_id == "pv-week"


def test_change_before_the_period_is_billed_switches_without_proration() -> None:
    sub = a_subscription(BASIC)  # next_bill_on is still the anchor
    sub, _, proration = subs.change_plan(sub, BASIC, PRO, today=date(2025, 1, 31))
    assert proration is None and sub.plan_version_id == "pv-pro-1"


def test_trialing_subscription_switches_without_proration_and_takes_the_new_terms() -> None:
    trial = a_version("pv-basic-1", trial_days=14)
    pro = a_version("pv-pro-1", price=58_00, terms=TWELVE_MONTHS_30_DAYS)
    sub, events, proration = subs.change_plan(a_subscription(trial), trial, pro, today=date(2025, 2, 5))
    assert proration is None
    assert sub.status is S.TRIALING and sub.plan_version_id == "pv-pro-1"
    assert sub.min_term_end_on == date(2026, 2, 14)
    assert names(events) == ["subscription.plan_changed"]


def test_change_to_another_currency_or_the_same_version_is_rejected() -> None:
    sub = billed_first_period()
    usd = a_version("pv-usd", price=Money(40_00, "USD"))
    with pytest.raises(InvalidSubscription, match="cannot change from a EUR plan to a USD plan"):
        subs.change_plan(sub, BASIC, usd, today=date(2025, 2, 19))
    with pytest.raises(InvalidSubscription, match="already on this plan version"):
        subs.change_plan(sub, BASIC, BASIC, today=date(2025, 2, 19))


def test_change_of_a_cancelled_subscription_is_rejected() -> None:
    sub, _ = subs.cancel(billed_first_period(), BASIC, requested_on=date(2025, 2, 10))
    with pytest.raises(InvalidTransition, match=r"cannot change the plan of .* it is canceled"):
        subs.change_plan(sub, BASIC, PRO, today=date(2025, 2, 11))


# --- billing --------------------------------------------------------------------------------------


def test_every_missed_period_is_billed_exactly_once_after_downtime() -> None:
    sub = a_subscription(BASIC)
    sub, billed = bill_through(sub, BASIC, date(2025, 5, 15))
    assert billed == [Period(date(2025, 1, 31), date(2025, 2, 28)), Period(date(2025, 2, 28), date(2025, 3, 31)),
                      Period(date(2025, 3, 31), date(2025, 4, 30)), Period(date(2025, 4, 30), date(2025, 5, 31))]
    assert sub.next_bill_on == date(2025, 5, 31)
    assert subs.periods_to_bill(sub, BASIC, date(2025, 5, 30)) == []
    assert subs.periods_to_bill(sub, BASIC, date(2025, 5, 31)) == [Period(date(2025, 5, 31), date(2025, 6, 30))]


def test_billing_stops_at_the_end_of_a_cancelled_contract_and_cuts_the_last_period() -> None:
    sub = a_subscription(BASIC)
    sub, _ = subs.cancel(sub, BASIC, requested_on=date(2025, 2, 1), ends_on=date(2025, 4, 15))
    sub, billed = bill_through(sub, BASIC, date(2025, 6, 1))
    assert billed == [Period(date(2025, 1, 31), date(2025, 2, 28)), Period(date(2025, 2, 28), date(2025, 3, 31)),
                      Period(date(2025, 3, 31), date(2025, 4, 15))]
    assert sub.next_bill_on is None
    assert subs.periods_to_bill(sub, BASIC, date(2025, 12, 31)) == []


def test_trialing_and_paused_subscriptions_bill_nothing() -> None:
    trial = a_version(trial_days=14)
    assert subs.periods_to_bill(a_subscription(trial), trial, date(2025, 3, 1)) == []
    paused, _ = subs.pause(a_subscription(BASIC), date(2025, 1, 31))
    assert subs.periods_to_bill(paused, BASIC, date(2025, 3, 1)) == []


def test_past_due_and_suspended_subscriptions_keep_billing() -> None:
    sub, _ = subs.mark_past_due(billed_first_period(), date(2025, 2, 5))
    assert subs.periods_to_bill(sub, BASIC, date(2025, 2, 28)) == [Period(date(2025, 2, 28), date(2025, 3, 31))]
    sub, _ = subs.suspend(sub, date(2025, 2, 20))
    assert subs.periods_to_bill(sub, BASIC, date(2025, 2, 28)) == [Period(date(2025, 2, 28), date(2025, 3, 31))]


def test_mark_billed_refuses_a_period_out_of_order() -> None:
    sub = a_subscription(BASIC)
    with pytest.raises(InvalidTransition, match=r"period 2025-02-28\.\.2025-03-31 is not the next one to bill "
                                                r"\(next billing date 2025-01-31\)"):
        subs.mark_billed(sub, Period(date(2025, 2, 28), date(2025, 3, 31)))
    sub = subs.mark_billed(sub, Period(date(2025, 1, 31), date(2025, 2, 28)))
    with pytest.raises(InvalidTransition, match="is not the next one to bill"):
        subs.mark_billed(sub, Period(date(2025, 1, 31), date(2025, 2, 28)))


# --- property: random lifecycles ------------------------------------------------------------------

VERSIONS = {v.id: v for v in (
    a_version("pv-basic-1", price=30_00, terms=TWELVE_MONTHS_30_DAYS),
    a_version("pv-pro-1", price=58_00),
    a_version("pv-year", price=300_00, interval=YEARLY, terms=Terms(notice_days=14)),
    a_version("pv-week", price=10_00, interval=WEEKLY),
    a_version("pv-trial", price=20_00, trial_days=14),
)}
ACTIONS = ["apply", "bill", "past_due", "suspend", "reinstate", "pause", "resume", "cancel", "cancel_now",
           "cancel_wish", "change"]


def _act(sub: Subscription, action: str, today: date, target: PlanVersion, timing: ChangeTiming) -> Subscription:
    version = VERSIONS[sub.plan_version_id]
    if action == "apply":
        return subs.apply_due_changes(sub, today)[0]
    if action == "bill":
        return bill_through(sub, version, today)[0]
    if action == "past_due":
        return subs.mark_past_due(sub, today)[0]
    if action == "suspend":
        return subs.suspend(sub, today)[0]
    if action == "reinstate":
        return subs.reinstate(sub, today)[0]
    if action == "pause":
        return subs.pause(sub, today)[0]
    if action == "resume":
        return subs.resume(sub, version, today)[0]
    if action == "cancel":
        return subs.cancel(sub, version, requested_on=today)[0]
    if action == "cancel_now":
        return subs.cancel(sub, version, requested_on=today, immediately=True)[0]
    if action == "cancel_wish":
        return subs.cancel(sub, version, requested_on=today, ends_on=today + timedelta(days=45))[0]
    return subs.change_plan(sub, version, target, today=today, timing=timing)[0]


@given(first=st.sampled_from(sorted(VERSIONS)), kind=st.sampled_from(list(CustomerKind)),
       start=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
       steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(min_value=0, max_value=40),
                                st.sampled_from(sorted(VERSIONS)), st.sampled_from(list(ChangeTiming))),
                      max_size=25))
def test_random_lifecycles_keep_their_invariants(first: str, kind: CustomerKind, start: date,
                                                 steps: list[tuple[str, int, str, ChangeTiming]]) -> None:
    sub = a_subscription(VERSIONS[PlanVersionId(first)], start_on=start, kind=kind)
    today = start
    for action, gap, target, timing in steps:
        today += timedelta(days=gap)
        # a refused transition (an AboguardError) is fine; anything else escapes and fails the test
        with contextlib.suppress(AboguardError):
            sub = _act(sub, action, today, VERSIONS[PlanVersionId(target)], timing)
        if sub.status is S.ENDED:
            assert sub.next_bill_on is None
            assert sub.ends_on is not None
        if sub.status in {S.CANCELED, S.ENDED}:
            assert sub.ends_on is not None and sub.canceled_on is not None
            assert sub.pending_plan_version_id is None
        if sub.status is S.PAUSED:
            assert sub.paused_on is not None
        if sub.ends_on is not None and today >= sub.ends_on:
            assert subs.apply_due_changes(sub, today)[0].status is S.ENDED
        billable = subs.periods_to_bill(sub, VERSIONS[sub.plan_version_id], today)
        if billable:
            assert billable[0].start == sub.next_bill_on
            assert all(a.end == b.start for a, b in itertools.pairwise(billable))
            assert sub.ends_on is None or billable[-1].end <= sub.ends_on
