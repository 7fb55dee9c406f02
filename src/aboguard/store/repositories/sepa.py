"""pain.008 files with their items, and imported bank statements with their lines.

A file's items keep everything written into it (the IBAN encrypted), so the file can be made again byte
for byte; ``attempt_id`` and ``end_to_end_id`` are unique, so no attempt is exported twice. A bank line's
``entry_key`` is unique, so no bank entry is applied twice, whichever file (camt.052, .053 or .054) brings it.
"""

from __future__ import annotations

from collections.abc import Collection as Coll
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from aboguard.domain.bank_lines import BankLine, DebitOnFile, ImportedStatement, LineKind, LineStatus
from aboguard.domain.invoicing import OPEN, DocumentKind, InvoiceStatus
from aboguard.domain.ledger import SEPA_FILE_RAIL
from aboguard.domain.payment_methods import PaymentMethod
from aboguard.domain.payments import AttemptStatus
from aboguard.domain.remittance import OpenItem
from aboguard.domain.sepa import (
    Amendment,
    AwaitingDebit,
    Collection,
    GroupKey,
    MandateScheme,
    MandateUse,
    PaymentBlock,
    SepaFile,
    SequenceType,
    SeriesFacts,
    Totals,
)
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.errors import ConcurrentUpdate, NotFound
from aboguard.money import Money
from aboguard.store import rows
from aboguard.store.bulk import insert_many, update_many_versioned
from aboguard.store.secrets import SecretBox
from aboguard.store.tables import (
    bank_lines,
    bank_statements,
    customers,
    dunning_cases,
    invoices,
    payment_attempts,
    payment_methods,
    sepa_file_items,
    sepa_files,
    subscriptions,
)

from ._base import one_of


class SepaFileNotFound(NotFound):
    code = "sepa.file_not_found"


class BankLineNotFound(NotFound):
    code = "bank.line_not_found"


def _file_from_row(row: Any) -> SepaFile:
    return SepaFile(row["id"], row["msg_id"], row["format"], row["created_at"], row["collection_on"],
                    row["nb_of_txs"], Money(row["ctrl_sum_minor"], row["currency"]), dict(row["creditor"]),
                    row["sha256"])


def _line_from_row(row: Any) -> BankLine:
    cur = row["currency"]
    return BankLine(row["id"], row["statement_id"], row["entry_key"], LineKind(row["kind"]), row["booked_on"],
                    Money(row["amount_minor"], cur), Money(row["fee_minor"], cur), row["end_to_end_id"],
                    row["mandate_reference"], row["reason_code"], row["counterparty"], row["remittance"],
                    LineStatus(row["status"]), row["invoice_id"], row["attempt_id"], Money(row["credit_minor"], cur),
                    row["note"], row["created_at"])


class SqlSepaFiles:
    def __init__(self, connection: Connection, secrets: SecretBox) -> None:
        self._conn = connection
        self._secrets = secrets
        self._sealed: dict[str, str] = {}  # IBAN -> its stored ciphertext, for the batch read last

    def awaiting_export(self, *, limit: int, after_id: str = "") -> list[AwaitingDebit]:
        """Attempts waiting for a pain.008 file with their mandate, invoice number and what the invoice's
        subscription says about the series' end (``SeriesFacts`` without the per-customer checks), by attempt id
        (keyset: pass the last one's id as ``after_id``).

        The mandates' IBAN ciphertexts are kept until the next call, so that :meth:`add_items` stores them as
        they are instead of encrypting every IBAN again (any ciphertext of the same IBAN decrypts alike).
        """
        a, i, s, m = payment_attempts, invoices, subscriptions, payment_methods
        awaiting = AttemptStatus.AWAITING_EXPORT.value
        self._sealed = sealed = {}
        if after_id:
            keyset = a.c.id > after_id
        else:  # the first batch starts at the oldest waiting attempt
            start = self._conn.execute(select(func.min(a.c.id)).where(a.c.status == awaiting)).scalar()
            if start is None:
                return []
            keyset = a.c.id >= start
        # Each batch walks the primary key from where the last one stopped (ids sort by creation, so the walk
        # covers only attempts made since the oldest waiting one), and only the batch is joined: a join before
        # the limit lets PostgreSQL hash-join every waiting attempt again for each batch. SQLite would rather
        # take the status index and sort every waiting attempt for each batch; `status || ''` keeps it off it.
        status = a.c.status.concat("") if self._conn.dialect.name == "sqlite" else a.c.status
        batch = (select(a.c.id, a.c.invoice_id, a.c.customer_id, a.c.amount_minor, a.c.currency,
                        a.c.payment_method_id)
                 .where(status == awaiting, keyset, a.c.payment_method_id.is_not(None))
                 .order_by(a.c.id).limit(limit).subquery())
        query = (select(batch.c.id, batch.c.invoice_id, batch.c.customer_id, batch.c.amount_minor, batch.c.currency,
                        i.c.number, s.c.id, s.c.ends_on, s.c.next_bill_on, i.c.supply_end, m)
                 .join(i, i.c.id == batch.c.invoice_id)
                 .join(m, m.c.id == batch.c.payment_method_id)
                 .outerjoin(s, s.c.id == i.c.subscription_id)
                 .order_by(batch.c.id))
        # read by position: 0-4 the attempt, 5 invoice number, 6-9 subscription id, end, next billing date and
        # the invoice's period end, then the mandate's columns
        names = [c.name for c in m.c]
        methods: dict[str, PaymentMethod] = {}
        found = []
        runs_on = SeriesFacts()  # shared by every debit whose subscription does not end
        for row in self._conn.execute(query):
            ends_on = row[7]
            series = runs_on if ends_on is None else SeriesFacts(row[6], ends_on, row[8], row[9])
            method = methods.get(row[10])
            if method is None:
                stored = dict(zip(names, row[10:], strict=True))
                method = methods[stored["id"]] = rows.payment_method_from_row(stored, self._secrets)
                if method.iban:
                    sealed[method.iban] = stored["iban_enc"]
                if method.mandate_original_iban:
                    sealed[method.mandate_original_iban] = stored["mandate_original_iban_enc"]
            found.append(AwaitingDebit(row[0], row[1], row[2], Money(row[3], row[4]), method, row[5] or "", series))
        return found

    def mandate_needed_later(self, debits: Sequence[tuple[str, str, str | None]]) -> set[str]:
        """Of these (customer id, invoice id, subscription id) debits, the invoices whose customer has another
        subscription that may still bill (not ended, a next billing date or paused) or another open invoice."""
        if not debits:
            return set()
        customer_ids = list({customer for customer, _, _ in debits})
        live: dict[str, set[str]] = {}
        s = subscriptions.c
        for customer, sub_id in self._conn.execute(select(s.customer_id, s.id).where(
                one_of(self._conn, s.customer_id, customer_ids), s.status != SubscriptionStatus.ENDED.value,
                s.next_bill_on.is_not(None) | (s.status == SubscriptionStatus.PAUSED.value))):
            live.setdefault(customer, set()).add(sub_id)
        open_: dict[str, set[str]] = {}
        i = invoices.c
        for customer, invoice_id in self._conn.execute(select(i.customer_id, i.id).where(
                one_of(self._conn, i.customer_id, customer_ids), i.kind == DocumentKind.INVOICE.value,
                i.status.in_([x.value for x in OPEN]), i.total_minor - i.paid_minor - i.credited_minor > 0)):
            open_.setdefault(customer, set()).add(invoice_id)
        return {invoice_id for customer, invoice_id, sub_id in debits
                if live.get(customer, set()) - {sub_id} or open_.get(customer, set()) - {invoice_id}}

    def returned_finals(self, debits: Sequence[tuple[str, str]]) -> set[str]:
        """Of these (invoice id, mandate reference) pairs, the invoices with a final (FNAL) debit on that mandate
        that came back (its attempt failed)."""
        if not debits:
            return set()
        a, x = payment_attempts.c, sepa_file_items.c
        found = self._conn.execute(
            select(a.invoice_id, x.mandate_reference).join(sepa_file_items, x.attempt_id == a.id)
            .where(one_of(self._conn, a.invoice_id, list({invoice for invoice, _ in debits})),
                   x.sequence == SequenceType.FNAL.value, a.status == AttemptStatus.FAILED.value))
        came_back = {(invoice, reference) for invoice, reference in found}
        return {invoice for invoice, reference in debits if (invoice, reference) in came_back}

    def add_file(self, file: SepaFile) -> None:
        self._conn.execute(insert(sepa_files).values(
            id=file.id, msg_id=file.msg_id, format=file.format, created_at=file.created_at,
            collection_on=file.collection_on, nb_of_txs=file.nb_of_txs, ctrl_sum_minor=file.ctrl_sum.minor,
            currency=file.ctrl_sum.currency, creditor=file.creditor, sha256=file.sha256))

    def discard(self, file_id: str) -> None:
        """Drop a file that got no items (everything waiting was refused)."""
        self._conn.execute(sepa_files.delete().where(sepa_files.c.id == file_id))

    def finish(self, file_id: str, sha256: str, totals: Totals) -> None:
        """The written file's digest and totals (kept to make it again and to prove it is the same)."""
        self._conn.execute(update(sepa_files).where(sepa_files.c.id == file_id).values(
            sha256=sha256, nb_of_txs=totals.count, ctrl_sum_minor=totals.control_sum.minor,
            currency=totals.control_sum.currency))

    def add_items(self, file_id: str, first_position: int, items: Sequence[Collection]) -> None:
        sealed, encrypt = self._sealed, self._secrets.encrypt

        def enc(iban: str) -> str:
            found = sealed.get(iban)
            return found if found is not None else encrypt(iban)

        insert_many(self._conn, sepa_file_items, [{
            "file_id": file_id, "position": first_position + n, "attempt_id": c.attempt_id,
            "end_to_end_id": c.end_to_end_id, "collection_on": c.collection_on, "scheme": c.scheme.value,
            "sequence": c.sequence.value, "amount_minor": c.amount.minor, "currency": c.amount.currency,
            "mandate_reference": c.mandate_reference, "mandate_signed_on": c.mandate_signed_on,
            "debtor_name": c.debtor_name, "debtor_iban_enc": enc(c.debtor_iban), "debtor_bic": c.debtor_bic,
            "remittance": c.remittance, "original_reference": c.amendment.original_reference,
            "original_iban_enc": enc(c.amendment.original_iban) if c.amendment.original_iban else None,
            "new_bank": c.amendment.new_bank} for n, c in enumerate(items)])

    def exported_attempts(self, attempt_ids: Coll[str]) -> set[str]:
        if not attempt_ids:
            return set()
        return set(self._conn.execute(select(sepa_file_items.c.attempt_id).where(
            one_of(self._conn, sepa_file_items.c.attempt_id, list(attempt_ids)))).scalars())

    def group_totals(self, file_id: str) -> list[tuple[GroupKey, Totals]]:
        c = sepa_file_items.c
        query = (select(c.collection_on, c.scheme, c.sequence, c.currency, func.count(), func.sum(c.amount_minor))
                 .where(c.file_id == file_id).group_by(c.collection_on, c.scheme, c.sequence, c.currency)
                 .order_by(c.collection_on, c.scheme, c.sequence))
        return [((on, MandateScheme(scheme), SequenceType(seq)), Totals(int(n), Money(int(total), cur)))
                for on, scheme, seq, cur, n, total in self._conn.execute(query)]

    def items(self, file_id: str, *, batch: int = 2000) -> Iterator[Collection]:
        """The file's collections in file order (payment block, then end-to-end id), fetched in batches."""
        c = sepa_file_items.c
        dec = self._secrets.decrypt
        last: tuple[Any, ...] | None = None  # keyset: the sort key of the last row read
        while True:
            query = select(sepa_file_items).where(c.file_id == file_id)
            if last is not None:
                query = query.where(tuple_(c.collection_on, c.scheme, c.sequence, c.end_to_end_id) > tuple_(*last))
            query = query.order_by(c.collection_on, c.scheme, c.sequence, c.end_to_end_id).limit(batch)
            found = list(self._conn.execute(query).mappings())
            for row in found:
                yield Collection(
                    attempt_id=row["attempt_id"], end_to_end_id=row["end_to_end_id"],
                    amount=Money(row["amount_minor"], row["currency"]), collection_on=row["collection_on"],
                    scheme=MandateScheme(row["scheme"]), sequence=SequenceType(row["sequence"]),
                    mandate_reference=row["mandate_reference"], mandate_signed_on=row["mandate_signed_on"],
                    debtor_name=row["debtor_name"], debtor_iban=dec(row["debtor_iban_enc"]),
                    debtor_bic=row["debtor_bic"], remittance=row["remittance"],
                    amendment=Amendment(row["original_reference"],
                                        dec(row["original_iban_enc"]) if row["original_iban_enc"] else None,
                                        bool(row["new_bank"])))
            if len(found) < batch:
                return
            tail = found[-1]
            last = (tail["collection_on"], tail["scheme"], tail["sequence"], tail["end_to_end_id"])

    def payment_blocks(self, *, pmt_inf_id: str | None = None, collection_on: date | None = None
                       ) -> list[PaymentBlock]:
        """The payment block a PmtInfId names (``<msg id, 30 chars>-<number>``), or every block due on a date."""
        f, c = sepa_files.c, sepa_file_items.c
        number = None
        if pmt_inf_id is not None:
            prefix, _, tail = pmt_inf_id.rpartition("-")
            if not prefix or not tail.isdigit():
                return []
            number = int(tail)
            query = select(f.id, f.msg_id).where(f.msg_id.startswith(prefix, autoescape=True))
        else:
            query = select(f.id, f.msg_id).where(f.id.in_(select(c.file_id).where(c.collection_on == collection_on)))
        blocks = []
        for file_id, msg_id in list(self._conn.execute(query.order_by(f.created_at, f.id))):
            if number is not None and msg_id[:30] != prefix:
                continue
            for n, (key, totals) in enumerate(self.group_totals(file_id), start=1):
                if (number is None or n == number) and (collection_on is None or key[0] == collection_on):
                    blocks.append(PaymentBlock(file_id, msg_id, n, key, totals))
        return blocks

    def _block_items(self, block: PaymentBlock) -> ColumnElement[bool]:
        c = sepa_file_items.c
        on, scheme, sequence = block.key
        return and_(c.file_id == block.file_id, c.collection_on == on, c.scheme == scheme.value,
                    c.sequence == sequence.value)

    def block_state(self, block: PaymentBlock) -> dict[AttemptStatus, Money]:
        """What the block's debits add up to, by their attempts' status now."""
        a = payment_attempts.c
        query = (select(a.status, a.currency, func.sum(a.amount_minor))
                 .select_from(sepa_file_items.join(payment_attempts, a.id == sepa_file_items.c.attempt_id))
                 .where(self._block_items(block)).group_by(a.status, a.currency))
        return {AttemptStatus(status): Money(int(total), cur) for status, cur, total in self._conn.execute(query)}

    def block_end_to_end_ids(self, block: PaymentBlock, *, after: str = "", limit: int = 2000) -> list[str]:
        c = sepa_file_items.c
        query = (select(c.end_to_end_id).where(self._block_items(block), c.end_to_end_id > after)
                 .order_by(c.end_to_end_id).limit(limit))
        return list(self._conn.execute(query).scalars())

    def get(self, ref: str) -> SepaFile:
        row = self._conn.execute(select(sepa_files).where(
            (sepa_files.c.id == ref) | (sepa_files.c.msg_id == ref))).mappings().first()
        if row is None:
            raise SepaFileNotFound(f"no pain.008 file with id or message id {ref!r}")
        return _file_from_row(row)

    def list(self, *, limit: int = 100) -> list[SepaFile]:
        query = select(sepa_files).order_by(sepa_files.c.created_at, sepa_files.c.id).limit(limit)
        return [_file_from_row(row) for row in self._conn.execute(query).mappings()]

    def mark_submitted(self, file_id: str, now: datetime) -> int:
        """Every attempt in the file: status submitted, its end-to-end id as the payment id, in one statement.
        Raises ConcurrentUpdate unless each of them was still awaiting export."""
        a, x = payment_attempts, sepa_file_items
        changed = self._conn.execute(  # UPDATE ... FROM sepa_file_items, on SQLite and PostgreSQL alike
            update(a).where(a.c.id == x.c.attempt_id, x.c.file_id == file_id,
                            a.c.status == AttemptStatus.AWAITING_EXPORT.value)
            .values(status=AttemptStatus.SUBMITTED.value, provider_payment_id=x.c.end_to_end_id, updated_at=now,
                    version=a.c.version + 1)).rowcount
        expected = self._conn.execute(select(func.count()).select_from(x).where(x.c.file_id == file_id)).scalar_one()
        if changed != expected:
            raise ConcurrentUpdate("a payment attempt of this file was changed meanwhile; export again")
        return changed

    def mark_presented(self, uses: Sequence[MandateUse]) -> None:
        """Write what the collections changed on their mandates (last used, status; a pending amendment is carried
        and cleared), optimistic on the versions read."""
        changed = update_many_versioned(self._conn, payment_methods, [{
            "mandate_last_used_on": u.last_used_on, "mandate_status": u.status, "mandate_original_reference": None,
            "mandate_original_iban_enc": None, "mandate_new_bank": False, "id": u.method_id, "version": u.version}
            for u in uses])
        if changed != len(uses):
            raise ConcurrentUpdate("a mandate was changed meanwhile; export again")


class SqlBankStatements:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def imported(self, sha256: str) -> bool:
        return self._conn.execute(select(bank_statements.c.id).where(
            bank_statements.c.sha256 == sha256)).first() is not None

    def add_statement(self, statement_id: str, *, sha256: str, message: str, msg_id: str | None, file_name: str,
                      imported_at: datetime, entries: int) -> None:
        try:
            self._conn.execute(insert(bank_statements).values(
                id=statement_id, sha256=sha256, message=message, msg_id=msg_id, file_name=file_name,
                imported_at=imported_at, entries=entries))
        except IntegrityError:
            raise ConcurrentUpdate(f"{file_name} was imported by another process at the same time; nothing was "
                                   "applied twice (import it again to see)") from None

    def statements(self, *, limit: int = 100) -> list[ImportedStatement]:
        """The latest imported files first, each with its lines counted by status."""
        st, ln = bank_statements.c, bank_lines.c
        heads = list(self._conn.execute(select(bank_statements).order_by(st.imported_at.desc(), st.id.desc())
                                        .limit(limit)).mappings())
        counts: dict[str, dict[str, int]] = {head["id"]: {} for head in heads}
        if heads:
            query = (select(ln.statement_id, ln.status, func.count()).where(
                one_of(self._conn, ln.statement_id, list(counts))).group_by(ln.statement_id, ln.status))
            for statement_id, status, n in self._conn.execute(query):
                counts[statement_id][status] = int(n)
        return [ImportedStatement(h["id"], h["file_name"], h["message"], h["msg_id"], h["imported_at"], h["entries"],
                                  counts[h["id"]]) for h in heads]

    def finish_statement(self, statement_id: str, *, msg_id: str | None, entries: int) -> None:
        """What is known once the whole file was read: its message id and how many lines it had."""
        self._conn.execute(update(bank_statements).where(bank_statements.c.id == statement_id).values(
            msg_id=msg_id, entries=entries))

    def known_keys(self, keys: Coll[str]) -> set[str]:
        found: set[str] = set()
        values = list(keys)
        for start in range(0, len(values), 5000):
            found |= set(self._conn.execute(select(bank_lines.c.entry_key).where(
                one_of(self._conn, bank_lines.c.entry_key, values[start:start + 5000]))).scalars())
        return found

    def add_lines(self, lines: Sequence[BankLine]) -> None:
        try:
            self._insert_lines(lines)
        except IntegrityError:  # the unique entry key: another import stored one of these lines meanwhile
            raise ConcurrentUpdate("another import applied some of the same bank entries at the same time; this "
                                   "one was undone -- import the file again (entries already applied are "
                                   "skipped)") from None

    def _insert_lines(self, lines: Sequence[BankLine]) -> None:
        insert_many(self._conn, bank_lines, [{
            "id": x.id, "statement_id": x.statement_id, "entry_key": x.entry_key, "kind": x.kind.value,
            "booked_on": x.booked_on, "amount_minor": x.amount.minor, "currency": x.amount.currency,
            "fee_minor": x.fee.minor, "end_to_end_id": x.end_to_end_id, "mandate_reference": x.mandate_reference,
            "reason_code": x.reason_code, "counterparty": x.counterparty, "remittance": x.remittance,
            "status": x.status.value, "invoice_id": x.invoice_id, "attempt_id": x.attempt_id,
            "credit_minor": x.credit.minor, "note": x.note, "created_at": x.created_at} for x in lines])

    def unmatched(self, *, limit: int = 1000) -> list[BankLine]:
        query = (select(bank_lines).where(bank_lines.c.status == LineStatus.UNMATCHED.value)
                 .order_by(bank_lines.c.booked_on, bank_lines.c.created_at, bank_lines.c.id).limit(limit))
        return [_line_from_row(row) for row in self._conn.execute(query).mappings()]

    def get_line(self, line_id: str) -> BankLine:
        row = self._conn.execute(select(bank_lines).where(bank_lines.c.id == line_id)).mappings().first()
        if row is None:
            raise BankLineNotFound(f"no bank line with id {line_id!r}")
        return _line_from_row(row)

    def resolve_line(self, line: BankLine, *, status: LineStatus, invoice_id: str | None, credit: Money,
                     note: str, attempt_id: str | None = None) -> bool:
        """Settle an unmatched line; False when someone else settled it first."""
        result = self._conn.execute(update(bank_lines).where(
            bank_lines.c.id == line.id, bank_lines.c.status == LineStatus.UNMATCHED.value).values(
            status=status.value, invoice_id=invoice_id, attempt_id=attempt_id or line.attempt_id,
            credit_minor=credit.minor, note=note))
        return result.rowcount == 1

    def debits_on_file(self, end_to_end_ids: Coll[str]) -> dict[str, DebitOnFile]:
        """The exported attempts with these end-to-end ids, each with its invoice's amounts and whether settling
        it is plain (:attr:`DebitOnFile.settles_plainly`)."""
        if not end_to_end_ids:
            return {}
        a, i = payment_attempts.c, invoices.c
        query = (select(a.id, a.version, a.status, a.number, a.amount_minor, a.currency, a.gateway, a.customer_id,
                        a.invoice_id, a.provider_payment_id, i.number.label("invoice_number"),
                        i.status.label("invoice_status"), i.version.label("invoice_version"), i.total_minor,
                        i.paid_minor, i.credited_minor, i.skonto_percent, dunning_cases.c.id.label("case_id"),
                        subscriptions.c.status.label("sub_status"))
                 .join(invoices, i.id == a.invoice_id)
                 .outerjoin(dunning_cases, dunning_cases.c.invoice_id == a.invoice_id)
                 .outerjoin(subscriptions, subscriptions.c.id == i.subscription_id)
                 .where(a.gateway == SEPA_FILE_RAIL, one_of(self._conn, a.provider_payment_id, list(end_to_end_ids))))
        found = {}
        quiet = {"past_due", "suspended"}
        for (attempt_id, version, status, number, amount, cur, gateway, customer_id, invoice_id, e2e, invoice_number,
             invoice_status, invoice_version, total, paid, credited, skonto, case_id, sub_status) \
                in self._conn.execute(query):
            found[e2e] = DebitOnFile(
                attempt_id, version, AttemptStatus(status), number, Money(amount, cur), gateway, customer_id,
                invoice_id, invoice_number or "", InvoiceStatus(invoice_status), invoice_version, Money(paid, cur),
                Money(total - paid - credited, cur), case_id is None and skonto is None and sub_status not in quiet)
        return found

    def settle_plainly(self, debits: Sequence[DebitOnFile], now: datetime) -> None:
        """Each debit succeeded and paid its invoice in full, optimistic on both versions (prebuilt statements)."""
        if not debits:
            return
        changed = update_many_versioned(self._conn, payment_attempts, [
            {"status": AttemptStatus.SUCCEEDED.value, "updated_at": now, "id": d.attempt_id,
             "version": d.attempt_version} for d in debits])
        if changed not in (-1, len(debits)):
            raise ConcurrentUpdate("a payment attempt was changed meanwhile; import the file again")
        changed = update_many_versioned(self._conn, invoices, [
            {"status": InvoiceStatus.PAID.value, "paid_minor": (d.invoice_paid + d.amount).minor, "collect_on": None,
             "id": d.invoice_id, "version": d.invoice_version} for d in debits])
        if changed not in (-1, len(debits)):
            raise ConcurrentUpdate("an invoice was changed meanwhile; import the file again")

    def open_items(self) -> list[OpenItem]:
        """Every open invoice with its customer's name and reference: what transfers can pay."""
        i, c = invoices.c, customers.c
        query = (select(i.id, i.number, i.customer_id, i.currency, i.total_minor, i.paid_minor, i.credited_minor,
                        c.name, c.company, c.external_ref)
                 .join(customers, customers.c.id == i.customer_id)
                 .where(i.kind == DocumentKind.INVOICE.value, i.status.in_([s.value for s in OPEN])))
        items = []
        for row in self._conn.execute(query).mappings():
            due = row["total_minor"] - row["paid_minor"] - row["credited_minor"]
            if due <= 0:
                continue
            items.append(OpenItem(row["id"], row["number"] or "", row["customer_id"],
                                  " ".join(filter(None, [row["name"], row["company"]])),
                                  Money(due, row["currency"]), row["external_ref"]))
        return items
