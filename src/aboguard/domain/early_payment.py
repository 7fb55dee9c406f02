"""Early-payment discount (Skonto) for invoices paid by transfer.

The terms ("2 % if paid within 10 days") are printed on each pay-by-invoice invoice when it is issued:
its Skonto rate and the last day to pay with it. If the money arrives by that day, before anything else
was paid, and is at least the total less the Skonto, the invoice is settled: the difference is granted
as Skonto through a credit note, which reduces the taxable amount and the VAT at the invoice's own rates
(§ 17 (1) UStG), and the payment settles the rest. Paid later, or less, it is an ordinary payment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import ClassVar

from aboguard.errors import InvalidInput
from aboguard.money import Money

from . import events as ev

_TERMS = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*%?\s*/\s*(\d+)\s*d?\s*$")


@dataclass(frozen=True, slots=True)
class EarlyPaymentTerms:
    percent: Decimal
    days: int

    def __post_init__(self) -> None:
        if not Decimal(0) < self.percent < Decimal(100):
            raise InvalidInput(f"a Skonto rate must be above 0 and below 100 percent, not {self.percent}")
        if not 1 <= self.days <= 90:
            raise InvalidInput(f"the Skonto period must be 1 to 90 days, not {self.days}")

    @classmethod
    def parse(cls, text: str) -> EarlyPaymentTerms:
        """``"2/10"`` or ``"2%/10d"``: 2 % off when paid within 10 days of the invoice date."""
        found = _TERMS.match(text or "")
        if found is None:
            raise InvalidInput(f"Skonto terms {text!r} must look like 2/10 (2 % off if paid within 10 days)")
        try:
            percent = Decimal(found.group(1).replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern admits only digits
            raise InvalidInput(f"Skonto terms {text!r}: the rate is not a number") from None
        return cls(percent, int(found.group(2)))


def skonto_amount(total: Money, percent: Decimal) -> Money:
    """The Skonto on a gross total, rounded half up once."""
    return total.multiply(percent / 100)


def skonto_due(*, total: Money, paid: Money, credited: Money, percent: Decimal | None, until: date | None,
               amount: Money, paid_on: date) -> Money | None:
    """The Skonto to grant for a payment of ``amount`` on ``paid_on``; None when it does not apply."""
    if percent is None or until is None or paid_on > until or paid.is_positive() or credited.is_positive():
        return None
    discount = skonto_amount(total, percent)
    reduced = total - discount
    if not discount.is_positive() or amount < reduced or amount >= total:
        return None
    return total - amount  # paid between the reduced amount and the total: the rest is Skonto


@dataclass(frozen=True, slots=True)
class SkontoGranted(ev.Event):
    name: ClassVar[str] = "invoice.skonto_granted"
    aggregate: ClassVar[str] = "invoice"

    invoice_number: str
    credit_note_id: str
    amount: Money
