"""Refunds with credit notes, exactly once through the sandbox gateway, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from aboguard.domain.invoicing import Invoice, InvoiceStatus
from aboguard.domain.refunds import InvalidRefund, PayoutChannel, RefundStatus
from aboguard.errors import InvalidInvoice
from aboguard.money import Money
from aboguard.payments.sandbox import SandboxGateway
from aboguard.services import billing, collection, invoices, refunds
from aboguard.services.context import ServiceContext

from .test_collection import card, check_ledger, collection_context, customer_paying_with

EUR = "EUR"


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    return collection_context(engine, tmp_path)


def paid_invoice(ctx: ServiceContext, email: str = "a@example.de", token: str = "tok_visa") -> Invoice:
    _, sub = customer_paying_with(ctx, email, card(token))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    invoice = invoices.list_invoices(ctx, subscription_id=sub)[0]
    assert invoice.status is InvoiceStatus.PAID
    return invoice


def sandbox(ctx: ServiceContext) -> SandboxGateway:
    assert isinstance(ctx.gateway, SandboxGateway)
    return ctx.gateway


def balance(ctx: ServiceContext, account: str) -> dict[str, int]:
    with ctx.uow() as uow:
        return uow.ledger.balance(account)


def event_names(ctx: ServiceContext) -> list[str]:
    with ctx.uow() as uow:
        return [e.name for e in uow.events.list(limit=10_000)]


def test_a_full_refund_issues_a_credit_note_pays_back_through_the_gateway_and_balances(ctx: ServiceContext) -> None:
    invoice = paid_invoice(ctx)
    outcome = refunds.refund_invoice(ctx, invoice.number or "", reason="customer withdrew")
    assert outcome.credit_note.total == invoice.total and outcome.credit_note.corrects_id == invoice.id
    assert [(r.status, r.amount, r.channel) for r in outcome.refunds] == [
        (RefundStatus.SUCCEEDED, Money(9_99, EUR), PayoutChannel.GATEWAY)]
    after = outcome.invoice
    assert (after.paid, after.credited, after.amount_due) == (Money(0, EUR), Money(9_99, EUR), Money(0, EUR))
    [charge] = sandbox(ctx).charges()
    assert charge["refunded"] == Money(9_99, EUR)
    assert balance(ctx, "clearing:sandbox") == {}  # paid in, paid back
    assert balance(ctx, f"receivable:{invoice.customer_id}") == {}
    assert all(not v for v in balance(ctx, "revenue:domestic:standard").values())
    assert "refund.succeeded" in event_names(ctx) and "credit_note.issued" in event_names(ctx)
    # The refund.succeeded webhook the gateway sends afterwards is the same refund: nothing changes.
    collection.run_collection(ctx)
    assert len(refunds.list_refunds(ctx)) == 1 and len(invoices.list_invoices(ctx, kind="credit_note")) == 1
    with pytest.raises(InvalidRefund, match="nothing paid"):
        refunds.refund_invoice(ctx, invoice.id)
    check_ledger(ctx)


def test_partial_refunds_add_up_and_a_refund_beyond_what_was_paid_changes_nothing(ctx: ServiceContext) -> None:
    invoice = paid_invoice(ctx)
    refunds.refund_invoice(ctx, invoice.id, amount="2.00")
    refunds.refund_invoice(ctx, invoice.id, amount="3,00")
    notes = invoices.list_invoices(ctx, kind="credit_note")
    with pytest.raises(InvalidRefund, match=r"has 4\.99 EUR paid that could be refunded"):
        refunds.refund_invoice(ctx, invoice.id, amount="5.00")
    with pytest.raises(InvalidRefund, match="positive"):
        refunds.refund_invoice(ctx, invoice.id, amount="0")
    assert invoices.list_invoices(ctx, kind="credit_note") == notes  # nothing issued by the refused refunds
    after = invoices.get_invoice(ctx, invoice.id)
    assert (after.paid, after.credited, after.amount_due, after.status) == (
        Money(4_99, EUR), Money(5_00, EUR), Money(0, EUR), InvoiceStatus.PAID)
    assert sandbox(ctx).charges()[0]["refunded"] == Money(5_00, EUR)
    assert balance(ctx, "clearing:sandbox") == {EUR: 4_99}
    check_ledger(ctx)


@pytest.mark.parametrize("crash", ["before_the_gateway_call", "after_the_gateway_call"])
def test_a_refund_interrupted_by_a_crash_is_resolved_by_its_key_and_paid_out_once(
        ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch, crash: str) -> None:
    invoice = paid_invoice(ctx)
    gateway = sandbox(ctx)
    real_refund = gateway.refund

    def crashing(payment_id: str, amount: Money, key: str):  # the process dies around the call
        if crash == "after_the_gateway_call":
            real_refund(payment_id, amount, key)
        raise SystemExit("killed")

    monkeypatch.setattr(gateway, "refund", crashing)
    with pytest.raises(SystemExit):
        refunds.refund_invoice(ctx, invoice.id)
    monkeypatch.setattr(gateway, "refund", real_refund)
    [pending] = refunds.list_refunds(ctx)
    assert pending.status is RefundStatus.PENDING
    collection.run_collection(ctx)
    if crash == "before_the_gateway_call":  # too fresh to count as interrupted: left alone
        assert refunds.list_refunds(ctx)[0].status is RefundStatus.PENDING
    else:  # the gateway's refund.succeeded webhook names a refund we do not know: ours, asked for by key
        assert refunds.list_refunds(ctx)[0].status is RefundStatus.SUCCEEDED
    ctx.clock.advance(hours=1)  # type: ignore[attr-defined]
    collection.run_collection(ctx)
    [done] = refunds.list_refunds(ctx)
    assert done.status is RefundStatus.SUCCEEDED and done.provider_refund_id
    assert sandbox(ctx).charges()[0]["refunded"] == Money(9_99, EUR)  # once, not twice
    assert invoices.get_invoice(ctx, invoice.id).paid == Money(0, EUR)
    collection.run_collection(ctx)
    assert len(refunds.list_refunds(ctx)) == 1
    check_ledger(ctx)


def test_a_refund_cannot_credit_more_than_is_left_to_credit_on_the_invoice(ctx: ServiceContext) -> None:
    invoice = paid_invoice(ctx)
    _, after_goodwill = invoices.create_credit_note(ctx, invoice.id, amount="1.99")  # kept as the customer's credit
    assert after_goodwill.amount_due == Money(-1_99, EUR)
    with pytest.raises(InvalidInvoice, match=r"only 8\.00 EUR left to credit"):
        refunds.refund_invoice(ctx, invoice.id)
    assert refunds.list_refunds(ctx) == [] and sandbox(ctx).charges()[0]["refunded"] == Money(0, EUR)
    refunds.refund_invoice(ctx, invoice.id, amount="8.00")
    assert invoices.get_invoice(ctx, invoice.id).amount_due == Money(-1_99, EUR)
    check_ledger(ctx)


def test_a_transfer_payment_is_refunded_by_transfer_and_leaves_the_bank_account(ctx: ServiceContext) -> None:
    from aboguard.domain.catalog import PaymentMethodKind
    from aboguard.domain.payment_methods import PaymentMethodSpec
    _, sub = customer_paying_with(ctx, "wire@example.de", PaymentMethodSpec(PaymentMethodKind.BANK_TRANSFER))
    billing.run_billing(ctx)
    invoice = invoices.list_invoices(ctx, subscription_id=sub)[0]
    collection.record_manual_payment(ctx, invoice.id, method="transfer")
    with pytest.raises(InvalidRefund, match="pay it out with --method transfer or cash"):
        refunds.refund_invoice(ctx, invoice.id)
    outcome = refunds.refund_invoice(ctx, invoice.id, amount="4.00", method="transfer")
    assert [(r.status, r.channel) for r in outcome.refunds] == [(RefundStatus.SUCCEEDED, PayoutChannel.TRANSFER)]
    assert balance(ctx, "bank") == {EUR: 5_99}
    assert sandbox(ctx).charges() == []
    with pytest.raises(InvalidRefund, match="unknown refund method 'cheque'"):
        refunds.refund_invoice(ctx, invoice.id, method="cheque")
    check_ledger(ctx)


def test_a_refund_that_fails_after_all_gives_the_customer_the_credit_back_and_can_be_paid_by_hand(
        ctx: ServiceContext) -> None:
    invoice = paid_invoice(ctx, token="tok_refund_fails")
    outcome = refunds.refund_invoice(ctx, invoice.id)
    [refund] = outcome.refunds
    assert refund.status is RefundStatus.SUCCEEDED
    ctx.clock.advance(days=2)  # type: ignore[attr-defined]
    report = collection.run_collection(ctx)
    assert report.events_by_type.get("refund.failed") == 1
    failed = refunds.get_refund(ctx, refund.id)[0]
    assert failed.status is RefundStatus.FAILED and failed.failure_code == "expired_or_canceled_card"
    after = invoices.get_invoice(ctx, invoice.id)
    assert after.amount_due == Money(-9_99, EUR)  # the credit note stands: the customer holds 9.99
    assert balance(ctx, f"receivable:{invoice.customer_id}") == {EUR: -9_99}
    assert balance(ctx, "clearing:sandbox") == {EUR: 9_99}
    check_ledger(ctx)
    again = refunds.retry_refund(ctx, refund.id, method="transfer")
    assert again.status is RefundStatus.SUCCEEDED and again.retry_of == refund.id
    assert invoices.get_invoice(ctx, invoice.id).amount_due == Money(0, EUR)
    assert balance(ctx, f"receivable:{invoice.customer_id}") == {}
    with pytest.raises(InvalidRefund, match="paid out again already"):
        refunds.retry_refund(ctx, refund.id, method="cash")
    with pytest.raises(InvalidRefund, match="only a failed refund"):
        refunds.retry_refund(ctx, again.id)
    check_ledger(ctx)


def test_a_refund_the_gateway_refuses_leaves_the_credit_note_and_a_failed_refund(ctx: ServiceContext) -> None:
    invoice = paid_invoice(ctx, token="4000000000000259")  # charged back 7 days later
    ctx.clock.advance(days=8)  # type: ignore[attr-defined]
    outcome = refunds.refund_invoice(ctx, invoice.id)  # the chargeback has not been delivered to us yet
    [refund] = outcome.refunds
    assert refund.status is RefundStatus.FAILED and refund.failure_code == "gateway.refund_not_allowed"
    collection.run_collection(ctx)  # now the chargeback arrives
    after = invoices.get_invoice(ctx, invoice.id)
    assert after.paid == Money(0, EUR) and after.amount_due == Money(0, EUR) and after.status is InvoiceStatus.VOID
    assert sandbox(ctx).charges()[0]["refunded"] == Money(0, EUR)
    check_ledger(ctx)


def test_a_refund_made_in_the_providers_dashboard_gets_its_credit_note_once(ctx: ServiceContext) -> None:
    invoice = paid_invoice(ctx)
    [charge] = sandbox(ctx).charges()
    sandbox(ctx).refund(charge["payment_id"], Money(3_00, EUR), "dashboard-refund-1")
    collection.run_collection(ctx)
    [refund] = refunds.list_refunds(ctx)
    assert refund.status is RefundStatus.SUCCEEDED and refund.amount == Money(3_00, EUR)
    [note] = invoices.list_invoices(ctx, kind="credit_note")
    assert note.total == Money(3_00, EUR) and note.corrects_id == invoice.id
    for headers, body in sandbox(ctx).redeliver_all():  # the provider sends it again
        assert collection.apply_gateway_event(ctx, ctx.gateway.parse_event(headers, body)) is False  # type: ignore
    assert len(refunds.list_refunds(ctx)) == 1 and len(invoices.list_invoices(ctx, kind="credit_note")) == 1
    assert invoices.get_invoice(ctx, invoice.id).paid == Money(6_99, EUR)
    check_ledger(ctx)


def test_refund_is_refused_for_a_credit_note_and_an_unpaid_invoice(ctx: ServiceContext) -> None:
    invoice = paid_invoice(ctx)
    note, _ = invoices.create_credit_note(ctx, invoice.id, amount="1.00")
    with pytest.raises(InvalidRefund, match="is a credit note"):
        refunds.refund_invoice(ctx, note.id)
    _, sub = customer_paying_with(ctx, "poor@example.de", card("4000000000009995"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    unpaid = invoices.list_invoices(ctx, subscription_id=sub)[0]
    with pytest.raises(InvalidRefund, match="nothing paid"):
        refunds.refund_invoice(ctx, unpaid.id)
    check_ledger(ctx)
