"""Read camt.052 (intraday), camt.053 (statement) and camt.054 (notification) reports, versions 001.02 and
001.08, detected from the namespace. The file is parsed with ``lxml.etree.iterparse`` and validated against
the official schema while it streams; each ``Ntry`` is turned into :class:`StatementLine` values and cleared,
so memory holds the lines, not the tree. Any problem raises :class:`BankFileError` before anything is
applied."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

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


@dataclass(slots=True)
class Statement:
    message: str  # e.g. camt.054.001.08
    msg_id: str | None
    sha256: str
    lines: list[StatementLine] = field(default_factory=list)


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


def read_statement(path: Path) -> Statement:
    """Every line of the report, after the whole file was validated against its schema."""
    if not path.is_file():
        raise BankFileError(f"no such file: {path}")
    message = detect_message(path)
    ns = _PREFIX + message
    statement = Statement(message, None, file_digest(path))
    reader = _EntryReader(ns, message)
    try:
        with path.open("rb") as handle:
            for _, element in etree.iterparse(handle, events=("end",), tag=(f"{{{ns}}}Ntry", f"{{{ns}}}MsgId"),
                                              schema=schema_for(message), huge_tree=True, remove_blank_text=True):
                if element.tag == f"{{{ns}}}Ntry":
                    statement.lines.extend(reader.lines(element))
                    element.clear()
                    while element.getprevious() is not None:
                        del element.getparent()[0]
                elif element.tag == f"{{{ns}}}MsgId" and statement.msg_id is None:
                    statement.msg_id = element.text
    except (etree.XMLSyntaxError, etree.DocumentInvalid) as exc:
        raise BankFileError(f"{path.name} is not a valid {message} file: {exc}") from None
    return statement


class _EntryReader:
    def __init__(self, ns: str, message: str) -> None:
        self.ns = ns
        self.v08 = message.endswith(".08")
        self.count = 0
        self._paths: dict[str, str] = {}
        self._cache: dict[int, dict[str, list[etree._Element]]] = {}

    def _q(self, path: str) -> str:
        """``Sts/Cd`` -> ``{ns}Sts/{ns}Cd`` (cached)."""
        qualified = self._paths.get(path)
        if qualified is None:
            qualified = self._paths[path] = "/".join(f"{{{self.ns}}}{tag}" for tag in path.split("/"))
        return qualified

    def _flat(self, element: etree._Element) -> dict[str, list[etree._Element]]:
        """Every descendant by its path (``Sts/Cd``), from one walk of the element: lookups are then dict
        reads instead of ElementPath searches. ``NtryDtls`` of an entry is left to :meth:`lines`."""
        found = self._cache.get(id(element))
        if found is None:
            found = self._cache[id(element)] = {}
            cut = len(self.ns) + 2

            def walk(parent: etree._Element, prefix: str) -> None:
                for child in parent:
                    tag = child.tag
                    if not isinstance(tag, str):
                        continue  # a comment or processing instruction
                    name = prefix + tag[cut:]
                    if name == "NtryDtls":
                        continue
                    found.setdefault(name, []).append(child)
                    if len(child):
                        walk(child, name + "/")

            walk(element, "")
        return found

    def _find(self, element: etree._Element, path: str) -> etree._Element | None:
        hits = self._flat(element).get(path)
        return hits[0] if hits else None

    def _text(self, element: etree._Element, path: str) -> str | None:
        hits = self._flat(element).get(path)
        return hits[0].text.strip() if hits and hits[0].text else None

    def _all(self, element: etree._Element, path: str) -> list[etree._Element]:
        return self._flat(element).get(path, [])

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
        details = entry.findall(self._q("NtryDtls/TxDtls"))
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
        else:
            tx_amount = (self._money(self._find(tx, "Amt")) if self.v08 else None) \
                or self._money(self._find(tx, "AmtDtls/TxAmt/Amt")) or (entry_amount if count == 1 else None)
            instructed = self._money(self._find(tx, "AmtDtls/InstdAmt/Amt"))
            fee = self._fee(tx) or (entry_fee if count == 1 else None)
            e2e = self._text(tx, "Refs/EndToEndId")
            if e2e == "NOTPROVIDED":
                e2e = None
            mandate = self._text(tx, "Refs/MndtId")
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
        kind = classify(credit=credit, reversal=reversal, booked=booked, family=tx_family, sub_family=tx_sub,
                        has_return_info=has_return)
        if kind is LineKind.RETURN and instructed is not None:
            if fee is None and tx_amount > instructed:
                fee = tx_amount - instructed
            tx_amount = instructed
        key_base = reference or hashlib.sha256(etree.tostring(entry)).hexdigest()[:32]
        key = f"{key_base}:{e2e or index}" if booked else f"PDNG:{key_base}:{e2e or index}"  # booked later: new
        return StatementLine(entry_key=key[:200], kind=kind, booked_on=booked_on, amount=tx_amount,
                             fee=fee if fee is not None else zero, end_to_end_id=e2e, mandate_reference=mandate,
                             reason_code=reason, counterparty=name, remittance=" ".join(remittance.split())[:1000],
                             note="" if booked else "not booked yet")


def _date(text: str | None) -> date:
    if not text:
        raise BankFileError("an entry has neither a booking date nor a value date")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise BankFileError(f"date {text!r} is not valid") from None
