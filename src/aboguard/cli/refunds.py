"""``aboguard refund`` and ``aboguard refunds list|show|retry``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from aboguard.domain.invoicing import Invoice
from aboguard.domain.refunds import Refund
from aboguard.services import refunds as service

from .context import context
from .render import JSON, emit_json, table

app = typer.Typer(help="Refunds: money paid back to customers, each with its credit note.", no_args_is_help=True)
METHOD_HELP = "gateway (back through the payment that brought it in), transfer or cash (paid out by you)"


def refund(
    invoice: str = typer.Argument(..., help="Invoice number or id."),
    amount: str | None = typer.Option(None, "--amount", help="Amount to refund (default: all that was paid)."),
    reason: str = typer.Option("", "--reason", help="Shown on the credit note."),
    method: str = typer.Option("gateway", "--method", help=METHOD_HELP),
    json_out: bool = JSON,
) -> None:
    """Refund (part of) a paid invoice: issue a credit note and pay the money back."""
    outcome = service.refund_invoice(context(), invoice, amount=amount, reason=reason, method=method)
    if json_out:
        emit_json({"credit_note": outcome.credit_note.number, "invoice": outcome.invoice.number,
                   "invoice_status": outcome.invoice.status.value, "refunded": outcome.refunded,
                   "refunds": [refund_dict(r) for r in outcome.refunds]})
        return
    typer.echo(f"Credit note {outcome.credit_note.number} issued for {outcome.credit_note.total.format('en')} "
               f"of invoice {outcome.invoice.number}.")
    for r in outcome.refunds:
        typer.echo(f"  refund {r.id}: {r.amount.format('en')} {_how(r)} — {r.status.value}"
                   + (f" ({r.failure_code}: {r.failure_message})" if r.failure_code else ""))
    failed = [r for r in outcome.refunds if r.status.value == "failed"]
    if failed:
        typer.echo("The credit note stands and the customer holds the credit; pay it out again with "
                   "`aboguard refunds retry REFUND [--method transfer]`.")
        raise typer.Exit(1)


@app.command("list")
def list_(
    invoice: str | None = typer.Option(None, "--invoice", help="Invoice number or id."),
    customer: str | None = typer.Option(None, "--customer"),
    status: str | None = typer.Option(None, "--status", help="pending, succeeded, failed"),
    limit: int = typer.Option(100, "--limit"),
    json_out: bool = JSON,
) -> None:
    """List refunds, oldest first."""
    found = service.list_refunds(context(), invoice=invoice, customer_id=customer, status=status, limit=limit)
    if json_out:
        emit_json([refund_dict(r) for r in found])
    else:
        typer.echo(refunds_table(found) if found else "No refunds yet.")


@app.command("show")
def show(refund_ref: str = typer.Argument(..., metavar="REFUND", help="Refund id or the gateway's refund id."),
         json_out: bool = JSON) -> None:
    """One refund with its invoice and credit note."""
    found, invoice, credit_note = service.get_refund(context(), refund_ref)
    if json_out:
        emit_json({**refund_dict(found), "invoice": invoice.number, "credit_note": credit_note.number})
    else:
        typer.echo(refund_text(found, invoice, credit_note))


@app.command("retry")
def retry(refund_ref: str = typer.Argument(..., metavar="REFUND", help="The failed refund's id."),
          method: str = typer.Option("gateway", "--method", help=METHOD_HELP), json_out: bool = JSON) -> None:
    """Pay out a failed refund again; its credit note stands."""
    again = service.retry_refund(context(), refund_ref, method=method)
    if json_out:
        emit_json(refund_dict(again))
    else:
        typer.echo(f"Refund {again.id}: {again.amount.format('en')} {_how(again)} — {again.status.value}"
                   + (f" ({again.failure_code}: {again.failure_message})" if again.failure_code else ""))
    if again.status.value == "failed":
        raise typer.Exit(1)


def _how(r: Refund) -> str:
    return f"via {r.gateway}" if r.channel.value == "gateway" else f"by {r.channel.value}"


def refund_dict(r: Refund) -> dict[str, Any]:
    return {"id": r.id, "invoice_id": r.invoice_id, "credit_note_id": r.credit_note_id, "customer_id": r.customer_id,
            "amount": r.amount, "channel": r.channel.value, "status": r.status.value, "reason": r.reason,
            "payment_id": r.attempt_id, "gateway": r.gateway, "provider_refund_id": r.provider_refund_id,
            "failure": None if r.failure_code is None else {"code": r.failure_code, "message": r.failure_message},
            "retry_of": r.retry_of, "created_at": r.created_at, "updated_at": r.updated_at}


def refunds_table(found: Sequence[Refund]) -> str:
    return table(["ID", "CREATED", "AMOUNT", "HOW", "STATUS", "REASON"],
                 [[r.id, r.created_at.strftime("%Y-%m-%d %H:%M"), r.amount.format("en"), _how(r), r.status.value,
                   r.failure_code or r.reason] for r in found])


def refund_text(r: Refund, invoice: Invoice, credit_note: Invoice) -> str:
    lines = [f"Refund {r.id}   {r.status.value}",
             f"  {r.amount.format('en')} of invoice {invoice.number} {_how(r)}, credit note {credit_note.number}"]
    if r.reason:
        lines.append(f"  reason: {r.reason}")
    if r.attempt_id:
        lines.append(f"  payment refunded: {r.attempt_id} (key {r.idempotency_key})")
    if r.failure_code:
        lines.append(f"  failed: {r.failure_code}: {r.failure_message}")
    return "\n".join(lines)
