"""Invoices and credit notes: list, show, and correct an issued invoice with a credit note."""

from __future__ import annotations

from aboguard.domain import invoicing
from aboguard.domain.catalog import PaymentMethodKind, parse_enum
from aboguard.domain.events import Event
from aboguard.domain.invoicing import OPEN, DocumentKind, Invoice, InvoiceStatus
from aboguard.domain.remittance import TransferInstructions, transfer_instructions
from aboguard.domain.tax import TaxDecision
from aboguard.errors import InvalidInvoice
from aboguard.ids import CustomerId, InvoiceId, SubscriptionId
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from .billing import issue_documents
from .context import ServiceContext


def list_invoices(ctx: ServiceContext, *, customer_id: str | None = None, subscription_id: str | None = None,
                  status: str | None = None, kind: str | None = None, limit: int = 100, offset: int = 0
                  ) -> list[Invoice]:
    wanted_status = parse_enum(InvoiceStatus, status, "status", InvalidInvoice) if status else None
    wanted_kind = parse_enum(DocumentKind, kind, "document kind", InvalidInvoice) if kind else None
    with ctx.uow() as uow:
        return uow.invoices.list(customer_id=CustomerId(customer_id) if customer_id else None,
                                 subscription_id=SubscriptionId(subscription_id) if subscription_id else None,
                                 status=wanted_status, kind=wanted_kind, limit=limit, offset=offset)


def get_invoice(ctx: ServiceContext, ref: str) -> Invoice:
    """By id or by number."""
    with ctx.uow() as uow:
        return uow.invoices.find(ref)


def create_credit_note(ctx: ServiceContext, invoice_ref: str, *, amount: str | None = None, reason: str = ""
                       ) -> tuple[Invoice, Invoice]:
    """Correct an issued invoice (Stornorechnung): all that is left to credit, or ``amount`` of it.

    Returns the issued credit note and the invoice as it stands afterwards (void after a full credit of
    an unpaid invoice). The credit note reverses revenue and VAT at the invoice's own rates.
    """
    with ctx.uow() as uow:
        invoice = uow.invoices.find(invoice_ref)
        credit = Money.parse(amount, invoice.currency) if amount is not None else None
        credit_note, invoice, events = issue_credit_note(ctx, uow, invoice, credit, reason)
        uow.events.add(events, ctx.now())
        uow.commit()
        return credit_note, invoice


def issue_credit_note(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, credit: Money | None, reason: str
                      ) -> tuple[Invoice, Invoice, list[Event]]:
    """Inside ``uow``: issue a credit note for ``credit`` of ``invoice`` (all that is left when None), book it,
    and save the invoice with the credit applied. Returns the credit note, the invoice and the events."""
    reason = reason.strip()
    if invoice.kind is DocumentKind.CREDIT_NOTE:
        raise InvalidInvoice(f"{invoice.number} is a credit note; credit notes cannot be corrected again")
    lines = invoicing.credit_note_lines(invoice, credit, reason)
    # Corrected under the treatment the invoice was issued with, even if the customer has moved since.
    decision = TaxDecision(treatment=invoice.tax_treatment, country=invoice.tax_country,
                           note_de=invoice.tax_note_de, note_en=invoice.tax_note_en)
    draft = invoicing.draft(
        InvoiceId(ctx.new_id()), kind=DocumentKind.CREDIT_NOTE, customer_id=invoice.customer_id,
        subscription_id=invoice.subscription_id, buyer=invoice.buyer, lines=lines, decision=decision,
        tax_date=invoice.supply_start or invoice.issued_on or ctx.today(),
        prices_include_tax=invoice.prices_include_tax, currency=invoice.currency, created_at=ctx.now(),
        corrects_id=invoice.id)
    if credit is not None and draft.total != credit:
        raise InvalidInvoice(f"a credit of {credit} cannot be split exactly over the VAT rates of "
                             f"{invoice.number}; try {draft.total}")
    (credit_note,), events = issue_documents(ctx, uow, [draft])
    invoice, voided = invoicing.apply_credit(invoice, credit_note)
    invoice = uow.invoices.save(invoice)
    return credit_note, invoice, [*events, *voided]


__all__ = ["InvoiceStatus", "create_credit_note", "get_invoice", "issue_credit_note", "list_invoices"]


def payment_instructions(ctx: ServiceContext, invoice: Invoice) -> TransferInstructions | None:
    """For an open invoice paid by bank transfer (or without an automatic method): the merchant's IBAN
    (ABOGUARD_MERCHANT_IBAN) and the reference to use, which is the invoice number."""
    by_transfer = invoice.payment_method is None or invoice.payment_method is PaymentMethodKind.BANK_TRANSFER
    return transfer_instructions(number=invoice.number, amount_due=invoice.amount_due, pays_by_transfer=by_transfer
                                 and not invoice.is_credit_note, open_=invoice.status in OPEN,
                                 holder=ctx.sepa.creditor_name, iban=ctx.sepa.iban, bic=ctx.sepa.bic)
