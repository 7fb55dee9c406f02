"""Retention offers when a customer wants to cancel, automatic resumption of accepted pauses, and win-back.

Offers are shown next to the cancellation, never in front of it: deciding on an offer (or not deciding)
never blocks ``cancel``. Each decision is recorded. Win-back: a customer whose subscription ended for
non-payment comes back by paying what is due; the new subscription may start with an offer's coupon.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from aboguard.domain import retention as rules
from aboguard.domain import subscriptions as lifecycle
from aboguard.domain.events import Event
from aboguard.domain.invoicing import OPEN, DocumentKind
from aboguard.domain.periods import add_months
from aboguard.domain.retention import OfferKind, RetentionDecision, RetentionOffer
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.errors import InvalidTransition, NotFound
from aboguard.ids import CustomerId, SubscriptionId
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from . import incentives, plans, subscriptions
from .context import ServiceContext


class OfferNotFound(NotFound):
    code = "retention.offer_not_found"


def create_offer(ctx: ServiceContext, code: str, name: str, *, kind: str, coupon: str | None = None,
                 pause_months: int | None = None, plan: str | None = None) -> RetentionOffer:
    try:
        offer_kind = OfferKind(kind)
    except ValueError:
        raise rules.InvalidOffer(f"--kind {kind!r}: use discount, pause or switch_plan") from None
    offer = rules.build_offer(code, name, kind=offer_kind, created_at=ctx.now(), coupon_code=coupon,
                              pause_months=pause_months, plan_code=plan)
    with ctx.uow() as uow:
        if uow.incentives.offer(offer.code) is not None:
            raise rules.InvalidOffer(f"a retention offer with code {offer.code} already exists")
        if offer.coupon_code and uow.incentives.coupon(offer.coupon_code) is None:
            raise incentives.CouponNotFound(f"no coupon {offer.coupon_code}; create it first with "
                                            "`aboguard coupons create`")
        if offer.plan_code:
            uow.plans.get_by_code(offer.plan_code)
        uow.incentives.add_offer(offer)
        uow.commit()
    return offer


def list_offers(ctx: ServiceContext) -> list[RetentionOffer]:
    with ctx.uow() as uow:
        return uow.incentives.offers()


def offers_for(ctx: ServiceContext, subscription_id: str) -> list[RetentionOffer]:
    """The active offers that make sense for this subscription (not a switch to the plan it already has)."""
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        if sub.status not in lifecycle.LIVE:
            return []
        plan_code = plans.plan_code_of(uow, sub.plan_version_id)
        return [o for o in uow.incentives.offers()
                if not (o.kind is OfferKind.SWITCH_PLAN and o.plan_code == plan_code)
                and not (o.kind is OfferKind.PAUSE and sub.status is not SubscriptionStatus.ACTIVE)]


def decide(ctx: ServiceContext, subscription_id: str, offer_code: str, *, accept: bool) -> RetentionDecision:
    """Record the customer's answer to an offer and, if accepted, carry it out."""
    with ctx.uow() as uow:
        offer = _offer(uow, offer_code)
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
    if accept and offer.kind is OfferKind.SWITCH_PLAN:
        assert offer.plan_code is not None
        subscriptions.change_subscription_plan(ctx, sub.id, offer.plan_code)  # validated and settled there
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        detail, resume_on, events = "declined", None, []
        if accept:
            detail, resume_on, events = _carry_out(ctx, uow, offer, sub)
        decision = RetentionDecision(ctx.new_id(), sub.id, sub.customer_id, offer.code, accept, ctx.now(), detail,
                                     resume_on=resume_on)
        uow.incentives.add_decision(decision)
        events.append(rules.RetentionOfferDecided(sub.id, sub.customer_id, offer.code, accept, detail))
        uow.events.add(events, ctx.now())
        uow.commit()
    return decision


def _carry_out(ctx: ServiceContext, uow: UnitOfWork, offer: RetentionOffer, sub: lifecycle.Subscription
               ) -> tuple[str, date | None, list[Event]]:
    if offer.kind is OfferKind.DISCOUNT:
        assert offer.coupon_code is not None
        redemption, events = incentives.redeem_in(ctx, uow, sub.id, offer.coupon_code)
        return f"coupon {offer.coupon_code} redeemed ({redemption.id})", None, list(events)
    if offer.kind is OfferKind.PAUSE:
        today = ctx.today()
        paused, events = lifecycle.pause(sub, today)
        uow.subscriptions.save(paused)
        resume_on = add_months(today, offer.pause_months or 1)
        return f"paused until {resume_on.isoformat()}", resume_on, list(events)
    return f"switched to plan {offer.plan_code}", None, []


def resume_ended_pauses(ctx: ServiceContext) -> int:
    """Resume subscriptions whose accepted pause has run out (part of ``aboguard tick``)."""
    today = ctx.today()
    resumed = 0
    with ctx.uow() as uow:
        for decision in uow.incentives.pauses_ending(today):
            sub = uow.subscriptions.get(SubscriptionId(decision.subscription_id))
            if sub.status is SubscriptionStatus.PAUSED:
                sub, events = lifecycle.resume(sub, uow.plans.get_version(sub.plan_version_id), today)
                uow.subscriptions.save(sub)
                uow.events.add(events, ctx.now())
                resumed += 1
            uow.incentives.mark_resumed(decision.id)  # resumed by hand meanwhile: nothing left to do
        uow.commit()
    return resumed


def _offer(uow: UnitOfWork, code: str) -> RetentionOffer:
    offer = uow.incentives.offer(code)
    if offer is None or not offer.active:
        raise OfferNotFound(f"no active retention offer {code.strip().upper()!r}; "
                            "`aboguard retention offers` lists them")
    return offer


# -- win-back -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WinBack:
    subscription: subscriptions.SubscriptionView
    previous_id: str
    offer_code: str | None


def win_back(ctx: ServiceContext, subscription_id: str, *, offer_code: str | None = None) -> WinBack:
    """Start the customer again on the plan of a subscription that ended for non-payment, once nothing is owed."""
    with ctx.uow() as uow:
        old = uow.subscriptions.get(SubscriptionId(subscription_id))
        if old.status not in {SubscriptionStatus.CANCELED, SubscriptionStatus.ENDED} \
                or old.cancel_reason != "non_payment":
            raise InvalidTransition(f"subscription {old.id} is {old.status.value} (reason "
                                    f"{old.cancel_reason or 'none'}); win-back is for subscriptions cancelled for "
                                    "non-payment")
        owed = [i for status in OPEN for i in uow.invoices.list(customer_id=CustomerId(old.customer_id),
                                                                 status=status, kind=DocumentKind.INVOICE,
                                                                 limit=1000)]
        if owed:
            total = sum((i.amount_due for i in owed), Money.zero(owed[0].currency))
            numbers = ", ".join(i.number or i.id for i in owed)
            raise InvalidTransition(f"the customer still owes {total} on {numbers}; once that is paid (e.g. "
                                    "`aboguard payments record INVOICE`) the subscription can start again")
        plan_code = plans.plan_code_of(uow, old.plan_version_id)
        offer = _offer(uow, offer_code) if offer_code else None
        if offer is not None and offer.kind is not OfferKind.DISCOUNT:
            raise rules.InvalidOffer(f"offer {offer.code} is a {offer.kind.value}; a win-back takes a discount offer")
    view = subscriptions.create_subscription(ctx, customer_id=old.customer_id, plan_code=plan_code)
    with ctx.uow() as uow:
        events: list[Event] = []
        if offer is not None:
            assert offer.coupon_code is not None
            _, events = incentives.redeem_in(ctx, uow, view.subscription.id, offer.coupon_code)
        events.append(rules.SubscriptionWonBack(view.subscription.id, old.customer_id, old.id,
                                                offer.code if offer else None))
        uow.events.add(events, ctx.now())
        uow.commit()
    return WinBack(view, old.id, offer.code if offer else None)
