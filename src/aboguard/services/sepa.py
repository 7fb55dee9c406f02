"""SEPA direct debits on the bank-file rail: pain.008 export and re-generation, mandate amendments.

``export_collections`` takes every attempt the collection run left ``awaiting_export`` (with
``ABOGUARD_SEPA_CHANNEL=file``), chooses each one's sequence type from its mandate, stores the items, streams the
file, validates it against the official XSD and only then marks the attempts ``submitted`` -- all in one
transaction, so a file that fails validation changes nothing. An attempt is in at most one file (unique
``attempt_id``): exporting again writes only what is new. ``regenerate_file`` writes a past file again from
its stored items; its SHA-256 proves it is byte-identical.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import IO

from aboguard.bankfiles import pain008
from aboguard.bankfiles.xsd import SchemaViolation, validate_file
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
from aboguard.domain.payments import PaymentAttempt
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
    with ctx.uow() as uow:
        uow.sepa_files.add_file(_file_row(file_id, msg_id, fmt, ctx, due_on, creditor))
        count, events = _collect_items(ctx, uow, file_id, due_on, report)
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
            digest = _write(uow, file_id, header, temp)
            validate_file(temp, fmt)
        except (SchemaViolation, ValueError) as exc:  # the file is wrong: nothing is marked exported
            temp.unlink(missing_ok=True)
            raise InvalidSepaFile(f"the pain.008 file did not pass the {fmt} schema, nothing was exported: "
                                  f"{exc}") from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        uow.sepa_files.finish(file_id, digest, total)
        uow.events.add([*events, sepa.SepaFileExported(file_id, msg_id, fmt, due_on.isoformat(), total.count,
                                                  total.control_sum, digest)], ctx.now())
        uow.commit()
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


def _collect_items(ctx: ServiceContext, uow: UnitOfWork, file_id: str, due_on: date, report: ExportReport
                   ) -> tuple[int, list[Event]]:
    """Turn awaiting attempts into stored file items; fail those whose mandate is no longer valid."""
    events: list[Event] = []
    count, after = 0, ""
    while True:
        batch = uow.sepa_files.awaiting_export(limit=BATCH, after_id=after)
        if not batch:
            break
        after = batch[-1][0].id
        # mandates used earlier in this batch; earlier batches are already written (and read back as such)
        presented: dict[str, PaymentMethod] = {}
        items: list[sepa.Collection] = []
        for attempt, stored, number in batch:
            method = presented.get(stored.id, stored)
            state = sepa.mandate_state(method, due_on)
            if state is not sepa.MandateStatus.ACTIVE or not method.is_active or attempt.amount.currency != "EUR":
                events += _fail_invalid(ctx, uow, attempt, method, number, state, report)
                continue
            seq = sepa.sequence_type(method, first_as_rcur=ctx.sepa.first_as_rcur)
            items.append(_collection(attempt, method, number, due_on, seq))
            presented[method.id] = sepa.presented(method, due_on, seq)
        uow.sepa_files.add_items(file_id, count, items)
        uow.sepa_files.mark_submitted([(c.attempt_id, c.end_to_end_id) for c in items], ctx.now())
        uow.sepa_files.mark_presented(list(presented.values()))
        count += len(items)
    return count, events


def _collection(attempt: PaymentAttempt, method: PaymentMethod, number: str, due_on: date,
                seq: sepa.SequenceType) -> sepa.Collection:
    assert method.iban and method.mandate_reference and method.mandate_signed_on
    return sepa.Collection(
        attempt_id=attempt.id, end_to_end_id=sepa.end_to_end_id(attempt.id), amount=attempt.amount,
        collection_on=due_on, scheme=sepa.MandateScheme(method.mandate_scheme or "core"), sequence=seq,
        mandate_reference=method.mandate_reference, mandate_signed_on=method.mandate_signed_on,
        debtor_name=sepa.sepa_text(method.account_holder or "", 70), debtor_iban=method.iban,
        debtor_bic=method.bic, remittance=sepa.sepa_text(f"Rechnung {number}" if number else "Abonnement", 140),
        amendment=sepa.pending_amendment(method))


def _fail_invalid(ctx: ServiceContext, uow: UnitOfWork, attempt: PaymentAttempt, method: PaymentMethod, number: str,
                  state: sepa.MandateStatus, report: ExportReport) -> list[Event]:
    why = (f"the mandate {method.mandate_reference} is {state.value}" if state is not sepa.MandateStatus.ACTIVE
           else "the payment method was removed" if not method.is_active else "SEPA debits are in EUR only")
    decline = replace(classify_sepa("MD01"), message=f"No valid direct debit mandate: {why}.")
    report.failed.append(FileProblem(attempt.id, number, "MD01", why))
    return collection.fail_attempt(ctx, uow, attempt, decline, f"mandate_{state.value}")


def _write(uow: UnitOfWork, file_id: str, header: pain008.FileHeader, path: Path) -> str:
    with path.open("wb") as handle:
        writer = _HashingWriter(handle)
        pain008.write_pain008(writer, header, uow.sepa_files.items(file_id, batch=BATCH))  # type: ignore[arg-type]
    return writer.digest.hexdigest()


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
