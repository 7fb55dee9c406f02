"""Invoices and credit notes with their lines. Issued content is never updated; only settlement is."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from aboguard.domain.invoicing import DocumentKind, Invoice, InvoiceStatus
from aboguard.domain.payments import IN_FLIGHT
from aboguard.errors import ConcurrentUpdate, InvoiceNotFound
from aboguard.ids import CustomerId, InvoiceId, SubscriptionId
from aboguard.store import rows
from aboguard.store.bulk import insert_many
from aboguard.store.tables import dunning_cases, invoice_lines, invoices, payment_attempts
from aboguard.store.uow import DuplicateDocument

from ._base import one_of, select_where, update_versioned, where

__all__ = ["DuplicateDocument", "SqlInvoiceRepository"]
CHUNK = 500  # ids per IN (...) list


class SqlInvoiceRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add_many(self, documents: Sequence[Invoice]) -> None:
        """Insert documents and their lines in two statements (the billing run's hot path).

        All or nothing: when a billing key, number or id is already stored (or repeated in the batch),
        nothing of the batch is written, :class:`DuplicateDocument` names it and the transaction goes on.
        """
        if not documents:
            return
        line_rows = [line for document in documents for line in rows.invoice_line_rows(document)]
        try:
            with self._conn.begin_nested():
                insert_many(self._conn, invoices, [rows.invoice_to_row(d) for d in documents])
                insert_many(self._conn, invoice_lines, line_rows)
        except IntegrityError as exc:
            raise self._why_refused(documents, exc) from None

    def _why_refused(self, documents: Sequence[Invoice], error: IntegrityError) -> Exception:
        checks = (("billing key", invoices.c.billing_key, [d.billing_key for d in documents if d.billing_key]),
                  ("number", invoices.c.number, [d.number for d in documents if d.number]),
                  ("id", invoices.c.id, [d.id for d in documents]))
        for what, column, values in checks:
            taken = sorted(self._existing(column, values) | _repeated(values))
            if taken:
                more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
                if what == "billing key":
                    return DuplicateDocument(f"already invoiced: billing key {taken[0]}{more}")
                return DuplicateDocument(f"document {what} {taken[0]}{more} is already taken")
        return error  # not a duplicate (a missing customer or subscription): the database's own words

    def _existing(self, column, values: Collection[str]) -> set[str]:  # type: ignore[no-untyped-def]
        found: set[str] = set()
        unique = sorted(set(values))
        for chunk in (unique[i:i + CHUNK] for i in range(0, len(unique), CHUNK)):
            found.update(self._conn.execute(select(column).where(one_of(self._conn, column, chunk))).scalars())
        return found

    def get(self, invoice_id: InvoiceId) -> Invoice:
        found = self._load(select_where(invoices, "id"), where(id=invoice_id))
        if not found:
            raise InvoiceNotFound(f"no invoice or credit note with id {invoice_id!r}")
        return found[0]

    def get_by_number(self, number: str) -> Invoice:
        found = self._load(select(invoices).where(invoices.c.number == number))
        if not found:
            raise InvoiceNotFound(f"no invoice or credit note numbered {number!r}")
        return found[0]

    def find(self, ref: str) -> Invoice:
        """By id or by number."""
        found = self._load(select(invoices).where((invoices.c.id == ref) | (invoices.c.number == ref)))
        if not found:
            raise InvoiceNotFound(f"no invoice or credit note with number or id {ref!r}")
        return found[0]

    def list(self, *, customer_id: CustomerId | None = None, subscription_id: SubscriptionId | None = None,
             status: InvoiceStatus | None = None, kind: DocumentKind | None = None, limit: int = 100,
             offset: int = 0) -> list[Invoice]:
        query = select(invoices)
        if customer_id is not None:
            query = query.where(invoices.c.customer_id == customer_id)
        if subscription_id is not None:
            query = query.where(invoices.c.subscription_id == subscription_id)
        if status is not None:
            query = query.where(invoices.c.status == InvoiceStatus(status).value)
        if kind is not None:
            query = query.where(invoices.c.kind == DocumentKind(kind).value)
        return self._load(query.order_by(invoices.c.created_at, invoices.c.id).limit(limit).offset(offset))

    def clear_collect_on(self, documents: Sequence[Invoice]) -> None:
        """Take claimed invoices off the collection queue in one statement (optimistic on each version)."""
        if not documents:
            return
        result = self._conn.execute(update(invoices).where(one_of(self._conn, invoices.c.id, [d.id for d in documents]))
                                    .values(collect_on=None, version=invoices.c.version + 1))
        if result.rowcount != len(documents):
            raise ConcurrentUpdate("an invoice claimed for collection was changed meanwhile; run again")

    def save(self, invoice: Invoice) -> Invoice:
        """Store the settlement of an issued document (status, paid, credited, next collection date); its
        content never changes."""
        changed = update_versioned(self._conn, invoices, {
            "status": invoice.status.value, "paid_minor": invoice.paid.minor,
            "credited_minor": invoice.credited.minor, "collect_on": invoice.collect_on}, invoice.id, invoice.version)
        if changed == 0:
            stored = self._conn.execute(select(invoices.c.version).where(invoices.c.id == invoice.id)).scalar()
            if stored is None:
                raise InvoiceNotFound(f"no invoice or credit note with id {invoice.id!r}")
            raise ConcurrentUpdate(f"invoice {invoice.number or invoice.id} was changed by someone else "
                                   f"(version {stored}, expected {invoice.version}); reload it and try again")
        return replace(invoice, version=invoice.version + 1)

    def claim_collectable(self, today: date, *, limit: int, skip_locked: bool = False) -> list[Invoice]:
        """Invoices whose automatic collection is due by ``today``, by the ``collect_on`` index; on PostgreSQL
        with ``skip_locked`` locked for this transaction and skipped by concurrent collectors."""
        query = (select(invoices).where(invoices.c.collect_on <= today)
                 .order_by(invoices.c.collect_on, invoices.c.id).limit(limit))
        if skip_locked and self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return self._load(query)

    def overdue_without_dunning(self, today: date, *, limit: int) -> list[Invoice]:
        """Open invoices past their due date that no dunning case has taken up yet and no payment is on its way
        for (by the status/due index)."""
        query = (select(invoices)
                 .where(invoices.c.status.in_([InvoiceStatus.ISSUED.value, InvoiceStatus.PARTIALLY_PAID.value]),
                        invoices.c.kind == DocumentKind.INVOICE.value, invoices.c.due_on < today,
                        ~select(dunning_cases.c.id).where(dunning_cases.c.invoice_id == invoices.c.id).exists(),
                        # a payment on its way (a SEPA debit not yet settled) is not a reason to dun
                        ~select(payment_attempts.c.id).where(
                            payment_attempts.c.invoice_id == invoices.c.id,
                            payment_attempts.c.status.in_([status.value for status in IN_FLIGHT])).exists())
                 .order_by(invoices.c.due_on, invoices.c.id).limit(limit))
        return self._load(query)

    def existing_billing_keys(self, keys: Collection[str]) -> set[str]:
        """Those of ``keys`` that an invoice or credit note already carries."""
        return self._existing(invoices.c.billing_key, keys)

    def open_amounts_by_customer(self) -> dict[str, dict[str, int]]:
        """What issued invoices say each customer still owes, per currency (minor units).

        Uncollectible invoices are left out: what was open on them is written off in the ledger.
        """
        owed = func.sum(invoices.c.total_minor - invoices.c.paid_minor - invoices.c.credited_minor)
        query = (select(invoices.c.customer_id, invoices.c.currency, owed)
                 .where(invoices.c.kind == DocumentKind.INVOICE.value,
                        invoices.c.status.not_in([InvoiceStatus.DRAFT.value, InvoiceStatus.UNCOLLECTIBLE.value]))
                 .group_by(invoices.c.customer_id, invoices.c.currency))
        result: dict[str, dict[str, int]] = defaultdict(dict)
        for customer_id, currency, amount in self._conn.execute(query):
            result[customer_id][currency] = int(amount)
        return dict(result)

    def _load(self, query, params: dict[str, Any] | None = None) -> list[Invoice]:
        heads = self._conn.execute(query, params).mappings().all()
        if not heads:
            return []
        lines: dict[str, list] = defaultdict(list)
        if len(heads) == 1:  # one invoice (a lookup by id): the prebuilt statement
            for line in self._conn.execute(select_where(invoice_lines, "invoice_id"),
                                           where(invoice_id=heads[0]["id"])).mappings():
                lines[line["invoice_id"]].append(line)
            return [rows.invoice_from_rows(heads[0], lines[heads[0]["id"]])]
        ids = [head["id"] for head in heads]
        for chunk in (ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)):
            query = select(invoice_lines).where(one_of(self._conn, invoice_lines.c.invoice_id, chunk))
            for line in self._conn.execute(query).mappings():
                lines[line["invoice_id"]].append(line)
        return [rows.invoice_from_rows(head, lines[head["id"]]) for head in heads]


def _repeated(values: Sequence[str]) -> set[str]:
    seen: set[str] = set()
    return {value for value in values if value in seen or seen.add(value)}  # type: ignore[func-returns-value]
