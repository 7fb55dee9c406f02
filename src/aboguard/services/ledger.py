"""Ledger checks and balances.

``check_ledger`` proves the books: every journal entry balances, and every customer's receivable in
the ledger equals what their issued invoices say is still open.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aboguard.domain import ledger
from aboguard.domain.invoicing import DocumentKind, Invoice, InvoiceStatus
from aboguard.ids import CustomerId
from aboguard.money import Money

from .context import ServiceContext


@dataclass(frozen=True, slots=True)
class ReceivableMismatch:
    customer_id: str
    currency: str
    ledger_minor: int
    open_minor: int


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    entries: int
    customers: int
    unbalanced: list[tuple[str, str, int]] = field(default_factory=list)
    mismatches: list[ReceivableMismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unbalanced and not self.mismatches


def check_ledger(ctx: ServiceContext) -> LedgerCheck:
    with ctx.uow() as uow:
        entries = uow.ledger.count_entries()
        unbalanced = uow.ledger.unbalanced_entries()
        receivables = uow.ledger.balances("receivable:")
        open_amounts = uow.invoices.open_amounts_by_customer()
    booked = {account.removeprefix("receivable:"): sums for account, sums in receivables.items()}
    mismatches = []
    for customer_id in sorted(set(booked) | set(open_amounts)):
        in_ledger = booked.get(customer_id, {})
        in_invoices = open_amounts.get(customer_id, {})
        for currency in sorted(set(in_ledger) | set(in_invoices)):
            a, b = in_ledger.get(currency, 0), in_invoices.get(currency, 0)
            if a != b:
                mismatches.append(ReceivableMismatch(customer_id, currency, a, b))
    mismatches += _dunning_mismatches(ctx)
    return LedgerCheck(entries=entries, customers=len(set(booked) | set(open_amounts)), unbalanced=unbalanced,
                       mismatches=mismatches)


def _dunning_mismatches(ctx: ServiceContext) -> list[ReceivableMismatch]:
    """Dunning fees and interest: each customer's receivable equals the charges still open."""
    with ctx.uow() as uow:
        costs = uow.ledger.balances("dunning_costs:")
        interest = uow.ledger.balances("default_interest:")
        open_charges = uow.dunning.open_charges_by_customer()
    booked = {(a.removeprefix("dunning_costs:"), "costs"): v for a, v in costs.items()}
    booked |= {(a.removeprefix("default_interest:"), "interest"): v for a, v in interest.items()}
    found = []
    for key in sorted(set(booked) | set(open_charges)):
        in_ledger, in_charges = booked.get(key, {}), open_charges.get(key, {})
        for currency in sorted(set(in_ledger) | set(in_charges)):
            a, b = in_ledger.get(currency, 0), in_charges.get(currency, 0)
            if a != b:
                found.append(ReceivableMismatch(f"{key[0]} ({key[1]})", currency, a, b))
    return found


@dataclass(frozen=True, slots=True)
class CustomerBalance:
    customer_id: str
    receivable: dict[str, Money]
    open_invoices: list[Invoice]


def customer_balance(ctx: ServiceContext, customer_id: str) -> CustomerBalance:
    with ctx.uow() as uow:
        customer = uow.customers.get(CustomerId(customer_id))
        sums = uow.ledger.balance(ledger.receivable(customer.id))
        invoices = [invoice for status in (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)
                    for invoice in uow.invoices.list(customer_id=customer.id, status=status,
                                                    kind=DocumentKind.INVOICE, limit=10_000)]
    invoices.sort(key=lambda inv: (inv.issued_on or inv.created_at.date(), inv.number or ""))
    return CustomerBalance(customer.id, {cur: Money(minor, cur) for cur, minor in sums.items()}, invoices)
