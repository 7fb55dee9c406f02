"""``aboguard invoices`` and ``aboguard credit-notes``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import typer

from aboguard.domain.invoicing import Invoice
from aboguard.services import invoices as service

from .context import context
from .render import JSON, emit_json, invoice_dict, percent, table

app = typer.Typer(help="Issued invoices and credit notes.", no_args_is_help=True)
credit_notes = typer.Typer(help="Correct an issued invoice (Stornorechnung).", no_args_is_help=True)


@app.command("list")
def list_(
    customer: str | None = typer.Option(None, "--customer", help="Only this customer's documents."),
    subscription: str | None = typer.Option(None, "--subscription", help="Only this subscription's documents."),
    status: str | None = typer.Option(None, "--status", help="issued, paid, partially_paid, void, ..."),
    kind: str | None = typer.Option(None, "--kind", help="invoice or credit_note"),
    limit: int = typer.Option(100, "--limit"),
    offset: int = typer.Option(0, "--offset"),
    json_out: bool = JSON,
) -> None:
    """List invoices and credit notes, oldest first."""
    found = service.list_invoices(context(), customer_id=customer, subscription_id=subscription, status=status,
                                  kind=kind, limit=limit, offset=offset)
    if json_out:
        emit_json([invoice_dict(i) for i in found])
    else:
        typer.echo(invoices_table(found) if found else "No invoices yet.")


@app.command("show")
def show(invoice: str = typer.Argument(..., help="Invoice id or number."), json_out: bool = JSON) -> None:
    """Show one invoice or credit note with its lines and VAT breakdown."""
    ctx = context()
    found = service.get_invoice(ctx, invoice)
    pay = service.payment_instructions(ctx, found)
    if json_out:
        emit_json({**invoice_dict(found), "pay_by_transfer": None if pay is None else {
            "account_holder": pay.account_holder, "iban": pay.iban, "bic": pay.bic, "reference": pay.reference,
            "amount": pay.amount}})
    else:
        typer.echo(invoice_text(found))
        if pay is not None:
            typer.echo("\n" + "\n".join(f"  {line}" for line in pay.lines(found.buyer.locale or "en")))


@credit_notes.command("create")
def create_credit_note(
    invoice: str = typer.Argument(..., help="Number or id of the invoice to correct."),
    amount: str | None = typer.Option(None, "--amount", help="Gross amount to credit, e.g. 5.00 (default: all)."),
    reason: str = typer.Option("", "--reason", help="Why, printed on the credit note."),
    json_out: bool = JSON,
) -> None:
    """Issue a credit note for an invoice (the whole amount, or --amount of it)."""
    note, corrected = service.create_credit_note(context(), invoice, amount=amount, reason=reason)
    if json_out:
        emit_json({"credit_note": invoice_dict(note), "invoice": invoice_dict(corrected)})
        return
    typer.echo(invoice_text(note))
    typer.echo(f"\nInvoice {corrected.number} is now {corrected.status.value}; "
               f"still due: {corrected.amount_due.format('en')}.")


def invoices_table(found: Sequence[Invoice]) -> str:
    return table(["NUMBER", "KIND", "ISSUED", "DUE", "CUSTOMER", "STATUS", "NET", "VAT", "TOTAL", "OPEN"],
                 [[i.number, "credit" if i.is_credit_note else "invoice", i.issued_on, i.due_on, i.buyer.email,
                   i.status.value, i.net.format("en"), i.tax.format("en"), i.total.format("en"),
                   i.amount_due.format("en")] for i in found])


def invoice_text(i: Invoice) -> str:
    title = "Credit note" if i.is_credit_note else "Invoice"
    head = [f"{title} {i.number}   {i.status.value}",
            f"  issued {i.issued_on}, due {i.due_on}" + (f", service {i.supply_start} – {_last_day(i)}"
                                                       if i.supply_start else ""),
            f"  to {i.buyer.company or i.buyer.name} <{i.buyer.email}> {i.buyer.country}"
            + (f", VAT ID {i.buyer.vat_id}" if i.buyer.vat_id else ""),
            f"  tax: {i.tax_treatment.value} ({i.tax_country}); prices "
            + ("include VAT" if i.prices_include_tax else "exclude VAT"), ""]
    lines = table(["#", "DESCRIPTION", "AMOUNT", "NET", "VAT"],
                  [[line.position, line.description, line.amount.format("en"), line.net.format("en"),
                    percent(line.tax_rate)] for line in i.lines])
    groups = table(["CATEGORY", "CODE", "RATE", "NET", "VAT"],
                   [[g.category.value, g.code, percent(g.rate), g.net.format("en"), g.tax.format("en")]
                    for g in i.tax_groups])
    tail = [f"  net {i.net.format('en')}   VAT {i.tax.format('en')}   total {i.total.format('en')}"]
    if not i.is_credit_note:
        tail.append(f"  paid {i.paid.format('en')}   credited {i.credited.format('en')}   "
                    f"open {i.amount_due.format('en')}")
    if i.tax_note_en:
        tail.append(f"  note: {i.tax_note_de} / {i.tax_note_en}")
    return "\n".join([*head, lines, "", groups, "", *tail])


def _last_day(i: Invoice) -> date | None:
    """Supply periods are stored half-open; people read the last day of service."""
    return i.supply_end - timedelta(days=1) if i.supply_end else None
