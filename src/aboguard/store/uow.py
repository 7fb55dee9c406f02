"""What services may see of storage: repository Protocols and the unit of work.

A unit of work is one database transaction. Leaving the ``with`` block without ``commit()`` rolls
everything back, so a service that raises half-way writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, Self

from aboguard.domain.catalog import Plan, PlanVersion, Product
from aboguard.domain.customers import Customer
from aboguard.domain.dunning import CaseStatus, DunningCase, DunningPolicy, TimelineEntry
from aboguard.domain.dunning_charges import DunningCharge
from aboguard.domain.events import Event
from aboguard.domain.invoicing import DocumentKind, Invoice, InvoiceStatus
from aboguard.domain.ledger import JournalEntry
from aboguard.domain.notifications import DeliveryAttempt, EndpointStatus, Message, WebhookDelivery, WebhookEndpoint
from aboguard.domain.payment_methods import PaymentMethod
from aboguard.domain.payments import PaymentAttempt
from aboguard.domain.refunds import Refund
from aboguard.domain.subscriptions import Subscription, SubscriptionStatus
from aboguard.errors import Conflict
from aboguard.ids import CustomerId, InvoiceId, PaymentMethodId, PlanId, PlanVersionId, ProductId, SubscriptionId


class DuplicateDocument(Conflict):
    """An invoice or credit note with this billing key, number or id is already stored."""

    code = "invoice.duplicate"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    name: str
    aggregate_type: str
    aggregate_id: str
    payload: dict[str, Any]
    occurred_at: datetime


class ProductRepository(Protocol):
    def add(self, product: Product) -> None: ...
    def get(self, product_id: ProductId) -> Product: ...
    def find_by_code(self, code: str) -> Product | None: ...


class PlanRepository(Protocol):
    def add(self, plan: Plan) -> None:
        """Insert the plan and its current version. Raises DuplicatePlanCode if the code is taken."""
        ...

    def add_version(self, version: PlanVersion) -> None:
        """Insert a new price version and make it the plan's current one."""
        ...

    def get(self, plan_id: PlanId) -> Plan:
        """The plan with its current version and all versions, oldest first. Raises PlanNotFound."""
        ...

    def get_by_code(self, code: str) -> Plan: ...
    def find_by_code(self, code: str) -> Plan | None: ...
    def get_version(self, version_id: PlanVersionId) -> PlanVersion: ...
    def list(self, *, include_archived: bool = False) -> list[Plan]: ...


class CustomerRepository(Protocol):
    def add(self, customer: Customer) -> None:
        """Raises DuplicateCustomer when the external reference is already used."""
        ...

    def get(self, customer_id: CustomerId) -> Customer: ...
    def get_many(self, customer_ids: Collection[CustomerId]) -> dict[CustomerId, Customer]: ...
    def find_by_external_ref(self, external_ref: str) -> Customer | None: ...
    def list(self, *, limit: int = 100, offset: int = 0) -> list[Customer]: ...


class SubscriptionRepository(Protocol):
    def add(self, sub: Subscription) -> None: ...
    def get(self, subscription_id: SubscriptionId) -> Subscription: ...

    def save(self, sub: Subscription) -> Subscription:
        """Update where the stored version equals ``sub.version``; returns it with version + 1.
        Raises ConcurrentUpdate when someone else saved in between."""
        ...

    def list(self, *, customer_id: CustomerId | None = None, status: SubscriptionStatus | None = None,
             limit: int = 100, offset: int = 0) -> list[Subscription]: ...

    def due_for_billing(self, today: date, *, limit: int = 1000) -> list[SubscriptionId]:
        """Ids of billable subscriptions whose next period starts by ``today``, oldest due first (by the
        ``due_on`` index)."""
        ...

    def claim_due(self, today: date, *, limit: int, exclude: Collection[str] = (),
                  skip_locked: bool = False) -> list[Subscription]:
        """Subscriptions with work due by ``today`` (trial end, period start, change, contract end),
        oldest first; locked for this transaction and skipped by others when ``skip_locked``."""
        ...

    def save_many(self, subs: Sequence[Subscription], *, fields: Sequence[str] | None = None) -> None:
        """``save`` for many at once (only ``fields`` when given); raises ConcurrentUpdate naming one that
        changed meanwhile. The stored versions go up by one; reload before saving again."""
        ...


class InvoiceRepository(Protocol):
    def add_many(self, documents: Sequence[Invoice]) -> None:
        """Insert issued documents with their lines. Raises a Conflict if a billing key or number is taken."""
        ...

    def get(self, invoice_id: InvoiceId) -> Invoice: ...
    def get_by_number(self, number: str) -> Invoice: ...
    def find(self, ref: str) -> Invoice: ...
    def list(self, *, customer_id: CustomerId | None = None, subscription_id: SubscriptionId | None = None,
             status: InvoiceStatus | None = None, kind: DocumentKind | None = None, limit: int = 100,
             offset: int = 0) -> list[Invoice]: ...

    def save(self, invoice: Invoice) -> Invoice:
        """Store status, paid and credited (issued content is immutable); optimistic on ``version``."""
        ...

    def claim_collectable(self, today: date, *, limit: int, skip_locked: bool = False) -> list[Invoice]:
        """Invoices due for automatic collection by ``today`` (their ``collect_on``), oldest first."""
        ...

    def overdue_without_dunning(self, today: date, *, limit: int) -> list[Invoice]: ...
    def clear_collect_on(self, documents: Sequence[Invoice]) -> None: ...

    def existing_billing_keys(self, keys: Collection[str]) -> set[str]: ...
    def open_amounts_by_customer(self) -> dict[str, dict[str, int]]: ...


class NumberAllocator(Protocol):
    def allocate(self, series: str, scope: str, count: int = 1) -> list[int]:
        """The next numbers of a series, gapless: held until commit, given back by a rollback."""
        ...

    def current(self, series: str, scope: str) -> int: ...


class Ledger(Protocol):
    """The journal. Amounts are signed minor units: debit positive, credit negative."""

    def add_many(self, entries: Sequence[JournalEntry]) -> None:
        """Insert entries and their lines (two bulk statements)."""
        ...

    def entries_for(self, document_id: str) -> list[JournalEntry]:
        """The entries booked for an invoice or credit note, in the order they were made."""
        ...

    def balance(self, account: str) -> dict[str, int]:
        """Sum per currency of one account; currencies that sum to zero are left out."""
        ...

    def balances(self, prefix: str) -> dict[str, dict[str, int]]:
        """Sum per account and currency of every account starting with ``prefix`` (taken literally)."""
        ...

    def unbalanced_entries(self) -> list[tuple[str, str, int]]:
        """(entry id, currency, sum) of every entry whose lines do not sum to zero in a currency."""
        ...

    def count_entries(self) -> int: ...


class PaymentMethodRepository(Protocol):
    """Payment methods; gateway tokens and IBANs are encrypted at rest and decrypted when read."""

    def add(self, method: PaymentMethod) -> PaymentMethod:
        """Insert; it becomes the default when asked (the old default is unset in the same transaction) or
        when the customer has none. Raises DuplicateMandateReference. Returns the method as stored."""
        ...

    def get(self, method_id: PaymentMethodId) -> PaymentMethod:
        """Raises PaymentMethodNotFound."""
        ...

    def list_for_customer(self, customer_id: CustomerId, *, include_removed: bool = False) -> list[PaymentMethod]:
        """Oldest first."""
        ...

    def default_for(self, customer_id: CustomerId) -> PaymentMethod | None: ...

    def defaults_for(self, customer_ids: Collection[CustomerId]) -> dict[CustomerId, PaymentMethod]:
        """The default method of each customer that has one, in one query."""
        ...

    def find_by_mandate_reference(self, reference: str) -> PaymentMethod | None:
        """Compared case-insensitively."""
        ...

    def mandate_reference_taken(self, reference: str) -> bool: ...

    def count_for_customer(self, customer_id: CustomerId) -> int:
        """All methods ever added for the customer, removed ones included."""
        ...

    def save(self, method: PaymentMethod) -> PaymentMethod:
        """Optimistic on ``version``; returns it with version + 1. Unset the old default before saving a
        new one (at most one default per customer)."""
        ...


class EventLog(Protocol):
    def add(self, events: Iterable[Event], occurred_at: datetime) -> None: ...
    def list(self, *, aggregate_id: str | None = None, limit: int = 1000) -> list[StoredEvent]: ...

    def since(self, after: datetime, names: Iterable[str], *, limit: int = 100_000) -> list[StoredEvent]:
        """Events with one of ``names`` at or after ``after``, oldest first."""
        ...


class InstallationSettings(Protocol):
    """Key/value facts about this installation (clock mode, the sandbox clock's instant, ...)."""

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...


class PaymentAttemptRepository(Protocol):
    def add(self, attempt: PaymentAttempt) -> None: ...
    def get(self, attempt_id: str) -> PaymentAttempt: ...
    def find(self, ref: str) -> PaymentAttempt: ...
    def by_provider_id(self, gateway: str, provider_payment_id: str) -> PaymentAttempt | None: ...
    def save(self, attempt: PaymentAttempt) -> PaymentAttempt: ...
    def count_for_invoice(self, invoice_id: str) -> int: ...
    def add_many(self, attempts: Sequence[PaymentAttempt]) -> None: ...
    def counts_for_invoices(self, invoice_ids: Collection[str]) -> dict[str, int]: ...

    def unconfirmed_before(self, before: datetime, *, limit: int = 500) -> list[PaymentAttempt]:
        """Pending attempts without the gateway's payment id untouched since ``before`` (an interrupted run)."""
        ...

    def claim_unconfirmed(self, before: datetime, now: datetime, *, limit: int = 500) -> list[PaymentAttempt]:
        """Those attempts, locked and stamped ``now`` so that concurrent collectors skip them."""
        ...

    def list(self, *, invoice_id: str | None = None, customer_id: str | None = None, status: str | None = None,
             limit: int = 100, offset: int = 0) -> list[PaymentAttempt]: ...


class GatewayEventLog(Protocol):
    def record(self, gateway: str, event_id: str, event_type: str, received_at: datetime,
               attempt_id: str | None, *, provider_payment_id: str | None = None,
               waiting: dict[str, Any] | None = None) -> bool:
        """True when the event is new (now recorded); False when it was seen before."""
        ...

    def take_waiting(self, gateway: str, provider_payment_id: str, attempt_id: str) -> list[dict[str, Any]]: ...

    def count(self) -> int: ...


class RefundRepository(Protocol):
    def add(self, refund: Refund) -> None: ...
    def get(self, refund_id: str) -> Refund: ...
    def find(self, ref: str) -> Refund: ...
    def by_provider_id(self, gateway: str, provider_refund_id: str) -> Refund | None: ...
    def save(self, refund: Refund) -> Refund: ...
    def for_invoice(self, invoice_id: str) -> list[Refund]: ...
    def count_for_credit_note(self, credit_note_id: str) -> int: ...

    def pending_before(self, before: datetime, *, limit: int = 500) -> list[Refund]:
        """Gateway refunds still pending and older than ``before`` (an interrupted run)."""
        ...

    def pending_for_payment(self, gateway: str, provider_payment_id: str) -> list[Refund]: ...

    def list(self, *, invoice_id: str | None = None, customer_id: str | None = None, status: str | None = None,
             limit: int = 100, offset: int = 0) -> list[Refund]: ...


class DunningRepository(Protocol):
    def policies(self) -> list[DunningPolicy]: ...
    def save_policy(self, policy: DunningPolicy, now: datetime) -> bool: ...
    def remove_policy(self, code: str) -> bool: ...
    def add_case(self, case: DunningCase) -> None: ...
    def case_for_invoice(self, invoice_id: str) -> DunningCase | None: ...
    def get_case(self, case_id: str) -> DunningCase: ...
    def save_case(self, case: DunningCase) -> DunningCase: ...
    def claim_due(self, today: date, *, limit: int, skip_locked: bool = False) -> list[DunningCase]: ...

    def cases(self, *, customer_id: str | None = None, status: CaseStatus | None = None,
              statuses: frozenset[CaseStatus] | None = None, limit: int = 1000,
              offset: int = 0) -> list[DunningCase]: ...

    def count_by_status(self) -> dict[str, int]: ...
    def add_entry(self, entry: TimelineEntry) -> None: ...
    def next_seq(self, case_id: str) -> int: ...
    def timeline(self, case_id: str) -> list[TimelineEntry]: ...
    def add_charge(self, charge: DunningCharge) -> None: ...
    def charges_for_invoice(self, invoice_id: str) -> list[DunningCharge]: ...
    def charges_for_customer(self, customer_id: str) -> list[DunningCharge]: ...
    def save_charge(self, charge: DunningCharge) -> DunningCharge: ...
    def open_charges_by_customer(self) -> dict[tuple[str, str], dict[str, int]]: ...


@dataclass(frozen=True, slots=True)
class UpcomingDate:
    """A subscription with a date coming up (its next charge or the end of its minimum term) and its plan."""

    id: str
    customer_id: str
    status: str
    billing_anchor: date
    next_bill_on: date | None
    ends_on: date | None
    min_term_end_on: date | None
    plan_id: str
    plan_name: str
    amount_minor: int
    currency: str
    tax_inclusive: bool
    interval_unit: str
    interval_count: int
    notice_days: int
    renewal: str
    renewal_term_months: int
    min_term_months: int
    on: date


@dataclass(frozen=True, slots=True)
class ExpiringCard:
    id: str
    customer_id: str
    brand: str | None
    last4: str | None
    exp_year: int
    exp_month: int


class OutboxRepository(Protocol):
    def claim_due(self, now: datetime, *, limit: int) -> list[tuple[StoredEvent, int]]:
        """Events not yet dispatched whose time has come, oldest first, with the dispatch attempts so far."""
        ...

    def done(self, event_ids: Collection[str]) -> None: ...
    def postpone(self, event_id: str, until: datetime, error: str) -> None: ...
    def pending(self) -> int: ...
    def event(self, event_id: str) -> StoredEvent | None: ...


class MessageRepository(Protocol):
    def add(self, message: Message) -> bool:
        """False when its dedupe key is taken (the message exists already); nothing is written then."""
        ...

    def existing_keys(self, keys: Collection[str]) -> set[str]: ...
    def claim_due(self, now: datetime, lease_until: datetime, *, limit: int) -> list[Message]: ...
    def save(self, message: Message) -> None: ...
    def get(self, ref: str) -> Message: ...

    def list(self, *, customer_id: str | None = None, status: str | None = None, template: str | None = None,
             event_id: str | None = None, limit: int = 100, offset: int = 0) -> list[Message]: ...

    def add_attempt(self, attempt: DeliveryAttempt) -> None: ...
    def attempts(self, *, message_id: str | None = None, delivery_id: str | None = None) -> list[DeliveryAttempt]: ...


class WebhookRepository(Protocol):
    def add_endpoint(self, endpoint: WebhookEndpoint) -> None: ...
    def save_endpoint(self, endpoint: WebhookEndpoint) -> None: ...
    def get_endpoint(self, endpoint_id: str, *, decrypt: bool = False, lock: bool = False) -> WebhookEndpoint: ...
    def endpoints(self, *, statuses: Collection[EndpointStatus] | None = None) -> list[WebhookEndpoint]: ...
    def add_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> None: ...
    def next_seq(self, endpoint_id: str, event_id: str) -> int: ...
    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None: ...

    def deliveries(self, *, endpoint_id: str | None = None, event_id: str | None = None, status: str | None = None,
                   limit: int = 100) -> list[WebhookDelivery]: ...

    def claim_due(self, now: datetime, lease_until: datetime, *, limit: int) -> list[WebhookDelivery]: ...
    def save_delivery(self, delivery: WebhookDelivery) -> None: ...


class NoticeQueries(Protocol):
    def upcoming(self, kind: str, start: date, end: date, *, limit: int = 1000,
                 after: tuple[date, str] | None = None) -> list[UpcomingDate]: ...

    def expiring_cards(self, months: Collection[tuple[int, int]]) -> list[ExpiringCard]: ...
    def reminder_days(self) -> dict[str, int]: ...
    def set_reminder_days(self, plan_id: str, days: int, now: datetime) -> None: ...


class UnitOfWork(Protocol):
    products: ProductRepository
    plans: PlanRepository
    customers: CustomerRepository
    subscriptions: SubscriptionRepository
    events: EventLog
    settings: InstallationSettings
    invoices: InvoiceRepository
    numbers: NumberAllocator
    ledger: Ledger
    payment_methods: PaymentMethodRepository
    attempts: PaymentAttemptRepository
    gateway_events: GatewayEventLog
    refunds: RefundRepository
    dunning: DunningRepository
    outbox: OutboxRepository
    messages: MessageRepository
    webhooks: WebhookRepository
    notices: NoticeQueries

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc_info: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...

    def close(self) -> None:
        """Release pooled connections; the process is done with the database."""


__all__ = [
    "CustomerRepository",
    "DuplicateDocument",
    "EventLog",
    "ExpiringCard",
    "InstallationSettings",
    "InvoiceRepository",
    "Ledger",
    "MessageRepository",
    "NoticeQueries",
    "NumberAllocator",
    "OutboxRepository",
    "PaymentMethodRepository",
    "PlanRepository",
    "ProductRepository",
    "RefundRepository",
    "StoredEvent",
    "SubscriptionRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UpcomingDate",
    "WebhookRepository",
]
