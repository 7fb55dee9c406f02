"""Price changes for running subscriptions: notice ahead, then the customer's consent or their way out.

See :mod:`aboguard.domain.price_changes`. An accepted change is scheduled on the subscription like any plan
change at a date (the billing run applies it on the effective date); a declined one leaves the old price, and
with ``cancel`` the customer uses the special right to end the contract before the new price would apply.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from aboguard.domain import events as ev
from aboguard.domain import price_changes as rules
from aboguard.domain.contracts import CancellationKind
from aboguard.domain.price_changes import PriceChangeNotice, PriceChangeStatus
from aboguard.domain.subscriptions import LIVE
from aboguard.errors import NotFound
from aboguard.ids import SubscriptionId

from .context import ServiceContext
from .contracts import request_cancellation


class NoPriceChangePending(NotFound):
    code = "contract.no_price_change"


def announce_price_change(ctx: ServiceContext, plan_code: str, *, effective_on: date) -> list[PriceChangeNotice]:
    """Notify every running subscription on an older version of ``plan_code`` that its price becomes the
    plan's current price on ``effective_on`` (at least :data:`~aboguard.domain.price_changes.NOTICE_DAYS`
    ahead), if the customer agrees."""
    today, now = ctx.today(), ctx.now()
    with ctx.uow() as uow:
        plan = uow.plans.get_by_code(plan_code)
        older = {v.id: v for v in plan.versions if v.id != plan.current.id}
        notices: list[PriceChangeNotice] = []
        events: list[ev.Event] = []
        for sub in uow.subscriptions.list(limit=1_000_000):
            if sub.plan_version_id not in older or sub.status not in LIVE:
                continue
            if any(n.status is PriceChangeStatus.PENDING for n in uow.price_changes.for_subscription(sub.id)):
                continue  # one open question at a time
            notice, announced = rules.announce(ctx.new_id(), sub, older[sub.plan_version_id], plan.current,
                                               today=today, effective_on=effective_on, now=now)
            uow.price_changes.add(notice)
            notices.append(notice)
            events += announced
        uow.events.add(events, now)
        uow.commit()
    return notices


def respond_to_price_change(ctx: ServiceContext, subscription_id: str, *, accept: bool, cancel: bool = False,
                            channel: str = "cli") -> PriceChangeNotice:
    """The customer's answer to the pending price change. ``cancel`` (only when declining): end the contract on
    the day before the new price would apply."""
    if accept and cancel:
        raise rules.InvalidPriceChange("a customer who accepts the new price does not cancel")
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        pending = [n for n in uow.price_changes.for_subscription(sub.id) if n.status is PriceChangeStatus.PENDING]
        if not pending:
            raise NoPriceChangePending(f"subscription {sub.id} has no price change waiting for an answer")
        notice, events = rules.decide(pending[-1], accept=accept, now=ctx.now(), channel=channel)
        notice = uow.price_changes.save(notice)
        if accept:
            sub = replace(sub, pending_plan_version_id=notice.to_version_id, pending_change_on=notice.effective_on)
            uow.subscriptions.save(sub)
            events.append(ev.SubscriptionPlanChangeScheduled(sub.id, notice.to_version_id, notice.effective_on))
        uow.events.add(events, ctx.now())
        uow.commit()
    if cancel:
        request_cancellation(ctx, subscription_id, kind=CancellationKind.EXTRAORDINARY,
                             last_day=notice.effective_on - timedelta(days=1), channel=channel,
                             reason=f"special right to cancel: price change to {notice.new_price} on "
                                    f"{notice.effective_on} declined")
    return notice


def list_price_changes(ctx: ServiceContext, subscription_id: str) -> list[PriceChangeNotice]:
    with ctx.uow() as uow:
        return uow.price_changes.for_subscription(subscription_id)
