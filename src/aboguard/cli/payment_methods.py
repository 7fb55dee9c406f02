"""``aboguard payment-methods``. Output is masked: never a full IBAN or gateway token (DESIGN.md rule 9)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.payment_methods import PaymentMethod, PaymentMethodSpec, mask_email
from aboguard.domain.periods import parse_date
from aboguard.errors import InvalidPaymentMethod
from aboguard.services import payment_methods as service

from .context import context
from .render import JSON, emit_json, table

app = typer.Typer(help="Cards, PayPal, SEPA direct debit mandates and bank transfer.", no_args_is_help=True)


@app.command("add")
def add(
    customer: str = typer.Option(..., "--customer", help="The customer's id."),
    card_token: str | None = typer.Option(None, "--card-token", help="Card: the gateway's card token."),
    brand: str | None = typer.Option(None, "--brand", help="Card: visa, mastercard, amex, ..."),
    last4: str | None = typer.Option(None, "--last4", help="Card: the last four digits."),
    exp: str | None = typer.Option(None, "--exp", help="Card: expiry as MM/YYYY."),
    paypal_agreement: str | None = typer.Option(None, "--paypal-agreement",
                                                help="PayPal: billing agreement or vault id."),
    payer_email: str | None = typer.Option(None, "--payer-email", help="PayPal: the payer's email."),
    iban: str | None = typer.Option(None, "--iban", help="SEPA direct debit: the debtor's IBAN."),
    account_holder: str | None = typer.Option(None, "--account-holder", help="SEPA: the account holder."),
    bic: str | None = typer.Option(None, "--bic", help="SEPA: the bank's BIC (found from the IBAN if known)."),
    mandate_reference: str | None = typer.Option(None, "--mandate-reference",
                                                 help="SEPA: the mandate reference (generated if left out)."),
    mandate_signed_on: str | None = typer.Option(None, "--mandate-signed-on",
                                                 help="SEPA: date the mandate was signed (default today)."),
    mandate_scheme: str | None = typer.Option(None, "--scheme", help="SEPA: core (default) or b2b (businesses)."),
    mandate_type: str | None = typer.Option(None, "--mandate-type", help="SEPA: recurrent (default) or one_off."),
    bank_transfer: bool = typer.Option(False, "--bank-transfer", help="Pay by bank transfer (invoice)."),
    make_default: bool = typer.Option(False, "--default", help="Make it the customer's default method."),
    json_out: bool = JSON,
) -> None:
    """Add a payment method: one of --card-token, --paypal-agreement, --iban or --bank-transfer."""
    chosen = [name for name, given in (("--card-token", card_token is not None),
                                       ("--paypal-agreement", paypal_agreement is not None),
                                       ("--iban", iban is not None), ("--bank-transfer", bank_transfer)) if given]
    if len(chosen) != 1:
        raise InvalidPaymentMethod("give exactly one of --card-token, --paypal-agreement, --iban or --bank-transfer"
                                   + (f" (got {', '.join(chosen)})" if chosen else ""))
    month, year = _parse_exp(exp) if exp is not None else (None, None)
    kind = {"--card-token": PaymentMethodKind.CARD, "--paypal-agreement": PaymentMethodKind.PAYPAL,
            "--iban": PaymentMethodKind.SEPA_DEBIT, "--bank-transfer": PaymentMethodKind.BANK_TRANSFER}[chosen[0]]
    spec = PaymentMethodSpec(
        kind=kind, gateway_token=card_token if card_token is not None else paypal_agreement, brand=brand,
        last4=last4, exp_month=month, exp_year=year, payer_email=payer_email, iban=iban, bic=bic,
        account_holder=account_holder, mandate_reference=mandate_reference,
        mandate_signed_on=parse_date(mandate_signed_on, "--mandate-signed-on") if mandate_signed_on else None,
        mandate_scheme=mandate_scheme, mandate_type=mandate_type, make_default=make_default,
    )
    method = service.add_payment_method(context(), customer, spec)
    if json_out:
        emit_json(payment_method_dict(method))
        return
    typer.echo(f"Added {method.label()}{' (default)' if method.is_default else ''}  id {method.id}")
    if method.mandate_reference:
        typer.echo(f"  mandate {method.mandate_reference} ({(method.mandate_scheme or 'core').upper()}, "
                   f"{method.mandate_type or 'recurrent'}), signed {method.mandate_signed_on}")


@app.command("list")
def list_(customer: str = typer.Option(..., "--customer", help="The customer's id."),
          include_removed: bool = typer.Option(False, "--include-removed"), json_out: bool = JSON) -> None:
    """List a customer's payment methods, oldest first (masked)."""
    found = service.list_payment_methods(context(), customer, include_removed=include_removed)
    if json_out:
        emit_json([payment_method_dict(m) for m in found])
    else:
        typer.echo(payment_methods_table(found) if found else "No payment methods.")


@app.command("remove")
def remove(method_id: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """Remove a payment method; if it was the default, the newest remaining one becomes the default."""
    removal = service.remove_payment_method(context(), method_id)
    if json_out:
        emit_json({"removed": payment_method_dict(removal.removed),
                   "new_default": payment_method_dict(removal.new_default) if removal.new_default else None})
        return
    typer.echo(f"Removed {removal.removed.label()}  id {removal.removed.id}")
    if removal.new_default is not None:
        typer.echo(f"  the default is now {removal.new_default.label()}  id {removal.new_default.id}")


@app.command("set-default")
def set_default(method_id: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """Make a payment method its customer's default."""
    method = service.set_default(context(), method_id)
    if json_out:
        emit_json(payment_method_dict(method))
        return
    typer.echo(f"Default payment method is now {method.label()}  id {method.id}")


def payment_method_dict(m: PaymentMethod) -> dict[str, Any]:
    """Safe to print: the masked label and last four digits, never the IBAN or the gateway token."""
    return {
        "id": m.id, "customer_id": m.customer_id, "kind": m.kind.value, "label": m.label(),
        "last4": m.display_last4, "is_default": m.is_default, "status": m.status.value,
        "brand": m.brand, "exp_month": m.exp_month, "exp_year": m.exp_year,
        "payer_email": mask_email(m.payer_email) if m.payer_email else None,
        "bic": m.bic, "account_holder": m.account_holder, "mandate_reference": m.mandate_reference,
        "mandate_signed_on": m.mandate_signed_on, "mandate_scheme": m.mandate_scheme,
        "mandate_type": m.mandate_type, "mandate_status": m.mandate_status,
        "mandate_last_used_on": m.mandate_last_used_on,
        "amendment_pending": bool(m.mandate_original_reference or m.mandate_original_iban or m.mandate_new_bank),
        "created_at": m.created_at, "version": m.version,
    }


def payment_methods_table(found: Sequence[PaymentMethod]) -> str:
    return table(["ID", "KIND", "METHOD", "DEFAULT", "STATUS"],
                 [[m.id, m.kind.value, m.label(), "yes" if m.is_default else "", m.status.value] for m in found])


def _parse_exp(text: str) -> tuple[int, int]:
    month, sep, year = text.strip().partition("/")
    if not sep or not month.isdigit() or not year.isdigit() or len(year) not in (2, 4):
        raise InvalidPaymentMethod(f"--exp {text!r} must be MM/YYYY, such as 12/2027")
    return int(month), int(year) + (2000 if len(year) == 2 else 0)
