"""SEPA on the bank-file rail, end to end: collection run -> pain.008 export -> camt.054 from the bank with
settlements and returns -> import; and incoming transfers matched from camt.053 statements. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from sqlalchemy.engine import Engine

from aboguard.bankfiles import camt as camt_reader
from aboguard.bankfiles.camt import BankFileError
from aboguard.bankfiles.xsd import schema_for
from aboguard.clock import TestClock
from aboguard.domain.bank_lines import LineStatus
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.catalog import PlanSpec
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.invoicing import InvoiceStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.payments import AttemptStatus
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.money import Money
from aboguard.payments.sandbox import SandboxGateway
from aboguard.services import (
    bank_import,
    billing,
    collection,
    customers,
    invoices,
    ledger,
    payment_methods,
    plans,
    sepa,
    subscriptions,
)
from aboguard.services.context import SepaSettings, ServiceContext
from aboguard.store.secrets import Secrets
from aboguard.store.sql import SqlUnitOfWorkFactory
from tests.camt_builder import Entry, Tx, write_camt

KEY = "q0eDqcmZ5aXbSP-1kP9ul5E0J8pCZ7H7hZBD9iDU1Yw="
NS8 = "{urn:iso:std:iso:20022:tech:xsd:pain.008.001.08}"
SEPA = SepaSettings(channel="file", creditor_id="DE98ZZZ09999999999", creditor_name="Händler GmbH",
                    iban="DE02120300000000202051", bic="BYLADEM1001")


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    clock = TestClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # Monday
    context = ServiceContext(uow=SqlUnitOfWorkFactory(engine, Secrets(KEY)), clock=clock,
                             merchant_tz=ZoneInfo("Europe/Berlin"), sepa=SEPA)
    context.gateway = SandboxGateway(tmp_path / "sandbox.db", clock)
    plans.create_plan(context, code="basic", name="Basic", spec=PlanSpec(Money(9_99, "EUR"),
                                                                         Interval(IntervalUnit.MONTH)))
    return context


def subscriber(ctx: ServiceContext, name: str, spec: PaymentMethodSpec, **extra: str) -> tuple[str, str]:
    email = name.lower().replace(" ", ".").replace("ü", "ue") + "@example.de"
    customer = customers.create_customer(ctx, CustomerSpec(email=email, name=name, country="DE", **extra))
    payment_methods.add_payment_method(ctx, customer.id, spec)
    return customer.id, subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic"
                                                          ).subscription.id


def mandate(holder: str) -> PaymentMethodSpec:
    return PaymentMethodSpec(Kind.SEPA_DEBIT, iban="DE89370400440532013000", account_holder=holder)


def invoice_of(ctx: ServiceContext, sub: str):  # type: ignore[no-untyped-def]
    return invoices.list_invoices(ctx, subscription_id=sub)[-1]


def attempt_of(ctx: ServiceContext, sub: str):  # type: ignore[no-untyped-def]
    return collection.list_payments(ctx, invoice=invoice_of(ctx, sub).id)[-1]


def check_books(ctx: ServiceContext) -> None:
    result = ledger.check_ledger(ctx)
    assert result.ok, (result.unbalanced, result.mismatches)


def exported(path: Path) -> list[tuple[str, str, str]]:
    """(end-to-end id, amount, sequence type) of every transaction in a pain.008.001.08 file."""
    tree = etree.parse(str(path))
    return [(tx.findtext(f"{NS8}PmtId/{NS8}EndToEndId"), tx.findtext(f"{NS8}InstdAmt"),
             tx.getparent().findtext(f"{NS8}PmtTpInf/{NS8}SeqTp"))
            for tx in tree.iter(f"{NS8}DrctDbtTxInf")]


@pytest.mark.parametrize("reader", ["inline", "child process"])
def test_round_trip_export_then_bank_reports_settlements_and_returns(ctx: ServiceContext, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      reader: str) -> None:
    monkeypatch.setattr(sepa, "BATCH", 2)  # every keyset loop of the export turns more than once
    monkeypatch.setattr(bank_import, "CHUNK", 2)  # and the import applies the file two lines at a time
    monkeypatch.setattr(camt_reader, "PARALLEL_FROM", 0 if reader == "child process" else 1 << 40)
    subs = {name: subscriber(ctx, name, mandate(name))[1] for name in ("Anna Schmidt", "Berta Braun", "Carl Cord")}
    billing.run_billing(ctx)
    report = collection.run_collection(ctx)
    assert (report.attempted, report.awaiting_export, report.succeeded, report.pending) == (3, 3, 0, 0)
    assert ctx.gateway.charges() == []  # type: ignore[union-attr]  # the file rail calls no gateway
    assert {attempt_of(ctx, s).status for s in subs.values()} == {AttemptStatus.AWAITING_EXPORT}

    out = tmp_path / "debits.xml"
    result = sepa.export_collections(ctx, out, collection_on=date(2026, 3, 4))
    assert (result.transactions, result.control_sum) == (3, Money(29_97, "EUR"))
    assert result.blocks == [("2026-03-04", "CORE", "FRST", 3, Money(29_97, "EUR"))]
    schema_for("pain.008.001.08").assertValid(etree.parse(str(out)))
    rows = exported(out)
    assert {e2e for e2e, _, _ in rows} == {attempt_of(ctx, s).provider_payment_id for s in subs.values()}
    assert {attempt_of(ctx, s).status for s in subs.values()} == {AttemptStatus.SUBMITTED}
    again = sepa.export_collections(ctx, tmp_path / "again.xml", collection_on=date(2026, 3, 4))
    assert again.transactions == 0 and not (tmp_path / "again.xml").exists()  # nothing exported twice
    assert [f.msg_id for f in sepa.list_files(ctx)] == [result.msg_id]

    copy = sepa.regenerate_file(ctx, result.msg_id or "", tmp_path / "copy.xml")
    assert copy.identical and (tmp_path / "copy.xml").read_bytes() == out.read_bytes()

    e2e = {name: attempt_of(ctx, s).provider_payment_id for name, s in subs.items()}
    ctx.clock.advance(days=2)  # type: ignore[attr-defined]
    camt = write_camt(tmp_path / "camt054.xml", "camt.054.001.08", [
        Entry("BATCH-1", True, [Tx(9_99, e2e=e2e["Anna Schmidt"]), Tx(9_99, e2e=e2e["Berta Braun"])]),
        Entry("RET-1", False, [Tx(9_99, e2e=e2e["Berta Braun"], reason="MD06", fee_minor=3_00)],
              sub_family="UPDD"),
        Entry("RET-2", False, [Tx(9_99, e2e=e2e["Carl Cord"], reason="AM04", fee_minor=4_50,
                                  instructed_minor=9_99)], sub_family="UPDD"),
    ])
    imported = bank_import.import_statement(ctx, camt)
    assert (imported.settled, imported.returned, imported.unmatched) == (2, 2, 0)
    assert imported.fees == {"EUR": 7_50}
    anna, berta, carl = (attempt_of(ctx, subs[n]) for n in ("Anna Schmidt", "Berta Braun", "Carl Cord"))
    assert anna.status is AttemptStatus.SUCCEEDED and invoice_of(ctx, subs["Anna Schmidt"]).status is InvoiceStatus.PAID
    assert berta.status is AttemptStatus.REVERSED and berta.decline_code == "refund_requested"
    assert invoice_of(ctx, subs["Berta Braun"]).amount_due == Money(9_99, "EUR")
    assert carl.status is AttemptStatus.FAILED and carl.decline_code == "insufficient_funds"
    assert carl.retry_action == "retry" and invoice_of(ctx, subs["Carl Cord"]).collect_on is not None
    with ctx.uow() as uow:
        assert uow.ledger.balance("bank") == {"EUR": 2 * 9_99 - 9_99 - 7_50}
        assert uow.ledger.balance("fees") == {"EUR": 7_50}
    check_books(ctx)

    before = [attempt_of(ctx, s) for s in subs.values()]
    twice = bank_import.import_statement(ctx, camt)
    assert twice.duplicate_file and [attempt_of(ctx, s) for s in subs.values()] == before
    check_books(ctx)

    # recovery: the retry goes out in the next file, now as a recurring debit on a used mandate
    ctx.clock.set(datetime.combine(invoice_of(ctx, subs["Carl Cord"]).collect_on, datetime.min.time(),  # type: ignore[attr-defined]
                                   tzinfo=UTC).replace(hour=8))
    retry = collection.run_collection(ctx)
    assert retry.awaiting_export == 1
    second = sepa.export_collections(ctx, tmp_path / "retry.xml")
    assert [seq for _, _, seq in exported(tmp_path / "retry.xml")] == ["RCUR"]
    assert second.transactions == 1


@pytest.mark.parametrize("fmt", ["pain.008.001.02", "pain.008.001.08"])
def test_an_amended_mandate_reports_the_original_data_once(ctx: ServiceContext, tmp_path: Path, fmt: str) -> None:
    moved, _ = subscriber(ctx, "Dora Dahl", mandate("Dora Dahl"))
    renamed, _ = subscriber(ctx, "Egon Eck", mandate("Egon Eck"))
    dora = payment_methods.list_payment_methods(ctx, moved)[0]
    egon = payment_methods.list_payment_methods(ctx, renamed)[0]
    amended = sepa.amend_mandate(ctx, dora.id, iban="DE02120300000000202051")  # another bank: SMNDA
    assert amended.mandate_original_iban == "DE89370400440532013000" and amended.mandate_new_bank
    sepa.amend_mandate(ctx, egon.id, reference="AG-NEW-0001")
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    out = tmp_path / "amended.xml"
    sepa.export_collections(ctx, out, fmt=fmt)
    schema_for(fmt).assertValid(etree.parse(str(out)))
    text = out.read_text()
    assert text.count("<AmdmntInd>true</AmdmntInd>") == 2
    assert f"<OrgnlMndtId>{egon.mandate_reference}</OrgnlMndtId>" in text and "<MndtId>AG-NEW-0001</MndtId>" in text
    assert "<Id>SMNDA</Id>" in text and "<SeqTp>FRST</SeqTp>" in text
    for customer in (moved, renamed):  # carried once: the next collection is a plain recurring one
        after = payment_methods.list_payment_methods(ctx, customer)[0]
        assert after.mandate_original_reference is None and after.mandate_original_iban is None
        assert after.mandate_last_used_on is not None and not after.mandate_new_bank
    check_books(ctx)


def test_two_debits_on_one_new_mandate_in_one_file_go_out_as_frst_then_rcur(
        ctx: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    customer, first = subscriber(ctx, "Fritz Fink", mandate("Fritz Fink"))
    second = subscriptions.create_subscription(ctx, customer_id=customer, plan_code="basic").subscription.id
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    monkeypatch.setattr(sepa, "BATCH", 1)  # the second debit is read in a later batch
    out = tmp_path / "two.xml"
    sepa.export_collections(ctx, out)
    assert sorted(seq for _, _, seq in exported(out)) == ["FRST", "RCUR"]
    del first, second


def test_an_export_needs_a_banking_day_with_lead_time_and_a_configured_creditor(ctx: ServiceContext,
                                                                                tmp_path: Path) -> None:
    from aboguard.domain.sepa import CollectionDateNotAllowed

    with pytest.raises(CollectionDateNotAllowed, match="banking day"):
        sepa.export_collections(ctx, tmp_path / "x.xml", collection_on=date(2026, 4, 3))  # Good Friday
    with pytest.raises(CollectionDateNotAllowed, match="or later"):
        sepa.export_collections(ctx, tmp_path / "x.xml", collection_on=date(2026, 3, 2))  # today: too late
    ctx.sepa = replace(SEPA, creditor_id=None)
    with pytest.raises(sepa.SepaNotConfigured):
        sepa.export_collections(ctx, tmp_path / "x.xml")


def test_an_expired_mandate_is_not_exported_and_the_attempt_fails(ctx: ServiceContext, tmp_path: Path) -> None:
    customer, sub = subscriber(ctx, "Emil Ernst", PaymentMethodSpec(
        Kind.SEPA_DEBIT, iban="DE89370400440532013000", account_holder="Emil Ernst",
        mandate_signed_on=date(2023, 1, 10)))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    report = sepa.export_collections(ctx, tmp_path / "x.xml")
    assert report.transactions == 0 and [p.code for p in report.failed] == ["MD01"]
    failed = attempt_of(ctx, sub)
    assert failed.status is AttemptStatus.FAILED and failed.retry_allowed is False
    del customer
    check_books(ctx)


def test_transfers_are_matched_by_reference_amount_and_name_with_partial_and_over_payments(
        ctx: ServiceContext, tmp_path: Path) -> None:
    transfer = PaymentMethodSpec(Kind.BANK_TRANSFER)
    subs = {name: subscriber(ctx, name, transfer) for name in
            ("Jürgen Müller", "Grete Groß", "Hans Huber", "Ida Iller", "Karl König")}
    billing.run_billing(ctx)
    numbers = {name: invoice_of(ctx, sub).number for name, (_, sub) in subs.items()}
    assert all(invoice_of(ctx, sub).status is InvoiceStatus.ISSUED for _, sub in subs.values())
    total = invoice_of(ctx, subs["Grete Groß"][1]).total.minor
    n = {name: number.split("-")[-1].lstrip("0") for name, number in numbers.items()}  # type: ignore[union-attr]
    statement = write_camt(tmp_path / "camt053.xml", "camt.053.001.02", [
        Entry("T1", True, [Tx(total, name="Grete Gross", ustrd=[f"Rechnungsnr. {numbers['Grete Groß']} Groß"])],
              family="RCDT", sub_family="ESCT"),
        Entry("T2", True, [Tx(5_00, name="H. Huber", ustrd=["Teilzahlung", f"re 2026 {n['Hans Huber']} danke"])],
              family="RCDT", sub_family="ESCT"),
        Entry("T3", True, [Tx(20_00, name="Ida Iller", ustrd=["Abo Zahlung RE-2026-", f"{numbers['Ida Iller'][-6:]}"])],
              family="RCDT", sub_family="ESCT"),
        Entry("T4", True, [Tx(total, name="MUELLER, JUERGEN", ustrd=["Abo Februar"])],
              family="RCDT", sub_family="ESCT"),
        Entry("T5", True, [Tx(total, name="Unbekannt", ustrd=["Spende"])], family="RCDT", sub_family="ESCT"),
        Entry("T6", True, [Tx(total, name="Grete Gross", ustrd=[f"{numbers['Grete Groß']}"])],
              family="RCDT", sub_family="ESCT"),  # paid twice: goes to review
    ])
    report = bank_import.import_statement(ctx, statement)
    assert (report.transfers_matched, report.unmatched) == (4, 2), [
        (x.remittance, x.counterparty, x.amount) for x in bank_import.list_unmatched(ctx)]
    assert invoice_of(ctx, subs["Grete Groß"][1]).status is InvoiceStatus.PAID
    assert invoice_of(ctx, subs["Hans Huber"][1]).status is InvoiceStatus.PARTIALLY_PAID
    assert invoice_of(ctx, subs["Ida Iller"][1]).status is InvoiceStatus.PAID
    assert invoice_of(ctx, subs["Jürgen Müller"][1]).status is InvoiceStatus.PAID
    assert report.credit == {"EUR": 20_00 - total}
    with ctx.uow() as uow:
        assert uow.ledger.balance(f"customer_credit:{subs['Ida Iller'][0]}") == {"EUR": -(20_00 - total)}
    check_books(ctx)

    review = bank_import.list_unmatched(ctx)
    assert sorted(line.remittance for line in review) == sorted(["Spende", numbers["Grete Groß"]])
    spende = next(line for line in review if line.remittance == "Spende")
    matched = bank_import.match_line(ctx, spende.id, numbers["Karl König"] or "")
    assert matched.status is LineStatus.APPLIED
    assert invoice_of(ctx, subs["Karl König"][1]).status is InvoiceStatus.PAID
    with pytest.raises(bank_import.LineAlreadyMatched):
        bank_import.match_line(ctx, spende.id, numbers["Karl König"] or "")
    assert len(bank_import.list_unmatched(ctx)) == 1
    check_books(ctx)

    # the same entries again in the intraday report: nothing applied twice
    intraday = write_camt(tmp_path / "camt052.xml", "camt.052.001.08", [
        Entry("T2", True, [Tx(5_00, name="H. Huber", ustrd=["Teilzahlung", f"re 2026 {n['Hans Huber']} danke"])],
              family="RCDT", sub_family="ESCT")])
    again = bank_import.import_statement(ctx, intraday)
    assert again.skipped == 1 and again.transfers_matched == 0
    assert invoice_of(ctx, subs["Hans Huber"][1]).amount_due == Money(total - 5_00, "EUR")


def test_a_broken_or_invalid_file_is_rejected_and_nothing_is_applied(ctx: ServiceContext, tmp_path: Path) -> None:
    _, sub = subscriber(ctx, "Lena Lang", PaymentMethodSpec(Kind.BANK_TRANSFER))
    billing.run_billing(ctx)
    number = invoice_of(ctx, sub).number
    good = write_camt(tmp_path / "good.xml", "camt.054.001.02", [
        Entry("X1", True, [Tx(invoice_of(ctx, sub).total.minor, name="Lena Lang", ustrd=[number or ""])],
              family="RCDT", sub_family="ESCT"),
        Entry("X2", True, [Tx(1_00, name="Lena Lang", ustrd=["x"])], family="RCDT", sub_family="ESCT")])
    text = good.read_text()
    truncated = tmp_path / "truncated.xml"
    truncated.write_text(text[: len(text) - 200])
    invalid = tmp_path / "invalid.xml"
    invalid.write_text(text.replace("<CdtDbtInd>CRDT</CdtDbtInd>", "", 2))  # the second entry loses a required field
    unknown = tmp_path / "unknown.xml"
    unknown.write_text(text.replace("camt.054.001.02", "camt.054.001.04"))
    for broken, message in ((truncated, "not a valid"), (invalid, "not a valid"), (unknown, "not a camt")):
        with pytest.raises(BankFileError, match=message):
            bank_import.import_statement(ctx, broken)
    assert invoice_of(ctx, sub).status is InvoiceStatus.ISSUED
    assert bank_import.list_unmatched(ctx) == []
    assert bank_import.import_statement(ctx, good).transfers_matched == 1
    assert invoice_of(ctx, sub).status is InvoiceStatus.PAID


@pytest.mark.parametrize("reader", ["inline", "child process"])
def test_a_fault_late_in_a_streamed_file_undoes_the_lines_applied_before_it(
        ctx: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    monkeypatch.setattr(bank_import, "CHUNK", 1)  # the first transfer is applied before the fault is read
    monkeypatch.setattr(camt_reader, "PARALLEL_FROM", 0 if reader == "child process" else 1 << 40)
    _, sub = subscriber(ctx, "Lena Lang", PaymentMethodSpec(Kind.BANK_TRANSFER))
    billing.run_billing(ctx)
    invoice = invoice_of(ctx, sub)
    entries = [Entry("OK1", True, [Tx(invoice.total.minor, name="Lena Lang", ustrd=[invoice.number or ""])],
                     family="RCDT", sub_family="ESCT")]
    entries += [Entry(f"U{n}", True, [Tx(1_00 + n, name="Unbekannt", ustrd=["?"])], family="RCDT", sub_family="ESCT")
                for n in range(5)]
    good = write_camt(tmp_path / "good.xml", "camt.053.001.08", entries)
    text = good.read_text()
    late = tmp_path / "late.xml"  # the last entry loses its amount: the schema says so only at the end
    cut = text.rindex("<Amt Ccy=\"EUR\">1.04</Amt>")
    late.write_text(text[:cut] + text[cut:].replace("<Amt Ccy=\"EUR\">1.04</Amt>", "", 1))
    with pytest.raises(BankFileError, match=r"not a valid camt\.053\.001\.08"):
        bank_import.import_statement(ctx, late)
    assert invoice_of(ctx, sub).status is InvoiceStatus.ISSUED
    assert bank_import.list_unmatched(ctx) == []
    with ctx.uow() as uow:
        assert uow.ledger.balance("bank") == {}
    report = bank_import.import_statement(ctx, good)  # nothing of the broken file was kept: the good one applies
    assert (report.duplicate_file, report.lines, report.transfers_matched, report.unmatched) == (False, 6, 1, 5)
    assert invoice_of(ctx, sub).status is InvoiceStatus.PAID
    check_books(ctx)


def test_a_pending_intraday_entry_is_applied_once_booked_and_batch_sums_wait_for_the_itemised_file(
        ctx: ServiceContext, tmp_path: Path) -> None:
    _, sub = subscriber(ctx, "Mia Moser", PaymentMethodSpec(Kind.BANK_TRANSFER))
    billing.run_billing(ctx)
    invoice = invoice_of(ctx, sub)
    transfer = [Tx(invoice.total.minor, name="Mia Moser", ustrd=[f"Rg. {invoice.number}"])]
    pending = write_camt(tmp_path / "intraday.xml", "camt.052.001.08", [
        Entry("P1", True, transfer, family="RCDT", sub_family="ESCT", status="PDNG")])
    assert bank_import.import_statement(ctx, pending).ignored == 1
    assert invoice_of(ctx, sub).status is InvoiceStatus.ISSUED
    booked = write_camt(tmp_path / "statement.xml", "camt.053.001.08", [
        Entry("P1", True, transfer, family="RCDT", sub_family="ESCT"),
        Entry("SUM1", True, [Tx(29_97)]),  # a batch credit of debits without details
    ])
    report = bank_import.import_statement(ctx, booked)
    assert (report.transfers_matched, report.ignored, report.unmatched) == (1, 1, 0)
    assert invoice_of(ctx, sub).status is InvoiceStatus.PAID
    check_books(ctx)


def test_a_return_that_arrives_before_the_settlement_leaves_the_books_as_the_bank_has_them(
        ctx: ServiceContext, tmp_path: Path) -> None:
    _, sub = subscriber(ctx, "Nora Nagel", mandate("Nora Nagel"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    sepa.export_collections(ctx, tmp_path / "d.xml")
    e2e = attempt_of(ctx, sub).provider_payment_id
    returns = write_camt(tmp_path / "returns.xml", "camt.054.001.02", [
        Entry("R9", False, [Tx(9_99, e2e=e2e, reason="AC04", fee_minor=3_00)], sub_family="UPDD")])
    credits = write_camt(tmp_path / "credits.xml", "camt.054.001.02", [Entry("C9", True, [Tx(9_99, e2e=e2e)])])
    assert bank_import.import_statement(ctx, returns).returned == 1
    late = bank_import.import_statement(ctx, credits)
    assert (late.settled, late.ignored) == (0, 1)
    failed = attempt_of(ctx, sub)
    assert failed.status is AttemptStatus.FAILED and failed.decline_code == "account_closed"
    assert failed.retry_allowed is False  # a closed account: ask for a new mandate, no automatic retry
    with ctx.uow() as uow:  # the bank: +9.99 -9.99 -3.00; the books: the fee
        assert uow.ledger.balance("bank") == {"EUR": -3_00}
    check_books(ctx)


def test_no_dunning_while_a_debit_waits_for_export_or_the_bank(ctx: ServiceContext, tmp_path: Path) -> None:
    from aboguard.services import dunning

    _, sub = subscriber(ctx, "Olga Ott", mandate("Olga Ott"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    ctx.clock.advance(days=10)  # type: ignore[attr-defined]
    dunning.run_dunning(ctx)  # awaiting export: on its way
    sepa.export_collections(ctx, tmp_path / "d.xml")
    ctx.clock.advance(days=10)  # type: ignore[attr-defined]
    dunning.run_dunning(ctx)  # submitted: on its way
    invoice_id = invoice_of(ctx, sub).id
    with ctx.uow() as uow:
        assert uow.dunning.case_for_invoice(invoice_id) is None


def test_a_file_that_breaks_the_schema_exports_nothing(ctx: ServiceContext, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from aboguard.bankfiles import pain008

    _, sub = subscriber(ctx, "Paul Pohl", mandate("Paul Pohl"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    monkeypatch.setattr(pain008, "amount_text", lambda amount: "9,99")  # not a decimal the schema accepts
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(sepa.InvalidSepaFile, match=r"did not pass the pain\.008\.001\.08 schema"):
        sepa.export_collections(ctx, out / "bad.xml")
    assert list(out.iterdir()) == [] and sepa.list_files(ctx) == []
    assert attempt_of(ctx, sub).status is AttemptStatus.AWAITING_EXPORT
    monkeypatch.undo()
    assert sepa.export_collections(ctx, out / "good.xml").transactions == 1


# -- the last debit on a mandate (FNAL) ------------------------------------------------------------------------


def settle(ctx: ServiceContext, tmp_path: Path, *subs: str) -> None:
    """The bank books the exported debits of these subscriptions' latest invoices."""
    txs = [Tx(attempt_of(ctx, s).amount.minor, e2e=attempt_of(ctx, s).provider_payment_id) for s in subs]
    camt = write_camt(tmp_path / f"settled-{attempt_of(ctx, subs[0]).id}.xml", "camt.054.001.08",
                      [Entry(f"S-{attempt_of(ctx, subs[0]).id[:20]}", True, txs)])
    assert bank_import.import_statement(ctx, camt).settled == len(subs)


def first_debits_out_and_settled(ctx: ServiceContext, tmp_path: Path, *subs: str) -> None:
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    sepa.export_collections(ctx, tmp_path / "first.xml")
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]
    settle(ctx, tmp_path, *subs)


def next_period(ctx: ServiceContext) -> None:
    """On to 2 April, when the second monthly period starts: bill it and leave its debit for the next file."""
    ctx.clock.set(datetime(2026, 4, 2, 8, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    billing.run_billing(ctx)
    collection.run_collection(ctx)


def mandate_status(ctx: ServiceContext, customer: str) -> str | None:
    return payment_methods.list_payment_methods(ctx, customer)[0].mandate_status


def test_the_last_debit_of_a_cancelled_subscription_goes_out_as_fnal_and_finishes_the_mandate(
        ctx: ServiceContext, tmp_path: Path) -> None:
    ending_customer, ending = subscriber(ctx, "Quirin Quast", mandate("Quirin Quast"))
    staying_customer, staying = subscriber(ctx, "Rita Rost", mandate("Rita Rost"))
    first_debits_out_and_settled(ctx, tmp_path, ending, staying)
    subscriptions.cancel_subscription(ctx, ending, last_day=date(2026, 5, 1))  # the April period is the last
    next_period(ctx)
    assert invoice_of(ctx, ending).supply_end == date(2026, 5, 2)

    out = tmp_path / "final.xml"
    report = sepa.export_collections(ctx, out)
    schema_for("pain.008.001.08").assertValid(etree.parse(str(out)))
    due = report.collection_on.isoformat()  # type: ignore[union-attr]
    assert report.blocks == [(due, "CORE", "FNAL", 1, Money(9_99, "EUR")), (due, "CORE", "RCUR", 1, Money(9_99, "EUR"))]
    sequences = {e2e: seq for e2e, _, seq in exported(out)}
    assert sequences[attempt_of(ctx, ending).provider_payment_id] == "FNAL"
    assert sequences[attempt_of(ctx, staying).provider_payment_id] == "RCUR"  # a subscription that runs on
    assert mandate_status(ctx, ending_customer) == "finished"
    assert mandate_status(ctx, staying_customer) == "active"
    copy = sepa.regenerate_file(ctx, report.msg_id or "", tmp_path / "copy.xml")
    assert copy.identical

    # a later debit on the finished mandate is refused: the bank would reject it, a new mandate is needed
    again = subscriptions.create_subscription(ctx, customer_id=ending_customer, plan_code="basic").subscription.id
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    refused = sepa.export_collections(ctx, tmp_path / "refused.xml")
    assert refused.transactions == 0 and not (tmp_path / "refused.xml").exists()
    assert [p.code for p in refused.failed] == ["MD01"]
    assert "finished" in refused.failed[0].message and "new mandate" in refused.failed[0].message
    failed = attempt_of(ctx, again)
    assert failed.status is AttemptStatus.FAILED and failed.retry_allowed is False
    assert "new mandate" in (failed.decline_message or "")
    check_books(ctx)


def test_a_debit_is_not_final_while_the_mandate_still_serves_another_subscription(
        ctx: ServiceContext, tmp_path: Path) -> None:
    customer, ending = subscriber(ctx, "Sven Sommer", mandate("Sven Sommer"))
    other = subscriptions.create_subscription(ctx, customer_id=customer, plan_code="basic").subscription.id
    first_debits_out_and_settled(ctx, tmp_path, ending, other)
    subscriptions.cancel_subscription(ctx, ending, last_day=date(2026, 5, 1))
    next_period(ctx)
    out = tmp_path / "two.xml"
    sepa.export_collections(ctx, out)
    assert sorted(seq for _, _, seq in exported(out)) == ["RCUR", "RCUR"]
    assert mandate_status(ctx, customer) == "active"


def test_a_debit_is_not_final_while_an_earlier_invoice_is_still_open(ctx: ServiceContext, tmp_path: Path) -> None:
    customer, ending = subscriber(ctx, "Tina Thal", mandate("Tina Thal"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    sepa.export_collections(ctx, tmp_path / "first.xml")  # out, but the bank has not booked it yet
    subscriptions.cancel_subscription(ctx, ending, last_day=date(2026, 5, 1))
    next_period(ctx)
    out = tmp_path / "second.xml"
    sepa.export_collections(ctx, out)
    assert [seq for _, _, seq in exported(out)] == ["RCUR"]  # the first may still come back and need a retry
    assert mandate_status(ctx, customer) == "active"


def test_a_returned_final_debit_is_presented_again_as_fnal_on_the_finished_mandate(
        ctx: ServiceContext, tmp_path: Path) -> None:
    customer, ending = subscriber(ctx, "Uwe Ulm", mandate("Uwe Ulm"))
    first_debits_out_and_settled(ctx, tmp_path, ending)
    subscriptions.cancel_subscription(ctx, ending, last_day=date(2026, 5, 1))
    next_period(ctx)
    sepa.export_collections(ctx, tmp_path / "final.xml")
    assert mandate_status(ctx, customer) == "finished"
    final = attempt_of(ctx, ending)
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]
    camt = write_camt(tmp_path / "return.xml", "camt.054.001.08", [
        Entry("RET-F", False, [Tx(9_99, e2e=final.provider_payment_id, reason="AM04", fee_minor=3_00)],
              sub_family="UPDD")])
    assert bank_import.import_statement(ctx, camt).returned == 1
    returned = attempt_of(ctx, ending)
    assert returned.status is AttemptStatus.FAILED and returned.retry_action == "retry"

    ctx.clock.set(datetime.combine(invoice_of(ctx, ending).collect_on, datetime.min.time(),  # type: ignore[arg-type]
                                   tzinfo=UTC).replace(hour=8))
    assert collection.run_collection(ctx).awaiting_export == 1
    out = tmp_path / "again.xml"
    report = sepa.export_collections(ctx, out)
    assert report.failed == [] and [seq for _, _, seq in exported(out)] == ["FNAL"]
    retry = attempt_of(ctx, ending)
    assert retry.id != final.id and retry.status is AttemptStatus.SUBMITTED
    assert mandate_status(ctx, customer) == "finished"
    check_books(ctx)


def test_with_fnal_switched_off_the_last_debit_goes_out_as_rcur(ctx: ServiceContext, tmp_path: Path) -> None:
    ctx.sepa = replace(SEPA, use_fnal=False)
    customer, ending = subscriber(ctx, "Vera Vogt", mandate("Vera Vogt"))
    first_debits_out_and_settled(ctx, tmp_path, ending)
    subscriptions.cancel_subscription(ctx, ending, last_day=date(2026, 5, 1))
    next_period(ctx)
    out = tmp_path / "final.xml"
    sepa.export_collections(ctx, out)
    assert [seq for _, _, seq in exported(out)] == ["RCUR"]
    assert mandate_status(ctx, customer) == "active"


def test_without_the_spool_the_file_is_written_from_the_stored_items_alike(
        ctx: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("Wim Wald", "Xaver Xu"):
        subscriber(ctx, name, mandate(name))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    monkeypatch.setattr(sepa._Spool, "matches", lambda self, groups: False)  # e.g. ids not in file order
    out = tmp_path / "read-back.xml"
    report = sepa.export_collections(ctx, out)
    schema_for("pain.008.001.08").assertValid(etree.parse(str(out)))
    assert report.transactions == 2
    monkeypatch.undo()
    assert sepa.regenerate_file(ctx, report.file_id or "", tmp_path / "copy.xml").identical


def test_a_debit_settled_by_the_bank_file_counts_for_loyalty_streaks(ctx: ServiceContext, tmp_path: Path) -> None:
    from aboguard.services import loyalty

    loyalty.create_rule(ctx, "PUNCTUAL1", "Thank you", streak=1, percent="5")
    _, sub = subscriber(ctx, "Paula Pünktlich", mandate("Paula Pünktlich"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    sepa.export_collections(ctx, tmp_path / "d.xml")
    e2e = attempt_of(ctx, sub).provider_payment_id
    ctx.clock.advance(days=2)  # type: ignore[attr-defined]
    camt = write_camt(tmp_path / "c.xml", "camt.054.001.08", [Entry("L1", True, [Tx(9_99, e2e=e2e)])])
    assert bank_import.import_statement(ctx, camt).settled == 1
    assert invoice_of(ctx, sub).status is InvoiceStatus.PAID
    rewards = loyalty.list_rewards(ctx)
    assert [(r.rule_code, r.earned_by) for r in rewards] == [("PUNCTUAL1", (invoice_of(ctx, sub).id,))]
    check_books(ctx)


def _block_id(pain: Path) -> str:
    return etree.parse(str(pain)).findtext(f"{NS8}CstmrDrctDbtInitn/{NS8}PmtInf/{NS8}PmtInfId") or ""


@pytest.mark.parametrize("named", [True, False], ids=["by PmtInfId", "by date and sum"])
def test_a_batch_credit_without_details_settles_its_payment_block_once(ctx: ServiceContext, tmp_path: Path,
                                                                       named: bool) -> None:
    subs = [subscriber(ctx, name, mandate(name))[1] for name in ("Olga Ost", "Paul Pohl", "Rita Rau")]
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    pain = tmp_path / "d.xml"
    sepa.export_collections(ctx, pain, collection_on=date(2026, 3, 4))
    e2e = [attempt_of(ctx, s).provider_payment_id for s in subs]
    ctx.clock.advance(days=2)  # type: ignore[attr-defined]
    total = [Tx(9_99), Tx(9_99), Tx(9_99)]
    wrong = write_camt(tmp_path / "wrong.xml", "camt.053.001.08", [  # not what the block holds: for review
        Entry("SAMMEL-0", True, total[:2], itemised=False, booked_on=date(2026, 3, 4),
              pmt_inf_id=_block_id(pain) if named else None)], msg_id="STMT-0")
    report = bank_import.import_statement(ctx, wrong)
    assert (report.settled, report.unmatched) == (0, 1)
    assert "fits no payment block" in bank_import.list_unmatched(ctx)[0].note
    statement = write_camt(tmp_path / "stmt.xml", "camt.053.001.08", [
        Entry("SAMMEL-1", True, total, itemised=False, booked_on=date(2026, 3, 4),
              pmt_inf_id=_block_id(pain) if named else None)])
    report = bank_import.import_statement(ctx, statement)
    assert (report.settled, report.unmatched, report.ignored) == (3, 0, 0)
    assert {attempt_of(ctx, s).status for s in subs} == {AttemptStatus.SUCCEEDED}
    assert {invoice_of(ctx, s).status for s in subs} == {InvoiceStatus.PAID}
    itemised = write_camt(tmp_path / "items.xml", "camt.054.001.08", [  # the Sammelbuchungsdatei after it
        Entry("SAMMEL-1", True, [Tx(9_99, e2e=e) for e in e2e])])
    later = bank_import.import_statement(ctx, itemised)
    assert (later.settled, later.ignored) == (0, 3)
    with ctx.uow() as uow:
        assert uow.ledger.balance("bank") == {"EUR": 29_97}  # once, not twice
    check_books(ctx)


def test_a_batch_credit_after_its_itemised_report_changes_nothing(ctx: ServiceContext, tmp_path: Path) -> None:
    subs = [subscriber(ctx, name, mandate(name))[1] for name in ("Sara Sand", "Tom Tal")]
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    pain = tmp_path / "d.xml"
    sepa.export_collections(ctx, pain, collection_on=date(2026, 3, 4))
    ctx.clock.advance(days=2)  # type: ignore[attr-defined]
    itemised = write_camt(tmp_path / "items.xml", "camt.054.001.02", [
        Entry("B-7", True, [Tx(9_99, e2e=attempt_of(ctx, s).provider_payment_id) for s in subs])])
    assert bank_import.import_statement(ctx, itemised).settled == 2
    statement = write_camt(tmp_path / "stmt.xml", "camt.053.001.02", [
        Entry("B-7", True, [Tx(9_99), Tx(9_99)], itemised=False, pmt_inf_id=_block_id(pain))])
    report = bank_import.import_statement(ctx, statement)
    assert (report.settled, report.ignored, report.unmatched) == (0, 1, 0)
    with ctx.uow() as uow:
        assert uow.ledger.balance("bank") == {"EUR": 19_98}
    check_books(ctx)


def test_two_imports_at_once_sharing_an_entry_apply_it_once(ctx: ServiceContext, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from aboguard.errors import ConcurrentUpdate

    monkeypatch.setattr(bank_import, "CHUNK", 1)
    shared = Entry("SHARED-1", True, [Tx(7_77, name="Unbekannt", ustrd=["?"])], family="RCDT", sub_family="ESCT")
    intraday = write_camt(tmp_path / "a.xml", "camt.052.001.08", [
        shared, Entry("A-2", True, [Tx(1_11, name="X", ustrd=["?"])], family="RCDT", sub_family="ESCT")])
    statement = write_camt(tmp_path / "b.xml", "camt.053.001.08", [
        shared, Entry("B-2", True, [Tx(2_22, name="Y", ustrd=["?"])], family="RCDT", sub_family="ESCT")])
    first_chunk_stored = threading.Event()

    def slow(report: bank_import.ImportReport) -> None:
        if report.lines == 1:  # the shared entry is stored, not committed: let the other import run into it
            first_chunk_stored.set()
            time.sleep(1.0)

    outcome: dict[str, object] = {}

    def run_a() -> None:
        outcome["a"] = bank_import.import_statement(ctx, intraday, on_progress=slow)

    a = threading.Thread(target=run_a)
    a.start()
    assert first_chunk_stored.wait(10)
    try:
        outcome["b"] = bank_import.import_statement(ctx, statement)
    except ConcurrentUpdate as exc:  # PostgreSQL: the unique entry key waits for the first, then refuses
        outcome["b"] = exc
        assert "import the file again" in str(exc)
        outcome["b"] = bank_import.import_statement(ctx, statement)
    a.join()
    assert outcome["b"].skipped == 1  # type: ignore[union-attr]  # SQLite waits for the first import to commit
    texts = sorted(line.amount.minor for line in bank_import.list_unmatched(ctx))
    assert texts == [1_11, 2_22, 7_77]  # the shared entry once
