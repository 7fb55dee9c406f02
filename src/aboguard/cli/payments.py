"""``aboguard collect``, ``aboguard payments`` and ``aboguard tick``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from aboguard.domain.invoicing import Invoice
from aboguard.domain.payments import PaymentAttempt
from aboguard.money import Money
from aboguard.services import billing as billing_service
from aboguard.services import collection as service
from aboguard.services import dunning as dunning_service
from aboguard.services import notifications as notify_service
from aboguard.services import retention
from aboguard.services.collection import CollectionReport

from .billing import summary as billing_summary
from .context import context
from .dunning import report_dict as dunning_report_dict
from .dunning import report_summary as dunning_summary
from .notify import report_dict as notify_report_dict
from .notify import report_summary as notify_summary
from .render import JSON, emit_json, table

app = typer.Typer(help="Payment attempts: what was charged, what failed and why.", no_args_is_help=True)


def collect(json_out: bool = JSON) -> None:
    """Charge every invoice due for automatic collection; apply what the gateway reported since."""
    report = service.run_collection(context())
    if json_out:
        emit_json(collection_dict(report))
    else:
        typer.echo(collection_summary(report))


def tick(json_out: bool = JSON) -> None:
    """Run all due work in order: resume subscriptions whose pause ran out, billing, collection (with retries),
    dunning, then notify (emails, webhooks)."""
    ctx = context()
    resumed = retention.resume_ended_pauses(ctx)
    billed = billing_service.run_billing(ctx)
    collected = service.run_collection(ctx)
    dunned = dunning_service.run_dunning(ctx)
    notified = notify_service.run_notify(ctx)
    if json_out:
        emit_json({"billing": {"subscriptions": billed.subscriptions, "invoices": billed.invoices,
                               "failures": [f.__dict__ for f in billed.failures]},
                   "collection": collection_dict(collected), "dunning": dunning_report_dict(dunned),
                   "notify": notify_report_dict(notified), "resumed_after_pause": resumed})
    else:
        if resumed:
            typer.echo(f"Resumed {resumed} subscription(s) whose pause ran out.")
        typer.echo(billing_summary(billed))
        typer.echo(collection_summary(collected))
        typer.echo(dunning_summary(dunned))
        typer.echo(notify_summary(notified))
    if billed.failures:
        raise typer.Exit(1)


@app.command("list")
def list_(
    invoice: str | None = typer.Option(None, "--invoice", help="Invoice number or id."),
    customer: str | None = typer.Option(None, "--customer"),
    status: str | None = typer.Option(None, "--status", help="pending, succeeded, failed, requires_action, "
                                      "reversed, awaiting_export or submitted"),
    limit: int = typer.Option(100, "--limit"),
    json_out: bool = JSON,
) -> None:
    """List payment attempts, oldest first."""
    found = service.list_payments(context(), invoice=invoice, customer_id=customer, status=status, limit=limit)
    if json_out:
        emit_json([payment_dict(a) for a in found])
    else:
        typer.echo(payments_table(found) if found else "No payments yet.")


@app.command("record")
def record(
    invoice: str = typer.Argument(..., help="Invoice number or id."),
    amount: str | None = typer.Option(None, "--amount", help="Amount received (default: all that is open)."),
    method: str = typer.Option("transfer", "--method", help="transfer or cash"),
    json_out: bool = JSON,
) -> None:
    """Record a payment received outside aboguard (a bank transfer, cash)."""
    paid = service.record_manual_payment(context(), invoice, amount=amount, method=method)
    if json_out:
        emit_json({"invoice": paid.number, "status": paid.status.value, "amount_due": paid.amount_due})
    else:
        typer.echo(f"Invoice {paid.number} is now {paid.status.value}; still open: {paid.amount_due.format('en')}.")


@app.command("show")
def show(payment: str = typer.Argument(..., help="Payment id or the gateway's payment id."),
         json_out: bool = JSON) -> None:
    """One payment attempt with the invoice it was for."""
    attempt, invoice = service.get_payment(context(), payment)
    if json_out:
        emit_json({**payment_dict(attempt), "invoice_number": invoice.number})
        return
    typer.echo(payment_text(attempt, invoice))


def payment_dict(a: PaymentAttempt) -> dict[str, Any]:
    return {"id": a.id, "invoice_id": a.invoice_id, "customer_id": a.customer_id, "number": a.number,
            "amount": a.amount, "method": a.method_kind.value, "payment_method_id": a.payment_method_id,
            "gateway": a.gateway, "status": a.status.value, "provider_payment_id": a.provider_payment_id,
            "decline": None if a.decline_code is None else {
                "code": a.decline_code, "class": a.decline_class, "message": a.decline_message,
                "raw_code": a.raw_code, "retry_allowed": a.retry_allowed},
            "created_at": a.created_at, "updated_at": a.updated_at}


def payments_table(found: Sequence[PaymentAttempt]) -> str:
    return table(["ID", "CREATED", "AMOUNT", "METHOD", "STATUS", "REASON"],
                 [[a.id, a.created_at.strftime("%Y-%m-%d %H:%M"), a.amount.format("en"), a.method_kind.value,
                   a.status.value, f"{a.decline_code} ({a.decline_class})" if a.decline_code else ""]
                  for a in found])


def payment_text(a: PaymentAttempt, invoice: Invoice) -> str:
    lines = [f"Payment {a.id}   {a.status.value}",
             f"  {a.amount.format('en')} for invoice {invoice.number} by {a.method_kind.value} via {a.gateway}"
             f" (attempt {a.number}, key {a.idempotency_key})"]
    if a.decline_code:
        retry = "may be retried" if a.retry_allowed else "must not be retried"
        lines.append(f"  declined: {a.decline_code} ({a.decline_class}, raw {a.raw_code}): {a.decline_message}; "
                     f"{retry}")
    return "\n".join(lines)


def collection_dict(report: CollectionReport) -> dict[str, Any]:
    return {"attempted": report.attempted, "succeeded": report.succeeded, "failed": report.failed,
            "awaiting_export": report.awaiting_export,
            "pending": report.pending, "requires_action": report.requires_action, "resolved": report.resolved,
            "events_applied": report.events_applied, "events_by_type": report.events_by_type,
            "declines": [{"invoice": d.invoice, "code": d.code, "message": d.message} for d in report.declines],
            "collected": [Money(m, c) for c, m in sorted(report.collected.items())],
            "problems": [{"invoice": p.invoice, "code": p.code, "message": p.message} for p in report.problems]}


def collection_summary(report: CollectionReport) -> str:
    if not (report.attempted or report.resolved or report.events_applied or report.problems):
        return "Collection: nothing was due."
    money = ", ".join(Money(m, c).format("en") for c, m in sorted(report.collected.items())) or "nothing"
    lines = []
    if report.attempted:
        lines.append(f"Collection: {report.attempted} charged — {report.succeeded} succeeded ({money}), "
                     f"{report.failed} failed, {report.pending} pending, {report.requires_action} need the customer."
                     + (f" {report.awaiting_export} SEPA debit(s) wait for `aboguard sepa export`."
                        if report.awaiting_export else ""))
    else:
        lines.append("Collection: nothing new to charge.")
    for decline in report.declines:
        lines.append(f"  {decline.invoice} declined: {decline.code} — {decline.message}")
    if report.resolved:
        lines.append(f"  {report.resolved} interrupted attempts resolved with the gateway (none charged twice).")
    if report.events_by_type:
        lines.append("  gateway news: " + ", ".join(f"{n} {kind}" for kind, n in sorted(report.events_by_type.items())))
    for problem in report.problems:
        lines.append(f"  {problem.invoice}: {problem.message}")
    return "\n".join(lines)
