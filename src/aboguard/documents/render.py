"""JSON and self-contained HTML renderings of evidence: deterministic bytes for the same values."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from aboguard.domain.invoicing import Invoice
from aboguard.money import Money

_STYLE = ("body{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}"
          "table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #bbb;padding:.3rem .5rem;"
          "text-align:left;vertical-align:top}td.n,th.n{text-align:right}h1{font-size:1.4rem}h2{font-size:1.1rem}"
          ".muted{color:#666;font-size:.9rem}")


def plain(value: Any) -> Any:
    """``value`` with Money, dates, enums and decimals made JSON-friendly (recursively)."""
    if isinstance(value, Money):
        return {"amount_minor": value.minor, "currency": value.currency, "amount": str(value.to_decimal())}
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        raise TypeError("bytes belong in their own file, not in JSON")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return value


def to_json(value: Any) -> bytes:
    return (json.dumps(plain(value), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def invoice_dict(i: Invoice) -> dict[str, Any]:
    return {
        "id": i.id, "kind": i.kind, "number": i.number, "status": i.status, "customer_id": i.customer_id,
        "subscription_id": i.subscription_id, "currency": i.currency, "issued_on": i.issued_on, "due_on": i.due_on,
        "supply_start": i.supply_start, "supply_end_exclusive": i.supply_end,
        "buyer": {"name": i.buyer.name, "company": i.buyer.company, "email": i.buyer.email,
                  "country": i.buyer.country, "vat_id": i.buyer.vat_id, "address": list(i.buyer.address_lines)},
        "prices_include_tax": i.prices_include_tax, "tax_treatment": i.tax_treatment, "tax_country": i.tax_country,
        "tax_note": {"de": i.tax_note_de, "en": i.tax_note_en},
        "lines": [{"position": line.position, "kind": line.kind, "description": line.description,
                   "amount": line.amount, "net": line.net, "tax_category": line.tax_category,
                   "tax_rate": line.tax_rate, "period_start": line.period_start,
                   "period_end_exclusive": line.period_end} for line in i.lines],
        "tax_breakdown": [{"category": g.category, "code": g.code, "rate": g.rate, "net": g.net, "tax": g.tax}
                          for g in i.tax_groups],
        "net": i.net, "tax": i.tax, "total": i.total, "paid": i.paid, "credited": i.credited,
        "amount_due": i.amount_due, "corrects_id": i.corrects_id, "payment_method": i.payment_method,
        "created_at": i.created_at,
    }


def _e(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Money):
        return html.escape(value.format("de"))
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: frozenset[int] = frozenset()) -> str:
    head = "".join(f'<th{" class=n" if i in numeric else ""}>{html.escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{_e(c)}</td>' for i, c in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str) -> bytes:
    return (f'<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>\n").encode()


def invoice_html(i: Invoice, merchant_name: str) -> bytes:
    what = "Gutschrift/Stornorechnung (credit note)" if i.is_credit_note else "Rechnung (invoice)"
    buyer = "<br>".join(_e(x) for x in (i.buyer.company, i.buyer.name, *i.buyer.address_lines, i.buyer.country) if x)
    lines = _table(["#", "Beschreibung / description", "Zeitraum / period", "USt. / VAT", "Betrag / amount"],
                   [[line.position, line.description,
                     f"{line.period_start} – {line.period_end}" if line.period_start else "",
                     f"{(line.tax_rate * 100).normalize():f} %", line.amount] for line in i.lines],
                   frozenset({4}))
    totals = _table(["", ""], [["Netto / net", i.net], ["USt. / VAT", i.tax], ["Gesamt / total", i.total],
                               ["Gutgeschrieben / credited", i.credited], ["Bezahlt / paid", i.paid],
                               ["Offen / open", i.amount_due]], frozenset({1}))
    note = _e(i.tax_note_de or "") + (" / " + _e(i.tax_note_en) if i.tax_note_en else "")
    body = (f"<h1>{what} {_e(i.number)}</h1><p>{_e(merchant_name)}</p><p>{buyer}</p>"
            f"<p>Datum / date: {_e(i.issued_on)} · fällig / due: {_e(i.due_on)} · Status: {_e(i.status.value)}</p>"
            f"{lines}{totals}<p class=muted>{note}</p>")
    return page(f"{what} {i.number}", body)


def statement_html(statement: Mapping[str, Any]) -> bytes:
    """The statement of account (principal, fees, interest to date, payments and their application)."""
    parts = [f"<h1>Kontoauszug / statement of account</h1><p>{_e(statement['creditor'])} · "
             f"{_e(statement['debtor'])} · Vertrag / contract {_e(statement['subscription_id'])}</p>"
             f"<p>Stand / as of {_e(statement['as_of'])}. Zahlungen werden nach § 367 Abs. 1 BGB zuerst auf die "
             "Kosten, dann auf die Zinsen und zuletzt auf die Hauptforderung angerechnet / payments are applied to "
             "costs, then interest, then principal (§ 367 (1) BGB).</p>"]
    for item in statement["invoices"]:
        parts.append(f"<h2>Rechnung / invoice {_e(item['number'])}</h2><p>ausgestellt / issued {_e(item['issued_on'])}"
                     f" · fällig / due {_e(item['due_on'])}</p>")
        parts.append(_table(["Posten / item", "Betrag / amount"], [
            ["Rechnungsbetrag / invoice total", item["total"]], ["Gutschriften / credited", item["credited"]],
            ["Bezahlt auf die Hauptforderung / paid on principal", item["paid"]],
            ["Hauptforderung offen / principal open", item["principal_open"]],
            ["Kosten offen / fees open", item["fees_open"]],
            ["Zinsen gebucht offen / interest booked, open", item["interest_open"]],
            ["Zinsen bis heute, nicht gebucht / interest to date, not booked", item["interest_accrued"]],
            ["Gesamt offen / total open", item["open_total"]]], frozenset({1})))
        if item["fees"]:
            parts.append(_table(["Datum / date", "Art / kind", "Grund / reason", "Betrag / amount", "offen / open"],
                                [[f["date"], f["kind"], f["description"], f["amount"], f["open"]]
                                 for f in item["fees"]],
                                frozenset({3, 4})))
        if item["payments"]:
            parts.append(_table(
                ["Datum / date", "Buchung / entry", "Betrag / amount", "Kosten / costs", "Zinsen / interest",
                 "Hauptforderung / principal"],
                [[p["date"], p["description"], p["amount"], p["applied"]["costs"], p["applied"]["interest"],
                  p["applied"]["principal"]] for p in item["payments"]], frozenset({2, 3, 4, 5})))
        if item.get("dunning"):
            parts.append(_table(["Datum / date", "Mahnschritt / dunning step", "Weg / channel", "Inhalt / detail"],
                                [[d["date"], d["action"], d["channel"], d["detail"]] for d in item["dunning"]]))
    totals = statement["totals"]
    parts.append("<h2>Summe / totals</h2>" + _table(
        ["Währung / currency", "Hauptforderung / principal", "Kosten / fees", "Zinsen / interest", "Gesamt / total"],
        [[cur, t["principal_open"], t["fees_open"], t["interest_open"], t["open_total"]]
         for cur, t in sorted(totals.items())], frozenset({1, 2, 3, 4})))
    return page("Kontoauszug / statement of account", "".join(parts))
