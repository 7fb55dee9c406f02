"""Coupons, the discounts billing puts on invoices, and what incentives cost next to what they bought.

Billing asks a :class:`Discounter` for each subscription's discount lines: the coupons redeemed onto the
subscription that still run, and the oldest loyalty reward waiting for it. The discounter reads all of
that for a whole batch of subscriptions in two queries, and records in the billing transaction what each
invoice used (redemption periods, rewards applied) and what it granted (``incentive_grants``).
Discounts apply to the recurring invoices billing issues, not to proration invoices of a plan change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aboguard.domain import coupons as rules
from aboguard.domain.coupons import Coupon, CouponDuration, Discount, Grant, Redemption, RedemptionStatus
from aboguard.domain.events import Event
from aboguard.domain.invoicing import DocumentKind, Invoice, InvoiceStatus, LineDraft
from aboguard.domain.loyalty import LoyaltyRewardApplied, LoyaltyRule, Reward, RewardStatus, paid_on_time
from aboguard.domain.payments import AttemptStatus
from aboguard.domain.subscriptions import LIVE, Subscription
from aboguard.errors import InvalidInput, NotFound
from aboguard.ids import SubscriptionId
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from . import plans
from .context import ServiceContext


class CouponNotFound(NotFound):
    code = "coupon.not_found"


def parse_percent(text: str | None, option: str = "--percent") -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip().rstrip("%").replace(",", "."))
    except InvalidOperation:
        raise InvalidInput(f"{option} {text!r} is not a number; write e.g. 10 or 12.5") from None
    if not value.is_finite():
        raise InvalidInput(f"{option} {text!r} is not a number; write e.g. 10 or 12.5")
    return value


# -- coupons ------------------------------------------------------------------------------------------------


def create_coupon(ctx: ServiceContext, code: str, name: str, *, percent: str | None = None,
                  amount: str | None = None, currency: str = "EUR", duration: str = "once", periods: int | None = None,
                  plans: Sequence[str] = (), max_redemptions: int | None = None, per_customer: int = 1,
                  redeem_by: date | None = None, stackable: bool = False) -> Coupon:
    try:
        kind = CouponDuration(duration)
    except ValueError:
        raise InvalidInput(f"--duration {duration!r}: use once, repeating or forever") from None
    coupon = rules.build_coupon(code, name, percent=parse_percent(percent),
                                amount=Money.parse(amount, currency) if amount is not None else None,
                                duration=kind, periods=periods, plan_codes=plans, max_redemptions=max_redemptions,
                                per_customer=per_customer, redeem_by=redeem_by, stackable=stackable,
                                created_at=ctx.now())
    with ctx.uow() as uow:
        if uow.incentives.coupon(coupon.code) is not None:
            raise rules.InvalidCoupon(f"a coupon with code {coupon.code} already exists")
        for plan in coupon.plan_codes:
            uow.plans.get_by_code(plan)  # an unknown plan code is refused (PlanNotFound)
        uow.incentives.add_coupon(coupon)
        uow.events.add([rules.CouponCreated(coupon.code, coupon.describe())], ctx.now())
        uow.commit()
    return coupon


def list_coupons(ctx: ServiceContext, *, include_archived: bool = False) -> list[tuple[Coupon, int]]:
    """Coupons with how often each was redeemed."""
    with ctx.uow() as uow:
        found = uow.incentives.coupons(include_archived=include_archived)
        counts = uow.incentives.redemption_totals()
        return [(c, counts.get(c.code, 0)) for c in found]


def get_coupon(ctx: ServiceContext, code: str) -> tuple[Coupon, list[Redemption]]:
    with ctx.uow() as uow:
        coupon = _coupon(uow, code)
        return coupon, uow.incentives.redemptions(coupon_code=coupon.code)


def archive_coupon(ctx: ServiceContext, code: str) -> Coupon:
    """No new redemptions; running ones go on as agreed."""
    with ctx.uow() as uow:
        coupon = _coupon(uow, code)
        uow.incentives.archive_coupon(coupon.code)
        uow.commit()
        return replace(coupon, active=False)


def _coupon(uow: UnitOfWork, code: str) -> Coupon:
    coupon = uow.incentives.coupon(code)
    if coupon is None:
        raise CouponNotFound(f"no coupon with code {code.strip().upper()!r}; `aboguard coupons list` shows them")
    return coupon


def redeem_coupon(ctx: ServiceContext, subscription_id: str, code: str) -> Redemption:
    """Put a coupon on a subscription: its next invoices carry the discount (see the coupon's duration)."""
    with ctx.uow() as uow:
        redemption, events = redeem_in(ctx, uow, subscription_id, code)
        uow.events.add(events, ctx.now())
        uow.commit()
        return redemption


def redeem_in(ctx: ServiceContext, uow: UnitOfWork, subscription_id: str, code: str
              ) -> tuple[Redemption, list[Event]]:
    coupon = _coupon(uow, code)
    sub = uow.subscriptions.get(SubscriptionId(subscription_id))
    if sub.status not in LIVE:
        raise rules.CouponNotRedeemable(f"subscription {sub.id} is {sub.status.value}; a coupon needs a running one")
    plan_code = plans.plan_code_of(uow, sub.plan_version_id)
    running = uow.incentives.running_redemptions([sub.id]).get(sub.id, [])
    running_coupons = list(uow.incentives.coupons_by_code([r.coupon_code for r in running]).values())
    in_all, by_customer = uow.incentives.redemption_counts(coupon.code, sub.customer_id)
    rules.check_redeemable(coupon, today=ctx.today(), plan_code=plan_code, redeemed_in_all=in_all,
                           redeemed_by_customer=by_customer, running=running_coupons)
    redemption = Redemption(ctx.new_id(), coupon.code, sub.customer_id, sub.id, ctx.now())
    uow.incentives.add_redemption(redemption)
    return redemption, [rules.CouponRedeemed(sub.id, coupon.code, sub.customer_id, redemption.id)]


def remove_coupon(ctx: ServiceContext, subscription_id: str, code: str) -> Redemption:
    with ctx.uow() as uow:
        running = uow.incentives.running_redemptions([subscription_id]).get(subscription_id, [])
        found = [r for r in running if r.coupon_code == code.strip().upper()]
        if not found:
            raise CouponNotFound(f"coupon {code.strip().upper()} does not run on subscription {subscription_id}")
        removed = uow.incentives.save_redemption(replace(found[0], status=RedemptionStatus.REMOVED))
        uow.events.add([rules.CouponRemoved(subscription_id, removed.coupon_code, removed.id)], ctx.now())
        uow.commit()
        return removed


# -- billing ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Use:
    invoice_id: str
    sub: Subscription
    source: Redemption | Reward
    code: str
    amount: Money


@dataclass(slots=True)
class Discounter:
    """The discounts of one billing batch (see the module docstring)."""

    ctx: ServiceContext
    _coupons: dict[str, Coupon] = field(default_factory=dict)
    _rules: dict[str, LoyaltyRule] | None = None
    _redemptions: dict[str, list[Redemption]] = field(default_factory=dict)
    _loaded: dict[str, Redemption] = field(default_factory=dict)  # as read, for the optimistic save
    _rewards: dict[str, list[Reward]] = field(default_factory=dict)
    _uses: list[_Use] = field(default_factory=list)
    _applied: dict[str, str] = field(default_factory=dict)  # reward -> the invoice it went on

    def load(self, uow: UnitOfWork, subs: Sequence[Subscription]) -> None:
        ids = [sub.id for sub in subs]
        self._uses, self._applied = [], {}
        self._redemptions = uow.incentives.running_redemptions(ids)
        self._loaded = {r.id: r for found in self._redemptions.values() for r in found}
        self._rewards = uow.incentives.pending_rewards(ids)
        missing = {r.coupon_code for r in self._loaded.values()} - set(self._coupons)
        self._coupons.update(uow.incentives.coupons_by_code(missing))
        if self._rewards and self._rules is None:
            self._rules = {rule.code: rule for rule in uow.incentives.rules(include_inactive=True)}

    def lines_for(self, sub: Subscription, invoice_id: str, lines: Sequence[LineDraft], currency: str
                  ) -> list[LineDraft]:
        """The discount lines for one invoice of ``sub``; what they use is remembered for :meth:`record`."""
        sources: list[tuple[Discount, Redemption | Reward, str]] = []
        for redemption in self._redemptions.get(sub.id, []):
            coupon = self._coupons[redemption.coupon_code]
            if redemption.status is RedemptionStatus.ACTIVE and redemption.periods_left(coupon) != 0:
                sources.append((coupon.discount(), redemption, coupon.code))
        waiting = [r for r in self._rewards.get(sub.id, []) if r.status is RewardStatus.PENDING]
        if waiting:  # one reward per invoice, the oldest first
            reward = waiting[0]
            rule = (self._rules or {}).get(reward.rule_code)
            sources.append((reward.discount(rule.name if rule else reward.rule_code), reward, reward.rule_code))
        if not sources:
            return []
        made: list[LineDraft] = []
        by_discount = {id(d): (source, code) for d, source, code in sources}
        for discount, discount_lines in rules.allowance_lines(lines, [d for d, _, _ in sources], currency):
            source, code = by_discount[id(discount)]
            self._use(source, invoice_id)  # used even when nothing was left to take off: a period of the coupon went by
            if discount_lines:
                made += discount_lines
                amount = -sum((line.amount for line in discount_lines), Money.zero(currency))
                self._uses.append(_Use(invoice_id, sub, source, code, amount))
        return made

    def _use(self, source: Redemption | Reward, invoice_id: str) -> None:
        if isinstance(source, Redemption):
            current = self._redemptions[source.subscription_id]
            index = next(i for i, r in enumerate(current) if r.id == source.id)
            current[index] = rules.use_period(current[index], self._coupons[source.coupon_code])
        else:
            current_rewards = self._rewards[source.subscription_id]
            index = next(i for i, r in enumerate(current_rewards) if r.id == source.id)
            current_rewards[index] = replace(source, status=RewardStatus.APPLIED, applied_invoice_id=invoice_id)
            self._applied[source.id] = invoice_id

    def record(self, uow: UnitOfWork, issued: Sequence[Invoice]) -> list[Event]:
        """After the batch's invoices are issued: save what the discounts used, and what they granted."""
        numbers = {invoice.id: invoice for invoice in issued}
        events: list[Event] = []
        for found in self._redemptions.values():
            for redemption in found:
                before = self._loaded[redemption.id]
                if redemption.periods_used != before.periods_used:
                    uow.incentives.save_redemption(replace(redemption, version=before.version))
        for found_rewards in self._rewards.values():
            for reward in found_rewards:
                if reward.id in self._applied and reward.applied_invoice_id in numbers:
                    uow.incentives.save_reward(reward)
                    events.append(LoyaltyRewardApplied(reward.subscription_id, reward.id, reward.applied_invoice_id))
        now = self.ctx.now()
        grants = [Grant(self.ctx.new_id(), use.invoice_id, use.sub.customer_id, use.sub.id,
                        "coupon" if isinstance(use.source, Redemption) else "loyalty", use.code, use.source.id,
                        use.amount, now)
                  for use in self._uses if use.invoice_id in numbers]
        uow.incentives.add_grants(grants)
        self._uses, self._applied = [], {}
        return events


# -- reporting ----------------------------------------------------------------------------------------------


def report(ctx: ServiceContext) -> dict[str, Any]:
    """What incentives cost (discounts granted, by source) next to what they bought (on-time payment of
    rewarded customers and of the rest; retention of customers who accepted an offer and of those who
    refused)."""
    with ctx.uow() as uow:
        grants = uow.incentives.grants()
        rewards = uow.incentives.rewards()
        decisions = uow.incentives.decisions()
        invoices = uow.invoices.list(kind=DocumentKind.INVOICE, limit=10_000_000)
        paid_on = _paid_days(ctx, uow)
        attempts = uow.attempts.list(limit=10_000_000)
        subs = {s.id: s for s in uow.subscriptions.list(limit=10_000_000)}
    failed = {a.invoice_id for a in attempts if a.status in {AttemptStatus.FAILED, AttemptStatus.REVERSED}}
    collected: dict[str, date] = {}  # the first day a charge that succeeded was made, per invoice
    for attempt in attempts:
        if attempt.status is AttemptStatus.SUCCEEDED:
            day = attempt.created_at.astimezone(ctx.merchant_tz).date()
            collected[attempt.invoice_id] = min(day, collected.get(attempt.invoice_id, day))
    by_source: dict[str, dict[str, int]] = {}
    for grant in grants:
        bucket = by_source.setdefault(grant.source, {})
        key = f"{grant.source_code} {grant.amount.currency}"
        bucket[key] = bucket.get(key, 0) + grant.amount.minor
    rewarded = {r.customer_id for r in rewards}
    groups = {"rewarded": [0, 0], "other": [0, 0]}
    today = ctx.today()
    for invoice in invoices:
        if invoice.status in {InvoiceStatus.DRAFT, InvoiceStatus.VOID} or invoice.due_on is None \
                or invoice.due_on > today or invoice.total.is_zero():
            continue
        group = groups["rewarded" if invoice.customer_id in rewarded else "other"]
        group[1] += 1
        if invoice.status is InvoiceStatus.PAID and invoice.id not in failed \
                and paid_on_time(invoice.due_on, paid_on.get(invoice.id), collected.get(invoice.id)):
            group[0] += 1
    kept = {"accepted": [0, 0], "declined": [0, 0]}
    for decision in decisions:
        sub = subs.get(decision.subscription_id)
        group = kept["accepted" if decision.accepted else "declined"]
        group[1] += 1
        if sub is not None and sub.status in LIVE:
            group[0] += 1
    return {
        "discounts_granted_minor": by_source,
        "discounts_total_minor": sum(g.amount.minor for g in grants),
        "rewards_granted": len(rewards),
        "rewards_applied": sum(1 for r in rewards if r.status is RewardStatus.APPLIED),
        "on_time": {name: {"on_time": n, "due": d, "rate": round(n / d, 4) if d else None}
                    for name, (n, d) in groups.items()},
        "retention": {name: {"still_subscribed": n, "decisions": d, "rate": round(n / d, 4) if d else None}
                      for name, (n, d) in kept.items()},
    }


def _paid_days(ctx: ServiceContext, uow: UnitOfWork) -> dict[str, date]:
    """The day each invoice was paid in full, from the ``invoice.paid`` events (merchant's time zone)."""
    found: dict[str, date] = {}
    for event in uow.events.since(datetime(1970, 1, 1, tzinfo=ctx.merchant_tz), ["invoice.paid"], limit=10_000_000):
        found[event.aggregate_id] = event.occurred_at.astimezone(ctx.merchant_tz).date()
    return found
