"""The billing step for one subscription: month ends, leap years, catch-up, trials, changes, cancellations;
and the documents and journal entries it leads to."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aboguard.domain import invoicing, ledger
from aboguard.domain import subscriptions as subs
from aboguard.domain.billing import advance
from aboguard.domain.catalog import Audience, Plan, PlanSpec, PlanVersion, TaxCategory, build_version
from aboguard.domain.customers import CustomerKind
from aboguard.domain.invoicing import Buyer, DocumentKind, InvoiceStatus, LineDraft, LineKind
from aboguard.domain.numbering import NumberPattern
from aboguard.domain.periods import Interval, IntervalUnit, Period
from aboguard.domain.subscriptions import Subscription, SubscriptionStatus
from aboguard.domain.tax import MerchantTax, TaxTreatment, decide
from aboguard.errors import InvalidInput, InvalidInvoice, UnbalancedEntry
from aboguard.ids import CustomerId, InvoiceId, JournalEntryId, PlanId, PlanVersionId, ProductId, SubscriptionId
from aboguard.money import Money

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
MONTHLY = Interval(IntervalUnit.MONTH)
DE_CONSUMER = decide(MerchantTax(), customer_kind=CustomerKind.CONSUMER, customer_country="DE", customer_vat_id=None)
BUYER = Buyer(name="Anna Schmidt", email="anna@example.de", country="DE", locale="de")


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def a_version(vid: str = "v1", *, price: int = 9_99, interval: Interval = MONTHLY, **overrides: Any) -> PlanVersion:
    spec = replace(PlanSpec(price=eur(price), interval=interval), **overrides)
    return build_version(spec, version_id=PlanVersionId(vid), plan_id=PlanId(f"plan-{vid}"), number=1,
                         created_at=CREATED)


VERSIONS: dict[str, PlanVersion] = {}


def a_subscription(version: PlanVersion, start_on: date, **overrides: Any) -> Subscription:
    VERSIONS[version.id] = version
    plan = Plan(id=version.plan_id, code=version.id, name=f"Plan {version.id}", product_id=ProductId("p"),
                audience=Audience.CONSUMER, current=version, created_at=CREATED, versions=(version,))
    from aboguard.domain.customers import CustomerSpec, build_customer
    customer = build_customer(CustomerSpec(email="a@example.de", name="A", country="DE"),
                              customer_id=CustomerId("c1"), created_at=CREATED)
    sub, _ = subs.start(SubscriptionId("s1"), customer=customer, plan=plan, start_on=start_on, created_at=CREATED)
    return replace(sub, **overrides)


def run(sub: Subscription, today: date):
    return advance(sub, lambda vid: VERSIONS[vid], lambda v: f"Plan {v.id}", today)


def starts(adv) -> list[date]:
    return [c.period.start for c in adv.charges]


# --- dates -----------------------------------------------------------------------------------------------


def test_month_end_anchor_bills_the_last_day_of_each_month_in_a_leap_year() -> None:
    sub = a_subscription(a_version(), date(2024, 1, 31))
    adv = run(sub, date(2024, 5, 31))
    assert starts(adv) == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30),
                           date(2024, 5, 31)]
    assert adv.subscription.next_bill_on == date(2024, 6, 30)
    assert subs.due_on(adv.subscription) == date(2024, 6, 30)


def test_month_end_anchor_in_a_common_year_bills_28_february() -> None:
    adv = run(a_subscription(a_version(), date(2025, 1, 31)), date(2025, 3, 1))
    assert starts(adv) == [date(2025, 1, 31), date(2025, 2, 28)]


def test_29_february_yearly_anchor_bills_28_february_then_29_again() -> None:
    version = a_version("y", price=99_00, interval=Interval(IntervalUnit.YEAR))
    adv = run(a_subscription(version, date(2024, 2, 29)), date(2028, 3, 1))
    assert starts(adv) == [date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28),
                           date(2028, 2, 29)]


def test_catch_up_after_downtime_bills_every_missed_period_once_each_on_its_own_invoice() -> None:
    sub = a_subscription(a_version(), date(2025, 1, 15))
    first = run(sub, date(2025, 1, 15))
    assert starts(first) == [date(2025, 1, 15)]
    later = run(first.subscription, date(2025, 4, 20))  # the billing did not run for three months
    assert starts(later) == [date(2025, 2, 15), date(2025, 3, 15), date(2025, 4, 15)]
    assert len({c.billing_key for c in later.charges}) == 3
    again = run(later.subscription, date(2025, 4, 20))
    assert not again.changed and again.charges == ()


def test_nothing_is_billed_before_the_period_starts() -> None:
    sub = a_subscription(a_version(), date(2025, 3, 1))
    assert not run(sub, date(2025, 2, 28)).changed


# --- trial, setup fee, plan change, cancellation -------------------------------------------------------------


def test_trial_converts_then_the_first_period_is_billed_with_the_setup_fee() -> None:
    version = a_version(trial_days=14, setup_fee=eur(19_00))
    sub = a_subscription(version, date(2025, 1, 1))
    assert sub.status is SubscriptionStatus.TRIALING
    assert not run(sub, date(2025, 1, 14)).changed
    adv = run(sub, date(2025, 1, 15))
    assert adv.subscription.status is SubscriptionStatus.ACTIVE
    assert [e.name for e in adv.events] == ["subscription.activated"]
    (charge,) = adv.charges
    assert charge.period == Period(date(2025, 1, 15), date(2025, 2, 15))
    assert [(line.kind, line.amount) for line in charge.lines] == [(LineKind.PLAN, eur(9_99)),
                                                                   (LineKind.SETUP_FEE, eur(19_00))]
    second = run(adv.subscription, date(2025, 2, 15))
    assert [line.kind for line in second.charges[0].lines] == [LineKind.PLAN]  # the setup fee only once


def test_scheduled_downgrade_applies_at_the_boundary_and_the_next_period_uses_the_new_price() -> None:
    pro, basic = a_version("pro", price=20_00), a_version("basic", price=10_00)
    VERSIONS[basic.id] = basic
    sub = a_subscription(pro, date(2025, 1, 1))
    sub = run(sub, date(2025, 1, 1)).subscription
    sub, _, _ = subs.change_plan(sub, pro, basic, today=date(2025, 1, 10))
    assert sub.pending_change_on == date(2025, 2, 1)
    adv = run(sub, date(2025, 3, 5))  # missed February: it is billed on the new plan, like March
    assert [(c.period.start, c.version.id, c.lines[0].amount) for c in adv.charges] == [
        (date(2025, 2, 1), "basic", eur(10_00)), (date(2025, 3, 1), "basic", eur(10_00))]
    assert "subscription.plan_changed" in [e.name for e in adv.events]


def test_cancelled_contract_is_billed_up_to_its_end_pro_rata_and_then_ends() -> None:
    version = a_version(price=31_00)
    sub = run(a_subscription(version, date(2025, 1, 1)), date(2025, 1, 1)).subscription
    sub, _ = subs.cancel(sub, version, requested_on=date(2025, 1, 5), ends_on=date(2025, 3, 11))
    adv = run(sub, date(2025, 3, 20))
    assert [(c.period, c.lines[0].amount) for c in adv.charges] == [
        (Period(date(2025, 2, 1), date(2025, 3, 1)), eur(31_00)),
        (Period(date(2025, 3, 1), date(2025, 3, 11)), eur(10_00))]  # 10 of 31 days
    assert adv.subscription.status is SubscriptionStatus.ENDED
    assert subs.due_on(adv.subscription) is None


@settings(max_examples=60, deadline=None)
@given(start=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
       gap=st.integers(min_value=0, max_value=400), interval=st.sampled_from(
           [MONTHLY, Interval(IntervalUnit.WEEK), Interval(IntervalUnit.YEAR), Interval(IntervalUnit.MONTH, 3)]))
def test_billing_in_steps_or_at_once_gives_the_same_periods_without_gaps_or_overlaps(
        start: date, gap: int, interval: Interval) -> None:
    from datetime import timedelta
    version = a_version(f"v-{interval}", interval=interval)
    sub = a_subscription(version, start)
    end = start + timedelta(days=gap)
    at_once = run(sub, end)
    stepped, current = [], sub
    day = start
    while day <= end:
        adv = run(current, day)
        stepped += starts(adv)
        current = adv.subscription
        day += timedelta(days=17)
    stepped += starts(run(current, end))
    assert starts(at_once) == stepped
    periods = [c.period for c in at_once.charges]
    assert all(a.end == b.start for a, b in itertools.pairwise(periods))
    assert periods[0].start == start and periods[-1].start <= end < periods[-1].end


# --- invoices ----------------------------------------------------------------------------------------------


def a_draft(lines: list[LineDraft], **kw: Any) -> invoicing.Invoice:
    values: dict[str, Any] = {"customer_id": CustomerId("c1"), "subscription_id": SubscriptionId("s1"),
                              "buyer": BUYER, "decision": DE_CONSUMER, "tax_date": date(2025, 1, 1),
                              "prices_include_tax": True, "currency": "EUR", "created_at": CREATED}
    values.update(kw)
    return invoicing.draft(InvoiceId(kw.pop("id", "inv-1")), lines=lines, **values)


def plan_line(minor: int, category: TaxCategory = TaxCategory.STANDARD) -> LineDraft:
    return LineDraft(LineKind.PLAN, "Plan", eur(minor), category, Period(date(2025, 1, 1), date(2025, 2, 1)))


def test_gross_consumer_price_is_the_invoice_total_with_net_and_vat_derived() -> None:
    invoice = a_draft([plan_line(9_99)])
    assert (invoice.net, invoice.tax, invoice.total) == (eur(8_39), eur(1_60), eur(9_99))
    assert invoicing.totals_reproducible(invoice)
    assert invoice.status is InvoiceStatus.DRAFT and invoice.number is None


def test_issue_numbers_dates_and_payment_terms() -> None:
    invoice, events = invoicing.issue(a_draft([plan_line(9_99)]), number="RE-2025-000001",
                                      issued_on=date(2025, 1, 1))
    assert (invoice.status, invoice.number, invoice.due_on) == (InvoiceStatus.ISSUED, "RE-2025-000001",
                                                                date(2025, 1, 15))
    assert invoice.amount_due == eur(9_99)
    assert events[0].name == "invoice.issued" and events[0].payload()["total"] == {"amount_minor": 999,
                                                                             "currency": "EUR"}
    auto, _ = invoicing.issue(a_draft([plan_line(9_99)], payment_method=invoicing.PaymentMethodKind.CARD),
                              number="RE-2", issued_on=date(2025, 1, 1))
    assert auto.due_on == date(2025, 1, 1)
    with pytest.raises(Exception, match="already issued"):
        invoicing.issue(invoice, number="RE-3", issued_on=date(2025, 1, 2))


def test_an_invoice_cannot_total_below_zero_or_mix_currencies() -> None:
    with pytest.raises(InvalidInvoice, match="issue a credit note instead"):
        a_draft([plan_line(-5_00)])
    with pytest.raises(InvalidInvoice, match="is in USD"):
        a_draft([LineDraft(LineKind.PLAN, "x", Money(1_00, "USD"), TaxCategory.STANDARD)])


def test_full_credit_note_mirrors_the_lines_and_voids_an_unpaid_invoice() -> None:
    invoice, _ = invoicing.issue(a_draft([plan_line(29_90, TaxCategory.REDUCED), plan_line(9_99)]),
                                 number="RE-1", issued_on=date(2025, 1, 1))
    lines = invoicing.credit_note_lines(invoice, None, "cancelled")
    note = a_draft(lines, kind=DocumentKind.CREDIT_NOTE, corrects_id=invoice.id)
    assert (note.net, note.tax, note.total) == (invoice.net, invoice.tax, invoice.total)
    note, _ = invoicing.issue(note, number="ST-1", issued_on=date(2025, 1, 2))
    corrected, events = invoicing.apply_credit(invoice, note)
    assert corrected.status is InvoiceStatus.VOID and corrected.amount_due.is_zero()
    assert [e.name for e in events] == ["invoice.voided"]


def test_partial_credit_note_spreads_over_the_vat_rates_and_reduces_what_is_due() -> None:
    invoice, _ = invoicing.issue(a_draft([plan_line(10_70, TaxCategory.REDUCED), plan_line(11_90)]),
                                 number="RE-1", issued_on=date(2025, 1, 1))
    lines = invoicing.credit_note_lines(invoice, eur(5_00), "goodwill")
    assert sum((line.amount for line in lines), eur(0)) == eur(5_00)
    assert {line.tax_category for line in lines} == {TaxCategory.REDUCED, TaxCategory.STANDARD}
    note, _ = invoicing.issue(a_draft(lines, kind=DocumentKind.CREDIT_NOTE), number="ST-1",
                              issued_on=date(2025, 1, 2))
    corrected, events = invoicing.apply_credit(invoice, note)
    assert corrected.status is InvoiceStatus.ISSUED and corrected.amount_due == eur(17_60) and not events
    with pytest.raises(InvalidInvoice, match=r"has only 17\.60 EUR left to credit"):
        invoicing.credit_note_lines(corrected, eur(20_00), "")


# --- ledger ------------------------------------------------------------------------------------------------


def test_issued_invoice_books_receivable_revenue_and_vat_in_balance() -> None:
    invoice, _ = invoicing.issue(a_draft([plan_line(29_90, TaxCategory.REDUCED), plan_line(9_99)]),
                                 number="RE-1", issued_on=date(2025, 1, 1))
    entry = ledger.document_entry(invoice, JournalEntryId("e1"), CREATED)
    amounts = {line.account: line.amount for line in entry.lines}
    assert amounts["receivable:c1"] == eur(39_89)
    assert amounts["revenue:domestic:reduced"] == -eur(27_94)
    assert amounts["vat:DE:7"] == -eur(1_96)
    assert amounts["revenue:domestic:standard"] == -eur(8_39)
    assert amounts["vat:DE:19"] == -eur(1_60)
    assert ledger.sums_by_currency(entry.lines) == {"EUR": 0}


def test_credit_note_books_the_reverse() -> None:
    invoice, _ = invoicing.issue(a_draft([plan_line(9_99)]), number="RE-1", issued_on=date(2025, 1, 1))
    note, _ = invoicing.issue(a_draft(invoicing.credit_note_lines(invoice, None, ""), kind=DocumentKind.CREDIT_NOTE),
                              number="ST-1", issued_on=date(2025, 1, 2))
    entry = ledger.document_entry(note, JournalEntryId("e2"), CREATED)
    assert {line.account: line.amount.minor for line in entry.lines} == {
        "receivable:c1": -9_99, "revenue:domestic:standard": 8_39, "vat:DE:19": 1_60}


def test_reverse_charge_books_no_vat() -> None:
    decision = decide(MerchantTax(), customer_kind=CustomerKind.BUSINESS, customer_country="FR",
                      customer_vat_id="FR40303265045")
    assert decision.treatment is TaxTreatment.REVERSE_CHARGE
    invoice, _ = invoicing.issue(a_draft([plan_line(49_00)], decision=decision, prices_include_tax=False),
                                 number="RE-1", issued_on=date(2025, 1, 1))
    entry = ledger.document_entry(invoice, JournalEntryId("e3"), CREATED)
    assert {line.account for line in entry.lines} == {"receivable:c1", "revenue:reverse_charge:standard"}
    assert invoice.tax_note_de and "Steuerschuldnerschaft" in invoice.tax_note_de


def test_an_unbalanced_entry_cannot_exist() -> None:
    with pytest.raises(UnbalancedEntry, match="does not balance: 1 minor units of EUR"):
        ledger.JournalEntry(JournalEntryId("x"), ledger.EntryKind.INVOICE_ISSUED, date(2025, 1, 1), CREATED,
                            (ledger.JournalLine("a", eur(100)), ledger.JournalLine("b", eur(-99))))


@settings(max_examples=80, deadline=None)
@given(amounts=st.lists(st.tuples(st.integers(min_value=-5_000, max_value=50_000),
                                  st.sampled_from(list(TaxCategory))), min_size=1, max_size=6),
       inclusive=st.booleans(), country=st.sampled_from(["DE", "AT", "HU", "FR", "LU"]))
def test_any_invoice_is_reproducible_from_its_lines_and_books_in_balance(
        amounts: list[tuple[int, TaxCategory]], inclusive: bool, country: str) -> None:
    lines = [LineDraft(LineKind.PLAN, "x", eur(minor), category) for minor, category in amounts]
    decision = decide(MerchantTax(), customer_kind=CustomerKind.CONSUMER, customer_country=country,
                      customer_vat_id=None)
    try:
        draft = a_draft(lines, decision=decision, prices_include_tax=inclusive)
    except InvalidInput:
        return  # negative totals and unknown rates are refused, which is what should happen
    assert invoicing.totals_reproducible(draft)
    if inclusive:
        assert draft.total == sum((line.amount for line in lines), eur(0))
    invoice, _ = invoicing.issue(draft, number="RE-1", issued_on=date(2025, 1, 1))
    entry = ledger.document_entry(invoice, JournalEntryId("e"), CREATED)
    assert ledger.sums_by_currency(entry.lines) == {"EUR": 0}


# --- numbers -----------------------------------------------------------------------------------------------


def test_number_patterns_format_and_scope() -> None:
    pattern = NumberPattern("invoice", "RE-{year}-{seq:06}")
    assert pattern.format(42, date(2026, 3, 1)) == "RE-2026-000042"
    assert pattern.scope(date(2026, 3, 1)) == "2026"
    monthly = NumberPattern("invoice", "{year}{month}/{seq}")
    assert monthly.format(7, date(2026, 3, 1)) == "202603/7" and monthly.scope(date(2026, 3, 1)) == "2026-03"
    assert NumberPattern("invoice", "INV{seq:05}").scope(date(2026, 3, 1)) == ""


@pytest.mark.parametrize(("pattern", "message"), [
    ("RE-{year}", "needs a {seq} field"), ("RE-{month}-{seq}", "without {year}"), ("RE {seq}", "may use only"),
    ("RE-{day}-{seq}", "unknown fields"), ("RE-{seq", "is not valid"), ("", "may use only"),
])
def test_bad_number_patterns_are_refused_with_a_hint(pattern: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("{", r"\{").replace("}", r"\}")):
        NumberPattern("invoice", pattern)


def test_decimal_rates_stay_exact_on_lines() -> None:
    invoice = a_draft([plan_line(9_99)])
    assert invoice.lines[0].tax_rate == Decimal("0.19")


# --- settlement: payments and write-offs -------------------------------------------------------------------


def issued(lines: list[LineDraft], **kw: Any) -> invoicing.Invoice:
    return invoicing.issue(a_draft(lines, **kw), number="RE-9", issued_on=date(2025, 1, 1))[0]


def test_payments_make_an_invoice_partially_paid_then_paid_and_book_against_the_receivable() -> None:
    invoice = issued([plan_line(9_99)])
    part, events = invoicing.apply_payment(invoice, eur(4_00))
    assert (part.status, part.amount_due) == (InvoiceStatus.PARTIALLY_PAID, eur(5_99))
    assert events[0].name == "invoice.partially_paid"
    done, events = invoicing.apply_payment(part, eur(5_99))
    assert (done.status, done.amount_due) == (InvoiceStatus.PAID, eur(0)) and events[0].name == "invoice.paid"
    entry = ledger.payment_entry(invoice, eur(4_00), into=ledger.clearing("sandbox"), booked_on=date(2025, 1, 2),
                                 entry_id=JournalEntryId("p1"), created_at=CREATED)
    assert {line.account: line.amount.minor for line in entry.lines} == {"clearing:sandbox": 400,
                                                                         "receivable:c1": -400}
    with pytest.raises(InvalidInvoice, match=r"has 5\.99 EUR open"):
        invoicing.apply_payment(part, eur(6_00))
    with pytest.raises(Exception, match="only an open invoice takes payments"):
        invoicing.apply_payment(done, eur(1))


def test_write_off_corrects_the_vat_of_each_rate_and_books_the_rest_as_a_loss() -> None:
    invoice = issued([plan_line(10_70, TaxCategory.REDUCED), plan_line(11_90)])
    part, _ = invoicing.apply_payment(invoice, eur(11_30))  # 11.30 of 22.60 paid
    lost, events = invoicing.mark_uncollectible(part)
    assert lost.status is InvoiceStatus.UNCOLLECTIBLE and events[0].payload()["written_off"]["amount_minor"] == 1130
    entry = ledger.write_off_entry(part, booked_on=date(2025, 6, 1), entry_id=JournalEntryId("w1"),
                                   created_at=CREATED)
    amounts = {line.account: line.amount.minor for line in entry.lines}
    assert amounts == {"receivable:c1": -11_30, "vat:DE:7": 35, "vat:DE:19": 95, "write_offs": 10_00}
    full = ledger.write_off_entry(invoice, booked_on=date(2025, 6, 1), entry_id=JournalEntryId("w2"),
                                  created_at=CREATED)
    assert {line.account: line.amount.minor for line in full.lines} == {
        "receivable:c1": -22_60, "vat:DE:7": 70, "vat:DE:19": 1_90, "write_offs": 20_00}  # the exact reverse
    with pytest.raises(Exception, match="only an open invoice"):
        invoicing.mark_uncollectible(lost)
