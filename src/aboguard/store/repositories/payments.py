"""Payment attempts and the log of gateway events already applied."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.payments import AttemptStatus, PaymentAttempt
from aboguard.errors import ConcurrentUpdate, NotFound
from aboguard.ids import CustomerId, InvoiceId
from aboguard.money import Money
from aboguard.store.bulk import insert_many
from aboguard.store.tables import gateway_events, payment_attempts

from ._base import insert_if_new, insert_row, one_of, select_where, update_versioned, where

_FIELDS = ("id", "invoice_id", "customer_id", "number", "idempotency_key", "payment_method_id", "gateway",
           "created_at", "updated_at", "provider_payment_id", "raw_code", "decline_code", "decline_class",
           "decline_message", "retry_allowed", "version", "retry_action", "retry_on", "retry_reason",
           "network_advice")


class AttemptNotFound(NotFound):
    code = "payment.not_found"


def _to_row(attempt: PaymentAttempt) -> dict:
    row = {name: getattr(attempt, name) for name in _FIELDS}
    row.update(amount_minor=attempt.amount.minor, currency=attempt.amount.currency,
               method_kind=attempt.method_kind.value, status=attempt.status.value)
    return row


def _from_row(row: Any) -> PaymentAttempt:
    values = {name: row[name] for name in _FIELDS}
    values.update(invoice_id=InvoiceId(row["invoice_id"]), customer_id=CustomerId(row["customer_id"]),
                  amount=Money(row["amount_minor"], row["currency"]), method_kind=PaymentMethodKind(row["method_kind"]),
                  status=AttemptStatus(row["status"]))
    return PaymentAttempt(**values)


class SqlPaymentAttempts:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, attempt: PaymentAttempt) -> None:
        insert_row(self._conn, payment_attempts, _to_row(attempt))

    def add_many(self, attempts: Sequence[PaymentAttempt]) -> None:
        insert_many(self._conn, payment_attempts, [_to_row(a) for a in attempts])

    def counts_for_invoices(self, invoice_ids: Collection[str]) -> dict[str, int]:
        """How many attempts each invoice has had, in one query."""
        if not invoice_ids:
            return {}
        query = (select(payment_attempts.c.invoice_id, func.count()).where(
            one_of(self._conn, payment_attempts.c.invoice_id, list(invoice_ids)))
            .group_by(payment_attempts.c.invoice_id))
        return {invoice_id: int(n) for invoice_id, n in self._conn.execute(query)}

    def get(self, attempt_id: str) -> PaymentAttempt:
        row = self._conn.execute(select_where(payment_attempts, "id"), where(id=attempt_id)).mappings().first()
        if row is None:
            raise AttemptNotFound(f"no payment attempt with id {attempt_id!r}")
        return _from_row(row)

    def find(self, ref: str) -> PaymentAttempt:
        """By id or by the gateway's payment id."""
        query = select(payment_attempts).where((payment_attempts.c.id == ref)
                                               | (payment_attempts.c.provider_payment_id == ref))
        row = self._conn.execute(query).mappings().first()
        if row is None:
            raise AttemptNotFound(f"no payment with id {ref!r}")
        return _from_row(row)

    def by_provider_id(self, gateway: str, provider_payment_id: str) -> PaymentAttempt | None:
        row = self._conn.execute(select_where(payment_attempts, "gateway", "provider_payment_id"),
                                 where(gateway=gateway, provider_payment_id=provider_payment_id)).mappings().first()
        return _from_row(row) if row is not None else None

    def save(self, attempt: PaymentAttempt) -> PaymentAttempt:
        values = _to_row(attempt)
        for fixed in ("id", "created_at", "version", "idempotency_key", "invoice_id", "number"):
            del values[fixed]
        if update_versioned(self._conn, payment_attempts, values, attempt.id, attempt.version) == 0:
            raise ConcurrentUpdate(f"payment attempt {attempt.id} was changed by someone else; run again")
        return replace(attempt, version=attempt.version + 1)

    def count_for_invoice(self, invoice_id: str) -> int:
        return int(self._conn.execute(select(func.count()).select_from(payment_attempts)
                                      .where(payment_attempts.c.invoice_id == invoice_id)).scalar_one())

    def unconfirmed_before(self, before: datetime, *, limit: int = 500) -> list[PaymentAttempt]:
        """Pending attempts the gateway never confirmed (no payment id) and untouched since ``before``:
        a collector crashed between writing the attempt and recording the gateway's answer."""
        query = (select(payment_attempts)
                 .where(payment_attempts.c.status == AttemptStatus.PENDING.value,
                        payment_attempts.c.provider_payment_id.is_(None),
                        payment_attempts.c.updated_at < before)
                 .order_by(payment_attempts.c.created_at, payment_attempts.c.id).limit(limit))
        return [_from_row(row) for row in self._conn.execute(query).mappings()]

    def claim_unconfirmed(self, before: datetime, now: datetime, *, limit: int = 500) -> list[PaymentAttempt]:
        """Take interrupted attempts to resolve: locked (``SKIP LOCKED`` on PostgreSQL) and stamped ``now``,
        so a concurrent collector neither waits for them nor takes them until they are stale again."""
        query = (select(payment_attempts)
                 .where(payment_attempts.c.status == AttemptStatus.PENDING.value,
                        payment_attempts.c.provider_payment_id.is_(None),
                        payment_attempts.c.updated_at < before)
                 .order_by(payment_attempts.c.created_at, payment_attempts.c.id).limit(limit))
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = [_from_row(row) for row in self._conn.execute(query).mappings()]
        return [self.save(replace(attempt, updated_at=now)) for attempt in claimed]

    def list(self, *, invoice_id: str | None = None, customer_id: str | None = None, status: str | None = None,
             limit: int = 100, offset: int = 0) -> list[PaymentAttempt]:
        query = select(payment_attempts)
        if invoice_id is not None:
            query = query.where(payment_attempts.c.invoice_id == invoice_id)
        if customer_id is not None:
            query = query.where(payment_attempts.c.customer_id == customer_id)
        if status is not None:
            query = query.where(payment_attempts.c.status == AttemptStatus(status).value)
        query = query.order_by(payment_attempts.c.created_at, payment_attempts.c.id).limit(limit).offset(offset)
        return [_from_row(row) for row in self._conn.execute(query).mappings()]


_WAITING = select(gateway_events.c.event_id, gateway_events.c.waiting).where(
    gateway_events.c.gateway == bindparam("gateway"), gateway_events.c.provider_payment_id == bindparam("payment"),
    gateway_events.c.waiting.is_not(None))


class SqlGatewayEventLog:
    """Which gateway events were applied: the unique (gateway, event id) makes applying one twice a no-op."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def record(self, gateway: str, event_id: str, event_type: str, received_at: datetime,
               attempt_id: str | None, *, provider_payment_id: str | None = None,
               waiting: dict[str, Any] | None = None) -> bool:
        """True if this event is new (and now recorded), False if it was seen before. ``waiting`` keeps an
        event for a payment not known yet, to be applied once it is (:meth:`take_waiting`)."""
        row = {"gateway": gateway, "event_id": event_id, "event_type": event_type, "received_at": received_at,
               "attempt_id": attempt_id, "provider_payment_id": provider_payment_id, "waiting": waiting}
        return insert_if_new(self._conn, gateway_events, row) == 1

    def waiting_for(self, gateway: str, provider_payment_ids: Collection[str]) -> set[str]:
        """Those of these payments that have events kept for them (see :meth:`record`), in one query."""
        if not provider_payment_ids:
            return set()
        query = select(gateway_events.c.provider_payment_id).where(
            gateway_events.c.gateway == gateway, gateway_events.c.waiting.is_not(None),
            one_of(self._conn, gateway_events.c.provider_payment_id, list(provider_payment_ids)))
        return set(self._conn.execute(query).scalars())

    def take_waiting(self, gateway: str, provider_payment_id: str, attempt_id: str) -> list[dict[str, Any]]:
        """The events kept for this payment, oldest first, now marked as applied to ``attempt_id``."""
        rows = self._conn.execute(_WAITING, {"gateway": gateway, "payment": provider_payment_id}).all()
        if rows:
            self._conn.execute(update(gateway_events).where(
                gateway_events.c.gateway == gateway,
                gateway_events.c.event_id.in_([r.event_id for r in rows])).values(waiting=None, attempt_id=attempt_id))
        return sorted((r.waiting for r in rows), key=lambda w: (w["occurred_at"], w["id"]))

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(gateway_events)).scalar_one())
