"""The pain.008 writer: byte for byte what earlier versions wrote (stored files must regenerate identically),
in both formats, whether the transactions come as collections or as pre-written blocks."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from aboguard.bankfiles import pain008
from aboguard.bankfiles.xsd import SchemaViolation
from aboguard.domain.sepa import Amendment, Collection, GroupKey, MandateScheme, SequenceType, Totals, group_key
from aboguard.money import Money

GOLDEN = Path(__file__).with_name("pain008_golden")  # written by the lxml.etree.xmlfile writer before 2026-11


def sample(fmt: str) -> tuple[pain008.FileHeader, list[Collection]]:
    raw = [
        Collection("a1", "019cad8fac9278578151c57d2e39c4ac", Money(9_99, "EUR"), date(2026, 3, 4), MandateScheme.CORE,
                   SequenceType.FRST, "AG-0001", date(2025, 1, 1), "Anna Mueller", "DE89370400440532013000",
                   "COBADEFFXXX", "Rechnung RE-2026-000001"),
        Collection("a2", "019cad8fac92785aaa3ff169f54f51cf", Money(1_234_56, "EUR"), date(2026, 3, 4),
                   MandateScheme.CORE, SequenceType.RCUR, "AG-0002", date(2024, 5, 31), "Bert & Co <GmbH>",
                   "DE02120300000000202051", None, "Rechnung RE-2026-000002",
                   Amendment("AG-OLD-2", "DE89370400440532013000")),
        Collection("a3", "019cad8fac92785daf1631cf13e2ead5", Money(5, "EUR"), date(2026, 3, 4), MandateScheme.CORE,
                   SequenceType.RCUR, "AG-0003", date(2024, 5, 31), "Carl\rCord", "DE02120300000000202051", "",
                   "Abonnement", Amendment(None, "DE89370400440532013000", True)),
        Collection("a4", "019cad8fac92785daf1631cf13e2ead6", Money(100_00, "EUR"), date(2026, 3, 5), MandateScheme.B2B,
                   SequenceType.FNAL, "AG-0004", date(2023, 2, 1), "Dora Dahl", "DE02120300000000202051",
                   "BYLADEM1001", "Rechnung RE-2026-000004", Amendment("AG-OLD-4")),
    ]
    raw.sort(key=lambda c: (c.collection_on.isoformat(), c.scheme.value, c.sequence.value, c.end_to_end_id))
    groups: dict[GroupKey, tuple[int, int]] = {}
    for c in raw:
        n, total = groups.get(group_key(c), (0, 0))
        groups[group_key(c)] = (n + 1, total + c.amount.minor)
    header = pain008.FileHeader(fmt, "AG019cad8fac00709bb2d73919aa89784e", datetime(2026, 3, 2, 9, 0, 0),  # noqa: DTZ001 -- local
                                pain008.Creditor("Händler GmbH", "DE02120300000000202051", None, "DE98ZZZ09999999999"),
                                Totals(len(raw), Money(sum(c.amount.minor for c in raw), "EUR")),
                                [(k, Totals(n, Money(total, "EUR"))) for k, (n, total) in groups.items()])
    return header, raw


@pytest.mark.parametrize("fmt", pain008.FORMATS)
def test_the_writer_gives_the_bytes_earlier_versions_wrote(fmt: str) -> None:
    header, raw = sample(fmt)
    out = io.BytesIO()
    pain008.write_pain008(out, header, raw)
    assert out.getvalue() == (GOLDEN / f"{fmt}.xml").read_bytes()


@pytest.mark.parametrize("fmt", pain008.FORMATS)
def test_pre_written_blocks_give_the_same_file(fmt: str) -> None:
    header, raw = sample(fmt)
    blocks = [[pain008.transaction(c, fmt).encode() for c in raw if group_key(c) == key] for key, _ in header.groups]
    out = io.BytesIO()
    pain008.write_blocks(out, header, blocks)
    assert out.getvalue() == (GOLDEN / f"{fmt}.xml").read_bytes()
    with pytest.raises(ValueError, match="fewer payment blocks"):
        pain008.write_blocks(io.BytesIO(), header, blocks[:-1])


def test_counts_that_disagree_with_the_header_are_refused() -> None:
    header, raw = sample("pain.008.001.08")
    with pytest.raises(ValueError, match="announced"):
        pain008.write_pain008(io.BytesIO(), header, raw[:-1])
    with pytest.raises(ValueError, match="left over"):
        pain008.write_pain008(io.BytesIO(), header, [*raw, raw[0]])


def test_validate_streams_and_names_the_first_problem(tmp_path: Path) -> None:
    header, raw = sample("pain.008.001.08")
    path = tmp_path / "ok.xml"
    with path.open("wb") as handle:
        pain008.write_pain008(handle, header, [replace(c, debtor_name=c.debtor_name.replace("\r", " "))
                                               for c in raw])
    pain008.validate(path, "pain.008.001.08")
    broken = tmp_path / "broken.xml"
    broken.write_bytes(path.read_bytes().replace(b'<InstdAmt Ccy="EUR">1234.56', b'<InstdAmt Ccy="EUR">1234,56'))
    with pytest.raises(SchemaViolation, match="InstdAmt"):
        pain008.validate(broken, "pain.008.001.08")


@pytest.mark.parametrize("change", [
    (b"", b""),  # unchanged: valid
    (b"<BtchBookg>true</BtchBookg>", b""),  # optional
    (b"<ChrgBr>SLEV</ChrgBr>", b"<ChrgBr>SLEV</ChrgBr><Extra>1</Extra>"),  # unknown element
    (b"<SeqTp>FRST</SeqTp>", b"<SeqTp>NEXT</SeqTp>"),  # not in the code list
    (b"<DtOfSgntr>2025-01-01</DtOfSgntr>", b"<DtOfSgntr>2025-02-30</DtOfSgntr>"),  # no such date
    (b"<Nm>Anna Mueller</Nm>", b"<Nm>" + b"x" * 141 + b"</Nm>"),  # too long
    (b"<CstmrDrctDbtInitn>", b"<CstmrDrctDbtInitn><GrpHdr/>"),  # out of order
    (b"</Document>", b""),  # not well-formed
    (b"</Document>", b"</Document><More/>"),  # not well-formed
])
def test_validate_agrees_with_the_tree_validator(tmp_path: Path, change: tuple[bytes, bytes]) -> None:
    from aboguard.bankfiles.xsd import validate_file

    header, raw = sample("pain.008.001.08")
    out = io.BytesIO()
    pain008.write_pain008(out, header, [replace(c, debtor_name=c.debtor_name.replace("\r", " ")) for c in raw])
    path = tmp_path / "x.xml"
    path.write_bytes(out.getvalue().replace(*change, 1) if change[0] else out.getvalue())
    verdicts = []
    for check in (pain008.validate, validate_file):
        try:
            check(path, "pain.008.001.08")
            verdicts.append(True)
        except SchemaViolation:
            verdicts.append(False)
    assert verdicts[0] == verdicts[1]
    assert verdicts[0] is (change[0] in {b"", b"<BtchBookg>true</BtchBookg>"})
