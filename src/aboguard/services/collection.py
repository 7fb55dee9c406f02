"""The collection run: charge invoices due for automatic collection, exactly once, and apply gateway news.

For each claimed invoice a ``pending`` attempt with an idempotency key derived from invoice and attempt
number is committed first; then the gateway is called; then the outcome is recorded in a second
transaction. A crash anywhere in between leaves a pending attempt that the next run resolves by asking
the gateway about the same key (and, if the gateway never saw it, by sending the same key again, which a
provider de-duplicates) — never by a charge under a new key. Gateway events (a SEPA debit settling or being
returned, a chargeback) are applied once per event id, in any order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from aboguard.domain import dunning_charges as charges_
from aboguard.domain import invoicing, ledger, retries
from aboguard.domain import payments as attempts_
from aboguard.domain import subscriptions as lifecycle
from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.declines import Decline
from aboguard.domain.events import Event
from aboguard.domain.invoicing import AUTO_COLLECTED, Invoice
from aboguard.domain.payment_methods import PaymentMethod
from aboguard.domain.payments import AttemptStatus, PaymentAttempt
from aboguard.errors import ConcurrentUpdate, InvalidInput, InvalidTransition
from aboguard.ids import InvoiceId, JournalEntryId, SubscriptionId
from aboguard.money import Money
from aboguard.payments import gateway as gateway_port
from aboguard.payments.gateway import (
    ChargeRequest,
    ChargeResult,
    GatewayEvent,
    GatewayEventType,
    InvalidSignature,
    MalformedEvent,
    MethodRef,
    Outcome,
    PaymentGateway,
)
from aboguard.store.uow import UnitOfWork

from . import dunning, loyalty, refunds
from .context import ServiceContext

log = logging.getLogger(__name__)

DEFAULT_BATCH = 100
STALE_AFTER = timedelta(minutes=15)
RESOLVE_BATCH = 100


@dataclass(frozen=True, slots=True)
class CollectionProblem:
    invoice: str
    code: str
    message: str


@dataclass(slots=True)
class CollectionReport:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    pending: int = 0
    requires_action: int = 0
    awaiting_export: int = 0  # SEPA debits left for the next pain.008 export (ABOGUARD_SEPA_CHANNEL=file)
    resolved: int = 0  # pending attempts from an interrupted run, settled by asking the gateway
    events_applied: int = 0
    collected: dict[str, int] = field(default_factory=dict)  # per currency, minor units
    problems: list[CollectionProblem] = field(default_factory=list)
    declines: list[CollectionProblem] = field(default_factory=list)  # charges refused now, with the reason
    events_by_type: dict[str, int] = field(default_factory=dict)


def gateway_of(ctx: ServiceContext) -> PaymentGateway:
    return ctx.require_gateway()


def run_collection(ctx: ServiceContext, *, batch_size: int = DEFAULT_BATCH, stale_after: timedelta = STALE_AFTER,
                   on_batch: Callable[[CollectionReport], None] | None = None) -> CollectionReport:
    """Resolve interrupted attempts, charge what is due today, then apply the gateway's pending news."""
    gateway = gateway_of(ctx)
    report = CollectionReport()
    resolve_interrupted(ctx, report, stale_after=stale_after)
    today = ctx.today()
    while True:
        started = _start_attempts(ctx, gateway, today, batch_size, report)
        if started is None:
            break
        answers = []
        for attempt, method, _ in started:
            request = ChargeRequest(idempotency_key=attempt.idempotency_key, amount=attempt.amount, method=method,
                                    customer_ref=attempt.customer_id, description=f"Invoice {attempt.invoice_id}")
            answers.append((attempt, gateway.charge(request)))
        invoices = {attempt.id: invoice for attempt, _, invoice in started}
        _record_many(ctx, answers, report, invoices)
        if on_batch is not None:
            on_batch(report)
    deliver_gateway_events(ctx, report)
    return report


def _start_attempts(ctx: ServiceContext, gateway: PaymentGateway, today, batch_size: int,
                    report: CollectionReport) -> list[tuple[PaymentAttempt, MethodRef, Invoice]] | None:
    """Claim due invoices and commit a pending attempt for each (phase one). None when nothing is due."""
    now = ctx.now()
    with ctx.uow() as uow:
        due = uow.invoices.claim_collectable(today, limit=batch_size, skip_locked=True)
        if not due:
            return None
        methods = uow.payment_methods.defaults_for([invoice.customer_id for invoice in due])
        counts = uow.attempts.counts_for_invoices([invoice.id for invoice in due])
        uow.invoices.clear_collect_on(due)  # claimed: the next run will not take them again
        started: list[tuple[PaymentAttempt, MethodRef, Invoice]] = []
        for_export: list[PaymentAttempt] = []
        for invoice in due:
            method = methods.get(invoice.customer_id)
            if method is None or method.kind not in AUTO_COLLECTED:
                report.problems.append(CollectionProblem(
                    invoice.number or invoice.id, "no_payment_method",
                    "the customer has no card, PayPal or SEPA mandate to charge; the invoice waits for payment"))
                continue
            by_file = method.kind is PaymentMethodKind.SEPA_DEBIT and ctx.sepa.channel == "file"
            attempt = attempts_.start(ctx.new_id(), invoice_id=invoice.id, customer_id=invoice.customer_id,
                                      number=counts.get(invoice.id, 0) + 1,
                                      amount=dunning.amount_to_collect(ctx, uow, invoice), method_kind=method.kind,
                                      payment_method_id=method.id,
                                      gateway=ledger.SEPA_FILE_RAIL if by_file else gateway.name, now=now)
            if by_file:  # the bank-file rail: the next `sepa export` puts it into a pain.008 file
                for_export.append(attempts_.awaiting_export(attempt, now))
                continue
            # the invoice as it now stands (taken off the queue), for recording the answer without reading it again
            claimed = replace(invoice, collect_on=None, version=invoice.version + 1)
            started.append((attempt, MethodRef(method.kind, _gateway_reference(method)), claimed))
        uow.attempts.add_many([attempt for attempt, _, _ in started] + for_export)
        uow.commit()
    report.attempted += len(started) + len(for_export)
    report.awaiting_export += len(for_export)
    return started


def _gateway_reference(method: PaymentMethod) -> str:
    """What the gateway charges: the card or PayPal token, or for a SEPA debit the (decrypted) IBAN with the
    mandate reference (``IBAN|reference``), which a debit needs and a provider keys its mandate by."""
    if method.kind is PaymentMethodKind.SEPA_DEBIT:
        return f"{method.iban or ''}|{method.mandate_reference}" if method.mandate_reference else method.iban or ""
    return method.gateway_token or ""


def _record(ctx: ServiceContext, attempt_id: str, result: ChargeResult, report: CollectionReport) -> None:
    """Phase two: the gateway's answer, in its own transaction."""
    with ctx.uow() as uow:
        attempt, events, number = _record_in(ctx, uow, attempt_id, result)
        uow.events.add(events, ctx.now())
        uow.commit()
    _report(report, attempt, result, number)


def _record_many(ctx: ServiceContext, answers: list[tuple[PaymentAttempt, ChargeResult]],
                 report: CollectionReport, invoices: dict[str, Invoice]) -> None:
    """Phase two for a batch: the gateway's answers in one transaction (one commit instead of one per charge).

    If any of them cannot be recorded the batch is rolled back and each is recorded on its own, so one bad
    item never holds back the others; one that still fails stays pending and is resolved by a later run.
    """
    if not answers:
        return
    try:
        with ctx.uow() as uow:
            done, events = [], []
            # the attempts as phase one stored them (a concurrent change fails the optimistic save, and the
            # batch is then recorded one by one from fresh copies); news kept for them is looked up once
            waiting = uow.gateway_events.waiting_for(
                gateway_of(ctx).name, [r.provider_payment_id for _, r in answers if r.provider_payment_id])
            for attempt, result in answers:
                attempt, more, number = _record_in(ctx, uow, attempt, result, invoices.get(attempt.id),
                                                   news_waiting=result.provider_payment_id in waiting)
                done.append((attempt, result, number))
                events += more
            uow.events.add(events, ctx.now())
            uow.commit()
    except Exception:
        if len(answers) == 1:
            raise
        log.warning("recording a batch of %d charges failed; recording them one by one", len(answers),
                    exc_info=True)
        for attempt, result in answers:
            try:
                _record(ctx, attempt.id, result, report)
            except Exception as exc:  # stays pending; resolve_interrupted settles it from the gateway's record
                log.exception("could not record the gateway's answer for attempt %s", attempt.id)
                report.problems.append(CollectionProblem(attempt.id, "record_failed", f"{type(exc).__name__}: "
                                                         f"{exc}; the attempt is resolved by a later run"))
        return
    for attempt, result, number in done:
        _report(report, attempt, result, number)


def _record_in(ctx: ServiceContext, uow: UnitOfWork, attempt: str | PaymentAttempt, result: ChargeResult,
               invoice: Invoice | None = None, *, news_waiting: bool = True
               ) -> tuple[PaymentAttempt, list[Event], str | None]:
    """Record one answer. ``attempt`` and ``invoice`` may be the copies phase one stored: if either changed
    since, the optimistic save fails and the caller records it again from fresh copies."""
    if isinstance(attempt, str):
        attempt = uow.attempts.get(attempt)
    events = _apply_outcome(ctx, uow, attempt, result.outcome, result.provider_payment_id, result.decline,
                            result.raw_code, invoice)
    if news_waiting and result.provider_payment_id and attempt.provider_payment_id is None:
        # news the gateway sent before this answer was recorded (a crash in between) applies now
        for data in uow.gateway_events.take_waiting(attempt.gateway, result.provider_payment_id, attempt.id):
            events += _apply_event(ctx, uow, uow.attempts.get(attempt.id), gateway_port.event_from_dict(data))
    number = (invoice or uow.invoices.get(attempt.invoice_id)).number if result.outcome is Outcome.FAILED else None
    return attempt, events, number


def _report(report: CollectionReport, attempt: PaymentAttempt, result: ChargeResult, number: str | None) -> None:
    _count(report, result.outcome, attempt)
    if result.outcome is Outcome.FAILED and result.decline is not None:
        report.declines.append(CollectionProblem(number or attempt.invoice_id, result.decline.code,
                                                 f"{result.decline.message} ({result.decline.decline_class.value})"))


def _count(report: CollectionReport, outcome: Outcome, attempt: PaymentAttempt) -> None:
    if outcome is Outcome.SUCCEEDED:
        report.succeeded += 1
        report.collected[attempt.amount.currency] = report.collected.get(attempt.amount.currency, 0) \
            + attempt.amount.minor
    elif outcome is Outcome.FAILED:
        report.failed += 1
    elif outcome is Outcome.PENDING:
        report.pending += 1
    else:
        report.requires_action += 1


def _apply_outcome(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, outcome: Outcome,
                   provider_payment_id: str | None, decline: Decline | None, raw_code: str | None,
                   invoice: Invoice | None = None) -> list[Event]:
    now = ctx.now()
    if outcome is Outcome.SUCCEEDED:
        return _succeed(ctx, uow, attempt, provider_payment_id, invoice)
    if outcome is Outcome.PENDING:
        uow.attempts.save(attempts_.accepted(attempt, provider_payment_id, now))
        return []
    if outcome is Outcome.REQUIRES_ACTION:
        updated, events = attempts_.requires_action(attempt, provider_payment_id, decline, now)
        if not events:
            return []
        # Off-session retries cannot pass 3-D Secure: the customer has to confirm the payment themselves.
        reason = "the customer's bank asks them to confirm this payment (3-D Secure); retrying without them fails"
        uow.attempts.save(replace(updated, retry_action=retries.RetryAction.ASK_TO_AUTHENTICATE.value,
                                  retry_reason=reason))
        invoice = invoice or uow.invoices.get(attempt.invoice_id)
        events.append(attempts_.PaymentRetryDecided(attempt.id, invoice.id, invoice.customer_id,
                                                    retries.RetryAction.ASK_TO_AUTHENTICATE.value, None, reason,
                                                    False))
        if invoice.subscription_id:
            events += _mark_past_due(ctx, uow, invoice.subscription_id)
        return events
    return _fail(ctx, uow, attempt, decline, raw_code, provider_payment_id, invoice)


def _succeed(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, provider_payment_id: str | None,
             invoice: Invoice | None = None) -> list[Event]:
    updated, events = attempts_.succeeded(attempt, provider_payment_id, ctx.now())
    if not events:
        return []
    uow.attempts.save(updated)
    invoice = invoice or uow.invoices.get(attempt.invoice_id)
    overdue = invoice.due_on is not None and invoice.due_on < ctx.today()  # only then fees or interest
    charges = uow.dunning.charges_for_invoice(invoice.id) if overdue else []
    owed = invoice.amount_due + sum((c.open for c in charges), Money.zero(invoice.currency)) \
        if invoice.status in invoicing.OPEN else Money.zero(invoice.currency)
    amount = min(attempt.amount, owed)
    if amount.is_positive():
        paid, paid_events = dunning.apply_incoming(ctx, uow, invoice, amount,
                                                   into=ledger.settlement_account(attempt.gateway),
                                                   accrue=False)
        events += paid_events
        if paid.status is invoicing.InvoiceStatus.PAID and invoice.subscription_id:
            events += _reinstate_if_settled(ctx, uow, invoice.subscription_id)
    return events


def _fail(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, decline: Decline | None,
          raw_code: str | None, provider_payment_id: str | None, invoice: Invoice | None = None) -> list[Event]:
    updated, events = attempts_.failed(attempt, decline, raw_code, ctx.now(), provider_payment_id)
    if not events:
        return []
    invoice = invoice or uow.invoices.get(attempt.invoice_id)
    loyalty.on_payment_failed(ctx, uow, invoice)
    events += _schedule_retry(ctx, uow, updated, invoice)
    if invoice.subscription_id:
        events += _mark_past_due(ctx, uow, invoice.subscription_id)
    return events


def _schedule_retry(ctx: ServiceContext, uow: UnitOfWork, failed: PaymentAttempt, invoice: Invoice) -> list[Event]:
    """Ask the retry policy what to do after this failure; record the decision and set the next charge date."""
    # the stored copy of ``failed`` is not saved yet: take the others from storage and this one as it is now
    earlier = [a for a in uow.attempts.list(invoice_id=invoice.id, limit=1000)
               if a.id != failed.id and a.status in {AttemptStatus.FAILED, AttemptStatus.REVERSED}]
    history = [retries.FailedCharge(
        failed_on=a.updated_at.astimezone(ctx.merchant_tz).date(), method_kind=a.method_kind,
        decline_code=a.decline_code or "unknown", decline_class=a.decline_class or "soft",
        retry_allowed=a.retry_allowed is not False, network_advice=a.network_advice, raw_code=a.raw_code)
        for a in [*earlier, failed]]
    decision = ctx.retry_policy.decide(history, today=ctx.today())
    uow.attempts.save(replace(failed, retry_action=decision.action.value, retry_on=decision.retry_on,
                              retry_reason=decision.reason))
    if decision.action is retries.RetryAction.RETRY and invoice.status in invoicing.OPEN:
        uow.invoices.save(replace(invoice, collect_on=decision.retry_on))
    return [attempts_.PaymentRetryDecided(failed.id, invoice.id, invoice.customer_id, decision.action.value,
                                          decision.retry_on.isoformat() if decision.retry_on else None,
                                          decision.reason, decision.pre_notification)]


def _mark_past_due(ctx: ServiceContext, uow: UnitOfWork, subscription_id: str) -> list[Event]:
    sub = uow.subscriptions.get(SubscriptionId(subscription_id))
    if sub.status is not lifecycle.SubscriptionStatus.ACTIVE:
        return []
    sub, events = lifecycle.mark_past_due(sub, ctx.today())
    uow.subscriptions.save(sub)
    return events


def settle_attempt(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, provider_payment_id: str | None
                   ) -> list[Event]:
    """Money for ``attempt`` arrived (a gateway's answer or a bank statement): pay the invoice, once."""
    return _succeed(ctx, uow, attempt, provider_payment_id)


def fail_attempt(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, decline: Decline | None,
                 raw_code: str | None) -> list[Event]:
    """The charge did not go through: record why, and let the retry policy and dunning take over."""
    return _fail(ctx, uow, attempt, decline, raw_code, None)


def apply_bank_event(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, event: GatewayEvent
                     ) -> list[Event]:
    """News about a payment from a bank file (a SEPA return with its fee), applied like a gateway's event."""
    return _apply_event(ctx, uow, attempt, event)


def reinstate_if_settled(ctx: ServiceContext, uow: UnitOfWork, subscription_id: str) -> list[Event]:
    return _reinstate_if_settled(ctx, uow, subscription_id)


def _reinstate_if_settled(ctx: ServiceContext, uow: UnitOfWork, subscription_id: str) -> list[Event]:
    sub = uow.subscriptions.get(SubscriptionId(subscription_id))
    if sub.status not in {lifecycle.SubscriptionStatus.PAST_DUE, lifecycle.SubscriptionStatus.SUSPENDED}:
        return []
    open_ = [i for status in invoicing.OPEN for i in uow.invoices.list(subscription_id=sub.id, status=status)]
    if any(i.due_on and i.due_on <= ctx.today() for i in open_ if not i.is_credit_note):
        return []
    sub, events = lifecycle.reinstate(sub, ctx.today())
    uow.subscriptions.save(sub)
    return events


def resolve_interrupted(ctx: ServiceContext, report: CollectionReport | None = None, *,
                        stale_after: timedelta = STALE_AFTER) -> int:
    """Settle attempts left pending by a crash: ask the gateway about the same key; never charge anew.

    If the gateway has no record of the key, the request never reached it; sending the very same key
    again is safe (a provider de-duplicates by key), so the attempt is completed that way.
    """
    gateway = gateway_of(ctx)
    refunds.resolve_interrupted_refunds(ctx, stale_after=stale_after)
    resolved = 0
    while True:
        with ctx.uow() as uow:  # claimed in batches: concurrent collectors share the work, none waits
            stale = uow.attempts.claim_unconfirmed(ctx.now() - stale_after, ctx.now(), limit=RESOLVE_BATCH)
            uow.commit()
        for attempt in stale:
            result = gateway.find_by_idempotency_key(attempt.idempotency_key)
            if result is None:
                with ctx.uow() as uow:
                    method = uow.payment_methods.get(attempt.payment_method_id) if attempt.payment_method_id \
                        else None
                if method is None:
                    continue
                result = gateway.charge(ChargeRequest(
                    idempotency_key=attempt.idempotency_key, amount=attempt.amount,
                    method=MethodRef(method.kind, _gateway_reference(method)), customer_ref=attempt.customer_id,
                    description=f"Invoice {attempt.invoice_id}"))
            scratch = CollectionReport()
            try:
                _record(ctx, attempt.id, result, scratch)
            except ConcurrentUpdate:  # gateway news about it was applied meanwhile; the next run looks again
                continue
            resolved += 1
            if report is not None:
                report.resolved += 1
                report.collected.update({k: report.collected.get(k, 0) + v for k, v in scratch.collected.items()})
        if len(stale) < RESOLVE_BATCH:
            return resolved


def deliver_gateway_events(ctx: ServiceContext, report: CollectionReport | None = None, *,
                           batch_size: int = DEFAULT_BATCH) -> int:
    """Pull the deliveries a gateway has waiting (the sandbox keeps them) and apply each."""
    gateway = gateway_of(ctx)
    due_events = getattr(gateway, "due_events", None)
    if due_events is None:
        return 0
    parsed: list[GatewayEvent] = []
    for headers, body in due_events(ctx.now()):
        try:
            parsed.append(gateway.parse_event(headers, body))
        except (InvalidSignature, MalformedEvent) as exc:  # refuse this one; the rest of the batch still counts
            log.warning("refused a delivery from gateway %s: %s", gateway.name, exc)
            if report is not None:
                report.problems.append(CollectionProblem("-", exc.code, f"gateway delivery refused: {exc}"))
    applied = 0
    for start in range(0, len(parsed), batch_size):
        for event in apply_gateway_events(ctx, parsed[start:start + batch_size]):
            applied += 1
            if report is not None:
                report.events_by_type[event.type.value] = report.events_by_type.get(event.type.value, 0) + 1
    if report is not None:
        report.events_applied += applied
    return applied


def apply_gateway_events(ctx: ServiceContext, batch: list[GatewayEvent]) -> list[GatewayEvent]:
    """Apply a batch of gateway events exactly once each, in order; the ones that changed something.

    Consecutive payment news is applied in one transaction; refund news, which may first have to settle a
    refund interrupted by a crash, on its own. If a transaction fails, its events are applied one by one.
    """
    applied: list[GatewayEvent] = []
    run: list[GatewayEvent] = []
    for event in [*batch, None]:
        if event is not None and event.type not in _REFUND_EVENTS:
            run.append(event)
            continue
        if run:
            applied += _apply_together(ctx, run)
            run = []
        if event is not None and apply_gateway_event(ctx, event):
            applied.append(event)
    return applied


def _apply_together(ctx: ServiceContext, run: list[GatewayEvent]) -> list[GatewayEvent]:
    if len(run) > 1:
        gateway = gateway_of(ctx).name
        try:
            with ctx.uow() as uow:
                applied, events = [], []
                for event in run:
                    changed, more = _apply_in(ctx, uow, gateway, event)
                    events += more
                    if changed:
                        applied.append(event)
                uow.events.add(events, ctx.now())
                uow.commit()
                return applied
        except Exception:
            log.warning("applying %d gateway events together failed; applying them one by one", len(run),
                        exc_info=True)
    return [event for event in run if apply_gateway_event(ctx, event)]


_REFUND_EVENTS = frozenset({GatewayEventType.REFUND_SUCCEEDED, GatewayEventType.REFUND_FAILED})


def apply_gateway_event(ctx: ServiceContext, event: GatewayEvent) -> bool:
    """Apply one gateway event exactly once (by its id); False if it was applied before or matches nothing."""
    gateway = gateway_of(ctx)
    if event.type is GatewayEventType.REFUND_SUCCEEDED and event.provider_refund_id:
        with ctx.uow() as uow:
            known = uow.refunds.by_provider_id(gateway.name, event.provider_refund_id) is not None
        if not known:  # it may be ours, sent by a run that crashed before recording the gateway's answer
            refunds.resolve_pending_for_payment(ctx, event.provider_payment_id)
    with ctx.uow() as uow:
        changed, events = _apply_in(ctx, uow, gateway.name, event)
        uow.events.add(events, ctx.now())
        uow.commit()
        return changed


def _apply_in(ctx: ServiceContext, uow: UnitOfWork, gateway: str, event: GatewayEvent) -> tuple[bool, list[Event]]:
    attempt = uow.attempts.by_provider_id(gateway, event.provider_payment_id)
    refund_event = event.type in _REFUND_EVENTS
    if attempt is None and not refund_event:
        # A payment not known yet: its charge may be made but not recorded (a collector crashed in
        # between). Keep the event; it is applied when the attempt learns its payment id.
        uow.gateway_events.record(gateway, event.id, event.type.value, ctx.now(), None,
                                  provider_payment_id=event.provider_payment_id,
                                  waiting=gateway_port.event_to_dict(event))
        return False, []
    if not uow.gateway_events.record(gateway, event.id, event.type.value, ctx.now(),
                                     attempt.id if attempt else None,
                                     provider_payment_id=event.provider_payment_id):
        return False, []
    if refund_event:
        return attempt is not None, refunds.apply_refund_event(ctx, uow, attempt, event)
    assert attempt is not None
    return True, _apply_event(ctx, uow, attempt, event)


def _apply_event(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, event: GatewayEvent) -> list[Event]:
    kind = event.type
    if kind is GatewayEventType.PAYMENT_SUCCEEDED:
        return _succeed(ctx, uow, attempt, event.provider_payment_id)
    if kind is GatewayEventType.PAYMENT_FAILED:
        if attempt.status is AttemptStatus.SUCCEEDED:
            return _reverse(ctx, uow, attempt, event)
        return _fail(ctx, uow, attempt, event.decline, event.decline.raw_code if event.decline else None, None)
    if kind in {GatewayEventType.PAYMENT_RETURNED, GatewayEventType.CHARGEBACK}:
        if attempt.status is AttemptStatus.SUCCEEDED:
            return _reverse(ctx, uow, attempt, event)
        # The money never arrived (the return overtook the settlement): the attempt simply failed.
        events = _fail(ctx, uow, attempt, event.decline, event.decline.raw_code if event.decline else None, None)
        _book_fee(ctx, uow, attempt, event)
        return events
    return []


def _reverse(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, event: GatewayEvent) -> list[Event]:
    try:
        updated, events = attempts_.reversed_(attempt, event.decline,
                                              event.decline.raw_code if event.decline else None, ctx.now())
    except InvalidTransition:
        return []
    if not events:
        return []
    uow.attempts.save(updated)
    invoice = uow.invoices.get(InvoiceId(attempt.invoice_id))
    reason = event.decline.code if event.decline else event.type.value
    invoice, parts = dunning.reverse_incoming(ctx, uow, invoice, attempt.amount)
    loyalty.on_payment_failed(ctx, uow, invoice)
    if parts:
        uow.ledger.add_many([charges_.return_entry(
            invoice.customer_id, invoice.id, parts, out_of=ledger.settlement_account(attempt.gateway),
            booked_on=ctx.today(),
            entry_id=JournalEntryId(ctx.new_id()), created_at=ctx.now(),
            description=f"Payment for invoice {invoice.number} returned ({reason})")])
    _book_fee(ctx, uow, attempt, event)
    events += _schedule_retry(ctx, uow, uow.attempts.get(attempt.id), invoice)
    if invoice.subscription_id:
        events += _mark_past_due(ctx, uow, invoice.subscription_id)
    return events


def _book_fee(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, event: GatewayEvent) -> None:
    if event.fee is None or not event.fee.is_positive():
        return
    uow.ledger.add_many([ledger.fee_entry(event.fee, out_of=ledger.settlement_account(attempt.gateway),
                                          booked_on=ctx.today(),
                                          entry_id=JournalEntryId(ctx.new_id()), created_at=ctx.now(),
                                          document_id=attempt.invoice_id,
                                          description=f"{event.type.value} fee for invoice {attempt.invoice_id}")])


def list_payments(ctx: ServiceContext, *, invoice: str | None = None, customer_id: str | None = None,
                  status: str | None = None, limit: int = 100, offset: int = 0) -> list[PaymentAttempt]:
    with ctx.uow() as uow:
        invoice_id = uow.invoices.find(invoice).id if invoice else None
        return uow.attempts.list(invoice_id=invoice_id, customer_id=customer_id, status=status, limit=limit,
                                 offset=offset)


def get_payment(ctx: ServiceContext, ref: str) -> tuple[PaymentAttempt, Invoice]:
    with ctx.uow() as uow:
        attempt = uow.attempts.find(ref)
        return attempt, uow.invoices.get(attempt.invoice_id)




def record_manual_payment(ctx: ServiceContext, invoice_ref: str, *, amount: str | None = None,
                          method: str = "transfer") -> Invoice:
    """Money the merchant received outside aboguard (cash, a transfer seen on the bank account)."""
    if method not in ledger.BY_HAND:
        raise InvalidInput(f"unknown manual payment method {method!r}: use cash or transfer")
    with ctx.uow() as uow:
        invoice = uow.invoices.find(invoice_ref)
        money = Money.parse(amount, invoice.currency) if amount is not None else \
            dunning.amount_to_collect(ctx, uow, invoice)
        paid, events = dunning.apply_incoming(ctx, uow, invoice, money, into=ledger.BY_HAND[method])
        if paid.status is invoicing.InvoiceStatus.PAID and invoice.subscription_id:
            events += _reinstate_if_settled(ctx, uow, invoice.subscription_id)
        uow.events.add(events, ctx.now())
        uow.commit()
        return paid
