"""Payment attempts move forward only, so gateway news applied twice or out of order ends the same way."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aboguard.domain import payments as p
from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.declines import classify_card, classify_sepa
from aboguard.domain.payments import AttemptStatus
from aboguard.errors import InvalidTransition
from aboguard.ids import CustomerId, InvoiceId
from aboguard.money import Money

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def an_attempt(number: int = 1) -> p.PaymentAttempt:
    return p.start("att-1", invoice_id=InvoiceId("inv-1"), customer_id=CustomerId("c1"), number=number,
                   amount=Money(9_99, "EUR"), method_kind=PaymentMethodKind.CARD, payment_method_id="pm-1",
                   gateway="sandbox", now=NOW)


def test_the_idempotency_key_comes_from_invoice_and_attempt_number() -> None:
    assert an_attempt().idempotency_key == "inv-1/attempt-1" == p.idempotency_key("inv-1", 1)
    assert an_attempt(2).idempotency_key != an_attempt(1).idempotency_key
    assert an_attempt().status is AttemptStatus.PENDING


def test_success_is_recorded_once() -> None:
    done, events = p.succeeded(an_attempt(), "ch_1", NOW)
    assert done.status is AttemptStatus.SUCCEEDED and done.provider_payment_id == "ch_1"
    assert [e.name for e in events] == ["payment.succeeded"]
    assert p.succeeded(done, "ch_1", NOW) == (done, [])


def test_a_failure_carries_the_normalised_reason() -> None:
    decline = classify_card("insufficient_funds")
    done, events = p.failed(an_attempt(), decline, "insufficient_funds", NOW)
    assert (done.status, done.decline_code, done.decline_class) == (AttemptStatus.FAILED, "insufficient_funds",
                                                                     "soft")
    payload = events[0].payload()
    assert payload["decline_code"] == "insufficient_funds" and payload["retry_allowed"] is True
    assert p.failed(done, decline, "x", NOW) == (done, [])  # a second failure report changes nothing
    assert p.succeeded(done, "ch_late", NOW) == (done, [])  # nor does a late success for a failed attempt


def test_a_return_reverses_only_a_succeeded_payment() -> None:
    done, _ = p.succeeded(an_attempt(), "ch_1", NOW)
    back, events = p.reversed_(done, classify_sepa("AM04"), "AM04", NOW)
    assert back.status is AttemptStatus.REVERSED and events[0].payload()["reason_code"] == back.decline_code
    assert p.reversed_(back, None, None, NOW) == (back, [])
    with pytest.raises(InvalidTransition, match="only a succeeded payment can be returned"):
        p.reversed_(an_attempt(), None, None, NOW)


def test_a_sepa_debit_is_accepted_pending_and_settles_later() -> None:
    accepted = p.accepted(an_attempt(), "py_1", NOW)
    assert accepted.status is AttemptStatus.PENDING and accepted.provider_payment_id == "py_1"
    settled, events = p.succeeded(accepted, None, NOW)
    assert settled.provider_payment_id == "py_1" and events
