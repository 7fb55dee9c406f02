"""Payment attempts: one try to collect an invoice through a gateway, exactly once.

An attempt is written as ``pending`` (with an idempotency key derived from the invoice and the attempt
number) and committed *before* the gateway is called; the outcome is recorded afterwards. After a crash a
pending attempt is resolved by asking the gateway about the same key, never by charging under a new one.
Later news from the gateway (a SEPA debit settling or being returned, a chargeback) moves the attempt on;
every status change is monotonic, so the same news applied twice, or in another order, ends in the same
state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from aboguard.errors import InvalidTransition
from aboguard.ids import CustomerId, InvoiceId
from aboguard.money import Money

from . import events as ev
from .catalog import PaymentMethodKind
from .declines import Decline


class AttemptStatus(StrEnum):
    PENDING = "pending"  # written before the gateway call, or accepted by the gateway but not settled (SEPA)
    REQUIRES_ACTION = "requires_action"  # the customer must authenticate (3-D Secure)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REVERSED = "reversed"  # succeeded, then returned or charged back
    AWAITING_EXPORT = "awaiting_export"  # a SEPA debit on the bank-file rail, waiting for the next pain.008
    SUBMITTED = "submitted"  # in a pain.008 file handed to the bank; settles or comes back via camt


FINAL = frozenset({AttemptStatus.FAILED, AttemptStatus.REVERSED})
IN_FLIGHT = frozenset({AttemptStatus.PENDING, AttemptStatus.AWAITING_EXPORT, AttemptStatus.SUBMITTED})
_OPEN = frozenset({AttemptStatus.PENDING, AttemptStatus.REQUIRES_ACTION, AttemptStatus.AWAITING_EXPORT,
                   AttemptStatus.SUBMITTED})


def idempotency_key(invoice_id: str, number: int) -> str:
    """The same invoice and attempt number always give the same key: a retried call cannot charge twice."""
    return f"{invoice_id}/attempt-{number}"


@dataclass(frozen=True, slots=True)
class PaymentAttempt:
    id: str
    invoice_id: InvoiceId
    customer_id: CustomerId
    number: int
    idempotency_key: str
    amount: Money
    method_kind: PaymentMethodKind
    payment_method_id: str | None
    gateway: str
    status: AttemptStatus
    created_at: datetime
    updated_at: datetime
    provider_payment_id: str | None = None
    raw_code: str | None = None
    decline_code: str | None = None
    decline_class: str | None = None
    decline_message: str | None = None
    retry_allowed: bool | None = None
    version: int = 1
    retry_action: str | None = None  # what the retry policy decided after this failure (domain.retries)
    retry_on: date | None = None
    retry_reason: str | None = None
    network_advice: str | None = None  # e.g. a Mastercard merchant advice code


def start(attempt_id: str, *, invoice_id: InvoiceId, customer_id: CustomerId, number: int, amount: Money,
          method_kind: PaymentMethodKind, payment_method_id: str | None, gateway: str, now: datetime
          ) -> PaymentAttempt:
    return PaymentAttempt(id=attempt_id, invoice_id=invoice_id, customer_id=customer_id, number=number,
                          idempotency_key=idempotency_key(invoice_id, number), amount=amount,
                          method_kind=method_kind, payment_method_id=payment_method_id, gateway=gateway,
                          status=AttemptStatus.PENDING, created_at=now, updated_at=now)


def awaiting_export(attempt: PaymentAttempt, now: datetime) -> PaymentAttempt:
    """The bank-file rail: the debit goes out with the next pain.008 export instead of a gateway call."""
    if attempt.status is not AttemptStatus.PENDING:
        return attempt
    return replace(attempt, status=AttemptStatus.AWAITING_EXPORT, updated_at=now)


def submitted(attempt: PaymentAttempt, end_to_end_id: str, now: datetime) -> PaymentAttempt:
    """Written into a pain.008 file; the end-to-end id is how the bank's camt files name it."""
    if attempt.status is not AttemptStatus.AWAITING_EXPORT:
        raise InvalidTransition(f"attempt {attempt.id} is {attempt.status}; only one awaiting export can be "
                                "submitted")
    return replace(attempt, status=AttemptStatus.SUBMITTED, provider_payment_id=end_to_end_id, updated_at=now)


def accepted(attempt: PaymentAttempt, provider_payment_id: str | None, now: datetime) -> PaymentAttempt:
    """The gateway took the charge but has not settled it yet (SEPA debits settle days later)."""
    if attempt.status is not AttemptStatus.PENDING:
        return attempt
    return replace(attempt, provider_payment_id=provider_payment_id or attempt.provider_payment_id, updated_at=now)


def succeeded(attempt: PaymentAttempt, provider_payment_id: str | None, now: datetime
              ) -> tuple[PaymentAttempt, list[ev.Event]]:
    """Money is in. A no-op for an attempt that already succeeded or ended otherwise."""
    if attempt.status not in _OPEN:
        return attempt, []
    done = replace(attempt, status=AttemptStatus.SUCCEEDED, updated_at=now,
                   provider_payment_id=provider_payment_id or attempt.provider_payment_id)
    return done, [PaymentSucceeded(attempt.id, attempt.invoice_id, attempt.customer_id, attempt.amount,
                                   attempt.gateway, attempt.number)]


def requires_action(attempt: PaymentAttempt, provider_payment_id: str | None, decline: Decline | None,
                    now: datetime) -> tuple[PaymentAttempt, list[ev.Event]]:
    if attempt.status is not AttemptStatus.PENDING:
        return attempt, []
    waiting = _with_decline(replace(attempt, status=AttemptStatus.REQUIRES_ACTION, updated_at=now,
                                    provider_payment_id=provider_payment_id), decline)
    return waiting, [PaymentRequiresAction(attempt.id, attempt.invoice_id, attempt.customer_id, attempt.amount)]


def failed(attempt: PaymentAttempt, decline: Decline | None, raw_code: str | None, now: datetime,
           provider_payment_id: str | None = None) -> tuple[PaymentAttempt, list[ev.Event]]:
    """The charge did not go through (at once, or later: a SEPA debit refused before settling)."""
    if attempt.status not in _OPEN:
        return attempt, []
    done = _with_decline(replace(attempt, status=AttemptStatus.FAILED, updated_at=now, raw_code=raw_code,
                                 provider_payment_id=provider_payment_id or attempt.provider_payment_id), decline)
    return done, [_failure_event(done)]


def reversed_(attempt: PaymentAttempt, decline: Decline | None, raw_code: str | None, now: datetime
              ) -> tuple[PaymentAttempt, list[ev.Event]]:
    """Money that had arrived went back (SEPA return, chargeback). Only a succeeded attempt can reverse."""
    if attempt.status is AttemptStatus.REVERSED:
        return attempt, []
    if attempt.status is not AttemptStatus.SUCCEEDED:
        raise InvalidTransition(f"attempt {attempt.id} is {attempt.status}; only a succeeded payment can be "
                                "returned")
    done = _with_decline(replace(attempt, status=AttemptStatus.REVERSED, updated_at=now, raw_code=raw_code),
                         decline)
    return done, [PaymentReturned(attempt.id, attempt.invoice_id, attempt.customer_id, attempt.amount,
                                  done.decline_code or "", done.decline_class or "")]


def _with_decline(attempt: PaymentAttempt, decline: Decline | None) -> PaymentAttempt:
    if decline is None:
        return attempt
    return replace(attempt, decline_code=decline.code, decline_class=decline.decline_class.value,
                   decline_message=decline.message, retry_allowed=decline.retry_allowed,
                   network_advice=decline.network_advice,
                   raw_code=decline.raw_code or attempt.raw_code)


def _failure_event(attempt: PaymentAttempt) -> PaymentFailed:
    return PaymentFailed(attempt.id, attempt.invoice_id, attempt.customer_id, attempt.amount,
                         attempt.decline_code or "unknown", attempt.decline_class or "soft",
                         attempt.decline_message or "", bool(attempt.retry_allowed))


@dataclass(frozen=True, slots=True)
class PaymentSucceeded(ev.Event):
    name: ClassVar[str] = "payment.succeeded"
    aggregate: ClassVar[str] = "payment"
    invoice_id: str
    customer_id: str
    amount: Money
    gateway: str
    attempt_number: int


@dataclass(frozen=True, slots=True)
class PaymentFailed(ev.Event):
    name: ClassVar[str] = "payment.failed"
    aggregate: ClassVar[str] = "payment"
    invoice_id: str
    customer_id: str
    amount: Money
    decline_code: str
    decline_class: str
    message: str
    retry_allowed: bool


@dataclass(frozen=True, slots=True)
class PaymentRequiresAction(ev.Event):
    name: ClassVar[str] = "payment.requires_action"
    aggregate: ClassVar[str] = "payment"
    invoice_id: str
    customer_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class PaymentReturned(ev.Event):
    name: ClassVar[str] = "payment.returned"
    aggregate: ClassVar[str] = "payment"
    invoice_id: str
    customer_id: str
    amount: Money
    reason_code: str
    decline_class: str


@dataclass(frozen=True, slots=True)
class PaymentRetryDecided(ev.Event):
    """What happens after a failed charge: a retry on a date, or a request to the customer (new method, 3-D Secure)."""

    name: ClassVar[str] = "payment.retry_decided"
    aggregate: ClassVar[str] = "payment"
    invoice_id: str
    customer_id: str
    action: str  # retry | ask_for_new_method | ask_to_authenticate | stop
    retry_on: str | None
    reason: str
    pre_notification: bool
