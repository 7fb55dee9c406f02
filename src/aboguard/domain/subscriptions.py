"""The subscription lifecycle as a pure state machine.

Every transition takes the current value plus the facts it needs and returns the new value and the
events that describe the change; nothing here reads the clock or a database. Future-dated changes
(the end of a cancelled contract, a downgrade at period end, the end of a trial) are stored as dates
and applied by :func:`apply_due_changes`, which is level-triggered: calling it twice on the same day
changes nothing the second time.

    trialing --trial ends--> active --payment fails--> past_due --dunning--> suspended
        |                      |  ^                      |                     |
        |                      |  +------- paid ---------+---------------------+
        |                    pause/resume (paused)
        +---- cancel ----> canceled (until ends_on) --ends_on reached--> ended
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from aboguard.errors import InvalidDate, InvalidSubscription, InvalidTransition
from aboguard.ids import CustomerId, PlanVersionId, SubscriptionId
from aboguard.money import Money

from . import events as ev
from ._evolve import evolve
from .catalog import Audience, Plan, PlanVersion, RenewalMode
from .customers import Customer, CustomerKind
from .periods import Period, add_months, boundary, first_boundary_on_or_after, period_containing, period_index, prorate


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"
    PAUSED = "paused"
    CANCELED = "canceled"
    ENDED = "ended"


class ChangeTiming(StrEnum):
    AUTO = "auto"  # upgrades now, downgrades at period end
    NOW = "now"
    PERIOD_END = "period_end"


LIVE = frozenset({SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE,
                  SubscriptionStatus.SUSPENDED, SubscriptionStatus.PAUSED})
BILLABLE = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.SUSPENDED,
                      SubscriptionStatus.CANCELED})


@dataclass(frozen=True, slots=True)
class Subscription:
    id: SubscriptionId
    customer_id: CustomerId
    plan_version_id: PlanVersionId
    status: SubscriptionStatus
    start_on: date  # contract start
    billing_anchor: date  # first paid day; every period boundary counts from here
    next_bill_on: date | None  # start of the next period to invoice (billed in advance)
    created_at: datetime
    consumer: bool = True  # the customer is a consumer: consumer-protection rules apply
    trial_end_on: date | None = None
    min_term_end_on: date | None = None  # first day after the minimum term
    canceled_on: date | None = None
    ends_on: date | None = None  # first day without service (periods are half-open)
    cancel_reason: str | None = None
    paused_on: date | None = None
    pending_plan_version_id: PlanVersionId | None = None
    pending_change_on: date | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class Proration:
    """What an immediate plan change credits for the old plan and charges for the new one."""

    period: Period
    credit: Money
    charge: Money

    @property
    def net(self) -> Money:
        return self.charge - self.credit


Result = tuple[Subscription, list[ev.Event]]


def start(sub_id: SubscriptionId, *, customer: Customer, plan: Plan, start_on: date,
          created_at: datetime) -> Result:
    """A new subscription to the plan's current version, trialing first if the plan has a trial."""
    ensure_plan_fits(plan, customer)
    version = plan.current
    trial = version.trial_period(start_on)
    anchor = trial.end if trial else start_on
    sub = Subscription(
        id=sub_id, customer_id=customer.id, plan_version_id=version.id,
        status=SubscriptionStatus.TRIALING if trial else SubscriptionStatus.ACTIVE,
        start_on=start_on, billing_anchor=anchor, next_bill_on=anchor, created_at=created_at,
        consumer=customer.kind is CustomerKind.CONSUMER, trial_end_on=trial.end if trial else None,
        min_term_end_on=version.terms.min_term_end(anchor),
    )
    return sub, [ev.SubscriptionCreated(sub.id, customer.id, version.id, sub.status, start_on, sub.trial_end_on)]


def ensure_plan_fits(plan: Plan, customer: Customer) -> None:
    """Archived plans take no one new; business plans (net prices, longer terms) take no consumers."""
    if not plan.active:
        raise InvalidSubscription(f"plan {plan.code} is archived and takes no new subscriptions")
    if plan.audience is Audience.BUSINESS and customer.kind is CustomerKind.CONSUMER:
        raise InvalidSubscription(f"plan {plan.code} is for business customers; {customer.email} is a consumer")


def current_period(sub: Subscription, version: PlanVersion, today: date) -> Period:
    """The trial, or the billing period that contains ``today`` (the first one before the anchor)."""
    if sub.trial_end_on and today < sub.trial_end_on:
        return Period(sub.start_on, sub.trial_end_on)
    return period_containing(sub.billing_anchor, version.interval, max(today, sub.billing_anchor))


def earliest_end(sub: Subscription, version: PlanVersion, requested_on: date) -> date:
    """The first day the contract is over if a cancellation arrives on ``requested_on``.

    The notice period counts from the day the cancellation arrives; the contract never ends inside the
    minimum term; a business fixed-term contract ends only at a term boundary; otherwise the contract
    ends at the end of the billing period the notice runs into, except that a consumer past the
    minimum term is never held for more than one month (§ 309 Nr. 9 BGB), so a long period is cut.
    """
    if sub.status is SubscriptionStatus.TRIALING and sub.trial_end_on and requested_on < sub.trial_end_on:
        return sub.trial_end_on
    terms = version.terms
    candidate = requested_on + timedelta(days=terms.notice_days)
    one_month = add_months(requested_on, 1)
    if sub.consumer:
        candidate = min(candidate, one_month)  # 30 days' notice is more than a month in February
    if sub.min_term_end_on and candidate <= sub.min_term_end_on:
        return sub.min_term_end_on
    if terms.renewal is RenewalMode.FIXED_TERM and not sub.consumer:
        return terms.term_end_on_or_after(sub.billing_anchor, candidate)
    period_end = first_boundary_on_or_after(sub.billing_anchor, version.interval, max(candidate, sub.billing_anchor))
    if sub.consumer and period_end > one_month:
        return candidate
    return period_end


def cancel(sub: Subscription, version: PlanVersion, *, requested_on: date, reason: str = "customer_request",
           ends_on: date | None = None, immediately: bool = False) -> Result:
    """Cancel at the earliest possible end, on a later wished-for date, or (merchant side) immediately."""
    if sub.status is SubscriptionStatus.ENDED:
        raise InvalidTransition(f"subscription {sub.id} has already ended")
    if sub.status is SubscriptionStatus.CANCELED:
        raise InvalidTransition(f"subscription {sub.id} is already cancelled; its last day is {_last_day(sub.ends_on)}")
    events: list[ev.Event] = []
    if sub.status is SubscriptionStatus.PAUSED:
        # The pause ends with the cancellation: the paid days left at the pause are served first
        # and the paused months are never billed.
        sub, events = resume(sub, version, requested_on)
    earliest = requested_on if immediately else earliest_end(sub, version, requested_on)
    end = earliest if ends_on is None else ends_on
    if end < earliest:
        raise InvalidSubscription(f"the earliest possible last day is {_last_day(earliest)} (minimum term and "
                                  f"notice period); {_last_day(end)} is too early")
    sub = replace(sub, status=SubscriptionStatus.CANCELED, canceled_on=requested_on, ends_on=end,
                  cancel_reason=reason, pending_plan_version_id=None, pending_change_on=None)
    events.append(ev.SubscriptionCanceled(sub.id, requested_on, end, reason))
    if end <= requested_on:
        sub, ended = apply_due_changes(sub, requested_on)
        events += ended
    return sub, events


def apply_due_changes(sub: Subscription, today: date) -> Result:
    """Apply whatever is due by ``today``: trial end, a scheduled plan change, the end of the contract."""
    events: list[ev.Event] = []
    if sub.status is SubscriptionStatus.TRIALING and sub.trial_end_on and today >= sub.trial_end_on:
        sub = replace(sub, status=SubscriptionStatus.ACTIVE)
        events.append(ev.SubscriptionActivated(sub.id, sub.trial_end_on, SubscriptionStatus.TRIALING))
    if sub.pending_plan_version_id and sub.pending_change_on and today >= sub.pending_change_on:
        events.append(ev.SubscriptionPlanChanged(sub.id, sub.plan_version_id, sub.pending_plan_version_id,
                                                 sub.pending_change_on, None, None))
        sub = replace(sub, plan_version_id=sub.pending_plan_version_id, pending_plan_version_id=None,
                      pending_change_on=None)
    if sub.status is SubscriptionStatus.CANCELED and sub.ends_on and today >= sub.ends_on:
        sub = replace(sub, status=SubscriptionStatus.ENDED, next_bill_on=None)
        events.append(ev.SubscriptionEnded(sub.id, sub.ends_on))
    return sub, events


def mark_past_due(sub: Subscription, on: date) -> Result:
    if sub.status is SubscriptionStatus.PAST_DUE:
        return sub, []
    _require(sub, {SubscriptionStatus.ACTIVE}, "mark past due")
    sub = replace(sub, status=SubscriptionStatus.PAST_DUE)
    return sub, [ev.SubscriptionPastDue(sub.id, on)]


def suspend(sub: Subscription, on: date) -> Result:
    if sub.status is SubscriptionStatus.SUSPENDED:
        return sub, []
    _require(sub, {SubscriptionStatus.PAST_DUE}, "suspend")
    sub = replace(sub, status=SubscriptionStatus.SUSPENDED)
    return sub, [ev.SubscriptionSuspended(sub.id, on)]


def reinstate(sub: Subscription, on: date) -> Result:
    """Back to active once what was overdue is paid."""
    _require(sub, {SubscriptionStatus.PAST_DUE, SubscriptionStatus.SUSPENDED}, "reinstate")
    previous = sub.status
    sub = replace(sub, status=SubscriptionStatus.ACTIVE)
    return sub, [ev.SubscriptionActivated(sub.id, on, previous)]


def pause(sub: Subscription, on: date) -> Result:
    _require(sub, {SubscriptionStatus.ACTIVE}, "pause")
    sub = replace(sub, status=SubscriptionStatus.PAUSED, paused_on=on)
    return sub, [ev.SubscriptionPaused(sub.id, on)]


def resume(sub: Subscription, version: PlanVersion, on: date) -> Result:
    """Resume a paused subscription; the paused days are added on, so no paid day is lost.

    The next billing date and the end of the minimum term move by the paused days. The anchor is
    re-set so that the moved billing date is again a period boundary, the same number of periods
    after the anchor as before (adding days to both would disagree once month lengths differ).
    """
    _require(sub, {SubscriptionStatus.PAUSED}, "resume")
    assert sub.paused_on is not None
    if on < sub.paused_on:
        raise InvalidDate(f"cannot resume on {on}: the subscription was paused on {sub.paused_on}")
    shift = timedelta(days=(on - sub.paused_on).days)
    anchor, next_bill_on = sub.billing_anchor + shift, sub.next_bill_on
    if next_bill_on is not None and shift:
        elapsed = period_index(sub.billing_anchor, version.interval, next_bill_on)
        next_bill_on += shift
        anchor = boundary(next_bill_on, version.interval, -elapsed)
    sub = replace(
        sub, status=SubscriptionStatus.ACTIVE, paused_on=None, billing_anchor=anchor, next_bill_on=next_bill_on,
        min_term_end_on=sub.min_term_end_on + shift if sub.min_term_end_on else None,
        pending_change_on=sub.pending_change_on + shift if sub.pending_change_on else None,
    )
    return sub, [ev.SubscriptionResumed(sub.id, on, shift.days)]


def change_plan(sub: Subscription, current: PlanVersion, new: PlanVersion, *, today: date,
                timing: ChangeTiming = ChangeTiming.AUTO) -> tuple[Subscription, list[ev.Event], Proration | None]:
    """Move to another plan version: upgrades now with proration, downgrades at the end of the period."""
    _require(sub, {SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE}, "change the plan of")
    if new.id == current.id:
        raise InvalidSubscription("the subscription is already on this plan version")
    if new.price.currency != current.price.currency:
        raise InvalidSubscription(f"cannot change from a {current.price.currency} plan to a "
                                  f"{new.price.currency} plan; start a new subscription instead")
    if sub.status is SubscriptionStatus.TRIALING:
        return _switch(sub, new, today, None, new.terms.min_term_end(sub.billing_anchor))
    if timing is ChangeTiming.AUTO:
        timing = ChangeTiming.NOW if new.daily_rate() > current.daily_rate() else ChangeTiming.PERIOD_END
    period = current_period(sub, current, today)
    if timing is ChangeTiming.PERIOD_END:
        effective = max(period.end, sub.next_bill_on or period.end)
        sub = replace(sub, pending_plan_version_id=new.id, pending_change_on=effective)
        return sub, [ev.SubscriptionPlanChangeScheduled(sub.id, new.id, effective)], None
    already_billed = sub.next_bill_on is not None and sub.next_bill_on > period.start
    if not already_billed:
        return _switch(sub, new, today, None, sub.min_term_end_on)
    remaining = period.days_from(today)
    credit = prorate(current.price, remaining, period.days)
    if new.interval == current.interval:
        proration = Proration(Period(today, period.end), credit, prorate(new.price, remaining, period.days))
        return _switch(sub, new, today, proration, sub.min_term_end_on)
    # A new interval restarts the billing cycle today; the first new period is charged in full.
    new_end = boundary(today, new.interval, 1)
    proration = Proration(Period(today, new_end), credit, new.price)
    sub = replace(sub, billing_anchor=today, next_bill_on=new_end)
    return _switch(sub, new, today, proration, sub.min_term_end_on)


def periods_to_bill(sub: Subscription, version: PlanVersion, today: date) -> list[Period]:
    """Every period that starts on or before ``today`` and has not been invoiced yet, missed ones included.

    A period is cut at the end of a cancelled contract. Trialing, paused and ended subscriptions bill nothing.
    """
    if sub.status not in BILLABLE or sub.next_bill_on is None:
        return []
    periods: list[Period] = []
    start_on = sub.next_bill_on
    while start_on <= today and (sub.ends_on is None or start_on < sub.ends_on):
        period = period_containing(sub.billing_anchor, version.interval, start_on)
        end = period.end if sub.ends_on is None else min(period.end, sub.ends_on)
        periods.append(Period(start_on, end))
        start_on = end
    return periods


def mark_billed(sub: Subscription, period: Period) -> Subscription:
    """Record that ``period`` has been invoiced, so the next billing date moves to its end."""
    if sub.next_bill_on != period.start:
        raise InvalidTransition(f"period {period.start}..{period.end} is not the next one to bill "
                                f"(next billing date {sub.next_bill_on})")
    done = sub.ends_on is not None and period.end >= sub.ends_on
    return evolve(sub, next_bill_on=None if done else period.end)


def _switch(sub: Subscription, new: PlanVersion, today: date, proration: Proration | None,
            min_term_end_on: date | None) -> tuple[Subscription, list[ev.Event], Proration | None]:
    event = ev.SubscriptionPlanChanged(sub.id, sub.plan_version_id, new.id, today,
                                       proration.credit if proration else None,
                                       proration.charge if proration else None)
    sub = replace(sub, plan_version_id=new.id, pending_plan_version_id=None,
                  pending_change_on=None, min_term_end_on=min_term_end_on)
    return sub, [event], proration


def _last_day(end: date | None) -> date | None:
    return end - timedelta(days=1) if end else None


def _require(sub: Subscription, allowed: set[SubscriptionStatus], action: str) -> None:
    if sub.status not in allowed:
        names = " or ".join(sorted(s.value for s in allowed))
        raise InvalidTransition(f"cannot {action} subscription {sub.id}: it is {sub.status.value}, "
                                f"not {names}")


def due_on(sub: Subscription) -> date | None:
    """The first day on which a billing run has something to do for ``sub`` (None: nothing ever).

    Something is due when a period starts (for billable states), a trial ends, a scheduled plan change
    takes effect or a cancelled contract ends. Stored with the subscription and indexed, so a billing
    run finds its work by one range scan however long the history is.
    """
    candidates: list[date] = []
    if sub.status in BILLABLE and sub.next_bill_on is not None:
        candidates.append(sub.next_bill_on)
    if sub.status is SubscriptionStatus.TRIALING and sub.trial_end_on is not None:
        candidates.append(sub.trial_end_on)
    if sub.status in LIVE and sub.pending_change_on is not None:
        candidates.append(sub.pending_change_on)
    if sub.status is SubscriptionStatus.CANCELED and sub.ends_on is not None:
        candidates.append(sub.ends_on)
    return min(candidates) if candidates else None
