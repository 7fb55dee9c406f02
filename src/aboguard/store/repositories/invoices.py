"""Invoices and credit notes with their lines. Issued content is never updated; only settlement is."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import replace

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from aboguard.domain.invoicing import DocumentKind, Invoice, InvoiceStatus
from aboguard.errors import ConcurrentUpdate, Conflict, InvoiceNotFound
from aboguard.ids import CustomerId, InvoiceId, SubscriptionId
from aboguard.store import rows
from aboguard.store.bulk import insert_many
from aboguard.store.tables import invoice_lines, invoices


class DuplicateDocument(Conflict):
    code = "invoice.duplicate"


class SqlInvoiceRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add_many(self, documents: Sequence[Invoice]) -> None:
        """Insert documents and their lines in two statements (the billing run's hot path)."""
        if not documents:
            return
        line_rows = [line for document in documents for line in rows.invoice_line_rows(document)]
        try:
            with self._conn.begin_nested():
                insert_many(self._conn, invoices, [rows.invoice_to_row(d) for d in documents])
                insert_many(self._conn, invoice_lines, line_rows)
        except IntegrityError as exc:
            taken = self.existing_billing_keys([d.billing_key for d in documents if d.billing_key])
            if taken:
                raise DuplicateDocument(f"already invoiced: billing key {sorted(taken)[0]} (and "
                                        f"{len(taken) - 1} more)" if len(taken) > 1 else
                                        f"already invoiced: billing key {next(iter(taken))}") from None
            raise DuplicateDocument(f"a document number or id is already taken ({exc.orig})") from None

    def get(self, invoice_id: InvoiceId) -> Invoice:
        found = self._load(select(invoices).where(invoices.c.id == invoice_id))
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

    def save(self, invoice: Invoice) -> Invoice:
        """Store the settlement of an issued document (status, paid, credited); its content never changes."""
        result = self._conn.execute(
            update(invoices)
            .where(invoices.c.id == invoice.id, invoices.c.version == invoice.version)
            .values(status=invoice.status.value, paid_minor=invoice.paid.minor,
                    credited_minor=invoice.credited.minor, version=invoices.c.version + 1))
        if result.rowcount == 0:
            stored = self._conn.execute(select(invoices.c.version).where(invoices.c.id == invoice.id)).scalar()
            if stored is None:
                raise InvoiceNotFound(f"no invoice or credit note with id {invoice.id!r}")
            raise ConcurrentUpdate(f"invoice {invoice.number or invoice.id} was changed by someone else "
                                   f"(version {stored}, expected {invoice.version}); reload it and try again")
        return replace(invoice, version=invoice.version + 1)

    def existing_billing_keys(self, keys: Collection[str]) -> set[str]:
        if not keys:
            return set()
        query = select(invoices.c.billing_key).where(invoices.c.billing_key.in_(sorted(set(keys))))
        return set(self._conn.execute(query).scalars())

    def open_amounts_by_customer(self) -> dict[str, dict[str, int]]:
        """What issued invoices say each customer still owes, per currency (minor units)."""
        owed = func.sum(invoices.c.total_minor - invoices.c.paid_minor - invoices.c.credited_minor)
        query = (select(invoices.c.customer_id, invoices.c.currency, owed)
                 .where(invoices.c.kind == DocumentKind.INVOICE.value,
                        invoices.c.status != InvoiceStatus.DRAFT.value)
                 .group_by(invoices.c.customer_id, invoices.c.currency))
        result: dict[str, dict[str, int]] = defaultdict(dict)
        for customer_id, currency, amount in self._conn.execute(query):
            result[customer_id][currency] = int(amount)
        return dict(result)

    def _load(self, query) -> list[Invoice]:
        heads = list(self._conn.execute(query).mappings())
        if not heads:
            return []
        lines: dict[str, list] = defaultdict(list)
        ids = [head["id"] for head in heads]
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            for line in self._conn.execute(select(invoice_lines).where(invoice_lines.c.invoice_id.in_(chunk))
                                           ).mappings():
                lines[line["invoice_id"]].append(line)
        return [rows.invoice_from_rows(head, lines[head["id"]]) for head in heads]
