"""Reading camt reports as German banks write them: proprietary DK codes, batch bookings, references in odd places."""

from __future__ import annotations

from pathlib import Path

from aboguard.bankfiles.camt import StatementReader, flat, unflat
from aboguard.domain.bank_lines import LineKind, StatementLine
from aboguard.money import Money

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "camt053_dk_style.xml"


def lines_of(path: Path) -> list[StatementLine]:
    return list(StatementReader(path).lines())


def test_a_dk_style_statement_reads_returns_batch_credits_and_transfers() -> None:
    reader = StatementReader(SAMPLE)
    returned, batch, transfer = reader.lines()
    assert (reader.message, reader.msg_id) == ("camt.053.001.02", "053D2026030518000000001")
    # a return known only by its proprietary code NRTI+109: the debit's amount, the rest is the bank's fee
    assert returned.kind is LineKind.RETURN and returned.end_to_end_id == "AG0123456789ABCDEF"
    assert (returned.amount, returned.fee) == (Money(9_99, "EUR"), Money(3_00, "EUR"))
    assert returned.counterparty == "Anna Müller" and returned.mandate_reference == "AG-M-0001"
    # a batch booking of our debits without items names the payment block it credits
    assert batch.kind is LineKind.COLLECTION and batch.end_to_end_id is None and batch.batch_ref == "AGFILE-0001"
    assert batch.amount == Money(29_97, "EUR")
    assert transfer.kind is LineKind.TRANSFER and transfer.end_to_end_id is None  # NOTPROVIDED is no id
    assert transfer.counterparty == "Jürgen Weiß" and transfer.remittance == "Rechnung RE 2026 000123 Danke"


def test_without_the_return_code_a_debit_on_our_account_is_not_a_return(tmp_path: Path) -> None:
    other = tmp_path / "other.xml"
    other.write_text(SAMPLE.read_text(encoding="utf-8").replace("NRTI+109+9931+992", "NMSC+805+000"),
                     encoding="utf-8")
    assert lines_of(other)[0].kind is LineKind.OTHER


def test_lines_survive_the_trip_to_and_from_the_reader_process() -> None:
    lines = lines_of(SAMPLE)
    assert [unflat(flat(line)) for line in lines] == lines


def test_chunks_in_a_child_process_equal_the_lines_read_inline() -> None:
    inline = lines_of(SAMPLE)
    reader = StatementReader(SAMPLE)
    chunks = list(reader.chunks(2, parallel=True))
    assert [len(c) for c in chunks] == [2, 1] and [line for c in chunks for line in c] == inline
    assert (reader.msg_id, reader.entries, reader.transactions) == ("053D2026030518000000001", 3, 3)
