"""Every declining sandbox test card, IBAN and PayPal token through billing and collection, on SQLite and PostgreSQL.

For each documented token that does not simply succeed (src/aboguard/payments/sandbox.py, module docstring) the
attempt must carry the normalized decline code and class, the provider's raw code and the Mastercard merchant
advice where there is one; the invoice stays open, the subscription turns past_due and a ``payment.failed`` event
with the reason is stored. 3-D Secure (requires_action), a late SEPA failure, SEPA returns and a chargeback are
covered as well. The expected values are written out here, not derived from ``classify_card``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from aboguard.clock import TestClock
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.catalog import PlanSpec
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.invoicing import Invoice, InvoiceStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.payments import AttemptStatus, PaymentAttempt
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.money import Money
from aboguard.payments.sandbox import SandboxGateway
from aboguard.services import billing, collection, customers, invoices, ledger, payment_methods, plans, subscriptions
from aboguard.services.context import ServiceContext
from aboguard.store.secrets import Secrets
from aboguard.store.sql import SqlUnitOfWorkFactory
from aboguard.store.uow import StoredEvent

KEY = "q0eDqcmZ5aXbSP-1kP9ul5E0J8pCZ7H7hZBD9iDU1Yw="  # fixed, for tests only
PRICE = Money(9_99, "EUR")


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    """A test clock on Monday 2 March 2026 08:00 UTC, the sandbox gateway, and a monthly 9.99 EUR plan."""
    clock = TestClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    context = ServiceContext(uow=SqlUnitOfWorkFactory(engine, Secrets(KEY)), clock=clock,
                             merchant_tz=ZoneInfo("Europe/Berlin"))
    context.gateway = SandboxGateway(tmp_path / "sandbox.db", clock)
    plans.create_plan(context, code="basic", name="Basic", spec=PlanSpec(PRICE, Interval(IntervalUnit.MONTH)))
    return context


def card(token: str, brand: str = "visa") -> PaymentMethodSpec:
    last4 = token[-4:] if token[-4:].isdigit() else "4242"
    return PaymentMethodSpec(Kind.CARD, gateway_token=token, brand=brand, last4=last4, exp_month=12, exp_year=2030)


def paypal(token: str) -> PaymentMethodSpec:
    return PaymentMethodSpec(Kind.PAYPAL, gateway_token=token, payer_email="payer@example.de")


def sepa(iban: str) -> PaymentMethodSpec:
    return PaymentMethodSpec(Kind.SEPA_DEBIT, iban=iban, account_holder="Erika Mustermann")


@dataclass(frozen=True)
class Expected:
    code: str
    decline_class: str
    raw_code: str
    retry_allowed: bool
    network_advice: str | None = None


@dataclass(frozen=True)
class Case:
    spec: PaymentMethodSpec
    expected: Expected

    def __repr__(self) -> str:
        return f"{self.spec.kind.value}:{self.expected.code}"


# Declined at once, as the sandbox docstring documents them.
INSUFFICIENT = Expected("insufficient_funds", "soft", "insufficient_funds", True)
GENERIC = Expected("generic_decline", "soft", "generic_decline", True)
EXPIRED = Expected("expired_card", "customer_action", "expired_card", False)
CVC = Expected("incorrect_cvc", "customer_action", "incorrect_cvc", False)
PROCESSING = Expected("processing_error", "soft", "processing_error", True)
IMMEDIATE: dict[str, Case] = {
    "card-4000000000009995": Case(card("4000000000009995"), INSUFFICIENT),
    "card-tok_chargeDeclinedInsufficientFunds": Case(card("tok_chargeDeclinedInsufficientFunds"), INSUFFICIENT),
    "card-4000000000000002": Case(card("4000000000000002"), GENERIC),
    "card-tok_chargeDeclined": Case(card("tok_chargeDeclined"), GENERIC),
    "card-4000000000000069": Case(card("4000000000000069"), EXPIRED),
    "card-tok_chargeDeclinedExpiredCard": Case(card("tok_chargeDeclinedExpiredCard"), EXPIRED),
    "card-4000000000000127": Case(card("4000000000000127"), CVC),
    "card-tok_chargeDeclinedIncorrectCvc": Case(card("tok_chargeDeclinedIncorrectCvc"), CVC),
    "card-4000000000009987": Case(card("4000000000009987"), Expected("lost_card", "hard", "lost_card", False)),
    "card-4000000000009979": Case(card("4000000000009979"), Expected("stolen_card", "hard", "stolen_card", False)),
    "card-4100000000000019": Case(card("4100000000000019"), Expected("fraudulent", "fraud", "fraudulent", False)),
    "card-4000000000000119": Case(card("4000000000000119"), PROCESSING),
    "card-tok_chargeDeclinedProcessingError": Case(card("tok_chargeDeclinedProcessingError"), PROCESSING),
    "card-4000000000006975": Case(card("4000000000006975"),
                                  Expected("card_velocity_exceeded", "soft", "card_velocity_exceeded", True)),
    # Mastercard merchant advice 03 / 21 forbid retrying: a soft do_not_honor becomes hard.
    "card-tok_mastercard_mac03": Case(card("tok_mastercard_mac03", "mastercard"),
                                      Expected("do_not_honor", "hard", "do_not_honor", False, "03")),
    "card-tok_mastercard_mac21": Case(card("tok_mastercard_mac21", "mastercard"),
                                      Expected("do_not_honor", "hard", "do_not_honor", False, "21")),
    # Visa response code R1 (category 1): revocation of authorization, never retried.
    "card-tok_visa_stop_payment": Case(card("tok_visa_stop_payment"),
                                       Expected("revocation_of_authorization", "hard", "R1", False)),
    # "an all-digit number that fails the Luhn check: incorrect_number"
    "card-luhn-4242424242424241": Case(card("4242424242424241"),
                                       Expected("incorrect_number", "customer_action", "incorrect_number", False)),
    "paypal-B-SANDBOX-DECLINED": Case(paypal("B-SANDBOX-DECLINED"),
                                      Expected("generic_decline", "soft", "INSTRUMENT_DECLINED", True)),
    "paypal-B-SANDBOX-NOFUNDS": Case(paypal("B-SANDBOX-NOFUNDS"),
                                     Expected("insufficient_funds", "soft", "INSUFFICIENT_FUNDS", True)),
    "paypal-B-SANDBOX-CANCELLED": Case(paypal("B-SANDBOX-CANCELLED"), Expected(
        "revocation_of_authorization", "hard", "AGREEMENT_ALREADY_CANCELLED", False)),
}

THREE_D_SECURE: dict[str, Case] = {
    "card-4000002500003155": Case(card("4000002500003155"), Expected(
        "authentication_required", "customer_action", "authentication_required", False)),
    "paypal-B-SANDBOX-ACTION": Case(paypal("B-SANDBOX-ACTION"), Expected(
        "authentication_required", "customer_action", "PAYER_ACTION_REQUIRED", False)),
}

# Accepted (pending) first, the failure or reversal comes later as a gateway event.
LATE_FAILURE = Case(sepa("DE62370400440532013001"), Expected("insufficient_funds", "soft", "AM04", True))
RETURNS: dict[str, tuple[Case, int, Money]] = {  # case, days until the event has certainly arrived, fee
    "sepa-DE35-AM04": (Case(sepa("DE35370400440532013002"), Expected("insufficient_funds", "soft", "AM04", True)),
                       8, Money(3_00, "EUR")),
    "sepa-DE08-MD06": (Case(sepa("DE08370400440532013003"),
                            Expected("refund_requested", "customer_action", "MD06", False)), 17, Money(3_00, "EUR")),
    "sepa-DE78-AC04": (Case(sepa("DE78370400440532013004"), Expected("account_closed", "hard", "AC04", False)),
                       8, Money(3_00, "EUR")),
    "sepa-DE51-MD01": (Case(sepa("DE51370400440532013005"), Expected("no_mandate", "hard", "MD01", False)),
                       8, Money(3_00, "EUR")),
    "card-chargeback-4000000000000259": (Case(card("4000000000000259"),
                                              Expected("fraudulent", "fraud", "fraudulent", False)),
                                         8, Money(15_00, "EUR")),
}


# -- helpers -------------------------------------------------------------------------------------------------


def subscribe(ctx: ServiceContext, spec: PaymentMethodSpec, email: str = "payer@example.de") -> tuple[str, str]:
    customer = customers.create_customer(ctx, CustomerSpec(email=email, name="Payer", country="DE"))
    payment_methods.add_payment_method(ctx, customer.id, spec)
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic")
    return customer.id, sub.subscription.id


def only_invoice(ctx: ServiceContext, sub_id: str) -> Invoice:
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub_id)
    return invoice


def only_attempt(ctx: ServiceContext, invoice: Invoice) -> PaymentAttempt:
    [attempt] = collection.list_payments(ctx, invoice=invoice.id)
    return attempt


def events_named(ctx: ServiceContext, aggregate_id: str, name: str) -> list[StoredEvent]:
    with ctx.uow() as uow:
        return [e for e in uow.events.list(aggregate_id=aggregate_id) if e.name == name]


def assert_decline(attempt: PaymentAttempt, expected: Expected) -> None:
    assert (attempt.decline_code, attempt.decline_class, attempt.raw_code, attempt.retry_allowed,
            attempt.network_advice) == (expected.code, expected.decline_class, expected.raw_code,
                                        expected.retry_allowed, expected.network_advice)
    assert attempt.decline_message  # a text that can be shown to the customer


def assert_failed_event(ctx: ServiceContext, attempt: PaymentAttempt, expected: Expected) -> None:
    [failed] = events_named(ctx, attempt.id, "payment.failed")
    assert failed.payload["invoice_id"] == attempt.invoice_id
    assert failed.payload["customer_id"] == attempt.customer_id
    assert failed.payload["amount"] == PRICE.to_dict()
    assert (failed.payload["decline_code"], failed.payload["decline_class"], failed.payload["retry_allowed"]) == (
        expected.code, expected.decline_class, expected.retry_allowed)
    assert failed.payload["message"] == attempt.decline_message


def assert_still_open(invoice: Invoice) -> None:
    assert invoice.status is InvoiceStatus.ISSUED
    assert invoice.paid == Money.zero("EUR") and invoice.amount_due == PRICE


def sub_status(ctx: ServiceContext, sub_id: str) -> SubscriptionStatus:
    return subscriptions.get_subscription(ctx, sub_id).subscription.status


def check_books(ctx: ServiceContext, customer_id: str, open_minor: int) -> None:
    result = ledger.check_ledger(ctx)
    assert result.ok, (result.unbalanced, result.mismatches)
    with ctx.uow() as uow:
        assert uow.ledger.balance(f"receivable:{customer_id}") == ({"EUR": open_minor} if open_minor else {})


# -- declined at once ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(IMMEDIATE.values()), ids=list(IMMEDIATE))
def test_a_declined_charge_keeps_its_reason_the_invoice_open_and_makes_the_subscription_past_due(
        ctx: ServiceContext, case: Case) -> None:
    customer_id, sub_id = subscribe(ctx, case.spec)
    billing.run_billing(ctx)
    report = collection.run_collection(ctx)
    assert (report.attempted, report.failed, report.succeeded, report.pending, report.requires_action) == (
        1, 1, 0, 0, 0)
    assert report.collected == {}
    invoice = only_invoice(ctx, sub_id)
    assert [(d.invoice, d.code) for d in report.declines] == [(invoice.number, case.expected.code)]
    assert case.expected.decline_class in report.declines[0].message

    attempt = only_attempt(ctx, invoice)
    assert attempt.status is AttemptStatus.FAILED
    assert attempt.method_kind is case.spec.kind and attempt.number == 1
    assert_decline(attempt, case.expected)
    assert_still_open(invoice)
    assert sub_status(ctx, sub_id) is SubscriptionStatus.PAST_DUE
    assert_failed_event(ctx, attempt, case.expected)
    assert events_named(ctx, attempt.id, "payment.retry_decided")  # the retry policy was asked
    assert not events_named(ctx, attempt.id, "payment.succeeded")

    [charge] = ctx.gateway.charges()  # type: ignore[union-attr]
    assert (charge["status"], charge["raw_code"]) == ("failed", case.expected.raw_code)
    assert attempt.provider_payment_id == charge["payment_id"]
    check_books(ctx, customer_id, PRICE.minor)


def test_every_decline_class_is_covered() -> None:
    classes = {case.expected.decline_class for case in IMMEDIATE.values()}
    classes |= {case.expected.decline_class for case, _, _ in RETURNS.values()}
    assert classes == {"hard", "soft", "customer_action", "fraud"}
    assert {c.expected.network_advice for c in IMMEDIATE.values()} >= {"03", "21"}


# -- 3-D Secure ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(THREE_D_SECURE.values()), ids=list(THREE_D_SECURE))
def test_a_charge_needing_authentication_waits_for_the_customer(ctx: ServiceContext, case: Case) -> None:
    customer_id, sub_id = subscribe(ctx, case.spec)
    billing.run_billing(ctx)
    report = collection.run_collection(ctx)
    assert (report.attempted, report.requires_action, report.failed, report.succeeded) == (1, 1, 0, 0)
    assert report.collected == {}
    invoice = only_invoice(ctx, sub_id)
    attempt = only_attempt(ctx, invoice)
    assert attempt.status is AttemptStatus.REQUIRES_ACTION
    assert_decline(attempt, case.expected)
    assert_still_open(invoice)
    [waiting] = events_named(ctx, attempt.id, "payment.requires_action")
    assert waiting.payload["invoice_id"] == invoice.id and waiting.payload["amount"] == PRICE.to_dict()
    assert not events_named(ctx, attempt.id, "payment.succeeded")
    assert not events_named(ctx, attempt.id, "payment.failed")
    [charge] = ctx.gateway.charges()  # type: ignore[union-attr]
    assert (charge["status"], charge["raw_code"]) == ("requires_action", case.expected.raw_code)
    assert collection.run_collection(ctx).attempted == 0  # not charged again behind the customer's back
    check_books(ctx, customer_id, PRICE.minor)


# -- SEPA: failure after acceptance ----------------------------------------------------------------------------


def test_a_sepa_debit_rejected_before_settlement_fails_with_its_reason(ctx: ServiceContext) -> None:
    case = LATE_FAILURE
    customer_id, sub_id = subscribe(ctx, case.spec)
    billing.run_billing(ctx)
    report = collection.run_collection(ctx)
    assert (report.attempted, report.pending, report.failed) == (1, 1, 0)
    invoice = only_invoice(ctx, sub_id)
    attempt = only_attempt(ctx, invoice)
    assert attempt.status is AttemptStatus.PENDING and attempt.provider_payment_id
    assert sub_status(ctx, sub_id) is SubscriptionStatus.ACTIVE

    ctx.clock.advance(days=1)  # type: ignore[attr-defined]  # Tuesday 3 March: BD+1
    assert collection.deliver_gateway_events(ctx) == 1
    invoice = only_invoice(ctx, sub_id)
    attempt = only_attempt(ctx, invoice)
    assert attempt.status is AttemptStatus.FAILED
    assert_decline(attempt, case.expected)
    assert_still_open(invoice)
    assert sub_status(ctx, sub_id) is SubscriptionStatus.PAST_DUE
    assert_failed_event(ctx, attempt, case.expected)
    assert not events_named(ctx, attempt.id, "payment.succeeded")
    [charge] = ctx.gateway.charges()  # type: ignore[union-attr]
    assert charge["status"] == "failed"
    check_books(ctx, customer_id, PRICE.minor)


# -- returns and chargebacks after success ---------------------------------------------------------------------


@pytest.mark.parametrize(("case", "days", "fee"), list(RETURNS.values()), ids=list(RETURNS))
def test_a_returned_or_charged_back_payment_reopens_the_invoice_with_its_reason_and_fee(
        ctx: ServiceContext, case: Case, days: int, fee: Money) -> None:
    customer_id, sub_id = subscribe(ctx, case.spec)
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]  # SEPA settles at BD+2; cards at once
    collection.deliver_gateway_events(ctx)
    invoice = only_invoice(ctx, sub_id)
    assert invoice.status is InvoiceStatus.PAID
    assert only_attempt(ctx, invoice).status is AttemptStatus.SUCCEEDED

    ctx.clock.advance(days=days)  # type: ignore[attr-defined]
    assert collection.deliver_gateway_events(ctx) == 1  # the return / chargeback
    invoice = only_invoice(ctx, sub_id)
    attempt = only_attempt(ctx, invoice)
    assert attempt.status is AttemptStatus.REVERSED
    assert_decline(attempt, case.expected)
    assert_still_open(invoice)
    assert sub_status(ctx, sub_id) is SubscriptionStatus.PAST_DUE
    [returned] = events_named(ctx, attempt.id, "payment.returned")
    assert (returned.payload["reason_code"], returned.payload["decline_class"]) == (
        case.expected.code, case.expected.decline_class)
    assert returned.payload["amount"] == PRICE.to_dict()
    with ctx.uow() as uow:
        assert uow.ledger.balance("fees") == {"EUR": fee.minor}
        assert uow.ledger.balance("clearing:sandbox") == {"EUR": -fee.minor}
    check_books(ctx, customer_id, PRICE.minor)


def test_all_declining_tokens_in_one_run_are_each_charged_once(ctx: ServiceContext) -> None:
    """All immediate declines in one collection run: one attempt each, each with its own reason."""
    subs = {name: subscribe(ctx, case.spec, email=f"c{i}@example.de")[1]
            for i, (name, case) in enumerate(IMMEDIATE.items())}
    billing.run_billing(ctx)
    report = collection.run_collection(ctx)
    assert (report.attempted, report.failed) == (len(IMMEDIATE), len(IMMEDIATE))
    for name, sub_id in subs.items():
        attempt = only_attempt(ctx, only_invoice(ctx, sub_id))
        assert attempt.decline_code == IMMEDIATE[name].expected.code, name
        assert sub_status(ctx, sub_id) is SubscriptionStatus.PAST_DUE
    assert len(ctx.gateway.charges()) == len(IMMEDIATE)  # type: ignore[union-attr]
    result = ledger.check_ledger(ctx)
    assert result.ok, (result.unbalanced, result.mismatches)
