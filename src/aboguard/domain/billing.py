"""What a billing run does to one subscription, as a pure function.

:func:`advance` walks a subscription forward to ``today``: it converts an ended trial, applies a plan
change at the period boundary it was scheduled for, bills every period that has started (missed ones
after downtime included, each once, each on its own invoice with the plan version valid for it), cuts
the last period at the end of a cancelled contract and ends the contract when its end has come. The
caller turns the returned charges into invoices and stores everything in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from . import events as ev
from . import subscriptions as lifecycle
from .catalog import PlanVersion
from .invoicing import LineDraft, plan_lines
from .periods import Period, period_containing, prorate
from .subscriptions import BILLABLE, Subscription

MAX_STEPS = 10_000  # a daily plan missed for 27 years; beyond that something is wrong with the data


@dataclass(frozen=True, slots=True)
class PeriodCharge:
    """One period to invoice, with the plan version that applies to it."""

    period: Period
    version: PlanVersion
    lines: tuple[LineDraft, ...]
    billing_key: str


@dataclass(frozen=True, slots=True)
class Advance:
    subscription: Subscription
    charges: tuple[PeriodCharge, ...]
    events: tuple[ev.Event, ...]

    @property
    def changed(self) -> bool:
        return bool(self.charges or self.events)


def billing_key(sub: Subscription, period: Period) -> str:
    """Unique per subscription period; the store refuses a second invoice with the same key."""
    return f"{sub.id}:{period.start.isoformat()}"


def advance(sub: Subscription, version_of: Callable[[str], PlanVersion], plan_name_of: Callable[[PlanVersion], str],
            today: date) -> Advance:
    events: list[ev.Event] = []
    charges: list[PeriodCharge] = []
    for _ in range(MAX_STEPS):
        next_bill = sub.next_bill_on
        bill_now = sub.status in BILLABLE and next_bill is not None and next_bill <= today
        # Changes due by the start of the next period to bill take effect before it is billed.
        sub, changed = lifecycle.apply_due_changes(sub, next_bill if bill_now and next_bill else today)
        events += changed
        if sub.status in BILLABLE and sub.next_bill_on is not None and sub.next_bill_on <= today:
            version = version_of(sub.plan_version_id)
            periods = lifecycle.periods_to_bill(sub, version, today)
            if not periods:
                break
            period = periods[0]
            first = period.start == sub.billing_anchor
            lines = plan_lines(version, plan_name_of(version), period, first=first)
            whole = period_containing(sub.billing_anchor, version.interval, period.start)
            if period.days < whole.days:
                lines = _cut(lines, period, whole)
            charges.append(PeriodCharge(period, version, tuple(lines), billing_key(sub, period)))
            sub = lifecycle.mark_billed(sub, period)
            continue
        if not changed:
            break
    else:  # pragma: no cover - guarded by MAX_STEPS
        raise RuntimeError(f"subscription {sub.id} did not settle after {MAX_STEPS} steps")
    return Advance(sub, tuple(charges), tuple(events))


def _cut(lines: list[LineDraft], period: Period, whole: Period) -> list[LineDraft]:
    """The last period of a cancelled contract is shorter: charge its share of the price, exactly."""
    cut: list[LineDraft] = []
    for line in lines:
        if line.period is not None:
            amount = prorate(line.amount, period.days, whole.days)
            line = LineDraft(line.kind, line.description, amount, line.tax_category, line.period, line.plan_version_id)
        cut.append(line)
    return cut
