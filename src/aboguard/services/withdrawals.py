"""Withdrawal (Widerruf) by a consumer: the contract ends at once, what was paid for the time after it comes back.

Phase one (one transaction) checks the withdrawal period, ends the subscription today, records the withdrawal
as a request with the instant received, and writes the confirmation event. Phase two settles each invoice of
the subscription: the part for the days from the withdrawal on (pro rata, :func:`unused_share`) is credited;
as much of it as was paid goes back through the refund service (credit note plus payout, exactly once through
the gateway), the rest is a credit note only (no longer owed). The days served before the withdrawal stay
owed (§ 357a (2) BGB).

Every credit note names the withdrawal, so phase two can be run again after a crash: it credits only what is
still missing and never refunds twice. ``withdraw`` on a subscription already withdrawn from finishes that and
is otherwise refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from aboguard.domain import contracts as rules
from aboguard.domain import subscriptions as lifecycle
from aboguard.domain import terms as terms_
from aboguard.domain.contracts import CancellationIdentity, CancellationKind, CancellationRequest, WithdrawalRefused
from aboguard.domain.events import Event, SubscriptionCanceled
from aboguard.domain.invoicing import DocumentKind, Invoice, InvoiceStatus
from aboguard.domain.payments import AttemptStatus
from aboguard.domain.subscriptions import Subscription, SubscriptionStatus
from aboguard.ids import SubscriptionId
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from . import invoices as invoices_
from . import refunds as refunds_
from .context import ServiceContext
from .contracts import contract_facts


@dataclass(slots=True)
class WithdrawalOutcome:
    request: CancellationRequest
    subscription: Subscription
    refunded: dict[str, Money] = field(default_factory=dict)  # invoice number -> paid back now
    credited: dict[str, Money] = field(default_factory=dict)  # invoice number -> credited without payout now
    waiting: dict[str, Money] = field(default_factory=dict)  # a payment is on its way: settled by the next run


def withdraw(ctx: ServiceContext, subscription_id: str, *, channel: str = "cli") -> WithdrawalOutcome:
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        earlier = [r for r in uow.cancellations.for_subscription(sub.id) if r.kind is CancellationKind.WITHDRAWAL]
        if earlier and sub.cancel_reason == CancellationKind.WITHDRAWAL.value:
            request = earlier[-1]
            if not _plan(uow, sub, request):
                raise WithdrawalRefused(f"subscription {sub.id} was already withdrawn from on {request.received_on} "
                                        "and everything is refunded")
        else:
            request, sub = _end_contract(ctx, uow, sub, channel)
            uow.commit()
    outcome = WithdrawalOutcome(request, sub)
    _settle(ctx, outcome)
    return outcome


def _end_contract(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, channel: str
                  ) -> tuple[CancellationRequest, Subscription]:
    today, now = ctx.today(), ctx.now()
    customer = uow.customers.get(sub.customer_id)
    facts = contract_facts(ctx, uow, sub)
    deadline = rules.check_withdrawal(sub, concluded_on=facts.concluded_on, received_on=today,
                                      instructed=facts.instructed, is_holiday=ctx.public_holiday)
    reason = CancellationKind.WITHDRAWAL.value
    events: list[Event]
    if sub.status is SubscriptionStatus.CANCELED:  # cancelled before, withdrawn now: it ends today all the same
        sub = replace(sub, canceled_on=today, ends_on=min(sub.ends_on or today, today), cancel_reason=reason)
        events = [SubscriptionCanceled(sub.id, today, today, reason)]
        sub, ended = lifecycle.apply_due_changes(sub, today)
        events += ended
    else:
        version = uow.plans.get_version(sub.plan_version_id)
        sub, events = lifecycle.cancel(sub, version, requested_on=today, reason=reason, immediately=True)
    sub = uow.subscriptions.save(sub)
    request = CancellationRequest(
        id=ctx.new_id(), subscription_id=sub.id, customer_id=customer.id, kind=CancellationKind.WITHDRAWAL,
        received_at=now, received_on=today, identity=CancellationIdentity(customer.name, customer.email, sub.id),
        channel=channel, earliest_possible=False, ends_on=today, reason="withdrawal (§ 355 BGB)")
    uow.cancellations.add(request)
    refund_total = sum((amount for _, amount in _plan(uow, sub, request)), Money.zero(_currency(uow, sub)))
    events.append(rules.WithdrawalConfirmed(
        sub.id, request.id, customer.id, now, now.astimezone(ctx.merchant_tz).isoformat(), facts.concluded_on,
        deadline, refund_total, customer.email, terms_.language_for(customer.locale).value))
    uow.events.add(events, now)
    return request, sub


def _marker(request: CancellationRequest) -> str:
    return f"withdrawal {request.id}"


def _plan(uow: UnitOfWork, sub: Subscription, request: CancellationRequest) -> list[tuple[Invoice, Money]]:
    """(invoice, what is still to credit for the days from the withdrawal on) per invoice of the subscription."""
    marker = _marker(request)
    notes = uow.invoices.list(subscription_id=sub.id, kind=DocumentKind.CREDIT_NOTE, limit=10_000)
    plan = []
    for invoice in uow.invoices.list(subscription_id=sub.id, kind=DocumentKind.INVOICE, limit=10_000):
        if invoice.status is InvoiceStatus.VOID and invoice.credited == invoice.total:
            continue
        if not (invoice.supply_start and invoice.supply_end):
            continue
        done = sum((n.total for n in notes if n.corrects_id == invoice.id
                    and any(marker in line.description for line in n.lines)), Money.zero(invoice.currency))
        unused = rules.unused_share(invoice.total, invoice.supply_start, invoice.supply_end, request.received_on)
        creditable = invoice.total - (invoice.credited - done)
        left = min(unused, creditable) - done
        if left.is_positive():
            plan.append((invoice, left))
    return plan


def _currency(uow: UnitOfWork, sub: Subscription) -> str:
    return uow.plans.get_version(sub.plan_version_id).price.currency


def _settle(ctx: ServiceContext, outcome: WithdrawalOutcome) -> None:
    """Phase two: refund what was paid for the unused days, credit the rest.

    An invoice with a payment still on its way (a SEPA debit not settled) waits: crediting it now would leave
    the money that arrives later unrefunded. Running ``withdraw`` again once it settled finishes it.
    """
    request = outcome.request
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(request.subscription_id))
        plan = [(invoice, amount, _attempts_of(ctx, uow, invoice)) for invoice, amount in _plan(uow, sub, request)]
    reason = f"{_marker(request)} (Widerruf)"
    for planned, amount, (through_gateway, in_flight) in plan:
        if in_flight:
            outcome.waiting[planned.number or planned.id] = amount
            continue
        invoice = invoices_.get_invoice(ctx, planned.id)
        refund = min(amount, invoice.paid)
        if refund.is_positive():
            refunds_.refund_invoice(ctx, invoice.id, amount=str(refund.to_decimal()), reason=reason,
                                    method="gateway" if through_gateway else "transfer")
            outcome.refunded[invoice.number or invoice.id] = refund
        rest = amount - refund
        if rest.is_positive():
            invoices_.create_credit_note(ctx, invoice.id, amount=str(rest.to_decimal()), reason=reason)
            outcome.credited[invoice.number or invoice.id] = rest


def _attempts_of(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice) -> tuple[bool, bool]:
    """(paid through the configured gateway, a payment still on its way)."""
    attempts = uow.attempts.list(invoice_id=invoice.id, limit=1000)
    gateway = ctx.gateway.name if ctx.gateway is not None else None
    return (any(a.status is AttemptStatus.SUCCEEDED and a.gateway == gateway for a in attempts),
            any(a.status is AttemptStatus.PENDING for a in attempts))
