"""Read camt.052 (intraday), camt.053 (statement) and camt.054 (notification) reports, versions 001.02 and
001.08, detected from the namespace. The file is parsed with ``lxml.etree.iterparse`` and validated against
the official schema while it streams; each ``Ntry`` is turned into :class:`StatementLine` values and cleared,
so memory holds one entry, not the tree. Any problem raises :class:`BankFileError` where it is found; see
:class:`StatementReader` for what that means for a caller applying lines as they come."""

from __future__ import annotations

import hashlib
import pickle
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import Path
from typing import Any

from lxml import etree

from aboguard.domain.bank_lines import LineKind, StatementLine, classify
from aboguard.errors import InvalidInput
from aboguard.money import Money

from .xsd import KNOWN, schema_for

_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
_TWO_DECIMALS = re.compile(r"^(\d{1,15})(?:\.(\d{1,2}))?$")
_ENTRY_CONTAINERS = {"camt.052": "Rpt", "camt.053": "Stmt", "camt.054": "Ntfctn"}


class BankFileError(InvalidInput):
    code = "bank_file.invalid"


def detect_message(path: Path) -> str:
    """The message and version from the root element's namespace, e.g. ``camt.053.001.02``."""
    try:
        with path.open("rb") as handle:
            root = next(iter(etree.iterparse(handle, events=("start",))), None)
        if root is not None:
            element = root[1]
            ns = etree.QName(element).namespace or ""
            message = ns.removeprefix(_PREFIX)
            if not ns.startswith(_PREFIX) or message not in KNOWN or not message.startswith("camt."):
                raise BankFileError(f"{path.name} is not a camt.052/053/054 report in version 001.02 or 001.08 "
                                    f"(namespace {ns or 'none'!r})")
            return message
    except etree.XMLSyntaxError as exc:
        raise BankFileError(f"{path.name} is not well-formed XML: {exc}") from None
    raise BankFileError(f"{path.name} is empty")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class StatementReader:
    """One camt file, read as a stream: :meth:`lines` yields each transaction as soon as its ``Ntry`` is parsed
    and validated, and forgets the entry, so memory stays flat whatever the file's size.

    Validation runs while the file streams: a schema error, broken XML or a bad amount raises
    :class:`BankFileError` at the point where it is found, possibly after earlier lines were yielded. A caller
    that applies lines as they come must do so in one transaction and roll it back on that error
    (``services.bank_import`` does), so a malformed file still changes nothing.
    """

    def __init__(self, path: Path, *, message: str | None = None, sha256: str | None = None) -> None:
        if not path.is_file():
            raise BankFileError(f"no such file: {path}")
        self.path = path
        self.message = message or detect_message(path)
        self.sha256 = sha256 or file_digest(path)
        self.msg_id: str | None = None  # known once the group header was read
        self.entries = 0  # entries read so far
        self.transactions = 0  # lines yielded so far

    def lines(self) -> Iterator[StatementLine]:
        ns = _PREFIX + self.message
        entry_tag, msg_id_tag = f"{{{ns}}}Ntry", f"{{{ns}}}MsgId"
        reader = _EntryReader(ns, self.message)
        try:
            with self.path.open("rb") as handle:
                for _, element in etree.iterparse(handle, events=("end",), tag=(entry_tag, msg_id_tag),
                                                  schema=schema_for(self.message), huge_tree=True,
                                                  remove_blank_text=True):
                    if element.tag == entry_tag:
                        self.entries += 1
                        for line in reader.lines(element):
                            self.transactions += 1
                            yield line
                        element.clear()
                        while element.getprevious() is not None:
                            del element.getparent()[0]
                    elif self.msg_id is None:
                        self.msg_id = element.text
        except (etree.XMLSyntaxError, etree.DocumentInvalid) as exc:
            raise BankFileError(f"{self.path.name} is not a valid {self.message} file: {exc}") from None

    def chunks(self, size: int = 2000, *, parallel: bool | None = None) -> Iterator[list[StatementLine]]:
        """The lines in lists of up to ``size``, in file order. A problem in the file is raised here, after the
        lists before it.

        ``parallel`` (default: for files of :data:`PARALLEL_FROM` bytes or more) parses in a child process that
        hands over one list at a time through a pipe, while the caller applies the previous one: parsing and
        applying then run on two cores. (A thread would not: both halves are mostly Python and would take turns
        holding the GIL -- measured slower than no thread at all.) The pipe blocks the child while the caller is
        busy, so at most a list or two wait and memory stays flat. The child is ``python -m
        aboguard.bankfiles.camt_reader`` (a fresh interpreter: nothing of the caller's state, threads or database
        connections is copied into it)."""
        if parallel is None:
            parallel = self.path.stat().st_size >= PARALLEL_FROM
        if not parallel:
            yield from batched(self.lines(), size)
            return
        child = subprocess.Popen([sys.executable, "-m", "aboguard.bankfiles.camt_reader", str(self.path), self.message,
                                  self.sha256, str(size)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        assert child.stdout is not None
        try:
            while True:
                try:
                    kind, value = pickle.load(child.stdout)  # our own child's output, nothing else's
                except EOFError:
                    raise BankFileError(f"reading {self.path.name} stopped unexpectedly (the reader process ended "
                                        f"with exit code {child.poll()}); import the file again") from None
                if kind == "lines":
                    self.entries, self.transactions = value[0], self.transactions + len(value[1])
                    yield [unflat(line) for line in value[1]]
                elif kind == "done":
                    self.msg_id, self.entries = value
                    return
                else:
                    raise BankFileError(value)
        finally:
            child.stdout.close()  # a child still writing gets a broken pipe and ends
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def flat(line: StatementLine) -> tuple[object, ...]:
    """A line as a tuple of plain values: pickled and read back several times faster than the dataclasses."""
    return (line.entry_key, line.kind.value, line.booked_on, line.amount.minor, line.amount.currency, line.fee.minor,
            line.end_to_end_id, line.mandate_reference, line.reason_code, line.counterparty, line.remittance, line.note,
            line.batch_ref)


def unflat(values: tuple[Any, ...]) -> StatementLine:
    key, kind, booked_on, amount, currency, fee, e2e, mandate, reason, counterparty, remittance, note, batch = values
    return StatementLine(key, LineKind(kind), booked_on, Money(amount, currency), Money(fee, currency), e2e, mandate,
                         reason, counterparty, remittance, note, batch)


PARALLEL_FROM = 4 << 20  # bytes: about 8,000 entries; below this a child process costs more than it saves


def batched(items: Iterable[StatementLine], size: int) -> Iterator[list[StatementLine]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class _EntryReader:
    """Fields of one ``Ntry`` by path (``BkTxCd/Domn/Fmly/Cd``). Each element's children are indexed by local
    name once, on first use, so a lookup is a few dict reads and branches never asked for are never walked."""

    def __init__(self, ns: str, message: str) -> None:
        self.cut = len(ns) + 2
        self.v08 = message.endswith(".08")
        self.count = 0
        self._parts: dict[str, tuple[str, ...]] = {}
        self._cache: dict[etree._Element, dict[str, list[etree._Element]]] = {}

    def _kids(self, element: etree._Element) -> dict[str, list[etree._Element]]:
        cut, found = self.cut, {}  # type: ignore[var-annotated]
        for child in element:
            tag = child.tag
            if isinstance(tag, str):  # not a comment or processing instruction
                name = tag[cut:]
                same = found.get(name)
                if same is None:
                    found[name] = [child]
                else:
                    same.append(child)
        self._cache[element] = found  # keyed by the element itself: it stays alive, lxml keeps its proxy
        return found

    def _split(self, path: str) -> tuple[str, ...]:
        parts = self._parts[path] = tuple(path.split("/"))
        return parts

    def _all(self, element: etree._Element, path: str) -> list[etree._Element]:
        cache = self._cache
        frontier = [element]
        for part in self._parts.get(path) or self._split(path):
            found: list[etree._Element] = []
            for node in frontier:
                hits = (cache.get(node) or self._kids(node)).get(part)
                if hits:
                    found += hits
            if not found:
                return []
            frontier = found
        return frontier

    def _find(self, element: etree._Element, path: str) -> etree._Element | None:
        cache = self._cache
        node = element
        for part in self._parts.get(path) or self._split(path):
            hits = (cache.get(node) or self._kids(node)).get(part)
            if not hits:
                return None
            if len(hits) > 1:  # a repeated element on the way: the first match in document order
                found = self._all(element, path)
                return found[0] if found else None
            node = hits[0]
        return node

    def _text(self, element: etree._Element, path: str) -> str | None:
        found = self._find(element, path)
        return found.text.strip() if found is not None and found.text else None

    def _money(self, element: etree._Element | None) -> Money | None:
        if element is None or element.text is None:
            return None
        text, currency = element.text.strip(), element.get("Ccy", "EUR")
        plain = _TWO_DECIMALS.match(text)
        if plain and currency == "EUR":  # the usual case, without Decimal
            return Money(int(plain[1]) * 100 + int((plain[2] or "").ljust(2, "0")), currency)
        try:
            return Money.from_decimal(Decimal(element.text.strip()), element.get("Ccy", "EUR"))
        except (InvalidOperation, ValueError) as exc:
            raise BankFileError(f"amount {element.text!r} is not valid: {exc}") from None

    def lines(self, entry: etree._Element) -> Iterator[StatementLine]:
        self.count += 1
        self._cache = {}
        amount = self._money(self._find(entry, "Amt"))
        assert amount is not None  # the schema requires it
        credit = self._text(entry, "CdtDbtInd") == "CRDT"
        status = self._text(entry, "Sts/Cd") if self.v08 else self._text(entry, "Sts")
        booked_on = _date(self._text(entry, "BookgDt/Dt") or self._text(entry, "BookgDt/DtTm")
                          or self._text(entry, "ValDt/Dt") or self._text(entry, "ValDt/DtTm"))
        reference = self._text(entry, "AcctSvcrRef") or self._text(entry, "NtryRef")
        entry_text = self._text(entry, "AddtlNtryInf") or ""
        family = self._text(entry, "BkTxCd/Domn/Fmly/Cd")
        sub_family = self._text(entry, "BkTxCd/Domn/Fmly/SubFmlyCd")
        entry_fee = self._fee(entry)
        details = self._all(entry, "NtryDtls/TxDtls")
        for index, tx in enumerate(details or [None], start=1):
            yield self._line(entry, tx, index, len(details), amount, credit, status == "BOOK", booked_on,
                             reference, entry_text, family, sub_family, entry_fee)

    def _fee(self, element: etree._Element) -> Money | None:
        if self.v08:
            records = [self._money(r) for r in self._all(element, "Chrgs/Rcrd/Amt")]
            fees = [m for m in records if m is not None]
            if not fees:
                total = self._money(self._find(element, "Chrgs/TtlChrgsAndTaxAmt"))
                return total
        else:
            fees = [m for m in (self._money(r) for r in self._all(element, "Chrgs/Amt")) if m is not None]
        if not fees:
            return None
        total = fees[0]
        for fee in fees[1:]:
            total += fee
        return total

    def _line(self, entry: etree._Element, tx: etree._Element | None, index: int, count: int, entry_amount: Money,
              credit: bool, booked: bool, booked_on: date, reference: str | None, entry_text: str,
              family: str | None, sub_family: str | None, entry_fee: Money | None) -> StatementLine:
        zero = Money.zero(entry_amount.currency)
        if tx is None:
            tx_amount, instructed, fee, e2e, mandate, reason, name, remittance = (
                entry_amount, None, entry_fee, None, None, None, None, entry_text)
            tx_family, tx_sub = family, sub_family
            has_return = False
            batch = self._text(entry, "NtryDtls/Btch/PmtInfId")
        else:
            tx_amount = (self._money(self._find(tx, "Amt")) if self.v08 else None) \
                or self._money(self._find(tx, "AmtDtls/TxAmt/Amt")) or (entry_amount if count == 1 else None)
            instructed = self._money(self._find(tx, "AmtDtls/InstdAmt/Amt"))
            fee = self._fee(tx) or (entry_fee if count == 1 else None)
            e2e = self._text(tx, "Refs/EndToEndId")
            if e2e == "NOTPROVIDED":
                e2e = None
            mandate = self._text(tx, "Refs/MndtId")
            batch = self._text(tx, "Refs/PmtInfId") or self._text(entry, "NtryDtls/Btch/PmtInfId")
            return_info = self._find(tx, "RtrInf")
            has_return = return_info is not None
            reason = (self._text(tx, "RtrInf/Rsn/Cd") or self._text(tx, "RtrInf/Rsn/Prtry")) if has_return else None
            party = "Dbtr" if credit else "Cdtr"
            name = (self._text(tx, f"RltdPties/{party}/Pty/Nm") if self.v08 else None) \
                or self._text(tx, f"RltdPties/{party}/Nm") or self._text(tx, "RltdPties/UltmtDbtr/Nm")
            parts = [t.text for t in self._all(tx, "RmtInf/Ustrd") if t.text]
            parts += [t.text for t in self._all(tx, "RmtInf/Strd/CdtrRefInf/Ref") if t.text]
            parts += [t.text for t in self._all(tx, "RmtInf/Strd/RfrdDocInf/Nb") if t.text]
            parts += [t.text for t in self._all(tx, "RmtInf/Strd/AddtlRmtInf") if t.text]
            remittance = " ".join(p.strip() for p in parts) or self._text(tx, "AddtlTxInf") or entry_text
            tx_family = self._text(tx, "BkTxCd/Domn/Fmly/Cd") or family
            tx_sub = self._text(tx, "BkTxCd/Domn/Fmly/SubFmlyCd") or sub_family
        if tx_amount is None:
            raise BankFileError(f"entry {self.count} ({reference or 'no reference'}) has several transactions "
                                "without their own amount")
        reversal = self._text(entry, "RvslInd") == "true"
        proprietary = self._text(entry, "BkTxCd/Prtry/Cd") or ""
        kind = classify(credit=credit, reversal=reversal, booked=booked, family=tx_family, sub_family=tx_sub,
                        has_return_info=has_return, gvc=proprietary.split("+")[1] if proprietary.count("+") else None)
        if kind is LineKind.RETURN and instructed is not None:
            if fee is None and tx_amount > instructed:
                fee = tx_amount - instructed
            tx_amount = instructed
        key_base = reference or hashlib.sha256(etree.tostring(entry)).hexdigest()[:32]
        key = f"{key_base}:{e2e or index}" if booked else f"PDNG:{key_base}:{e2e or index}"  # booked later: new
        return StatementLine(entry_key=key[:200], kind=kind, booked_on=booked_on, amount=tx_amount,
                             fee=fee if fee is not None else zero, end_to_end_id=e2e, mandate_reference=mandate,
                             reason_code=reason, counterparty=name, remittance=" ".join(remittance.split())[:1000],
                             note="" if booked else "not booked yet", batch_ref=batch)


def _date(text: str | None) -> date:
    if not text:
        raise BankFileError("an entry has neither a booking date nor a value date")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise BankFileError(f"date {text!r} is not valid") from None
