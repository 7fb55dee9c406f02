"""The top-level ``aboguard`` command and its groups."""

from __future__ import annotations

from datetime import datetime

import typer

from aboguard.config import Settings
from aboguard.domain.periods import parse_date
from aboguard.errors import NotInitialised
from aboguard.services import demo

from . import clock, customers, plans, subscriptions
from .context import context, initialise
from .render import clock_dict, customer_dict, emit_json, plan_dict, subscription_dict

app = typer.Typer(
    name="aboguard", no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
    help="Subscription billing, collection and dunning for European merchants.",
)
app.add_typer(plans.app, name="plans")
app.add_typer(customers.app, name="customers")
app.add_typer(subscriptions.app, name="subscriptions")
app.add_typer(clock.app, name="clock")

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")


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
    """Set up a sandbox with demo plans, customers and subscriptions (once), then show them."""
    settings = Settings.from_env()
    try:
        ctx = context()
    except NotInitialised:
        ctx, _ = initialise(settings, test_clock=True)
    data = demo.seed_demo(ctx)
    if json_out:
        emit_json({"created": data.created, "plans": [plan_dict(p) for p in data.plans],
                   "customers": [customer_dict(c) for c in data.customers],
                   "subscriptions": [subscription_dict(s) for s in data.subscriptions]})
        return
    what = "Seeded a demo sandbox" if data.created else "The demo sandbox is already set up"
    typer.echo(f"{what} in {ctx.database_label}. Sandbox date: {ctx.today().isoformat()}.\n")
    typer.echo(plans.plans_table(data.plans) + "\n")
    typer.echo(customers.customers_table(data.customers) + "\n")
    typer.echo(subscriptions.subscriptions_table(data.subscriptions) + "\n")
    typer.echo("Try: aboguard subscriptions show ID · aboguard clock advance --days 14 · "
               "aboguard subscriptions cancel ID")


__all__ = ["app", "context"]
