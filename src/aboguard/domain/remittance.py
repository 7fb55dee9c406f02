"""Matching incoming credit transfers to open invoices: by the reference in the remittance text, then by
amount and payer name.

People type references in every shape: ``RE-2025-000123``, ``re 2025 123``, ``RE2025000123``, split over two
``Ustrd`` lines, after ``Rechnungsnr.:`` or at the end behind the name; names come with umlauts or without
(``Müller`` / ``Mueller``). The rules, pure and in this order:

1. invoice numbers found in the text (separators ignored, leading zeros of a number group optional), in
   the order they appear;
2. a customer reference (the customer's external reference) found in the text: that customer's open
   invoices, oldest first;
3. no reference: exactly one open invoice whose amount due equals the amount and whose customer's name
   matches the payer's name.

The amount is spread over the matched invoices in that order, each up to what is due; what is left is the
customer's credit (an over-payment). Nothing found, or more than one candidate by amount and name: the line
goes to the review list.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from aboguard.money import Money

_RUNS = re.compile(r"[A-Z]+|[0-9]+")
_TRANSLIT = {"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "ẞ": "SS"}


class MatchRule(StrEnum):
    INVOICE_NUMBER = "invoice_number"
    CUSTOMER_REFERENCE = "customer_reference"
    AMOUNT_AND_NAME = "amount_and_name"


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An open invoice as the matcher sees it."""

    invoice_id: str
    number: str
    customer_id: str
    customer_name: str
    amount_due: Money
    customer_reference: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    rule: MatchRule
    allocations: tuple[tuple[OpenItem, Money], ...]
    credit: Money  # more than was due: the customer's credit balance
    customer_id: str


def fold(text: str) -> str:
    """Upper case, umlauts spelled out (Ä -> AE, ß -> SS), other accents dropped."""
    upper = "".join(_TRANSLIT.get(ch, ch) for ch in text.upper())
    return unicodedata.normalize("NFKD", upper).encode("ascii", "ignore").decode("ascii")


def _run_key(runs: Sequence[str]) -> str:
    return "|".join(run.lstrip("0") or "0" if run.isdigit() else run for run in runs)


def _compact(text: str) -> str:
    return "".join(ch for ch in fold(text) if ch.isalnum())


def name_tokens(name: str) -> frozenset[str]:
    return frozenset(t for t in re.split(r"[^A-Z]+", fold(name)) if len(t) > 1)


def names_match(payer: str, customer: str) -> bool:
    """The payer's name contains every word of the customer's name (in any order), or, for longer names, all
    but one: ``Schmidt, Anna`` matches ``Anna Schmidt``; ``Anna Müller`` matches ``ANNA MUELLER``."""
    want, have = name_tokens(customer), name_tokens(payer)
    if not want or not have:
        return False
    missing = len(want - have)
    return missing == 0 or (len(want) >= 3 and missing == 1)


@dataclass(slots=True)
class ReferenceIndex:
    """Open invoices indexed by every shape of their number, by customer reference and by amount."""

    current: dict[str, OpenItem] = field(default_factory=dict)  # invoice id -> the item with what is due now
    by_runs: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    by_compact: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    by_customer_ref: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    by_amount: dict[Money, set[str]] = field(default_factory=lambda: defaultdict(set))
    run_counts: set[int] = field(default_factory=set)
    compact_lengths: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, items: Iterable[OpenItem]) -> ReferenceIndex:
        index = cls()
        for item in items:
            index.add(item)
        return index

    def add(self, item: OpenItem) -> None:
        self.current[item.invoice_id] = item
        runs = _RUNS.findall(fold(item.number))
        if runs:
            self.by_runs[_run_key(runs)].append(item.invoice_id)
            self.run_counts.add(len(runs))
        compact = _compact(item.number)
        if len(compact) >= 4:
            self.by_compact[compact].append(item.invoice_id)
            self.compact_lengths.add(len(compact))
        if item.customer_reference and len(_compact(item.customer_reference)) >= 4:
            self.by_customer_ref[_compact(item.customer_reference)].append(item.invoice_id)
        self.by_amount[item.amount_due].add(item.invoice_id)

    def paid(self, invoice_id: str, amount: Money) -> None:
        """``amount`` of the invoice was paid: later lines see only what is still due."""
        item = self.current.get(invoice_id)
        if item is None:
            return
        self.by_amount[item.amount_due].discard(invoice_id)
        left = item.amount_due - amount
        if left.is_positive():
            self.current[invoice_id] = replace(item, amount_due=left)
            self.by_amount[left].add(invoice_id)
        else:
            del self.current[invoice_id]

    def _items(self, ids: Iterable[str]) -> list[OpenItem]:
        return [self.current[i] for i in ids if i in self.current]

    def invoices_in(self, text: str) -> list[OpenItem]:
        """Invoices whose number appears in ``text``, in order of appearance, each once."""
        found: dict[str, tuple[int, OpenItem]] = {}
        folded = fold(text)
        runs = [(m.start(), m.group()) for m in _RUNS.finditer(folded)]
        for count in self.run_counts:
            for i in range(len(runs) - count + 1):
                for item in self._items(self.by_runs.get(_run_key([r for _, r in runs[i:i + count]]), ())):
                    found.setdefault(item.invoice_id, (runs[i][0], item))
        compact = "".join(ch for ch in folded if ch.isalnum())
        if found or not self.compact_lengths:
            return [item for _, item in sorted(found.values(), key=lambda pair: pair[0])]
        for length in self.compact_lengths:
            for i in range(len(compact) - length + 1):
                for item in self._items(self.by_compact.get(compact[i:i + length], ())):
                    found.setdefault(item.invoice_id, (i, item))
        return [item for _, item in sorted(found.values(), key=lambda pair: pair[0])]

    def customer_in(self, text: str) -> list[OpenItem]:
        compact = _compact(text)
        for reference, ids in self.by_customer_ref.items():
            if reference in compact:
                return self._items(ids)
        return []

    def with_amount(self, amount: Money) -> list[OpenItem]:
        return self._items(sorted(self.by_amount.get(amount, ())))


def allocate(amount: Money, items: Sequence[OpenItem]) -> tuple[tuple[tuple[OpenItem, Money], ...], Money]:
    """Spread ``amount`` over ``items`` in order, each up to its amount due; the rest is credit."""
    left = amount
    parts: list[tuple[OpenItem, Money]] = []
    for item in items:
        if not left.is_positive():
            break
        share = min(left, item.amount_due)
        if share.is_positive():
            parts.append((item, share))
            left -= share
    return tuple(parts), left


def match_transfer(amount: Money, remittance: str, payer_name: str, index: ReferenceIndex) -> Match | None:
    """Which open invoices an incoming transfer pays (module docstring); None sends it to review."""
    items = [i for i in index.invoices_in(remittance) if i.amount_due.currency == amount.currency]
    rule = MatchRule.INVOICE_NUMBER
    if items:
        items = [i for i in items if i.customer_id == items[0].customer_id]  # one payer pays one customer's bills
    else:
        rule = MatchRule.CUSTOMER_REFERENCE
        items = sorted((i for i in index.customer_in(remittance) if i.amount_due.currency == amount.currency),
                       key=lambda i: i.number)
    if not items:
        rule = MatchRule.AMOUNT_AND_NAME
        candidates = [i for i in index.with_amount(amount) if names_match(payer_name, i.customer_name)]
        if len(candidates) != 1:
            return None
        items = candidates
    parts, credit = allocate(amount, items)
    if not parts:
        return None
    return Match(rule, parts, credit, items[0].customer_id)


@dataclass(frozen=True, slots=True)
class TransferInstructions:
    """What an invoice paid by bank transfer tells the customer: where to pay and which reference to use."""

    account_holder: str
    iban: str
    bic: str | None
    reference: str  # the invoice number: the matcher finds it in the remittance text
    amount: Money

    def lines(self, locale: str = "en") -> list[str]:
        iban = " ".join(self.iban[i:i + 4] for i in range(0, len(self.iban), 4))
        if locale.startswith("de"):
            return [f"Bitte überweisen Sie {self.amount.format('de')} an {self.account_holder}",
                    f"IBAN {iban}" + (f", BIC {self.bic}" if self.bic else ""),
                    f"Verwendungszweck: {self.reference}"]
        return [f"Please transfer {self.amount.format('en')} to {self.account_holder}",
                f"IBAN {iban}" + (f", BIC {self.bic}" if self.bic else ""),
                f"Reference: {self.reference}"]


def transfer_instructions(*, number: str | None, amount_due: Money, pays_by_transfer: bool, open_: bool,
                          holder: str, iban: str | None, bic: str | None) -> TransferInstructions | None:
    """Instructions for an open invoice paid by transfer, when the merchant's IBAN is configured."""
    if not pays_by_transfer or not open_ or not iban or not number or not amount_due.is_positive():
        return None
    return TransferInstructions(holder, iban, bic, number, amount_due)
