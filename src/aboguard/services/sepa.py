"""SEPA direct debits on the bank-file rail: pain.008 export and re-generation, mandate amendments.

``export_collections`` takes every attempt the collection run left ``awaiting_export`` (with
``ABOGUARD_SEPA_CHANNEL=file``), chooses each one's sequence type from its mandate, stores the items, streams the
file, validates it against the official XSD and only then marks the attempts ``submitted`` -- all in one
transaction, so a file that fails validation changes nothing. An attempt is in at most one file (unique
``attempt_id``): exporting again writes only what is new. ``regenerate_file`` writes a past file again from
its stored items; its SHA-256 proves it is byte-identical.

Sequence types: FRST / RCUR / OOFF from the mandate (``domain.sepa.sequence_type``), and FNAL for the last
debit of a series (``domain.sepa.is_final``): the invoice is the last one of a subscription that ends (its
period reaches the end date, nothing more will be billed) and the customer has no other live subscription
and no other open invoice -- all of them would be collected through the same default mandate.
``ABOGUARD_SEPA_USE_FNAL=0`` sends such debits as RCUR. After a FNAL (or OOFF) debit the mandate is finished:
a later debit on it is not exported but fails (MD01) with a request for a new mandate, as for an expired
one. The retry of a final debit that came back (a return such as AM04, the attempt failed) is re-presented
as FNAL on the same mandate: the finished mandate counts as active for that re-presentation only (whatever
``ABOGUARD_SEPA_USE_FNAL`` says now, since the bank has seen the final collection).

Speed: while the attempts are read in batches, each transaction's XML is spooled to a temporary file per
payment block; the file is then put together from the spools, so no item is read back and no IBAN is
decrypted twice (the stored items take the mandate's IBAN ciphertext as it is). Byte for byte this is what
``regenerate_file`` writes from the stored items, which are read back instead should a block's items not come
in file order.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import IO

from aboguard.bankfiles import pain008
from aboguard.bankfiles.xsd import SchemaViolation
from aboguard.domain import sepa
from aboguard.domain.declines import classify_sepa
from aboguard.domain.events import Event
from aboguard.domain.payment_methods import (
    PaymentMethod,
    bic_for_iban,
    normalise_bic,
    normalise_iban,
    validate_mandate_reference,
)
from aboguard.errors import AboguardError, DuplicateMandateReference, InvalidInput
from aboguard.ids import PaymentMethodId
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from . import collection
from .context import ServiceContext

BATCH = 2000


class SepaNotConfigured(InvalidInput):
    code = "sepa.not_configured"


class InvalidSepaFile(AboguardError):
    code = "sepa.invalid_file"


@dataclass(frozen=True, slots=True)
class FileProblem:
    attempt_id: str
    invoice: str
    code: str
    message: str


@dataclass(slots=True)
class ExportReport:
    file_id: str | None = None
    msg_id: str | None = None
    format: str = ""
    collection_on: date | None = None
    path: str | None = None
    transactions: int = 0
    control_sum: Money | None = None
    blocks: list[tuple[str, str, str, int, Money]] = field(default_factory=list)  # date, scheme, seq, n, sum
    sha256: str | None = None
    failed: list[FileProblem] = field(default_factory=list)  # mandates no longer valid: not exported


def _creditor(ctx: ServiceContext) -> pain008.Creditor:
    s = ctx.sepa
    if not s.creditor_id or not s.iban:
        raise SepaNotConfigured("pain.008 files need the creditor identifier and the account: set "
                                "ABOGUARD_SEPA_CREDITOR_ID and ABOGUARD_MERCHANT_IBAN (and ABOGUARD_MERCHANT_BIC)")
    return pain008.Creditor(name=sepa.sepa_text(s.creditor_name, 70), iban=s.iban, bic=s.bic,
                            creditor_id=s.creditor_id)


class _HashingWriter:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.handle.write(data)


def export_collections(ctx: ServiceContext, out: Path, *, collection_on: date | None = None,
                       fmt: str = "pain.008.001.08") -> ExportReport:
    """Write every SEPA debit awaiting export into one pain.008 file at ``out`` (see the module docstring)."""
    if fmt not in pain008.FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use {' or '.join(pain008.FORMATS)}")
    creditor = _creditor(ctx)
    today = ctx.today()
    due_on = sepa.check_collection_date(collection_on, today, ctx.sepa.lead_days) if collection_on \
        else sepa.earliest_collection_date(today, ctx.sepa.lead_days)
    report = ExportReport(format=fmt, collection_on=due_on)
    file_id = ctx.new_id()
    msg_id = "AG" + sepa.end_to_end_id(file_id)[:33]
    with ctx.uow() as uow, _Spool(fmt) as spool:
        uow.sepa_files.add_file(_file_row(file_id, msg_id, fmt, ctx, due_on, creditor))
        count, events = _collect_items(ctx, uow, file_id, due_on, report, spool)
        if count == 0:
            uow.sepa_files.discard(file_id)
            uow.events.add(events, ctx.now())
            uow.commit()  # mandates found invalid are recorded as failed; no file
            return report
        groups = uow.sepa_files.group_totals(file_id)
        total = sepa.Totals(sum(t.count for _, t in groups), sepa.totals(t.control_sum for _, t in groups).control_sum)
        header = pain008.FileHeader(fmt, msg_id, _local(ctx, ctx.now()), creditor, total, groups)
        temp = out.with_name(f".{out.name}.{file_id}.part")
        try:
            digest = spool.write(temp, header) if spool.matches(groups) else _write(uow, file_id, header, temp)
            pain008.validate(temp, fmt)
        except (SchemaViolation, ValueError) as exc:  # the file is wrong: nothing is marked exported
            temp.unlink(missing_ok=True)
            raise InvalidSepaFile(f"the pain.008 file did not pass the {fmt} schema, nothing was exported: "
                                  f"{exc}") from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        try:
            uow.sepa_files.mark_submitted(file_id, ctx.now())
            uow.sepa_files.finish(file_id, digest, total)
            uow.events.add([*events, sepa.SepaFileExported(file_id, msg_id, fmt, due_on.isoformat(), total.count,
                                                           total.control_sum, digest)], ctx.now())
            uow.commit()
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    os.replace(temp, out)
    report.file_id, report.msg_id, report.path, report.sha256 = file_id, msg_id, str(out), digest
    report.transactions, report.control_sum = total.count, total.control_sum
    report.blocks = [(k[0].isoformat(), k[1].code, k[2].value, t.count, t.control_sum) for k, t in groups]
    return report


def _local(ctx: ServiceContext, instant: datetime) -> datetime:
    return instant.astimezone(ctx.merchant_tz).replace(tzinfo=None, microsecond=0)


def _file_row(file_id: str, msg_id: str, fmt: str, ctx: ServiceContext, due_on: date,
              creditor: pain008.Creditor) -> sepa.SepaFile:
    return sepa.SepaFile(file_id, msg_id, fmt, ctx.now().replace(microsecond=0), due_on, 0, Money.zero("EUR"),
                    {"name": creditor.name, "iban": creditor.iban, "bic": creditor.bic,
                     "creditor_id": creditor.creditor_id}, "")


def _collect_items(ctx: ServiceContext, uow: UnitOfWork, file_id: str, due_on: date, report: ExportReport,
                   spool: _Spool) -> tuple[int, list[Event]]:
    """Turn awaiting attempts into stored file items; fail those whose mandate is no longer valid."""
    events: list[Event] = []
    count, after = 0, ""
    first_as_rcur, use_fnal = ctx.sepa.first_as_rcur, ctx.sepa.use_fnal
    while True:
        batch = uow.sepa_files.awaiting_export(limit=BATCH, after_id=after)
        if not batch:
            break
        after = batch[-1].attempt_id
        facts = _series_facts(uow, batch, use_fnal)
        # mandates used earlier in this batch; earlier batches are already written (and read back as such)
        used: dict[str, tuple[PaymentMethod, sepa.SequenceType]] = {}
        items: list[sepa.Collection] = []
        for debit in batch:
            earlier = used.get(debit.method.id)
            method = sepa.presented(earlier[0], due_on, earlier[1]) if earlier else debit.method
            series = facts.get(debit.attempt_id, debit.series)
            state = sepa.mandate_state(method, due_on, re_presents_final=series.re_presents_final)
            if state is not sepa.MandateStatus.ACTIVE or not method.is_active or debit.amount.currency != "EUR":
                events += _fail_invalid(ctx, uow, debit, method, state, report)
                continue
            seq = sepa.sequence_type(method, final=sepa.is_final(series, use_fnal=use_fnal),
                                     first_as_rcur=first_as_rcur)
            items.append(_collection(debit, method, due_on, seq))
            used[method.id] = (method, seq)
        uow.sepa_files.add_items(file_id, count, items)
        uow.sepa_files.mark_presented([sepa.mandate_use(m, due_on, seq) for m, seq in used.values()])
        spool.add(items)
        count += len(items)
    return count, events


def _series_facts(uow: UnitOfWork, batch: Sequence[sepa.AwaitingDebit], use_fnal: bool) -> dict[str, sepa.SeriesFacts]:
    """The per-customer facts for the few debits that may end their series, by attempt id: whether the mandate
    is still needed (asked for last invoices only) and whether a finished mandate's final debit came back."""
    finished = sepa.MandateStatus.FINISHED.value
    last = [d for d in batch if use_fnal and d.series.last_invoice]
    retried = [d for d in batch if d.method.mandate_status == finished and d.method.mandate_reference]
    if not last and not retried:
        return {}
    needed = uow.sepa_files.mandate_needed_later([(d.customer_id, d.invoice_id, d.series.subscription_id)
                                                  for d in last])
    came_back = uow.sepa_files.returned_finals([(d.invoice_id, d.method.mandate_reference or "") for d in retried])
    facts = {d.attempt_id: replace(d.series, mandate_needed_later=d.invoice_id in needed) for d in last}
    for d in retried:
        if d.invoice_id in came_back:
            facts[d.attempt_id] = replace(facts.get(d.attempt_id, d.series), re_presents_final=True)
    return facts


def _collection(debit: sepa.AwaitingDebit, method: PaymentMethod, due_on: date,
                seq: sepa.SequenceType) -> sepa.Collection:
    assert method.iban and method.mandate_reference and method.mandate_signed_on
    number = debit.invoice_number
    return sepa.Collection(
        attempt_id=debit.attempt_id, end_to_end_id=sepa.end_to_end_id(debit.attempt_id), amount=debit.amount,
        collection_on=due_on, scheme=sepa.MandateScheme(method.mandate_scheme or "core"), sequence=seq,
        mandate_reference=method.mandate_reference, mandate_signed_on=method.mandate_signed_on,
        debtor_name=sepa.sepa_text(method.account_holder or "", 70), debtor_iban=method.iban,
        debtor_bic=method.bic, remittance=sepa.sepa_text(f"Rechnung {number}" if number else "Abonnement", 140),
        amendment=sepa.pending_amendment(method))


def _fail_invalid(ctx: ServiceContext, uow: UnitOfWork, debit: sepa.AwaitingDebit, method: PaymentMethod,
                  state: sepa.MandateStatus, report: ExportReport) -> list[Event]:
    reference = method.mandate_reference
    why = (f"the mandate {reference} has expired (36 months without a collection); ask the customer for a new "
           "mandate" if state is sepa.MandateStatus.EXPIRED
           else f"the mandate {reference} is finished (its final or one-off debit has gone out, the bank refuses "
           "further debits on it); ask the customer for a new mandate" if state is sepa.MandateStatus.FINISHED
           else f"the mandate {reference} is {state.value}" if state is not sepa.MandateStatus.ACTIVE
           else "the payment method was removed" if not method.is_active else "SEPA debits are in EUR only")
    decline = replace(classify_sepa("MD01"), message=f"No valid direct debit mandate: {why}.")
    report.failed.append(FileProblem(debit.attempt_id, debit.invoice_number, "MD01", why))
    attempt = uow.attempts.get(debit.attempt_id)
    return collection.fail_attempt(ctx, uow, attempt, decline, f"mandate_{state.value}")


def _write(uow: UnitOfWork, file_id: str, header: pain008.FileHeader, path: Path) -> str:
    with path.open("wb") as handle:
        writer = _HashingWriter(handle)
        pain008.write_pain008(writer, header, uow.sepa_files.items(file_id, batch=BATCH))  # type: ignore[arg-type]
    return writer.digest.hexdigest()


_HEX = "0123456789abcdef"  # end-to-end ids made of these sort alike everywhere


class _Block:
    __slots__ = ("count", "handle", "last", "minor")

    def __init__(self) -> None:
        self.handle: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by _Spool.__exit__
        self.count, self.minor, self.last = 0, 0, ""


class _Spool:
    """The file's transactions as they are made, one temporary file per payment block (see the module docstring).

    Each block must get its items in file order: end-to-end ids ascending, in lower-case hex, which sort alike in
    Python, SQLite and PostgreSQL. Ids made otherwise switch the spool off and the file is written from the
    stored items.
    """

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.blocks: dict[sepa.GroupKey, _Block] = {}
        self.in_order = True

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        for block in self.blocks.values():
            block.handle.close()

    def add(self, items: Sequence[sepa.Collection]) -> None:
        if not self.in_order:
            return
        texts: dict[sepa.GroupKey, list[str]] = {}
        transaction, fmt = pain008.transaction, self.fmt
        for c in items:
            key = sepa.group_key(c)
            block = self.blocks.get(key)
            if block is None:
                block = self.blocks[key] = _Block()
            if c.end_to_end_id <= block.last or c.end_to_end_id.strip(_HEX):
                self.in_order = False
                return
            block.last = c.end_to_end_id
            block.count += 1
            block.minor += c.amount.minor
            texts.setdefault(key, []).append(transaction(c, fmt))
        for key, part in texts.items():
            self.blocks[key].handle.write("".join(part).encode())

    def matches(self, groups: Sequence[tuple[sepa.GroupKey, sepa.Totals]]) -> bool:
        """Whether the spool holds exactly the stored items' blocks (same counts and sums), in order."""
        return self.in_order and len(groups) == len(self.blocks) and all(
            (block := self.blocks.get(key)) is not None and (block.count, block.minor) == (
                totals.count, totals.control_sum.minor) for key, totals in groups)

    def write(self, path: Path, header: pain008.FileHeader) -> str:
        with path.open("wb") as handle:
            writer = _HashingWriter(handle)
            pain008.write_blocks(writer, header,  # type: ignore[arg-type]
                                 (self._chunks(self.blocks[key]) for key, _ in header.groups))
        return writer.digest.hexdigest()

    @staticmethod
    def _chunks(block: _Block) -> Iterator[bytes]:
        block.handle.seek(0)
        while chunk := block.handle.read(1 << 20):
            yield chunk


@dataclass(frozen=True, slots=True)
class Regenerated:
    file_id: str
    msg_id: str
    path: str
    sha256: str
    identical: bool


def regenerate_file(ctx: ServiceContext, ref: str, out: Path) -> Regenerated:
    """Write a past file again from what was stored; ``identical`` compares SHA-256 with the original."""
    with ctx.uow() as uow:
        stored = uow.sepa_files.get(ref)
        groups = uow.sepa_files.group_totals(stored.id)
        c = stored.creditor
        header = pain008.FileHeader(stored.format, stored.msg_id, _local(ctx, stored.created_at),
                                    pain008.Creditor(c["name"], c["iban"], c.get("bic"), c["creditor_id"]),
                                    sepa.Totals(stored.nb_of_txs, stored.ctrl_sum), groups)
        digest = _write(uow, stored.id, header, out)
    return Regenerated(stored.id, stored.msg_id, str(out), digest, digest == stored.sha256)


def list_files(ctx: ServiceContext, *, limit: int = 100) -> list[sepa.SepaFile]:
    with ctx.uow() as uow:
        return uow.sepa_files.list(limit=limit)


def amend_mandate(ctx: ServiceContext, method_id: str, *, iban: str | None = None, bic: str | None = None,
                  reference: str | None = None, new_bank: bool | None = None) -> PaymentMethod:
    """Change a mandate's IBAN and/or reference; the next collection reports the originals (AmdmntInd).
    ``new_bank`` defaults to whether the new IBAN's bank code differs from the old one (SMNDA, then FRST)."""
    with ctx.uow() as uow:
        method = uow.payment_methods.get(PaymentMethodId(method_id))
        new_iban = normalise_iban(iban) if iban else None
        new_reference = validate_mandate_reference(reference) if reference else None
        if new_reference and new_reference.upper() != (method.mandate_reference or "").upper() \
                and uow.payment_methods.mandate_reference_taken(new_reference):
            raise DuplicateMandateReference(f"mandate reference {new_reference!r} is already used")
        if new_bank is None:
            new_bank = bool(new_iban and method.iban and _bank_code(new_iban) != _bank_code(method.iban))
        new_bic = normalise_bic(bic) if bic else (None if new_iban else method.bic)
        if new_iban and new_bic is None:
            new_bic = bic_for_iban(new_iban)
        amended = sepa.amend_mandate(method, new_iban=new_iban, new_bic=new_bic, new_reference=new_reference,
                                     new_bank=new_bank)
        saved = uow.payment_methods.save(amended)
        uow.events.add([sepa.MandateAmended(saved.id, saved.customer_id, bool(new_iban), bool(new_reference),
                                       new_bank)], ctx.now())
        uow.commit()
    return saved


def _bank_code(iban: str) -> str:
    return iban[:4] + iban[4:12]  # country, check digits and (for DE) the 8-digit Bankleitzahl
