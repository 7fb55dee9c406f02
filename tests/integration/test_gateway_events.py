"""Gateway events delivered twice, out of order, badly signed or about unknown payments (DESIGN.md rule 5).

The sandbox's deliveries are signed webhook bodies; here they are pushed through aboguard's own delivery path
(:func:`collection.deliver_gateway_events`, which verifies the signature and applies each event) in the order a
test chooses, or applied directly with :func:`collection.apply_gateway_event`. A few events the sandbox never
sends by itself (a chargeback overtaking a SEPA settlement, a success after a late failure) are built in the
sandbox's wire format and signed with its secret. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from aboguard.clock import TestClock
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.catalog import PlanSpec
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.declines import Decline, classify_card
from aboguard.domain.invoicing import InvoiceStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.payments import AttemptStatus, PaymentAttempt
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.money import Money
from aboguard.payments.gateway import GatewayEvent, GatewayEventType, InvalidSignature
from aboguard.payments.sandbox import SIGNATURE_HEADER, SandboxGateway, sign
from aboguard.services import billing, collection, customers, invoices, ledger, payment_methods, plans, subscriptions
from aboguard.services.context import ServiceContext
from aboguard.store.secrets import Secrets
from aboguard.store.sql import SqlUnitOfWorkFactory

KEY = "q0eDqcmZ5aXbSP-1kP9ul5E0J8pCZ7H7hZBD9iDU1Yw="  # fixed, for tests only
SECRET = "whsec_gateway_events_test"
PRICE = Money(9_99, "EUR")

Delivery = tuple[dict[str, str], bytes]


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    """A test clock on Monday 2 March 2026 08:00 UTC, the sandbox gateway, and a monthly 9.99 EUR plan."""
    clock = TestClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    context = ServiceContext(uow=SqlUnitOfWorkFactory(engine, Secrets(KEY)), clock=clock,
                             merchant_tz=ZoneInfo("Europe/Berlin"))
    context.gateway = SandboxGateway(tmp_path / "sandbox.db", clock, secret=SECRET)
    plans.create_plan(context, code="basic", name="Basic", spec=PlanSpec(PRICE, Interval(IntervalUnit.MONTH)))
    return context


# -- helpers -------------------------------------------------------------------------------------------------


def sandbox(ctx: ServiceContext) -> SandboxGateway:
    gateway = ctx.gateway
    assert isinstance(gateway, SandboxGateway)
    return gateway


def card(token: str) -> PaymentMethodSpec:
    return PaymentMethodSpec(Kind.CARD, gateway_token=token, brand="visa", last4=token[-4:] if token[-4:].isdigit()
                             else "4242", exp_month=12, exp_year=2030)


def sepa(iban: str) -> PaymentMethodSpec:
    return PaymentMethodSpec(Kind.SEPA_DEBIT, iban=iban, account_holder="Erika Mustermann")


def subscribe(ctx: ServiceContext, name: str, spec: PaymentMethodSpec) -> str:
    customer = customers.create_customer(ctx, CustomerSpec(email=f"{name}@example.de", name=name, country="DE"))
    payment_methods.add_payment_method(ctx, customer.id, spec)
    return subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic").subscription.id


def attempt_of(ctx: ServiceContext, sub_id: str) -> PaymentAttempt:
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub_id)
    [attempt] = collection.list_payments(ctx, invoice=invoice.id)
    return attempt


def push(ctx: ServiceContext, deliveries: Sequence[Delivery]) -> int:
    """Deliver exactly these webhook deliveries, in this order, through aboguard's delivery path."""
    gateway = sandbox(ctx)
    gateway.due_events = lambda until: list(deliveries)  # type: ignore[method-assign]
    try:
        return collection.deliver_gateway_events(ctx)
    finally:
        del gateway.due_events


def fetch_all_deliveries(ctx: ServiceContext) -> list[Delivery]:
    """Every delivery the sandbox has due now, taken out without applying any (it marks them delivered)."""
    return sandbox(ctx).due_events(ctx.now())


def wire(event: GatewayEvent) -> Delivery:
    """An event in the sandbox's wire format, signed with its secret (for events the sandbox never sends)."""
    decline = event.decline
    body = json.dumps({
        "id": event.id, "type": event.type.value, "payment_id": event.provider_payment_id,
        "amount_minor": event.amount.minor, "currency": event.amount.currency,
        "occurred_at": event.occurred_at.isoformat(),
        "decline": None if decline is None else {
            "code": decline.code, "decline_class": decline.decline_class.value, "raw_code": decline.raw_code,
            "message": decline.message, "network_advice": decline.network_advice,
            "retry_allowed": decline.retry_allowed},
        "fee_minor": event.fee.minor if event.fee is not None else None, "refund_id": event.provider_refund_id,
    }, sort_keys=True, separators=(",", ":")).encode()
    return {"content-type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}, body


def event_of(delivery: Delivery) -> dict[str, Any]:
    return json.loads(delivery[1])


def snapshot(ctx: ServiceContext) -> dict[str, Any]:
    """Everything a gateway event could change; versions catch any write at all."""
    with ctx.uow() as uow:
        attempts = uow.attempts.list(limit=10_000)
        docs = uow.invoices.list(limit=10_000)
        subs = uow.subscriptions.list(limit=10_000)
        return {
            "attempts": sorted((a.id, a.status.value, a.provider_payment_id, a.decline_code, a.decline_class,
                                a.raw_code, a.retry_action, a.retry_on, a.version) for a in attempts),
            "invoices": sorted((i.id, i.status.value, i.paid.minor, i.credited.minor, i.collect_on, i.version)
                               for i in docs),
            "subscriptions": sorted((s.id, s.status.value, s.version) for s in subs),
            "ledger_entries": uow.ledger.count_entries(),
            "balances": uow.ledger.balances(""),
            "events": len(uow.events.list(limit=100_000)),
            "gateway_events": uow.gateway_events.count(),
        }


def nonzero_balances(ctx: ServiceContext) -> dict[str, dict[str, int]]:
    with ctx.uow() as uow:
        found = uow.ledger.balances("")
    return {account: {c: v for c, v in sums.items() if v} for account, sums in found.items()
            if any(sums.values())}


def add_balances(base: dict[str, dict[str, int]], extra: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out = {account: dict(sums) for account, sums in base.items()}
    for account, sums in extra.items():
        for currency, value in sums.items():
            out.setdefault(account, {})[currency] = out.get(account, {}).get(currency, 0) + value
    return {a: {c: v for c, v in s.items() if v} for a, s in out.items() if any(s.values())}


def check_books(ctx: ServiceContext) -> None:
    result = ledger.check_ledger(ctx)
    assert result.ok, (result.unbalanced, result.mismatches)


# -- duplicates ----------------------------------------------------------------------------------------------


def test_redelivering_every_event_changes_nothing(ctx: ServiceContext) -> None:
    subs = {
        "settles": subscribe(ctx, "settles", sepa("DE89370400440532013000")),
        "rejected": subscribe(ctx, "rejected", sepa("DE62370400440532013001")),
        "returned": subscribe(ctx, "returned", sepa("DE35370400440532013002")),
        "refund_requested": subscribe(ctx, "mdsix", sepa("DE08370400440532013003")),
        "charged_back": subscribe(ctx, "chargeback", card("4000000000000259")),
        "paid_by_card": subscribe(ctx, "card", card("tok_visa")),
    }
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    ctx.clock.advance(days=20)  # type: ignore[attr-defined]
    applied = collection.deliver_gateway_events(ctx)
    assert applied == 7  # 3 settlements, 1 rejection, 1 return, 1 refund request, 1 chargeback
    status = {name: attempt_of(ctx, sub).status for name, sub in subs.items()}
    assert status == {"settles": AttemptStatus.SUCCEEDED, "rejected": AttemptStatus.FAILED,
                      "returned": AttemptStatus.REVERSED, "refund_requested": AttemptStatus.REVERSED,
                      "charged_back": AttemptStatus.REVERSED, "paid_by_card": AttemptStatus.SUCCEEDED}
    before = snapshot(ctx)
    assert before["gateway_events"] == 7

    again = sandbox(ctx).redeliver_all()
    assert len(again) == 7
    assert push(ctx, again) == 0
    assert snapshot(ctx) == before
    assert push(ctx, list(reversed(sandbox(ctx).redeliver_all()))) == 0  # a second round, backwards
    assert snapshot(ctx) == before
    with ctx.uow() as uow:
        assert uow.ledger.balance("fees") == {"EUR": 3_00 + 3_00 + 15_00}
    check_books(ctx)


@dataclass(frozen=True)
class Lifecycle:
    spec: PaymentMethodSpec
    days: int
    events: tuple[str, ...]  # event types in the order the sandbox reports them
    final: AttemptStatus
    invoice: InvoiceStatus


LIFECYCLES = {
    "sepa-settles": Lifecycle(sepa("DE89370400440532013000"), 3, ("payment.succeeded",), AttemptStatus.SUCCEEDED,
                              InvoiceStatus.PAID),
    "sepa-late-failure": Lifecycle(sepa("DE62370400440532013001"), 3, ("payment.failed",), AttemptStatus.FAILED,
                                   InvoiceStatus.ISSUED),
    "sepa-return": Lifecycle(sepa("DE78370400440532013004"), 10, ("payment.succeeded", "payment.returned"),
                             AttemptStatus.REVERSED, InvoiceStatus.ISSUED),
    "card-chargeback": Lifecycle(card("4000000000000259"), 10, ("payment.chargeback",), AttemptStatus.REVERSED,
                                 InvoiceStatus.ISSUED),
}


@pytest.mark.parametrize("life", list(LIFECYCLES.values()), ids=list(LIFECYCLES))
def test_the_same_event_applied_twice_changes_nothing_the_second_time(ctx: ServiceContext, life: Lifecycle) -> None:
    sub = subscribe(ctx, "twice", life.spec)
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    ctx.clock.advance(days=life.days)  # type: ignore[attr-defined]
    events = sandbox(ctx).events()
    assert tuple(e.type.value for e in events) == life.events
    for event in events:
        assert collection.apply_gateway_event(ctx, event) is True
        after_first = snapshot(ctx)
        assert collection.apply_gateway_event(ctx, event) is False
        assert snapshot(ctx) == after_first
    attempt = attempt_of(ctx, sub)
    assert attempt.status is life.final
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub)
    assert invoice.status is life.invoice
    # Every one of them once more, interleaved, and the sandbox's own deliveries on top: still nothing.
    final = snapshot(ctx)
    for event in [*events, *reversed(events)]:
        assert collection.apply_gateway_event(ctx, event) is False
    assert collection.deliver_gateway_events(ctx) == 0  # the sandbox delivers them now: already applied
    assert snapshot(ctx) == final
    check_books(ctx)


# -- out of order --------------------------------------------------------------------------------------------


@dataclass
class Mix:
    subs: dict[str, str]
    deliveries: list[Delivery]
    after_billing: dict[str, dict[str, int]]


def build_mix(ctx: ServiceContext) -> Mix:
    """Four customers whose news can arrive in any order:

    * ``returned``: a SEPA debit that settles and is returned (AM04, fee 3.00) -- the return may overtake the
      settlement;
    * ``charged_back``: a SEPA debit that settles, and a chargeback (fraudulent, fee 15.00) that may come first;
    * ``late_failure``: a SEPA debit rejected before settlement (AM04), and a success report for it;
    * ``card``: a card payment charged back (fraudulent, fee 15.00) a week later.
    """
    subs = {
        "returned": subscribe(ctx, "returned", sepa("DE35370400440532013002")),
        "charged_back": subscribe(ctx, "chargedback", sepa("DE89370400440532013000")),
        "late_failure": subscribe(ctx, "latefailure", sepa("DE62370400440532013001")),
        "card": subscribe(ctx, "card", card("4000000000000259")),
    }
    billing.run_billing(ctx)
    after_billing = nonzero_balances(ctx)
    report = collection.run_collection(ctx)
    assert (report.pending, report.succeeded) == (3, 1)
    ctx.clock.advance(days=20)  # type: ignore[attr-defined]
    deliveries = fetch_all_deliveries(ctx)
    now = ctx.now()
    deliveries.append(wire(GatewayEvent(
        "evt_test_chargeback_before_settlement", GatewayEventType.CHARGEBACK,
        attempt_of(ctx, subs["charged_back"]).provider_payment_id or "", PRICE, now - timedelta(days=17),
        classify_card("fraudulent"), Money(15_00, "EUR"))))
    deliveries.append(wire(GatewayEvent(
        "evt_test_success_after_failure", GatewayEventType.PAYMENT_SUCCEEDED,
        attempt_of(ctx, subs["late_failure"]).provider_payment_id or "", PRICE, now - timedelta(days=16))))
    assert sorted(event_of(d)["type"] for d in deliveries) == sorted([
        "payment.succeeded", "payment.returned",  # returned
        "payment.succeeded", "payment.chargeback",  # charged_back
        "payment.failed", "payment.succeeded",  # late_failure
        "payment.chargeback",  # card
    ])
    return Mix(subs, deliveries, after_billing)


def _order(name: str, deliveries: list[Delivery]) -> list[Delivery]:
    if name == "as_reported":
        return list(deliveries)
    if name == "reversed":
        return list(reversed(deliveries))
    kind, _, seed = name.rpartition("-")
    rng = random.Random(int(seed))
    if kind == "shuffled":
        return rng.sample(deliveries, len(deliveries))
    assert kind == "shuffled_twice"  # every delivery twice, all mixed up
    doubled = deliveries * 2
    return rng.sample(doubled, len(doubled))


ORDERS = ["as_reported", "reversed", *(f"shuffled-{n}" for n in range(1, 7)),
          *(f"shuffled_twice-{n}" for n in range(1, 3))]
DECLINES = {"returned": ("insufficient_funds", "soft", "AM04"), "charged_back": ("fraudulent", "fraud", "fraudulent"),
            "late_failure": ("insufficient_funds", "soft", "AM04"), "card": ("fraudulent", "fraud", "fraudulent")}


@pytest.mark.parametrize("order", ORDERS)
def test_events_in_any_order_end_in_the_same_state(ctx: ServiceContext, order: str) -> None:
    mix = build_mix(ctx)
    deliveries = _order(order, mix.deliveries)
    assert push(ctx, deliveries) == len(mix.deliveries)  # each applied once, however often it came

    for name, sub in mix.subs.items():
        [invoice] = invoices.list_invoices(ctx, subscription_id=sub)
        assert (invoice.status, invoice.paid, invoice.amount_due) == (InvoiceStatus.ISSUED, Money.zero("EUR"),
                                                                      PRICE), name
        attempt = attempt_of(ctx, sub)
        # The money did not stay: "failed" when the bad news overtook the good, "reversed" when it followed it.
        assert attempt.status in {AttemptStatus.FAILED, AttemptStatus.REVERSED}, name
        assert (attempt.decline_code, attempt.decline_class, attempt.raw_code) == DECLINES[name], name
        assert subscriptions.get_subscription(ctx, sub).subscription.status is SubscriptionStatus.PAST_DUE, name
    assert attempt_of(ctx, mix.subs["card"]).status is AttemptStatus.REVERSED  # it had succeeded at once

    fees = 3_00 + 15_00 + 15_00
    assert nonzero_balances(ctx) == add_balances(mix.after_billing, {"fees": {"EUR": fees},
                                                                     "clearing:sandbox": {"EUR": -fees}})
    with ctx.uow() as uow:
        assert uow.gateway_events.count() == len(mix.deliveries)
    check_books(ctx)

    # Whatever came first, the whole lot once more changes nothing.
    settled = snapshot(ctx)
    assert push(ctx, list(reversed(deliveries))) == 0
    assert snapshot(ctx) == settled


@pytest.mark.parametrize("first", ["payment.returned", "payment.succeeded"])
def test_a_sepa_return_before_or_after_its_settlement_books_the_fee_once(ctx: ServiceContext, first: str) -> None:
    sub = subscribe(ctx, "back", sepa("DE51370400440532013005"))
    billing.run_billing(ctx)
    before = nonzero_balances(ctx)
    collection.run_collection(ctx)
    ctx.clock.advance(days=10)  # type: ignore[attr-defined]
    deliveries = sorted(fetch_all_deliveries(ctx), key=lambda d: event_of(d)["type"] != first)
    assert event_of(deliveries[0])["type"] == first
    assert push(ctx, deliveries) == 2
    attempt = attempt_of(ctx, sub)
    assert (attempt.decline_code, attempt.decline_class, attempt.raw_code) == ("no_mandate", "hard", "MD01")
    assert attempt.status is (AttemptStatus.FAILED if first == "payment.returned" else AttemptStatus.REVERSED)
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub)
    assert invoice.status is InvoiceStatus.ISSUED and invoice.amount_due == PRICE
    assert nonzero_balances(ctx) == add_balances(before, {"fees": {"EUR": 3_00}, "clearing:sandbox": {"EUR": -3_00}})
    check_books(ctx)
    settled = snapshot(ctx)
    assert push(ctx, sandbox(ctx).redeliver_all()) == 0
    assert snapshot(ctx) == settled


# -- bad signatures and unknown payments ---------------------------------------------------------------------


def _tampered(delivery: Delivery, how: str) -> Delivery:
    headers, body = delivery
    if how == "wrong_secret":
        return {**headers, SIGNATURE_HEADER: sign("whsec_someone_else", body)}, body
    if how == "body_changed":
        data = json.loads(body)
        data["amount_minor"] = 1
        return headers, json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if how == "type_changed":
        data = json.loads(body)
        data["type"] = "payment.returned"
        return headers, json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if how == "no_signature":
        return {k: v for k, v in headers.items() if k != SIGNATURE_HEADER}, body
    if how == "empty_signature":
        return {**headers, SIGNATURE_HEADER: ""}, body
    if how == "truncated_signature":
        return {**headers, SIGNATURE_HEADER: headers[SIGNATURE_HEADER][:-2]}, body
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["wrong_secret", "body_changed", "type_changed", "no_signature", "empty_signature",
                                 "truncated_signature"])
def test_a_delivery_with_a_bad_signature_is_refused_and_changes_nothing(ctx: ServiceContext, how: str) -> None:
    sub = subscribe(ctx, "signed", sepa("DE89370400440532013000"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]
    [good] = fetch_all_deliveries(ctx)
    bad = _tampered(good, how)
    before = snapshot(ctx)
    with pytest.raises(InvalidSignature):
        sandbox(ctx).parse_event(*bad)
    assert push(ctx, [bad]) == 0  # the delivery run refuses it (and reports it) without stopping
    assert snapshot(ctx) == before  # not applied, and its id not recorded as seen
    assert attempt_of(ctx, sub).status is AttemptStatus.PENDING
    # The genuine delivery still works afterwards.
    assert push(ctx, [good]) == 1
    assert attempt_of(ctx, sub).status is AttemptStatus.SUCCEEDED
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub)
    assert invoice.status is InvoiceStatus.PAID
    check_books(ctx)


def test_an_event_for_an_unknown_payment_is_recorded_but_changes_nothing(ctx: ServiceContext) -> None:
    sub = subscribe(ctx, "known", sepa("DE89370400440532013000"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    before = snapshot(ctx)
    stranger = GatewayEvent("evt_test_unknown_payment", GatewayEventType.PAYMENT_RETURNED, "py_sbx_nobody_knows",
                            PRICE, ctx.now(), classify_card("fraudulent"), Money(15_00, "EUR"))
    assert push(ctx, [wire(stranger)]) == 0
    after = snapshot(ctx)
    assert after["gateway_events"] == before["gateway_events"] + 1  # recorded ...
    assert {k: v for k, v in after.items() if k != "gateway_events"} == {
        k: v for k, v in before.items() if k != "gateway_events"}  # ... and nothing else changed
    assert collection.apply_gateway_event(ctx, stranger) is False  # the same again: not even recorded twice
    assert push(ctx, [wire(stranger)]) == 0
    assert snapshot(ctx) == after
    for kind in GatewayEventType:
        if kind.value.startswith("refund."):
            continue
        other = GatewayEvent(f"evt_test_unknown_{kind.value}", kind, "py_sbx_nobody_knows", PRICE, ctx.now(),
                             _decline_for(kind))
        assert collection.apply_gateway_event(ctx, other) is False
    assert snapshot(ctx)["attempts"] == before["attempts"]
    assert attempt_of(ctx, sub).status is AttemptStatus.PENDING
    check_books(ctx)


def _decline_for(kind: GatewayEventType) -> Decline | None:
    return None if kind is GatewayEventType.PAYMENT_SUCCEEDED else classify_card("generic_decline")


class _Crash(Exception):
    pass


def test_news_that_arrives_before_an_interrupted_attempt_is_resolved_is_not_lost(ctx: ServiceContext) -> None:
    """The collector crashed between the gateway call and recording its answer; the settlement and the return
    arrive before the attempt is resolved. They must be kept and applied once the payment is known (at HEAD
    7360c97 they were recorded as "unknown payment" and dropped, and the invoice ended paid)."""
    sub = subscribe(ctx, "crash", sepa("DE35370400440532013002"))  # settles at BD+2, returned AM04 at BD+5
    billing.run_billing(ctx)
    before = nonzero_balances(ctx)
    gateway = sandbox(ctx)
    real_charge = gateway.charge

    def charge_then_crash(request):  # type: ignore[no-untyped-def]
        real_charge(request)
        raise _Crash("the collector died before recording the gateway's answer")

    gateway.charge = charge_then_crash  # type: ignore[method-assign]
    with pytest.raises(_Crash):
        collection.run_collection(ctx)
    del gateway.charge
    assert attempt_of(ctx, sub).provider_payment_id is None
    ctx.clock.advance(days=10)  # type: ignore[attr-defined]
    # The gateway's news is delivered (a webhook, or a delivery run) before the next collection run.
    collection.deliver_gateway_events(ctx)
    collection.run_collection(ctx)  # resolves the interrupted attempt by its key
    assert len(gateway.charges()) == 1  # never charged twice
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub)
    attempt = attempt_of(ctx, sub)
    assert (invoice.status, invoice.amount_due) == (InvoiceStatus.ISSUED, PRICE)
    assert attempt.status in {AttemptStatus.FAILED, AttemptStatus.REVERSED}
    assert attempt.decline_code == "insufficient_funds"
    assert nonzero_balances(ctx) == add_balances(before, {"fees": {"EUR": 3_00}, "clearing:sandbox": {"EUR": -3_00}})
    check_books(ctx)
    settled = snapshot(ctx)
    assert push(ctx, gateway.redeliver_all()) == 0  # the kept events are not applied a second time
    assert snapshot(ctx) == settled
