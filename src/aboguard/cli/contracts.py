"""``aboguard contracts``: summary, acceptance, cancellation (§ 312k BGB), withdrawal, price-change consent;
and ``aboguard evidence``."""

from __future__ import annotations

from pathlib import Path

import typer

from aboguard.domain.contracts import CancellationKind, InvalidCancellation
from aboguard.domain.periods import parse_date
from aboguard.domain.terms import AcceptanceSpec
from aboguard.errors import InvalidInput
from aboguard.services import contracts as service
from aboguard.services import evidence as evidence_service
from aboguard.services import price_changes, withdrawals

from .context import context
from .contracts_render import acceptance_dict, cancellation_dict, price_notice_dict
from .render import JSON, emit_json

app = typer.Typer(help="Contracts: summary, terms acceptance, cancellation, withdrawal.", no_args_is_help=True)


@app.command("show")
def show(
    subscription_id: str = typer.Argument(...),
    locale: str | None = typer.Option(None, "--locale", help="de or en (default: the customer's)."),
    json_out: bool = JSON,
) -> None:
    """The contract summary: price, term, notice, renewal, the next cancellation deadline, withdrawal."""
    summary = service.get_contract_summary(context(), subscription_id, locale=locale)
    if json_out:
        emit_json(summary.to_dict())
    else:
        typer.echo(summary.to_dict()["text"], nl=False)


@app.command("accept-terms")
def accept_terms(
    subscription_id: str = typer.Argument(...),
    channel: str = typer.Option("cli", "--channel", help="cli, api, portal or import."),
    ip: str | None = typer.Option(None, "--ip", help="The customer's IP address, if known."),
    user_agent: str | None = typer.Option(None, "--user-agent"),
    json_out: bool = JSON,
) -> None:
    """Record that the customer accepted the terms now in force (after a terms change)."""
    acceptance = service.accept_terms(context(), subscription_id, AcceptanceSpec.parse(channel, ip, user_agent))
    if json_out:
        emit_json(acceptance_dict(acceptance))
    else:
        typer.echo(f"Accepted: terms {acceptance.terms_code or '-'} v{acceptance.terms_version or '-'} at "
                   f"{acceptance.accepted_at.isoformat()} via {acceptance.channel.value}")


@app.command("acceptances")
def acceptances(subscription_id: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """The acceptance records of a subscription (immutable)."""
    found = service.list_acceptances(context(), subscription_id)
    if json_out:
        emit_json([acceptance_dict(a) for a in found])
        return
    for a in found:
        typer.echo(f"{a.accepted_at.isoformat()}  {a.reason:<20} {a.channel.value:<7} terms "
                   f"{a.terms_code or '-'} v{a.terms_version or '-'}  summary sha256 {a.summary_sha256}")
    if not found:
        typer.echo("No acceptance recorded.")


@app.command("cancel")
def cancel(
    subscription_id: str = typer.Argument(..., help="The contract (subscription id)."),
    at: str | None = typer.Option(None, "--at", help="Wished-for last day of the contract (YYYY-MM-DD)."),
    earliest: bool = typer.Option(False, "--earliest", help="At the earliest possible date (the default)."),
    extraordinary: bool = typer.Option(False, "--extraordinary", help="For an important reason, without notice."),
    reason: str | None = typer.Option(None, "--reason"),
    name: str | None = typer.Option(None, "--name", help="Name as the customer gave it (default: on file)."),
    email: str | None = typer.Option(None, "--email", help="E-mail for the confirmation (default: on file)."),
    contract_ref: str | None = typer.Option(None, "--contract-ref", help="Contract identifier as given."),
    channel: str = typer.Option("cli", "--channel"),
    json_out: bool = JSON,
) -> None:
    """Cancel as § 312k BGB asks: record the request and its time of receipt, end when the terms allow, confirm."""
    if at and earliest:
        raise InvalidCancellation("give --at DATE or --earliest, not both")
    outcome = service.request_cancellation(
        context(), subscription_id, kind=CancellationKind.EXTRAORDINARY if extraordinary else CancellationKind.ORDINARY,
        last_day=parse_date(at, "--at") if at else None, reason=reason, name=name, email=email,
        contract_ref=contract_ref, channel=channel)
    request = outcome.request
    if json_out:
        emit_json({**cancellation_dict(request), "confirmation": outcome.confirmation.payload()})
        return
    typer.echo(f"Cancellation received {outcome.confirmation.received_at_local} ({request.kind.value}); the contract "
               f"ends after {request.last_day}."
               + (" The wished-for date was too early: the earliest possible date applies." if
                  request.requested_too_early else ""))
    typer.echo(f"Confirmation for {request.identity.email}: event contract.cancellation_confirmed")


@app.command("withdraw")
def withdraw(subscription_id: str = typer.Argument(...), channel: str = typer.Option("cli", "--channel"),
             json_out: bool = JSON) -> None:
    """Withdrawal (Widerruf) within 14 days: the contract ends today, pre-paid unused days are refunded."""
    outcome = withdrawals.withdraw(context(), subscription_id, channel=channel)
    if json_out:
        emit_json({**cancellation_dict(outcome.request), "refunded": outcome.refunded, "credited": outcome.credited,
                   "waiting": outcome.waiting})
        return
    typer.echo(f"Withdrawal received {outcome.request.received_at.isoformat()}; subscription "
               f"{outcome.subscription.id} is {outcome.subscription.status.value}.")
    for number, amount in outcome.refunded.items():
        typer.echo(f"  refunded {amount.format('en')} of {number}")
    for number, amount in outcome.credited.items():
        typer.echo(f"  credited {amount.format('en')} of {number} (no longer owed)")
    for number, amount in outcome.waiting.items():
        typer.echo(f"  {amount.format('en')} of {number} waits for a payment on its way; run this again once it "
                   "settled")


@app.command("price-consent")
def price_consent(
    subscription_id: str = typer.Argument(...),
    accept: bool = typer.Option(False, "--accept"),
    decline: bool = typer.Option(False, "--decline"),
    cancel_: bool = typer.Option(False, "--cancel", help="With --decline: end the contract before the new price."),
    channel: str = typer.Option("cli", "--channel"),
    json_out: bool = JSON,
) -> None:
    """The customer's answer to an announced price change (silence is not consent)."""
    if accept == decline:
        raise InvalidInput("give --accept or --decline")
    notice = price_changes.respond_to_price_change(context(), subscription_id, accept=accept, cancel=cancel_,
                                                   channel=channel)
    if json_out:
        emit_json(price_notice_dict(notice))
    else:
        typer.echo(f"Price change to {notice.new_price.format('en')} on {notice.effective_on}: {notice.status.value}")


def evidence(
    subscription_id: str = typer.Argument(...),
    out: Path = typer.Option(..., "--out", help="Where to write the zip."),
    json_out: bool = JSON,
) -> None:
    """Write the evidence pack of a subscription (contract, terms, invoices, payments, dunning, statement)."""
    pack = evidence_service.build_evidence_pack(context(), subscription_id)
    out.write_bytes(pack.data)
    if json_out:
        emit_json({"path": str(out), "bytes": len(pack.data), "files": sorted([*pack.files, "manifest.json"])})
    else:
        typer.echo(f"Wrote {out} ({len(pack.data)} bytes, {len(pack.files) + 1} files; manifest.json lists the "
                   "SHA-256 of each)")
