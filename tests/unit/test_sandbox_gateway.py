"""The offline sandbox provider: test tokens, idempotency, its own record, late signed events, refunds."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aboguard.clock import TestClock
from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.declines import DeclineClass
from aboguard.money import Money
from aboguard.payments import (
    ChargeRequest,
    GatewayEventType,
    IdempotencyConflict,
    InvalidGatewayRequest,
    InvalidSignature,
    MalformedEvent,
    MethodRef,
    Outcome,
    PaymentGateway,
    RefundNotAllowed,
)
from aboguard.payments.sandbox import SIGNATURE_HEADER, ProfileKind, SandboxGateway, sign

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
CARD, SEPA, PAYPAL = PaymentMethodKind.CARD, PaymentMethodKind.SEPA_DEBIT, PaymentMethodKind.PAYPAL


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def request(token: str, key: str = "inv-1/attempt-1", amount: Money | None = None, kind: PaymentMethodKind = CARD,
            customer: str = "cus_1") -> ChargeRequest:
    return ChargeRequest(idempotency_key=key, amount=amount or eur(1999), method=MethodRef(kind, token),
                         customer_ref=customer, description="Invoice inv-1")


@pytest.fixture
def clock() -> TestClock:
    return TestClock(START)


@pytest.fixture
def gateway(tmp_path: Path, clock: TestClock) -> SandboxGateway:
    return SandboxGateway(tmp_path / "sandbox.sqlite", clock)


def test_sandbox_implements_the_port(gateway: SandboxGateway) -> None:
    assert isinstance(gateway, PaymentGateway)
    assert gateway.name == "sandbox"


# -- test cards -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("token", "outcome", "code", "cls"), [
    ("tok_visa", Outcome.SUCCEEDED, None, None),
    ("4242424242424242", Outcome.SUCCEEDED, None, None),
    ("tok_mastercard", Outcome.SUCCEEDED, None, None),
    ("5555555555554444", Outcome.SUCCEEDED, None, None),
    ("4000000000009995", Outcome.FAILED, "insufficient_funds", DeclineClass.SOFT),
    ("tok_chargeDeclinedInsufficientFunds", Outcome.FAILED, "insufficient_funds", DeclineClass.SOFT),
    ("4000000000000002", Outcome.FAILED, "generic_decline", DeclineClass.SOFT),
    ("4000000000000069", Outcome.FAILED, "expired_card", DeclineClass.CUSTOMER_ACTION),
    ("4000000000000127", Outcome.FAILED, "incorrect_cvc", DeclineClass.CUSTOMER_ACTION),
    ("4000000000009987", Outcome.FAILED, "lost_card", DeclineClass.HARD),
    ("4000000000009979", Outcome.FAILED, "stolen_card", DeclineClass.HARD),
    ("4100000000000019", Outcome.FAILED, "fraudulent", DeclineClass.FRAUD),
    ("4000000000000119", Outcome.FAILED, "processing_error", DeclineClass.SOFT),
    ("4000000000006975", Outcome.FAILED, "card_velocity_exceeded", DeclineClass.SOFT),
    ("4000002500003155", Outcome.REQUIRES_ACTION, "authentication_required", DeclineClass.CUSTOMER_ACTION),
    ("4000000000000259", Outcome.SUCCEEDED, None, None),
    ("tok_mastercard_mac03", Outcome.FAILED, "do_not_honor", DeclineClass.HARD),
    ("tok_mastercard_mac21", Outcome.FAILED, "do_not_honor", DeclineClass.HARD),
    ("tok_visa_stop_payment", Outcome.FAILED, "revocation_of_authorization", DeclineClass.HARD),
    ("4111111111111111", Outcome.SUCCEEDED, None, None),  # any other valid number
    ("4111111111111112", Outcome.FAILED, "incorrect_number", DeclineClass.CUSTOMER_ACTION),  # Luhn fails
])
def test_test_cards(gateway: SandboxGateway, token: str, outcome: Outcome, code: str | None,
                    cls: DeclineClass | None) -> None:
    result = gateway.charge(request(token))
    assert result.outcome is outcome
    assert result.amount == eur(1999)
    assert result.provider_payment_id
    assert result.created_at == START
    if code is None:
        assert result.decline is None and result.raw_code is None
    else:
        assert result.decline is not None
        assert (result.decline.code, result.decline.decline_class) == (code, cls)
        assert result.raw_code == result.decline.raw_code
    [record] = gateway.charges()
    assert record["outcome"] == outcome.value and record["amount"] == eur(1999)
    assert record["token_last4"] == token[-4:]


def test_mac_cards_forbid_retry(gateway: SandboxGateway) -> None:
    for n, token in enumerate(["tok_mastercard_mac03", "tok_mastercard_mac21", "tok_visa_stop_payment"]):
        decline = gateway.charge(request(token, key=f"k{n}")).decline
        assert decline is not None and decline.retry_allowed is False
    assert gateway.charge(request("4000000000009995", key="k9")).decline.retry_allowed is True  # type: ignore[union-attr]


def test_chargeback_card_reverses_seven_days_later(gateway: SandboxGateway, clock: TestClock) -> None:
    result = gateway.charge(request("4000000000000259"))
    assert gateway.due_events(clock.advance(days=6)) == []
    clock.advance(days=1)
    [delivery] = gateway.due_events(clock.now())
    event = gateway.parse_event(*delivery)
    assert event.type is GatewayEventType.CHARGEBACK
    assert event.provider_payment_id == result.provider_payment_id
    assert event.amount == eur(1999) and event.fee == eur(1500)
    assert event.decline is not None and event.decline.decline_class is DeclineClass.FRAUD
    assert event.occurred_at == START + timedelta(days=7)
    # the payment itself stays succeeded; the reversal is the event
    assert gateway.find_by_idempotency_key("inv-1/attempt-1").outcome is Outcome.SUCCEEDED  # type: ignore[union-attr]
    assert gateway.charges()[0]["status"] == "charged_back"


def test_bank_transfer_and_bad_requests_are_refused(gateway: SandboxGateway) -> None:
    with pytest.raises(InvalidGatewayRequest):
        gateway.charge(request("x", kind=PaymentMethodKind.BANK_TRANSFER))
    with pytest.raises(InvalidGatewayRequest):
        gateway.charge(request("tok_visa", amount=eur(0)))
    with pytest.raises(InvalidGatewayRequest):
        gateway.charge(request("tok_visa", key=" "))
    with pytest.raises(InvalidGatewayRequest):
        gateway.charge(request(""))
    assert gateway.charges() == []


# -- SEPA -------------------------------------------------------------------------------------------------


def test_sepa_debit_is_pending_then_settles_after_two_banking_days(gateway: SandboxGateway,
                                                                  clock: TestClock) -> None:
    result = gateway.charge(request("DE89370400440532013000", kind=SEPA))
    assert result.outcome is Outcome.PENDING and result.decline is None
    assert gateway.due_events(clock.now()) == []
    assert gateway.find_by_idempotency_key("inv-1/attempt-1").outcome is Outcome.PENDING  # type: ignore[union-attr]
    clock.advance(days=2, hours=-1)
    assert gateway.due_events(clock.now()) == []
    clock.advance(hours=1)  # Wednesday 10:00 = D+2 banking days
    [delivery] = gateway.due_events(clock.now())
    event = gateway.parse_event(*delivery)
    assert event.type is GatewayEventType.PAYMENT_SUCCEEDED
    assert event.provider_payment_id == result.provider_payment_id and event.fee is None
    found = gateway.find_by_idempotency_key("inv-1/attempt-1")
    assert found is not None and found.outcome is Outcome.SUCCEEDED
    # the stored response of the first call does not change
    assert gateway.charge(request("DE89370400440532013000", kind=SEPA)) == result


def test_sepa_settlement_skips_weekends_and_target_holidays(gateway: SandboxGateway, clock: TestClock) -> None:
    clock.set(datetime(2026, 4, 2, 9, 0, tzinfo=UTC))  # Thursday before Good Friday (3 Apr) and Easter Monday (6 Apr)
    gateway.charge(request("DE89370400440532013000", kind=SEPA))
    [event] = gateway.events()
    assert event.occurred_at == datetime(2026, 4, 8, 9, 0, tzinfo=UTC)


def test_sepa_reject_before_settlement(gateway: SandboxGateway, clock: TestClock) -> None:
    gateway.charge(request("DE62370400440532013001", kind=SEPA))
    clock.advance(days=1)
    [delivery] = gateway.due_events(clock.now())
    event = gateway.parse_event(*delivery)
    assert event.type is GatewayEventType.PAYMENT_FAILED
    assert event.decline is not None and (event.decline.raw_code, event.decline.retry_allowed) == ("AM04", True)
    found = gateway.find_by_idempotency_key("inv-1/attempt-1")
    assert found is not None and found.outcome is Outcome.FAILED and found.raw_code == "AM04"
    assert found.decline == event.decline
    clock.advance(days=30)
    assert gateway.due_events(clock.now()) == []  # it never settles


@pytest.mark.parametrize(("iban", "code", "days_after_start", "retry"), [
    ("DE35370400440532013002", "AM04", 7, True),  # BD+5 from Monday = next Monday
    ("DE08370400440532013003", "MD06", 16, False),  # BD+12
    ("DE78370400440532013004", "AC04", 7, False),
    ("DE51370400440532013005", "MD01", 7, False),
])
def test_sepa_returns_arrive_after_settlement(gateway: SandboxGateway, clock: TestClock, iban: str, code: str,
                                              days_after_start: int, retry: bool) -> None:
    result = gateway.charge(request(iban, kind=SEPA))
    assert result.outcome is Outcome.PENDING
    clock.set(START + timedelta(days=days_after_start) - timedelta(minutes=1))
    [settled] = [gateway.parse_event(*d) for d in gateway.due_events(clock.now())]
    assert settled.type is GatewayEventType.PAYMENT_SUCCEEDED
    clock.advance(timedelta(minutes=1))
    [returned] = [gateway.parse_event(*d) for d in gateway.due_events(clock.now())]
    assert returned.type is GatewayEventType.PAYMENT_RETURNED
    assert returned.decline is not None and returned.decline.raw_code == code
    assert returned.decline.retry_allowed is retry
    assert returned.fee == eur(300) and returned.amount == eur(1999)
    assert gateway.charges()[0]["status"] == "returned"


def test_invalid_iban_fails_at_once_with_ac01(gateway: SandboxGateway) -> None:
    result = gateway.charge(request("DE00370400440532013000", kind=SEPA))
    assert result.outcome is Outcome.FAILED
    assert result.decline is not None and result.decline.raw_code == "AC01"
    assert result.decline.decline_class is DeclineClass.HARD


def test_sepa_token_may_carry_a_mandate_reference_and_spaces(gateway: SandboxGateway, clock: TestClock) -> None:
    gateway.charge(request("DE35 3704 0044 0532 0130 02|MANDATE-0001", kind=SEPA))
    kinds = [e.type for e in gateway.events()]
    assert kinds == [GatewayEventType.PAYMENT_SUCCEEDED, GatewayEventType.PAYMENT_RETURNED]
    assert "DE35" not in json.dumps([str(v) for r in gateway.charges() for v in r.values()])


# -- PayPal -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("token", "outcome", "raw", "cls"), [
    ("B-SANDBOX-OK", Outcome.SUCCEEDED, None, None),
    ("B-4X123456", Outcome.SUCCEEDED, None, None),
    ("B-SANDBOX-DECLINED", Outcome.FAILED, "INSTRUMENT_DECLINED", DeclineClass.SOFT),
    ("B-SANDBOX-NOFUNDS", Outcome.FAILED, "INSUFFICIENT_FUNDS", DeclineClass.SOFT),
    ("B-SANDBOX-CANCELLED", Outcome.FAILED, "AGREEMENT_ALREADY_CANCELLED", DeclineClass.HARD),
    ("B-SANDBOX-ACTION", Outcome.REQUIRES_ACTION, "PAYER_ACTION_REQUIRED", DeclineClass.CUSTOMER_ACTION),
])
def test_paypal_tokens(gateway: SandboxGateway, token: str, outcome: Outcome, raw: str | None,
                       cls: DeclineClass | None) -> None:
    result = gateway.charge(request(token, kind=PAYPAL))
    assert result.outcome is outcome and result.raw_code == raw
    assert (result.decline.decline_class if result.decline else None) == cls


# -- idempotency ------------------------------------------------------------------------------------------


def test_same_key_returns_the_same_result_and_charges_once(gateway: SandboxGateway, clock: TestClock,
                                                           tmp_path: Path) -> None:
    first = gateway.charge(request("tok_visa"))
    clock.advance(hours=1)
    assert gateway.charge(request("tok_visa")) == first
    other = SandboxGateway(tmp_path / "sandbox.sqlite", clock)  # e.g. another process after a crash
    assert other.charge(request("tok_visa")) == first
    assert other.find_by_idempotency_key("inv-1/attempt-1") == first
    assert len(gateway.charges()) == 1
    assert gateway.charges()[0]["payment_id"] == first.provider_payment_id


def test_a_declined_result_is_replayed_too(gateway: SandboxGateway) -> None:
    first = gateway.charge(request("4000000000009995"))
    assert gateway.charge(request("4000000000009995")) == first
    assert len(gateway.charges()) == 1


def test_unknown_key_is_not_found(gateway: SandboxGateway) -> None:
    assert gateway.find_by_idempotency_key("never-sent") is None


def test_reusing_a_key_for_another_charge_is_a_conflict(gateway: SandboxGateway) -> None:
    gateway.charge(request("tok_visa"))
    with pytest.raises(IdempotencyConflict):
        gateway.charge(request("tok_visa", amount=eur(2000)))
    with pytest.raises(IdempotencyConflict):
        gateway.charge(request("tok_visa", amount=Money(1999, "USD")))
    with pytest.raises(IdempotencyConflict):
        gateway.charge(request("tok_mastercard"))
    assert len(gateway.charges()) == 1


def test_concurrent_charges_with_one_key_create_one_charge(tmp_path: Path, clock: TestClock) -> None:
    path = tmp_path / "shared.sqlite"
    gateways = [SandboxGateway(path, clock) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: gateways[n % 4].charge(request("tok_visa")), range(16)))
    assert len({r.provider_payment_id for r in results}) == 1
    assert len(gateways[0].charges()) == 1


def test_different_keys_are_different_charges(gateway: SandboxGateway) -> None:
    a = gateway.charge(request("tok_visa", key="a"))
    b = gateway.charge(request("tok_visa", key="b"))
    assert a.provider_payment_id != b.provider_payment_id
    assert [r["idempotency_key"] for r in gateway.charges()] == ["a", "b"]


# -- webhook deliveries -----------------------------------------------------------------------------------


def test_events_are_delivered_once_and_redelivered_with_the_same_ids(gateway: SandboxGateway,
                                                                    clock: TestClock) -> None:
    gateway.charge(request("DE35370400440532013002", kind=SEPA, key="a"))
    gateway.charge(request("DE89370400440532013000", kind=SEPA, key="b"))
    assert gateway.due_events(clock.now()) == []
    first = gateway.due_events(START + timedelta(days=30))
    ids = [gateway.parse_event(*d).id for d in first]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert gateway.due_events(START + timedelta(days=30)) == []
    again = gateway.redeliver_all()
    assert [gateway.parse_event(*d).id for d in again] == ids
    assert again == first
    events = [gateway.parse_event(*d) for d in first]
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)


def test_signature_verifies_and_tampering_is_refused(gateway: SandboxGateway) -> None:
    gateway.charge(request("DE89370400440532013000", kind=SEPA))
    [(headers, body)] = gateway.due_events(START + timedelta(days=5))
    assert headers[SIGNATURE_HEADER] == sign("whsec_sandbox", body)
    assert gateway.parse_event({k.upper(): v for k, v in headers.items()}, body).amount == eur(1999)
    tampered = body.replace(b'"amount_minor":1999', b'"amount_minor":1')
    assert tampered != body
    with pytest.raises(InvalidSignature):
        gateway.parse_event(headers, tampered)
    with pytest.raises(InvalidSignature):
        gateway.parse_event({SIGNATURE_HEADER: "0" * 64}, body)
    with pytest.raises(InvalidSignature):
        gateway.parse_event({SIGNATURE_HEADER: headers[SIGNATURE_HEADER] + "ü"}, body)
    with pytest.raises(InvalidSignature):
        gateway.parse_event({}, body)
    with pytest.raises(InvalidSignature):
        gateway.parse_event({SIGNATURE_HEADER: sign("another_secret", body)}, body)


def test_signed_garbage_is_a_malformed_event(gateway: SandboxGateway) -> None:
    body = b'{"id": "evt_x"}'
    with pytest.raises(MalformedEvent):
        gateway.parse_event({SIGNATURE_HEADER: sign("whsec_sandbox", body)}, body)


def test_another_secret_is_used_for_signing(tmp_path: Path, clock: TestClock) -> None:
    gateway = SandboxGateway(tmp_path / "s.sqlite", clock, secret="whsec_other", name="sbx2")
    gateway.charge(request("DE89370400440532013000", kind=SEPA))
    [(headers, body)] = gateway.due_events(START + timedelta(days=5))
    assert headers[SIGNATURE_HEADER] == sign("whsec_other", body)
    with pytest.raises(InvalidSignature):
        SandboxGateway(tmp_path / "s.sqlite", clock).parse_event(headers, body)


# -- refunds ----------------------------------------------------------------------------------------------


def test_refunds(gateway: SandboxGateway, clock: TestClock) -> None:
    paid = gateway.charge(request("tok_visa"))
    assert paid.provider_payment_id is not None
    part = gateway.refund(paid.provider_payment_id, eur(999), "refund-1")
    assert part.outcome is Outcome.SUCCEEDED and part.amount == eur(999) and part.provider_refund_id
    assert gateway.refund(paid.provider_payment_id, eur(999), "refund-1") == part  # idempotent
    with pytest.raises(IdempotencyConflict):
        gateway.refund(paid.provider_payment_id, eur(500), "refund-1")
    with pytest.raises(InvalidGatewayRequest):
        gateway.refund(paid.provider_payment_id, eur(1001), "refund-2")  # only 10.00 left
    rest = gateway.refund(paid.provider_payment_id, eur(1000), "refund-3")
    assert rest.provider_refund_id != part.provider_refund_id
    assert gateway.charges()[0]["refunded"] == eur(1999)
    events = [gateway.parse_event(*d) for d in gateway.due_events(clock.now())]
    assert [(e.type, e.amount) for e in events] == [(GatewayEventType.REFUND_SUCCEEDED, eur(999)),
                                                    (GatewayEventType.REFUND_SUCCEEDED, eur(1000))]
    assert {e.provider_payment_id for e in events} == {paid.provider_payment_id}


def test_refund_refusals(gateway: SandboxGateway, clock: TestClock) -> None:
    with pytest.raises(InvalidGatewayRequest):
        gateway.refund("py_unknown", eur(100), "r0")
    declined = gateway.charge(request("4000000000009995", key="declined"))
    with pytest.raises(RefundNotAllowed):
        gateway.refund(declined.provider_payment_id or "", eur(100), "r1")
    pending = gateway.charge(request("DE89370400440532013000", kind=SEPA, key="sepa"))
    with pytest.raises(RefundNotAllowed):
        gateway.refund(pending.provider_payment_id or "", eur(100), "r2")
    paid = gateway.charge(request("tok_visa", key="card"))
    with pytest.raises(InvalidGatewayRequest):
        gateway.refund(paid.provider_payment_id or "", Money(100, "USD"), "r3")
    with pytest.raises(InvalidGatewayRequest):
        gateway.refund(paid.provider_payment_id or "", eur(0), "r4")
    clock.advance(days=2)  # the SEPA debit has settled now
    assert gateway.refund(pending.provider_payment_id or "", eur(100), "r5").outcome is Outcome.SUCCEEDED


# -- stochastic mode --------------------------------------------------------------------------------------


def _simulate(path: Path, seed: int) -> list[tuple[str, str, str | None]]:
    clock = TestClock(datetime(2026, 1, 1, 8, 0, tzinfo=UTC))
    gateway = SandboxGateway(path, clock, behaviour_seed=seed)
    seen = []
    for day in range(0, 210, 10):
        clock.set(datetime(2026, 1, 1, 8, 0, tzinfo=UTC) + timedelta(days=day))
        for n in range(18):
            kind, token = [(CARD, "tok_sim"), (SEPA, "sim_iban"), (PAYPAL, "pp_sim")][n % 3]
            result = gateway.charge(request(token, key=f"c{n}/d{day}", kind=kind, customer=f"cus_{n}"))
            seen.append((f"c{n}/d{day}", result.outcome.value, result.raw_code))
    seen += [(e.id, e.type.value, e.decline.raw_code if e.decline else None) for e in gateway.events()]
    return seen


def test_stochastic_mode_is_reproducible_for_a_seed(tmp_path: Path) -> None:
    one = _simulate(tmp_path / "a.sqlite", seed=7)
    assert one == _simulate(tmp_path / "b.sqlite", seed=7)
    assert one != _simulate(tmp_path / "c.sqlite", seed=8)
    assert {raw for _, _, raw in one} - {None}  # something did fail


def test_profiles_are_stable_and_varied(tmp_path: Path, clock: TestClock) -> None:
    gateway = SandboxGateway(tmp_path / "p.sqlite", clock, behaviour_seed=42)
    profiles = [gateway.profile_for(f"cus_{n}") for n in range(300)]
    assert profiles == [SandboxGateway(tmp_path / "p.sqlite", clock, behaviour_seed=42).profile_for(f"cus_{n}")
                        for n in range(300)]
    assert {p.kind for p in profiles} == set(ProfileKind)
    unseeded = SandboxGateway(tmp_path / "q.sqlite", clock)
    assert {unseeded.profile_for(f"cus_{n}").kind for n in range(50)} == {ProfileKind.RELIABLE}


def test_short_of_funds_fails_only_near_month_end(tmp_path: Path, clock: TestClock) -> None:
    gateway = SandboxGateway(tmp_path / "m.sqlite", clock, behaviour_seed=3)
    short = next(f"cus_{n}" for n in range(1000)
                 if gateway.profile_for(f"cus_{n}").kind is ProfileKind.SHORT_OF_FUNDS)
    failures: dict[str, int] = {"mid": 0, "end": 0}
    for n in range(60):
        for when, day in (("mid", 10), ("end", 28)):
            clock.set(datetime(2026, 3, day, 12, 0, tzinfo=UTC))
            result = gateway.charge(request("tok_sim", key=f"{when}-{n}", customer=short))
            if result.outcome is Outcome.FAILED:
                assert result.raw_code == "insufficient_funds"
                failures[when] += 1
    assert failures["mid"] == 0 and failures["end"] > 0


def test_gone_and_expiring_profiles(tmp_path: Path, clock: TestClock) -> None:
    gateway = SandboxGateway(tmp_path / "g.sqlite", clock, behaviour_seed=5)
    profiles = {f"cus_{n}": gateway.profile_for(f"cus_{n}") for n in range(500)}
    gone = next(c for c, p in profiles.items() if p.kind is ProfileKind.GONE)
    expiring = next(c for c, p in profiles.items() if p.kind is ProfileKind.CARD_EXPIRING)
    clock.set(datetime(2027, 6, 15, 12, 0, tzinfo=UTC))  # after every gone_from / expires_on
    assert gateway.charge(request("tok_sim", key="g1", customer=gone)).raw_code == "lost_card"
    assert gateway.charge(request("tok_sim", key="e1", customer=expiring)).raw_code == "expired_card"
    assert gateway.charge(request("sim_iban", key="g2", kind=SEPA, customer=gone)).outcome is Outcome.PENDING
    clock.advance(days=3)
    [event] = [gateway.parse_event(*d) for d in gateway.due_events(clock.now())]
    assert event.type is GatewayEventType.PAYMENT_FAILED and event.decline and event.decline.raw_code == "AC04"


def test_a_replacement_method_works_where_the_original_keeps_failing(tmp_path: Path, clock: TestClock) -> None:
    gateway = SandboxGateway(tmp_path / "n.sqlite", clock, behaviour_seed=5)
    profiles = {f"cus_{n}": gateway.profile_for(f"cus_{n}") for n in range(500)}
    gone = next(c for c, p in profiles.items() if p.kind is ProfileKind.GONE)
    expiring = next(c for c, p in profiles.items() if p.kind is ProfileKind.CARD_EXPIRING)
    clock.set(datetime(2027, 6, 15, 12, 0, tzinfo=UTC))  # mid-month, after every gone_from / expires_on
    # the original simulation tokens keep failing, also with a suffix ...
    assert gateway.charge(request("tok_sim_x", key="g0", customer=gone)).raw_code == "lost_card"
    assert gateway.charge(request("tok_sim", key="e0", customer=expiring)).raw_code == "expired_card"
    assert gateway.charge(request("pp_sim", key="p0", kind=PAYPAL, customer=gone)).outcome is Outcome.FAILED
    # ... a method added after being asked for a new one works
    for key, token, kind, customer in [("g1", "tok_sim_new", CARD, gone), ("e1", "tok_sim_new_b", CARD, expiring),
                                       ("p1", "pp_sim_new", PAYPAL, gone)]:
        result = gateway.charge(request(token, key=key, kind=kind, customer=customer))
        assert (result.outcome, result.raw_code) == (Outcome.SUCCEEDED, None), token
    assert gateway.charge(request("sim_iban_new_c", key="s1", kind=SEPA, customer=gone)).outcome is Outcome.PENDING
    clock.advance(days=3)
    [event] = [gateway.parse_event(*d) for d in gateway.due_events(clock.now())]
    assert event.type is GatewayEventType.PAYMENT_SUCCEEDED


def test_a_replacement_method_is_still_short_of_funds_at_month_end(tmp_path: Path, clock: TestClock) -> None:
    gateway = SandboxGateway(tmp_path / "s.sqlite", clock, behaviour_seed=3)
    short = next(f"cus_{n}" for n in range(1000)
                 if gateway.profile_for(f"cus_{n}").kind is ProfileKind.SHORT_OF_FUNDS)
    codes = set()
    for month in range(1, 13):  # the account is short on some month ends, not on others
        clock.set(datetime(2026, month, 27, 12, 0, tzinfo=UTC))
        codes.add(gateway.charge(request("tok_sim_new", key=f"end-{month}", customer=short)).raw_code)
    assert codes == {None, "insufficient_funds"}


def test_a_simulated_customer_is_the_tokens_number_and_has_one_account_balance_a_day(
        tmp_path: Path, clock: TestClock) -> None:
    gateway = SandboxGateway(tmp_path / "d.sqlite", clock, behaviour_seed=3)
    short = next(n for n in range(1000) if gateway.profile_for(f"sim-{n}").kind is ProfileKind.SHORT_OF_FUNDS)
    for month in range(1, 13):
        clock.set(datetime(2026, month, 27, 12, 0, tzinfo=UTC))
        # the same person whatever the installation calls them; every charge of one day sees the same balance
        outcomes = {gateway.charge(request(f"tok_sim_{short}", key=f"{month}-{ref}", customer=ref)).raw_code
                    for ref in ("cus_a", "cus_b", "cus_c")}
        sepa = gateway.charge(request(f"DE89370400440532013000|SIM-{short}", key=f"{month}-sepa", kind=SEPA))
        assert len(outcomes) == 1 and sepa.outcome is Outcome.PENDING
    assert gateway.charge(request("DE89370400440532013000|AG-1", key="plain", kind=SEPA)).outcome is Outcome.PENDING
