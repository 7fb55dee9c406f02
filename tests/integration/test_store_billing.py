"""The billing part of the SQL store on SQLite and PostgreSQL: invoices, numbers, the journal, due work.

What is saved is what is loaded (to the cent, the exact rate and the microsecond); a refused batch writes
nothing; settlement is the only thing that changes on an issued document; numbers never skip or repeat;
claims follow ``domain.subscriptions.due_on``.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from aboguard.domain.catalog import PaymentMethodKind, Plan, TaxCategory
from aboguard.domain.customers import Address, Customer, CustomerKind
from aboguard.domain.invoicing import Buyer, DocumentKind, Invoice, InvoiceLine, InvoiceStatus, LineKind
from aboguard.domain.ledger import EntryKind, JournalEntry, JournalLine
from aboguard.domain.subscriptions import Subscription, SubscriptionStatus, due_on
from aboguard.domain.tax import TaxGroup, TaxTreatment
from aboguard.errors import ConcurrentUpdate, Conflict, InvoiceNotFound, SubscriptionNotFound
from aboguard.ids import InvoiceId, JournalEntryId, SubscriptionId
from aboguard.money import Money
from aboguard.store import migrate, rows, tables
from aboguard.store.bulk import COPY_FROM
from aboguard.store.engine import make_engine
from aboguard.store.sql import SqlUnitOfWorkFactory
from aboguard.store.uow import DuplicateDocument
from tests.builders import CREATED_AT, a_customer, a_plan, a_product, a_subscription, stable_id

BERLIN_SUMMER = timezone(timedelta(hours=2))
TODAY = date(2025, 3, 1)


# -- set-up ---------------------------------------------------------------------------------------------


@pytest.fixture
def world(uow_factory: SqlUnitOfWorkFactory) -> dict[str, Any]:
    """A plan, a German consumer with a subscription and an Austrian business customer, committed."""
    plan = a_plan()
    anna = a_customer()
    firma = a_customer(email="rechnung@firma.at", kind=CustomerKind.BUSINESS, country="AT", company="Firma GmbH",
                       vat_id="ATU13585627", address=Address("Allee 2", "", "1010", "Wien"))
    sub = a_subscription(anna, plan)
    with uow_factory() as uow:
        uow.products.add(a_product(plan.code, id=plan.product_id))
        uow.plans.add(plan)
        uow.customers.add(anna)
        uow.customers.add(firma)
        uow.subscriptions.add(sub)
        uow.commit()
    return {"plan": plan, "anna": anna, "firma": firma, "sub": sub}


def money(minor: int, currency: str = "EUR") -> Money:
    return Money(minor, currency)


def an_invoice(customer: Customer, n: int, *, plan: Plan | None = None, sub: Subscription | None = None,
               currency: str = "EUR", **overrides: Any) -> Invoice:
    """An issued invoice with three lines over two VAT rates; totals add up like the domain's do."""
    version_id = plan.current.id if plan is not None else None
    lines = (
        InvoiceLine(1, LineKind.PLAN, "Basic 2025-01-31 – 2025-02-27", money(9_99, currency), money(8_39, currency),
                    TaxCategory.STANDARD, Decimal("0.19"), date(2025, 1, 31), date(2025, 2, 28), version_id),
        InvoiceLine(2, LineKind.SETUP_FEE, "Einrichtung: Grüße & „Sonderzeichen“", money(4_99, currency),
                    money(4_66, currency), TaxCategory.REDUCED, Decimal("0.070"), None, None, version_id),
        InvoiceLine(3, LineKind.DISCOUNT, "Rabatt", money(-1_00, currency), money(-84, currency),
                    TaxCategory.STANDARD, Decimal("0.19")),
    )
    values: dict[str, Any] = {
        "id": InvoiceId(stable_id("invoice", customer.id, n)), "kind": DocumentKind.INVOICE,
        "status": InvoiceStatus.ISSUED, "customer_id": customer.id,
        "subscription_id": sub.id if sub is not None else None, "currency": currency,
        "buyer": Buyer(name=customer.name, email=customer.email, country=customer.country, locale=customer.locale,
                       company=customer.company, vat_id=customer.vat_id,
                       address_lines=(customer.address.line1, f"{customer.address.postal_code} "
                                                              f"{customer.address.city}")),
        "lines": lines,
        "tax_groups": (TaxGroup(TaxCategory.STANDARD, "S", Decimal("0.19"), money(7_55, currency),
                                money(1_44, currency)),
                       TaxGroup(TaxCategory.REDUCED, "S", Decimal("0.070"), money(4_66, currency),
                                money(33, currency))),
        "tax_treatment": TaxTreatment.DOMESTIC, "tax_country": "DE", "tax_note_de": None, "tax_note_en": None,
        "prices_include_tax": True, "net": money(12_21, currency), "tax": money(1_77, currency),
        "total": money(13_98, currency),
        "created_at": CREATED_AT + timedelta(minutes=n, microseconds=n),
        "supply_start": date(2025, 1, 31), "supply_end": date(2025, 2, 28),
        "payment_method": PaymentMethodKind.BANK_TRANSFER,
        "billing_key": f"{sub.id if sub else customer.id}:{n}", "number": f"RE-2025-{n:06d}",
        "issued_on": date(2025, 1, 31), "due_on": date(2025, 2, 14),
        "amount_paid": money(0, currency), "amount_credited": money(0, currency),
    }
    values.update(overrides)
    return Invoice(**values)


def a_draft(customer: Customer, n: int, **overrides: Any) -> Invoice:
    values: dict[str, Any] = {"status": InvoiceStatus.DRAFT, "number": None, "issued_on": None, "due_on": None,
                              "amount_paid": None, "amount_credited": None, "billing_key": None,
                              "payment_method": None, "supply_start": None, "supply_end": None}
    values.update(overrides)
    return an_invoice(customer, n, **values)


def a_credit_note(customer: Customer, invoice: Invoice, n: int, **overrides: Any) -> Invoice:
    values: dict[str, Any] = {
        "id": InvoiceId(stable_id("credit-note", customer.id, n)), "kind": DocumentKind.CREDIT_NOTE,
        "corrects_id": invoice.id, "billing_key": None,
        "number": f"GS-2025-{n:06d}", "issued_on": date(2025, 2, 3), "due_on": date(2025, 2, 3),
        "lines": tuple(replace(line, kind=LineKind.CORRECTION, description=f"Korrektur: {line.description}")
                       for line in invoice.lines),
    }
    values.update(overrides)
    return an_invoice(customer, n, **values)


def stored(uow_factory: SqlUnitOfWorkFactory, *documents: Invoice) -> None:
    with uow_factory() as uow:
        uow.invoices.add_many(documents)
        uow.commit()


def count(engine: Engine, table: str, where: str = "1 = 1", **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one())


# -- invoices: round trip -------------------------------------------------------------------------------


def test_an_invoice_round_trips_with_lines_tax_groups_buyer_and_every_field(uow_factory, world) -> None:
    firma, anna = world["firma"], world["anna"]
    oss = an_invoice(  # French VAT at 5.5 %: the rate must come back digit for digit
        anna, 1, plan=world["plan"], sub=world["sub"], tax_treatment=TaxTreatment.OSS, tax_country="FR",
        tax_groups=(TaxGroup(TaxCategory.REDUCED, "S", Decimal("0.055"), money(12_21), money(67)),),
        lines=tuple(replace(line, tax_rate=Decimal("0.055"), tax_category=TaxCategory.REDUCED)
                    for line in an_invoice(anna, 1).lines),
        payment_method=PaymentMethodKind.SEPA_DEBIT,
        created_at=datetime(2025, 7, 1, 0, 30, 0, 654321, tzinfo=BERLIN_SUMMER))
    reverse_charge = an_invoice(
        firma, 2, tax_treatment=TaxTreatment.REVERSE_CHARGE, tax_country="AT", prices_include_tax=False,
        tax_note_de="Steuerschuldnerschaft des Leistungsempfängers", tax_note_en="Reverse charge",
        tax_groups=(TaxGroup(TaxCategory.STANDARD, "AE", Decimal("0"), money(12_21), money(0)),),
        status=InvoiceStatus.PARTIALLY_PAID, amount_paid=money(5_00), version=3)
    with uow_factory() as uow:
        uow.invoices.add_many([oss, reverse_charge])
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.invoices.get(oss.id)
        assert loaded == oss
        assert uow.invoices.get(reverse_charge.id) == reverse_charge
        assert uow.invoices.get_by_number("RE-2025-000002") == reverse_charge
        assert uow.invoices.find(reverse_charge.id) == reverse_charge
        assert uow.invoices.find("RE-2025-000001") == oss
    assert [str(line.tax_rate) for line in loaded.lines] == ["0.055"] * 3
    assert str(loaded.tax_groups[0].rate) == "0.055"
    assert loaded.created_at == datetime(2025, 6, 30, 22, 30, 0, 654321, tzinfo=UTC)
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.lines[1].description == "Einrichtung: Grüße & „Sonderzeichen“"
    assert isinstance(loaded.buyer.address_lines, tuple) and isinstance(loaded.lines[0].kind, LineKind)
    assert loaded.amount_due == money(13_98)


def test_exact_rates_keep_their_digits(uow_factory, world) -> None:
    anna = world["anna"]
    rates = [Decimal("0.19"), Decimal("0.190"), Decimal("0.07"), Decimal("0.0550"), Decimal("0"), Decimal("0.2")]
    document = an_invoice(anna, 1, lines=tuple(
        InvoiceLine(i + 1, LineKind.PLAN, f"rate {rate}", money(1_00), money(1_00), TaxCategory.STANDARD, rate)
        for i, rate in enumerate(rates)))
    stored(uow_factory, document)
    with uow_factory() as uow:
        assert [str(line.tax_rate) for line in uow.invoices.get(document.id).lines] == [str(r) for r in rates]


def test_drafts_and_credit_notes_round_trip_and_many_drafts_have_no_number(uow_factory, world) -> None:
    anna = world["anna"]
    invoice = an_invoice(anna, 1, sub=world["sub"])
    drafts = [a_draft(anna, 2), a_draft(anna, 3, subscription_id=world["sub"].id)]
    credit = a_credit_note(anna, invoice, 1)
    stored(uow_factory, invoice, *drafts, credit)
    with uow_factory() as uow:
        assert uow.invoices.get(drafts[0].id) == drafts[0] and uow.invoices.get(drafts[1].id) == drafts[1]
        assert uow.invoices.get(drafts[0].id).amount_paid is None
        loaded = uow.invoices.get(credit.id)
    assert loaded == credit and loaded.corrects_id == invoice.id and loaded.is_credit_note


def test_missing_invoices_raise_invoice_not_found(uow_factory) -> None:
    with uow_factory() as uow:
        with pytest.raises(InvoiceNotFound, match="no invoice or credit note with id 'x'"):
            uow.invoices.get(InvoiceId("x"))
        with pytest.raises(InvoiceNotFound, match="RE-1"):
            uow.invoices.get_by_number("RE-1")
        with pytest.raises(InvoiceNotFound, match="nope"):
            uow.invoices.find("nope")


def test_list_filters_and_orders_by_creation_then_id(uow_factory, world) -> None:
    anna, firma, sub = world["anna"], world["firma"], world["sub"]
    first = an_invoice(anna, 1, sub=sub, created_at=CREATED_AT + timedelta(days=2))
    same_instant = [an_invoice(anna, n, created_at=CREATED_AT) for n in (2, 3)]
    theirs = an_invoice(firma, 4, created_at=CREATED_AT + timedelta(days=1), status=InvoiceStatus.PAID)
    credit = a_credit_note(anna, first, 5, created_at=CREATED_AT + timedelta(days=3))
    stored(uow_factory, first, *same_instant, theirs, credit)
    by_time = [*sorted(same_instant, key=lambda i: i.id), theirs, first, credit]
    with uow_factory() as uow:
        assert uow.invoices.list() == by_time
        assert uow.invoices.list(limit=2, offset=1) == by_time[1:3]
        assert uow.invoices.list(customer_id=firma.id) == [theirs]
        assert uow.invoices.list(subscription_id=sub.id) == [first]
        assert uow.invoices.list(status=InvoiceStatus.PAID) == [theirs]
        assert uow.invoices.list(kind=DocumentKind.CREDIT_NOTE) == [credit]
        assert uow.invoices.list(customer_id=anna.id, kind=DocumentKind.INVOICE, status=InvoiceStatus.ISSUED,
                                 limit=10) == [*sorted(same_instant, key=lambda i: i.id), first]


# -- invoices: duplicates -------------------------------------------------------------------------------


def test_a_taken_billing_key_refuses_the_whole_batch_and_the_transaction_goes_on(uow_factory, world,
                                                                                 engine: Engine) -> None:
    anna = world["anna"]
    stored(uow_factory, an_invoice(anna, 1, billing_key="sub-1:2025-01-31"))
    fresh = an_invoice(anna, 2, billing_key="sub-1:2025-02-28")
    again = an_invoice(anna, 3, billing_key="sub-1:2025-01-31")
    later = an_invoice(anna, 4, billing_key="sub-1:2025-03-31")
    with uow_factory() as uow:
        with pytest.raises(DuplicateDocument, match="already invoiced: billing key sub-1:2025-01-31") as refused:
            uow.invoices.add_many([fresh, again])
        assert isinstance(refused.value, Conflict) and refused.value.code == "invoice.duplicate"
        uow.invoices.add_many([later])  # the transaction is still usable
        uow.commit()
    assert count(engine, "invoices") == 2
    assert count(engine, "invoices", "id IN (:a, :b)", a=fresh.id, b=again.id) == 0
    assert count(engine, "invoice_lines", "invoice_id = :a", a=fresh.id) == 0
    with uow_factory() as uow:
        assert uow.invoices.existing_billing_keys(["sub-1:2025-01-31", "sub-1:2025-02-28", "sub-1:2025-03-31"]
                                                  ) == {"sub-1:2025-01-31", "sub-1:2025-03-31"}
        assert uow.invoices.existing_billing_keys([]) == set()


def test_a_large_batch_with_one_taken_key_writes_nothing(uow_factory, world, engine: Engine) -> None:
    """Large enough for PostgreSQL's COPY path, which must refuse exactly like an INSERT."""
    anna = world["anna"]
    stored(uow_factory, an_invoice(anna, 0, billing_key="taken"))
    batch = [an_invoice(anna, n) for n in range(1, COPY_FROM + 9)] + [an_invoice(anna, 999, billing_key="taken")]
    with uow_factory() as uow:
        with pytest.raises(DuplicateDocument, match="billing key taken"):
            uow.invoices.add_many(batch)
        uow.invoices.add_many(batch[:-1])
        uow.commit()
    assert count(engine, "invoices") == len(batch)
    assert count(engine, "invoice_lines") == 3 * len(batch)


def test_a_taken_number_an_id_or_a_key_repeated_in_the_batch_is_refused_by_name(uow_factory, world,
                                                                               engine: Engine) -> None:
    anna = world["anna"]
    first = an_invoice(anna, 1)
    stored(uow_factory, first)
    with uow_factory() as uow:
        with pytest.raises(DuplicateDocument, match="document number RE-2025-000001 is already taken"):
            uow.invoices.add_many([an_invoice(anna, 2, number="RE-2025-000001")])
        with pytest.raises(DuplicateDocument, match=f"document id {first.id} is already taken"):
            uow.invoices.add_many([an_invoice(anna, 3, id=first.id)])
        with pytest.raises(DuplicateDocument, match=r"billing key twice \(and 1 more\)"):
            uow.invoices.add_many([an_invoice(anna, 4, billing_key="twice"), an_invoice(anna, 5, billing_key="twice"),
                                   an_invoice(anna, 6, billing_key="zz"), an_invoice(anna, 7, billing_key="zz")])
        uow.commit()
    assert count(engine, "invoices") == 1


def test_a_missing_customer_is_not_reported_as_a_duplicate(uow_factory, world) -> None:
    ghost = a_customer(email="ghost@example.de")
    for size in (1, COPY_FROM):
        with uow_factory() as uow, pytest.raises(IntegrityError):
            uow.invoices.add_many([an_invoice(ghost, n) for n in range(size)])


# -- invoices: settlement -------------------------------------------------------------------------------


def test_save_stores_only_the_settlement_and_bumps_the_version(uow_factory, world) -> None:
    original = an_invoice(world["anna"], 1)
    stored(uow_factory, original)
    tampered = replace(original, status=InvoiceStatus.PARTIALLY_PAID, amount_paid=money(10_00),
                       amount_credited=money(1_00), total=money(1), number="RE-FAKE", lines=original.lines[:1],
                       buyer=replace(original.buyer, name="Someone Else"), due_on=date(2030, 1, 1))
    with uow_factory() as uow:
        saved = uow.invoices.save(tampered)
        uow.commit()
    assert saved.version == 2
    with uow_factory() as uow:
        loaded = uow.invoices.get(original.id)
    assert loaded == replace(original, status=InvoiceStatus.PARTIALLY_PAID, amount_paid=money(10_00),
                             amount_credited=money(1_00), version=2)
    assert loaded.amount_due == money(2_98)


def test_a_stale_save_is_a_concurrent_update_and_changes_nothing(uow_factory, world) -> None:
    original = an_invoice(world["anna"], 1)
    stored(uow_factory, original)
    with uow_factory() as uow:
        uow.invoices.save(replace(original, status=InvoiceStatus.PAID, amount_paid=original.total))
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(ConcurrentUpdate, match=r"RE-2025-000001 was changed by someone else \(version 2, "
                                                   r"expected 1\)"):
            uow.invoices.save(replace(original, status=InvoiceStatus.UNCOLLECTIBLE))
        with pytest.raises(InvoiceNotFound):
            uow.invoices.save(replace(original, id=InvoiceId("gone")))
    with uow_factory() as uow:
        assert uow.invoices.get(original.id).status is InvoiceStatus.PAID


def test_open_amounts_per_customer_and_currency_count_open_issued_invoices_only(uow_factory, world) -> None:
    anna, firma = world["anna"], world["firma"]
    part_paid = an_invoice(anna, 1, status=InvoiceStatus.PARTIALLY_PAID, amount_paid=money(5_00))
    voided = an_invoice(anna, 2, status=InvoiceStatus.VOID, amount_credited=money(13_98))
    credit = a_credit_note(anna, voided, 3)
    draft = a_draft(anna, 4)
    francs = an_invoice(firma, 5, currency="CHF")
    euros = an_invoice(firma, 6, status=InvoiceStatus.PAID, amount_paid=money(13_00))  # 98 cents short
    written_off = an_invoice(anna, 7, status=InvoiceStatus.UNCOLLECTIBLE)  # the ledger wrote it off
    stored(uow_factory, part_paid, voided, credit, draft, francs, euros, written_off)
    with uow_factory() as uow:
        assert uow.invoices.open_amounts_by_customer() == {
            anna.id: {"EUR": 8_98},
            firma.id: {"CHF": 13_98, "EUR": 98},
        }


def test_open_amounts_of_an_empty_store(uow_factory) -> None:
    with uow_factory() as uow:
        assert uow.invoices.open_amounts_by_customer() == {}


# -- numbers --------------------------------------------------------------------------------------------


def test_numbers_are_gapless_per_series_and_scope(uow_factory) -> None:
    with uow_factory() as uow:
        assert uow.numbers.current("invoice", "2025") == 0
        assert uow.numbers.allocate("invoice", "2025") == [1]
        assert uow.numbers.allocate("invoice", "2025", 3) == [2, 3, 4]
        assert uow.numbers.allocate("invoice", "2026", 2) == [1, 2]
        assert uow.numbers.allocate("credit_note", "2025") == [1]
        assert uow.numbers.allocate("invoice", "2025", 0) == []
        uow.commit()
    with uow_factory() as uow:
        assert uow.numbers.allocate("invoice", "2025", 2) == [5, 6]
        assert uow.numbers.current("invoice", "2025") == 6 and uow.numbers.current("invoice", "2026") == 2
        uow.commit()


def test_a_rolled_back_allocation_hands_the_same_numbers_out_again(uow_factory) -> None:
    with uow_factory() as uow:
        assert uow.numbers.allocate("invoice", "2025", 2) == [1, 2]
        uow.commit()
    with uow_factory() as uow:
        assert uow.numbers.allocate("invoice", "2025", 3) == [3, 4, 5]
        # left without commit: the issuing transaction failed
    with uow_factory() as uow:
        assert uow.numbers.allocate("invoice", "2025", 3) == [3, 4, 5]
        uow.rollback()
        assert uow.numbers.allocate("invoice", "2025", 3) == [3, 4, 5]
        uow.commit()
    with uow_factory() as uow:
        assert uow.numbers.current("invoice", "2025") == 5
    with uow_factory() as uow:  # a brand-new series rolled back leaves no counter behind
        assert uow.numbers.allocate("credit_note", "2025") == [1]
    with uow_factory() as uow:
        assert uow.numbers.current("credit_note", "2025") == 0
        assert uow.numbers.allocate("credit_note", "2025") == [1]


# -- the journal ----------------------------------------------------------------------------------------


def entry(n: int, lines: list[tuple[str, int, str]], *, customer: Customer | None = None, document: str | None = None,
          kind: EntryKind = EntryKind.INVOICE_ISSUED, minutes: int = 0) -> JournalEntry:
    return JournalEntry(
        id=JournalEntryId(stable_id("entry", n)), kind=kind, booked_on=date(2025, 1, 31) + timedelta(days=n),
        created_at=CREATED_AT + timedelta(minutes=minutes), customer_id=customer.id if customer else None,
        document_id=document, description=f"Entry {n}",
        lines=tuple(JournalLine(account, Money(minor, currency)) for account, minor, currency in lines))


def test_journal_entries_round_trip_and_balances_are_derived(uow_factory, world, engine: Engine) -> None:
    anna, firma = world["anna"], world["firma"]
    doc = stable_id("invoice", 1)
    issued = entry(1, [(f"receivable:{anna.id}", 13_98, "EUR"), ("revenue:domestic:standard", -12_21, "EUR"),
                       ("vat:DE:19", -1_77, "EUR")], customer=anna, document=doc, minutes=1)
    credited = entry(2, [(f"receivable:{anna.id}", -5_00, "EUR"), ("revenue:domestic:standard", 4_20, "EUR"),
                         ("vat:DE:19", 80, "EUR")], customer=anna, document=doc, kind=EntryKind.CREDIT_NOTE_ISSUED,
                     minutes=2)
    two_currencies = entry(3, [(f"receivable:{firma.id}", 100_00, "CHF"), ("revenue:reverse_charge:standard",
                                                                           -100_00, "CHF"),
                               (f"receivable:{firma.id}", 7, "EUR"), ("fee_%:odd", -7, "EUR")], customer=firma)
    no_document = entry(4, [("bank", 1_00, "EUR"), ("feeX:other", -1_00, "EUR")])
    with uow_factory() as uow:
        uow.ledger.add_many([credited, issued, two_currencies])
        uow.ledger.add_many([no_document])
        uow.ledger.add_many([])
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.entries_for(doc) == [issued, credited]  # in the order they were made
        assert uow.ledger.entries_for("no such document") == []
        assert uow.ledger.count_entries() == 4
        assert uow.ledger.balance(f"receivable:{anna.id}") == {"EUR": 8_98}
        assert uow.ledger.balance(f"receivable:{firma.id}") == {"CHF": 100_00, "EUR": 7}
        assert uow.ledger.balance("revenue:domestic:standard") == {"EUR": -8_01}
        assert uow.ledger.balance("nothing booked") == {}
        assert uow.ledger.balances("receivable:") == {f"receivable:{anna.id}": {"EUR": 8_98},
                                                      f"receivable:{firma.id}": {"CHF": 100_00, "EUR": 7}}
        assert uow.ledger.balances("fee_%") == {"fee_%:odd": {"EUR": -7}}  # wildcards are literal
        assert uow.ledger.balances("vat:") == {"vat:DE:19": {"EUR": -97}}
        assert uow.ledger.unbalanced_entries() == []
    assert count(engine, "journal_lines") == 12


def test_unbalanced_entries_are_found_per_currency(uow_factory, world, engine: Engine) -> None:
    good = entry(1, [("bank", 5_00, "EUR"), ("revenue:x", -5_00, "EUR")])
    bad = entry(2, [("bank", 5_00, "EUR"), ("revenue:x", -5_00, "EUR"), ("bank", 1, "CHF"), ("revenue:x", -1, "CHF")])
    with uow_factory() as uow:
        uow.ledger.add_many([good, bad])
        uow.commit()
    with engine.begin() as conn:  # what the domain never builds: damage done behind its back
        conn.execute(insert(tables.journal_lines).values(entry_id=bad.id, position=99, account="bank",
                                                         currency="CHF", amount_minor=3))
    with uow_factory() as uow:
        assert uow.ledger.unbalanced_entries() == [(bad.id, "CHF", 3)]


def test_bulk_rows_written_after_a_commit_belong_to_the_next_transaction(uow_factory, world, engine: Engine) -> None:
    """Enough rows for COPY on PostgreSQL, written as the first statement after a commit."""
    batch = [entry(n, [("bank", n, "EUR"), ("revenue:x", -n, "EUR")]) for n in range(COPY_FROM + 8)]
    with uow_factory() as uow:
        uow.ledger.add_many(batch[:1])
        uow.commit()
        uow.ledger.add_many(batch[1:])
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.count_entries() == len(batch)
        uow.ledger.add_many([entry(1000 + n, [("bank", 1, "EUR"), ("revenue:x", -1, "EUR")])
                             for n in range(COPY_FROM)])
        uow.rollback()
        assert uow.ledger.count_entries() == len(batch)
    assert count(engine, "journal_lines") == 2 * len(batch)


# -- subscriptions: due work ----------------------------------------------------------------------------


def subscriptions_of_every_kind(customer: Customer, plan: Plan) -> dict[str, Subscription]:
    """Subscriptions whose due date comes from each rule of ``domain.subscriptions.due_on``."""
    base = a_subscription(customer, plan)
    S = SubscriptionStatus
    cases: dict[str, dict[str, Any]] = {
        "late": {"next_bill_on": date(2025, 2, 1)},
        "today": {"next_bill_on": TODAY},
        "tomorrow": {"next_bill_on": TODAY + timedelta(days=1)},
        "past_due": {"status": S.PAST_DUE, "next_bill_on": date(2025, 2, 15)},
        "suspended": {"status": S.SUSPENDED, "next_bill_on": date(2025, 2, 15)},
        "trial_ends": {"status": S.TRIALING, "trial_end_on": date(2025, 2, 20), "next_bill_on": date(2025, 2, 20)},
        "trial_later": {"status": S.TRIALING, "trial_end_on": date(2025, 3, 14), "next_bill_on": date(2025, 3, 14)},
        "change_first": {"next_bill_on": date(2025, 3, 31), "pending_plan_version_id": plan.current.id,
                         "pending_change_on": date(2025, 2, 10)},
        "paused_change": {"status": S.PAUSED, "next_bill_on": None, "pending_plan_version_id": plan.current.id,
                          "pending_change_on": date(2025, 2, 25)},
        "paused": {"status": S.PAUSED, "next_bill_on": date(2025, 1, 1)},
        "canceled_ends": {"status": S.CANCELED, "canceled_on": date(2025, 1, 10), "ends_on": date(2025, 2, 5),
                          "next_bill_on": date(2025, 2, 28)},
        "canceled_bills": {"status": S.CANCELED, "canceled_on": date(2025, 1, 10), "ends_on": date(2025, 4, 30),
                           "next_bill_on": date(2025, 2, 28)},
        "ended": {"status": S.ENDED, "next_bill_on": None, "ends_on": date(2025, 1, 31)},
    }
    return {name: replace(base, id=SubscriptionId(stable_id("due", name)), **values) for name, values in cases.items()}


def due_column(engine: Engine, sub_id: str) -> date | None:
    with engine.connect() as conn:
        return conn.execute(select(tables.subscriptions.c.due_on).where(tables.subscriptions.c.id == sub_id)
                            ).scalar_one()


def test_claim_due_follows_the_domain_rule_in_due_order_with_limit_and_exclusions(uow_factory, world,
                                                                                   engine: Engine) -> None:
    subs = subscriptions_of_every_kind(world["anna"], world["plan"])
    with uow_factory() as uow:
        for sub in subs.values():
            uow.subscriptions.add(sub)
        uow.commit()
    for sub in subs.values():
        assert due_column(engine, sub.id) == due_on(sub)
    expected = sorted((s for s in [world["sub"], *subs.values()] if (d := due_on(s)) is not None and d <= TODAY),
                      key=lambda s: (due_on(s), s.id))
    names = {sub.id: name for name, sub in subs.items()}
    assert {names.get(s.id) for s in expected} == {"late", "today", "past_due", "suspended", "trial_ends",
                                                   "change_first", "paused_change", "canceled_ends",
                                                   "canceled_bills", None}  # None: world's own subscription
    with uow_factory() as uow:
        claimed = uow.subscriptions.claim_due(TODAY, limit=100)
        assert claimed == expected  # whole subscriptions, equal to what was stored
        assert uow.subscriptions.claim_due(TODAY, limit=3) == expected[:3]
        assert uow.subscriptions.claim_due(TODAY, limit=100, exclude={s.id for s in expected[:4]}) == expected[4:]
        assert uow.subscriptions.claim_due(TODAY, limit=100, skip_locked=True) == expected
        assert uow.subscriptions.claim_due(date(2024, 1, 1), limit=100) == []
        assert uow.subscriptions.due_for_billing(TODAY) == [
            s.id for s in expected if s.status.value in {"active", "past_due", "suspended", "canceled"}
            and s.next_bill_on is not None and s.next_bill_on <= TODAY]


def test_due_on_follows_the_domain_after_save_and_save_many(uow_factory, world, engine: Engine) -> None:
    subs = subscriptions_of_every_kind(world["anna"], world["plan"])
    with uow_factory() as uow:
        for sub in subs.values():
            uow.subscriptions.add(sub)
        uow.commit()
    billed = replace(subs["late"], next_bill_on=date(2025, 3, 1))
    paused = replace(subs["today"], status=SubscriptionStatus.PAUSED, paused_on=TODAY)
    trial_over = replace(subs["trial_ends"], status=SubscriptionStatus.ACTIVE)
    changed = replace(subs["change_first"], plan_version_id=world["plan"].current.id, pending_plan_version_id=None,
                      pending_change_on=None)
    with uow_factory() as uow:
        saved = uow.subscriptions.save(billed)
        uow.subscriptions.save_many([paused, trial_over])
        uow.subscriptions.save_many([changed], fields=("plan_version_id", "pending_plan_version_id",
                                                       "pending_change_on"))
        uow.commit()
    assert saved.version == billed.version + 1
    for sub, expected in [(billed, date(2025, 3, 1)), (paused, None), (trial_over, date(2025, 2, 20)),
                          (changed, date(2025, 3, 31))]:
        assert due_column(engine, sub.id) == due_on(sub) == expected
    with uow_factory() as uow:
        assert uow.subscriptions.get(paused.id) == replace(paused, version=paused.version + 1)
        assert uow.subscriptions.get(changed.id) == replace(changed, version=changed.version + 1)


def test_save_many_with_fields_writes_only_those(uow_factory, world) -> None:
    sub = world["sub"]
    moved = replace(sub, next_bill_on=date(2025, 6, 1), cancel_reason="not written", status=SubscriptionStatus.PAST_DUE)
    with uow_factory() as uow:
        uow.subscriptions.save_many([moved], fields=("next_bill_on",))
        uow.commit()
    with uow_factory() as uow:
        assert uow.subscriptions.get(sub.id) == replace(sub, next_bill_on=date(2025, 6, 1), version=sub.version + 1)
        with pytest.raises(ValueError, match="not a subscription column: next_bil_on"):
            uow.subscriptions.save_many([moved], fields=("next_bil_on",))


def test_save_many_names_the_subscription_someone_else_changed_and_writes_nothing(uow_factory, world) -> None:
    subs = list(subscriptions_of_every_kind(world["anna"], world["plan"]).values())
    with uow_factory() as uow:
        for sub in subs:
            uow.subscriptions.add(sub)
        uow.commit()
    victim = subs[5]
    with uow_factory() as uow:  # someone else saves first: one version up, other values
        uow.subscriptions.save(replace(victim, cancel_reason="theirs"))
        uow.commit()
    mine = [replace(sub, cancel_reason="mine") for sub in subs]
    with uow_factory() as uow, pytest.raises(ConcurrentUpdate,
                                             match=f"subscription {victim.id} was changed by someone else"):
        uow.subscriptions.save_many(mine)
    with uow_factory() as uow:
        with pytest.raises(SubscriptionNotFound, match="gone"):
            uow.subscriptions.save_many([mine[0], replace(mine[1], id=SubscriptionId("gone"))])
        uow.rollback()
        with pytest.raises(ConcurrentUpdate, match="saved twice"):
            uow.subscriptions.save_many([mine[0], mine[0]])
    with uow_factory() as uow:
        assert all(s.cancel_reason != "mine" for s in uow.subscriptions.list(limit=100))
        uow.subscriptions.save(mine[6])  # someone else wrote exactly what this batch will write
        uow.commit()
    with uow_factory() as uow, pytest.raises(ConcurrentUpdate, match="some subscriptions were changed"):
        uow.subscriptions.save_many([mine[0], mine[6]])


def test_save_many_of_many_rows_bumps_every_version(uow_factory, world) -> None:
    anna, plan = world["anna"], world["plan"]
    subs = [a_subscription(anna, plan, id=stable_id("many", n), next_bill_on=date(2025, 1, 1) + timedelta(days=n % 40))
            for n in range(1200)]
    with uow_factory() as uow:
        for sub in subs:
            uow.subscriptions.add(sub)
        uow.commit()
    with uow_factory() as uow:
        uow.subscriptions.save_many([replace(s, next_bill_on=date(2025, 6, 1)) for s in subs])
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.subscriptions.list(limit=2000)
        assert [s.id for s in uow.subscriptions.claim_due(date(2025, 5, 31), limit=10)] == [world["sub"].id]
        with pytest.raises(ConcurrentUpdate, match=subs[-1].id):  # the stale one is found among many
            uow.subscriptions.save_many([*(replace(s, version=s.version + 1) for s in subs[:-1]), subs[-1]])
    assert len(loaded) == 1201 and {s.version for s in loaded if s.id != world["sub"].id} == {2}


def test_claims_on_sqlite_search_the_due_on_index(uow_factory, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner picks by statistics; the index is checked on SQLite")
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM subscriptions WHERE due_on <= '2025-03-01' AND id NOT IN ('a', 'b') "
            "ORDER BY due_on, id LIMIT 10").all()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_subscriptions_due_on_id (due_on<?)" in details and "TEMP B-TREE" not in details


# -- the migration ----------------------------------------------------------------------------------------


def test_the_migration_backfills_due_on_with_the_domain_rule(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0001_foundation")
        plan, anna = a_plan(), a_customer()
        with SqlUnitOfWorkFactory(engine)() as uow:
            uow.products.add(a_product(plan.code, id=plan.product_id))
            uow.customers.add(anna)
            uow.commit()
        with engine.begin() as conn:  # the plan as rows of revision 0001 (plans.terms_code came with 0009)
            conn.execute(insert(tables.plans), {k: v for k, v in rows.plan_to_row(plan).items() if k != "terms_code"})
            conn.execute(insert(tables.plan_versions), [rows.version_to_row(v) for v in plan.versions])
        subs = list(subscriptions_of_every_kind(anna, plan).values())
        statuses = itertools.cycle(SubscriptionStatus)  # and every status with every set of dates
        subs += [replace(sub, id=SubscriptionId(stable_id("mixed", i, j)), status=next(statuses))
                 for i, sub in enumerate(subs) for j in range(len(SubscriptionStatus))]
        old_rows = [{k: v for k, v in rows.subscription_to_row(sub).items() if k != "due_on"} for sub in subs]
        with engine.begin() as conn:
            conn.execute(insert(tables.subscriptions), old_rows)
        migrate.upgrade(engine)
        with engine.connect() as conn:
            stored_due = dict(conn.execute(select(tables.subscriptions.c.id, tables.subscriptions.c.due_on)).all())
        assert stored_due == {sub.id: due_on(sub) for sub in subs}
        assert any(d is None for d in stored_due.values()) and len(set(stored_due.values())) > 5
    finally:
        engine.dispose()


def test_the_billing_migration_downgrades_and_upgrades_again(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        command_downgrade(engine, "0001_foundation")
        names = set(inspect(engine).get_table_names())
        assert "invoices" not in names and "payment_methods" not in names and "subscriptions" in names
        assert "due_on" not in {c["name"] for c in inspect(engine).get_columns("subscriptions")}
        assert "ix_subscriptions_next_bill_on_id" in {i["name"] for i in inspect(engine).get_indexes("subscriptions")}
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        indexes = {i["name"] for i in inspect(engine).get_indexes("subscriptions")}
        assert "ix_subscriptions_due_on_id" in indexes and "ix_subscriptions_next_bill_on_id" not in indexes
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(tables.invoices)).scalar_one() == 0
    finally:
        engine.dispose()


def command_downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), revision)


def test_a_large_save_many_names_the_changed_subscription_and_writes_nothing(uow_factory, world) -> None:
    """Above the bulk threshold PostgreSQL takes one UPDATE ... FROM unnest(arrays): the same guarantees."""
    anna, plan = world["anna"], world["plan"]
    subs = [a_subscription(anna, plan, id=stable_id("large", n), next_bill_on=date(2025, 1, 1)) for n in range(40)]
    with uow_factory() as uow:
        for sub in subs:
            uow.subscriptions.add(sub)
        uow.commit()
    with uow_factory() as uow:  # someone else saves one first
        uow.subscriptions.save(replace(subs[17], cancel_reason="theirs"))
        uow.commit()
    mine = [replace(s, next_bill_on=date(2025, 6, 1), cancel_reason="mine") for s in subs]
    with uow_factory() as uow, pytest.raises(ConcurrentUpdate, match=f"subscription {subs[17].id} was changed"):
        uow.subscriptions.save_many(mine)
    with uow_factory() as uow:
        assert all(s.cancel_reason != "mine" for s in uow.subscriptions.list(limit=100))
    with uow_factory() as uow, pytest.raises(ConcurrentUpdate, match="saved twice"):
        uow.subscriptions.save_many([*mine[:35], mine[0]])
    fresh = [replace(s, next_bill_on=date(2025, 6, 1), cancel_reason="mine") for s in subs if s is not subs[17]]
    with uow_factory() as uow:
        uow.subscriptions.save_many(fresh)
        uow.commit()
    with uow_factory() as uow:
        stored = {s.id: s for s in uow.subscriptions.list(limit=100)}
    assert all(stored[s.id].next_bill_on == date(2025, 6, 1) and stored[s.id].version == s.version + 1 for s in fresh)
