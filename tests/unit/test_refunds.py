"""How a refund is spread over an invoice's payments, and its states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from aboguard.domain import refunds
from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.payments import AttemptStatus, PaymentAttempt
from aboguard.domain.refunds import InvalidRefund, PayoutChannel, RefundStatus
from aboguard.ids import CustomerId, InvoiceId
from aboguard.money import Money

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def payment(n: int, minor: int, status: AttemptStatus = AttemptStatus.SUCCEEDED) -> PaymentAttempt:
    return PaymentAttempt(id=f"pay-{n}", invoice_id=InvoiceId("inv"), customer_id=CustomerId("cus"), number=n,
                          idempotency_key=f"inv/attempt-{n}", amount=eur(minor), method_kind=PaymentMethodKind.CARD,
                          payment_method_id="pm", gateway="sandbox", status=status,
                          created_at=NOW + timedelta(days=n), updated_at=NOW, provider_payment_id=f"py_{n}")


def refund_of(attempt: PaymentAttempt, minor: int, status: RefundStatus = RefundStatus.SUCCEEDED) -> refunds.Refund:
    started = refunds.start(f"re-{attempt.id}-{minor}", invoice_id=InvoiceId("inv"), credit_note_id=InvoiceId("cn"),
                            customer_id=CustomerId("cus"), amount=eur(minor), reason="", now=NOW, attempt=attempt)
    return replace(started, status=status)


def test_a_refund_takes_the_newest_payment_first_and_spills_over_to_older_ones() -> None:
    older, newer = payment(1, 5_00), payment(2, 4_99)
    parts = refunds.split_over_payments(eur(7_00), [older, newer], {})
    assert [(a.id, m) for a, m in parts] == [("pay-2", eur(4_99)), ("pay-1", eur(2_01))]


def test_what_was_refunded_or_is_under_way_is_not_refunded_again_but_a_failed_refund_is() -> None:
    first = payment(1, 10_00)
    earlier = {first.id: [refund_of(first, 3_00), refund_of(first, 2_00, RefundStatus.PENDING),
                          refund_of(first, 5_00, RefundStatus.FAILED)]}
    assert refunds.refundable(first, earlier[first.id]) == eur(5_00)
    assert refunds.split_over_payments(eur(5_00), [first], earlier) == [(first, eur(5_00))]
    with pytest.raises(InvalidRefund, match=r"only 5\.00 EUR of the 5\.01 EUR can go back"):
        refunds.split_over_payments(eur(5_01), [first], earlier)


def test_returned_and_failed_payments_cannot_be_refunded() -> None:
    with pytest.raises(InvalidRefund, match="--method transfer or cash"):
        refunds.split_over_payments(eur(1_00), [payment(1, 9_99, AttemptStatus.REVERSED),
                                                payment(2, 9_99, AttemptStatus.FAILED)], {})


def test_keys_are_stable_per_credit_note_payment_and_number() -> None:
    a = refunds.start("r1", invoice_id=InvoiceId("inv"), credit_note_id=InvoiceId("cn"), customer_id=CustomerId("c"),
                      amount=eur(1_00), reason="", now=NOW, attempt=payment(1, 9_99))
    assert a.idempotency_key == "cn/refund-pay-1-1" and a.channel is PayoutChannel.GATEWAY
    by_hand = refunds.start("r2", invoice_id=InvoiceId("inv"), credit_note_id=InvoiceId("cn"),
                            customer_id=CustomerId("c"), amount=eur(1_00), reason="", now=NOW,
                            channel=PayoutChannel.CASH, number=2)
    assert by_hand.idempotency_key == "cn/refund-manual-2" and by_hand.attempt_id is None
    with pytest.raises(InvalidRefund, match="needs the payment"):
        refunds.start("r3", invoice_id=InvoiceId("inv"), credit_note_id=InvoiceId("cn"), customer_id=CustomerId("c"),
                      amount=eur(1_00), reason="", now=NOW)


def test_a_refund_succeeds_or_fails_once() -> None:
    started = refund_of(payment(1, 9_99), 9_99, RefundStatus.PENDING)
    done, events = refunds.succeeded(started, "re_1", NOW)
    assert done.status is RefundStatus.SUCCEEDED and [e.name for e in events] == ["refund.succeeded"]
    assert refunds.succeeded(done, "re_1", NOW) == (done, [])
    assert refunds.failed(done, "x", "y", NOW) == (done, [])
    failed, events = refunds.failed(started, "expired_card", "gone", NOW)
    assert failed.failure_code == "expired_card" and [e.name for e in events] == ["refund.failed"]
