"""``aboguard sepa``: pain.008 export and re-generation, mandate amendments; and ``aboguard bank``: camt import
and the review list of bank lines nothing matched."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from aboguard.domain.bank_lines import BankLine
from aboguard.domain.periods import parse_date
from aboguard.money import Money
from aboguard.services import bank_import
from aboguard.services import sepa as service

from .context import context
from .render import JSON, emit_json, table

app = typer.Typer(help="SEPA direct debits as pain.008 files for your bank; mandate amendments.",
                  no_args_is_help=True)
bank = typer.Typer(help="Bank reports (camt.052/053/054): returns, settlements and incoming transfers.",
                   no_args_is_help=True)


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="Where to write the pain.008 file."),
    collection_date: str | None = typer.Option(None, "--collection-date",
                                               help="Due date (a TARGET2 banking day; default the earliest)."),
    fmt: str = typer.Option("pain.008.001.08", "--format", help="pain.008.001.08 or pain.008.001.02"),
    json_out: bool = JSON,
) -> None:
    """Put every SEPA debit awaiting export (ABOGUARD_SEPA_CHANNEL=file) into one pain.008 file."""
    on = parse_date(collection_date, "--collection-date") if collection_date else None
    report = service.export_collections(context(), out, collection_on=on, fmt=fmt)
    if json_out:
        emit_json({"file_id": report.file_id, "msg_id": report.msg_id, "format": report.format,
                   "collection_date": report.collection_on, "path": report.path, "transactions": report.transactions,
                   "control_sum": report.control_sum, "sha256": report.sha256,
                   "blocks": [{"date": d, "scheme": s, "sequence": q, "transactions": n, "control_sum": c}
                              for d, s, q, n, c in report.blocks],
                   "failed": [asdict(p) for p in report.failed]})
        return
    for problem in report.failed:
        typer.echo(f"not exported: invoice {problem.invoice}: {problem.message} ({problem.code})")
    if not report.transactions:
        typer.echo("No SEPA debits are waiting for export.")
        return
    typer.echo(f"Wrote {report.path}: {report.format}, message {report.msg_id}, {report.transactions} debit(s), "
               f"{report.control_sum.format('en') if report.control_sum else ''}, due {report.collection_on}.")
    typer.echo(table(["DATE", "SCHEME", "SEQUENCE", "DEBITS", "SUM"],
                     [[d, s, q, n, c.format("en")] for d, s, q, n, c in report.blocks]))


@app.command("regenerate")
def regenerate(file_id: str = typer.Argument(..., help="File id or message id."),
               out: Path = typer.Option(..., "--out"), json_out: bool = JSON) -> None:
    """Write a past pain.008 file again, byte for byte, from what was stored (audit)."""
    made = service.regenerate_file(context(), file_id, out)
    if json_out:
        emit_json(asdict(made))
        return
    verdict = "identical to the original" if made.identical else "DIFFERENT from the original (sha256 differs)"
    typer.echo(f"Wrote {made.path} ({made.msg_id}): {verdict}.")
    if not made.identical:
        raise typer.Exit(1)


@app.command("files")
def files(json_out: bool = JSON) -> None:
    """List exported pain.008 files."""
    found = service.list_files(context())
    if json_out:
        emit_json([{"id": f.id, "msg_id": f.msg_id, "format": f.format, "created_at": f.created_at,
                    "collection_date": f.collection_on, "transactions": f.nb_of_txs, "control_sum": f.ctrl_sum,
                    "sha256": f.sha256} for f in found])
        return
    typer.echo(table(["ID", "MESSAGE", "FORMAT", "DUE", "DEBITS", "SUM"],
                     [[f.id, f.msg_id, f.format, f.collection_on, f.nb_of_txs, f.ctrl_sum.format("en")]
                      for f in found]) if found else "No pain.008 files yet.")


@app.command("amend")
def amend(method_id: str = typer.Argument(..., help="The SEPA payment method's id."),
          iban: str | None = typer.Option(None, "--iban", help="The debtor's new IBAN."),
          bic: str | None = typer.Option(None, "--bic"),
          reference: str | None = typer.Option(None, "--reference", help="A new mandate reference."),
          json_out: bool = JSON) -> None:
    """Amend a mandate (new IBAN, new reference); the next debit carries the original data."""
    method = service.amend_mandate(context(), method_id, iban=iban, bic=bic, reference=reference)
    if json_out:
        emit_json({"id": method.id, "label": method.label(), "mandate_reference": method.mandate_reference,
                   "amendment_pending": True, "new_bank": method.mandate_new_bank})
        return
    typer.echo(f"Amended {method.label()}, mandate {method.mandate_reference}; the next debit reports the change"
               + (" as a move to another bank (FRST)." if method.mandate_new_bank else "."))


@bank.command("import")
def import_(file: Path = typer.Argument(..., help="A camt.052, camt.053 or camt.054 file."),
            json_out: bool = JSON) -> None:
    """Import a bank report: settle and return direct debits, match incoming transfers to invoices."""
    started = time.perf_counter()
    show_progress = sys.stderr.isatty() and not json_out

    def progress(report: bank_import.ImportReport) -> None:
        if show_progress:
            rate = report.lines / max(time.perf_counter() - started, 1e-9)
            sys.stderr.write(f"\r  {report.lines:,} lines: {report.settled:,} settled, {report.returned:,} returned, "
                             f"{report.transfers_matched:,} transfers matched, {report.unmatched:,} for review "
                             f"({rate:,.0f}/s)  ")
            sys.stderr.flush()

    report = bank_import.import_statement(context(), file, on_progress=progress)
    if show_progress and report.lines:
        sys.stderr.write("\n")
    if json_out:
        emit_json({**asdict(report), "seconds": round(time.perf_counter() - started, 3)})
        return
    if report.duplicate_file:
        typer.echo(f"{file.name} was imported before; nothing changed.")
        return
    typer.echo(f"{file.name} ({report.message}): {report.lines:,} line(s) in {time.perf_counter() - started:.1f} s; "
               f"{report.settled:,} debit(s) settled, {report.returned:,} returned, {report.transfers_matched:,} "
               f"transfer(s) matched, {report.unmatched:,} for review, {report.ignored:,} ignored, "
               f"{report.skipped:,} seen before.")
    if report.fees:
        typer.echo("Bank fees for returns: " + ", ".join(Money(m, c).format("en") for c, m in report.fees.items()))
    if report.unmatched:
        typer.echo("Review them with: aboguard bank unmatched")


def line_dict(line: BankLine) -> dict[str, Any]:
    return {"id": line.id, "kind": line.kind.value, "booked_on": line.booked_on, "amount": line.amount,
            "counterparty": line.counterparty, "remittance": line.remittance, "end_to_end_id": line.end_to_end_id,
            "reason_code": line.reason_code, "status": line.status.value, "note": line.note}


@bank.command("statements")
def statements(limit: int = typer.Option(50, "--limit"), json_out: bool = JSON) -> None:
    """Imported bank reports, latest first, with what became of their lines."""
    found = bank_import.list_statements(context(), limit=limit)
    if json_out:
        emit_json([asdict(s) for s in found])
        return
    typer.echo(table(["IMPORTED", "FILE", "MESSAGE", "LINES", "APPLIED", "FOR REVIEW", "IGNORED"],
                     [[s.imported_at.strftime("%Y-%m-%d %H:%M"), s.file_name, s.message, s.lines,
                       s.by_status.get("applied", 0), s.by_status.get("unmatched", 0), s.by_status.get("ignored", 0)]
                      for s in found]) if found else "No bank reports imported yet.")


@bank.command("unmatched")
def unmatched(json_out: bool = JSON) -> None:
    """Bank lines nothing matched: transfers without a findable invoice, unknown returns."""
    found = bank_import.list_unmatched(context())
    if json_out:
        emit_json([line_dict(line) for line in found])
        return
    typer.echo(table(["LINE", "KIND", "BOOKED", "AMOUNT", "FROM", "TEXT", "WHY"],
                     [[x.id, x.kind.value, x.booked_on, x.amount.format("en"), x.counterparty, x.remittance[:50],
                       x.note] for x in found]) if found else "Nothing to review.")


@bank.command("match")
def match(line: str = typer.Argument(..., help="The bank line's id (from `bank unmatched`)."),
          invoice: str = typer.Argument(..., help="Invoice number or id."), json_out: bool = JSON) -> None:
    """Resolve a line for review by its invoice: money in pays it (more than is open becomes the customer's
    credit); a returned debit is applied to the invoice's SEPA debit."""
    done = bank_import.match_line(context(), line, invoice)
    if json_out:
        emit_json(line_dict(done))
        return
    if done.kind.value == "return":
        typer.echo(f"Line {done.id}: the return of {done.amount.format('en')} was applied to invoice {invoice}'s "
                   f"debit; recovery takes over.")
        return
    extra = f"; {done.credit.format('en')} kept as the customer's credit" if done.credit.is_positive() else ""
    typer.echo(f"Line {done.id} ({done.amount.format('en')}) applied to invoice {invoice}{extra}.")


@bank.command("dismiss")
def dismiss(line: str = typer.Argument(..., help="The bank line's id (from `bank unmatched`)."),
            reason: str = typer.Option(..., "--reason", help="Why it needs no action (kept with the line)."),
            json_out: bool = JSON) -> None:
    """Take a line off the review list without applying it (not a payment of ours, or settled another way)."""
    done = bank_import.dismiss_line(context(), line, reason)
    if json_out:
        emit_json(line_dict(done))
        return
    typer.echo(f"Line {done.id} ({done.amount.format('en')}) taken off the review list: {done.note}.")
