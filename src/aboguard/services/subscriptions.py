"""Subscription use cases: subscribe, show, list, cancel, change plan, pause and resume."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from aboguard.domain import invoicing
from aboguard.domain import subscriptions as lifecycle
from aboguard.domain.catalog import PaymentMethodKind, Plan, PlanVersion
from aboguard.domain.contracts import CancellationIdentity, CancellationKind
from aboguard.domain.customers import Customer
from aboguard.domain.events import Event
from aboguard.domain.invoicing import DocumentKind, Invoice, InvoiceStatus
from aboguard.domain.periods import Period
from aboguard.domain.subscriptions import ChangeTiming, Proration, Subscription, SubscriptionStatus
from aboguard.domain.terms import AcceptanceSpec
from aboguard.errors import InvalidSubscription
from aboguard.ids import CustomerId, InvoiceId, SubscriptionId
from aboguard.store.uow import UnitOfWork

from . import billing, contracts, plans
from .context import ServiceContext
from .payment_methods import ensure_method_allowed


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription with the plan terms it runs on and what cancelling today would mean."""

    subscription: Subscription
    plan: Plan
    version: PlanVersion
    customer_email: str
    current_period: Period | None
    end_if_cancelled_today: date | None
    pending_plan_code: str | None = None


def create_subscription(ctx: ServiceContext, *, customer_id: str, plan_code: str,
                        start_on: date | None = None, acceptance: AcceptanceSpec | None = None) -> SubscriptionView:
    """Subscribe ``customer_id`` to the plan's current version.

    With ``acceptance`` (how the customer agreed: channel, IP address, user agent), the terms version in force
    today and the contract summary shown are recorded as acceptance evidence in the same transaction.
    """
    today = ctx.today()
    with ctx.uow() as uow:
        customer = uow.customers.get(CustomerId(customer_id))
        plan = uow.plans.get_by_code(plan_code)
        method = uow.payment_methods.default_for(customer.id)
        if method is not None:  # the plan's terms must accept how this customer pays
            ensure_method_allowed(plan.current, method)
        sub, events = lifecycle.start(SubscriptionId(ctx.new_id()), customer=customer, plan=plan,
                                      start_on=start_on or today, created_at=ctx.now())
        uow.subscriptions.add(sub)
        if acceptance is not None:
            events += contracts.record_acceptance(ctx, uow, sub, customer, acceptance)[1]
        uow.events.add(events, ctx.now())
        view = _view(uow, sub, today)
        uow.commit()
    return view


def get_subscription(ctx: ServiceContext, subscription_id: str) -> SubscriptionView:
    with ctx.uow() as uow:
        return _view(uow, uow.subscriptions.get(SubscriptionId(subscription_id)), ctx.today())


def list_subscriptions(ctx: ServiceContext, *, customer_id: str | None = None,
                       status: SubscriptionStatus | None = None, limit: int = 100) -> list[SubscriptionView]:
    today = ctx.today()
    with ctx.uow() as uow:
        subs = uow.subscriptions.list(customer_id=CustomerId(customer_id) if customer_id else None,
                                      status=status, limit=limit)
        return [_view(uow, sub, today) for sub in subs]


def cancel_subscription(ctx: ServiceContext, subscription_id: str, *, last_day: date | None = None,
                        immediately: bool = False, reason: str = "customer_request") -> SubscriptionView:
    """Cancel at the earliest end the terms allow, after a later wished-for ``last_day``, or now.

    A cancellation with notice is the customer's, taken down by the merchant: it is recorded as a cancellation
    request and confirmed like one from ``aboguard contracts cancel`` (§ 312k BGB); ``immediately`` is the
    merchant's own decision and is not. Unlike ``contracts cancel``, a ``last_day`` too early is refused.
    """
    ends_on = last_day + timedelta(days=1) if last_day else None
    today = ctx.today()
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        version = uow.plans.get_version(sub.plan_version_id)
        sub, events = lifecycle.cancel(sub, version, requested_on=today, reason=reason, ends_on=ends_on,
                                       immediately=immediately)
        if not immediately and sub.ends_on is not None:
            customer = uow.customers.get(sub.customer_id)
            _, confirmation = contracts.record_request(
                ctx, uow, sub, customer, kind=CancellationKind.ORDINARY, channel="merchant", ends_on=sub.ends_on,
                identity=CancellationIdentity(customer.name, customer.email, sub.id), requested_last_day=last_day,
                reason=None if reason == "customer_request" else reason)
            events.append(confirmation)
        return _save(ctx, uow, sub, events, today)


def change_subscription_plan(ctx: ServiceContext, subscription_id: str, plan_code: str,
                             timing: ChangeTiming = ChangeTiming.AUTO
                             ) -> tuple[SubscriptionView, Proration | None, Invoice | None]:
    """Upgrade now with proration or downgrade at period end (or as ``timing`` says).

    A change now within a period already invoiced is settled at once, in the same transaction: an
    invoice for the difference when the new plan costs more, a credit note against the period's invoice
    when it costs less.
    """
    today = ctx.today()
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        current = uow.plans.get_version(sub.plan_version_id)
        current_plan = uow.plans.get(current.plan_id)
        target = uow.plans.get_by_code(plan_code)
        customer = uow.customers.get(sub.customer_id)
        lifecycle.ensure_plan_fits(target, customer)
        method = uow.payment_methods.default_for(customer.id)
        if method is not None:
            ensure_method_allowed(target.current, method)
        sub, events, proration = lifecycle.change_plan(sub, current, target.current, today=today, timing=timing)
        document = None
        if proration is not None and not proration.net.is_zero():
            document = _settle_proration(ctx, uow, sub, customer, proration, current, current_plan.name, target)
        return _save(ctx, uow, sub, events, today), proration, document


def _settle_proration(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, customer: Customer,
                      proration: Proration, current: PlanVersion, current_name: str, target: Plan) -> Invoice:
    lines = invoicing.proration_lines(proration, current, current_name, target.current, target.name)
    kind, corrects = DocumentKind.INVOICE, None
    if proration.net.is_negative():
        kind = DocumentKind.CREDIT_NOTE
        lines = [replace(line, amount=-line.amount) for line in lines]
        corrects = _invoice_covering(uow, sub, proration.period.start)
    draft = invoicing.draft(
        InvoiceId(ctx.new_id()), kind=kind, customer_id=customer.id, subscription_id=sub.id,
        buyer=billing.buyer_of(customer), lines=lines, decision=billing.decide_tax(ctx, customer),
        tax_date=proration.period.start, prices_include_tax=target.current.tax_inclusive,
        currency=proration.net.currency, created_at=ctx.now(), corrects_id=corrects.id if corrects else None,
        # charged like the period's invoices: the customer's default method, if the new plan takes it
        payment_method=_default_method_kind(uow, customer, target.current) if corrects is None else None)
    (document,), events = billing.issue_documents(ctx, uow, [draft])
    if corrects is not None:
        updated, voided = invoicing.apply_credit(corrects, document)
        uow.invoices.save(updated)
        events += voided
    uow.events.add(events, ctx.now())
    return document


def _default_method_kind(uow: UnitOfWork, customer: Customer, version: PlanVersion) -> PaymentMethodKind | None:
    method = uow.payment_methods.default_for(customer.id)
    return method.kind if method is not None and method.kind in version.payment_methods else None


def _invoice_covering(uow: UnitOfWork, sub: Subscription, day: date) -> Invoice:
    for invoice in uow.invoices.list(subscription_id=sub.id, kind=DocumentKind.INVOICE, limit=10_000):
        if invoice.supply_start and invoice.supply_end and invoice.supply_start <= day < invoice.supply_end \
                and invoice.status is not InvoiceStatus.VOID:
            return invoice
    raise InvalidSubscription(f"no invoice of subscription {sub.id} covers {day}; nothing to credit the change against")


def pause_subscription(ctx: ServiceContext, subscription_id: str) -> SubscriptionView:
    today = ctx.today()
    with ctx.uow() as uow:
        sub, events = lifecycle.pause(uow.subscriptions.get(SubscriptionId(subscription_id)), today)
        return _save(ctx, uow, sub, events, today)


def resume_subscription(ctx: ServiceContext, subscription_id: str) -> SubscriptionView:
    today = ctx.today()
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        sub, events = lifecycle.resume(sub, uow.plans.get_version(sub.plan_version_id), today)
        return _save(ctx, uow, sub, events, today)


def _save(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, events: list[Event],
          today: date) -> SubscriptionView:
    sub = uow.subscriptions.save(sub)
    uow.events.add(events, ctx.now())
    view = _view(uow, sub, today)
    uow.commit()
    return view


def _view(uow: UnitOfWork, sub: Subscription, today: date) -> SubscriptionView:
    version = uow.plans.get_version(sub.plan_version_id)
    plan = uow.plans.get(version.plan_id)
    customer = uow.customers.get(sub.customer_id)
    live = sub.status in lifecycle.LIVE
    pending = plans.plan_code_of(uow, sub.pending_plan_version_id) \
        if sub.pending_plan_version_id else None
    return SubscriptionView(
        subscription=sub, plan=plan, version=version, customer_email=customer.email,
        current_period=lifecycle.current_period(sub, version, today) if live else None,
        end_if_cancelled_today=lifecycle.earliest_end(sub, version, today) if live else None,
        pending_plan_code=pending,
    )
