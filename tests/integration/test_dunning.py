"""Dunning with the test clock: steps on their days, fees, interest, suspension, payment, pause, hand-over."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from aboguard.domain import interest
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.customers import CustomerKind, CustomerSpec
from aboguard.domain.dunning import CaseStatus, InvalidDunningPolicy
from aboguard.domain.invoicing import Invoice, InvoiceStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.errors import InvalidInput
from aboguard.money import Money
from aboguard.services import (
    billing,
    collection,
    collections,
    customers,
    dunning,
    invoices,
    payment_methods,
    subscriptions,
)
from aboguard.services.context import ServiceContext

from .test_collection import card, check_ledger, collection_context

EUR = "EUR"
START = date(2026, 3, 2)


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    return collection_context(engine, tmp_path)


def overdue_invoice(ctx: ServiceContext, *, business: bool = False, token: str = "4000000000009995",
                    email: str = "late@example.de") -> Invoice:
    spec = CustomerSpec(email=email, name="Late Payer", country="DE",
                        kind=CustomerKind.BUSINESS if business else CustomerKind.CONSUMER,
                        company="Late GmbH" if business else None)
    customer = customers.create_customer(ctx, spec)
    payment_methods.add_payment_method(ctx, customer.id, card(token))
    plan = "basic"
    if business:
        from aboguard.domain.catalog import Audience, PlanSpec
        from aboguard.domain.periods import Interval, IntervalUnit
        from aboguard.services import plans
        plans.create_plan(ctx, code="pro-b2b", name="Pro", spec=PlanSpec(Money(100_00, EUR),
                                                                         Interval(IntervalUnit.MONTH),
                                                                         audience=Audience.BUSINESS))
        plan = "pro-b2b"
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code=plan)
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    return invoices.list_invoices(ctx, subscription_id=sub.subscription.id)[0]


def live(ctx: ServiceContext, days: int) -> None:
    """Each morning: billing, collection (retries), dunning, as `aboguard tick` does."""
    for _ in range(days):
        ctx.clock.advance(days=1)  # type: ignore[attr-defined]
        billing.run_billing(ctx)
        collection.run_collection(ctx)
        dunning.run_dunning(ctx)


def steps(ctx: ServiceContext, invoice: Invoice) -> list[tuple[int, str]]:
    view = dunning.get_case(ctx, invoice.id)
    return [((e.happened_on - invoice.due_on).days, e.action) for e in view.timeline]  # type: ignore[operator]


def test_a_consumers_unpaid_invoice_walks_through_the_default_policy_on_its_days(ctx: ServiceContext) -> None:
    invoice = overdue_invoice(ctx)
    assert invoice.due_on == START
    live(ctx, 61)
    assert steps(ctx, invoice) == [(3, "reminder"), (10, "dunning_1"), (14, "suspend"), (21, "dunning_2"),
                                   (31, "final_notice"), (45, "cancel"), (60, "collections")]
    view = dunning.get_case(ctx, invoice.id)
    assert view.case.status is CaseStatus.COLLECTIONS
    assert view.case.default_since == START + timedelta(days=11)  # the day after the 1st dunning letter
    fees = [c for c in view.charges if c.kind.value == "dunning_fee"]
    assert [(c.charged_on, c.amount) for c in fees] == [(START + timedelta(days=31), Money(2_50, EUR))]
    booked = sum((c.amount for c in view.charges if c.kind.value == "interest"), Money.zero(EUR))
    # interest from the day of default to the last step (day 60), on 9.99 at base rate 1.27 % + 5 pp
    expected = interest.default_interest(Money(9_99, EUR), START + timedelta(days=11), START + timedelta(days=60),
                                         consumer=True)
    assert booked == expected.total
    sub = subscriptions.get_subscription(ctx, invoice.subscription_id).subscription  # type: ignore[arg-type]
    assert sub.status in {SubscriptionStatus.CANCELED, SubscriptionStatus.ENDED}
    assert sub.cancel_reason == "non_payment"
    check_ledger(ctx)


def test_running_twice_on_one_day_takes_no_step_twice(ctx: ServiceContext) -> None:
    invoice = overdue_invoice(ctx)
    live(ctx, 3)
    again = dunning.run_dunning(ctx)
    assert again.performed == 0 and steps(ctx, invoice) == [(3, "reminder")]


def test_payment_mid_dunning_stops_it_and_reactivates_the_subscription(ctx: ServiceContext) -> None:
    invoice = overdue_invoice(ctx)
    live(ctx, 32)  # suspended, fee charged with the final notice, interest running
    sub_id = invoice.subscription_id or ""
    assert subscriptions.get_subscription(ctx, sub_id).subscription.status is SubscriptionStatus.SUSPENDED
    view = dunning.get_case(ctx, invoice.id)
    owed = view.open_total
    assert owed > Money(9_99 + 2_50, EUR)  # principal, fee and interest
    paid = collection.record_manual_payment(ctx, invoice.id, method="transfer")
    assert paid.status is InvoiceStatus.PAID
    view = dunning.get_case(ctx, invoice.id)
    assert view.case.status is CaseStatus.RESOLVED and all(c.open.is_zero() for c in view.charges)
    # April's invoice (day 31) is overdue too: access comes back once nothing overdue is left
    assert subscriptions.get_subscription(ctx, sub_id).subscription.status is SubscriptionStatus.SUSPENDED
    [april] = [i for i in invoices.list_invoices(ctx, subscription_id=sub_id) if i.status is InvoiceStatus.ISSUED]
    second = dunning.get_case(ctx, april.id).open_total
    collection.record_manual_payment(ctx, april.number or "", method="cash")
    assert subscriptions.get_subscription(ctx, sub_id).subscription.status is SubscriptionStatus.ACTIVE
    live(ctx, 20)
    assert steps(ctx, invoice)[-2:] == [(32, "payment"), (32, "resolved")]
    with ctx.uow() as uow:
        assert uow.ledger.balance("bank") == {EUR: owed.minor}
        assert uow.ledger.balance("cash") == {EUR: second.minor}
    check_ledger(ctx)


def test_money_is_applied_to_costs_then_interest_then_the_principal(ctx: ServiceContext) -> None:
    invoice = overdue_invoice(ctx)
    live(ctx, 32)
    view = dunning.get_case(ctx, invoice.id)
    fee = next(c for c in view.charges if c.kind.value == "dunning_fee")
    collection.record_manual_payment(ctx, invoice.id, amount="3.00", method="transfer")
    view = dunning.get_case(ctx, invoice.id)
    assert next(c for c in view.charges if c.id == fee.id).open.is_zero()  # the 2.50 fee first
    interest_open = sum((c.open for c in view.charges if c.kind.value == "interest"), Money.zero(EUR))
    interest_total = sum((c.amount for c in view.charges if c.kind.value == "interest"), Money.zero(EUR))
    assert interest_total - interest_open == min(Money(50, EUR), interest_total)  # then the interest
    assert view.invoice.paid == Money(50, EUR) - (interest_total - interest_open)  # the rest on the principal
    assert view.case.status is CaseStatus.ACTIVE
    check_ledger(ctx)


def test_a_business_owes_the_flat_fee_and_nine_points_once_in_default(ctx: ServiceContext) -> None:
    invoice = overdue_invoice(ctx, business=True)
    live(ctx, 21)
    view = dunning.get_case(ctx, invoice.id)
    flat = [c for c in view.charges if c.kind.value == "flat_fee"]
    assert [c.amount for c in flat] == [Money(40_00, EUR)]
    assert flat[0].charged_on == START + timedelta(days=14)  # owed once in default (from day 11): the next step
    rate = interest.default_interest(invoice.total, START + timedelta(days=11), START + timedelta(days=21),
                                     consumer=False).segments[0].rate
    assert rate == Decimal("0.0127") + Decimal("0.09")
    check_ledger(ctx)


def test_pause_with_a_promise_to_pay_stops_the_steps_until_the_date(ctx: ServiceContext) -> None:
    invoice = overdue_invoice(ctx)
    live(ctx, 4)
    dunning.pause(ctx, invoice.number, until=START + timedelta(days=20), reason="promised to pay on the 20th")
    live(ctx, 16)  # day 20: still paused
    assert steps(ctx, invoice) == [(3, "reminder"), (4, "paused")]
    live(ctx, 1)  # day 21: the promise was not kept
    assert steps(ctx, invoice)[2:] == [(21, "resumed"), (21, "dunning_1")]


def test_manual_resume_and_a_disputed_claim_is_never_handed_over(ctx: ServiceContext, tmp_path: Path) -> None:
    invoice = overdue_invoice(ctx)
    live(ctx, 4)
    dunning.pause(ctx, invoice.number, reason="customer says the box never arrived", dispute=True)
    handed = collections.export_claims(ctx, include_active=True)
    assert handed.records == [] and "disputed" in handed.skipped[0]["reason"]
    dunning.resume(ctx, invoice.number)
    live(ctx, 6)
    assert steps(ctx, invoice) == [(3, "reminder"), (4, "paused"), (4, "resumed"), (10, "dunning_1")]
    assert len(collections.export_claims(ctx, include_active=True).records) == 1
    with pytest.raises(InvalidInput, match="is active"):
        dunning.resume(ctx, invoice.number)


def test_collections_export_has_what_an_agency_asks_for(ctx: ServiceContext, tmp_path: Path) -> None:
    invoice = overdue_invoice(ctx)
    live(ctx, 61)
    result = collections.export_claims(ctx)
    [record] = result.records
    assert record["invoice"]["number"] == invoice.number
    assert record["debtor"]["email"] == "late@example.de" and record["debtor"]["kind"] == "consumer"
    assert record["interest"]["default_since"] == START + timedelta(days=11)
    assert record["contract"]["cancel_reason"] == "non_payment"
    assert [e["action"] for e in record["dunning_history"]][:2] == ["reminder", "dunning_1"]
    assert record["payment_attempts"][0]["reason_code"] == "insufficient_funds"
    assert record["total_open"] == (record["invoice"]["principal_open"] + record["fees_open"]
                                    + record["interest"]["open_total"])
    row = collections.csv_row(record)
    out = tmp_path / "claims.csv"
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=collections.CSV_COLUMNS)
        writer.writeheader()
        writer.writerow(row)
    with out.open(encoding="utf-8") as handle:
        [read] = list(csv.DictReader(handle))
    assert read["principal_open"] == "9.99" and read["fees_open"] == "2.50"
    assert list(row) == collections.CSV_COLUMNS and json.dumps(row)


def test_policies_load_from_toml_and_are_chosen_by_segment(ctx: ServiceContext) -> None:
    toml = """
    [[policy]]
    code = "card-consumers"
    name = "Card consumers: quick"
    customer_kind = "consumer"
    payment_methods = ["card"]
    steps = [
      { day = 1, action = "reminder" },
      { day = 5, action = "dunning_1" },
      { day = 8, action = "dunning_2", fee = "1.50", channel = "letter" },
    ]
    """
    loaded, new = dunning.load_policies(ctx, toml)
    assert [p.code for p in loaded] == ["card-consumers"] and new == 1
    invoice = overdue_invoice(ctx)
    live(ctx, 9)
    assert steps(ctx, invoice) == [(1, "reminder"), (5, "dunning_1"), (8, "dunning_2")]
    view = dunning.get_case(ctx, invoice.id)
    assert view.case.policy_code == "card-consumers"
    assert [c.amount for c in view.charges if c.kind.value == "dunning_fee"] == [Money(1_50, EUR)]
    with pytest.raises(InvalidDunningPolicy, match="reminder carries no fee"):
        dunning.load_policies(ctx, toml.replace('{ day = 1, action = "reminder" }',
                                                '{ day = 1, action = "reminder", fee = "1.00", channel = "letter" }'))
    with pytest.raises(InvalidDunningPolicy, match="not valid TOML"):
        dunning.load_policies(ctx, "[[policy]\ncode=")
    assert [p.code for p in dunning.list_policies(ctx)[0]] == ["card-consumers"]


def test_a_new_card_after_a_hard_decline_is_charged_at_once_and_ends_dunning(ctx: ServiceContext) -> None:
    invoice = overdue_invoice(ctx, token="4000000000009987")  # lost card: never retried
    [attempt] = collection.list_payments(ctx, invoice=invoice.id)
    assert attempt.retry_action == "ask_for_new_method" and attempt.retry_on is None
    live(ctx, 4)
    assert len(collection.list_payments(ctx, invoice=invoice.id)) == 1  # no retry of a lost card
    payment_methods.add_payment_method(ctx, invoice.customer_id, PaymentMethodSpec(
        Kind.CARD, gateway_token="tok_visa", brand="visa", last4="4242", exp_month=1, exp_year=2031,
        make_default=True))
    live(ctx, 1)
    assert invoices.get_invoice(ctx, invoice.id).status is InvoiceStatus.PAID
    assert dunning.get_case(ctx, invoice.id).case.status is CaseStatus.RESOLVED
    check_ledger(ctx)


def test_no_dunning_while_a_direct_debit_is_on_its_way(ctx: ServiceContext) -> None:
    customer = customers.create_customer(ctx, CustomerSpec(email="debit@example.de", name="Debit", country="DE"))
    payment_methods.add_payment_method(ctx, customer.id, PaymentMethodSpec(
        Kind.SEPA_DEBIT, iban="DE89370400440532013000", account_holder="Debit"))  # settles at BD+2
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic")
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]  # billed and debited three days in
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    invoice = invoices.list_invoices(ctx, subscription_id=sub.subscription.id)[0]
    for _ in range(2):  # past its due date, the debit still pending at the bank
        ctx.clock.advance(days=1)  # type: ignore[attr-defined]
        dunning.run_dunning(ctx)
        with ctx.uow() as uow:
            assert uow.invoices.get(invoice.id).status is InvoiceStatus.ISSUED
            assert uow.dunning.case_for_invoice(invoice.id) is None
    live(ctx, 10)
    with ctx.uow() as uow:
        assert uow.invoices.get(invoice.id).status is InvoiceStatus.PAID
        assert uow.dunning.case_for_invoice(invoice.id) is None  # settled: never dunned


def test_a_rejected_direct_debit_enters_dunning(ctx: ServiceContext) -> None:
    customer = customers.create_customer(ctx, CustomerSpec(email="rejected@example.de", name="Rej", country="DE"))
    payment_methods.add_payment_method(ctx, customer.id, PaymentMethodSpec(
        Kind.SEPA_DEBIT, iban="DE62370400440532013001", account_holder="Rej"))  # AM04 at BD+1
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic")
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    invoice = invoices.list_invoices(ctx, subscription_id=sub.subscription.id)[0]
    live(ctx, 5)
    with ctx.uow() as uow:
        assert uow.invoices.get(invoice.id).status is not InvoiceStatus.PAID
        assert uow.dunning.case_for_invoice(invoice.id) is not None
