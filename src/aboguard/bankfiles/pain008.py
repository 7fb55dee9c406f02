"""Write pain.008 (SEPA direct debit initiation) files, in versions 001.08 (current in Germany) and 001.02
(legacy), streamed as text so that 100,000 collections keep memory flat.

The caller passes the payment information blocks (date, scheme, sequence type with their count and control
sum) and then every collection in the same order; the writer checks that the counts agree. Output is a pure
function of the input: the same header and collections give the same bytes (audit re-generation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from lxml import etree

from aboguard.domain.sepa import Collection, GroupKey, Totals, group_key
from aboguard.money import Money

from .xsd import SchemaViolation, namespace, schema_for

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


_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ESCAPE_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;",
                              "\t": "&#9;"})
_SPECIAL = re.compile(r"[&<>\r]")
CHUNK = 500  # transactions joined into one write


def _x(text: str) -> str:
    """Text content escaped as lxml writes it (``&``, ``<``, ``>`` and carriage returns)."""
    return text.translate(_ESCAPE) if _SPECIAL.search(text) else text


def _leaf(tag: str, text: str) -> str:
    return f"<{tag}>{_x(text)}</{tag}>"


def _path(tags: Sequence[str], text: str) -> str:
    """``<A><B>text</B></A>`` for tags A, B."""
    return "".join(f"<{tag}>" for tag in tags) + _x(text) + "".join(f"</{tag}>" for tag in reversed(tags))


def _bic_tag(fmt: str) -> str:
    return "BICFI" if fmt == "pain.008.001.08" else "BIC"


def _agent(tag: str, bic: str | None, bic_tag: str) -> str:
    if bic:
        return _path((tag, "FinInstnId", bic_tag), bic)
    return _path((tag, "FinInstnId", "Othr", "Id"), NOT_PROVIDED)


def document_head(header: FileHeader) -> bytes:
    """The XML declaration, the root elements and the group header."""
    if header.format not in FORMATS:
        raise ValueError(f"unknown pain.008 format {header.format!r}: use one of {', '.join(FORMATS)}")
    h = header
    return ("<?xml version='1.0' encoding='UTF-8'?>\n"
            f'<Document xmlns="{namespace(h.format)}"><CstmrDrctDbtInitn><GrpHdr>'
            + _leaf("MsgId", h.msg_id) + _leaf("CreDtTm", h.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
            + _leaf("NbOfTxs", str(h.totals.count)) + _leaf("CtrlSum", amount_text(h.totals.control_sum))
            + _path(("InitgPty", "Nm"), h.creditor.name) + "</GrpHdr>").encode()


def block_head(header: FileHeader, number: int, key: GroupKey, totals: Totals) -> bytes:
    """``<PmtInf>`` with everything before its first ``DrctDbtTxInf``."""
    collection_on, scheme, sequence = key
    c = header.creditor
    return ("<PmtInf>" + _leaf("PmtInfId", pmt_inf_id(header.msg_id, number)) + "<PmtMtd>DD</PmtMtd>"
            "<BtchBookg>true</BtchBookg>" + _leaf("NbOfTxs", str(totals.count))
            + _leaf("CtrlSum", amount_text(totals.control_sum))
            + "<PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl>" + _path(("LclInstrm", "Cd"), scheme.code)
            + _leaf("SeqTp", sequence.value) + "</PmtTpInf>" + _leaf("ReqdColltnDt", collection_on.isoformat())
            + _path(("Cdtr", "Nm"), c.name) + _path(("CdtrAcct", "Id", "IBAN"), c.iban)
            + _agent("CdtrAgt", c.bic, _bic_tag(header.format)) + "<ChrgBr>SLEV</ChrgBr>"
            + "<CdtrSchmeId><Id><PrvtId><Othr>" + _leaf("Id", c.creditor_id)
            + "<SchmeNm><Prtry>SEPA</Prtry></SchmeNm></Othr></PrvtId></Id></CdtrSchmeId>").encode()


BLOCK_END = b"</PmtInf>"
DOCUMENT_END = b"</CstmrDrctDbtInitn></Document>"


def transaction(c: Collection, fmt: str) -> str:
    """One ``DrctDbtTxInf`` as text: what :func:`write_blocks` expects, encoded as UTF-8."""
    bic_tag = _bic_tag(fmt)
    a = c.amendment
    if a.any:
        details = ((_leaf("OrgnlMndtId", a.original_reference) if a.original_reference else "")
                   + (_path(("OrgnlDbtrAcct", "Id", "IBAN"), a.original_iban)
                      if a.original_iban and not a.new_bank else "")
                   + ("<OrgnlDbtrAgt><FinInstnId><Othr><Id>SMNDA</Id></Othr></FinInstnId></OrgnlDbtrAgt>"
                      if a.new_bank else ""))
        amendment = f"<AmdmntInd>true</AmdmntInd><AmdmntInfDtls>{details}</AmdmntInfDtls>"
    else:
        amendment = "<AmdmntInd>false</AmdmntInd>"
    debtor_agent = f"<{bic_tag}>{_x(c.debtor_bic)}</{bic_tag}>" if c.debtor_bic \
        else f"<Othr><Id>{NOT_PROVIDED}</Id></Othr>"
    return (f"<DrctDbtTxInf><PmtId><EndToEndId>{_x(c.end_to_end_id)}</EndToEndId></PmtId>"
            f'<InstdAmt Ccy="{c.amount.currency.translate(_ESCAPE_ATTR)}">{_x(amount_text(c.amount))}</InstdAmt>'
            f"<DrctDbtTx><MndtRltdInf><MndtId>{_x(c.mandate_reference)}</MndtId>"
            f"<DtOfSgntr>{c.mandate_signed_on.isoformat()}</DtOfSgntr>{amendment}</MndtRltdInf></DrctDbtTx>"
            f"<DbtrAgt><FinInstnId>{debtor_agent}</FinInstnId></DbtrAgt><Dbtr><Nm>{_x(c.debtor_name)}</Nm></Dbtr>"
            f"<DbtrAcct><Id><IBAN>{_x(c.debtor_iban)}</IBAN></Id></DbtrAcct>"
            f"<RmtInf><Ustrd>{_x(c.remittance)}</Ustrd></RmtInf></DrctDbtTxInf>")


def write_blocks(out: IO[bytes], header: FileHeader, blocks: Iterable[Iterable[bytes]]) -> None:
    """Write the file whose payment blocks (in the order of ``header.groups``) hold these transactions, given
    as UTF-8 chunks of :func:`transaction` text. The caller answers for counts and order."""
    out.write(document_head(header))
    groups = iter(enumerate(header.groups, start=1))
    for chunks in blocks:
        number, (key, totals) = next(groups)
        out.write(block_head(header, number, key, totals))
        for chunk in chunks:
            out.write(chunk)
        out.write(BLOCK_END)
    if next(groups, None) is not None:
        raise ValueError("fewer payment blocks than the header announces")
    out.write(DOCUMENT_END)


def write_pain008(out: IO[bytes], header: FileHeader, collections: Iterable[Collection]) -> None:
    """Stream the file to ``out``. ``collections`` must come grouped in the order of ``header.groups``."""
    if header.format not in FORMATS:
        raise ValueError(f"unknown pain.008 format {header.format!r}: use one of {', '.join(FORMATS)}")
    items: Iterator[Collection] = iter(collections)
    state: dict[str, Collection | None] = {"pending": next(items, None)}

    def block(number: int, key: GroupKey, totals: Totals) -> Iterator[bytes]:
        written, part = 0, []
        pending = state["pending"]
        while pending is not None and group_key(pending) == key:
            part.append(transaction(pending, header.format))
            written += 1
            if len(part) == CHUNK:
                yield "".join(part).encode()
                part = []
            pending = next(items, None)
        state["pending"] = pending
        if written != totals.count:
            raise ValueError(f"payment block {number} announced {totals.count} collections, got {written}")
        yield "".join(part).encode()

    write_blocks(out, header, (block(number, key, totals)
                               for number, (key, totals) in enumerate(header.groups, start=1)))
    if state["pending"] is not None:
        raise ValueError("collections left over that belong to no payment block (wrong order?)")


class _NothingBuilt:
    """A parser target without callbacks: libxml2 parses and checks the schema on its own, builds no tree and
    calls no Python per element."""

    def close(self) -> None:
        return None


def validate(path: Path, fmt: str) -> None:
    """Validate a written file against the official schema of ``fmt``, streaming: memory stays flat.

    The schema is checked while libxml2 parses (a SAX pass, no tree); a file that is not well-formed stops the
    parse, schema errors are collected in the parser's log. Raises SchemaViolation with the first problem.
    """
    parser = etree.XMLParser(schema=schema_for(fmt), huge_tree=True, resolve_entities=False, no_network=True,
                             target=_NothingBuilt())
    try:
        etree.parse(str(path), parser)
    except etree.XMLSyntaxError as exc:
        raise SchemaViolation(str(exc)) from None
    for error in parser.error_log:
        if error.level >= etree.ErrorLevels.ERROR:
            raise SchemaViolation(error.message)
