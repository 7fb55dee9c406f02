"""Double-entry bookkeeping: accounts, balanced journal entries, and the entries documents produce.

A line's amount is signed: debit positive, credit negative, so every entry sums to zero per currency.
Balances are derived by summing lines, never stored on their own. Account names are structured text
(``receivable:<customer>``, ``revenue:<treatment>:<category>``, ``vat:<country>:<rate>``) so reports
and the DATEV export can map them to a chart of accounts (SKR03/SKR04) without parsing documents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from aboguard.errors import UnbalancedEntry
from aboguard.ids import CustomerId, JournalEntryId
from aboguard.money import Money

from .invoicing import Invoice
from .tax import TaxTreatment

BANK = "bank"
CASH = "cash"
BY_HAND = {"transfer": BANK, "cash": CASH}  # where money paid or paid back outside a gateway is booked
FEES = "fees"  # bank and gateway fees (Nebenkosten des Geldverkehrs)
WRITE_OFFS = "write_offs"  # uncollectible receivables


def receivable(customer_id: str) -> str:
    """Accounts receivable of one customer (a Debitor); negative means the customer has a credit."""
    return f"receivable:{customer_id}"


def revenue(treatment: TaxTreatment, category: str) -> str:
    return f"revenue:{treatment.value}:{category}"


def vat_payable(country: str, rate: Decimal) -> str:
    return f"vat:{country}:{_percent(rate)}"


SEPA_FILE_RAIL = "sepa_file"  # the gateway name of SEPA debits sent to the bank as pain.008 files


def customer_credit(customer_id: str) -> str:
    """Money a customer paid beyond what they owed (an over-payment): owed back or set off later."""
    return f"customer_credit:{customer_id}"


def settlement_account(gateway: str) -> str:
    """Where a collected payment lands: the bank itself for pain.008 debits, else the gateway's clearing."""
    return BANK if gateway == SEPA_FILE_RAIL else clearing(gateway)


def clearing(gateway: str) -> str:
    """Money a payment provider has confirmed but not yet paid out to the bank."""
    return f"clearing:{gateway}"


def _percent(rate: Decimal) -> str:
    return format((rate * 100).normalize(), "f")


class EntryKind(StrEnum):
    INVOICE_ISSUED = "invoice_issued"
    CREDIT_NOTE_ISSUED = "credit_note_issued"
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_REVERSED = "payment_reversed"
    REFUND = "refund"
    REFUND_REVERSED = "refund_reversed"
    FEE = "fee"
    DUNNING_CHARGE = "dunning_charge"
    WRITE_OFF = "write_off"
    CUSTOMER_CREDIT = "customer_credit"


@dataclass(frozen=True, slots=True)
class JournalLine:
    account: str
    amount: Money  # debit positive, credit negative


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: JournalEntryId
    kind: EntryKind
    booked_on: date
    created_at: datetime
    lines: tuple[JournalLine, ...]
    customer_id: CustomerId | None = None
    document_id: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if len(self.lines) < 2:
            raise UnbalancedEntry(f"journal entry {self.description or self.id} needs at least two lines")
        unbalanced = {cur: total for cur, total in sums_by_currency(self.lines).items() if total}
        if unbalanced:
            raise UnbalancedEntry(f"journal entry {self.description or self.id} does not balance: " +
                                  ", ".join(f"{total} minor units of {cur}" for cur, total in unbalanced.items()))


def sums_by_currency(lines: Iterable[JournalLine]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.amount.currency] += line.amount.minor
    return dict(totals)


def document_entry(document: Invoice, entry_id: JournalEntryId, created_at: datetime) -> JournalEntry:
    """The entry an issued invoice (or, with signs reversed, a credit note) writes.

    Invoice: debit the customer's receivable with the total; credit revenue per VAT group with its net
    and VAT payable per rate with its tax.
    """
    if document.issued_on is None or document.number is None:
        raise UnbalancedEntry(f"document {document.id} is not issued; only issued documents are booked")
    sign = -1 if document.is_credit_note else 1
    lines = [JournalLine(receivable(document.customer_id), _signed(document.total, sign))]
    for group in document.tax_groups:
        if not group.net.is_zero():
            lines.append(JournalLine(revenue(document.tax_treatment, group.category.value),
                                     _signed(group.net, -sign)))
        if not group.tax.is_zero():
            lines.append(JournalLine(vat_payable(document.tax_country, group.rate), _signed(group.tax, -sign)))
    if len(lines) == 1:  # a zero document still leaves a trace that balances
        lines.append(JournalLine(revenue(document.tax_treatment, "none"), Money.zero(document.currency)))
    kind = EntryKind.CREDIT_NOTE_ISSUED if document.is_credit_note else EntryKind.INVOICE_ISSUED
    return JournalEntry(id=entry_id, kind=kind, booked_on=document.issued_on, created_at=created_at,
                        lines=tuple(lines), customer_id=document.customer_id, document_id=document.id,
                        description=f"{'Credit note' if document.is_credit_note else 'Invoice'} {document.number}")


def _signed(amount: Money, sign: int) -> Money:
    return amount if sign > 0 else -amount


def payment_entry(invoice: Invoice, amount: Money, *, into: str, booked_on: date, entry_id: JournalEntryId,
                  created_at: datetime) -> JournalEntry:
    """Money received for ``invoice`` into account ``into`` (a gateway's clearing account or the bank)."""
    return payment_received(invoice.customer_id, invoice.id, invoice.number, amount, into=into, booked_on=booked_on,
                            entry_id=entry_id, created_at=created_at)


def payment_received(customer_id: CustomerId, invoice_id: str, number: str | None, amount: Money, *, into: str,
                     booked_on: date, entry_id: JournalEntryId, created_at: datetime) -> JournalEntry:
    """:func:`payment_entry` from the invoice's identity alone (bulk settlement reads no invoice lines)."""
    return JournalEntry(id=entry_id, kind=EntryKind.PAYMENT_RECEIVED, booked_on=booked_on, created_at=created_at,
                        lines=(JournalLine(into, amount), JournalLine(receivable(customer_id), -amount)),
                        customer_id=customer_id, document_id=invoice_id, description=f"Payment for invoice {number}")


def write_off_entry(invoice: Invoice, *, booked_on: date, entry_id: JournalEntryId,
                    created_at: datetime) -> JournalEntry:
    """Write off what is open on ``invoice``: the VAT in it is corrected (§ 17 UStG), the rest is a loss.

    The open gross is spread over the invoice's VAT groups in proportion to their gross; each group's
    share gives back its VAT at the group's own ratio, so a fully unpaid invoice reverses exactly.
    """
    due = invoice.amount_due
    groups = [g for g in invoice.tax_groups if not g.gross.is_zero()]
    lines = [JournalLine(receivable(invoice.customer_id), -due)]
    shares = due.allocate([g.gross.minor for g in groups]) if groups else []
    loss = Money.zero(invoice.currency)
    for group, share in zip(groups, shares, strict=True):
        vat = Money.from_decimal(share.to_decimal() * group.tax.to_decimal() / group.gross.to_decimal(),
                                 invoice.currency) if not group.tax.is_zero() else Money.zero(invoice.currency)
        if not vat.is_zero():
            lines.append(JournalLine(vat_payable(invoice.tax_country, group.rate), vat))
        loss += share - vat
    lines.append(JournalLine(WRITE_OFFS, loss if groups else due))
    return JournalEntry(id=entry_id, kind=EntryKind.WRITE_OFF, booked_on=booked_on, created_at=created_at,
                        lines=tuple(lines), customer_id=invoice.customer_id, document_id=invoice.id,
                        description=f"Write-off of invoice {invoice.number}")


def reversal_entry(invoice: Invoice, amount: Money, *, out_of: str, booked_on: date, entry_id: JournalEntryId,
                   created_at: datetime, reason: str = "") -> JournalEntry:
    """A payment went back: the customer owes ``amount`` again; it leaves ``out_of`` (clearing or bank)."""
    return JournalEntry(id=entry_id, kind=EntryKind.PAYMENT_REVERSED, booked_on=booked_on, created_at=created_at,
                        lines=(JournalLine(receivable(invoice.customer_id), amount), JournalLine(out_of, -amount)),
                        customer_id=invoice.customer_id, document_id=invoice.id,
                        description=f"Payment for invoice {invoice.number} returned" + (f" ({reason})" if reason
                                                                                         else ""))


def refund_entry(invoice: Invoice, amount: Money, *, out_of: str, booked_on: date, entry_id: JournalEntryId,
                 created_at: datetime, credit_note_number: str | None = None) -> JournalEntry:
    """Money paid back to the customer from ``out_of``: it settles the credit the credit note gave them."""
    note = f" (credit note {credit_note_number})" if credit_note_number else ""
    return JournalEntry(id=entry_id, kind=EntryKind.REFUND, booked_on=booked_on, created_at=created_at,
                        lines=(JournalLine(receivable(invoice.customer_id), amount), JournalLine(out_of, -amount)),
                        customer_id=invoice.customer_id, document_id=invoice.id,
                        description=f"Refund for invoice {invoice.number}{note}")


def refund_reversal_entry(invoice: Invoice, amount: Money, *, into: str, booked_on: date, entry_id: JournalEntryId,
                          created_at: datetime, reason: str = "") -> JournalEntry:
    """A refund paid out earlier came back into ``into``: the customer holds the credit again."""
    return JournalEntry(id=entry_id, kind=EntryKind.REFUND_REVERSED, booked_on=booked_on, created_at=created_at,
                        lines=(JournalLine(into, amount), JournalLine(receivable(invoice.customer_id), -amount)),
                        customer_id=invoice.customer_id, document_id=invoice.id,
                        description=f"Refund for invoice {invoice.number} came back" + (f" ({reason})" if reason
                                                                                        else ""))


def fee_entry(amount: Money, *, out_of: str, booked_on: date, entry_id: JournalEntryId, created_at: datetime,
              document_id: str | None = None, description: str = "Fee") -> JournalEntry:
    """A fee the bank or gateway kept (e.g. for a returned debit): an expense paid out of ``out_of``."""
    return JournalEntry(id=entry_id, kind=EntryKind.FEE, booked_on=booked_on, created_at=created_at,
                        lines=(JournalLine(FEES, amount), JournalLine(out_of, -amount)), document_id=document_id,
                        description=description)


def credit_balance_entry(customer_id: CustomerId, amount: Money, *, into: str, booked_on: date,
                         entry_id: JournalEntryId, created_at: datetime, description: str) -> JournalEntry:
    """An over-payment: the money is in ``into``; the customer holds it as credit (a liability to them)."""
    return JournalEntry(id=entry_id, kind=EntryKind.CUSTOMER_CREDIT, booked_on=booked_on, created_at=created_at,
                        lines=(JournalLine(into, amount), JournalLine(customer_credit(customer_id), -amount)),
                        customer_id=customer_id, description=description)
