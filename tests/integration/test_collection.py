"""The collection run against the offline sandbox gateway, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from aboguard.clock import TestClock
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.catalog import PlanSpec
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.invoicing import InvoiceStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.payments import AttemptStatus
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.money import Money
from aboguard.payments.sandbox import SandboxGateway
from aboguard.services import billing, collection, customers, invoices, ledger, payment_methods, plans, subscriptions
from aboguard.services.context import ServiceContext
from aboguard.store.secrets import Secrets
from aboguard.store.sql import SqlUnitOfWorkFactory

KEY = "q0eDqcmZ5aXbSP-1kP9ul5E0J8pCZ7H7hZBD9iDU1Yw="  # fixed, for tests only


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    return collection_context(engine, tmp_path)


def collection_context(engine: Engine, tmp_path: Path) -> ServiceContext:
    """A test clock on Monday 2 March 2026, the sandbox gateway, and a monthly 9.99 EUR plan "basic"."""
    clock = TestClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # a Monday
    context = ServiceContext(uow=SqlUnitOfWorkFactory(engine, Secrets(KEY)), clock=clock,
                             merchant_tz=ZoneInfo("Europe/Berlin"))
    context.gateway = SandboxGateway(tmp_path / "sandbox.db", clock)
    plans.create_plan(context, code="basic", name="Basic", spec=PlanSpec(Money(9_99, "EUR"),
                                                                         Interval(IntervalUnit.MONTH)))
    return context


def customer_paying_with(ctx: ServiceContext, email: str, spec: PaymentMethodSpec) -> tuple[str, str]:
    customer = customers.create_customer(ctx, CustomerSpec(email=email, name=email.split("@")[0], country="DE"))
    payment_methods.add_payment_method(ctx, customer.id, spec)
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic")
    return customer.id, sub.subscription.id


def card(token: str) -> PaymentMethodSpec:
    return PaymentMethodSpec(Kind.CARD, gateway_token=token, brand="visa", last4=token[-4:].rjust(4, "0")
                             if token[-4:].isdigit() else "4242", exp_month=12, exp_year=2030)


def check_ledger(ctx: ServiceContext) -> None:
    result = ledger.check_ledger(ctx)
    assert result.ok, (result.unbalanced, result.mismatches)


def test_card_payments_succeed_or_fail_with_their_reason_and_nothing_is_charged_twice(ctx: ServiceContext) -> None:
    good_customer, good_sub = customer_paying_with(ctx, "good@example.de", card("tok_visa"))
    _, poor_sub = customer_paying_with(ctx, "poor@example.de", card("4000000000009995"))
    _, lost_sub = customer_paying_with(ctx, "lost@example.de", card("4000000000009987"))
    billing.run_billing(ctx)
    report = collection.run_collection(ctx)
    assert (report.attempted, report.succeeded, report.failed) == (3, 1, 2)
    assert report.collected == {"EUR": 9_99}
    paid = invoices.list_invoices(ctx, subscription_id=good_sub)[0]
    assert paid.status is InvoiceStatus.PAID and paid.collect_on is None
    by_sub = {sub: collection.list_payments(ctx, invoice=invoices.list_invoices(ctx, subscription_id=sub)[0].id)[0]
              for sub in (poor_sub, lost_sub)}
    assert (by_sub[poor_sub].decline_code, by_sub[poor_sub].decline_class, by_sub[poor_sub].retry_allowed) == (
        "insufficient_funds", "soft", True)
    assert by_sub[lost_sub].decline_class == "hard" and by_sub[lost_sub].retry_allowed is False
    assert subscriptions.get_subscription(ctx, poor_sub).subscription.status is SubscriptionStatus.PAST_DUE
    assert subscriptions.get_subscription(ctx, good_sub).subscription.status is SubscriptionStatus.ACTIVE
    again = collection.run_collection(ctx)
    assert again.attempted == 0  # a failed invoice waits for the recovery policy, it is not charged again here
    gateway = ctx.gateway
    assert len(gateway.charges()) == 3  # type: ignore[union-attr]
    with ctx.uow() as uow:
        assert uow.ledger.balance(f"receivable:{good_customer}") == {}
        assert uow.ledger.balance("clearing:sandbox") == {"EUR": 9_99}
    check_ledger(ctx)


def test_a_sepa_debit_settles_later_and_a_return_reopens_the_invoice_with_the_fee(ctx: ServiceContext) -> None:
    _, settles = customer_paying_with(ctx, "ok@example.de", PaymentMethodSpec(
        Kind.SEPA_DEBIT, iban="DE89370400440532013000", account_holder="Ok"))
    _, returned = customer_paying_with(ctx, "back@example.de", PaymentMethodSpec(
        Kind.SEPA_DEBIT, iban="DE35370400440532013002", account_holder="Back"))
    billing.run_billing(ctx)
    report = collection.run_collection(ctx)
    assert (report.attempted, report.pending, report.succeeded) == (2, 2, 0)
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]
    report = collection.run_collection(ctx)
    assert report.events_applied == 2
    assert all(invoices.list_invoices(ctx, subscription_id=s)[0].status is InvoiceStatus.PAID
               for s in (settles, returned))
    ctx.clock.advance(days=7)  # type: ignore[attr-defined]
    collection.run_collection(ctx)
    reopened = invoices.list_invoices(ctx, subscription_id=returned)[0]
    assert reopened.status is InvoiceStatus.ISSUED and reopened.amount_due == Money(9_99, "EUR")
    attempt = collection.list_payments(ctx, invoice=reopened.id)[0]
    assert attempt.status is AttemptStatus.REVERSED and attempt.decline_code is not None
    assert subscriptions.get_subscription(ctx, returned).subscription.status is SubscriptionStatus.PAST_DUE
    with ctx.uow() as uow:
        assert uow.ledger.balance("fees") == {"EUR": 3_00}
    # The gateway delivers the same events again: nothing changes.
    ctx.gateway.redeliver_all()  # type: ignore[union-attr]
    assert collection.deliver_gateway_events(ctx) == 0
    assert invoices.list_invoices(ctx, subscription_id=returned)[0] == reopened
    check_ledger(ctx)


def test_an_interrupted_attempt_is_resolved_by_its_key_and_never_charged_again(ctx: ServiceContext,
                                                                                engine: Engine) -> None:
    _, sub = customer_paying_with(ctx, "anna@example.de", card("tok_visa"))
    billing.run_billing(ctx)
    invoice = invoices.list_invoices(ctx, subscription_id=sub)[0]
    # A collector charged and crashed before recording the answer.
    collection.run_collection(ctx)
    with engine.begin() as conn:
        conn.execute(text("UPDATE payment_attempts SET status = 'pending', provider_payment_id = NULL, version = 1"))
        conn.execute(text("UPDATE invoices SET status = 'issued', paid_minor = 0"))
        conn.execute(text("DELETE FROM journal_lines WHERE entry_id IN (SELECT id FROM journal_entries "
                          "WHERE kind = 'payment_received')"))
        conn.execute(text("DELETE FROM journal_entries WHERE kind = 'payment_received'"))
    ctx.clock.advance(hours=1)  # type: ignore[attr-defined]
    report = collection.run_collection(ctx)
    assert report.resolved == 1 and report.attempted == 0
    assert len(ctx.gateway.charges()) == 1  # type: ignore[union-attr]
    assert invoices.get_invoice(ctx, invoice.id).status is InvoiceStatus.PAID
    check_ledger(ctx)


def test_invoices_without_an_automatic_method_are_not_charged(ctx: ServiceContext) -> None:
    customer = customers.create_customer(ctx, CustomerSpec(email="t@example.de", name="T", country="DE"))
    payment_methods.add_payment_method(ctx, customer.id, PaymentMethodSpec(Kind.BANK_TRANSFER))
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic").subscription.id
    billing.run_billing(ctx)
    invoice = invoices.list_invoices(ctx, subscription_id=sub)[0]
    assert invoice.payment_method is Kind.BANK_TRANSFER and invoice.collect_on is None
    assert invoice.due_on == date(2026, 3, 16)
    assert collection.run_collection(ctx).attempted == 0
    assert ctx.gateway.charges() == []  # type: ignore[union-attr]
    assert invoice.due_on - invoice.issued_on == timedelta(days=14)  # type: ignore[operator]


def test_manual_payments_settle_pay_by_invoice_customers(ctx: ServiceContext) -> None:
    customer = customers.create_customer(ctx, CustomerSpec(email="t@example.de", name="T", country="DE"))
    payment_methods.add_payment_method(ctx, customer.id, PaymentMethodSpec(Kind.BANK_TRANSFER))
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic").subscription.id
    billing.run_billing(ctx)
    invoice = invoices.list_invoices(ctx, subscription_id=sub)[0]
    part = collection.record_manual_payment(ctx, invoice.number or "", amount="4,00")
    assert part.status is InvoiceStatus.PARTIALLY_PAID and part.amount_due == Money(5_99, "EUR")
    done = collection.record_manual_payment(ctx, invoice.id, method="cash")
    assert done.status is InvoiceStatus.PAID
    with pytest.raises(Exception, match="only an open invoice takes payments"):
        collection.record_manual_payment(ctx, invoice.id, amount="1.00")
    with pytest.raises(Exception, match="unknown manual payment method"):
        collection.record_manual_payment(ctx, invoice.id, method="cheque")
    with ctx.uow() as uow:
        assert uow.ledger.balance("bank") == {"EUR": 4_00} and uow.ledger.balance("cash") == {"EUR": 5_99}
    check_ledger(ctx)


def test_an_upgrade_invoice_is_charged_like_the_periods_invoice(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="pro", name="Pro", spec=PlanSpec(Money(29_99, "EUR"), Interval(IntervalUnit.MONTH)))
    _, sub = customer_paying_with(ctx, "up@example.de", card("tok_visa"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    ctx.clock.advance(days=10)  # type: ignore[attr-defined]
    _, _, document = subscriptions.change_subscription_plan(ctx, sub, "pro")
    assert document is not None and document.payment_method is Kind.CARD and document.collect_on == ctx.today()
    report = collection.run_collection(ctx)
    assert (report.attempted, report.succeeded) == (1, 1)
    assert invoices.get_invoice(ctx, document.id).status is InvoiceStatus.PAID
    check_ledger(ctx)


def test_a_refused_delivery_does_not_cost_the_rest_of_the_batch(ctx: ServiceContext,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, sub = customer_paying_with(ctx, "sepa@example.de", PaymentMethodSpec(
        Kind.SEPA_DEBIT, iban="DE89370400440532013000", account_holder="Sepa"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]
    gateway = ctx.gateway
    real = gateway.due_events  # type: ignore[union-attr]
    forged = ({"sandbox-signature": "0" * 64}, b'{"id": "evt_forged"}')
    monkeypatch.setattr(gateway, "due_events", lambda until: [forged, *real(until)])
    report = collection.run_collection(ctx)
    assert report.events_applied == 1 and [p.code for p in report.problems] == ["gateway.invalid_signature"]
    assert invoices.list_invoices(ctx, subscription_id=sub)[0].status is InvoiceStatus.PAID


def test_a_charge_that_needs_3d_secure_asks_the_customer_and_is_not_retried(ctx: ServiceContext) -> None:
    _, sub = customer_paying_with(ctx, "sca@example.de", card("4000002500003155"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    invoice = invoices.list_invoices(ctx, subscription_id=sub)[0]
    [attempt] = collection.list_payments(ctx, invoice=invoice.id)
    assert (attempt.status, attempt.retry_action, attempt.retry_on) == (
        AttemptStatus.REQUIRES_ACTION, "ask_to_authenticate", None)
    assert subscriptions.get_subscription(ctx, sub).subscription.status is SubscriptionStatus.PAST_DUE
    ctx.clock.advance(days=5)  # type: ignore[attr-defined]
    assert collection.run_collection(ctx).attempted == 0
