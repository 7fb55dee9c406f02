"""Loyalty rules, and the streaks payments build or break (called in the transaction that records the payment).

Each paid invoice of a subscription advances its streak under every active rule, or resets it; a failed
or returned payment resets it at once. A completed streak grants a reward, recorded with the invoices that
earned it and announced by an event; billing takes it off the subscription's next invoice
(:mod:`aboguard.services.incentives`).
"""

from __future__ import annotations

from aboguard.domain import loyalty as rules
from aboguard.domain.events import Event
from aboguard.domain.invoicing import Invoice
from aboguard.domain.loyalty import Criterion, LoyaltyRule, Reward
from aboguard.domain.payments import AttemptStatus
from aboguard.errors import InvalidInput, NotFound
from aboguard.store.uow import UnitOfWork

from .context import ServiceContext
from .incentives import parse_percent


class LoyaltyRuleNotFound(NotFound):
    code = "loyalty.rule_not_found"


def create_rule(ctx: ServiceContext, code: str, name: str, *, criterion: str = "on_time", streak: int,
                percent: str) -> LoyaltyRule:
    try:
        kind = Criterion(criterion)
    except ValueError:
        raise InvalidInput(f"--criterion {criterion!r}: use on_time or no_failure") from None
    value = parse_percent(percent)
    assert value is not None
    rule = rules.build_rule(code, name, criterion=kind, streak=streak, percent=value, created_at=ctx.now())
    with ctx.uow() as uow:
        if uow.incentives.rule(rule.code) is not None:
            raise rules.InvalidLoyaltyRule(f"a loyalty rule with code {rule.code} already exists")
        uow.incentives.add_rule(rule)
        uow.commit()
    return rule


def list_rules(ctx: ServiceContext) -> list[LoyaltyRule]:
    with ctx.uow() as uow:
        return uow.incentives.rules(include_inactive=True)


def deactivate_rule(ctx: ServiceContext, code: str) -> None:
    """Streaks stop counting; rewards already granted are still applied."""
    with ctx.uow() as uow:
        if not uow.incentives.deactivate_rule(code.strip().upper()):
            raise LoyaltyRuleNotFound(f"no loyalty rule {code.strip().upper()!r}; `aboguard loyalty rules` lists them")
        uow.commit()


def list_rewards(ctx: ServiceContext, *, customer_id: str | None = None) -> list[Reward]:
    with ctx.uow() as uow:
        return uow.incentives.rewards(customer_id=customer_id)


def on_invoice_paid(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice) -> list[Event]:
    """``invoice`` was just paid in full: advance or reset its subscription's streaks."""
    if invoice.subscription_id is None or invoice.is_credit_note or invoice.total.is_zero():
        return []
    active = uow.incentives.rules()
    if not active:
        return []
    attempts = uow.attempts.list(invoice_id=invoice.id, limit=1000)
    had_failure = any(a.status in {AttemptStatus.FAILED, AttemptStatus.REVERSED} for a in attempts)
    collected = [a.created_at.astimezone(ctx.merchant_tz).date() for a in attempts
                 if a.status is AttemptStatus.SUCCEEDED]
    on_time = rules.paid_on_time(invoice.due_on, ctx.today(), min(collected) if collected else None)
    events: list[Event] = []
    for rule in active:
        streak = uow.incentives.streak(invoice.subscription_id, rule.code)
        after, earned = rules.settle(rule, streak, invoice.id, on_time=on_time, had_failure=had_failure)
        if after != streak:
            uow.incentives.save_streak(after)
        if earned is not None:
            reward = Reward(ctx.new_id(), rule.code, invoice.customer_id, invoice.subscription_id, rule.percent,
                            earned, ctx.now())
            uow.incentives.add_reward(reward)
            events.append(rules.LoyaltyRewardGranted(invoice.subscription_id, invoice.customer_id, reward.id,
                                                     rule.code, f"{rule.name}: {rule.describe()}", earned))
    return events


def on_payment_failed(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice) -> None:
    """A payment for ``invoice`` failed or came back: its subscription's streaks start again."""
    if invoice.subscription_id is None:
        return
    for rule in uow.incentives.rules():
        streak = uow.incentives.streak(invoice.subscription_id, rule.code)
        if streak.count:
            uow.incentives.save_streak(rules.broken(streak))
