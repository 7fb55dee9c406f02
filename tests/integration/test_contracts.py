"""Terms, acceptance evidence, § 312k cancellation, withdrawal and price changes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from aboguard.domain.catalog import Audience, PlanSpec, Terms
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.contracts import CancellationKind, InvalidCancellation, WithdrawalRefused
from aboguard.domain.customers import CustomerKind, CustomerSpec
from aboguard.domain.invoicing import InvoiceStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.price_changes import InvalidPriceChange, PriceChangeStatus
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.domain.terms import AcceptanceSpec, InvalidTerms, TermsNotFound
from aboguard.money import Money
from aboguard.payments.sandbox import SandboxGateway
from aboguard.services import (
    billing,
    collection,
    contracts,
    customers,
    invoices,
    payment_methods,
    plans,
    price_changes,
    refunds,
    subscriptions,
    terms,
    withdrawals,
)
from aboguard.services.context import ServiceContext

from .test_collection import card, check_ledger, collection_context

EUR = "EUR"
WEB = AcceptanceSpec.parse("portal", "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)")


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    """Monday 2 March 2026 in Berlin, the sandbox gateway, plan "basic" (9.99 EUR a month, no terms)."""
    return collection_context(engine, tmp_path)


def _advance(ctx: ServiceContext, days: int) -> None:
    ctx.clock.advance(days=days)  # type: ignore[attr-defined]


def _events(ctx: ServiceContext, aggregate_id: str) -> list:
    with ctx.uow() as uow:
        return uow.events.list(aggregate_id=aggregate_id)


def _customer(ctx: ServiceContext, email: str = "anna@example.de", *, business: bool = False, token: str = "tok_visa"):
    spec = CustomerSpec(email=email, name="Anna Schmidt", country="DE", locale="de")
    if business:
        spec = CustomerSpec(email=email, name="Erika", company="Firma GmbH", country="DE",
                            kind=CustomerKind.BUSINESS, vat_id="DE136695976")
    customer = customers.create_customer(ctx, spec)
    payment_methods.add_payment_method(ctx, customer.id, card(token))
    return customer


def _agb_plan(ctx: ServiceContext) -> None:
    terms.publish_terms(ctx, "agb", content=b"AGB Version 1\n", filename="agb.txt", language="de")
    plans.create_plan(ctx, code="pro", name="Pro", terms_code="agb", spec=PlanSpec(
        Money(20_00, EUR), Interval(IntervalUnit.MONTH), terms=Terms(min_term_months=12, notice_days=30)))


# -- terms and acceptance -------------------------------------------------------------------------------------


def test_a_new_subscription_records_who_accepted_which_terms_version_and_the_summary_shown(
        ctx: ServiceContext) -> None:
    _agb_plan(ctx)
    anna = _customer(ctx)
    view = subscriptions.create_subscription(ctx, customer_id=anna.id, plan_code="pro", acceptance=WEB)
    [acceptance] = contracts.list_acceptances(ctx, view.subscription.id)
    v1 = terms.get_terms(ctx, "agb")
    assert (acceptance.terms_document_id, acceptance.terms_version, acceptance.terms_sha256) == (v1.id, 1, v1.sha256)
    assert (acceptance.channel.value, acceptance.ip_address, acceptance.user_agent) == (
        "portal", "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)")
    assert acceptance.accepted_by == "Anna Schmidt" and acceptance.reason == "subscription_started"
    assert "Mindestlaufzeit: 12 Monate, bis einschließlich 01.03.2027" in acceptance.summary_text
    assert "AGB agb Version 1" in acceptance.summary_text
    names = [e.name for e in _events(ctx, view.subscription.id)]
    assert names == ["subscription.created", "contract.terms_accepted"]


def test_a_new_terms_version_never_changes_what_earlier_customers_accepted(ctx: ServiceContext, engine: Engine) -> None:
    _agb_plan(ctx)
    old = subscriptions.create_subscription(ctx, customer_id=_customer(ctx).id, plan_code="pro", acceptance=WEB)
    [before] = contracts.list_acceptances(ctx, old.subscription.id)
    _advance(ctx, 10)
    v2 = terms.publish_terms(ctx, "agb", content=b"AGB Version 2\n", filename="agb.txt", language="de")
    assert contracts.list_acceptances(ctx, old.subscription.id) == [before]
    assert terms.get_terms(ctx, "agb", version=1).content == b"AGB Version 1\n"
    new = subscriptions.create_subscription(ctx, customer_id=_customer(ctx, "bob@example.de").id, plan_code="pro",
                                            acceptance=WEB)
    assert contracts.list_acceptances(ctx, new.subscription.id)[0].terms_sha256 == v2.sha256
    assert contracts.get_contract_summary(ctx, old.subscription.id).terms_version == 1  # what Anna agreed to
    again = contracts.accept_terms(ctx, old.subscription.id, AcceptanceSpec.parse("api"))  # she agrees to v2
    assert again.terms_version == 2 and again.reason == "terms_changed"
    assert contracts.list_acceptances(ctx, old.subscription.id) == [before, again]
    assert contracts.get_contract_summary(ctx, old.subscription.id).terms_version == 2


def test_acceptance_records_and_published_terms_have_no_update_path_and_the_database_refuses_one(
        ctx: ServiceContext, engine: Engine) -> None:
    _agb_plan(ctx)
    sub = subscriptions.create_subscription(ctx, customer_id=_customer(ctx).id, plan_code="pro", acceptance=WEB)
    with ctx.uow() as uow:
        assert not any(hasattr(uow.acceptances, name) for name in ("save", "update", "remove", "delete"))
        assert not any(hasattr(uow.terms, name) for name in ("save", "update", "remove", "delete"))
    for statement in ("UPDATE contract_acceptances SET channel = 'api'", "DELETE FROM contract_acceptances",
                      "UPDATE terms_documents SET content = :evil", "DELETE FROM terms_documents"):
        with pytest.raises(DBAPIError, match="never change"), engine.begin() as connection:
            connection.execute(text(statement), {"evil": b"changed"} if ":evil" in statement else {})
    [acceptance] = contracts.list_acceptances(ctx, sub.subscription.id)
    assert acceptance.channel.value == "portal"
    assert terms.get_terms(ctx, "agb").content == b"AGB Version 1\n"


def test_a_plan_with_terms_takes_no_acceptance_while_no_version_is_in_force(ctx: ServiceContext) -> None:
    terms.publish_terms(ctx, "agb", content=b"AGB\n", filename="agb.txt", language="de",
                        valid_from=date(2026, 4, 1))
    plans.create_plan(ctx, code="pro", name="Pro", terms_code="agb",
                      spec=PlanSpec(Money(20_00, EUR), Interval(IntervalUnit.MONTH)))
    anna = _customer(ctx)
    with pytest.raises(TermsNotFound, match="in force on 2026-03-02"):
        subscriptions.create_subscription(ctx, customer_id=anna.id, plan_code="pro", acceptance=WEB)
    assert subscriptions.list_subscriptions(ctx) == []
    with pytest.raises(InvalidTerms, match="cannot take effect in the past"):
        terms.publish_terms(ctx, "agb", content=b"AGB\n", filename="agb.txt", language="de",
                            valid_from=date(2026, 3, 1))
    with pytest.raises(TermsNotFound, match="no terms 'nope'"):
        plans.create_plan(ctx, code="x", name="X", terms_code="nope",
                          spec=PlanSpec(Money(1_00, EUR), Interval(IntervalUnit.MONTH)))


def test_without_terms_the_acceptance_still_keeps_the_summary_and_old_callers_record_none(ctx: ServiceContext) -> None:
    with_evidence = subscriptions.create_subscription(ctx, customer_id=_customer(ctx).id, plan_code="basic",
                                                      acceptance=AcceptanceSpec())
    [acceptance] = contracts.list_acceptances(ctx, with_evidence.subscription.id)
    assert acceptance.terms_code is None and "Vertragszusammenfassung — Basic" in acceptance.summary_text
    legacy = subscriptions.create_subscription(ctx, customer_id=_customer(ctx, "b@example.de").id,
                                               plan_code="basic")
    assert contracts.list_acceptances(ctx, legacy.subscription.id) == []


# -- cancellation (§ 312k BGB) ----------------------------------------------------------------------------------


def test_a_cancellation_is_recorded_as_given_and_confirmed_with_time_of_receipt_and_end_date(
        ctx: ServiceContext) -> None:
    _agb_plan(ctx)  # 12 months from 2 March 2026, 30 days' notice
    sub = subscriptions.create_subscription(ctx, customer_id=_customer(ctx).id, plan_code="pro", acceptance=WEB)
    _advance(ctx, 40)  # Saturday 11 April 2026, 10:00 in Berlin
    outcome = contracts.request_cancellation(ctx, sub.subscription.id, last_day=date(2026, 6, 30),
                                             name="A. Schmidt", email="anna.s@example.org",
                                             contract_ref="Kundennr. 4711", channel="portal")
    request = outcome.request
    assert (request.ends_on, request.last_day, request.requested_too_early, request.earliest_possible) == (
        date(2027, 3, 2), date(2027, 3, 1), True, True)  # too early: the end of the minimum term applies
    assert (request.identity.name, request.identity.email, request.identity.contract_ref) == (
        "A. Schmidt", "anna.s@example.org", "Kundennr. 4711")
    assert outcome.subscription.status is SubscriptionStatus.CANCELED
    confirmation = [e for e in _events(ctx, sub.subscription.id) if e.name == "contract.cancellation_confirmed"]
    assert len(confirmation) == 1
    payload = confirmation[0].payload
    assert payload["received_at"] == "2026-04-11T08:00:00+00:00"
    assert payload["received_at_local"] == "2026-04-11T10:00:00+02:00"
    assert (payload["last_day"], payload["ends_on"], payload["kind"]) == ("2027-03-01", "2027-03-02", "ordinary")
    assert payload["customer_email"] == "anna.s@example.org" and payload["locale"] == "de"
    assert contracts.list_cancellations(ctx, sub.subscription.id) == [request]


def test_an_extraordinary_cancellation_needs_a_reason_and_ends_the_contract_now(ctx: ServiceContext) -> None:
    _agb_plan(ctx)
    sub = subscriptions.create_subscription(ctx, customer_id=_customer(ctx).id, plan_code="pro", acceptance=WEB)
    with pytest.raises(InvalidCancellation, match="important reason"):
        contracts.request_cancellation(ctx, sub.subscription.id, kind=CancellationKind.EXTRAORDINARY)
    assert contracts.list_cancellations(ctx, sub.subscription.id) == []
    outcome = contracts.request_cancellation(ctx, sub.subscription.id, kind=CancellationKind.EXTRAORDINARY,
                                             reason="the service has been down for weeks")
    assert outcome.subscription.status is SubscriptionStatus.ENDED
    assert outcome.request.ends_on == date(2026, 3, 2)


# -- withdrawal -------------------------------------------------------------------------------------------------


def _paid_subscription(ctx: ServiceContext, email: str = "anna@example.de", **kwargs) -> str:
    sub = subscriptions.create_subscription(ctx, customer_id=_customer(ctx, email, **kwargs).id, plan_code="basic",
                                            acceptance=WEB)
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub.subscription.id)
    assert invoice.status is InvoiceStatus.PAID
    return sub.subscription.id


def test_withdrawal_within_14_days_ends_the_contract_and_refunds_the_unused_days_exactly_once(
        ctx: ServiceContext) -> None:
    sub_id = _paid_subscription(ctx)  # 9.99 EUR paid for 2 March .. 1 April 2026 (31 days)
    _advance(ctx, 10)  # withdrawn on 12 March: 21 of 31 days unused -> 9.99 * 21 / 31 = 6.7674 -> 6.77
    outcome = withdrawals.withdraw(ctx, sub_id)
    assert outcome.subscription.status is SubscriptionStatus.ENDED
    [number] = outcome.refunded
    assert outcome.refunded[number] == Money(6_77, EUR) and outcome.credited == {}
    gateway = ctx.gateway
    assert isinstance(gateway, SandboxGateway)
    assert gateway.charges()[0]["refunded"] == Money(6_77, EUR)
    invoice = invoices.get_invoice(ctx, number)
    assert (invoice.paid, invoice.credited, invoice.amount_due) == (Money(3_22, EUR), Money(6_77, EUR), Money(0, EUR))
    with pytest.raises(WithdrawalRefused, match="already withdrawn"):
        withdrawals.withdraw(ctx, sub_id)
    collection.run_collection(ctx)  # the gateway's refund webhook changes nothing
    assert gateway.charges()[0]["refunded"] == Money(6_77, EUR)
    assert len(refunds.list_refunds(ctx)) == 1 and len(invoices.list_invoices(ctx, kind="credit_note")) == 1
    names = [e.name for e in _events(ctx, sub_id)]
    assert "contract.withdrawal_confirmed" in names and "subscription.ended" in names
    billing.run_billing(ctx)
    _advance(ctx, 40)
    billing.run_billing(ctx)
    assert len(invoices.list_invoices(ctx, subscription_id=sub_id, kind="invoice")) == 1  # nothing billed after
    check_ledger(ctx)


def test_withdrawal_interrupted_before_the_refund_finishes_the_refund_when_repeated(
        ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch) -> None:
    sub_id = _paid_subscription(ctx)
    _advance(ctx, 10)
    monkeypatch.setattr(withdrawals, "_settle", lambda ctx, outcome: None)  # the process dies after phase one
    withdrawals.withdraw(ctx, sub_id)
    monkeypatch.undo()
    assert refunds.list_refunds(ctx) == []
    outcome = withdrawals.withdraw(ctx, sub_id)  # finishes phase two
    assert list(outcome.refunded.values()) == [Money(6_77, EUR)]
    with pytest.raises(WithdrawalRefused, match="already withdrawn"):
        withdrawals.withdraw(ctx, sub_id)
    assert ctx.gateway.charges()[0]["refunded"] == Money(6_77, EUR)  # type: ignore[union-attr]
    check_ledger(ctx)


def test_withdrawal_after_14_days_is_refused_and_changes_nothing(ctx: ServiceContext) -> None:
    sub_id = _paid_subscription(ctx)  # concluded Monday 2 March 2026: the period ends Monday 16 March
    _advance(ctx, 14)
    _advance(ctx, 1)
    with pytest.raises(WithdrawalRefused, match="ended on 2026-03-16"):
        withdrawals.withdraw(ctx, sub_id)
    assert subscriptions.get_subscription(ctx, sub_id).subscription.status is SubscriptionStatus.ACTIVE
    assert refunds.list_refunds(ctx) == [] and contracts.list_cancellations(ctx, sub_id) == []


def test_withdrawal_on_the_last_day_of_the_period_is_accepted(ctx: ServiceContext) -> None:
    sub_id = _paid_subscription(ctx)
    _advance(ctx, 14)  # 16 March: 17 of 31 days unused (16 March .. 1 April) -> 9.99 * 17 / 31 = 5.478
    assert list(withdrawals.withdraw(ctx, sub_id).refunded.values()) == [Money(5_48, EUR)]
    check_ledger(ctx)


def test_an_unpaid_invoice_is_credited_for_the_unused_days_instead_of_refunded(ctx: ServiceContext) -> None:
    sub = subscriptions.create_subscription(ctx, customer_id=_customer(ctx, token="4000000000009995").id,
                                            plan_code="basic", acceptance=WEB)  # the card is declined
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    _advance(ctx, 10)
    outcome = withdrawals.withdraw(ctx, sub.subscription.id)
    assert outcome.refunded == {} and list(outcome.credited.values()) == [Money(6_77, EUR)]
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub.subscription.id, kind="invoice")
    assert invoice.amount_due == Money(3_22, EUR)  # the ten days served are still owed
    check_ledger(ctx)


def test_a_sepa_debit_still_on_its_way_waits_and_is_refunded_once_it_settled(ctx: ServiceContext) -> None:
    customer = customers.create_customer(ctx, CustomerSpec(email="s@example.de", name="Sepa", country="DE"))
    payment_methods.add_payment_method(ctx, customer.id, PaymentMethodSpec(
        Kind.SEPA_DEBIT, iban="DE89370400440532013000", account_holder="Sepa"))
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic", acceptance=WEB)
    billing.run_billing(ctx)
    collection.run_collection(ctx)  # the debit is submitted; it settles in three days
    _advance(ctx, 1)
    first = withdrawals.withdraw(ctx, sub.subscription.id)
    # 3 March: 30 of 31 days unused -> 9.99 * 30 / 31 = 9.6677 -> 9.67, but the money is not in yet
    assert first.subscription.status is SubscriptionStatus.ENDED
    assert (first.refunded, first.credited, list(first.waiting.values())) == ({}, {}, [Money(9_67, EUR)])
    _advance(ctx, 3)
    collection.run_collection(ctx)  # settled
    second = withdrawals.withdraw(ctx, sub.subscription.id)
    assert list(second.refunded.values()) == [Money(9_67, EUR)] and second.waiting == {}
    with pytest.raises(WithdrawalRefused, match="already withdrawn"):
        withdrawals.withdraw(ctx, sub.subscription.id)
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub.subscription.id, kind="invoice")
    assert (invoice.paid, invoice.credited, invoice.amount_due) == (Money(32, EUR), Money(9_67, EUR), Money(0, EUR))
    check_ledger(ctx)


def test_business_customers_have_no_statutory_withdrawal(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="biz", name="Biz", spec=PlanSpec(Money(50_00, EUR), Interval(IntervalUnit.MONTH),
                                                                 audience=Audience.BUSINESS))
    customer = _customer(ctx, "ap@firma.example", business=True)
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="biz", acceptance=WEB)
    with pytest.raises(WithdrawalRefused, match="consumers only"):
        withdrawals.withdraw(ctx, sub.subscription.id)


# -- price changes --------------------------------------------------------------------------------------------


def test_a_price_change_needs_notice_and_consent_and_a_declining_customer_may_leave_before_it(
        ctx: ServiceContext) -> None:
    stays = subscriptions.create_subscription(ctx, customer_id=_customer(ctx).id, plan_code="basic").subscription.id
    leaves = subscriptions.create_subscription(ctx, customer_id=_customer(ctx, "b@example.de").id,
                                               plan_code="basic").subscription.id
    plans.change_plan_price(ctx, "basic", Money(12_99, EUR))
    with pytest.raises(InvalidPriceChange, match="at least 30 days ahead"):
        price_changes.announce_price_change(ctx, "basic", effective_on=date(2026, 3, 31))
    notices = price_changes.announce_price_change(ctx, "basic", effective_on=date(2026, 4, 2))
    assert {n.subscription_id for n in notices} == {stays, leaves}
    assert price_changes.announce_price_change(ctx, "basic", effective_on=date(2026, 4, 2)) == []  # once
    accepted = price_changes.respond_to_price_change(ctx, stays, accept=True, channel="portal")
    assert accepted.status is PriceChangeStatus.ACCEPTED
    view = subscriptions.get_subscription(ctx, stays)
    assert (view.pending_plan_code, view.subscription.pending_change_on) == ("basic", date(2026, 4, 2))
    declined = price_changes.respond_to_price_change(ctx, leaves, accept=False, cancel=True)
    assert declined.status is PriceChangeStatus.DECLINED
    gone = subscriptions.get_subscription(ctx, leaves)
    assert gone.subscription.ends_on == date(2026, 4, 2) and gone.version.price == Money(9_99, EUR)
    names = [e.name for e in _events(ctx, leaves)]
    assert names[-4:] == ["contract.price_change_announced", "contract.price_change_declined",
                          "subscription.canceled", "contract.cancellation_confirmed"]
    _advance(ctx, 31)
    billing.run_billing(ctx)
    assert subscriptions.get_subscription(ctx, stays).version.price == Money(12_99, EUR)


def test_summary_shows_the_next_deadline_in_both_languages(ctx: ServiceContext) -> None:
    _agb_plan(ctx)
    sub = subscriptions.create_subscription(ctx, customer_id=_customer(ctx).id, plan_code="pro", acceptance=WEB)
    de = contracts.get_contract_summary(ctx, sub.subscription.id)
    # the minimum term ends with 1 March 2027; 30 days' notice would mean 31 January, but a consumer's notice is
    # at most one month (§ 309 Nr. 9 BGB) and one month before 2 March is 2 February
    assert de.window is not None and (de.window.deadline, de.window.last_day) == (date(2027, 2, 2), date(2027, 3, 1))
    assert "Kündigung bis einschließlich 02.02.2027" in de.to_dict()["text"]
    en = contracts.get_contract_summary(ctx, sub.subscription.id, locale="en").to_dict()
    assert en["cancel_by"] == date(2027, 2, 2) and "cancel by 2 February 2027" in en["text"]
    assert en["withdrawal_deadline"] == date(2026, 3, 16) and en["payment_method"].startswith("Visa")
    _advance(ctx, 1)
    assert contracts.get_contract_summary(ctx, sub.subscription.id).as_of == date(2026, 3, 3)


def test_a_withdrawal_period_ending_over_easter_runs_to_the_tuesday(ctx: ServiceContext) -> None:
    ctx.clock.set(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))  # type: ignore[attr-defined]  # a Friday
    on_time, too_late = _paid_subscription(ctx), _paid_subscription(ctx, "late@example.de")
    # 14 days end on Good Friday 3 April; the weekend and Easter Monday follow (§ 193 BGB)
    assert contracts.get_contract_summary(ctx, on_time).withdrawal_deadline == date(2026, 4, 7)
    ctx.clock.set(datetime(2026, 4, 7, 9, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    assert withdrawals.withdraw(ctx, on_time).subscription.status is SubscriptionStatus.ENDED
    ctx.clock.set(datetime(2026, 4, 8, 9, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    with pytest.raises(WithdrawalRefused, match="ended on 2026-04-07"):
        withdrawals.withdraw(ctx, too_late)
    check_ledger(ctx)
