"""Contract use cases: the contract summary, acceptance evidence, and cancellation requests (§ 312k BGB)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aboguard.domain import contracts as rules
from aboguard.domain import subscriptions as lifecycle
from aboguard.domain import terms as terms_
from aboguard.domain.contract_summary import ContractSummary, method_label, render
from aboguard.domain.contracts import CancellationIdentity, CancellationKind, CancellationRequest
from aboguard.domain.customers import Customer
from aboguard.domain.events import Event
from aboguard.domain.subscriptions import Subscription
from aboguard.domain.terms import Acceptance, AcceptanceSpec, Language, TermsDocument
from aboguard.errors import InvalidTransition
from aboguard.ids import SubscriptionId
from aboguard.store.uow import UnitOfWork

from .context import ServiceContext
from .terms import terms_in_force


def summary_for(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, customer: Customer, *,
                language: Language, today: date, terms: TermsDocument | None,
                concluded_on: date | None = None, instructed: bool = True) -> ContractSummary:
    """The summary of ``sub`` as of ``today`` (inside ``uow``)."""
    version = uow.plans.get_version(sub.plan_version_id)
    plan = uow.plans.get(version.plan_id)
    method = uow.payment_methods.default_for(customer.id)
    concluded = concluded_on or sub.created_at.astimezone(ctx.merchant_tz).date()
    return ContractSummary(
        subscription_id=sub.id, language=language, as_of=today, merchant_name=ctx.billing.merchant_name,
        customer_name=customer.company or customer.name, consumer=sub.consumer, plan_name=plan.name,
        plan_code=plan.code, plan_version=version.number, price=version.price, interval=version.interval,
        tax_inclusive=version.tax_inclusive, setup_fee=version.setup_fee, start_on=sub.start_on,
        trial_end_on=sub.trial_end_on, payment_method=method_label(method, language) if method else None,
        min_term_months=version.terms.min_term_months,
        min_term_last_day=sub.min_term_end_on - timedelta(days=1) if sub.min_term_end_on else None,
        notice_days=version.terms.notice_days,
        renewal=version.terms.renewal, renewal_term_months=version.terms.renewal_term_months,
        status=sub.status.value, window=rules.cancellation_window(sub, version, today),
        ends_on=sub.ends_on,
        withdrawal_deadline=rules.withdrawal_deadline(
            concluded, instructed=instructed, is_holiday=ctx.public_holiday) if sub.consumer else None,
        terms_code=terms.code if terms else None, terms_version=terms.version if terms else None,
        terms_sha256=terms.sha256 if terms else None)


def record_acceptance(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, customer: Customer,
                      spec: AcceptanceSpec, *, reason: str = "subscription_started") -> tuple[Acceptance, list[Event]]:
    """Inside ``uow``: the terms in force today and the summary shown, accepted by the customer now."""
    today = ctx.today()
    language = terms_.language_for(customer.locale)
    version = uow.plans.get_version(sub.plan_version_id)
    terms = terms_in_force(uow, uow.plans.get(version.plan_id), language, today)
    summary = summary_for(ctx, uow, sub, customer, language=language, today=today, terms=terms)
    acceptance, events = terms_.record_acceptance(
        ctx.new_id(), subscription_id=sub.id, customer_id=customer.id, customer_name=customer.name, spec=spec,
        accepted_at=ctx.now(), summary_text=render(summary), summary_locale=language.value,
        terms=terms, reason=reason)
    uow.acceptances.add(acceptance)
    return acceptance, events


def accept_terms(ctx: ServiceContext, subscription_id: str, spec: AcceptanceSpec) -> Acceptance:
    """The customer accepts the terms now in force (after a terms change); earlier acceptances stay."""
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        if sub.status not in lifecycle.LIVE:
            raise InvalidTransition(f"subscription {sub.id} is {sub.status.value}; nothing to accept")
        acceptance, events = record_acceptance(ctx, uow, sub, uow.customers.get(sub.customer_id), spec,
                                               reason="terms_changed")
        uow.events.add(events, ctx.now())
        uow.commit()
    return acceptance


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """When the contract was concluded, whether the customer was shown the withdrawal instruction, and which
    terms version applies (the last one accepted)."""

    concluded_on: date
    instructed: bool
    terms: TermsDocument | None
    acceptances: list[Acceptance]


def contract_facts(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription) -> ContractFacts:
    acceptances = uow.acceptances.for_subscription(sub.id)
    first = acceptances[0].accepted_at if acceptances else sub.created_at
    accepted_terms = [a for a in acceptances if a.terms_document_id]
    terms = uow.terms.get(accepted_terms[-1].terms_document_id) if accepted_terms else None  # type: ignore[arg-type]
    return ContractFacts(first.astimezone(ctx.merchant_tz).date(), bool(acceptances), terms, acceptances)


def get_contract_summary(ctx: ServiceContext, subscription_id: str, *, locale: str | None = None) -> ContractSummary:
    """The summary as of today, in ``locale`` (default: the customer's), with the terms the customer accepted."""
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        customer = uow.customers.get(sub.customer_id)
        facts = contract_facts(ctx, uow, sub)
        return summary_for(ctx, uow, sub, customer, language=terms_.language_for(locale or customer.locale),
                           today=ctx.today(), terms=facts.terms, concluded_on=facts.concluded_on,
                           instructed=facts.instructed)


def list_acceptances(ctx: ServiceContext, subscription_id: str) -> list[Acceptance]:
    with ctx.uow() as uow:
        uow.subscriptions.get(SubscriptionId(subscription_id))
        return uow.acceptances.for_subscription(subscription_id)


# -- cancellation (§ 312k BGB) ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CancellationOutcome:
    request: CancellationRequest
    subscription: Subscription
    confirmation: rules.CancellationConfirmed


def request_cancellation(ctx: ServiceContext, subscription_id: str, *,
                         kind: CancellationKind = CancellationKind.ORDINARY, last_day: date | None = None,
                         reason: str | None = None, name: str | None = None, email: str | None = None,
                         contract_ref: str | None = None, channel: str = "cli") -> CancellationOutcome:
    """Record a cancellation as received now, end the contract when the terms allow, and confirm it.

    ``last_day`` is the wished-for last day (None: the earliest possible). Name, e-mail and contract identifier
    are kept as given (default: the customer's and the subscription id). The confirmation event carries the
    date and time of receipt and the end date, for the e-mail the customer gets at once (§ 312k (4)).
    """
    today = ctx.today()
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        customer = uow.customers.get(sub.customer_id)
        version = uow.plans.get_version(sub.plan_version_id)
        identity = CancellationIdentity(customer.name if name is None else name,
                                        customer.email if email is None else email,
                                        sub.id if contract_ref is None else contract_ref)
        ends_on, too_early = rules.decide_end(sub, version, kind=kind, received_on=today,
                                              requested_last_day=last_day, reason=reason)
        sub, events = lifecycle.cancel(sub, version, requested_on=today, reason=kind.value, ends_on=ends_on,
                                       immediately=kind is CancellationKind.EXTRAORDINARY)
        request, confirmation = record_request(
            ctx, uow, sub, customer, kind=kind, identity=identity, channel=channel, ends_on=ends_on,
            requested_last_day=last_day, too_early=too_early, reason=reason)
        sub = uow.subscriptions.save(sub)
        uow.events.add([*events, confirmation], request.received_at)
        uow.commit()
    return CancellationOutcome(request, sub, confirmation)


def record_request(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, customer: Customer, *,
                   kind: CancellationKind, identity: CancellationIdentity, channel: str, ends_on: date,
                   requested_last_day: date | None, too_early: bool = False, reason: str | None = None
                   ) -> tuple[CancellationRequest, rules.CancellationConfirmed]:
    """Inside ``uow``: store the request as received now and make its confirmation event (not yet added)."""
    received_at = ctx.now()
    request = CancellationRequest(
        id=ctx.new_id(), subscription_id=sub.id, customer_id=customer.id, kind=kind, received_at=received_at,
        received_on=ctx.today(), identity=identity, channel=channel,
        earliest_possible=requested_last_day is None or too_early, ends_on=ends_on,
        reason=(reason or "").strip() or None, requested_last_day=requested_last_day, requested_too_early=too_early)
    uow.cancellations.add(request)
    confirmation = rules.confirmation(request, local_received=_local(ctx, received_at),
                                      locale=terms_.language_for(customer.locale).value)
    return request, confirmation


def list_cancellations(ctx: ServiceContext, subscription_id: str) -> list[CancellationRequest]:
    with ctx.uow() as uow:
        return uow.cancellations.for_subscription(subscription_id)


def _local(ctx: ServiceContext, instant: datetime) -> datetime:
    return instant.astimezone(ctx.merchant_tz)
