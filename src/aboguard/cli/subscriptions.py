"""``aboguard subscriptions``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import typer

from aboguard.domain.catalog import parse_enum
from aboguard.domain.periods import parse_date
from aboguard.domain.subscriptions import ChangeTiming, SubscriptionStatus
from aboguard.domain.terms import AcceptanceSpec
from aboguard.errors import InvalidSubscription
from aboguard.services import subscriptions as service
from aboguard.services.subscriptions import SubscriptionView

from .context import context
from .render import JSON, emit_json, invoice_dict, proration_dict, subscription_dict, table

ONE_DAY = timedelta(days=1)  # stored end dates are the first day without service; people read the last day
app = typer.Typer(help="Subscriptions: subscribe, cancel, change plan, pause.", no_args_is_help=True)


@app.command("create")
def create(
    customer: str = typer.Option(..., "--customer", help="Customer id."),
    plan: str = typer.Option(..., "--plan", help="Plan code."),
    start: str | None = typer.Option(None, "--start", help="Start date YYYY-MM-DD (default today)."),
    channel: str = typer.Option("cli", "--channel", help="How the customer accepted: cli, api, portal or import."),
    ip: str | None = typer.Option(None, "--ip", help="The customer's IP address at acceptance, if known."),
    user_agent: str | None = typer.Option(None, "--user-agent", help="The customer's browser, if known."),
    json_out: bool = JSON,
) -> None:
    """Subscribe a customer to a plan's current price version, recording the terms and summary accepted."""
    start_on = parse_date(start, "--start") if start else None
    _print(service.create_subscription(context(), customer_id=customer, plan_code=plan, start_on=start_on,
                                       acceptance=AcceptanceSpec.parse(channel, ip, user_agent)), json_out)


@app.command("list")
def list_(
    customer: str | None = typer.Option(None, "--customer"),
    status: str | None = typer.Option(None, "--status"),
    limit: int = typer.Option(100, "--limit"),
    json_out: bool = JSON,
) -> None:
    """List subscriptions, optionally of one customer or in one status."""
    wanted = parse_enum(SubscriptionStatus, status, "status", InvalidSubscription) if status else None
    found = service.list_subscriptions(context(), customer_id=customer, status=wanted, limit=limit)
    if json_out:
        emit_json([subscription_dict(v) for v in found])
    else:
        typer.echo(subscriptions_table(found) if found else "No subscriptions found.")


@app.command("show")
def show(subscription_id: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """Show a subscription, its terms and when it could end."""
    _print(service.get_subscription(context(), subscription_id), json_out)


@app.command("cancel")
def cancel(
    subscription_id: str = typer.Argument(...),
    on: str | None = typer.Option(None, "--on", help="Wished-for last day (default: the earliest possible)."),
    immediately: bool = typer.Option(False, "--immediately", help="End today (merchant side)."),
    reason: str = typer.Option("customer_request", "--reason"),
    json_out: bool = JSON,
) -> None:
    """Cancel at the earliest end that the minimum term and notice period allow."""
    last_day = parse_date(on, "--on") if on else None
    view = service.cancel_subscription(context(), subscription_id, last_day=last_day, immediately=immediately,
                                       reason=reason)
    _print(view, json_out)


@app.command("change-plan")
def change_plan(
    subscription_id: str = typer.Argument(...),
    plan: str = typer.Option(..., "--plan", help="Code of the new plan."),
    at: str = typer.Option("auto", "--at", help="auto (upgrade now, downgrade at period end), now, period_end."),
    json_out: bool = JSON,
) -> None:
    """Move to another plan; upgrades are prorated."""
    timing = parse_enum(ChangeTiming, at, "--at", InvalidSubscription)
    view, proration, document = service.change_subscription_plan(context(), subscription_id, plan, timing)
    if json_out:
        emit_json({**subscription_dict(view), "proration": proration_dict(proration),
                   "document": invoice_dict(document) if document else None})
        return
    _print(view, False)
    if proration:
        typer.echo(f"  proration    credit {proration.credit.format('en')}, charge {proration.charge.format('en')} "
                   f"for {proration.period.start}..{proration.period.last_day}")
    if document:
        what = "credit note" if document.is_credit_note else "invoice"
        typer.echo(f"  settled by   {what} {document.number} over {document.total.format('en')}")


@app.command("pause")
def pause(subscription_id: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """Pause from today; the paused days are added on when resumed."""
    _print(service.pause_subscription(context(), subscription_id), json_out)


@app.command("resume")
def resume(subscription_id: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """Resume a paused subscription."""
    _print(service.resume_subscription(context(), subscription_id), json_out)


def subscriptions_table(found: Sequence[SubscriptionView]) -> str:
    return table(
        ["ID", "CUSTOMER", "PLAN", "PRICE", "STATUS", "NEXT BILL", "LAST DAY"],
        [[v.subscription.id, v.customer_email, f"{v.plan.code} v{v.version.number}", v.version.price.format("en"),
          v.subscription.status.value, v.subscription.next_bill_on or "",
          v.subscription.ends_on - ONE_DAY if v.subscription.ends_on else ""]
         for v in found],
    )


def _print(view: SubscriptionView, json_out: bool) -> None:
    if json_out:
        emit_json(subscription_dict(view))
        return
    s, v = view.subscription, view.version
    typer.echo(f"subscription {s.id}  [{s.status.value}]")
    typer.echo(f"  customer     {view.customer_email}")
    typer.echo(f"  plan         {view.plan.code} v{v.number}: {v.price.format('en')} every {v.interval}")
    typer.echo(f"  started      {s.start_on}" + (f", trial until {s.trial_end_on}" if s.trial_end_on else ""))
    if view.current_period:
        typer.echo(f"  period       {view.current_period.start} .. {view.current_period.last_day}")
    if s.next_bill_on:
        typer.echo(f"  next bill    {s.next_bill_on}")
    if s.min_term_end_on:
        typer.echo(f"  minimum term to {s.min_term_end_on - ONE_DAY} (cancel by "
                   f"{v.terms.cancellation_deadline(s.min_term_end_on)} to end then)")
    if s.pending_plan_version_id:
        typer.echo(f"  changes to   {view.pending_plan_code} on {s.pending_change_on}")
    if s.ends_on:
        typer.echo(f"  last day     {s.ends_on - ONE_DAY} (cancelled on {s.canceled_on}, {s.cancel_reason})")
    elif view.end_if_cancelled_today:
        typer.echo(f"  if cancelled today, the last day would be {view.end_if_cancelled_today - ONE_DAY}")
