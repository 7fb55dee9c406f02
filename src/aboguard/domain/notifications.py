"""Customer communication rules: which message an event asks for, the payment-failure reasons a customer is
told about, retry schedules for emails and webhooks, webhook event filters and the versioned webhook payload.

Pure: the notify dispatcher (:mod:`aboguard.services.notifications`) reads the database and calls these.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from aboguard.errors import InvalidInput, NotFound

from . import events as ev

API_VERSION = "2026-11-01"  # the webhook payload version; documented in docs/webhooks.md


class MessageStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    SENT = "sent"
    FAILED = "failed"  # refused for good (the server rejected the recipient); never retried by itself


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every scheduled attempt failed; a manual replay sends it again


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"  # after too many consecutive failures; `aboguard webhooks enable` turns it back on
    REMOVED = "removed"


class MessageNotFound(NotFound):
    code = "message.not_found"


class WebhookNotFound(NotFound):
    code = "webhook.not_found"


# -- templates -------------------------------------------------------------------------------------------

CUSTOMER_TEMPLATES = (
    "payment_reminder", "sepa_prenotification", "renewal_notice", "min_term_ending", "payment_succeeded",
    "payment_failed", "dunning_reminder", "dunning_notice", "dunning_suspended", "dunning_cancelled",
    "dunning_collections", "card_expiring", "cancellation_confirmed",
)
MERCHANT_TEMPLATES = ("webhook_endpoint_disabled",)
TEMPLATES = CUSTOMER_TEMPLATES + MERCHANT_TEMPLATES

_DUNNING_TEMPLATES = {
    "reminder": "dunning_reminder", "dunning_1": "dunning_notice", "dunning_2": "dunning_notice",
    "final_notice": "dunning_notice", "suspend": "dunning_suspended", "cancel": "dunning_cancelled",
    "collections": "dunning_collections",
}


def dunning_template(action: str) -> str:
    """The email for a dunning step (every step has one)."""
    return _DUNNING_TEMPLATES.get(action, "dunning_notice")


# -- why a payment failed, in the customer's terms -------------------------------------------------------

class FailureReason(StrEnum):
    EXPIRED_CARD = "expired_card"  # update the card
    CARD_DETAILS = "card_details"  # the card data was refused (CVC, number): check or update it
    INSUFFICIENT_FUNDS = "insufficient_funds"  # we retry on a date
    AUTHENTICATE = "authenticate"  # confirm the payment (3-D Secure)
    RETRY = "retry"  # a temporary problem: we retry on a date
    NEW_METHOD = "new_method"  # hard decline, closed account, revoked mandate: choose another method


_DETAILS = frozenset({"incorrect_cvc", "incorrect_number", "invalid_expiry", "incorrect_zip", "invalid_cvc"})


def failure_reason(decline_code: str | None, decline_class: str | None, action: str) -> FailureReason:
    """What the customer is asked to do after a failed charge, from the decline and the retry decision."""
    code = (decline_code or "").lower()
    if action == "ask_to_authenticate" or code == "authentication_required":
        return FailureReason.AUTHENTICATE
    if code in {"expired_card", "card_expired"}:
        return FailureReason.EXPIRED_CARD
    if code in _DETAILS:
        return FailureReason.CARD_DETAILS
    if action == "retry":
        return FailureReason.INSUFFICIENT_FUNDS if code == "insufficient_funds" else FailureReason.RETRY
    return FailureReason.NEW_METHOD


# -- retry schedules ------------------------------------------------------------------------------------

EMAIL_BACKOFF_CAP = timedelta(hours=6)
# Standard Webhooks' recommended schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
WEBHOOK_SCHEDULE = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                    timedelta(hours=5), timedelta(hours=10), timedelta(hours=10))


def email_backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: 1, 2, 4, 8 ... minutes, at most 6 hours. An email is
    never given up because a server is down (only when it refuses the recipient for good)."""
    return min(timedelta(minutes=2 ** min(max(attempts - 1, 0), 16)), EMAIL_BACKOFF_CAP)


def webhook_backoff(attempts: int) -> timedelta | None:
    """Wait after the ``attempts``-th failed attempt of one delivery; None: no attempt is left."""
    return WEBHOOK_SCHEDULE[attempts - 1] if 1 <= attempts <= len(WEBHOOK_SCHEDULE) else None


def should_disable(consecutive_failures: int, failing_since: datetime | None, now: datetime, *,
                   after_failures: int, after_days: int) -> bool:
    """An endpoint is disabled after ``after_failures`` failed attempts in a row, or when it has failed
    every attempt for ``after_days`` days."""
    if consecutive_failures >= after_failures:
        return True
    return failing_since is not None and consecutive_failures > 1 and now - failing_since >= timedelta(days=after_days)


# -- webhook event filters and payloads ------------------------------------------------------------------

def parse_event_filters(text: str | None) -> tuple[str, ...]:
    """``"invoice.paid, payment.*"`` -> ("invoice.paid", "payment.*"); empty or None -> ("*",) (every event)."""
    parts = tuple(sorted({p.strip() for p in (text or "").split(",") if p.strip()}))
    for part in parts:
        valid = part == "*" or all(piece and (piece == "*" or piece.replace("_", "").isalnum())
                                   for piece in part.split("."))
        if not valid or ("*" in part and not (part == "*" or part.endswith(".*"))):
            raise InvalidInput(f"event filter {part!r} is not an event type such as payment.failed, a group such "
                               "as payment.* or * for every event (see docs/webhooks.md)")
    return parts or ("*",)


def matches(filters: tuple[str, ...], event_name: str) -> bool:
    return any(f in ("*", event_name) or (f.endswith(".*") and event_name.startswith(f[:-1])) for f in filters)


def webhook_body(*, event_id: str, name: str, occurred_at: datetime, aggregate_type: str, aggregate_id: str,
                 payload: dict[str, Any]) -> str:
    """The JSON body sent for an event (the same bytes on every attempt and replay)."""
    data = {"object": aggregate_type, "id": aggregate_id, **{k: v for k, v in payload.items() if k != "aggregate_id"}}
    return json.dumps({"id": event_id, "type": name, "api_version": API_VERSION,
                       "timestamp": occurred_at.isoformat(), "data": data},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# -- upcoming dates ------------------------------------------------------------------------------------

def card_expires_on(exp_year: int, exp_month: int) -> date:
    """A card is valid through the last day of its expiry month."""
    return date(exp_year, exp_month, calendar.monthrange(exp_year, exp_month)[1])


def notice_due(on: date, lead_days: int, today: date) -> bool:
    """A notice ``lead_days`` before ``on`` is due today (or late, but still before ``on``)."""
    return on - timedelta(days=lead_days) <= today <= on


# -- records ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Message:
    """One email to one recipient, rendered when it was decided (what the customer was told stays on record)."""

    id: str
    dedupe_key: str  # "<event id>:<recipient>" or "<notice>:<subject id>:<date>": one email each, ever
    event_id: str | None
    template: str
    customer_id: str | None
    recipient: str
    locale: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    url: str
    secret: str  # whsec_...; "" when read without decrypting (lists)
    event_types: tuple[str, ...]
    description: str
    status: EndpointStatus
    consecutive_failures: int
    created_at: datetime
    failing_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    removed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    seq: int  # 0 the original, then replays
    body: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    id: str
    channel: str  # email | webhook
    attempted_at: datetime
    ok: bool
    duration_ms: int
    message_id: str | None = None
    delivery_id: str | None = None
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookEndpointDisabled(ev.Event):
    name: ClassVar[str] = "webhook_endpoint.disabled"
    aggregate: ClassVar[str] = "webhook_endpoint"
    url: str
    consecutive_failures: int
    failing_since: str | None
    last_error: str


__all__ = [
    "API_VERSION", "CUSTOMER_TEMPLATES", "TEMPLATES", "DeliveryAttempt", "DeliveryStatus", "EndpointStatus",
    "FailureReason", "Message", "MessageNotFound", "MessageStatus", "WebhookDelivery", "WebhookEndpoint",
    "WebhookEndpointDisabled", "WebhookNotFound", "card_expires_on", "dunning_template", "email_backoff",
    "failure_reason", "matches", "notice_due", "parse_event_filters", "should_disable", "webhook_backoff",
    "webhook_body",
]
