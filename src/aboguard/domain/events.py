"""Domain events: past-tense facts with a wire name such as ``subscription.created``.

Services write each event to the ``events`` table (and later the outbox) in the same transaction as
the state change it describes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any, ClassVar

from aboguard.money import Money


@dataclass(frozen=True, slots=True)
class Event:
    name: ClassVar[str] = "event"
    aggregate: ClassVar[str] = "unknown"

    aggregate_id: str

    def payload(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in _field_names(type(self))}


@cache
def _field_names(kind: type[Event]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def _plain(value: Any) -> Any:
    if isinstance(value, Money):
        return value.to_dict()
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


@dataclass(frozen=True, slots=True)
class PlanCreated(Event):
    name: ClassVar[str] = "plan.created"
    aggregate: ClassVar[str] = "plan"
    code: str
    version: int


@dataclass(frozen=True, slots=True)
class PlanPriceChanged(Event):
    name: ClassVar[str] = "plan.price_changed"
    aggregate: ClassVar[str] = "plan"
    code: str
    version: int
    price: Money


@dataclass(frozen=True, slots=True)
class CustomerCreated(Event):
    name: ClassVar[str] = "customer.created"
    aggregate: ClassVar[str] = "customer"
    email: str
    kind: str


@dataclass(frozen=True, slots=True)
class SubscriptionCreated(Event):
    name: ClassVar[str] = "subscription.created"
    aggregate: ClassVar[str] = "subscription"
    customer_id: str
    plan_version_id: str
    status: str
    start_on: date
    trial_end_on: date | None


@dataclass(frozen=True, slots=True)
class SubscriptionActivated(Event):
    name: ClassVar[str] = "subscription.activated"
    aggregate: ClassVar[str] = "subscription"
    on: date
    previous_status: str


@dataclass(frozen=True, slots=True)
class SubscriptionPastDue(Event):
    name: ClassVar[str] = "subscription.past_due"
    aggregate: ClassVar[str] = "subscription"
    on: date


@dataclass(frozen=True, slots=True)
class SubscriptionSuspended(Event):
    name: ClassVar[str] = "subscription.suspended"
    aggregate: ClassVar[str] = "subscription"
    on: date


@dataclass(frozen=True, slots=True)
class SubscriptionCanceled(Event):
    name: ClassVar[str] = "subscription.canceled"
    aggregate: ClassVar[str] = "subscription"
    requested_on: date
    ends_on: date
    reason: str


@dataclass(frozen=True, slots=True)
class SubscriptionEnded(Event):
    name: ClassVar[str] = "subscription.ended"
    aggregate: ClassVar[str] = "subscription"
    on: date


@dataclass(frozen=True, slots=True)
class SubscriptionPaused(Event):
    name: ClassVar[str] = "subscription.paused"
    aggregate: ClassVar[str] = "subscription"
    on: date


@dataclass(frozen=True, slots=True)
class SubscriptionResumed(Event):
    name: ClassVar[str] = "subscription.resumed"
    aggregate: ClassVar[str] = "subscription"
    on: date
    paused_days: int


@dataclass(frozen=True, slots=True)
class SubscriptionPlanChanged(Event):
    name: ClassVar[str] = "subscription.plan_changed"
    aggregate: ClassVar[str] = "subscription"
    from_plan_version_id: str
    to_plan_version_id: str
    effective_on: date
    credit: Money | None
    charge: Money | None


@dataclass(frozen=True, slots=True)
class SubscriptionPlanChangeScheduled(Event):
    name: ClassVar[str] = "subscription.plan_change_scheduled"
    aggregate: ClassVar[str] = "subscription"
    to_plan_version_id: str
    effective_on: date


@dataclass(frozen=True, slots=True)
class InvoiceIssued(Event):
    name: ClassVar[str] = "invoice.issued"
    aggregate: ClassVar[str] = "invoice"
    number: str
    customer_id: str
    subscription_id: str
    total: Money
    due_on: date


@dataclass(frozen=True, slots=True)
class CreditNoteIssued(Event):
    name: ClassVar[str] = "credit_note.issued"
    aggregate: ClassVar[str] = "invoice"
    number: str
    customer_id: str
    total: Money
    corrects_id: str


@dataclass(frozen=True, slots=True)
class InvoiceVoided(Event):
    name: ClassVar[str] = "invoice.voided"
    aggregate: ClassVar[str] = "invoice"
    number: str
    credit_note_id: str


@dataclass(frozen=True, slots=True)
class InvoicePaid(Event):
    name: ClassVar[str] = "invoice.paid"
    aggregate: ClassVar[str] = "invoice"
    number: str
    amount: Money


@dataclass(frozen=True, slots=True)
class InvoicePartiallyPaid(Event):
    name: ClassVar[str] = "invoice.partially_paid"
    aggregate: ClassVar[str] = "invoice"
    number: str
    amount: Money
    still_due: Money


@dataclass(frozen=True, slots=True)
class InvoiceUncollectible(Event):
    name: ClassVar[str] = "invoice.uncollectible"
    aggregate: ClassVar[str] = "invoice"
    number: str
    written_off: Money
