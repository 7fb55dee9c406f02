"""``aboguard plans``: the catalog."""

from __future__ import annotations

from collections.abc import Sequence

import typer

from aboguard.domain.catalog import (
    Audience,
    PaymentMethodKind,
    Plan,
    PlanSpec,
    RenewalMode,
    TaxCategory,
    Terms,
    parse_enum,
)
from aboguard.domain.periods import Interval, parse_date
from aboguard.errors import InvalidPlan
from aboguard.money import Money
from aboguard.services import plans as service
from aboguard.services import price_changes
from aboguard.services import terms as terms_service

from .context import context
from .contracts_render import price_notice_dict
from .render import JSON, emit_json, plan_dict, table

app = typer.Typer(help="Products and plans with their prices and terms.", no_args_is_help=True)


@app.command("create")
def create(
    code: str = typer.Option(..., "--code", help="Unique plan code, e.g. basic-monthly."),
    name: str = typer.Option(..., "--name"),
    amount: str = typer.Option(..., "--amount", help="Price per interval, e.g. 9.99 or 9,99."),
    currency: str = typer.Option("EUR", "--currency"),
    interval: str = typer.Option("month", "--interval", help="day, week, month or year."),
    interval_count: int = typer.Option(1, "--interval-count"),
    trial_days: int = typer.Option(0, "--trial-days"),
    setup_fee: str | None = typer.Option(None, "--setup-fee"),
    tax_category: str = typer.Option("standard", "--tax-category", help="standard, reduced or exempt."),
    min_term_months: int = typer.Option(0, "--min-term-months"),
    notice_days: int = typer.Option(0, "--notice-days"),
    renewal: str = typer.Option("indefinite", "--renewal", help="indefinite or fixed_term (business)."),
    renewal_term_months: int = typer.Option(0, "--renewal-term-months"),
    audience: str = typer.Option("consumer", "--audience", help="consumer or business."),
    payment_methods: str = typer.Option("card,paypal,sepa_debit,bank_transfer", "--payment-methods"),
    product: str | None = typer.Option(None, "--product", help="Product code (default: the plan code)."),
    terms: str | None = typer.Option(None, "--terms", help="Code of the published terms document (AGB)."),
    json_out: bool = JSON,
) -> None:
    """Create a plan with its first price version."""
    spec = PlanSpec(
        price=Money.parse(amount, currency),
        interval=Interval.parse(interval, interval_count),
        audience=parse_enum(Audience, audience, "audience"),
        trial_days=trial_days,
        setup_fee=Money.parse(setup_fee, currency) if setup_fee else None,
        tax_category=parse_enum(TaxCategory, tax_category, "tax category"),
        terms=Terms(min_term_months, notice_days, parse_enum(RenewalMode, renewal, "renewal"),
                    renewal_term_months),
        payment_methods=frozenset(parse_enum(PaymentMethodKind, m, "payment method")
                                  for m in payment_methods.split(",") if m.strip()),
    )
    plan = service.create_plan(context(), code=code, name=name, spec=spec, product_code=product, terms_code=terms)
    _print_plan(plan, json_out)


@app.command("set-terms")
def set_terms(
    code: str = typer.Argument(..., help="Plan code."),
    terms: str | None = typer.Option(None, "--terms", help="Terms code (omit with --none)."),
    none: bool = typer.Option(False, "--none", help="The plan has no terms document."),
    json_out: bool = JSON,
) -> None:
    """Name the terms document for new subscriptions; earlier acceptances keep the version accepted."""
    if (terms is None) == (not none):
        raise InvalidPlan("give --terms CODE or --none")
    _print_plan(terms_service.set_plan_terms(context(), code, terms), json_out)


@app.command("set-price")
def set_price(
    code: str = typer.Argument(..., help="Plan code."),
    amount: str = typer.Option(..., "--amount"),
    setup_fee: str | None = typer.Option(None, "--setup-fee"),
    json_out: bool = JSON,
) -> None:
    """Change a plan's price: a new version for new subscriptions; existing ones keep theirs."""
    ctx = context()
    currency = service.get_plan(ctx, code).current.price.currency
    plan = service.change_plan_price(ctx, code, Money.parse(amount, currency),
                                     Money.parse(setup_fee, currency) if setup_fee else None)
    _print_plan(plan, json_out)


@app.command("list")
def list_(json_out: bool = JSON, all_: bool = typer.Option(False, "--all", help="Include archived plans.")) -> None:
    """List plans with their current price."""
    found = service.list_plans(context(), include_archived=all_)
    if json_out:
        emit_json([plan_dict(p) for p in found])
    else:
        typer.echo(plans_table(found) if found else "No plans yet: create one with `aboguard plans create`.")


@app.command("show")
def show(code: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """Show a plan with every price version."""
    _print_plan(service.get_plan(context(), code), json_out)


def plans_table(found: Sequence[Plan]) -> str:
    return table(
        ["CODE", "NAME", "PRICE", "EVERY", "TRIAL", "MIN TERM", "NOTICE", "AUDIENCE", "VERSION"],
        [[p.code, p.name, p.current.price.format("en"), str(p.current.interval), f"{p.current.trial_days}d",
          f"{p.current.terms.min_term_months}m", f"{p.current.terms.notice_days}d", p.audience.value,
          p.current.number] for p in found],
    )


def _print_plan(plan: Plan, json_out: bool) -> None:
    if json_out:
        emit_json(plan_dict(plan))
        return
    v = plan.current
    typer.echo(f"{plan.code}  {plan.name}  ({plan.audience.value}, id {plan.id})")
    typer.echo(f"  price        {v.price.format('en')} every {v.interval} "
               f"({'gross' if v.tax_inclusive else 'net'}, {v.tax_category.value} VAT)")
    if v.setup_fee:
        typer.echo(f"  setup fee    {v.setup_fee.format('en')}")
    typer.echo(f"  trial        {v.trial_days} days")
    typer.echo(f"  terms        minimum {v.terms.min_term_months} months, notice {v.terms.notice_days} days, "
               f"then {v.terms.renewal.value.replace('_', ' ')}")
    typer.echo(f"  pay by       {', '.join(sorted(m.value for m in v.payment_methods))}")
    if len(plan.versions) > 1:
        history = ", ".join(f"v{x.number} {x.price.format('en')}" for x in plan.versions)
        typer.echo(f"  versions     {history}")


@app.command("announce-price")
def announce_price(
    code: str = typer.Argument(..., help="Plan code whose current price older subscriptions should move to."),
    effective: str = typer.Option(..., "--effective", help="Date the new price would apply (YYYY-MM-DD), "
                                  "at least 30 days ahead."),
    json_out: bool = JSON,
) -> None:
    """Announce the plan's current price to subscribers on older versions; it applies only to those who agree."""
    notices = price_changes.announce_price_change(context(), code, effective_on=parse_date(effective, "--effective"))
    if json_out:
        emit_json([price_notice_dict(n) for n in notices])
        return
    typer.echo(f"Announced to {len(notices)} subscription(s); each must accept "
               "(`aboguard contracts price-consent SUB --accept` or `--decline [--cancel]`).")
