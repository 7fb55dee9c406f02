"""Turning service results into JSON documents and plain-text tables for the terminal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import typer

from aboguard.domain.catalog import Plan, PlanVersion
from aboguard.domain.customers import Customer
from aboguard.domain.invoicing import Invoice
from aboguard.domain.subscriptions import Proration
from aboguard.money import Money
from aboguard.services.installation import ClockState
from aboguard.services.subscriptions import SubscriptionView

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")  # the --json flag every command shares


def emit_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=json_default))


def json_default(value: Any) -> Any:
    if isinstance(value, Money):
        return value.to_dict()
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def version_dict(v: PlanVersion) -> dict[str, Any]:
    return {
        "id": v.id, "number": v.number, "price": v.price, "interval": v.interval.unit.value,
        "interval_count": v.interval.count, "trial_days": v.trial_days, "setup_fee": v.setup_fee,
        "tax_category": v.tax_category.value, "tax_inclusive": v.tax_inclusive,
        "min_term_months": v.terms.min_term_months, "notice_days": v.terms.notice_days,
        "renewal": v.terms.renewal.value, "renewal_term_months": v.terms.renewal_term_months,
        "payment_methods": sorted(m.value for m in v.payment_methods), "created_at": v.created_at,
    }


def plan_dict(p: Plan) -> dict[str, Any]:
    return {"id": p.id, "code": p.code, "name": p.name, "product_id": p.product_id,
            "audience": p.audience.value, "active": p.active, "created_at": p.created_at, "terms_code": p.terms_code,
            "current_version": version_dict(p.current), "versions": [version_dict(v) for v in p.versions]}


def customer_dict(c: Customer) -> dict[str, Any]:
    return {"id": c.id, "kind": c.kind.value, "email": c.email, "name": c.name, "company": c.company,
            "country": c.country, "locale": c.locale, "vat_id": c.vat_id, "external_ref": c.external_ref,
            "address": {"line1": c.address.line1, "line2": c.address.line2,
                        "postal_code": c.address.postal_code, "city": c.address.city},
            "created_at": c.created_at}


def subscription_dict(view: SubscriptionView) -> dict[str, Any]:
    s = view.subscription
    period = view.current_period
    return {
        "id": s.id, "customer_id": s.customer_id, "customer_email": view.customer_email,
        "plan_code": view.plan.code, "plan_version": view.version.number, "plan_version_id": s.plan_version_id,
        "price": view.version.price, "interval": str(view.version.interval), "status": s.status.value,
        "start_on": s.start_on, "trial_end_on": s.trial_end_on, "billing_anchor": s.billing_anchor,
        "next_bill_on": s.next_bill_on, "min_term_end_on": s.min_term_end_on,
        "current_period": {"start_on": period.start, "end_on": period.end} if period else None,
        "canceled_on": s.canceled_on, "ends_on": s.ends_on, "cancel_reason": s.cancel_reason,
        "paused_on": s.paused_on, "pending_plan_code": view.pending_plan_code,
        "pending_change_on": s.pending_change_on, "end_if_cancelled_today": view.end_if_cancelled_today,
        "created_at": s.created_at, "version": s.version,
    }


def proration_dict(p: Proration | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"period": {"start_on": p.period.start, "end_on": p.period.end}, "credit": p.credit,
            "charge": p.charge, "net": p.net}


def clock_dict(state: ClockState) -> dict[str, Any]:
    return {"mode": state.mode, "now": state.now, "today": state.today_iso, "time_zone": state.tz}


def money(m: Money | None, locale: str = "en") -> str:
    return "" if m is None else m.format(locale)


def invoice_dict(i: Invoice) -> dict[str, Any]:
    return {
        "id": i.id, "kind": i.kind.value, "number": i.number, "status": i.status.value,
        "customer_id": i.customer_id, "subscription_id": i.subscription_id, "currency": i.currency,
        "issued_on": i.issued_on, "due_on": i.due_on, "supply_start": i.supply_start, "supply_end": i.supply_end,
        "buyer": {"name": i.buyer.name, "company": i.buyer.company, "email": i.buyer.email,
                  "country": i.buyer.country, "vat_id": i.buyer.vat_id, "address": list(i.buyer.address_lines)},
        "prices_include_tax": i.prices_include_tax, "tax_treatment": i.tax_treatment.value,
        "tax_country": i.tax_country, "tax_note": {"de": i.tax_note_de, "en": i.tax_note_en},
        "lines": [{"position": line.position, "kind": line.kind.value, "description": line.description,
                   "amount": line.amount, "net": line.net, "tax_category": line.tax_category.value,
                   "tax_rate": str(line.tax_rate), "period_start": line.period_start, "period_end": line.period_end}
                  for line in i.lines],
        "tax_breakdown": [{"category": g.category.value, "code": g.code, "rate": str(g.rate), "net": g.net,
                           "tax": g.tax} for g in i.tax_groups],
        "net": i.net, "tax": i.tax, "total": i.total, "paid": i.paid, "credited": i.credited,
        "amount_due": i.amount_due, "corrects_id": i.corrects_id, "created_at": i.created_at,
    }


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"
