"""Payment gateways: the port (:mod:`.gateway`) and its adapters (the offline :mod:`.sandbox`)."""

from __future__ import annotations

from .gateway import (
    ChargeRequest,
    ChargeResult,
    GatewayEvent,
    GatewayEventType,
    IdempotencyConflict,
    InvalidGatewayRequest,
    InvalidSignature,
    MalformedEvent,
    MethodRef,
    Outcome,
    PaymentGateway,
    RefundNotAllowed,
    RefundResult,
)

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
]
