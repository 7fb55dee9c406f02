"""Write pain.008 (SEPA direct debit initiation) files, in versions 001.08 (current in Germany) and 001.02
(legacy), streamed with ``lxml.etree.xmlfile`` so that 100,000 collections keep memory flat.

The caller passes the payment information blocks (date, scheme, sequence type with their count and control
sum) and then every collection in the same order; the writer checks that the counts agree. Output is a pure
function of the input: the same header and collections give the same bytes (audit re-generation).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from lxml import etree

from aboguard.domain.sepa import Collection, GroupKey, Totals, group_key
from aboguard.money import Money

from .xsd import namespace

FORMATS = ("pain.008.001.08", "pain.008.001.02")
NOT_PROVIDED = "NOTPROVIDED"


@dataclass(frozen=True, slots=True)
class Creditor:
    name: str
    iban: str
    bic: str | None
    creditor_id: str


@dataclass(frozen=True, slots=True)
class FileHeader:
    format: str
    msg_id: str
    created_at: datetime
    creditor: Creditor
    totals: Totals
    groups: Sequence[tuple[GroupKey, Totals]]  # in file order


def amount_text(amount: Money) -> str:
    if amount.currency != "EUR":
        raise ValueError(f"SEPA direct debits are in EUR, not {amount.currency}")
    return f"{amount.minor // 100}.{amount.minor % 100:02d}"


def pmt_inf_id(msg_id: str, number: int) -> str:
    return f"{msg_id[:30]}-{number:04d}"


class _Writer:
    def __init__(self, xf: etree.xmlfile, header: FileHeader) -> None:
        self.xf = xf
        self.header = header
        self.v08 = header.format == "pain.008.001.08"
        self.bic_tag = "BICFI" if self.v08 else "BIC"

    def leaf(self, tag: str, text: str, **attrib: str) -> None:
        element = etree.Element(tag, attrib)
        element.text = text
        self.xf.write(element)

    def path(self, tags: Sequence[str], text: str) -> None:
        """``<A><B>text</B></A>`` for tags A, B."""
        root = element = etree.Element(tags[0])
        for tag in tags[1:]:
            element = etree.SubElement(element, tag)
        element.text = text
        self.xf.write(root)

    def agent(self, tag: str, bic: str | None) -> None:
        if bic:
            self.path((tag, "FinInstnId", self.bic_tag), bic)
        else:
            self.path((tag, "FinInstnId", "Othr", "Id"), NOT_PROVIDED)

    def group_header(self) -> None:
        h = self.header
        with self.xf.element("GrpHdr"):
            self.leaf("MsgId", h.msg_id)
            self.leaf("CreDtTm", h.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
            self.leaf("NbOfTxs", str(h.totals.count))
            self.leaf("CtrlSum", amount_text(h.totals.control_sum))
            self.path(("InitgPty", "Nm"), h.creditor.name)

    def payment_info(self, number: int, key: GroupKey, totals: Totals) -> None:
        collection_on, scheme, sequence = key
        c = self.header.creditor
        self.leaf("PmtInfId", pmt_inf_id(self.header.msg_id, number))
        self.leaf("PmtMtd", "DD")
        self.leaf("BtchBookg", "true")
        self.leaf("NbOfTxs", str(totals.count))
        self.leaf("CtrlSum", amount_text(totals.control_sum))
        with self.xf.element("PmtTpInf"):
            self.path(("SvcLvl", "Cd"), "SEPA")
            self.path(("LclInstrm", "Cd"), scheme.code)
            self.leaf("SeqTp", sequence.value)
        self.leaf("ReqdColltnDt", collection_on.isoformat())
        self.path(("Cdtr", "Nm"), c.name)
        self.path(("CdtrAcct", "Id", "IBAN"), c.iban)
        self.agent("CdtrAgt", c.bic)
        self.leaf("ChrgBr", "SLEV")
        scheme_id = etree.Element("CdtrSchmeId")
        other = etree.SubElement(etree.SubElement(etree.SubElement(scheme_id, "Id"), "PrvtId"), "Othr")
        etree.SubElement(other, "Id").text = c.creditor_id
        etree.SubElement(etree.SubElement(other, "SchmeNm"), "Prtry").text = "SEPA"
        self.xf.write(scheme_id)

    def transaction(self, c: Collection) -> None:
        tx = etree.Element("DrctDbtTxInf")
        etree.SubElement(etree.SubElement(tx, "PmtId"), "EndToEndId").text = c.end_to_end_id
        etree.SubElement(tx, "InstdAmt", Ccy=c.amount.currency).text = amount_text(c.amount)
        mandate = etree.SubElement(etree.SubElement(tx, "DrctDbtTx"), "MndtRltdInf")
        etree.SubElement(mandate, "MndtId").text = c.mandate_reference
        etree.SubElement(mandate, "DtOfSgntr").text = c.mandate_signed_on.isoformat()
        amendment = c.amendment
        etree.SubElement(mandate, "AmdmntInd").text = "true" if amendment.any else "false"
        if amendment.any:
            details = etree.SubElement(mandate, "AmdmntInfDtls")
            if amendment.original_reference:
                etree.SubElement(details, "OrgnlMndtId").text = amendment.original_reference
            if amendment.original_iban and not amendment.new_bank:
                account = etree.SubElement(etree.SubElement(details, "OrgnlDbtrAcct"), "Id")
                etree.SubElement(account, "IBAN").text = amendment.original_iban
            if amendment.new_bank:
                agent = etree.SubElement(etree.SubElement(details, "OrgnlDbtrAgt"), "FinInstnId")
                etree.SubElement(etree.SubElement(agent, "Othr"), "Id").text = "SMNDA"
        agent = etree.SubElement(etree.SubElement(tx, "DbtrAgt"), "FinInstnId")
        if c.debtor_bic:
            etree.SubElement(agent, self.bic_tag).text = c.debtor_bic
        else:
            etree.SubElement(etree.SubElement(agent, "Othr"), "Id").text = NOT_PROVIDED
        etree.SubElement(etree.SubElement(tx, "Dbtr"), "Nm").text = c.debtor_name
        etree.SubElement(etree.SubElement(etree.SubElement(tx, "DbtrAcct"), "Id"), "IBAN").text = c.debtor_iban
        etree.SubElement(etree.SubElement(tx, "RmtInf"), "Ustrd").text = c.remittance
        self.xf.write(tx)


def write_pain008(out: IO[bytes], header: FileHeader, collections: Iterable[Collection]) -> None:
    """Stream the file to ``out``. ``collections`` must come grouped in the order of ``header.groups``."""
    if header.format not in FORMATS:
        raise ValueError(f"unknown pain.008 format {header.format!r}: use one of {', '.join(FORMATS)}")
    items: Iterator[Collection] = iter(collections)
    pending: Collection | None = next(items, None)
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        writer = _Writer(xf, header)
        with xf.element("Document", nsmap={None: namespace(header.format)}), xf.element("CstmrDrctDbtInitn"):
            writer.group_header()
            for number, (key, totals) in enumerate(header.groups, start=1):
                with xf.element("PmtInf"):
                    writer.payment_info(number, key, totals)
                    written = 0
                    while pending is not None and group_key(pending) == key:
                        writer.transaction(pending)
                        written += 1
                        pending = next(items, None)
                    if written != totals.count:
                        raise ValueError(f"payment block {number} announced {totals.count} collections, "
                                         f"got {written}")
            if pending is not None:
                raise ValueError("collections left over that belong to no payment block (wrong order?)")
