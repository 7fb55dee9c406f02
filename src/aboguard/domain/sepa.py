"""SEPA direct debit rules: creditor identifier, mandates, sequence types, collection dates, file grouping.

Pure rules (REFERENCE 1.2-1.7), no XML: the pain.008 writer in ``aboguard.bankfiles`` turns the values
made here into a file.

* The creditor identifier (CI) is checked with ISO 7064 MOD 97-10 over national id + country + ``00``,
  ignoring the creditor business code (REFERENCE 1.4).
* A mandate lives on its SEPA payment method: reference, signature date, scheme (CORE or B2B), type
  (recurrent or one-off), status, the date of its last presented collection and, after an amendment, the
  original reference or IBAN that the next collection must carry (``AmdmntInd``).
* A recurrent mandate lapses 36 months after its last presented collection (after signature when never
  used) (REFERENCE 1.2).
* Sequence type: ``OOFF`` for a one-off mandate, ``FRST`` for the first collection of a recurrent one (and
  the first after the debtor moved to another bank), ``RCUR`` after; ``FNAL`` for the last one (see
  :func:`is_final`). Since the 2016 rulebook a first collection may also go as ``RCUR`` and a final one as
  ``RCUR`` too (REFERENCE 1.5): ``first_as_rcur`` and ``use_fnal``.
* A final (FNAL) or one-off (OOFF) collection finishes the mandate: the bank refuses further debits on it, so
  aboguard refuses them too and asks for a new mandate. One exception: when the final debit comes back
  (a return such as AM04), its retry is re-presented as FNAL on the same mandate -- the series' last debit
  is still owed, and the bank has seen the mandate's final collection announced already.
* A file must reach the bank ``lead_days`` TARGET banking days before the due date, which must itself be a
  banking day (REFERENCE 1.7).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from aboguard.errors import InvalidInput, InvalidPaymentMethod
from aboguard.money import Money

from . import banking_calendar
from .events import Event
from .payments import AttemptStatus

if TYPE_CHECKING:
    from .payment_methods import PaymentMethod

MANDATE_LAPSES_AFTER_MONTHS = 36
SEPA_ID_MAX = 35
_CI_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[A-Z0-9]{1,28}$")


class InvalidCreditorId(InvalidInput):
    code = "sepa.invalid_creditor_id"


class CollectionDateNotAllowed(InvalidInput):
    code = "sepa.collection_date"


class MandateScheme(StrEnum):
    CORE = "core"
    B2B = "b2b"

    @property
    def code(self) -> str:
        """``LclInstrm/Cd`` in pain.008."""
        return self.value.upper()


class MandateType(StrEnum):
    RECURRENT = "recurrent"
    ONE_OFF = "one_off"


class MandateStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"  # 36 months without a collection
    FINISHED = "finished"  # a one-off mandate was used, or a final (FNAL) collection went out


class SequenceType(StrEnum):
    FRST = "FRST"
    RCUR = "RCUR"
    OOFF = "OOFF"
    FNAL = "FNAL"


# -- creditor identifier -------------------------------------------------------------------------------


def creditor_id_check_digits(country: str, national_id: str) -> int:
    """ISO 7064 MOD 97-10 over ``national_id + country + "00"``; letters count A=10 ... Z=35."""
    digits = "".join(str(int(ch, 36)) for ch in (national_id + country + "00").upper())
    return 98 - int(digits) % 97


def validate_creditor_id(raw: str) -> str:
    """The creditor identifier in compact upper case, e.g. ``DE98ZZZ09999999999``; raises InvalidCreditorId."""
    ci = "".join(raw.split()).upper()
    if not _CI_SHAPE.match(ci) or len(ci) > SEPA_ID_MAX:
        raise InvalidCreditorId(f"creditor identifier {raw.strip()!r} must look like DE98ZZZ09999999999: country, "
                                "two check digits, a three-character business code and the national id")
    if ci.startswith("DE") and len(ci) != 18:
        raise InvalidCreditorId(f"a German creditor identifier has 18 characters, {ci!r} has {len(ci)}")
    expected = creditor_id_check_digits(ci[:2], ci[7:])
    if int(ci[2:4]) != expected:
        raise InvalidCreditorId(f"creditor identifier {ci!r} has wrong check digits (expected {expected:02d})")
    return ci


# -- mandates ------------------------------------------------------------------------------------------


def _months_later(d: date, months: int) -> date:
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def mandate_lapses_on(method: PaymentMethod) -> date | None:
    """The first day a recurrent mandate is no longer valid: 36 months after its last collection's due date
    (after the signature when it was never used). None for other payment methods."""
    start = method.mandate_last_used_on or method.mandate_signed_on
    if start is None:
        return None
    return _months_later(start, MANDATE_LAPSES_AFTER_MONTHS)


def mandate_state(method: PaymentMethod, today: date, *, re_presents_final: bool = False) -> MandateStatus:
    """The mandate's status on ``today``: a stored final status, or expired after 36 unused months.

    ``re_presents_final``: the debit is the retry of this mandate's final (FNAL) debit that came back; a
    recurrent mandate finished by that debit counts as active for it (if it has not lapsed).
    """
    status = MandateStatus(method.mandate_status or MandateStatus.ACTIVE.value)
    recurrent = MandateType(method.mandate_type or MandateType.RECURRENT.value) is MandateType.RECURRENT
    if status is MandateStatus.FINISHED and re_presents_final and recurrent:
        status = MandateStatus.ACTIVE
    if status is not MandateStatus.ACTIVE:
        return status
    lapses = mandate_lapses_on(method)
    return MandateStatus.EXPIRED if lapses is not None and today >= lapses else MandateStatus.ACTIVE


def sequence_type(method: PaymentMethod, *, final: bool = False, first_as_rcur: bool = False) -> SequenceType:
    """The ``SeqTp`` for the next collection on this mandate (REFERENCE 1.5).

    A debit that is both the first of its series and the last goes as ``FRST`` while first collections must be
    ``FRST`` (a series cannot end before it began); the mandate then stays active and lapses after 36 months.
    With ``first_as_rcur`` it goes as ``FNAL``.
    """
    if MandateType(method.mandate_type or MandateType.RECURRENT.value) is MandateType.ONE_OFF:
        return SequenceType.OOFF
    first = method.mandate_last_used_on is None or method.mandate_new_bank
    if first and not first_as_rcur:
        return SequenceType.FRST
    return SequenceType.FNAL if final else SequenceType.RCUR


@dataclass(frozen=True, slots=True)
class SeriesFacts:
    """What the store knows about a waiting debit's place in its mandate's series (see :func:`is_final`)."""

    subscription_id: str | None = None  # the invoice's subscription
    subscription_ends_on: date | None = None  # its end (None: it runs on)
    next_bill_on: date | None = None  # the subscription's next billing date (None: nothing more to bill)
    period_end: date | None = None  # the end of the period the invoice is for
    mandate_needed_later: bool = False  # another live subscription or open invoice of the customer
    re_presents_final: bool = False  # a retry of this invoice's final (FNAL) debit, which came back

    @property
    def last_invoice(self) -> bool:
        """The invoice is the last one of a subscription that ends: its period reaches the end date and no
        further invoice will be billed."""
        return (self.subscription_ends_on is not None and self.next_bill_on is None
                and self.period_end is not None and self.period_end >= self.subscription_ends_on)


class AwaitingDebit(NamedTuple):
    """A debit the collection run left for the next pain.008 file, with what the export needs to know."""

    attempt_id: str
    invoice_id: str
    customer_id: str
    amount: Money
    method: PaymentMethod  # the mandate, as stored
    invoice_number: str
    series: SeriesFacts  # without the per-customer facts (see the export service)


def is_final(facts: SeriesFacts, *, use_fnal: bool = True) -> bool:
    """Whether a debit is the last on its mandate (``FNAL``).

    It is when its invoice is the last of a subscription that ends and the customer has no other live
    subscription and no other open invoice that could be collected through the mandate (subscriptions pay
    with the customer's default method, so every one of them counts). ``use_fnal`` off sends such debits as
    ``RCUR`` (allowed since the 2016 rulebook). The retry of a final debit that came back is final again,
    whatever the setting: the bank has seen the mandate's final collection.
    """
    if facts.re_presents_final:
        return True
    return use_fnal and facts.last_invoice and not facts.mandate_needed_later


@dataclass(frozen=True, slots=True)
class Amendment:
    """What changed since the last collection: goes into ``AmdmntInfDtls`` of the next one."""

    original_reference: str | None = None
    original_iban: str | None = None
    new_bank: bool = False  # the debtor moved to another bank: ``OrgnlDbtrAgt`` = SMNDA

    @property
    def any(self) -> bool:
        return bool(self.original_reference or self.original_iban or self.new_bank)


NO_AMENDMENT = Amendment()


def pending_amendment(method: PaymentMethod) -> Amendment:
    if not (method.mandate_original_reference or method.mandate_original_iban or method.mandate_new_bank):
        return NO_AMENDMENT
    return Amendment(method.mandate_original_reference, method.mandate_original_iban, method.mandate_new_bank)


def amend_mandate(method: PaymentMethod, *, new_iban: str | None = None, new_bic: str | None = None,
                  new_reference: str | None = None, new_bank: bool = False) -> PaymentMethod:
    """The mandate with a new IBAN and/or a new reference. The original values are kept until the next
    collection has carried them (a second change before then keeps the first original, as the bank knows
    only that one). ``new_bank``: the new IBAN is at another bank (SMNDA; the next collection is FRST)."""
    if new_iban is None and new_reference is None:
        raise InvalidPaymentMethod("an amendment needs a new IBAN or a new mandate reference")
    if method.mandate_reference is None:
        raise InvalidPaymentMethod(f"payment method {method.id} is not a SEPA mandate")
    if MandateStatus(method.mandate_status or MandateStatus.ACTIVE.value) is not MandateStatus.ACTIVE:
        raise InvalidPaymentMethod(f"mandate {method.mandate_reference} is {method.mandate_status}; sign a new one")
    changed_iban = new_iban is not None and new_iban != method.iban
    changed_reference = new_reference is not None and new_reference != method.mandate_reference
    if not changed_iban and not changed_reference:
        raise InvalidPaymentMethod("the amendment changes nothing: give a different IBAN or reference")
    return replace(
        method,
        iban=new_iban if changed_iban else method.iban,
        bic=new_bic if changed_iban else method.bic,
        mandate_reference=new_reference if changed_reference else method.mandate_reference,
        mandate_original_iban=(method.mandate_original_iban or method.iban) if changed_iban
        else method.mandate_original_iban,
        mandate_original_reference=(method.mandate_original_reference or method.mandate_reference)
        if changed_reference else method.mandate_original_reference,
        mandate_new_bank=method.mandate_new_bank or (changed_iban and new_bank),
    )


@dataclass(frozen=True, slots=True)
class MandateUse:
    """What presenting a collection changes on its mandate: the last collection's due date and the status; any
    pending amendment has been carried (``AmdmntInd``) and is cleared."""

    method_id: str
    version: int  # the mandate's version read before
    last_used_on: date
    status: str | None


def mandate_use(method: PaymentMethod, collection_on: date, seq: SequenceType) -> MandateUse:
    """The change a collection due on ``collection_on`` makes: last used, finished after OOFF or FNAL."""
    last = max(method.mandate_last_used_on or collection_on, collection_on)
    status = MandateStatus.FINISHED.value if seq in {SequenceType.OOFF, SequenceType.FNAL} \
        else method.mandate_status
    return MandateUse(method.id, method.version, last, status)


def presented(method: PaymentMethod, collection_on: date, seq: SequenceType) -> PaymentMethod:
    """The mandate after a collection due on ``collection_on`` went out: last used, amendment carried,
    finished after OOFF or FNAL."""
    use = mandate_use(method, collection_on, seq)
    return replace(method, mandate_last_used_on=use.last_used_on, mandate_original_iban=None,
                   mandate_original_reference=None, mandate_new_bank=False, mandate_status=use.status)


# -- collection dates ----------------------------------------------------------------------------------


def earliest_collection_date(today: date, lead_days: int) -> date:
    """The first due date a file sent today can ask for: ``lead_days`` banking days ahead (D-1 rule)."""
    return banking_calendar.add_banking_days(banking_calendar.next_banking_day(today), lead_days)


def check_collection_date(requested: date, today: date, lead_days: int) -> date:
    if not banking_calendar.is_banking_day(requested):
        raise CollectionDateNotAllowed(f"{requested.isoformat()} is no TARGET2 banking day; the next one is "
                                       f"{banking_calendar.next_banking_day(requested).isoformat()}")
    earliest = earliest_collection_date(today, lead_days)
    if requested < earliest:
        raise CollectionDateNotAllowed(f"a file sent on {today.isoformat()} must ask for {earliest.isoformat()} "
                                       f"or later ({lead_days} banking day(s) lead time)")
    return requested


# -- file grouping -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Collection:
    """One direct debit as it goes into a pain.008 file (``DrctDbtTxInf``)."""

    attempt_id: str
    end_to_end_id: str
    amount: Money
    collection_on: date
    scheme: MandateScheme
    sequence: SequenceType
    mandate_reference: str
    mandate_signed_on: date
    debtor_name: str
    debtor_iban: str
    debtor_bic: str | None
    remittance: str
    amendment: Amendment = Amendment()

    def __repr__(self) -> str:  # never the IBAN (rule 9)
        return f"Collection({self.end_to_end_id!r}, {self.amount}, {self.sequence.value}, {self.collection_on})"


GroupKey = tuple[date, MandateScheme, SequenceType]


def group_key(c: Collection) -> GroupKey:
    return (c.collection_on, c.scheme, c.sequence)


def sort_key(c: Collection) -> tuple[str, str, str, str]:
    """Collections sorted by the PmtInf they go into, then by end-to-end id: a stable file order."""
    return (c.collection_on.isoformat(), c.scheme.value, c.sequence.value, c.end_to_end_id)


@dataclass(frozen=True, slots=True)
class Totals:
    count: int
    control_sum: Money


def totals(amounts: Iterable[Money], currency: str = "EUR") -> Totals:
    """``NbOfTxs`` and ``CtrlSum``: exact, in minor units."""
    count, total = 0, 0
    for amount in amounts:
        if amount.currency != currency:
            raise InvalidInput(f"a SEPA file is in {currency}; {amount} is not")
        count += 1
        total += amount.minor
    return Totals(count, Money(total, currency))


def end_to_end_id(attempt_id: str) -> str:
    """The attempt id without hyphens (32 characters, within the 35 allowed); comes back on returns."""
    return attempt_id.replace("-", "")


_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "&": "+"})
_NOT_SEPA = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]+")


def sepa_text(text: str, limit: int) -> str:
    """Text reduced to the SEPA Latin character set (umlauts transliterated), at most ``limit`` characters."""
    return " ".join(_NOT_SEPA.sub(" ", text.translate(_TRANSLIT)).split())[:limit] or "-"


@dataclass(frozen=True, slots=True)
class SepaFile:
    """A pain.008 file as stored: enough, with its items, to write it again byte for byte."""

    id: str
    msg_id: str
    format: str
    created_at: datetime
    collection_on: date
    nb_of_txs: int
    ctrl_sum: Money
    creditor: dict[str, Any]
    sha256: str


# -- events --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SepaFileExported(Event):
    name: ClassVar[str] = "sepa.file_exported"
    aggregate: ClassVar[str] = "sepa_file"
    msg_id: str
    format: str
    collection_on: str
    transactions: int
    control_sum: Money
    sha256: str


@dataclass(frozen=True, slots=True)
class MandateAmended(Event):
    name: ClassVar[str] = "payment_method.mandate_amended"
    aggregate: ClassVar[str] = "payment_method"
    customer_id: str
    new_iban: bool
    new_reference: bool
    new_bank: bool


@dataclass(frozen=True, slots=True)
class PaymentBlock:
    """One ``PmtInf`` of an exported file: what a bank's batch booking (Sammelbuchung) of our debits credits."""

    file_id: str
    msg_id: str
    number: int  # its position in the file, the end of its PmtInfId
    key: GroupKey
    totals: Totals

    @property
    def label(self) -> str:
        on, scheme, sequence = self.key
        return f"block {self.number} of file {self.msg_id} ({on}, {scheme.value}, {sequence.value})"


class BatchCredit(StrEnum):
    """What a batch credit of our debits without their items (Sammelbuchung) does."""

    SETTLES = "settles"  # the one block whose debits still on their way add up to it
    ALREADY_SETTLED = "already_settled"  # the itemised report settled its block line by line before
    NO_BLOCK = "no_block"  # names no exported block (none due that day): the itemised camt.054 will say
    NO_FIT = "no_fit"  # blocks exist, none adds up: for review


def match_batch_credit(amount: Money, blocks: Sequence[tuple[PaymentBlock, Mapping[AttemptStatus, Money]]]
                       ) -> tuple[BatchCredit, PaymentBlock | None]:
    """The block a batch credit of ``amount`` pays, from each candidate block's sums by attempt status (submitted:
    still on the way; succeeded or reversed: settled before). Exactly one fit is needed: two blocks of the same
    sum due the same day are ambiguous and left for review."""
    zero = Money.zero(amount.currency)
    waiting = [b for b, sums in blocks if sums.get(AttemptStatus.SUBMITTED, zero) == amount]
    if len(waiting) == 1:
        return BatchCredit.SETTLES, waiting[0]
    settled = [b for b, sums in blocks if AttemptStatus.SUBMITTED not in sums
               and sums.get(AttemptStatus.SUCCEEDED, zero) + sums.get(AttemptStatus.REVERSED, zero) == amount]
    if len(settled) == 1 and not waiting:
        return BatchCredit.ALREADY_SETTLED, settled[0]
    return (BatchCredit.NO_FIT if blocks else BatchCredit.NO_BLOCK), None
