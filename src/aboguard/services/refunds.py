"""Refunds: a credit note for the invoice, then the money back to the customer, exactly once.

Phase one (one transaction): the credit note is issued and booked, and one ``pending`` refund row per
payment refunded is written with its idempotency key. Phase two: the gateway is asked to refund under that
key. Phase three (one transaction per refund): the outcome is recorded; a success books the payout (the
customer's receivable against the gateway's clearing account) and lowers what the invoice counts as paid.
A crash between the phases leaves pending refunds that :func:`resolve_interrupted_refunds` settles by
asking the gateway about the same key (and re-sending the same key if it never arrived). Refunds paid out
by the merchant's own hand (transfer, cash) have no outside effect and complete in phase one.

The gateway reports refunds as events too: one already known is confirmed (or, if it failed after all, its
payout is undone and the customer holds the credit again); one made in the provider's dashboard gets its
credit note and refund row here, so the books match the provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta

from aboguard.domain import invoicing, ledger
from aboguard.domain import refunds as refunds_
from aboguard.domain.events import Event
from aboguard.domain.invoicing import Invoice
from aboguard.domain.payments import AttemptStatus, PaymentAttempt
from aboguard.domain.refunds import InvalidRefund, PayoutChannel, Refund, RefundStatus
from aboguard.errors import AboguardError
from aboguard.ids import InvoiceId, JournalEntryId
from aboguard.money import Money
from aboguard.payments.gateway import GatewayEvent, GatewayEventType, Outcome, RefundResult
from aboguard.store.uow import UnitOfWork

from .context import ServiceContext
from .invoices import issue_credit_note

log = logging.getLogger(__name__)



@dataclass(slots=True)
class RefundOutcome:
    credit_note: Invoice
    invoice: Invoice
    refunds: list[Refund] = field(default_factory=list)

    @property
    def refunded(self) -> Money:
        return sum((r.amount for r in self.refunds if r.status is RefundStatus.SUCCEEDED),
                   Money.zero(self.invoice.currency))


def refund_invoice(ctx: ServiceContext, invoice_ref: str, *, amount: str | None = None, reason: str = "",
                   method: str = "gateway") -> RefundOutcome:
    """Give back ``amount`` (default: all that was paid) of an invoice, with a credit note for the same amount.

    ``method`` is ``gateway`` (back through the payments that brought it in), ``transfer`` or ``cash`` (the
    merchant pays it out by hand; recorded as paid out at once).
    """
    channel = _channel(method)
    gateway = ctx.require_gateway() if channel is PayoutChannel.GATEWAY else None
    with ctx.uow() as uow:
        invoice = uow.invoices.find(invoice_ref)
        if invoice.is_credit_note:
            raise InvalidRefund(f"{invoice.number} is a credit note; refund the invoice it corrects")
        existing = uow.refunds.for_invoice(invoice.id)
        in_flight = sum((r.amount for r in existing if r.status is RefundStatus.PENDING), Money.zero(invoice.currency))
        refundable = invoice.paid - in_flight
        money = Money.parse(amount, invoice.currency) if amount is not None else refundable
        if not money.is_positive():
            raise InvalidRefund(f"a refund must be a positive amount; invoice {invoice.number} has {refundable} "
                                "that could be refunded" if amount is not None else
                                f"invoice {invoice.number} has nothing paid that could be refunded")
        if money > refundable:
            raise InvalidRefund(f"invoice {invoice.number} has {refundable} paid that could be refunded; "
                                f"{money} is more")
        if channel is PayoutChannel.GATEWAY:
            attempts = [a for a in uow.attempts.list(invoice_id=invoice.id, limit=1000)
                        if a.status is AttemptStatus.SUCCEEDED and a.gateway == gateway.name]  # type: ignore[union-attr]
            by_attempt: dict[str, list[Refund]] = {}
            for r in existing:
                by_attempt.setdefault(r.attempt_id or "", []).append(r)
            parts: list[tuple[PaymentAttempt | None, Money]] = list(
                refunds_.split_over_payments(money, attempts, by_attempt))
        else:
            parts = [(None, money)]
        credit_note, invoice, events = issue_credit_note(ctx, uow, invoice, money, reason or "refund")
        started: list[Refund] = []
        for attempt, part in parts:
            refund = refunds_.start(ctx.new_id(), invoice_id=invoice.id, credit_note_id=credit_note.id,
                                    customer_id=invoice.customer_id, amount=part, reason=reason.strip(),
                                    now=ctx.now(), attempt=attempt, channel=channel)
            uow.refunds.add(refund)
            if channel is not PayoutChannel.GATEWAY:
                refund, invoice, done = _pay_out(ctx, uow, refund, invoice, ledger.BY_HAND[channel.value], None,
                                                 credit_note.number)
                events += done
            started.append(refund)
        uow.events.add(events, ctx.now())
        uow.commit()
    finished = [_send(ctx, refund) if refund.status is RefundStatus.PENDING else refund for refund in started]
    with ctx.uow() as uow:
        invoice = uow.invoices.get(invoice.id)
    return RefundOutcome(credit_note, invoice, finished)


def retry_refund(ctx: ServiceContext, refund_ref: str, *, method: str = "gateway") -> Refund:
    """Pay out a failed refund again (the credit note stands): through the gateway, or by transfer or cash."""
    channel = _channel(method)
    with ctx.uow() as uow:
        failed = uow.refunds.find(refund_ref)
        if failed.status is not RefundStatus.FAILED:
            raise InvalidRefund(f"refund {failed.id} is {failed.status}; only a failed refund is paid out again")
        if any(r.retry_of == failed.id and r.status is not RefundStatus.FAILED
               for r in uow.refunds.for_invoice(failed.invoice_id)):
            raise InvalidRefund(f"refund {failed.id} was paid out again already")
        attempt = uow.attempts.get(failed.attempt_id) if failed.attempt_id else None
        if channel is PayoutChannel.GATEWAY and attempt is None:
            raise InvalidRefund(f"refund {failed.id} was not a gateway payment; use --method transfer or cash")
        invoice = uow.invoices.get(failed.invoice_id)
        refund = refunds_.start(ctx.new_id(), invoice_id=failed.invoice_id, credit_note_id=failed.credit_note_id,
                                customer_id=failed.customer_id, amount=failed.amount, reason=failed.reason,
                                now=ctx.now(), number=uow.refunds.count_for_credit_note(failed.credit_note_id) + 1,
                                attempt=attempt if channel is PayoutChannel.GATEWAY else None, channel=channel)
        refund = replace(refund, retry_of=failed.id)
        uow.refunds.add(refund)
        events: list[Event] = []
        if channel is not PayoutChannel.GATEWAY:
            note = uow.invoices.get(failed.credit_note_id)
            refund, _, events = _pay_out(ctx, uow, refund, invoice, ledger.BY_HAND[channel.value], None, note.number)
        uow.events.add(events, ctx.now())
        uow.commit()
    return _send(ctx, refund) if refund.status is RefundStatus.PENDING else refund


def _channel(method: str) -> PayoutChannel:
    try:
        return PayoutChannel(method.strip().lower())
    except ValueError:
        raise InvalidRefund(f"unknown refund method {method!r}: use gateway, transfer or cash") from None


def _send(ctx: ServiceContext, refund: Refund) -> Refund:
    """Phase two and three for one pending gateway refund."""
    gateway = ctx.require_gateway()
    try:
        result = gateway.refund(refund.provider_payment_id or "", refund.amount, refund.idempotency_key)
    except AboguardError as exc:  # refused outright (not settled, charged back): nothing left the account
        return _record(ctx, refund.id, None, exc.code, str(exc))
    return _record(ctx, refund.id, result, None, None)


def _record(ctx: ServiceContext, refund_id: str, result: RefundResult | None, code: str | None,
            message: str | None) -> Refund:
    with ctx.uow() as uow:
        refund = uow.refunds.get(refund_id)
        events: list[Event] = []
        if result is not None and result.outcome is Outcome.SUCCEEDED:
            invoice = uow.invoices.get(refund.invoice_id)
            note = uow.invoices.get(refund.credit_note_id)
            refund, _, events = _pay_out(ctx, uow, refund, invoice, ledger.clearing(refund.gateway or ""),
                                         result.provider_refund_id, note.number)
        elif result is not None and result.outcome is Outcome.PENDING:
            if refund.status is RefundStatus.PENDING and result.provider_refund_id:
                refund = uow.refunds.save(replace(refund, provider_refund_id=result.provider_refund_id,
                                                  updated_at=ctx.now()))
        else:
            refund, events = refunds_.failed(refund, code or (result.raw_code if result else None) or "refund_failed",
                                             message or "the gateway did not refund the payment", ctx.now())
            if events:
                refund = uow.refunds.save(refund)
        uow.events.add(events, ctx.now())
        uow.commit()
        return refund


def _pay_out(ctx: ServiceContext, uow: UnitOfWork, refund: Refund, invoice: Invoice, out_of: str,
             provider_refund_id: str | None, credit_note_number: str | None) -> tuple[Refund, Invoice, list[Event]]:
    """The money left: the refund succeeds, the invoice counts less as paid, the payout is booked."""
    done, events = refunds_.succeeded(refund, provider_refund_id, ctx.now())
    if not events:
        return refund, invoice, []
    done = uow.refunds.save(done)
    invoice = uow.invoices.save(invoicing.apply_refund(invoice, refund.amount))
    uow.ledger.add_many([ledger.refund_entry(invoice, refund.amount, out_of=out_of, booked_on=ctx.today(),
                                             entry_id=JournalEntryId(ctx.new_id()), created_at=ctx.now(),
                                             credit_note_number=credit_note_number)])
    return done, invoice, events


def resolve_interrupted_refunds(ctx: ServiceContext, *, stale_after: timedelta) -> int:
    """Settle gateway refunds left pending by a crash: ask the gateway about the same key; never refund anew."""
    gateway = ctx.require_gateway()
    with ctx.uow() as uow:
        stale = [r for r in uow.refunds.pending_before(ctx.now() - stale_after) if r.provider_refund_id is None]
    for refund in stale:
        result = gateway.find_refund_by_idempotency_key(refund.idempotency_key)
        if result is None:  # the request never arrived: the same key again is safe
            _send(ctx, refund)
        else:
            _record(ctx, refund.id, result, None, None)
    return len(stale)


def apply_refund_event(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt | None, event: GatewayEvent
                       ) -> list[Event]:
    """Inside the event's transaction: a refund the gateway reports as done, or as failed after all."""
    gateway = ctx.require_gateway()
    refund = uow.refunds.by_provider_id(gateway.name, event.provider_refund_id) if event.provider_refund_id else None
    if event.type is GatewayEventType.REFUND_SUCCEEDED:
        if refund is not None:
            invoice = uow.invoices.get(refund.invoice_id)
            note = uow.invoices.get(refund.credit_note_id)
            return _pay_out(ctx, uow, refund, invoice, ledger.clearing(gateway.name), event.provider_refund_id,
                            note.number)[2]
        if attempt is None:
            return []
        return _external_refund(ctx, uow, attempt, event)
    if event.type is GatewayEventType.REFUND_FAILED and refund is not None:
        return _refund_failed_after_all(ctx, uow, refund, event)
    return []


def _external_refund(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, event: GatewayEvent
                     ) -> list[Event]:
    """A refund made in the provider's dashboard: document it with a credit note so the books match."""
    invoice = uow.invoices.get(InvoiceId(attempt.invoice_id))
    left_to_credit = invoice.total - invoice.credited
    if event.amount > invoice.paid or event.amount > left_to_credit:
        log.warning("gateway %s reports refund %s of %s for invoice %s, more than can be credited (%s paid, "
                    "%s left to credit); book it by hand", ctx.require_gateway().name, event.provider_refund_id,
                    event.amount, invoice.number, invoice.paid, left_to_credit)
        return []
    credit_note, invoice, events = issue_credit_note(ctx, uow, invoice, event.amount,
                                                     "refund made at the payment provider")
    refund = refunds_.start(ctx.new_id(), invoice_id=invoice.id, credit_note_id=credit_note.id,
                            customer_id=invoice.customer_id, amount=event.amount,
                            reason="refund made at the payment provider", now=ctx.now(), attempt=attempt)
    refund = replace(refund, idempotency_key=f"external/{attempt.gateway}/{event.provider_refund_id}")
    uow.refunds.add(refund)
    _, _, paid_out = _pay_out(ctx, uow, refund, invoice, ledger.clearing(attempt.gateway), event.provider_refund_id,
                              credit_note.number)
    return [*events, *paid_out]


def _refund_failed_after_all(ctx: ServiceContext, uow: UnitOfWork, refund: Refund, event: GatewayEvent
                             ) -> list[Event]:
    code = event.decline.raw_code if event.decline else "refund_failed"
    message = event.decline.message if event.decline else "the gateway could not pay the refund out"
    if refund.status is RefundStatus.PENDING:
        failed, events = refunds_.failed(refund, code, message, ctx.now())
        uow.refunds.save(failed)
        return events
    if refund.status is not RefundStatus.SUCCEEDED:
        return []
    # The payout came back: the customer holds the credit again, the money is back with the gateway.
    failed = replace(refund, status=RefundStatus.FAILED, failure_code=code, failure_message=message,
                     updated_at=ctx.now())
    uow.refunds.save(failed)
    invoice = uow.invoices.get(refund.invoice_id)
    uow.invoices.save(invoicing.reverse_refund(invoice, refund.amount))
    uow.ledger.add_many([ledger.refund_reversal_entry(
        invoice, refund.amount, into=ledger.clearing(refund.gateway or ""), booked_on=ctx.today(),
        entry_id=JournalEntryId(ctx.new_id()), created_at=ctx.now(), reason=code)])
    return [refunds_.RefundFailed(refund.id, refund.invoice_id, refund.credit_note_id, refund.customer_id,
                                  refund.amount, code, message)]


def resolve_pending_for_payment(ctx: ServiceContext, provider_payment_id: str) -> None:
    """Before an unknown refund event is taken for a dashboard refund, settle our own pending refunds of
    that payment: one of them may be it, made by a run that crashed before it could record the answer."""
    gateway = ctx.require_gateway()
    with ctx.uow() as uow:
        pending = [r for r in uow.refunds.pending_for_payment(gateway.name, provider_payment_id)
                   if r.provider_refund_id is None]
    for refund in pending:
        result = gateway.find_refund_by_idempotency_key(refund.idempotency_key)
        if result is not None:
            _record(ctx, refund.id, result, None, None)


def list_refunds(ctx: ServiceContext, *, invoice: str | None = None, customer_id: str | None = None,
                 status: str | None = None, limit: int = 100, offset: int = 0) -> list[Refund]:
    if status is not None and status not in {s.value for s in RefundStatus}:
        raise InvalidRefund(f"unknown refund status {status!r}: use " + ", ".join(s.value for s in RefundStatus))
    with ctx.uow() as uow:
        invoice_id = uow.invoices.find(invoice).id if invoice else None
        return uow.refunds.list(invoice_id=invoice_id, customer_id=customer_id, status=status, limit=limit,
                                offset=offset)


def get_refund(ctx: ServiceContext, ref: str) -> tuple[Refund, Invoice, Invoice]:
    """The refund with its invoice and credit note."""
    with ctx.uow() as uow:
        refund = uow.refunds.find(ref)
        return refund, uow.invoices.get(refund.invoice_id), uow.invoices.get(refund.credit_note_id)
