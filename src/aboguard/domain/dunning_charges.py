"""What a customer in default owes on top of the invoice: dunning fees, the § 288 (5) flat fee, interest.

Each is its own claim with its own receivable account, so the ledger shows principal, costs and
interest apart (as a collections agency and a court want them). Neither is a supply, so no VAT.
Incoming money is applied per § 367 (1) BGB: costs first, then interest, then the principal
(:func:`aboguard.domain.interest.allocate_payment`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from aboguard.errors import InvalidInput
from aboguard.ids import CustomerId, InvoiceId, JournalEntryId
from aboguard.money import Money

from .ledger import EntryKind, JournalEntry, JournalLine


class ChargeKind(StrEnum):
    DUNNING_FEE = "dunning_fee"  # material costs of a dunning letter
    FLAT_FEE = "flat_fee"  # § 288 (5) BGB, EUR 40, businesses only
    INTEREST = "interest"  # § 288 (1)/(2) BGB default interest


COSTS = frozenset({ChargeKind.DUNNING_FEE, ChargeKind.FLAT_FEE})


def charges_receivable(customer_id: str) -> str:
    """Dunning fees and the flat fee a customer owes (kept apart from invoices' receivables)."""
    return f"dunning_costs:{customer_id}"


def interest_receivable(customer_id: str) -> str:
    return f"default_interest:{customer_id}"


DUNNING_INCOME = "income:dunning_fees"
INTEREST_INCOME = "income:default_interest"


def receivable_account(kind: ChargeKind, customer_id: str) -> str:
    return interest_receivable(customer_id) if kind is ChargeKind.INTEREST else charges_receivable(customer_id)


def income_account(kind: ChargeKind) -> str:
    return INTEREST_INCOME if kind is ChargeKind.INTEREST else DUNNING_INCOME


@dataclass(frozen=True, slots=True)
class DunningCharge:
    id: str
    case_id: str
    invoice_id: InvoiceId
    customer_id: CustomerId
    kind: ChargeKind
    amount: Money
    charged_on: date
    created_at: datetime
    description: str
    paid: Money | None = None
    waived: Money | None = None
    version: int = 1

    @property
    def open(self) -> Money:
        return self.amount - (self.paid or Money.zero(self.amount.currency)) \
            - (self.waived or Money.zero(self.amount.currency))


def charge_entry(charge: DunningCharge, entry_id: JournalEntryId, created_at: datetime) -> JournalEntry:
    """The charge becomes a receivable of its own; the other side is income (no VAT: damages, not a supply)."""
    return JournalEntry(id=entry_id, kind=EntryKind.DUNNING_CHARGE, booked_on=charge.charged_on,
                        created_at=created_at,
                        lines=(JournalLine(receivable_account(charge.kind, charge.customer_id), charge.amount),
                               JournalLine(income_account(charge.kind), -charge.amount)),
                        customer_id=charge.customer_id, document_id=charge.invoice_id, description=charge.description)


def pay(charge: DunningCharge, amount: Money) -> DunningCharge:
    if amount.currency != charge.amount.currency or not amount.is_positive() or amount > charge.open:
        raise InvalidInput(f"cannot apply {amount} to a charge with {charge.open} open")
    return replace(charge, paid=(charge.paid or Money.zero(amount.currency)) + amount)


def unpay(charge: DunningCharge, amount: Money) -> DunningCharge:
    """A payment that had covered (part of) this charge went back (a SEPA return)."""
    paid = charge.paid or Money.zero(amount.currency)
    return replace(charge, paid=paid - min(paid, amount))


def waive(charge: DunningCharge) -> DunningCharge:
    """The merchant lets the rest go (goodwill, or the claim is cancelled)."""
    return replace(charge, waived=(charge.waived or Money.zero(charge.amount.currency)) + charge.open)


def waiver_entry(charge: DunningCharge, amount: Money, *, booked_on: date, entry_id: JournalEntryId,
                 created_at: datetime) -> JournalEntry:
    return JournalEntry(id=entry_id, kind=EntryKind.DUNNING_CHARGE, booked_on=booked_on, created_at=created_at,
                        lines=(JournalLine(income_account(charge.kind), amount),
                               JournalLine(receivable_account(charge.kind, charge.customer_id), -amount)),
                        customer_id=charge.customer_id, document_id=charge.invoice_id,
                        description=f"Waived: {charge.description}")


def receipt_entry(customer_id: str, invoice_id: str, parts: list[tuple[str, Money]], *, into: str, booked_on: date,
                  entry_id: JournalEntryId, created_at: datetime, description: str) -> JournalEntry:
    """Money received and applied to several claims: ``parts`` are (receivable account, amount) pairs."""
    total = sum((amount for _, amount in parts), Money.zero(parts[0][1].currency))
    lines = [JournalLine(into, total)] + [JournalLine(account, -amount) for account, amount in parts]
    return JournalEntry(id=entry_id, kind=EntryKind.PAYMENT_RECEIVED, booked_on=booked_on, created_at=created_at,
                        lines=tuple(lines), customer_id=CustomerId(customer_id), document_id=invoice_id,
                        description=description)


def return_entry(customer_id: str, invoice_id: str, parts: list[tuple[str, Money]], *, out_of: str,
                 booked_on: date, entry_id: JournalEntryId, created_at: datetime, description: str) -> JournalEntry:
    """Money received went back: each receivable in ``parts`` is owed again; the total leaves ``out_of``."""
    total = sum((amount for _, amount in parts), Money.zero(parts[0][1].currency))
    lines = [JournalLine(account, amount) for account, amount in parts] + [JournalLine(out_of, -total)]
    return JournalEntry(id=entry_id, kind=EntryKind.PAYMENT_REVERSED, booked_on=booked_on, created_at=created_at,
                        lines=tuple(lines), customer_id=CustomerId(customer_id), document_id=invoice_id,
                        description=description)


__all__ = ["COSTS", "ChargeKind", "DunningCharge", "charge_entry", "receipt_entry"]
