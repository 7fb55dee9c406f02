"""The top-level ``aboguard`` command and its groups."""

from __future__ import annotations

from datetime import datetime, timedelta

import typer

from aboguard.clock import SystemClock
from aboguard.config import Settings
from aboguard.domain.periods import parse_date
from aboguard.errors import NotInitialised
from aboguard.services import demo

from . import (
    billing,
    clock,
    contracts,
    customers,
    dunning,
    incentives,
    invoices,
    ledger,
    notify,
    payment_methods,
    payments,
    plans,
    refunds,
    sepa,
    simulate,
    subscriptions,
    terms,
)
from .context import context, initialise
from .render import JSON, clock_dict, customer_dict, emit_json, invoice_dict, plan_dict, subscription_dict

app = typer.Typer(
    name="aboguard", no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
    help="Subscription billing, collection and dunning for European merchants.",
)
app.add_typer(plans.app, name="plans")
app.add_typer(customers.app, name="customers")
app.add_typer(payment_methods.app, name="payment-methods")
app.add_typer(payments.app, name="payments")
app.command("collect")(payments.collect)
app.command("tick")(payments.tick)
app.command("refund")(refunds.refund)
app.add_typer(refunds.app, name="refunds")
app.add_typer(dunning.app, name="dunning")
app.add_typer(dunning.collections_app, name="collections")
app.command("simulate")(simulate.simulate)
app.add_typer(incentives.coupons_app, name="coupons")
app.add_typer(incentives.loyalty_app, name="loyalty")
app.add_typer(incentives.retention_app, name="retention")
app.add_typer(incentives.incentives_app, name="incentives")
app.add_typer(subscriptions.app, name="subscriptions")
app.add_typer(clock.app, name="clock")
app.add_typer(invoices.app, name="invoices")
app.add_typer(invoices.credit_notes, name="credit-notes")
app.add_typer(ledger.app, name="ledger")
app.add_typer(sepa.app, name="sepa")
app.add_typer(sepa.bank, name="bank")
app.command("bill")(billing.bill)
app.add_typer(notify.app, name="notify")
app.add_typer(notify.messages_app, name="messages")
app.add_typer(notify.webhooks_app, name="webhooks")
app.add_typer(terms.app, name="terms")
app.add_typer(contracts.app, name="contracts")
app.command("evidence")(contracts.evidence)



@app.command()
def init(
    test_clock: bool = typer.Option(False, "--test-clock", help="A sandbox whose clock you can move."),
    at: str | None = typer.Option(None, "--at", help="Sandbox start date (YYYY-MM-DD), default now."),
    json_out: bool = JSON,
) -> None:
    """Create the database (SQLite under ABOGUARD_DATA_DIR unless ABOGUARD_DATABASE_URL is set)."""
    settings = Settings.from_env()
    start = None
    if at is not None:
        if not test_clock:
            typer.echo("error: --at only applies to a sandbox made with --test-clock", err=True)
            raise typer.Exit(2)
        start = datetime.combine(parse_date(at, "--at"), datetime.min.time(), settings.merchant_tz)
    ctx, state = initialise(settings, test_clock=test_clock, at=start)
    if json_out:
        emit_json({"database": ctx.database_label, "clock": clock_dict(state)})
        return
    kind = "sandbox (test clock)" if test_clock else "production (system clock)"
    typer.echo(f"Initialised aboguard {kind} in {ctx.database_label}; today is {state.today_iso}.")


@app.command("demo")
def demo_command(json_out: bool = JSON) -> None:
    """Play a small merchant's first months in a sandbox (once), then show invoices and the ledger check."""
    settings = Settings.from_env()
    try:
        ctx = context()
    except NotInitialised:
        start = SystemClock().now() - timedelta(days=demo.DEMO_DAYS)
        ctx, _ = initialise(settings, test_clock=True, at=start)
    data = demo.seed_demo(ctx)
    if json_out:
        emit_json({"created": data.created, "plans": [plan_dict(p) for p in data.plans],
                   "customers": [customer_dict(c) for c in data.customers],
                   "subscriptions": [subscription_dict(s) for s in data.subscriptions],
                   "invoices": [invoice_dict(i) for i in data.invoices],
                   "ledger_ok": data.ledger.ok if data.ledger else None})
        return
    what = "Played a merchant's first months in a demo sandbox" if data.created \
        else "The demo sandbox is already set up"
    typer.echo(f"{what} in {ctx.database_label}. Sandbox date: {ctx.today().isoformat()}.\n")
    for step in data.steps:
        text = (billing.summary(step.billing) if step.billing
                else payments.collection_summary(step.collection) if step.collection
                else dunning.report_summary(step.dunning) if step.dunning else step.what)
        typer.echo(f"{step.on}  {text}")
    if data.steps:
        typer.echo("")
    typer.echo(plans.plans_table(data.plans) + "\n")
    typer.echo(customers.customers_table(data.customers) + "\n")
    typer.echo(subscriptions.subscriptions_table(data.subscriptions) + "\n")
    if data.invoices:
        typer.echo(invoices.invoices_table(data.invoices) + "\n")
    if data.ledger is not None:
        verdict = "OK" if data.ledger.ok else "FAILED"
        typer.echo(f"Ledger check {verdict}: {data.ledger.entries} entries balance; receivables of "
                   f"{data.ledger.customers} customers equal their open invoices.\n")
    typer.echo("Emails to customers: aboguard messages list (without ABOGUARD_SMTP_HOST each is an .eml file in "
               "<data dir>/outbox).")
    typer.echo("Try: aboguard invoices show RE-… · aboguard dunning list · aboguard clock advance --days 30 · "
               "aboguard tick · aboguard ledger check · aboguard simulate --customers 2000 --months 12")
