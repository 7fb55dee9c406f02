"""``aboguard customers``."""

from __future__ import annotations

from collections.abc import Sequence

import typer

from aboguard.domain.customers import Address, Customer, CustomerKind, CustomerSpec
from aboguard.services import customers as service

from .context import context
from .render import JSON, customer_dict, emit_json, table

app = typer.Typer(help="Consumers and business customers.", no_args_is_help=True)


@app.command("create")
def create(
    email: str = typer.Option(..., "--email"),
    name: str = typer.Option(..., "--name", help="The person's name."),
    country: str = typer.Option(..., "--country", help="ISO code such as DE or AT."),
    locale: str = typer.Option("de", "--locale", help="de or en: the language of messages and documents."),
    business: bool = typer.Option(False, "--business", help="A business customer (B2B)."),
    vat_id: str | None = typer.Option(None, "--vat-id", help="EU VAT ID (business customers)."),
    company: str | None = typer.Option(None, "--company"),
    street: str = typer.Option("", "--street"),
    postal_code: str = typer.Option("", "--postal-code"),
    city: str = typer.Option("", "--city"),
    external_ref: str | None = typer.Option(None, "--external-ref", help="The shop's own customer number."),
    json_out: bool = JSON,
) -> None:
    """Create a customer."""
    spec = CustomerSpec(
        email=email, name=name, country=country, locale=locale,
        kind=CustomerKind.BUSINESS if business else CustomerKind.CONSUMER, vat_id=vat_id, company=company,
        address=Address(line1=street, postal_code=postal_code, city=city), external_ref=external_ref,
    )
    _print(service.create_customer(context(), spec), json_out)


@app.command("list")
def list_(json_out: bool = JSON, limit: int = typer.Option(100, "--limit"),
          offset: int = typer.Option(0, "--offset")) -> None:
    """List customers, oldest first."""
    found = service.list_customers(context(), limit=limit, offset=offset)
    if json_out:
        emit_json([customer_dict(c) for c in found])
    else:
        typer.echo(customers_table(found) if found else "No customers yet.")


@app.command("show")
def show(customer_id: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """Show one customer."""
    _print(service.get_customer(context(), customer_id), json_out)


def customers_table(found: Sequence[Customer]) -> str:
    return table(["ID", "NAME", "EMAIL", "KIND", "COUNTRY", "LOCALE", "VAT ID"],
                 [[c.id, c.company or c.name, c.email, c.kind.value, c.country, c.locale, c.vat_id or ""]
                  for c in found])


def _print(c: Customer, json_out: bool) -> None:
    if json_out:
        emit_json(customer_dict(c))
        return
    typer.echo(f"{c.name}{f' ({c.company})' if c.company else ''} <{c.email}>  id {c.id}")
    typer.echo(f"  {c.kind.value}, {c.country}, locale {c.locale}"
               + (f", VAT ID {c.vat_id}" if c.vat_id else "")
               + (f", shop ref {c.external_ref}" if c.external_ref else ""))
    address = ", ".join(x for x in (c.address.line1, f"{c.address.postal_code} {c.address.city}".strip()) if x)
    if address:
        typer.echo(f"  {address}")
