"""Refunds: payouts to customers with their idempotency keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from aboguard.domain.refunds import PayoutChannel, Refund, RefundStatus
from aboguard.errors import ConcurrentUpdate, NotFound
from aboguard.ids import CustomerId, InvoiceId
from aboguard.money import Money
from aboguard.store.tables import refunds

_FIELDS = ("id", "number", "idempotency_key", "reason", "created_at", "updated_at", "attempt_id", "gateway",
           "provider_payment_id", "provider_refund_id", "failure_code", "failure_message", "retry_of",
           "version")


class RefundNotFound(NotFound):
    code = "refund.not_found"


def _to_row(refund: Refund) -> dict:
    row = {name: getattr(refund, name) for name in _FIELDS}
    row.update(invoice_id=refund.invoice_id, credit_note_id=refund.credit_note_id, customer_id=refund.customer_id,
               channel=refund.channel.value, amount_minor=refund.amount.minor, currency=refund.amount.currency,
               status=refund.status.value)
    return row


def _from_row(row: Any) -> Refund:
    values = {name: row[name] for name in _FIELDS}
    values.update(invoice_id=InvoiceId(row["invoice_id"]), credit_note_id=InvoiceId(row["credit_note_id"]),
                  customer_id=CustomerId(row["customer_id"]), channel=PayoutChannel(row["channel"]),
                  amount=Money(row["amount_minor"], row["currency"]), status=RefundStatus(row["status"]))
    return Refund(**values)


class SqlRefunds:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, refund: Refund) -> None:
        self._conn.execute(insert(refunds).values(_to_row(refund)))

    def get(self, refund_id: str) -> Refund:
        row = self._conn.execute(select(refunds).where(refunds.c.id == refund_id)).mappings().first()
        if row is None:
            raise RefundNotFound(f"no refund with id {refund_id!r}")
        return _from_row(row)

    def find(self, ref: str) -> Refund:
        """By id or by the gateway's refund id."""
        row = self._conn.execute(select(refunds).where((refunds.c.id == ref) | (refunds.c.provider_refund_id == ref))
                                 ).mappings().first()
        if row is None:
            raise RefundNotFound(f"no refund with id {ref!r}: `aboguard refunds list` shows them")
        return _from_row(row)

    def by_provider_id(self, gateway: str, provider_refund_id: str) -> Refund | None:
        row = self._conn.execute(select(refunds).where(refunds.c.gateway == gateway,
                                                       refunds.c.provider_refund_id == provider_refund_id)
                                 ).mappings().first()
        return _from_row(row) if row is not None else None

    def save(self, refund: Refund) -> Refund:
        values = _to_row(refund)
        for fixed in ("id", "created_at", "version", "idempotency_key", "invoice_id", "credit_note_id", "number"):
            del values[fixed]
        result = self._conn.execute(update(refunds)
                                    .where(refunds.c.id == refund.id, refunds.c.version == refund.version)
                                    .values(**values, version=refunds.c.version + 1))
        if result.rowcount == 0:
            raise ConcurrentUpdate(f"refund {refund.id} was changed by someone else; run again")
        return replace(refund, version=refund.version + 1)

    def for_invoice(self, invoice_id: str) -> list[Refund]:
        query = select(refunds).where(refunds.c.invoice_id == invoice_id).order_by(refunds.c.created_at,
                                                                                   refunds.c.id)
        return [_from_row(row) for row in self._conn.execute(query).mappings()]

    def count_for_credit_note(self, credit_note_id: str) -> int:
        return int(self._conn.execute(select(func.count()).select_from(refunds)
                                      .where(refunds.c.credit_note_id == credit_note_id)).scalar_one())

    def pending_before(self, before: datetime, *, limit: int = 500) -> list[Refund]:
        """Gateway refunds still pending and older than ``before``: the run that started them was interrupted."""
        query = (select(refunds).where(refunds.c.status == RefundStatus.PENDING.value,
                                       refunds.c.channel == PayoutChannel.GATEWAY.value,
                                       refunds.c.created_at < before)
                 .order_by(refunds.c.created_at, refunds.c.id).limit(limit))
        return [_from_row(row) for row in self._conn.execute(query).mappings()]

    def pending_for_payment(self, gateway: str, provider_payment_id: str) -> list[Refund]:
        query = select(refunds).where(refunds.c.gateway == gateway,
                                      refunds.c.provider_payment_id == provider_payment_id,
                                      refunds.c.status == RefundStatus.PENDING.value)
        return [_from_row(row) for row in self._conn.execute(query).mappings()]

    def list(self, *, invoice_id: str | None = None, customer_id: str | None = None, status: str | None = None,
             limit: int = 100, offset: int = 0) -> list[Refund]:
        query = select(refunds)
        if invoice_id is not None:
            query = query.where(refunds.c.invoice_id == invoice_id)
        if customer_id is not None:
            query = query.where(refunds.c.customer_id == customer_id)
        if status is not None:
            query = query.where(refunds.c.status == RefundStatus(status).value)
        query = query.order_by(refunds.c.created_at, refunds.c.id).limit(limit).offset(offset)
        return [_from_row(row) for row in self._conn.execute(query).mappings()]
