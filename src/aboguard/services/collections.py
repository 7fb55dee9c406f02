"""Hand-over of unpaid claims to collections (Inkasso) or a Mahnbescheid application.

One record per claim (invoice) with what § 13a RDG makes a collection agency show a consumer in its
first letter, and what a court application asks for: creditor, debtor, the contract behind the claim,
the principal per invoice, the interest calculation (rate, period, start of default), the fees already
charged with their reason, the dunning history, payments and credit notes, returned debits with their
reason codes, and whether the claim is disputed or the contract was cancelled. Disputed claims are
never handed over (REFERENCE §2.7); they are listed as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aboguard.domain.dunning import CaseStatus, DunningCase
from aboguard.domain.dunning_charges import ChargeKind
from aboguard.domain.invoicing import DocumentKind
from aboguard.domain.payments import AttemptStatus
from aboguard.errors import InvalidInput
from aboguard.ids import SubscriptionId
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from .context import ServiceContext
from .dunning import unbooked_interest

DISPUTE_PREFIX = "dispute:"


@dataclass(slots=True)
class HandOver:
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # disputed claims, with why


def export_claims(ctx: ServiceContext, *, include_active: bool = False) -> HandOver:
    """Every claim handed over to collections by the dunning policy (or, with ``include_active``, also
    those still in dunning): the data for the agency, valued today."""
    wanted = {CaseStatus.COLLECTIONS} | ({CaseStatus.ACTIVE, CaseStatus.PAUSED} if include_active else set())
    result = HandOver()
    with ctx.uow() as uow:
        for case in uow.dunning.cases(statuses=frozenset(wanted), limit=100_000):
            invoice = uow.invoices.get(case.invoice_id)
            if case.pause_reason and case.pause_reason.lower().startswith(DISPUTE_PREFIX):
                result.skipped.append({"invoice": invoice.number or invoice.id,
                                       "reason": f"disputed ({case.pause_reason}); a disputed claim is not handed "
                                                 "over"})
                continue
            result.records.append(_record(ctx, uow, case))
    return result


def _record(ctx: ServiceContext, uow: UnitOfWork, case: DunningCase) -> dict[str, Any]:
    today = ctx.today()
    invoice = uow.invoices.get(case.invoice_id)
    customer = uow.customers.get(invoice.customer_id)
    billing = ctx.billing
    sub = uow.subscriptions.get(SubscriptionId(invoice.subscription_id)) if invoice.subscription_id else None
    plan = uow.plans.get(uow.plans.get_version(sub.plan_version_id).plan_id) if sub else None
    charges = uow.dunning.charges_for_invoice(invoice.id)
    consumer = not customer.is_business
    booked_interest = sum((c.amount for c in charges if c.kind is ChargeKind.INTEREST), Money.zero(invoice.currency))
    open_interest = sum((c.open for c in charges if c.kind is ChargeKind.INTEREST), Money.zero(invoice.currency))
    # the same figure the dunning run would book today (interest since the last payment, less what is booked)
    unbooked = unbooked_interest(uow, case, invoice, charges, consumer=consumer, today=today)
    pending = unbooked.due if unbooked else Money.zero(invoice.currency)
    segments = [{"from": s.start, "to_exclusive": s.end, "days": s.days,
                 "base_rate_percent": str(s.base_rate * 100), "rate_percent": str(s.rate * 100)}
                for s in (unbooked.calculation.segments if unbooked else ())]
    credit_notes = [d for d in uow.invoices.list(customer_id=customer.id, kind=DocumentKind.CREDIT_NOTE, limit=1000)
                    if d.corrects_id == invoice.id]
    attempts = uow.attempts.list(invoice_id=invoice.id, limit=1000)
    fees = [{"date": c.charged_on, "kind": c.kind.value, "reason": c.description, "amount": c.amount,
             "open": c.open} for c in charges if c.kind is not ChargeKind.INTEREST]
    fees_open = sum((c.open for c in charges if c.kind is not ChargeKind.INTEREST), Money.zero(invoice.currency))
    return {
        "claim_id": case.id,
        "creditor": {"name": billing.merchant_name, "address": list(billing.merchant_address),
                     "vat_id": billing.merchant_tax.vat_id,
                     # § 13a (1) Nr. 6 RDG: can the creditor deduct the VAT on the agency's costs?
                     "input_vat_deductible": not billing.merchant_tax.small_business},
        "debtor": {"customer_id": customer.id, "name": customer.name, "company": customer.company,
                   "kind": customer.kind.value, "email": customer.email,
                   "address": [x for x in (customer.address.line1, customer.address.line2,
                                           f"{customer.address.postal_code} {customer.address.city}".strip(),
                                           customer.country) if x],
                   "address_supplied_by_creditor": True, "vat_id": customer.vat_id},
        "contract": {"subscription_id": sub.id if sub else None, "plan": plan.name if plan else None,
                     "contract_date": sub.start_on if sub else None,
                     "cancelled_on": sub.canceled_on if sub else None,
                     "cancel_reason": sub.cancel_reason if sub else None},
        "invoice": {"number": invoice.number, "issued_on": invoice.issued_on, "due_on": invoice.due_on,
                    "total": invoice.total, "paid": invoice.paid, "credited": invoice.credited,
                    "principal_open": invoice.amount_due},
        "interest": {"statutory": True, "rule": "§ 288 (1) BGB: base rate + 5 pp" if consumer
                     else "§ 288 (2) BGB: base rate + 9 pp",
                     "default_since": case.default_since, "valued_on": today,
                     "booked": booked_interest, "open_booked": open_interest, "accrued_not_booked": pending,
                     "open_total": open_interest + pending, "current_segments": segments},
        "fees": fees,
        "fees_open": fees_open,
        "total_open": invoice.amount_due + fees_open + open_interest + pending,
        "dunning_history": [{"date": e.happened_on, "action": e.action, "channel": e.channel, "detail": e.detail}
                            for e in uow.dunning.timeline(case.id)],
        "payment_attempts": [{"date": a.created_at.astimezone(ctx.merchant_tz).date(), "amount": a.amount,
                              "method": a.method_kind.value, "status": a.status.value,
                              "reason_code": a.decline_code, "raw_code": a.raw_code}
                             for a in attempts],
        "returned_debits": [{"date": a.updated_at.astimezone(ctx.merchant_tz).date(), "reason_code": a.decline_code,
                             "raw_code": a.raw_code} for a in attempts if a.status is AttemptStatus.REVERSED],
        "credit_notes": [{"number": d.number, "issued_on": d.issued_on, "amount": d.total} for d in credit_notes],
        "disputed": False,
    }


CSV_COLUMNS = ["claim_id", "invoice_number", "invoice_date", "due_date", "currency", "principal_open",
               "interest_open", "fees_open", "total_open", "default_since", "interest_rule", "debtor_name",
               "debtor_company", "debtor_kind", "debtor_email", "debtor_address", "contract_date", "plan",
               "cancelled_on", "reminders_and_letters", "returned_debits", "creditor_name"]


def csv_row(record: dict[str, Any]) -> dict[str, str]:
    """One flat row per claim, amounts as decimal text (``12.34``) in the claim's currency."""
    inv, debtor, interest_ = record["invoice"], record["debtor"], record["interest"]

    def amount(value: Money) -> str:
        return str(value.to_decimal())

    letters = [f"{e['date']} {e['action']}" for e in record["dunning_history"]
               if e["action"] in {"reminder", "dunning_1", "dunning_2", "final_notice"}]
    return {
        "claim_id": record["claim_id"], "invoice_number": inv["number"] or "", "invoice_date": _d(inv["issued_on"]),
        "due_date": _d(inv["due_on"]), "currency": inv["total"].currency,
        "principal_open": amount(inv["principal_open"]), "interest_open": amount(interest_["open_total"]),
        "fees_open": amount(record["fees_open"]), "total_open": amount(record["total_open"]),
        "default_since": _d(interest_["default_since"]), "interest_rule": interest_["rule"],
        "debtor_name": debtor["name"], "debtor_company": debtor["company"] or "", "debtor_kind": debtor["kind"],
        "debtor_email": debtor["email"], "debtor_address": " / ".join(debtor["address"]),
        "contract_date": _d(record["contract"]["contract_date"]), "plan": record["contract"]["plan"] or "",
        "cancelled_on": _d(record["contract"]["cancelled_on"]), "reminders_and_letters": "; ".join(letters),
        "returned_debits": "; ".join(f"{r['date']} {r['reason_code']}" for r in record["returned_debits"]),
        "creditor_name": record["creditor"]["name"],
    }


def _d(value: date | None) -> str:
    return value.isoformat() if value else ""


def check_format(fmt: str) -> str:
    fmt = fmt.strip().lower()
    if fmt not in {"csv", "json"}:
        raise InvalidInput(f"unknown export format {fmt!r}: use csv or json")
    return fmt
