"""``aboguard bill``: run the billing for everything due today."""

from __future__ import annotations

import sys
import time

import typer

from aboguard.money import Money
from aboguard.services import billing as service
from aboguard.services.billing import BillingRunReport

from .context import context
from .render import emit_json


def bill(
    batch_size: int = typer.Option(service.DEFAULT_BATCH, "--batch-size", help="Subscriptions per transaction."),
    limit: int | None = typer.Option(None, "--limit", help="Stop after this many subscriptions."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Issue invoices for every subscription due as of today; end contracts and trials that are over."""
    ctx = context()
    started = time.perf_counter()
    show_progress = sys.stderr.isatty() and not json_out

    def progress(report: BillingRunReport) -> None:
        if show_progress:
            rate = report.subscriptions / max(time.perf_counter() - started, 1e-9)
            sys.stderr.write(f"\r  {report.subscriptions:,} subscriptions, {report.invoices:,} invoices, "
                             f"{len(report.failures):,} set aside ({rate:,.0f}/s)  ")
            sys.stderr.flush()

    report = service.run_billing(ctx, batch_size=batch_size, limit=limit, on_batch=progress)
    elapsed = time.perf_counter() - started
    if show_progress:
        sys.stderr.write("\n")
    if json_out:
        emit_json({"as_of": report.as_of, "subscriptions": report.subscriptions, "invoices": report.invoices,
                   "activated": report.activated, "ended": report.ended, "plan_changes": report.plan_changes,
                   "batches": report.batches, "totals": [Money(m, c) for c, m in sorted(report.totals.items())],
                   "failures": [{"subscription_id": f.subscription_id, "message": f.message}
                                for f in report.failures], "seconds": round(elapsed, 3)})
    else:
        typer.echo(summary(report, elapsed))
    if report.failures:
        raise typer.Exit(1)


def summary(report: BillingRunReport, elapsed: float | None = None) -> str:
    if not report.subscriptions and not report.failures:
        return f"Billing run for {report.as_of}: nothing was due."
    totals = ", ".join(Money(m, c).format("en") for c, m in sorted(report.totals.items())) or "nothing"
    lines = [f"Billing run for {report.as_of}: {_count(report.subscriptions, 'subscription')}, "
             f"{_count(report.invoices, 'invoice')} issued over {totals}"
             + (f" in {elapsed:.1f} s" if elapsed is not None else "") + "."]
    extra = [f"{_count(n, what)} {done}" for n, what, done in (
        (report.activated, "trial", "converted"), (report.plan_changes, "scheduled plan change", "applied"),
        (report.ended, "contract", "ended")) if n]
    if extra:
        lines.append("  " + "; ".join(extra) + ".")
    for failure in report.failures:
        lines.append(f"  SET ASIDE {failure.subscription_id}: {failure.message}")
    if report.failures:
        lines.append(f"  {len(report.failures):,} subscriptions were set aside; fix them and run `aboguard bill` "
                     "again (the rest is billed and will not be billed twice).")
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
