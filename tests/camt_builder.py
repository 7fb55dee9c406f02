"""Build camt.052/053/054 reports (versions 001.02 and 001.08) for tests and benchmarks, streamed with
lxml's ``xmlfile``. Shaped like German banks' files (REFERENCE 1.13): batch-booked direct-debit credits with
one ``TxDtls`` per collection, returns as ``DBIT`` with ``RtrInf`` and charges, transfers with ``Ustrd``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lxml import etree

ROOTS = {"camt.052": ("BkToCstmrAcctRpt", "Rpt"), "camt.053": ("BkToCstmrStmt", "Stmt"),
         "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}


@dataclass
class Tx:
    amount_minor: int
    e2e: str | None = None
    mandate: str | None = None
    reason: str | None = None  # a return: RtrInf/Rsn/Cd
    fee_minor: int = 0
    name: str | None = None
    ustrd: list[str] = field(default_factory=list)
    instructed_minor: int | None = None


@dataclass
class Entry:
    ref: str | None
    credit: bool
    txs: list[Tx]
    booked_on: date = date(2026, 3, 5)
    family: str = "IDDT"  # RCDT for received transfers
    sub_family: str = "ESDD"  # UPDD for returns, ESCT for transfers
    status: str = "BOOK"
    pmt_inf_id: str | None = None  # the payment block a batch booking names (NtryDtls/Btch/PmtInfId)
    itemised: bool = True  # False: a batch booking with its sum only, no TxDtls (the camt.054 itemises it)

    @property
    def amount_minor(self) -> int:
        return sum(t.amount_minor + (t.fee_minor if not self.credit else 0) for t in self.txs)


def _amt(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _el(parent: etree._Element, path: str, text: str | None = None, **attrib: str) -> etree._Element:
    element = parent
    for tag in path.split("/"):
        element = etree.SubElement(element, tag)
    for key, value in attrib.items():
        element.set(key, value)
    if text is not None:
        element.text = text
    return element


def _entry(e: Entry, v08: bool) -> etree._Element:
    n = etree.Element("Ntry")
    _el(n, "Amt", _amt(e.amount_minor), Ccy="EUR")
    _el(n, "CdtDbtInd", "CRDT" if e.credit else "DBIT")
    _el(n, "Sts/Cd" if v08 else "Sts", e.status)
    _el(n, "BookgDt/Dt", e.booked_on.isoformat())
    _el(n, "ValDt/Dt", e.booked_on.isoformat())
    if e.ref:
        _el(n, "AcctSvcrRef", e.ref)
    code = _el(n, "BkTxCd/Domn")
    _el(code, "Cd", "PMNT")
    _el(code, "Fmly/Cd", e.family)
    code.find("Fmly").append(etree.Element("SubFmlyCd"))
    code.find("Fmly/SubFmlyCd").text = e.sub_family
    details = _el(n, "NtryDtls")
    if len(e.txs) > 1 or e.pmt_inf_id or not e.itemised:
        batch = _el(details, "Btch")
        if e.pmt_inf_id:
            _el(batch, "PmtInfId", e.pmt_inf_id)
        _el(batch, "NbOfTxs", str(len(e.txs)))
    for t in e.txs if e.itemised else []:
        tx = _el(details, "TxDtls")
        if t.e2e or t.mandate:
            refs = _el(tx, "Refs")
            if t.e2e:
                _el(refs, "EndToEndId", t.e2e)
            if t.mandate:
                _el(refs, "MndtId", t.mandate)
        booked = t.amount_minor + (t.fee_minor if not e.credit else 0)
        if v08:
            _el(tx, "Amt", _amt(booked), Ccy="EUR")
            _el(tx, "CdtDbtInd", "CRDT" if e.credit else "DBIT")
        amounts = _el(tx, "AmtDtls")
        if t.instructed_minor is not None or t.reason:
            _el(amounts, "InstdAmt/Amt", _amt(t.instructed_minor or t.amount_minor), Ccy="EUR")
        _el(amounts, "TxAmt/Amt", _amt(booked), Ccy="EUR")
        if t.fee_minor:
            _el(tx, "Chrgs/Rcrd/Amt" if v08 else "Chrgs/Amt", _amt(t.fee_minor), Ccy="EUR")
        if t.name:
            party = "Dbtr" if e.credit else "Cdtr"
            _el(tx, f"RltdPties/{party}/Pty/Nm" if v08 else f"RltdPties/{party}/Nm", t.name)
        if t.ustrd:
            remit = _el(tx, "RmtInf")
            for line in t.ustrd:
                _el(remit, "Ustrd", line)
        if t.reason:
            info = _el(tx, "RtrInf")
            _el(info, "Rsn/Cd", t.reason)
            _el(info, "AddtlInf", "RUECKLASTSCHRIFT")
    if not e.credit and any(t.reason for t in e.txs):
        _el(n, "AddtlNtryInf", "LS RUECKBELASTUNG")
    return n


def write_camt(path: Path, message: str, entries: Iterable[Entry], *, msg_id: str = "CAMT-TEST-1",
               account_iban: str = "DE02120300000000202051") -> Path:
    kind, version = message[:8], message[-2:]
    v08 = version == "08"
    root, container = ROOTS[kind]
    ns = f"urn:iso:std:iso:20022:tech:xsd:{message}"
    with path.open("wb") as handle, etree.xmlfile(handle, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element("Document", nsmap={None: ns}), xf.element(root):
            header = etree.Element("GrpHdr")
            _el(header, "MsgId", msg_id)
            _el(header, "CreDtTm", "2026-03-05T18:00:00")
            xf.write(header)
            with xf.element(container):
                top = etree.Element("Id")
                top.text = f"{msg_id}-1"
                xf.write(top)
                created = etree.Element("CreDtTm")
                created.text = "2026-03-05T18:00:00"
                xf.write(created)
                account = etree.Element("Acct")
                _el(account, "Id/IBAN", account_iban)
                xf.write(account)
                if kind == "camt.053":
                    balance = etree.Element("Bal")
                    _el(balance, "Tp/CdOrPrtry/Cd", "CLBD")
                    _el(balance, "Amt", "0.00", Ccy="EUR")
                    _el(balance, "CdtDbtInd", "CRDT")
                    _el(balance, "Dt/Dt", "2026-03-05")
                    xf.write(balance)
                for entry in entries:
                    xf.write(_entry(entry, v08))
    return path
