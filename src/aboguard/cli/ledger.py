"""``aboguard ledger``: prove the books balance; show a customer's account."""

from __future__ import annotations

import typer

from aboguard.services import ledger as service

from .context import context
from .invoices import invoices_table
from .render import JSON, emit_json, invoice_dict

app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)


@app.command("check")
def check(json_out: bool = JSON) -> None:
    """Every entry balances and every customer's receivable equals their open invoices (exit 1 if not)."""
    result = service.check_ledger(context())
    if json_out:
        emit_json({"ok": result.ok, "entries": result.entries, "customers": result.customers,
                   "unbalanced": [{"entry_id": e, "currency": c, "sum_minor": s} for e, c, s in result.unbalanced],
                   "mismatches": [{"customer_id": m.customer_id, "currency": m.currency,
                                   "ledger_minor": m.ledger_minor, "open_invoices_minor": m.open_minor}
                                  for m in result.mismatches]})
    else:
        for entry_id, currency, total in result.unbalanced:
            typer.echo(f"UNBALANCED entry {entry_id}: sums to {total} minor units of {currency}")
        for m in result.mismatches:
            typer.echo(f"MISMATCH customer {m.customer_id}: ledger receivable {m.ledger_minor} vs open invoices "
                       f"{m.open_minor} ({m.currency} minor units)")
        verdict = "OK" if result.ok else "FAILED"
        typer.echo(f"Ledger check {verdict}: {result.entries:,} entries, all balanced"
                   if result.ok and not result.unbalanced else f"Ledger check {verdict}: {result.entries:,} entries")
        if result.ok:
            typer.echo(f"Receivables of {result.customers:,} customers equal their open invoices.")
    if not result.ok:
        raise typer.Exit(1)


@app.command("balance")
def balance(customer: str = typer.Option(..., "--customer", help="Customer id."), json_out: bool = JSON) -> None:
    """A customer's receivable and the open invoices behind it."""
    found = service.customer_balance(context(), customer)
    if json_out:
        emit_json({"customer_id": found.customer_id, "receivable": found.receivable,
                   "open_invoices": [invoice_dict(i) for i in found.open_invoices]})
        return
    owed = ", ".join(m.format("en") for m in found.receivable.values()) or "nothing"
    typer.echo(f"Customer {found.customer_id} owes {owed}.")
    if found.open_invoices:
        typer.echo("\n" + invoices_table(found.open_invoices))
