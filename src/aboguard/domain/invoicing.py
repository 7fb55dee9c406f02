"""Invoices and credit notes: lines, VAT breakdown, totals, payment terms and status.

An invoice is built as a draft from priced lines; :func:`issue` gives it its number, issue date and due
date, after which it never changes (GoBD): payments and credits change only its settlement figures, and
corrections are credit notes (Stornorechnung) that reference the invoice. Every total is reproducible
from the lines: line nets sum to the VAT group nets, group taxes to the invoice tax (see ``tax.py``).

Amounts on lines are the prices as the merchant defined them: gross when ``prices_include_tax`` (German
consumers see gross prices), net otherwise. ``net`` on a line is the derived net (EN 16931 BT-131).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from aboguard.errors import InvalidInvoice, InvalidTransition
from aboguard.ids import CustomerId, InvoiceId, PlanVersionId, SubscriptionId
from aboguard.money import Money

from . import events as ev
from ._evolve import evolve
from .catalog import PaymentMethodKind, PlanVersion, TaxCategory
from .early_payment import skonto_amount
from .periods import Period
from .subscriptions import Proration
from .tax import TaxDecision, TaxGroup, TaxTreatment, compute

PAY_BY_INVOICE_DAYS = 14
AUTO_COLLECTED = frozenset({PaymentMethodKind.CARD, PaymentMethodKind.PAYPAL, PaymentMethodKind.SEPA_DEBIT})


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    UNCOLLECTIBLE = "uncollectible"
    VOID = "void"  # only through a credit note for the whole amount


OPEN = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID})


class LineKind(StrEnum):
    PLAN = "plan"
    SETUP_FEE = "setup_fee"
    PRORATION_CREDIT = "proration_credit"
    PRORATION_CHARGE = "proration_charge"
    DISCOUNT = "discount"
    CORRECTION = "correction"  # a credit note's line, positive amounts that reduce the invoice


@dataclass(frozen=True, slots=True)
class LineDraft:
    """A priced line before VAT is worked out."""

    kind: LineKind
    description: str
    amount: Money
    tax_category: TaxCategory
    period: Period | None = None
    plan_version_id: PlanVersionId | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    position: int
    kind: LineKind
    description: str
    amount: Money
    net: Money
    tax_category: TaxCategory
    tax_rate: Decimal
    period_start: date | None = None
    period_end: date | None = None  # exclusive
    plan_version_id: PlanVersionId | None = None


@dataclass(frozen=True, slots=True)
class Buyer:
    """The customer as the document names them, frozen at issue (a later address change does not alter it)."""

    name: str
    email: str
    country: str
    locale: str
    company: str | None = None
    vat_id: str | None = None
    address_lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Invoice:
    id: InvoiceId
    kind: DocumentKind
    status: InvoiceStatus
    customer_id: CustomerId
    subscription_id: SubscriptionId | None
    currency: str
    buyer: Buyer
    lines: tuple[InvoiceLine, ...]
    tax_groups: tuple[TaxGroup, ...]
    tax_treatment: TaxTreatment
    tax_country: str
    tax_note_de: str | None
    tax_note_en: str | None
    prices_include_tax: bool
    net: Money
    tax: Money
    total: Money
    created_at: datetime
    supply_start: date | None = None
    supply_end: date | None = None  # exclusive
    payment_method: PaymentMethodKind | None = None
    billing_key: str | None = None  # unique per subscription period: billing it twice is impossible
    corrects_id: InvoiceId | None = None  # the invoice a credit note corrects
    number: str | None = None
    issued_on: date | None = None
    due_on: date | None = None
    amount_paid: Money | None = None
    amount_credited: Money | None = None
    collect_on: date | None = None  # when the collection run should charge it (auto-collected methods only)
    version: int = 1
    skonto_percent: Decimal | None = None  # early-payment discount printed on a pay-by-invoice invoice
    skonto_until: date | None = None  # the last day to pay with it

    @property
    def skonto(self) -> Money | None:
        """The Skonto the invoice offers (None: it offers none)."""
        if self.skonto_percent is None:
            return None
        return skonto_amount(self.total, self.skonto_percent)

    @property
    def paid(self) -> Money:
        return self.amount_paid or Money.zero(self.currency)

    @property
    def credited(self) -> Money:
        return self.amount_credited or Money.zero(self.currency)

    @property
    def amount_due(self) -> Money:
        """What the customer still owes on this invoice (negative: money owed back to them)."""
        if self.kind is DocumentKind.CREDIT_NOTE or self.status is InvoiceStatus.DRAFT:
            return Money.zero(self.currency)
        return self.total - self.paid - self.credited

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE


def due_date(issued_on: date, method: PaymentMethodKind | None, *, pay_by_invoice_days: int = PAY_BY_INVOICE_DAYS
             ) -> date:
    """Auto-collected methods are due on issue; bank transfer (or no method yet) after the payment term."""
    if method in AUTO_COLLECTED:
        return issued_on
    return issued_on + timedelta(days=pay_by_invoice_days)


def draft(invoice_id: InvoiceId, *, kind: DocumentKind = DocumentKind.INVOICE, customer_id: CustomerId,
          subscription_id: SubscriptionId | None, buyer: Buyer, lines: Sequence[LineDraft], decision: TaxDecision,
          tax_date: date, prices_include_tax: bool, currency: str, created_at: datetime,
          payment_method: PaymentMethodKind | None = None, billing_key: str | None = None,
          corrects_id: InvoiceId | None = None) -> Invoice:
    """A draft with its VAT worked out; lines in the order given."""
    if not lines:
        raise InvalidInvoice("an invoice needs at least one line")
    for line in lines:
        if line.amount.currency != currency:
            raise InvalidInvoice(f"line {line.description!r} is in {line.amount.currency}, the invoice in {currency}")
    result = compute([(line.tax_category, line.amount) for line in lines], decision, on=tax_date,
                     prices_include_tax=prices_include_tax, currency=currency)
    built = tuple(
        InvoiceLine(position=i + 1, kind=line.kind, description=line.description, amount=line.amount, net=net,
                    tax_category=line.tax_category, tax_rate=decision.rate(line.tax_category, tax_date),
                    period_start=line.period.start if line.period else None,
                    period_end=line.period.end if line.period else None, plan_version_id=line.plan_version_id)
        for i, (line, net) in enumerate(zip(lines, result.line_nets, strict=True)))
    periods = [line.period for line in lines if line.period is not None]
    if kind is DocumentKind.INVOICE and result.total.is_negative():
        raise InvalidInvoice(f"an invoice cannot total {result.total}; issue a credit note instead")
    return Invoice(
        id=invoice_id, kind=kind, status=InvoiceStatus.DRAFT, customer_id=customer_id,
        subscription_id=subscription_id, currency=currency, buyer=buyer, lines=built, tax_groups=result.groups,
        tax_treatment=decision.treatment, tax_country=decision.country, tax_note_de=decision.note_de,
        tax_note_en=decision.note_en, prices_include_tax=prices_include_tax, net=result.net, tax=result.tax,
        total=result.total, created_at=created_at,
        supply_start=min(p.start for p in periods) if periods else None,
        supply_end=max(p.end for p in periods) if periods else None,
        payment_method=payment_method, billing_key=billing_key, corrects_id=corrects_id)


def issue(invoice: Invoice, *, number: str, issued_on: date, pay_by_invoice_days: int = PAY_BY_INVOICE_DAYS,
          skonto: tuple[Decimal, int] | None = None) -> tuple[Invoice, list[ev.Event]]:
    """Give a draft its number and dates. From here on the document is immutable."""
    if invoice.status is not InvoiceStatus.DRAFT:
        raise InvalidTransition(f"invoice {invoice.number or invoice.id} is already {invoice.status}")
    zero = Money.zero(invoice.currency)
    due = issued_on if invoice.is_credit_note else due_date(issued_on, invoice.payment_method,
                                                            pay_by_invoice_days=pay_by_invoice_days)
    status = InvoiceStatus.ISSUED
    if not invoice.is_credit_note and invoice.total.is_zero():
        status = InvoiceStatus.PAID  # nothing to collect (a free period, a fully discounted invoice)
    collect = due if (status is InvoiceStatus.ISSUED and not invoice.is_credit_note
                      and invoice.payment_method in AUTO_COLLECTED) else None
    skonto_percent = skonto_until = None
    if skonto is not None and status is InvoiceStatus.ISSUED and not invoice.is_credit_note \
            and invoice.payment_method not in AUTO_COLLECTED:  # Skonto is offered for payment by transfer
        skonto_percent, skonto_until = skonto[0], issued_on + timedelta(days=skonto[1])
    issued = evolve(invoice, status=status, number=number, issued_on=issued_on, due_on=due, amount_paid=zero,
                    amount_credited=zero, collect_on=collect, skonto_percent=skonto_percent,
                    skonto_until=skonto_until)
    event: ev.Event
    if invoice.is_credit_note:
        event = ev.CreditNoteIssued(issued.id, number, issued.customer_id, issued.total, issued.corrects_id or "")
    else:
        event = ev.InvoiceIssued(issued.id, number, issued.customer_id, issued.subscription_id or "", issued.total,
                                 due)
    return issued, [event]


def plan_lines(version: PlanVersion, plan_name: str, period: Period, *, first: bool) -> list[LineDraft]:
    """The plan price for ``period`` (billed in advance), cut pro rata for a short last period; setup fee first time."""
    lines = [LineDraft(LineKind.PLAN, f"{plan_name} {period.start.isoformat()} – {period.last_day.isoformat()}",
                       version.price, version.tax_category, period, version.id)]
    if first and version.setup_fee is not None and not version.setup_fee.is_zero():
        lines.append(LineDraft(LineKind.SETUP_FEE, f"{plan_name}: setup fee", version.setup_fee,
                               version.tax_category, None, version.id))
    return lines


def proration_lines(proration: Proration, old: PlanVersion, old_name: str, new: PlanVersion, new_name: str
                    ) -> list[LineDraft]:
    period = proration.period
    span = f"{period.start.isoformat()} – {period.last_day.isoformat()}"
    return [
        LineDraft(LineKind.PRORATION_CREDIT, f"Unused time on {old_name} {span}", -proration.credit,
                  old.tax_category, period, old.id),
        LineDraft(LineKind.PRORATION_CHARGE, f"{new_name} {span}", proration.charge, new.tax_category, period,
                  new.id),
    ]


def credit_note_lines(invoice: Invoice, amount: Money | None, reason: str) -> list[LineDraft]:
    """Lines of a credit note for ``amount`` of ``invoice`` (all of what is left to credit when None).

    A full credit mirrors the invoice's lines; a partial one is spread over the VAT categories of the
    invoice in proportion to their gross, so the VAT correction follows the original rates.
    """
    if invoice.is_credit_note or invoice.status is InvoiceStatus.DRAFT:
        raise InvalidInvoice("only an issued invoice can be corrected by a credit note")
    if invoice.status is InvoiceStatus.VOID:
        raise InvalidInvoice(f"invoice {invoice.number} is already void")
    left = invoice.total - invoice.credited
    if amount is None:
        amount = left
    if amount.currency != invoice.currency:
        raise InvalidInvoice(f"the credit must be in {invoice.currency}, the invoice's currency")
    if not amount.is_positive():
        raise InvalidInvoice(f"a credit note must credit a positive amount, not {amount}")
    if amount > left:
        raise InvalidInvoice(f"invoice {invoice.number} has only {left} left to credit; {amount} is too much")
    label = f"Correction of invoice {invoice.number}: {reason}" if reason else f"Correction of invoice {invoice.number}"
    if amount == invoice.total:
        return [LineDraft(LineKind.CORRECTION, f"{label} — {line.description}", line.amount, line.tax_category,
                          Period(line.period_start, line.period_end) if line.period_start and line.period_end else None,
                          line.plan_version_id)
                for line in invoice.lines]
    groups = [g for g in invoice.tax_groups if not g.gross.is_zero()]
    if not groups:
        raise InvalidInvoice(f"invoice {invoice.number} has nothing to credit")
    shares = amount.allocate([g.gross.minor for g in groups])
    lines: list[LineDraft] = []
    for group, share in zip(groups, shares, strict=True):
        if share.is_zero():
            continue
        price = share if invoice.prices_include_tax else _net_of(share, group.rate, invoice.currency)
        lines.append(LineDraft(LineKind.CORRECTION, label, price, group.category))
    return lines


def _net_of(gross: Money, rate: Decimal, currency: str) -> Money:
    return Money.from_decimal(gross.to_decimal() / (1 + rate), currency)


def apply_credit(invoice: Invoice, credit_note: Invoice) -> tuple[Invoice, list[ev.Event]]:
    """Record an issued credit note against its invoice; a full credit of an unpaid invoice voids it."""
    credited = invoice.credited + credit_note.total
    if credited > invoice.total:
        raise InvalidInvoice(f"invoice {invoice.number} would be credited {credited}, more than its total")
    status = invoice.status
    events: list[ev.Event] = []
    if credited == invoice.total and invoice.paid.is_zero():
        status = InvoiceStatus.VOID
        events.append(ev.InvoiceVoided(invoice.id, invoice.number or "", credit_note.id))
    elif invoice.total - invoice.paid - credited <= Money.zero(invoice.currency) and status in OPEN:
        status = InvoiceStatus.PAID
    collect_on = invoice.collect_on if status in OPEN else None
    return replace(invoice, amount_credited=credited, status=status, collect_on=collect_on), events


def apply_payment(invoice: Invoice, amount: Money) -> tuple[Invoice, list[ev.Event]]:
    """Record money received for an open invoice: partially paid, or paid once nothing is left."""
    if invoice.is_credit_note or invoice.status not in OPEN:
        raise InvalidTransition(f"{invoice.number or invoice.id} is {invoice.status}; only an open invoice "
                                "takes payments")
    if amount.currency != invoice.currency or not amount.is_positive():
        raise InvalidInvoice(f"a payment must be a positive amount in {invoice.currency}, not {amount}")
    due = invoice.amount_due
    if amount > due:
        raise InvalidInvoice(f"invoice {invoice.number} has {due} open; {amount} is more (book the surplus "
                             "as the customer's credit instead)")
    paid = invoice.paid + amount
    settled = amount == due
    updated = replace(invoice, amount_paid=paid, collect_on=None if settled else invoice.collect_on,
                      status=InvoiceStatus.PAID if settled else InvoiceStatus.PARTIALLY_PAID)
    event: ev.Event = (ev.InvoicePaid(invoice.id, invoice.number or "", amount) if settled
                       else ev.InvoicePartiallyPaid(invoice.id, invoice.number or "", amount, due - amount))
    return updated, [event]


def reverse_payment(invoice: Invoice, amount: Money) -> Invoice:
    """Money received earlier went back (a SEPA return, a chargeback): the invoice is open again."""
    if amount.currency != invoice.currency or not amount.is_positive() or amount > invoice.paid:
        raise InvalidInvoice(f"cannot reverse {amount} on {invoice.number}: {invoice.paid} was paid")
    paid = invoice.paid - amount
    status = InvoiceStatus.ISSUED if paid.is_zero() else InvoiceStatus.PARTIALLY_PAID
    if invoice.status in {InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE}:
        status = invoice.status
    elif invoice.total - paid - invoice.credited <= Money.zero(invoice.currency):
        # credited meanwhile (a refund the provider refused because of this very chargeback): nothing is owed
        status = InvoiceStatus.VOID if paid.is_zero() and invoice.credited == invoice.total else InvoiceStatus.PAID
    return replace(invoice, amount_paid=paid, status=status)


def apply_refund(invoice: Invoice, amount: Money) -> Invoice:
    """Money paid for the invoice went back to the customer (after a credit note for the same amount)."""
    if invoice.is_credit_note or amount.currency != invoice.currency or not amount.is_positive() \
            or amount > invoice.paid:
        raise InvalidInvoice(f"cannot refund {amount} on {invoice.number}: {invoice.paid} was paid")
    return replace(invoice, amount_paid=invoice.paid - amount)


def reverse_refund(invoice: Invoice, amount: Money) -> Invoice:
    """A refund reported as paid out came back (the card was closed): the money counts as paid again."""
    if amount.currency != invoice.currency or not amount.is_positive():
        raise InvalidInvoice(f"cannot undo a refund of {amount} on {invoice.number}")
    return replace(invoice, amount_paid=invoice.paid + amount)


def mark_uncollectible(invoice: Invoice) -> tuple[Invoice, list[ev.Event]]:
    """Give up on what is still open (it is written off in the ledger); the claim itself is not waived."""
    if invoice.is_credit_note or invoice.status not in OPEN:
        raise InvalidTransition(f"{invoice.number or invoice.id} is {invoice.status}; only an open invoice "
                                "can be marked uncollectible")
    updated = replace(invoice, status=InvoiceStatus.UNCOLLECTIBLE, collect_on=None)
    return updated, [ev.InvoiceUncollectible(invoice.id, invoice.number or "", invoice.amount_due)]


def totals_reproducible(invoice: Invoice) -> bool:
    """The invariant every stored document keeps: lines -> groups -> totals, to the cent."""
    zero = Money.zero(invoice.currency)
    nets = sum((line.net for line in invoice.lines), zero)
    group_net = sum((g.net for g in invoice.tax_groups), zero)
    group_tax = sum((g.tax for g in invoice.tax_groups), zero)
    return nets == group_net == invoice.net and group_tax == invoice.tax and invoice.net + invoice.tax == invoice.total

