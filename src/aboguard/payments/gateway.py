"""The payment gateway port: what aboguard asks of a payment provider, and what it gets back.

No provider code lives here. An adapter (the offline :mod:`aboguard.payments.sandbox`, later real
providers) implements :class:`PaymentGateway`. The contract every adapter keeps:

* ``charge`` is idempotent by ``ChargeRequest.idempotency_key``: the same key returns the stored result
  and never creates a second charge; the same key with a different amount (or payment method) raises
  :class:`IdempotencyConflict`.
* ``refund`` is idempotent the same way; ``find_refund_by_idempotency_key`` answers for a refund key.
* ``find_by_idempotency_key`` tells whether the provider has seen a key, and how that charge stands now
  (a SEPA debit that settled since is ``SUCCEEDED``); ``None`` means the request never arrived.
* Expected outcomes (a declined card) are return values; errors are raised only for bad requests.
* ``parse_event`` verifies the webhook signature with a constant-time comparison and raises
  :class:`InvalidSignature` when it does not match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.declines import Decline, DeclineClass
from aboguard.errors import Conflict, InvalidInput
from aboguard.money import Money

__all__ = [
    "ChargeRequest",
    "ChargeResult",
    "GatewayEvent",
    "GatewayEventType",
    "IdempotencyConflict",
    "InvalidGatewayRequest",
    "InvalidSignature",
    "MalformedEvent",
    "MethodRef",
    "Outcome",
    "PaymentGateway",
    "RefundNotAllowed",
    "RefundResult",
    "event_from_dict",
    "event_to_dict",
]


class InvalidSignature(InvalidInput):
    """A webhook delivery whose signature does not match its body: refused, nothing applied."""

    code = "gateway.invalid_signature"


class MalformedEvent(InvalidInput):
    """A correctly signed delivery whose body is not an event this gateway understands."""

    code = "gateway.malformed_event"


class InvalidGatewayRequest(InvalidInput):
    """A request the provider refuses outright (non-positive amount, unknown payment, refund too large)."""

    code = "gateway.invalid_request"


class IdempotencyConflict(Conflict):
    """An idempotency key reused for a different request (another amount or payment method)."""

    code = "gateway.idempotency_conflict"


class RefundNotAllowed(Conflict):
    """The payment cannot be refunded in its current state (not settled yet, returned, charged back)."""

    code = "gateway.refund_not_allowed"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"  # accepted, not settled yet (SEPA debits); news follows as an event
    REQUIRES_ACTION = "requires_action"  # the customer must authenticate (3-D Secure)


@dataclass(frozen=True, slots=True)
class MethodRef:
    """What the gateway charges: a card token, a PayPal agreement id, or for SEPA the IBAN / mandate reference."""

    kind: PaymentMethodKind
    token: str

    def __repr__(self) -> str:  # never print a full token or IBAN (DESIGN rule 9)
        shown = f"...{self.token[-4:]}" if len(self.token) > 4 else "****"
        return f"MethodRef(kind={self.kind.value!r}, token={shown!r})"


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    idempotency_key: str
    amount: Money
    method: MethodRef
    customer_ref: str
    description: str


@dataclass(frozen=True, slots=True)
class ChargeResult:
    outcome: Outcome
    provider_payment_id: str | None
    amount: Money
    raw_code: str | None
    decline: Decline | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RefundResult:
    outcome: Outcome
    provider_refund_id: str | None
    amount: Money
    raw_code: str | None


class GatewayEventType(StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"  # a pending charge settled
    PAYMENT_FAILED = "payment.failed"  # late failure of a pending charge
    PAYMENT_RETURNED = "payment.returned"  # SEPA return or refund request after success
    CHARGEBACK = "payment.chargeback"  # card dispute
    REFUND_SUCCEEDED = "refund.succeeded"  # also for a refund made in the provider's dashboard
    REFUND_FAILED = "refund.failed"  # a refund reported as done could not be paid out after all


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    id: str  # unique per event: a redelivery carries the same id
    type: GatewayEventType
    provider_payment_id: str
    amount: Money
    occurred_at: datetime
    decline: Decline | None = None
    fee: Money | None = None  # what the provider or bank charges the merchant for a return or chargeback
    provider_refund_id: str | None = None  # refund events: which refund


@runtime_checkable
class PaymentGateway(Protocol):
    name: str

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge once per idempotency key; a repeated key returns the stored result."""
        ...

    def refund(self, provider_payment_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        """Refund (part of) a settled payment, once per idempotency key."""
        ...

    def find_by_idempotency_key(self, key: str) -> ChargeResult | None:
        """The charge made under ``key`` as it stands now, or None if the provider never saw the key."""
        ...

    def find_refund_by_idempotency_key(self, key: str) -> RefundResult | None:
        """The refund made under ``key``, or None if the provider never saw the key."""
        ...

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        """Verify a webhook delivery's signature (constant time) and read its event."""
        ...


def event_to_dict(event: GatewayEvent) -> dict[str, Any]:
    """A JSON-safe form of an event, to keep one that cannot be applied yet (see ``event_from_dict``)."""
    decline = event.decline
    return {"id": event.id, "type": event.type.value, "provider_payment_id": event.provider_payment_id,
            "amount_minor": event.amount.minor, "currency": event.amount.currency,
            "occurred_at": event.occurred_at.isoformat(),
            "decline": None if decline is None else {
                "code": decline.code, "decline_class": decline.decline_class.value, "raw_code": decline.raw_code,
                "message": decline.message, "network_advice": decline.network_advice,
                "retry_allowed": decline.retry_allowed},
            "fee_minor": event.fee.minor if event.fee is not None else None,
            "provider_refund_id": event.provider_refund_id}


def event_from_dict(data: Mapping[str, Any]) -> GatewayEvent:
    currency = data["currency"]
    decline = data.get("decline")
    return GatewayEvent(
        id=data["id"], type=GatewayEventType(data["type"]), provider_payment_id=data["provider_payment_id"],
        amount=Money(data["amount_minor"], currency), occurred_at=datetime.fromisoformat(data["occurred_at"]),
        decline=None if decline is None else Decline(
            code=decline["code"], decline_class=DeclineClass(decline["decline_class"]), raw_code=decline["raw_code"],
            message=decline["message"], network_advice=decline["network_advice"],
            retry_allowed=decline["retry_allowed"]),
        fee=Money(data["fee_minor"], currency) if data.get("fee_minor") is not None else None,
        provider_refund_id=data.get("provider_refund_id"))
