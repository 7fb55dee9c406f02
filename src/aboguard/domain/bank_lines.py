"""Lines of a bank report (camt.052/053/054) as aboguard understands them, before they are applied.

One line per transaction: a batch booking (``Btch``) with several ``TxDtls`` gives one line each. The kind
says what the line can do (REFERENCE 1.13):

* ``collection`` -- a direct debit we sent was credited (``CRDT``, family ``IDDT``);
* ``return`` -- a direct debit came back (``DBIT`` with ``RtrInf`` or sub-family ``UPDD``); the reason code
  is in ``RtrInf/Rsn/Cd``, bank fees in ``Chrgs``;
* ``transfer`` -- money a customer sent (any other credit);
* ``other`` -- anything else (our own debits, pending or reversed entries): recorded, not applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from aboguard.money import Money

from .events import Event
from .invoicing import OPEN, InvoiceStatus
from .payments import AttemptStatus


class LineKind(StrEnum):
    COLLECTION = "collection"
    RETURN = "return"
    TRANSFER = "transfer"
    OTHER = "other"


class LineStatus(StrEnum):
    APPLIED = "applied"
    UNMATCHED = "unmatched"  # waits on the review list for `aboguard bank match`
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry_key: str  # the bank's reference (AcctSvcrRef) plus the transaction: unique, so a line applies once
    kind: LineKind
    booked_on: date
    amount: Money  # the transaction's own amount (for a return: the original debit, without fees)
    fee: Money  # charged by the bank for this line (returns)
    end_to_end_id: str | None = None
    mandate_reference: str | None = None
    reason_code: str | None = None
    counterparty: str | None = None
    remittance: str = ""
    note: str = ""
    batch_ref: str | None = None  # the payment block (PmtInfId) a batch booking of our debits names


@dataclass(frozen=True, slots=True)
class BankLine:
    id: str
    statement_id: str
    entry_key: str
    kind: LineKind
    booked_on: date
    amount: Money
    fee: Money
    end_to_end_id: str | None
    mandate_reference: str | None
    reason_code: str | None
    counterparty: str | None
    remittance: str
    status: LineStatus
    invoice_id: str | None
    attempt_id: str | None
    credit: Money
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ImportedStatement:
    """A camt file as imported, with what became of its lines."""

    id: str
    file_name: str
    message: str
    msg_id: str | None
    imported_at: datetime
    lines: int
    by_status: dict[str, int]  # applied / unmatched / ignored: how many of its lines are so now


@dataclass(frozen=True, slots=True)
class DebitOnFile:
    """An exported direct debit as a bank line finds it by its end-to-end id, with just enough of its invoice
    to settle the usual case in bulk, without loading the invoice's lines."""

    attempt_id: str
    attempt_version: int
    attempt_status: AttemptStatus
    attempt_number: int
    amount: Money
    gateway: str
    customer_id: str
    invoice_id: str
    invoice_number: str
    invoice_status: InvoiceStatus
    invoice_version: int
    invoice_paid: Money
    invoice_due: Money  # total - paid - credited
    plain: bool  # no dunning case, no Skonto offered, subscription neither past due nor suspended

    @property
    def settles_plainly(self) -> bool:
        """Settling it pays the invoice in full and nothing else: no fees or interest to allocate (§ 367 BGB),
        no Skonto, no subscription to reinstate."""
        return (self.plain and self.attempt_status is AttemptStatus.SUBMITTED and self.invoice_status in OPEN
                and self.amount == self.invoice_due)


RETURN_GVC = "109"  # DK proprietary code (BkTxCd/Prtry "NRTI+109+..."): SEPA-Lastschrift Rückbelastung


def classify(*, credit: bool, reversal: bool, booked: bool, family: str | None, sub_family: str | None,
             has_return_info: bool, gvc: str | None = None) -> LineKind:
    """What a line can do, from the ISO bank transaction code, or the German proprietary one (REFERENCE 1.13)."""
    if not booked:
        return LineKind.OTHER
    if has_return_info or (not credit and (sub_family == "UPDD" or gvc == RETURN_GVC)):
        return LineKind.RETURN
    if reversal:
        return LineKind.OTHER
    if credit and family == "IDDT":
        return LineKind.COLLECTION
    if credit:
        return LineKind.TRANSFER
    return LineKind.OTHER


@dataclass(frozen=True, slots=True)
class BankStatementImported(Event):
    name: ClassVar[str] = "bank.statement_imported"
    aggregate: ClassVar[str] = "bank_statement"
    message: str
    file_name: str
    lines: int
    unmatched: int


@dataclass(frozen=True, slots=True)
class BankLineMatched(Event):
    name: ClassVar[str] = "bank.line_matched"
    aggregate: ClassVar[str] = "bank_line"
    invoice_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class BankLineDismissed(Event):
    name: ClassVar[str] = "bank.line_dismissed"
    aggregate: ClassVar[str] = "bank_line"
    amount: Money
    reason: str
