"""The billing run, credit notes and the ledger against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from aboguard.clock import TestClock
from aboguard.domain.catalog import Audience, PlanSpec, TaxCategory, Terms
from aboguard.domain.customers import CustomerKind, CustomerSpec
from aboguard.domain.invoicing import DocumentKind, InvoiceStatus
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.domain.tax import TaxTreatment
from aboguard.errors import InvalidInvoice
from aboguard.money import Money
from aboguard.services import billing, customers, invoices, ledger, plans, subscriptions
from aboguard.services.context import ServiceContext

MONTH = Interval(IntervalUnit.MONTH)
EUR = "EUR"


def eur(minor: int) -> Money:
    return Money(minor, EUR)


@pytest.fixture
def ctx(uow_factory) -> ServiceContext:
    clock = TestClock(datetime(2025, 1, 31, 8, 0, tzinfo=UTC))
    return ServiceContext(uow=uow_factory, clock=clock, merchant_tz=ZoneInfo("Europe/Berlin"))


def advance_to(ctx: ServiceContext, day: date) -> None:
    ctx.clock.advance_to(datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC))  # type: ignore[attr-defined]


def consumer(ctx: ServiceContext, email: str = "anna@example.de", country: str = "DE"):
    return customers.create_customer(ctx, CustomerSpec(email=email, name=email.split("@")[0], country=country))


def subscribe(ctx: ServiceContext, customer_id: str, plan: str) -> str:
    return subscriptions.create_subscription(ctx, customer_id=customer_id, plan_code=plan).subscription.id


def assert_ledger_ok(ctx: ServiceContext) -> None:
    check = ledger.check_ledger(ctx)
    assert check.ok, (check.unbalanced, check.mismatches)


def test_month_end_subscription_is_billed_every_month_end_and_twice_running_bills_nothing_twice(
        ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(eur(9_99), MONTH))
    sub_id = subscribe(ctx, consumer(ctx).id, "basic")
    report = billing.run_billing(ctx)
    assert (report.subscriptions, report.invoices, report.totals) == (1, 1, {EUR: 9_99})
    assert billing.run_billing(ctx).invoices == 0
    advance_to(ctx, date(2025, 5, 2))  # the billing did not run for three months
    report = billing.run_billing(ctx)
    assert report.invoices == 3 and not report.failures
    found = invoices.list_invoices(ctx, subscription_id=sub_id)
    assert [(i.supply_start, i.supply_end) for i in found] == [
        (date(2025, 1, 31), date(2025, 2, 28)), (date(2025, 2, 28), date(2025, 3, 31)),
        (date(2025, 3, 31), date(2025, 4, 30)), (date(2025, 4, 30), date(2025, 5, 31))]
    assert [i.number for i in found] == [f"RE-2025-{n:06d}" for n in range(1, 5)]
    assert all((i.net, i.tax, i.total) == (eur(8_39), eur(1_60), eur(9_99)) for i in found)
    assert all(i.due_on == date(2025, 5, 16) for i in found[1:])  # pay by invoice: 14 days
    assert billing.run_billing(ctx).invoices == 0
    view = subscriptions.get_subscription(ctx, sub_id)
    assert view.subscription.next_bill_on == date(2025, 5, 31)
    assert_ledger_ok(ctx)


def test_every_vat_case_on_real_invoices(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="gross", name="Gross", spec=PlanSpec(eur(9_99), MONTH))
    plans.create_plan(ctx, code="box", name="Box", spec=PlanSpec(eur(29_90), MONTH, tax_category=TaxCategory.REDUCED))
    plans.create_plan(ctx, code="biz", name="Biz", spec=PlanSpec(eur(49_00), MONTH, audience=Audience.BUSINESS))
    people = {
        "de": (consumer(ctx, "de@example.de"), "gross"),
        "at": (consumer(ctx, "at@example.at", "AT"), "gross"),
        "hu": (consumer(ctx, "hu@example.hu", "HU"), "gross"),
        "box": (consumer(ctx, "box@example.de"), "box"),
        "us": (consumer(ctx, "us@example.com", "US"), "gross"),
        "de-biz": (customers.create_customer(ctx, CustomerSpec(
            email="ap@firma.de", name="Firma", country="DE", kind=CustomerKind.BUSINESS, vat_id="DE136695976")),
            "biz"),
        "fr-biz": (customers.create_customer(ctx, CustomerSpec(
            email="ap@societe.fr", name="Societe", country="FR", kind=CustomerKind.BUSINESS,
            vat_id="FR40303265045")), "biz"),
    }
    subs = {key: subscribe(ctx, customer.id, plan) for key, (customer, plan) in people.items()}
    billing.run_billing(ctx)
    got = {key: invoices.list_invoices(ctx, subscription_id=sub_id)[0] for key, sub_id in subs.items()}
    expected = {
        "de": (TaxTreatment.DOMESTIC, 8_39, 1_60, 9_99), "at": (TaxTreatment.OSS, 8_32, 1_67, 9_99),
        "hu": (TaxTreatment.OSS, 7_87, 2_12, 9_99), "box": (TaxTreatment.DOMESTIC, 27_94, 1_96, 29_90),
        "us": (TaxTreatment.EXPORT, 9_99, 0, 9_99), "de-biz": (TaxTreatment.DOMESTIC, 49_00, 9_31, 58_31),
        "fr-biz": (TaxTreatment.REVERSE_CHARGE, 49_00, 0, 49_00),
    }
    for key, (treatment, net, tax, total) in expected.items():
        invoice = got[key]
        assert (invoice.tax_treatment, invoice.net.minor, invoice.tax.minor, invoice.total.minor) == (
            treatment, net, tax, total), key
    assert got["fr-biz"].tax_note_de and "Steuerschuldnerschaft" in got["fr-biz"].tax_note_de
    assert got["fr-biz"].buyer.vat_id == "FR40303265045"
    assert got["de"].tax_note_de is None
    reloaded = invoices.get_invoice(ctx, got["box"].number or "")
    assert reloaded == got["box"]
    assert_ledger_ok(ctx)


def test_trial_setup_fee_cancellation_and_end(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="trial", name="Trial", spec=PlanSpec(
        eur(31_00), MONTH, trial_days=14, setup_fee=eur(10_00), terms=Terms()))
    sub_id = subscribe(ctx, consumer(ctx).id, "trial")
    assert billing.run_billing(ctx).invoices == 0
    advance_to(ctx, date(2025, 2, 14))
    report = billing.run_billing(ctx)
    assert (report.activated, report.invoices, report.totals) == (1, 1, {EUR: 41_00})
    subscriptions.cancel_subscription(ctx, sub_id, last_day=date(2025, 3, 23))
    advance_to(ctx, date(2025, 4, 1))
    report = billing.run_billing(ctx)
    assert (report.invoices, report.ended, report.totals) == (1, 1, {EUR: 10_00})  # 9 of 31 days, then ended
    assert subscriptions.get_subscription(ctx, sub_id).subscription.status is SubscriptionStatus.ENDED
    assert billing.run_billing(ctx).subscriptions == 0
    assert_ledger_ok(ctx)


def test_upgrade_is_settled_at_once_and_a_downgrade_now_by_credit_note(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="small", name="Small", spec=PlanSpec(eur(28_00), MONTH))
    plans.create_plan(ctx, code="large", name="Large", spec=PlanSpec(eur(56_00), MONTH))
    sub_id = subscribe(ctx, consumer(ctx).id, "small")  # 31 Jan: periods end on month ends
    billing.run_billing(ctx)
    advance_to(ctx, date(2025, 2, 14))  # 14 of 28 February days left
    _, proration, document = subscriptions.change_subscription_plan(ctx, sub_id, "large")
    assert proration is not None and document is not None
    assert (proration.credit, proration.charge) == (eur(14_00), eur(28_00))
    assert document.kind is DocumentKind.INVOICE and document.total == eur(14_00)
    assert [line.amount for line in document.lines] == [eur(-14_00), eur(28_00)]
    from aboguard.domain.subscriptions import ChangeTiming
    _, _, credit = subscriptions.change_subscription_plan(ctx, sub_id, "small", ChangeTiming.NOW)
    assert credit is not None and credit.kind is DocumentKind.CREDIT_NOTE and credit.total == eur(14_00)
    assert credit.number == "ST-2025-000001" and credit.corrects_id is not None
    assert_ledger_ok(ctx)


def test_credit_notes_full_and_partial(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(eur(9_99), MONTH))
    plans.create_plan(ctx, code="box", name="Box", spec=PlanSpec(eur(29_90), MONTH, tax_category=TaxCategory.REDUCED))
    anna = consumer(ctx)
    subscribe(ctx, anna.id, "basic")
    subscribe(ctx, anna.id, "box")
    billing.run_billing(ctx)
    basic_invoice, box_invoice = invoices.list_invoices(ctx, customer_id=anna.id)
    note, voided = invoices.create_credit_note(ctx, basic_invoice.number or "", reason="duplicate order")
    assert voided.status is InvoiceStatus.VOID and note.total == eur(9_99) and note.number == "ST-2025-000001"
    assert (note.net, note.tax) == (basic_invoice.net, basic_invoice.tax)
    note2, partly = invoices.create_credit_note(ctx, box_invoice.id, amount="5,00", reason="damaged")
    assert note2.total == eur(5_00) and partly.amount_due == eur(24_90) and partly.status is InvoiceStatus.ISSUED
    with pytest.raises(InvalidInvoice, match="left to credit"):
        invoices.create_credit_note(ctx, box_invoice.id, amount="30.00")
    with pytest.raises(InvalidInvoice, match="already void"):
        invoices.create_credit_note(ctx, basic_invoice.id)
    with pytest.raises(InvalidInvoice, match="credit notes cannot be corrected"):
        invoices.create_credit_note(ctx, note.id)
    balance = ledger.customer_balance(ctx, anna.id)
    assert balance.receivable == {EUR: eur(24_90)}
    assert [i.number for i in balance.open_invoices] == [box_invoice.number]
    assert_ledger_ok(ctx)


def test_one_bad_subscription_is_set_aside_and_the_rest_is_billed(ctx: ServiceContext, engine) -> None:
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(eur(9_99), MONTH))
    good = subscribe(ctx, consumer(ctx).id, "basic")
    bad = subscribe(ctx, consumer(ctx, "b@example.de").id, "basic")
    with engine.begin() as conn:  # a country without VAT rules (bad data from outside): refused, alone
        conn.execute(text("UPDATE customers SET country = 'ZZ' WHERE email = 'b@example.de'"))
    report = billing.run_billing(ctx, batch_size=10)
    assert report.invoices == 1 and [f.subscription_id for f in report.failures] == [bad]
    assert invoices.list_invoices(ctx, subscription_id=good)
    assert not invoices.list_invoices(ctx, subscription_id=bad)
    assert_ledger_ok(ctx)


def test_ledger_stays_balanced_through_a_random_sequence_of_operations(ctx: ServiceContext) -> None:
    rng = random.Random(20261128)
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(eur(9_99), MONTH))
    plans.create_plan(ctx, code="pro", name="Pro", spec=PlanSpec(eur(24_99), MONTH))
    plans.create_plan(ctx, code="box", name="Box", spec=PlanSpec(eur(29_90), MONTH, tax_category=TaxCategory.REDUCED))
    countries = ["DE", "AT", "FR", "NL", "US", "HU"]
    subs: list[str] = []
    for step in range(60):
        action = rng.choice(["subscribe", "subscribe", "bill", "advance", "credit", "upgrade", "cancel"])
        if action == "subscribe":
            customer = consumer(ctx, f"c{step}@example.de", rng.choice(countries))
            subs.append(subscribe(ctx, customer.id, rng.choice(["basic", "pro", "box"])))
        elif action == "bill":
            billing.run_billing(ctx, batch_size=rng.randint(1, 5))
        elif action == "advance":
            ctx.clock.advance(days=rng.randint(1, 20))  # type: ignore[attr-defined]
        elif action == "credit":
            open_ = [i for i in invoices.list_invoices(ctx, status="issued", kind="invoice", limit=1000)]
            if open_:
                invoice = rng.choice(open_)
                amount = None if rng.random() < 0.5 else str(rng.randint(1, invoice.amount_due.minor) / 100)
                with contextlib.suppress(InvalidInvoice):  # an inexact split is refused, writing nothing
                    invoices.create_credit_note(ctx, invoice.id, amount=amount)
        elif action == "upgrade" and subs:
            sub_id = rng.choice(subs)
            view = subscriptions.get_subscription(ctx, sub_id)
            if view.subscription.status is SubscriptionStatus.ACTIVE and view.plan.code == "basic":
                subscriptions.change_subscription_plan(ctx, sub_id, "pro")
        elif action == "cancel" and subs:
            sub_id = rng.choice(subs)
            if subscriptions.get_subscription(ctx, sub_id).subscription.status is SubscriptionStatus.ACTIVE:
                subscriptions.cancel_subscription(ctx, sub_id)
        assert_ledger_ok(ctx)
    assert ledger.check_ledger(ctx).entries > 10


def test_a_large_batch_is_written_in_bulk_and_reads_back_exactly(ctx: ServiceContext) -> None:
    """Enough subscriptions that PostgreSQL takes the COPY path; every figure and JSON field survives it."""
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(eur(9_99), MONTH))
    subs = [subscribe(ctx, consumer(ctx, f"c{i}@example.de", "AT" if i % 3 else "DE").id, "basic")
            for i in range(45)]
    report = billing.run_billing(ctx, batch_size=100)
    assert (report.subscriptions, report.invoices, report.batches) == (45, 45, 1)
    found = invoices.list_invoices(ctx, limit=100)
    assert len(found) == 45 and len({i.number for i in found}) == 45
    assert {i.subscription_id for i in found} == set(subs)
    austrian = next(i for i in found if i.buyer.country == "AT")
    assert austrian.tax_treatment is TaxTreatment.OSS and austrian.tax_groups[0].rate == Decimal("0.2")
    assert austrian.lines[0].period_start == date(2025, 1, 31) and austrian.total == eur(9_99)
    assert invoices.get_invoice(ctx, austrian.id) == austrian
    assert_ledger_ok(ctx)
    assert billing.run_billing(ctx).invoices == 0


def test_ledger_check_finds_a_tampered_invoice_and_an_unbalanced_entry(ctx: ServiceContext, engine) -> None:
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(eur(9_99), MONTH))
    anna = consumer(ctx)
    subscribe(ctx, anna.id, "basic")
    billing.run_billing(ctx)
    assert_ledger_ok(ctx)
    with engine.begin() as conn:  # someone edits an issued invoice behind aboguard's back
        conn.execute(text("UPDATE invoices SET total_minor = 1099"))
    check = ledger.check_ledger(ctx)
    assert not check.ok and [(m.customer_id, m.ledger_minor, m.open_minor) for m in check.mismatches] == [
        (anna.id, 9_99, 10_99)]
    with engine.begin() as conn:
        conn.execute(text("UPDATE invoices SET total_minor = 999"))
        conn.execute(text("UPDATE journal_lines SET amount_minor = amount_minor + 1 WHERE position = 2"))
    check = ledger.check_ledger(ctx)
    assert [(currency, total) for _, currency, total in check.unbalanced] == [(EUR, 1)]


def test_a_period_already_invoiced_is_never_invoiced_again_even_if_the_subscription_says_so(
        ctx: ServiceContext, engine) -> None:
    plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(eur(9_99), MONTH))
    stale = subscribe(ctx, consumer(ctx).id, "basic")
    billing.run_billing(ctx)
    fresh = subscribe(ctx, consumer(ctx, "b@example.de").id, "basic")
    with engine.begin() as conn:  # as if a restore from backup lost the subscription's progress
        conn.execute(text("UPDATE subscriptions SET next_bill_on = start_on, due_on = start_on WHERE id = :id"),
                     {"id": stale})
    report = billing.run_billing(ctx)
    assert report.invoices == 1 and [f.subscription_id for f in report.failures] == [stale]
    assert "already invoiced" in report.failures[0].message
    assert len(invoices.list_invoices(ctx, subscription_id=stale)) == 1
    assert len(invoices.list_invoices(ctx, subscription_id=fresh)) == 1
    assert [i.number for i in invoices.list_invoices(ctx)] == ["RE-2025-000001", "RE-2025-000002"]  # no gap
    assert_ledger_ok(ctx)
