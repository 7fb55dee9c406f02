"""Row <-> domain mappers, one pair per aggregate. Nothing here talks to the database."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Any

from aboguard.domain.catalog import (
    Audience,
    PaymentMethodKind,
    Plan,
    PlanVersion,
    Product,
    RenewalMode,
    TaxCategory,
    Terms,
)
from aboguard.domain.customers import Address, Customer, CustomerKind
from aboguard.domain.invoicing import Buyer, DocumentKind, Invoice, InvoiceLine, InvoiceStatus, LineKind
from aboguard.domain.ledger import EntryKind, JournalEntry, JournalLine
from aboguard.domain.payment_methods import PaymentMethod, PaymentMethodStatus
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import Subscription, SubscriptionStatus, due_on
from aboguard.domain.tax import TaxGroup, TaxTreatment
from aboguard.ids import (
    CustomerId,
    InvoiceId,
    JournalEntryId,
    PaymentMethodId,
    PlanId,
    PlanVersionId,
    ProductId,
    SubscriptionId,
)
from aboguard.money import Money

from .secrets import SecretBox
from .uow import StoredEvent

Row = Mapping[str, Any]


# -- products -----------------------------------------------------------------------------------------


def product_to_row(product: Product) -> dict[str, Any]:
    return {"id": product.id, "code": product.code, "name": product.name, "created_at": product.created_at}


def product_from_row(row: Row) -> Product:
    return Product(ProductId(row["id"]), row["code"], row["name"], row["created_at"])


# -- plans and versions -------------------------------------------------------------------------------


def plan_to_row(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id, "code": plan.code, "name": plan.name, "product_id": plan.product_id,
        "audience": plan.audience.value, "current_version_id": plan.current.id, "active": plan.active,
        "created_at": plan.created_at, "terms_code": plan.terms_code,
    }


def plan_from_row(row: Row, versions: Iterable[PlanVersion]) -> Plan:
    """The plan with ``versions`` ordered oldest first; the current one is picked by id."""
    ordered = tuple(sorted(versions, key=lambda v: v.number))
    current = next((v for v in ordered if v.id == row["current_version_id"]), None)
    if current is None:
        raise LookupError(f"plan {row['code']!r} has no version {row['current_version_id']!r}")
    return Plan(
        id=PlanId(row["id"]), code=row["code"], name=row["name"], product_id=ProductId(row["product_id"]),
        audience=Audience(row["audience"]), current=current, created_at=row["created_at"],
        active=bool(row["active"]), versions=ordered, terms_code=row["terms_code"],
    )


def version_to_row(version: PlanVersion) -> dict[str, Any]:
    if version.setup_fee is not None and version.setup_fee.currency != version.price.currency:
        raise ValueError(f"setup fee currency {version.setup_fee.currency} differs from the price's "
                         f"{version.price.currency}: the schema keeps one currency per version")
    terms = version.terms
    return {
        "id": version.id, "plan_id": version.plan_id, "number": version.number,
        "amount_minor": version.price.minor, "currency": version.price.currency,
        "interval_unit": version.interval.unit.value, "interval_count": version.interval.count,
        "trial_days": version.trial_days,
        "setup_fee_minor": version.setup_fee.minor if version.setup_fee is not None else None,
        "tax_category": version.tax_category.value, "tax_inclusive": version.tax_inclusive,
        "min_term_months": terms.min_term_months, "notice_days": terms.notice_days,
        "renewal": terms.renewal.value, "renewal_term_months": terms.renewal_term_months,
        "payment_methods": ",".join(sorted(m.value for m in version.payment_methods)),
        "created_at": version.created_at,
    }


def version_from_row(row: Row) -> PlanVersion:
    currency = row["currency"].strip()
    setup_fee = row["setup_fee_minor"]
    methods = row["payment_methods"]
    return PlanVersion(
        id=PlanVersionId(row["id"]), plan_id=PlanId(row["plan_id"]), number=row["number"],
        price=Money(int(row["amount_minor"]), currency),
        interval=Interval(IntervalUnit(row["interval_unit"]), int(row["interval_count"])),
        trial_days=row["trial_days"],
        setup_fee=Money(int(setup_fee), currency) if setup_fee is not None else None,
        tax_category=TaxCategory(row["tax_category"]), tax_inclusive=bool(row["tax_inclusive"]),
        terms=Terms(min_term_months=row["min_term_months"], notice_days=row["notice_days"],
                    renewal=RenewalMode(row["renewal"]), renewal_term_months=row["renewal_term_months"]),
        payment_methods=frozenset(PaymentMethodKind(m) for m in methods.split(",") if m),
        created_at=row["created_at"],
    )


# -- customers ----------------------------------------------------------------------------------------


def customer_to_row(customer: Customer) -> dict[str, Any]:
    address = customer.address
    return {
        "id": customer.id, "kind": customer.kind.value, "email": customer.email, "name": customer.name,
        "country": customer.country, "locale": customer.locale, "vat_id": customer.vat_id,
        "company": customer.company, "address_line1": address.line1, "address_line2": address.line2,
        "address_postal_code": address.postal_code, "address_city": address.city,
        "external_ref": customer.external_ref, "version": customer.version, "created_at": customer.created_at,
    }


def customer_from_row(row: Row) -> Customer:
    return Customer(
        id=CustomerId(row["id"]), kind=CustomerKind(row["kind"]), email=row["email"], name=row["name"],
        country=row["country"].strip(), locale=row["locale"], created_at=row["created_at"],
        vat_id=row["vat_id"], company=row["company"],
        address=Address(line1=row["address_line1"], line2=row["address_line2"],
                        postal_code=row["address_postal_code"], city=row["address_city"]),
        external_ref=row["external_ref"], version=row["version"],
    )


# -- subscriptions ------------------------------------------------------------------------------------

_SUBSCRIPTION_DATES = ("start_on", "billing_anchor", "next_bill_on", "trial_end_on", "min_term_end_on",
                       "canceled_on", "ends_on", "paused_on", "pending_change_on")


def subscription_to_row(sub: Subscription) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": sub.id, "customer_id": sub.customer_id, "plan_version_id": sub.plan_version_id,
        "status": sub.status.value, "consumer": sub.consumer, "cancel_reason": sub.cancel_reason,
        "pending_plan_version_id": sub.pending_plan_version_id, "version": sub.version,
        "created_at": sub.created_at,
    }
    row.update({name: getattr(sub, name) for name in _SUBSCRIPTION_DATES})
    row["due_on"] = due_on(sub)
    return row


_SUBSCRIPTION_COLUMNS: dict[str, Callable[[Subscription], Any]] = {
    **{name: attrgetter(name) for name in ("id", "customer_id", "plan_version_id", "consumer", "cancel_reason",
                                           "pending_plan_version_id", "version", "created_at",
                                           *_SUBSCRIPTION_DATES)},
    "status": lambda sub: sub.status.value,
    "due_on": due_on,
}


def subscription_columns(names: Iterable[str]) -> Callable[[Subscription], dict[str, Any]]:
    """A mapper writing only ``names`` (columns of ``subscription_to_row``), for partial bulk updates."""
    unknown = set(names) - set(_SUBSCRIPTION_COLUMNS)
    if unknown:
        raise ValueError(f"not a subscription column: {', '.join(sorted(unknown))}")
    getters = [(name, _SUBSCRIPTION_COLUMNS[name]) for name in names]
    return lambda sub: {name: get(sub) for name, get in getters}


def subscription_from_row(row: Row) -> Subscription:
    pending = row["pending_plan_version_id"]
    return Subscription(
        id=SubscriptionId(row["id"]), customer_id=CustomerId(row["customer_id"]),
        plan_version_id=PlanVersionId(row["plan_version_id"]), status=SubscriptionStatus(row["status"]),
        created_at=row["created_at"], consumer=bool(row["consumer"]), cancel_reason=row["cancel_reason"],
        pending_plan_version_id=PlanVersionId(pending) if pending is not None else None,
        version=row["version"], **{name: row[name] for name in _SUBSCRIPTION_DATES},
    )


# -- events -------------------------------------------------------------------------------------------


def event_from_row(row: Row) -> StoredEvent:
    return StoredEvent(id=row["id"], name=row["name"], aggregate_type=row["aggregate_type"],
                       aggregate_id=row["aggregate_id"], payload=dict(row["payload"]),
                       occurred_at=row["occurred_at"])


# -- invoices -----------------------------------------------------------------------------------------


def invoice_to_row(invoice: Invoice) -> dict[str, Any]:
    buyer = invoice.buyer
    return {
        "id": invoice.id, "kind": invoice.kind.value, "status": invoice.status.value, "number": invoice.number,
        "customer_id": invoice.customer_id, "subscription_id": invoice.subscription_id,
        "currency": invoice.currency,
        "buyer": {"name": buyer.name, "email": buyer.email, "country": buyer.country, "locale": buyer.locale,
                  "company": buyer.company, "vat_id": buyer.vat_id, "address_lines": list(buyer.address_lines)},
        "tax_treatment": invoice.tax_treatment.value, "tax_country": invoice.tax_country,
        "tax_note_de": invoice.tax_note_de, "tax_note_en": invoice.tax_note_en,
        "prices_include_tax": invoice.prices_include_tax, "net_minor": invoice.net.minor,
        "tax_minor": invoice.tax.minor, "total_minor": invoice.total.minor, "paid_minor": invoice.paid.minor,
        "credited_minor": invoice.credited.minor,
        "tax_groups": [{"category": g.category.value, "code": g.code, "rate": str(g.rate),
                        "net_minor": g.net.minor, "tax_minor": g.tax.minor} for g in invoice.tax_groups],
        "supply_start": invoice.supply_start, "supply_end": invoice.supply_end,
        "payment_method": invoice.payment_method.value if invoice.payment_method else None,
        "billing_key": invoice.billing_key, "corrects_id": invoice.corrects_id, "issued_on": invoice.issued_on,
        "due_on": invoice.due_on, "created_at": invoice.created_at, "version": invoice.version,
        "collect_on": invoice.collect_on,
        "skonto_percent": str(invoice.skonto_percent) if invoice.skonto_percent is not None else None,
        "skonto_until": invoice.skonto_until,
    }


def invoice_line_rows(invoice: Invoice) -> list[dict[str, Any]]:
    return [{"invoice_id": invoice.id, "position": line.position, "kind": line.kind.value,
             "description": line.description, "amount_minor": line.amount.minor, "net_minor": line.net.minor,
             "tax_category": line.tax_category.value, "tax_rate": str(line.tax_rate),
             "period_start": line.period_start, "period_end": line.period_end,
             "plan_version_id": line.plan_version_id} for line in invoice.lines]


def invoice_from_rows(row: Row, lines: Sequence[Row]) -> Invoice:
    currency = row["currency"]
    buyer = row["buyer"]

    def money(minor: int) -> Money:
        return Money(minor, currency)

    method = row["payment_method"]
    issued = row["status"] != InvoiceStatus.DRAFT.value
    return Invoice(
        id=InvoiceId(row["id"]), kind=DocumentKind(row["kind"]), status=InvoiceStatus(row["status"]),
        customer_id=CustomerId(row["customer_id"]),
        subscription_id=SubscriptionId(row["subscription_id"]) if row["subscription_id"] else None,
        currency=currency,
        buyer=Buyer(name=buyer["name"], email=buyer["email"], country=buyer["country"], locale=buyer["locale"],
                    company=buyer.get("company"), vat_id=buyer.get("vat_id"),
                    address_lines=tuple(buyer.get("address_lines") or ())),
        lines=tuple(InvoiceLine(
            position=line["position"], kind=LineKind(line["kind"]), description=line["description"],
            amount=money(line["amount_minor"]), net=money(line["net_minor"]),
            tax_category=TaxCategory(line["tax_category"]), tax_rate=Decimal(line["tax_rate"]),
            period_start=line["period_start"], period_end=line["period_end"],
            plan_version_id=PlanVersionId(line["plan_version_id"]) if line["plan_version_id"] else None)
            for line in sorted(lines, key=lambda r: r["position"])),
        tax_groups=tuple(TaxGroup(category=TaxCategory(g["category"]), code=g["code"], rate=Decimal(g["rate"]),
                                  net=money(g["net_minor"]), tax=money(g["tax_minor"]))
                         for g in row["tax_groups"]),
        tax_treatment=TaxTreatment(row["tax_treatment"]), tax_country=row["tax_country"],
        tax_note_de=row["tax_note_de"], tax_note_en=row["tax_note_en"],
        prices_include_tax=bool(row["prices_include_tax"]), net=money(row["net_minor"]),
        tax=money(row["tax_minor"]), total=money(row["total_minor"]), created_at=row["created_at"],
        supply_start=row["supply_start"], supply_end=row["supply_end"],
        payment_method=PaymentMethodKind(method) if method else None, billing_key=row["billing_key"],
        corrects_id=InvoiceId(row["corrects_id"]) if row["corrects_id"] else None, number=row["number"],
        issued_on=row["issued_on"], due_on=row["due_on"],
        amount_paid=money(row["paid_minor"]) if issued else None,
        amount_credited=money(row["credited_minor"]) if issued else None, version=row["version"],
        collect_on=row["collect_on"],
        skonto_percent=Decimal(row["skonto_percent"]) if row["skonto_percent"] is not None else None,
        skonto_until=row["skonto_until"],
    )


# -- journal ------------------------------------------------------------------------------------------


def entry_to_row(entry: JournalEntry) -> dict[str, Any]:
    return {"id": entry.id, "kind": entry.kind.value, "booked_on": entry.booked_on, "created_at": entry.created_at,
            "customer_id": entry.customer_id, "document_id": entry.document_id, "description": entry.description}


def entry_line_rows(entry: JournalEntry) -> list[dict[str, Any]]:
    return [{"entry_id": entry.id, "position": i + 1, "account": line.account, "currency": line.amount.currency,
             "amount_minor": line.amount.minor} for i, line in enumerate(entry.lines)]


def entry_from_rows(row: Row, lines: Sequence[Row]) -> JournalEntry:
    return JournalEntry(
        id=JournalEntryId(row["id"]), kind=EntryKind(row["kind"]), booked_on=row["booked_on"],
        created_at=row["created_at"],
        lines=tuple(JournalLine(line["account"], Money(line["amount_minor"], line["currency"]))
                    for line in sorted(lines, key=lambda r: r["position"])),
        customer_id=CustomerId(row["customer_id"]) if row["customer_id"] else None,
        document_id=row["document_id"], description=row["description"])


# -- payment methods ----------------------------------------------------------------------------------


def payment_method_to_row(method: PaymentMethod, secrets: SecretBox) -> dict[str, Any]:
    """The row with the gateway token and IBAN encrypted by ``secrets`` (never stored in plain text)."""
    return {
        "id": method.id, "customer_id": method.customer_id, "kind": method.kind.value,
        "is_default": method.is_default, "status": method.status.value,
        "gateway_token_enc": secrets.encrypt(method.gateway_token) if method.gateway_token else None,
        "brand": method.brand, "last4": method.last4, "exp_month": method.exp_month,
        "exp_year": method.exp_year, "payer_email": method.payer_email,
        "iban_enc": secrets.encrypt(method.iban) if method.iban else None, "iban_last4": method.iban_last4,
        "bic": method.bic, "account_holder": method.account_holder,
        "mandate_reference": method.mandate_reference, "mandate_signed_on": method.mandate_signed_on,
        "created_at": method.created_at, "version": method.version,
        "mandate_scheme": method.mandate_scheme, "mandate_type": method.mandate_type,
        "mandate_status": method.mandate_status, "mandate_last_used_on": method.mandate_last_used_on,
        "mandate_original_reference": method.mandate_original_reference,
        "mandate_original_iban_enc": secrets.encrypt(method.mandate_original_iban)
        if method.mandate_original_iban else None,
        "mandate_new_bank": method.mandate_new_bank,
    }


def payment_method_from_row(row: Row, secrets: SecretBox) -> PaymentMethod:
    token, iban = row["gateway_token_enc"], row["iban_enc"]
    return PaymentMethod(
        id=PaymentMethodId(row["id"]), customer_id=CustomerId(row["customer_id"]),
        kind=PaymentMethodKind(row["kind"]), is_default=bool(row["is_default"]),
        status=PaymentMethodStatus(row["status"]), created_at=row["created_at"],
        gateway_token=secrets.decrypt(token) if token else None, brand=row["brand"], last4=row["last4"],
        exp_month=row["exp_month"], exp_year=row["exp_year"], payer_email=row["payer_email"],
        iban=secrets.decrypt(iban) if iban else None, bic=row["bic"], account_holder=row["account_holder"],
        mandate_reference=row["mandate_reference"], mandate_signed_on=row["mandate_signed_on"],
        version=row["version"], mandate_scheme=row["mandate_scheme"], mandate_type=row["mandate_type"],
        mandate_status=row["mandate_status"], mandate_last_used_on=row["mandate_last_used_on"],
        mandate_original_reference=row["mandate_original_reference"],
        mandate_original_iban=secrets.decrypt(row["mandate_original_iban_enc"])
        if row["mandate_original_iban_enc"] else None,
        mandate_new_bank=bool(row["mandate_new_bank"]),
    )
