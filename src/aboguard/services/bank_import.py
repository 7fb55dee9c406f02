"""Import camt.052/053/054 bank reports: settle and return direct debits, match incoming transfers.

The file streams through its schema (``bankfiles.camt``) and is applied chunk by chunk as it is read, all in
one transaction: a malformed file -- wherever the fault is -- is rejected and nothing is applied, and memory
stays flat however long the file. A file seen before (same SHA-256) changes nothing; a line seen before (same
bank reference, e.g. in the intraday camt.052 and then the camt.053) is skipped. What each kind of line does:

* ``collection`` -- the exported attempt with that end-to-end id succeeded: the invoice is paid into the bank;
* ``return`` -- the attempt fails (not settled yet) or is reversed (settled), with the SEPA reason code
  classified by ``domain.declines``; the bank's fee is booked; retries and dunning take over;
* ``transfer`` -- matched to open invoices (``domain.remittance``): paid in full, in part, or beyond (the
  rest becomes the customer's credit); no match -> the review list (``bank unmatched`` / ``bank match``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aboguard.bankfiles.camt import StatementReader
from aboguard.domain import bank_lines, ledger, remittance, sepa
from aboguard.domain import payments as attempts_
from aboguard.domain.bank_lines import (
    BankLine,
    DebitOnFile,
    ImportedStatement,
    LineKind,
    LineStatus,
    StatementLine,
)
from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.declines import classify_sepa
from aboguard.domain.events import Event, InvoicePaid
from aboguard.domain.invoicing import OPEN, Invoice, InvoiceStatus
from aboguard.domain.payments import AttemptStatus, PaymentAttempt
from aboguard.domain.sepa import PaymentBlock
from aboguard.errors import Conflict, InvalidInput
from aboguard.ids import CustomerId, InvoiceId, JournalEntryId
from aboguard.money import Money
from aboguard.payments.gateway import GatewayEvent, GatewayEventType
from aboguard.store.uow import UnitOfWork

from . import collection, dunning
from .context import ServiceContext


@dataclass(slots=True)
class ImportReport:
    file: str
    message: str = ""
    duplicate_file: bool = False
    lines: int = 0
    skipped: int = 0  # lines applied before (from another file)
    settled: int = 0
    returned: int = 0
    transfers_matched: int = 0
    unmatched: int = 0
    ignored: int = 0
    fees: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)  # transfers applied, per currency
    credit: dict[str, int] = field(default_factory=dict)  # over-payments kept as customer credit


def import_statement(ctx: ServiceContext, path: Path, *,
                     on_progress: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """Import one camt file (module docstring). Raises BankFileError for a malformed file; nothing applied.

    The file streams: lines are applied in chunks as they are parsed (a big file: the next chunk meanwhile), all in
    one transaction; a schema error found late rolls back what the earlier chunks did. ``on_progress`` is called
    after each chunk."""
    reader = StatementReader(path)  # the message and digest; nothing parsed yet
    report = ImportReport(file=path.name, message=reader.message)
    with ctx.uow() as uow:
        if uow.bank.imported(reader.sha256):
            report.duplicate_file = True
            return report
        statement_id = ctx.new_id()
        uow.bank.add_statement(statement_id, sha256=reader.sha256, message=reader.message, msg_id=None,
                               file_name=path.name, imported_at=ctx.now(), entries=0)
        # loyalty streaks follow each paid invoice: with rules active every settlement takes the full path
        applier = _Applier(ctx, uow, statement_id, report, bulk=not uow.incentives.rules())
        for chunk in reader.chunks(CHUNK):
            applier.apply_chunk(chunk)
            report.lines = reader.transactions
            if on_progress is not None:
                on_progress(report)
        report.lines = reader.transactions
        uow.bank.finish_statement(statement_id, msg_id=reader.msg_id, entries=reader.transactions)
        uow.events.add([bank_lines.BankStatementImported(statement_id, reader.message, path.name, report.lines,
                                                         report.unmatched)], ctx.now())
        uow.commit()
    return report


CHUNK = 2000


class _Applier:
    def __init__(self, ctx: ServiceContext, uow: UnitOfWork, statement_id: str, report: ImportReport, *,
                 bulk: bool) -> None:
        self.ctx, self.uow, self.statement_id, self.report, self.bulk = ctx, uow, statement_id, report, bulk
        self.rows: list[BankLine] = []
        self.events: list[Event] = []
        self.index: remittance.ReferenceIndex | None = None

    def apply_chunk(self, lines: list[StatementLine]) -> None:
        """Apply one chunk of lines and write what it did (bank lines, ledger, events), so memory stays flat.

        A line whose key is already stored (from another file, or earlier in this one) is skipped. Direct debits
        that settle plainly are settled together first, unless another line of the chunk (a return) concerns
        the same debit or invoice; everything else is applied one by one in file order."""
        known = self.uow.bank.known_keys({line.entry_key for line in lines})
        fresh: list[StatementLine] = []
        for line in lines:
            if line.entry_key in known:
                self.report.skipped += 1
                continue
            known.add(line.entry_key)
            fresh.append(line)
        debits = self.uow.bank.debits_on_file({line.end_to_end_id for line in fresh if line.end_to_end_id})
        rest = self._settle_plain(fresh, debits) if self.bulk else fresh
        for line in rest:
            debit = debits.get(line.end_to_end_id or "")
            self._apply_one(line, self._attempt(line) if debit is not None else None)
        self.flush()

    def _settle_plain(self, lines: list[StatementLine], debits: dict[str, DebitOnFile]) -> list[StatementLine]:
        """Settle the chunk's plain collections in bulk; the lines left for one-by-one, in file order."""
        busy = {debits[e].invoice_id for e in (line.end_to_end_id for line in lines if line.kind is not
                                                LineKind.COLLECTION and line.end_to_end_id) if e in debits}
        seen: set[str] = set()
        plain, rest = [], []
        for line in lines:
            debit = debits.get(line.end_to_end_id or "") if line.kind is LineKind.COLLECTION else None
            if debit is None or not debit.settles_plainly or debit.invoice_id in busy or debit.invoice_id in seen:
                rest.append(line)
                continue
            seen.add(debit.invoice_id)
            plain.append((line, debit))
        self._bulk_settle([debit for _, debit in plain])
        for line, debit in plain:
            self._row(line, LineStatus.APPLIED, invoice_id=debit.invoice_id, attempt_id=debit.attempt_id)
        return rest

    def _bulk_settle(self, debits: list[DebitOnFile]) -> None:
        """Debits that each pay their invoice in full and nothing else (:attr:`DebitOnFile.settles_plainly`)."""
        if not debits:
            return
        now, today = self.ctx.now(), self.ctx.today()
        entries = []
        for debit in debits:
            entries.append(ledger.payment_received(CustomerId(debit.customer_id), debit.invoice_id,
                                                   debit.invoice_number, debit.amount, into=ledger.BANK,
                                                   booked_on=today, entry_id=JournalEntryId(self.ctx.new_id()),
                                                   created_at=now))
            # what attempts_.succeeded and invoicing.apply_payment announce for a debit paying its invoice in full
            self.events.append(attempts_.PaymentSucceeded(debit.attempt_id, debit.invoice_id, debit.customer_id,
                                                          debit.amount, debit.gateway, debit.attempt_number))
            self.events.append(InvoicePaid(debit.invoice_id, debit.invoice_number, debit.amount))
        self.report.settled += len(debits)
        self.uow.bank.settle_plainly(debits, now)
        self.uow.ledger.add_many(entries)

    def _batch_credit(self, line: StatementLine) -> None:
        """A batch booking (Sammelbuchung) of our debits without their details: find the payment block it credits
        -- by the PmtInfId it names, else the one block due that day whose open debits add up to the amount --
        and settle every debit of it still on its way. A credit for debits already settled line by line (by the
        itemised camt.054) changes nothing; one that fits no block waits for that itemised file or for review."""
        blocks = self.uow.sepa_files.payment_blocks(pmt_inf_id=line.batch_ref) if line.batch_ref else \
            self.uow.sepa_files.payment_blocks(collection_on=line.booked_on)
        states = [(block, self.uow.sepa_files.block_state(block)) for block in blocks]
        verdict, block = sepa.match_batch_credit(line.amount, states)
        if verdict is sepa.BatchCredit.SETTLES:
            assert block is not None
            count = self._settle_block(block)
            self._row(line, LineStatus.APPLIED, note=f"batch credit: {count} debit(s) of {block.label} settled")
        elif verdict is sepa.BatchCredit.ALREADY_SETTLED:
            assert block is not None
            self._row(line, LineStatus.IGNORED, note=f"batch credit for {block.label}, already settled line by line")
        elif verdict is sepa.BatchCredit.NO_BLOCK:
            self._row(line, LineStatus.IGNORED, note="a batch credit of direct debits without details that names no "
                                                     "exported payment block: import the itemised camt.054 "
                                                     "(Sammelbuchungsdatei) for it")
        else:
            zero = Money.zero(line.amount.currency)
            named = "; ".join(f"{b.label}: {sums.get(AttemptStatus.SUBMITTED, zero)} open" for b, sums in states)
            self._row(line, LineStatus.UNMATCHED, note=f"batch credit of {line.amount} fits no payment block exactly "
                                                       f"({named}): import the itemised camt.054 for it")

    def _settle_block(self, block: PaymentBlock) -> int:
        """Settle every debit of ``block`` still on its way, in chunks (a block may hold 100,000 debits)."""
        count, after = 0, ""
        while ids := self.uow.sepa_files.block_end_to_end_ids(block, after=after, limit=CHUNK):
            after = ids[-1]
            waiting = [d for d in self.uow.bank.debits_on_file(ids).values()
                       if d.attempt_status is AttemptStatus.SUBMITTED]
            plain = [d for d in waiting if self.bulk and d.settles_plainly]
            self._bulk_settle(plain)
            done = {d.attempt_id for d in plain}
            for debit in waiting:
                if debit.attempt_id not in done:
                    attempt = self.uow.attempts.get(debit.attempt_id)
                    self.events += collection.settle_attempt(self.ctx, self.uow, attempt, attempt.provider_payment_id)
                    self.report.settled += 1
            count += len(waiting)
            self.flush()
        return count

    def flush(self) -> None:
        self.uow.bank.add_lines(self.rows)
        self.uow.events.add(self.events, self.ctx.now())
        self.rows, self.events = [], []

    def _row(self, line: StatementLine, status: LineStatus, *, invoice_id: str | None = None,
             attempt_id: str | None = None, credit: Money | None = None, note: str = "") -> None:
        self.rows.append(BankLine(
            self.ctx.new_id(), self.statement_id, line.entry_key, line.kind, line.booked_on, line.amount, line.fee,
            line.end_to_end_id, line.mandate_reference, line.reason_code, line.counterparty, line.remittance, status,
            invoice_id, attempt_id, credit or Money.zero(line.amount.currency), note or line.note, self.ctx.now()))
        if status is LineStatus.UNMATCHED:
            self.report.unmatched += 1
        elif status is LineStatus.IGNORED:
            self.report.ignored += 1

    def _attempt(self, line: StatementLine) -> PaymentAttempt | None:
        if not line.end_to_end_id:
            return None
        return self.uow.attempts.by_provider_id(ledger.SEPA_FILE_RAIL, line.end_to_end_id)

    def _apply_one(self, line: StatementLine, attempt: PaymentAttempt | None) -> None:
        if line.kind is LineKind.OTHER:
            self._row(line, LineStatus.IGNORED, note=line.note or "not a payment aboguard collects")
            return
        if line.kind is LineKind.RETURN:
            self._return(line, attempt)
        elif attempt is not None:  # a credit naming one of our debits: the collection settled
            self._settle(line, attempt)
        elif line.kind is LineKind.COLLECTION and not line.end_to_end_id:
            self._batch_credit(line)
        elif line.kind is LineKind.COLLECTION:
            self._row(line, LineStatus.UNMATCHED, note="no exported direct debit has this end-to-end id")
        else:
            self._transfer(line)

    def _settle(self, line: StatementLine, attempt: PaymentAttempt) -> None:
        if attempt.status is not AttemptStatus.SUBMITTED:  # e.g. its return came first: the two cancel out
            self._row(line, LineStatus.IGNORED, invoice_id=attempt.invoice_id, attempt_id=attempt.id,
                      note=f"the debit is already {attempt.status.value}; this credit changes nothing")
            return
        self.events += collection.settle_attempt(self.ctx, self.uow, attempt, attempt.provider_payment_id)
        self.report.settled += 1
        self._row(line, LineStatus.APPLIED, invoice_id=attempt.invoice_id, attempt_id=attempt.id)

    def _return(self, line: StatementLine, attempt: PaymentAttempt | None) -> None:
        if attempt is None:
            self._row(line, LineStatus.UNMATCHED, note="a returned direct debit that matches no exported one: "
                                                       "`aboguard bank match LINE INVOICE` applies it")
            return
        if attempt.status not in {AttemptStatus.SUBMITTED, AttemptStatus.SUCCEEDED}:
            self._row(line, LineStatus.IGNORED, invoice_id=attempt.invoice_id, attempt_id=attempt.id,
                      note=f"the attempt is already {attempt.status.value}")
            return
        self.events += _apply_return(self.ctx, self.uow, line, attempt)
        self.report.returned += 1
        if line.fee.is_positive():
            self.report.fees[line.fee.currency] = self.report.fees.get(line.fee.currency, 0) + line.fee.minor
        self._row(line, LineStatus.APPLIED, invoice_id=attempt.invoice_id, attempt_id=attempt.id,
                  note=f"returned: {line.reason_code or 'no reason given'}")

    def _transfer(self, line: StatementLine) -> None:
        if self.index is None:
            self.index = remittance.ReferenceIndex.of(self.uow.bank.open_items())
        found = remittance.match_transfer(line.amount, line.remittance, line.counterparty or "", self.index)
        if found is None:
            self._row(line, LineStatus.UNMATCHED, note="no open invoice found by reference, or by amount and name")
            return
        for item, amount in found.allocations:
            self.index.paid(item.invoice_id, amount)
        first, credit = apply_transfer(self.ctx, self.uow, found, line, self.events)
        self.report.transfers_matched += 1
        cur = line.amount.currency
        self.report.received[cur] = self.report.received.get(cur, 0) + line.amount.minor
        if credit.is_positive():
            self.report.credit[cur] = self.report.credit.get(cur, 0) + credit.minor
        self._row(line, LineStatus.APPLIED, invoice_id=first, credit=credit, note=f"matched by {found.rule.value}")


def _apply_return(ctx: ServiceContext, uow: UnitOfWork, line: StatementLine | BankLine, attempt: PaymentAttempt
                  ) -> list[Event]:
    """The debit came back: it fails (not settled yet) or is reversed, with the SEPA reason; the fee is booked."""
    event = GatewayEvent(id=line.entry_key, type=GatewayEventType.PAYMENT_RETURNED,
                         provider_payment_id=attempt.provider_payment_id or "", amount=line.amount,
                         occurred_at=ctx.now(), decline=classify_sepa(line.reason_code or "unknown"),
                         fee=line.fee if line.fee.is_positive() else None)
    return collection.apply_bank_event(ctx, uow, attempt, event)


def apply_transfer(ctx: ServiceContext, uow: UnitOfWork, found: remittance.Match, line: StatementLine | BankLine,
                   events: list[Event]) -> tuple[str, Money]:
    """Book a matched transfer: each invoice paid (§ 367 BGB through dunning.apply_incoming), the rest credit."""
    for item, amount in found.allocations:
        invoice = uow.invoices.get(InvoiceId(item.invoice_id))
        paid, paid_events = dunning.apply_incoming(ctx, uow, invoice, amount, into=ledger.BANK)
        events += paid_events
        if paid.status is InvoiceStatus.PAID and invoice.subscription_id:
            events += collection.reinstate_if_settled(ctx, uow, invoice.subscription_id)
    if found.credit.is_positive():
        uow.ledger.add_many([ledger.credit_balance_entry(
            found.customer_id, found.credit, into=ledger.BANK, booked_on=ctx.today(),  # type: ignore[arg-type]
            entry_id=JournalEntryId(ctx.new_id()), created_at=ctx.now(),
            description=f"Over-payment by bank transfer ({line.remittance[:60]})")])
    return found.allocations[0][0].invoice_id, found.credit


def list_statements(ctx: ServiceContext, *, limit: int = 100) -> list[ImportedStatement]:
    with ctx.uow() as uow:
        return uow.bank.statements(limit=limit)


def list_unmatched(ctx: ServiceContext, *, limit: int = 1000) -> list[BankLine]:
    with ctx.uow() as uow:
        return uow.bank.unmatched(limit=limit)


class LineAlreadyMatched(Conflict):
    code = "bank.line_already_matched"


def match_line(ctx: ServiceContext, line_id: str, invoice_ref: str) -> BankLine:
    """Resolve a line on the review list by naming its invoice.

    * money in (a transfer, or a debit's credit with an end-to-end id we do not know): paid to the invoice, more
      than is open becomes the customer's credit;
    * a returned debit that named no debit we know: applied as the return of the invoice's one SEPA debit that is
      on its way or settled (the attempt fails or is reversed, the bank's fee is booked, recovery takes over).
    """
    with ctx.uow() as uow:
        line = uow.bank.get_line(line_id)
        if line.status is not LineStatus.UNMATCHED:
            raise LineAlreadyMatched(f"bank line {line.id} is {line.status.value}, not waiting for review")
        invoice = uow.invoices.find(invoice_ref)
        events: list[Event] = []
        if line.kind is LineKind.RETURN:
            attempt = _returned_debit(uow, line, invoice)
            events += _apply_return(ctx, uow, line, attempt)
            resolved = uow.bank.resolve_line(line, status=LineStatus.APPLIED, invoice_id=invoice.id,
                                             attempt_id=attempt.id, credit=Money.zero(line.amount.currency),
                                             note=f"return of debit {attempt.id} matched by hand ({invoice.number}): "
                                                  f"{line.reason_code or 'no reason given'}")
        elif line.kind is LineKind.TRANSFER or (line.kind is LineKind.COLLECTION and line.end_to_end_id):
            if invoice.status not in OPEN or invoice.currency != line.amount.currency:
                raise InvalidInput(f"invoice {invoice.number} is {invoice.status.value} in {invoice.currency}; "
                                   f"it cannot take this {line.amount} payment")
            customer = uow.customers.get(invoice.customer_id)
            item = remittance.OpenItem(invoice.id, invoice.number or "", invoice.customer_id, customer.name,
                                       invoice.amount_due)
            parts, credit = remittance.allocate(line.amount, [item])
            _, credit = apply_transfer(ctx, uow, remittance.Match(remittance.MatchRule.INVOICE_NUMBER, parts, credit,
                                                                  invoice.customer_id), line, events)
            resolved = uow.bank.resolve_line(line, status=LineStatus.APPLIED, invoice_id=invoice.id, credit=credit,
                                             note=f"matched by hand to {invoice.number}")
        else:
            raise InvalidInput(f"bank line {line.id} is a {line.kind.value} without a single invoice behind it; "
                               "import the itemised camt.054 for it, or take it off the list with "
                               f"`aboguard bank dismiss {line.id} --reason ...`")
        if not resolved:
            raise LineAlreadyMatched(f"bank line {line.id} was matched meanwhile")
        uow.events.add([*events, bank_lines.BankLineMatched(line.id, invoice.id, line.amount)], ctx.now())
        uow.commit()
        return uow.bank.get_line(line.id)


def _returned_debit(uow: UnitOfWork, line: BankLine, invoice: Invoice) -> PaymentAttempt:
    debits = [a for a in uow.attempts.list(invoice_id=invoice.id, limit=1000)
              if a.method_kind is PaymentMethodKind.SEPA_DEBIT
              and a.status in {AttemptStatus.SUBMITTED, AttemptStatus.SUCCEEDED}]
    if len(debits) != 1:
        found = ", ".join(f"{a.id} ({a.status.value}, {a.amount})" for a in debits) or "none"
        raise InvalidInput(f"invoice {invoice.number} needs exactly one SEPA debit on its way or settled for this "
                           f"return to apply to; it has: {found}")
    if debits[0].amount != line.amount:
        raise InvalidInput(f"the return is for {line.amount}, the debit on invoice {invoice.number} was for "
                           f"{debits[0].amount}: not the same payment")
    return debits[0]


def dismiss_line(ctx: ServiceContext, line_id: str, reason: str) -> BankLine:
    """Take a line off the review list without applying it (not a payment of ours, or settled another way)."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("say why the line needs no action: --reason \"...\" (kept with the line)")
    with ctx.uow() as uow:
        line = uow.bank.get_line(line_id)
        if line.status is not LineStatus.UNMATCHED:
            raise LineAlreadyMatched(f"bank line {line.id} is {line.status.value}, not waiting for review")
        if not uow.bank.resolve_line(line, status=LineStatus.IGNORED, invoice_id=None,
                                     credit=Money.zero(line.amount.currency), note=f"dismissed by hand: {reason}"):
            raise LineAlreadyMatched(f"bank line {line.id} was resolved meanwhile")
        uow.events.add([bank_lines.BankLineDismissed(line.id, line.amount, reason)], ctx.now())
        uow.commit()
        return uow.bank.get_line(line.id)
