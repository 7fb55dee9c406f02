"""``aboguard dunning ...`` and ``aboguard collections export``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import typer

from aboguard.domain.dunning import DunningPolicy, policy_to_dict, segment_summary, steps_summary
from aboguard.domain.periods import parse_date
from aboguard.services import collections as handover
from aboguard.services import dunning as service
from aboguard.services.dunning import CaseView, DunningReport

from .context import context
from .render import JSON, emit_json, json_default, table

app = typer.Typer(help="Dunning (Mahnwesen): reminders, dunning letters, fees, interest, suspension.",
                  no_args_is_help=True)
policies_app = typer.Typer(help="Dunning policies: which steps, on which day, for whom.", no_args_is_help=True)
app.add_typer(policies_app, name="policies")
collections_app = typer.Typer(help="Hand unpaid claims over to a collection agency.", no_args_is_help=True)


@app.command("run")
def run(json_out: bool = JSON) -> None:
    """Open cases for overdue invoices and take every dunning step that is due today."""
    report = service.run_dunning(context())
    if json_out:
        emit_json(report_dict(report))
    else:
        typer.echo(report_summary(report))


@app.command("list")
def list_(status: str | None = typer.Option(None, "--status", help="active, paused, collections, resolved"),
          customer: str | None = typer.Option(None, "--customer"), limit: int = typer.Option(100, "--limit"),
          json_out: bool = JSON) -> None:
    """Invoices in dunning with their stage and what is open."""
    views = service.list_cases(context(), status=status, customer_id=customer, limit=limit)
    if json_out:
        emit_json([case_dict(v) for v in views])
        return
    if not views:
        typer.echo("No invoices in dunning.")
        return
    typer.echo(table(["INVOICE", "DUE", "STATUS", "STEPS", "NEXT STEP", "IN DEFAULT SINCE", "OPEN"],
                     [[v.invoice.number, v.case.due_on, v.case.status.value, v.case.steps_done,
                       v.case.next_step_on or "", v.case.default_since or "", v.open_total.format("en")]
                      for v in views]))


@app.command("show")
def show(invoice: str = typer.Argument(..., help="Invoice number or id."), json_out: bool = JSON) -> None:
    """One invoice's dunning: policy, timeline, fees, interest, what is open."""
    view = service.get_case(context(), invoice)
    if json_out:
        emit_json(case_dict(view, full=True))
        return
    case = view.case
    lines = [f"Dunning of {view.invoice.number}   {case.status.value} (policy {view.policy.code})",
             f"  due {case.due_on}; in default since {case.default_since or '-'}; next step "
             f"{case.next_step_on or '-'}" + (f"; paused: {case.pause_reason}" + (f" until {case.paused_until}"
                                                                                 if case.paused_until else "")
                                             if case.status.value == "paused" else ""),
             f"  open: principal {view.invoice.amount_due.format('en')}, fees and interest "
             f"{view.charges_open.format('en')}, interest not yet booked "
             f"{view.interest_to_date.format('en')}; total {view.open_total.format('en')}", "  timeline:"]
    lines += [f"    {e.happened_on}  {e.action:<13} {e.detail}" for e in view.timeline]
    typer.echo("\n".join(lines))


@app.command("pause")
def pause(invoice: str | None = typer.Argument(None, help="Invoice number or id (or use --customer)."),
          customer: str | None = typer.Option(None, "--customer", help="Pause all of a customer's dunning."),
          until: str | None = typer.Option(None, "--until", help="Resume by itself after this date (YYYY-MM-DD)."),
          reason: str = typer.Option(..., "--reason", help="Why: a promise to pay, a complaint, ..."),
          dispute: bool = typer.Option(False, "--dispute", help="The customer disputes the claim: it is never "
                                       "handed over to collections while paused."),
          json_out: bool = JSON) -> None:
    """Pause dunning (a promise to pay until a date, a dispute)."""
    paused = service.pause(context(), invoice, customer_id=customer,
                           until=parse_date(until, "--until") if until else None, reason=reason, dispute=dispute)
    if json_out:
        emit_json([{"invoice_id": c.invoice_id, "status": c.status.value, "paused_until": c.paused_until,
                    "reason": c.pause_reason} for c in paused])
    else:
        typer.echo(f"Paused the dunning of {len(paused)} invoice(s)" + (f" until {until}." if until else "."))


@app.command("resume")
def resume(invoice: str | None = typer.Argument(None, help="Invoice number or id (or use --customer)."),
           customer: str | None = typer.Option(None, "--customer"), json_out: bool = JSON) -> None:
    """Resume paused dunning; a step whose day passed during the pause is taken on the next run."""
    resumed = service.resume(context(), invoice, customer_id=customer)
    if json_out:
        emit_json([{"invoice_id": c.invoice_id, "status": c.status.value, "next_step_on": c.next_step_on}
                   for c in resumed])
    else:
        typer.echo(f"Resumed the dunning of {len(resumed)} invoice(s).")


@policies_app.command("list")
def policies_list(json_out: bool = JSON) -> None:
    """The stored policies, and the built-in defaults used where none of them matches."""
    stored, defaults = service.list_policies(context())
    if json_out:
        emit_json({"stored": [policy_to_dict(p) for p in stored], "defaults": [policy_to_dict(p) for p in defaults]})
        return
    typer.echo(_policies_table(stored, "stored") if stored else "No stored policies; the defaults apply.")
    typer.echo("")
    typer.echo(_policies_table(defaults, "built-in default"))


def _policies_table(policies: list[DunningPolicy], origin: str) -> str:
    return table(["CODE", "FOR", "STEPS", "ORIGIN"],
                 [[p.code, segment_summary(p.segment), steps_summary(p.steps), origin] for p in policies])


@policies_app.command("load")
def policies_load(path: Path = typer.Argument(..., help="A TOML file with [[policy]] tables.", exists=True,
                                               dir_okay=False, readable=True), json_out: bool = JSON) -> None:
    """Store the policies of a TOML file (all or nothing; a policy with the same code is replaced)."""
    loaded, new = service.load_policies(context(), path.read_text(encoding="utf-8"))
    if json_out:
        emit_json({"loaded": [p.code for p in loaded], "new": new})
    else:
        typer.echo(f"Loaded {len(loaded)} dunning policies ({new} new): " + ", ".join(p.code for p in loaded))


@policies_app.command("remove")
def policies_remove(code: str = typer.Argument(...)) -> None:
    """Remove a stored policy; its open cases go on under the default for their customer."""
    service.remove_policy(context(), code)
    typer.echo(f"Removed dunning policy {code}.")


@collections_app.command("export")
def collections_export(out: Path = typer.Option(..., "--out", help="File to write."),
                       fmt: str = typer.Option("csv", "--format", help="csv or json"),
                       include_active: bool = typer.Option(False, "--include-active",
                                                           help="Also claims still in dunning."),
                       json_out: bool = JSON) -> None:
    """Write one record per claim handed over to collections: debtor, principal, fees, interest, history."""
    fmt = handover.check_format(fmt)
    result = handover.export_claims(context(), include_active=include_active)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(json.dumps({"claims": result.records, "skipped": result.skipped}, indent=2,
                                  ensure_ascii=False, default=json_default) + "\n", encoding="utf-8")
    else:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=handover.CSV_COLUMNS)
            writer.writeheader()
            for record in result.records:
                writer.writerow(handover.csv_row(record))
    if json_out:
        emit_json({"file": str(out), "claims": len(result.records), "skipped": result.skipped})
    else:
        typer.echo(f"Wrote {len(result.records)} claim(s) to {out}.")
        for skipped in result.skipped:
            typer.echo(f"  skipped {skipped['invoice']}: {skipped['reason']}")


def report_dict(report: DunningReport) -> dict[str, Any]:
    return {"opened": report.opened, "steps": report.steps, "deferred": report.deferred,
            "resolved": report.resolved, "fees_minor": report.fees, "interest_minor": report.interest}


def report_summary(report: DunningReport) -> str:
    if not (report.opened or report.performed or report.resolved or report.deferred):
        return "Dunning: nothing was due."
    parts = [f"{n} {action}" for action, n in sorted(report.steps.items())]
    text = f"Dunning: {report.opened} new case(s); steps taken: {', '.join(parts) or 'none'}"
    if report.resolved:
        text += f"; {report.resolved} settled"
    if report.deferred:
        text += f"; {report.deferred} waiting for a payment in flight"
    return text + "."


def case_dict(view: CaseView, *, full: bool = False) -> dict[str, Any]:
    case = view.case
    data: dict[str, Any] = {
        "invoice": view.invoice.number, "invoice_id": case.invoice_id, "customer_id": case.customer_id,
        "policy": case.policy_code, "status": case.status.value, "due_on": case.due_on, "steps_done": case.steps_done,
        "next_step_on": case.next_step_on, "default_since": case.default_since, "paused_until": case.paused_until,
        "pause_reason": case.pause_reason, "principal_open": view.invoice.amount_due,
        "interest_not_booked": view.interest_to_date, "open_total": view.open_total}
    if full:
        data["charges"] = [{"kind": c.kind.value, "amount": c.amount, "open": c.open, "charged_on": c.charged_on,
                            "description": c.description} for c in view.charges]
        data["timeline"] = [{"date": e.happened_on, "action": e.action, "channel": e.channel, "detail": e.detail}
                            for e in view.timeline]
    return data
