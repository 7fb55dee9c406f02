"""``aboguard coupons|loyalty|retention|incentives ...``: rewards for paying on time and for staying."""

from __future__ import annotations

import dataclasses
from typing import Any

import typer

from aboguard.domain.coupons import Coupon, Redemption
from aboguard.domain.loyalty import Reward
from aboguard.domain.periods import parse_date
from aboguard.domain.retention import RetentionOffer
from aboguard.money import Money
from aboguard.services import incentives as service
from aboguard.services import loyalty, retention

from .context import context
from .render import JSON, emit_json, table

coupons_app = typer.Typer(help="Coupons: percentage or fixed discounts, once, for N periods or forever.",
                          no_args_is_help=True)
loyalty_app = typer.Typer(help="Loyalty rewards for customers who pay on time.", no_args_is_help=True)
retention_app = typer.Typer(help="Offers for customers who want to cancel, and win-back after non-payment.",
                            no_args_is_help=True)
incentives_app = typer.Typer(help="What incentives cost and what they bought.", no_args_is_help=True)


def _plain(obj: Any) -> dict[str, Any]:
    data = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return {k: (sorted(v) if isinstance(v, frozenset) else list(v) if isinstance(v, tuple) else v)
            for k, v in data.items()}


def _coupon_dict(coupon: Coupon, redeemed: int | None = None) -> dict[str, Any]:
    data = _plain(coupon)
    data["description"] = coupon.describe()
    if redeemed is not None:
        data["times_redeemed"] = redeemed
    return data


# -- coupons ------------------------------------------------------------------------------------------------


@coupons_app.command("create")
def coupons_create(
    code: str = typer.Argument(..., help="What customers type, e.g. WELCOME10."),
    name: str = typer.Option(..., "--name", help="Shown on the invoice."),
    percent: str | None = typer.Option(None, "--percent", help="Percentage off, e.g. 10."),
    amount: str | None = typer.Option(None, "--amount", help="Fixed amount off per invoice, e.g. 5.00."),
    currency: str = typer.Option("EUR", "--currency"),
    duration: str = typer.Option("once", "--duration", help="once, repeating or forever"),
    periods: int | None = typer.Option(None, "--periods", help="Billing periods a repeating coupon runs."),
    plans: str = typer.Option("", "--plans", help="Plan codes it is valid for, comma-separated (default: all)."),
    max_redemptions: int | None = typer.Option(None, "--max-redemptions", help="Limit in all."),
    per_customer: int = typer.Option(1, "--per-customer", help="How often one customer may redeem it."),
    redeem_by: str | None = typer.Option(None, "--redeem-by", help="Last day it can be redeemed (YYYY-MM-DD)."),
    stackable: bool = typer.Option(False, "--stackable", help="May run together with other stackable coupons."),
    json_out: bool = JSON,
) -> None:
    """Create a coupon."""
    coupon = service.create_coupon(
        context(), code, name, percent=percent, amount=amount, currency=currency, duration=duration,
        periods=periods, plans=[p for p in plans.split(",") if p.strip()], max_redemptions=max_redemptions,
        per_customer=per_customer, redeem_by=parse_date(redeem_by, "--redeem-by") if redeem_by else None,
        stackable=stackable)
    if json_out:
        emit_json(_coupon_dict(coupon))
    else:
        typer.echo(f"Coupon {coupon.code} created: {coupon.describe()}.")


@coupons_app.command("list")
def coupons_list(include_archived: bool = typer.Option(False, "--all", help="Archived ones too."),
                 json_out: bool = JSON) -> None:
    """Coupons with how often each was redeemed."""
    found = service.list_coupons(context(), include_archived=include_archived)
    if json_out:
        emit_json([_coupon_dict(c, n) for c, n in found])
        return
    if not found:
        typer.echo("No coupons yet: `aboguard coupons create CODE --name ... --percent 10`.")
        return
    typer.echo(table(["CODE", "NAME", "DISCOUNT", "PLANS", "REDEEMED", "REDEEM BY", "ACTIVE"],
                     [[c.code, c.name, c.describe(), ",".join(sorted(c.plan_codes)) or "all",
                       f"{n}" + (f"/{c.max_redemptions}" if c.max_redemptions else ""), c.redeem_by or "",
                       "yes" if c.active else "no"] for c, n in found]))


@coupons_app.command("show")
def coupons_show(code: str, json_out: bool = JSON) -> None:
    """A coupon and its redemptions."""
    coupon, redemptions = service.get_coupon(context(), code)
    if json_out:
        emit_json({**_coupon_dict(coupon, len(redemptions)), "redemptions": [_plain(r) for r in redemptions]})
        return
    typer.echo(f"{coupon.code}  {coupon.name}: {coupon.describe()}")
    if redemptions:
        typer.echo(_redemptions_table(redemptions))


def _redemptions_table(redemptions: list[Redemption]) -> str:
    return table(["REDEMPTION", "SUBSCRIPTION", "CUSTOMER", "REDEEMED", "PERIODS USED", "STATUS"],
                 [[r.id, r.subscription_id, r.customer_id, r.redeemed_at.date(), r.periods_used, r.status.value]
                  for r in redemptions])


@coupons_app.command("apply")
def coupons_apply(subscription: str, code: str, json_out: bool = JSON) -> None:
    """Redeem a coupon onto a subscription: its next invoices carry the discount."""
    redemption = service.redeem_coupon(context(), subscription, code)
    if json_out:
        emit_json(_plain(redemption))
    else:
        typer.echo(f"Coupon {redemption.coupon_code} applies to subscription {subscription} from its next invoice.")


@coupons_app.command("remove")
def coupons_remove(subscription: str, code: str) -> None:
    """Stop a coupon on a subscription (invoices already issued keep their discount)."""
    service.remove_coupon(context(), subscription, code)
    typer.echo(f"Coupon {code.upper()} removed from subscription {subscription}.")


@coupons_app.command("archive")
def coupons_archive(code: str) -> None:
    """No new redemptions; running ones go on as agreed."""
    coupon = service.archive_coupon(context(), code)
    typer.echo(f"Coupon {coupon.code} archived.")


# -- loyalty ------------------------------------------------------------------------------------------------


@loyalty_app.command("add")
def loyalty_add(
    code: str = typer.Argument(..., help="e.g. PUNCTUAL6"),
    name: str = typer.Option(..., "--name", help="Shown to the customer."),
    streak: int = typer.Option(..., "--streak", help="Consecutive invoices that earn the reward."),
    percent: str = typer.Option(..., "--percent", help="Off the next invoice; 100 = a free period."),
    criterion: str = typer.Option("on_time", "--criterion", help="on_time or no_failure"),
    json_out: bool = JSON,
) -> None:
    """Add a loyalty rule."""
    rule = loyalty.create_rule(context(), code, name, criterion=criterion, streak=streak, percent=percent)
    if json_out:
        emit_json(_plain(rule))
    else:
        typer.echo(f"Loyalty rule {rule.code}: {rule.describe()}.")


@loyalty_app.command("rules")
def loyalty_rules(json_out: bool = JSON) -> None:
    """The loyalty rules."""
    found = loyalty.list_rules(context())
    if json_out:
        emit_json([{**_plain(r), "description": r.describe()} for r in found])
        return
    typer.echo(table(["CODE", "NAME", "RULE", "ACTIVE"],
                     [[r.code, r.name, r.describe(), "yes" if r.active else "no"] for r in found])
               if found else "No loyalty rules yet: `aboguard loyalty add CODE --name ... --streak 6 --percent 10`.")


@loyalty_app.command("deactivate")
def loyalty_deactivate(code: str) -> None:
    """Stop counting streaks for a rule (granted rewards are still applied)."""
    loyalty.deactivate_rule(context(), code)
    typer.echo(f"Loyalty rule {code.upper()} deactivated.")


@loyalty_app.command("rewards")
def loyalty_rewards(customer: str | None = typer.Option(None, "--customer"), json_out: bool = JSON) -> None:
    """Rewards granted, with the invoices that earned them."""
    found = loyalty.list_rewards(context(), customer_id=customer)
    if json_out:
        emit_json([_plain(r) for r in found])
        return
    typer.echo(_rewards_table(found) if found else "No loyalty rewards granted yet.")


def _rewards_table(found: list[Reward]) -> str:
    return table(["REWARD", "RULE", "SUBSCRIPTION", "PERCENT", "GRANTED", "STATUS", "EARNED BY", "APPLIED TO"],
                 [[r.id, r.rule_code, r.subscription_id, f"{r.percent.normalize():f} %", r.granted_at.date(),
                   r.status.value, len(r.earned_by), r.applied_invoice_id or ""] for r in found])


# -- retention ----------------------------------------------------------------------------------------------


@retention_app.command("add")
def retention_add(
    code: str = typer.Argument(..., help="e.g. STAY50"),
    name: str = typer.Option(..., "--name", help="Shown to the customer."),
    kind: str = typer.Option(..., "--kind", help="discount, pause or switch_plan"),
    coupon: str | None = typer.Option(None, "--coupon", help="discount: the coupon redeemed if accepted"),
    pause_months: int | None = typer.Option(None, "--pause-months", help="pause: 1-6 months"),
    plan: str | None = typer.Option(None, "--plan", help="switch_plan: the plan offered"),
    json_out: bool = JSON,
) -> None:
    """Add a retention offer."""
    offer = retention.create_offer(context(), code, name, kind=kind, coupon=coupon, pause_months=pause_months,
                                   plan=plan)
    if json_out:
        emit_json(_plain(offer))
    else:
        typer.echo(f"Retention offer {offer.code}: {offer.describe()}.")


@retention_app.command("offers")
def retention_offers(subscription: str | None = typer.Argument(None, help="Only what fits this subscription."),
                     json_out: bool = JSON) -> None:
    """The active offers (for a subscription: those that fit it). Cancelling never needs an answer to them."""
    found = retention.offers_for(context(), subscription) if subscription else retention.list_offers(context())
    if json_out:
        emit_json([{**_plain(o), "description": o.describe()} for o in found])
        return
    if not found:
        typer.echo("No retention offers.")
        return
    typer.echo(_offers_table(found))
    if subscription:
        typer.echo(f"Cancel anyway: `aboguard subscriptions cancel {subscription}` (an offer never has to be "
                   "answered first).")


def _offers_table(found: list[RetentionOffer]) -> str:
    return table(["CODE", "KIND", "OFFER"], [[o.code, o.kind.value, o.describe()] for o in found])


def _decide(subscription: str, offer: str, accept: bool, json_out: bool) -> None:
    decision = retention.decide(context(), subscription, offer, accept=accept)
    if json_out:
        emit_json(_plain(decision))
    else:
        typer.echo(f"Offer {decision.offer_code} {'accepted' if accept else 'declined'} for subscription "
                   f"{subscription}: {decision.detail}.")


@retention_app.command("accept")
def retention_accept(subscription: str, offer: str, json_out: bool = JSON) -> None:
    """The customer accepted an offer: record it and carry it out."""
    _decide(subscription, offer, True, json_out)


@retention_app.command("decline")
def retention_decline(subscription: str, offer: str, json_out: bool = JSON) -> None:
    """The customer declined an offer: record it (their cancellation goes ahead as asked)."""
    _decide(subscription, offer, False, json_out)


@retention_app.command("winback")
def retention_winback(subscription: str = typer.Argument(..., help="The subscription cancelled for non-payment."),
                      offer: str | None = typer.Option(None, "--offer", help="A discount offer to start with."),
                      json_out: bool = JSON) -> None:
    """Start a customer again whose subscription ended for non-payment, once what was due is paid."""
    result = retention.win_back(context(), subscription, offer_code=offer)
    sub = result.subscription.subscription
    if json_out:
        emit_json({"subscription_id": sub.id, "previous_subscription_id": result.previous_id,
                   "plan": result.subscription.plan.code, "offer": result.offer_code})
    else:
        typer.echo(f"Welcome back: subscription {sub.id} on {result.subscription.plan.code} starts "
                   f"{sub.start_on}" + (f" with offer {result.offer_code}" if result.offer_code else "") + ".")


# -- report -------------------------------------------------------------------------------------------------


@incentives_app.command("report")
def incentives_report(json_out: bool = JSON) -> None:
    """Discounts granted next to on-time payment and retention they went with."""
    data = service.report(context())
    if json_out:
        emit_json(data)
        return
    typer.echo(report_text(data))


def report_text(data: dict[str, Any]) -> str:
    lines = ["Discounts granted:"]
    if not data["discounts_granted_minor"]:
        lines.append("  none")
    for source, by_code in sorted(data["discounts_granted_minor"].items()):
        for key, minor in sorted(by_code.items()):
            code, currency = key.rsplit(" ", 1)
            lines.append(f"  {source:8} {code:20} {Money(minor, currency).format('en')}")
    lines.append(f"Loyalty rewards: {data['rewards_granted']} granted, {data['rewards_applied']} applied")
    lines.append("On-time payment (invoices due so far):")
    for name, row in data["on_time"].items():
        rate = "-" if row["rate"] is None else f"{row['rate']:.1%}"
        lines.append(f"  {name:9} {row['on_time']:>6} of {row['due']:>6}  {rate}")
    lines.append("Still subscribed after a retention offer:")
    for name, row in data["retention"].items():
        rate = "-" if row["rate"] is None else f"{row['rate']:.1%}"
        lines.append(f"  {name:9} {row['still_subscribed']:>6} of {row['decisions']:>6}  {rate}")
    return "\n".join(lines)


__all__ = ["coupons_app", "incentives_app", "loyalty_app", "retention_app"]
