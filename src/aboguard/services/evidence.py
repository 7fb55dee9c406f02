"""The evidence pack of one subscription: everything a collections agency or a court asks for, in one zip.

Read in one transaction (one consistent picture), valued today: the contract summary, the accepted terms
(the exact bytes) with their hash and the acceptance records, invoices and credit notes (JSON and HTML),
payment attempts with decline reasons and refunds, the SEPA mandate (masked), the dunning timeline and the
event log of the subscription and its invoices, cancellations and price-change notices, and a statement of
account whose payment lines come from the ledger (how each payment was applied, § 367 BGB). See
:mod:`aboguard.documents.evidence_pack` for the manifest and how to verify a pack.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aboguard.documents import evidence_pack, render
from aboguard.domain import terms as terms_
from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.customers import Customer
from aboguard.domain.dunning_charges import ChargeKind, charges_receivable, interest_receivable
from aboguard.domain.invoicing import DocumentKind, Invoice
from aboguard.domain.ledger import EntryKind, receivable
from aboguard.domain.refunds import Refund
from aboguard.domain.subscriptions import Subscription
from aboguard.domain.terms import Language
from aboguard.ids import CustomerId, SubscriptionId
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from .context import ServiceContext
from .contracts import ContractFacts, contract_facts, summary_for
from .dunning import unbooked_interest

_MOVEMENTS = {EntryKind.PAYMENT_RECEIVED, EntryKind.PAYMENT_REVERSED, EntryKind.REFUND, EntryKind.REFUND_REVERSED}


@dataclass(frozen=True, slots=True)
class EvidencePack:
    subscription_id: str
    files: dict[str, bytes]  # without the manifest
    data: bytes  # the zip, manifest included


def build_evidence_pack(ctx: ServiceContext, subscription_id: str) -> EvidencePack:
    files: dict[str, bytes] = {}
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(SubscriptionId(subscription_id))
        customer = uow.customers.get(sub.customer_id)
        facts = contract_facts(ctx, uow, sub)
        today = ctx.today()
        for language in Language:
            summary = summary_for(ctx, uow, sub, customer, language=language, today=today, terms=facts.terms,
                                  concluded_on=facts.concluded_on, instructed=facts.instructed)
            files[f"contract/summary.{language.value}.txt"] = summary.to_dict()["text"].encode("utf-8")
            files[f"contract/summary.{language.value}.json"] = render.to_json(summary.to_dict())
        files["contract/subscription.json"] = render.to_json(_subscription(uow, sub, customer, facts))
        files.update(_acceptances(uow, facts.acceptances))
        documents = uow.invoices.list(subscription_id=sub.id, limit=100_000)
        for document in documents:
            folder = "credit-notes" if document.is_credit_note else "invoices"
            name = f"{folder}/{_safe(document.number or document.id)}"
            files[f"{name}.json"] = render.to_json(render.invoice_dict(document))
            files[f"{name}.html"] = render.invoice_html(document, ctx.billing.merchant_name)
        invoices = [d for d in documents if d.kind is DocumentKind.INVOICE]
        files["payments/attempts.json"] = render.to_json(_attempts(uow, invoices))
        files["payments/refunds.json"] = render.to_json(
            [_refund(r) for invoice in invoices for r in uow.refunds.for_invoice(invoice.id)])
        files["payments/mandates.json"] = render.to_json(_mandates(uow, customer.id))
        files["dunning/cases.json"] = render.to_json(_dunning(uow, invoices))
        files["events/events.json"] = render.to_json(_events(uow, sub.id, documents))
        statement = _statement(ctx, uow, sub.id, customer, invoices)
        files["statement/statement.json"] = render.to_json(statement)
        files["statement/statement.html"] = render.statement_html(statement)
    meta = {"subscription_id": sub.id, "customer_id": customer.id, "generated_at": ctx.now(), "as_of": today,
            "merchant": ctx.billing.merchant_name}
    files["README.txt"] = _readme(sub.id).encode("utf-8")
    return EvidencePack(sub.id, files, evidence_pack.build_zip(files, render.plain(meta)))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _subscription(uow: UnitOfWork, sub: Subscription, customer: Customer, facts: ContractFacts) -> dict[str, Any]:
    version = uow.plans.get_version(sub.plan_version_id)
    plan = uow.plans.get(version.plan_id)
    return {
        "subscription": {"id": sub.id, "status": sub.status, "start_on": sub.start_on,
                         "trial_end_on": sub.trial_end_on, "min_term_end_on": sub.min_term_end_on,
                         "canceled_on": sub.canceled_on, "ends_on": sub.ends_on, "cancel_reason": sub.cancel_reason,
                         "created_at": sub.created_at, "concluded_on": facts.concluded_on},
        "plan": {"code": plan.code, "name": plan.name, "version": version.number, "price": version.price,
                 "interval": str(version.interval), "min_term_months": version.terms.min_term_months,
                 "notice_days": version.terms.notice_days, "renewal": version.terms.renewal,
                 "terms_code": plan.terms_code},
        "customer": {"id": customer.id, "kind": customer.kind, "name": customer.name, "company": customer.company,
                     "email": customer.email, "country": customer.country, "locale": customer.locale,
                     "vat_id": customer.vat_id,
                     "address": [x for x in (customer.address.line1, customer.address.line2,
                                             f"{customer.address.postal_code} {customer.address.city}".strip()) if x]},
        "cancellations": [{"id": r.id, "kind": r.kind, "received_at": r.received_at, "received_on": r.received_on,
                           "name_given": r.identity.name, "email_given": r.identity.email,
                           "contract_ref_given": r.identity.contract_ref, "channel": r.channel,
                           "reason": r.reason, "requested_last_day": r.requested_last_day,
                           "earliest_possible": r.earliest_possible, "requested_too_early": r.requested_too_early,
                           "last_day": r.last_day} for r in uow.cancellations.for_subscription(sub.id)],
        "price_changes": [{"id": n.id, "old_price": n.old_price, "new_price": n.new_price,
                           "announced_at": n.announced_at, "effective_on": n.effective_on, "status": n.status,
                           "decided_at": n.decided_at, "channel": n.decision_channel}
                          for n in uow.price_changes.for_subscription(sub.id)],
    }


def _acceptances(uow: UnitOfWork, acceptances: list[terms_.Acceptance]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    records = []
    for n, a in enumerate(acceptances, start=1):
        summary_file = f"contract/accepted-summary-{n}.txt"
        files[summary_file] = a.summary_text.encode("utf-8")
        terms_file = None
        if a.terms_document_id:
            doc = uow.terms.get(a.terms_document_id)
            terms_file = f"terms/{_safe(doc.code)}-v{doc.version}-{doc.language.value}-{_safe(doc.filename)}"
            files[terms_file] = doc.content
        records.append({"id": a.id, "accepted_at": a.accepted_at, "reason": a.reason, "channel": a.channel,
                        "accepted_by": a.accepted_by, "ip_address": a.ip_address, "user_agent": a.user_agent,
                        "summary_file": summary_file, "summary_sha256": a.summary_sha256,
                        "summary_locale": a.summary_locale,
                        "summary_hash_verified": terms_.sha256_hex(a.summary_text.encode("utf-8")) == a.summary_sha256,
                        "terms": None if not a.terms_document_id else {
                            "file": terms_file, "code": a.terms_code, "version": a.terms_version,
                            "language": a.terms_language, "sha256": a.terms_sha256,
                            "hash_verified": terms_.sha256_hex(files[terms_file or ""]) == a.terms_sha256}})
    files["contract/acceptances.json"] = render.to_json(records)
    return files


def _attempts(uow: UnitOfWork, invoices: list[Invoice]) -> list[dict[str, Any]]:
    return [{"invoice": invoice.number, "number": a.number, "created_at": a.created_at, "updated_at": a.updated_at,
             "amount": a.amount, "method": a.method_kind, "gateway": a.gateway, "status": a.status,
             "provider_payment_id": a.provider_payment_id, "decline_code": a.decline_code,
             "decline_class": a.decline_class, "decline_message": a.decline_message, "raw_code": a.raw_code,
             "retry_decision": a.retry_action, "retry_on": a.retry_on, "retry_reason": a.retry_reason}
            for invoice in invoices for a in uow.attempts.list(invoice_id=invoice.id, limit=10_000)]


def _refund(r: Refund) -> dict[str, Any]:
    return {"id": r.id, "invoice_id": r.invoice_id, "credit_note_id": r.credit_note_id, "amount": r.amount,
            "channel": r.channel, "status": r.status, "reason": r.reason, "created_at": r.created_at,
            "updated_at": r.updated_at, "provider_refund_id": r.provider_refund_id, "failure_code": r.failure_code}


def _mandates(uow: UnitOfWork, customer_id: CustomerId) -> list[dict[str, Any]]:
    return [{"id": m.id, "status": m.status, "default": m.is_default, "iban_masked": m.label(),
             "bic": m.bic, "account_holder": m.account_holder, "mandate_reference": m.mandate_reference,
             "signed_on": m.mandate_signed_on, "created_at": m.created_at}
            for m in uow.payment_methods.list_for_customer(customer_id, include_removed=True)
            if m.kind is PaymentMethodKind.SEPA_DEBIT]


def _dunning(uow: UnitOfWork, invoices: list[Invoice]) -> list[dict[str, Any]]:
    cases = []
    for invoice in invoices:
        case = uow.dunning.case_for_invoice(invoice.id)
        if case is None:
            continue
        cases.append({
            "invoice": invoice.number, "case_id": case.id, "policy": case.policy_code, "status": case.status,
            "due_on": case.due_on, "default_since": case.default_since, "pause_reason": case.pause_reason,
            "timeline": [{"seq": e.seq, "date": e.happened_on, "action": e.action, "channel": e.channel,
                          "detail": e.detail, "recorded_at": e.created_at} for e in uow.dunning.timeline(case.id)],
            "charges": [{"date": c.charged_on, "kind": c.kind, "description": c.description, "amount": c.amount,
                         "paid": c.paid, "waived": c.waived, "open": c.open}
                        for c in uow.dunning.charges_for_invoice(invoice.id)]})
    return cases


def _events(uow: UnitOfWork, subscription_id: str, documents: list[Invoice]) -> list[dict[str, Any]]:
    found = {}
    for aggregate in (subscription_id, *(d.id for d in documents)):
        for e in uow.events.list(aggregate_id=aggregate, limit=100_000):
            found[e.id] = {"id": e.id, "name": e.name, "aggregate_type": e.aggregate_type,
                           "aggregate_id": e.aggregate_id, "occurred_at": e.occurred_at, "payload": e.payload}
    return sorted(found.values(), key=lambda e: (e["occurred_at"], e["id"]))


def _statement(ctx: ServiceContext, uow: UnitOfWork, subscription_id: str, customer: Customer,
               invoices: list[Invoice]) -> dict[str, Any]:
    today = ctx.today()
    accounts = {receivable(customer.id): "principal", charges_receivable(customer.id): "costs",
                interest_receivable(customer.id): "interest"}
    items = []
    totals: dict[str, dict[str, Money]] = defaultdict(dict)
    for invoice in sorted(invoices, key=lambda i: (i.issued_on or today, i.number or "")):
        zero = Money.zero(invoice.currency)
        charges = uow.dunning.charges_for_invoice(invoice.id)
        case = uow.dunning.case_for_invoice(invoice.id)
        unbooked = unbooked_interest(uow, case, invoice, charges, consumer=not customer.is_business, today=today) \
            if case is not None else None
        accrued = unbooked.due if unbooked else zero
        fees = [c for c in charges if c.kind is not ChargeKind.INTEREST]
        interest_open = sum((c.open for c in charges if c.kind is ChargeKind.INTEREST), zero)
        fees_open = sum((c.open for c in fees), zero)
        payments = []
        for entry in uow.ledger.entries_for(invoice.id):
            if entry.kind not in _MOVEMENTS:
                continue
            applied = {"costs": zero, "interest": zero, "principal": zero}
            for line in entry.lines:
                if line.account in accounts:
                    applied[accounts[line.account]] = applied[accounts[line.account]] - line.amount
            payments.append({"date": entry.booked_on, "kind": entry.kind, "description": entry.description,
                             "amount": applied["costs"] + applied["interest"] + applied["principal"],
                             "applied": applied})
        principal_open = invoice.amount_due
        open_total = principal_open + fees_open + interest_open + accrued
        items.append({"number": invoice.number, "issued_on": invoice.issued_on, "due_on": invoice.due_on,
                      "total": invoice.total, "credited": invoice.credited, "paid": invoice.paid,
                      "principal_open": principal_open, "fees_open": fees_open, "interest_open": interest_open,
                      "interest_accrued": accrued, "open_total": open_total,
                      "fees": [{"date": c.charged_on, "kind": c.kind, "description": c.description,
                                "amount": c.amount, "open": c.open} for c in fees],
                      "interest_charges": [{"date": c.charged_on, "description": c.description, "amount": c.amount,
                                            "open": c.open} for c in charges if c.kind is ChargeKind.INTEREST],
                      "payments": payments,
                      "dunning": [{"date": e.happened_on, "action": e.action, "channel": e.channel,
                                   "detail": e.detail} for e in (uow.dunning.timeline(case.id) if case else [])]})
        sums = totals[invoice.currency]
        for key, value in (("principal_open", principal_open), ("fees_open", fees_open),
                           ("interest_open", interest_open + accrued), ("open_total", open_total)):
            sums[key] = sums.get(key, zero) + value
    return {"subscription_id": subscription_id, "as_of": today, "creditor": ctx.billing.merchant_name,
            "debtor": customer.company or customer.name, "application_rule": "§ 367 (1) BGB: costs, interest, "
            "principal", "invoices": items, "totals": dict(totals)}


def _readme(subscription_id: str) -> str:
    return (f"Evidence pack for subscription {subscription_id} / Beweismappe zum Vertrag {subscription_id}\n\n"
            "manifest.json            SHA-256 and size of every file / Prüfsummen aller Dateien\n"
            "contract/                contract summary (de, en), subscription, cancellations, acceptance records\n"
            "                         and the summaries the customer accepted, exactly as shown\n"
            "terms/                   the terms versions accepted, the exact files\n"
            "invoices/, credit-notes/ every invoice and credit note, JSON and HTML\n"
            "payments/                payment attempts with decline reasons, refunds, SEPA mandates (IBAN masked)\n"
            "dunning/                 reminders and dunning letters (timeline), fees and interest charged\n"
            "events/                  the event log of the subscription and its invoices\n"
            "statement/               statement of account (HTML and JSON): principal, fees, interest to date,\n"
            "                         payments and how each was applied (§ 367 BGB)\n")
