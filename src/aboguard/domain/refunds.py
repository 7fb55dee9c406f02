"""Refunds: money paid for an invoice goes back to the customer, documented by a credit note.

A refund always comes with a credit note (the correction of the invoice under GoBD); the refund itself
is the payout. Through a gateway it is exactly-once like a charge: the refund row (``pending``, with an
idempotency key derived from the credit note and the payout number) is committed before the gateway is
called, and a crash is resolved by asking the gateway about the same key. If the gateway refuses, the
credit note stands and the customer holds a credit until the payout is retried or made by hand.

How a refund is split over the payments of an invoice is decided here: gateway payments newest first,
each no further than what is still refundable on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from aboguard.errors import InvalidInput
from aboguard.ids import CustomerId, InvoiceId
from aboguard.money import Money

from . import events as ev
from .payments import AttemptStatus, PaymentAttempt


class InvalidRefund(InvalidInput):
    code = "refund.invalid"


class RefundStatus(StrEnum):
    PENDING = "pending"  # written before the gateway call; a crash leaves it for the next run to resolve
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the gateway refused; the credit note stands, the customer holds a credit


class PayoutChannel(StrEnum):
    """How the money goes back: through the gateway that took it, or by the merchant's own hand."""

    GATEWAY = "gateway"
    TRANSFER = "transfer"  # the merchant transfers it from the bank account
    CASH = "cash"


SETTLED = frozenset({RefundStatus.PENDING, RefundStatus.SUCCEEDED})  # counts against what is refundable


def idempotency_key(credit_note_id: str, attempt_id: str | None, number: int) -> str:
    """The same credit note, payment and payout number always give the same key: a retried call refunds once."""
    return f"{credit_note_id}/refund-{attempt_id or 'manual'}-{number}"


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    invoice_id: InvoiceId
    credit_note_id: InvoiceId
    customer_id: CustomerId
    channel: PayoutChannel
    number: int
    idempotency_key: str
    amount: Money
    status: RefundStatus
    reason: str
    created_at: datetime
    updated_at: datetime
    attempt_id: str | None = None  # the payment refunded (gateway refunds)
    gateway: str | None = None
    provider_payment_id: str | None = None
    provider_refund_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    retry_of: str | None = None  # the failed refund this one pays out again
    version: int = 1


def start(refund_id: str, *, invoice_id: InvoiceId, credit_note_id: InvoiceId, customer_id: CustomerId,
          amount: Money, reason: str, now: datetime, number: int = 1, attempt: PaymentAttempt | None = None,
          channel: PayoutChannel = PayoutChannel.GATEWAY) -> Refund:
    if channel is PayoutChannel.GATEWAY and attempt is None:
        raise InvalidRefund("a refund through the gateway needs the payment it refunds")
    return Refund(id=refund_id, invoice_id=invoice_id, credit_note_id=credit_note_id, customer_id=customer_id,
                  channel=channel, number=number,
                  idempotency_key=idempotency_key(credit_note_id, attempt.id if attempt else None, number),
                  amount=amount, status=RefundStatus.PENDING, reason=reason, created_at=now, updated_at=now,
                  attempt_id=attempt.id if attempt else None, gateway=attempt.gateway if attempt else None,
                  provider_payment_id=attempt.provider_payment_id if attempt else None)


def succeeded(refund: Refund, provider_refund_id: str | None, now: datetime) -> tuple[Refund, list[ev.Event]]:
    """The money left. A no-op for a refund that already ended."""
    if refund.status is not RefundStatus.PENDING:
        return refund, []
    done = replace(refund, status=RefundStatus.SUCCEEDED, updated_at=now,
                   provider_refund_id=provider_refund_id or refund.provider_refund_id)
    return done, [RefundSucceeded(refund.id, refund.invoice_id, refund.credit_note_id, refund.customer_id,
                                  refund.amount, refund.channel.value)]


def failed(refund: Refund, code: str, message: str, now: datetime) -> tuple[Refund, list[ev.Event]]:
    if refund.status is not RefundStatus.PENDING:
        return refund, []
    done = replace(refund, status=RefundStatus.FAILED, updated_at=now, failure_code=code, failure_message=message)
    return done, [RefundFailed(refund.id, refund.invoice_id, refund.credit_note_id, refund.customer_id,
                               refund.amount, code, message)]


def refundable(attempt: PaymentAttempt, refunds: Iterable[Refund]) -> Money:
    """What is left to refund on a payment: its amount less the refunds under way or done."""
    if attempt.status is not AttemptStatus.SUCCEEDED:
        return Money.zero(attempt.amount.currency)
    taken = sum((r.amount for r in refunds if r.attempt_id == attempt.id and r.status in SETTLED),
                Money.zero(attempt.amount.currency))
    return attempt.amount - taken


def split_over_payments(amount: Money, attempts: Iterable[PaymentAttempt],
                        refunds_by_attempt: Mapping[str, list[Refund]]) -> list[tuple[PaymentAttempt, Money]]:
    """Spread ``amount`` over the invoice's settled gateway payments, newest first.

    Raises :class:`InvalidRefund` when the gateway payments cannot cover it (the rest was paid by hand,
    or payments were returned): the merchant then pays it out by transfer or cash.
    """
    left = amount
    parts: list[tuple[PaymentAttempt, Money]] = []
    for attempt in sorted(attempts, key=lambda a: (a.created_at, a.number), reverse=True):
        if not left.is_positive():
            break
        available = refundable(attempt, refunds_by_attempt.get(attempt.id, []))
        if not available.is_positive():
            continue
        part = min(available, left)
        parts.append((attempt, part))
        left -= part
    if left.is_positive():
        covered = amount - left
        raise InvalidRefund(f"only {covered} of the {amount} can go back through the payment gateway (the rest was "
                            "not paid through it, or was returned already); pay it out with --method transfer or "
                            "cash")
    return parts


@dataclass(frozen=True, slots=True)
class RefundSucceeded(ev.Event):
    name: ClassVar[str] = "refund.succeeded"
    aggregate: ClassVar[str] = "refund"
    invoice_id: str
    credit_note_id: str
    customer_id: str
    amount: Money
    channel: str


@dataclass(frozen=True, slots=True)
class RefundFailed(ev.Event):
    name: ClassVar[str] = "refund.failed"
    aggregate: ClassVar[str] = "refund"
    invoice_id: str
    credit_note_id: str
    customer_id: str
    amount: Money
    code: str
    message: str
