"""Dunning policies: validation, choice by segment, TOML, and how a case moves through its steps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from aboguard.domain import dunning as rules
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.customers import CustomerKind
from aboguard.domain.dunning import (
    CaseStatus,
    Channel,
    DunningAction,
    DunningPolicy,
    DunningStep,
    InvalidDunningPolicy,
    Segment,
)
from aboguard.errors import InvalidInput, InvalidTransition
from aboguard.ids import CustomerId, InvoiceId

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)
DUE = date(2026, 3, 2)


def policy(*steps: DunningStep, code: str = "p", segment: Segment = Segment(), priority: int = 0) -> DunningPolicy:
    return DunningPolicy(code=code, name=code, steps=steps, segment=segment, priority=priority)


def step(day: int, action: DunningAction, fee: str = "0", channel: Channel = Channel.EMAIL) -> DunningStep:
    return DunningStep(day, action, Decimal(fee), channel)


def test_the_defaults_follow_german_practice() -> None:
    for default in rules.DEFAULT_POLICIES:
        actions = [s.action for s in default.steps]
        assert actions[:2] == [DunningAction.REMINDER, DunningAction.DUNNING_1]
        assert all(s.fee == 0 for s in default.steps if s.action in {DunningAction.REMINDER,
                                                                     DunningAction.DUNNING_1})
        assert all(s.fee <= rules.MAX_LETTER_FEE for s in default.steps)
        assert all(s.channel is Channel.LETTER for s in default.steps if s.fee)


@pytest.mark.parametrize(("steps", "message"), [
    ((), "has no steps"),
    ((step(10, DunningAction.DUNNING_1), step(3, DunningAction.REMINDER)), "in the order of their days"),
    ((step(-1, DunningAction.REMINDER),), "cannot be negative"),
    ((step(3, DunningAction.REMINDER), step(4, DunningAction.REMINDER)), "twice"),
    ((step(3, DunningAction.REMINDER, "1.00", Channel.LETTER),), "reminder carries no fee"),
    ((step(3, DunningAction.SUSPEND, "1.00", Channel.LETTER),), "only letters carry a fee"),
    ((step(3, DunningAction.DUNNING_2, "5.00", Channel.LETTER),), "at most 2.50"),
    ((step(3, DunningAction.DUNNING_2, "1.00", Channel.EMAIL),), "e-mail costs nothing"),
])
def test_bad_policies_are_refused_with_the_reason(steps: tuple[DunningStep, ...], message: str) -> None:
    with pytest.raises(InvalidDunningPolicy, match=message):
        policy(*steps)


def test_the_most_specific_matching_policy_wins_and_the_defaults_fill_in() -> None:
    general = policy(step(3, DunningAction.REMINDER), code="consumers",
                     segment=Segment(customer_kind=CustomerKind.CONSUMER))
    sepa = policy(step(5, DunningAction.REMINDER), code="sepa",
                  segment=Segment(customer_kind=CustomerKind.CONSUMER, method_kinds=frozenset({Kind.SEPA_DEBIT})))
    gold = policy(step(7, DunningAction.REMINDER), code="gold", segment=Segment(plan_codes=frozenset({"gold"})),
                  priority=5)
    mine = [general, sepa, gold]
    assert rules.choose_policy(mine, customer_kind=CustomerKind.CONSUMER, method_kind=Kind.SEPA_DEBIT,
                               plan_code="basic").code == "sepa"
    assert rules.choose_policy(mine, customer_kind=CustomerKind.CONSUMER, method_kind=Kind.CARD,
                               plan_code="basic").code == "consumers"
    assert rules.choose_policy(mine, customer_kind=CustomerKind.BUSINESS, method_kind=Kind.CARD,
                               plan_code="gold").code == "gold"
    assert rules.choose_policy(mine, customer_kind=CustomerKind.BUSINESS, method_kind=Kind.CARD,
                               plan_code="basic").code == "business-default"


def test_toml_round_trips_and_reports_bad_input() -> None:
    text = """
    [[policy]]
    code = "b2b"
    name = "Businesses"
    customer_kind = "business"
    payment_methods = ["bank_transfer"]
    business_flat_fee = false
    steps = [{ day = 7, action = "dunning_1" }, { day = 21, action = "final_notice", fee = "2,50", channel = "letter" }]
    """
    [loaded] = rules.policies_from_toml(text)
    assert loaded.segment.method_kinds == frozenset({Kind.BANK_TRANSFER}) and loaded.business_flat_fee is False
    assert loaded.steps[1].fee == Decimal("2.50")
    assert rules.policy_from_dict(rules.policy_to_dict(loaded)) == loaded
    with pytest.raises(InvalidDunningPolicy, match="'weekly' is not one of"):
        rules.policies_from_toml(text.replace('"dunning_1"', '"weekly"'))
    with pytest.raises(InvalidDunningPolicy, match="unknown keys colour"):
        rules.policies_from_toml(text.replace('code = "b2b"', 'code = "b2b"\ncolour = "red"'))
    with pytest.raises(InvalidDunningPolicy, match="more than once"):
        rules.policies_from_toml(text + text)
    with pytest.raises(InvalidDunningPolicy, match="no \\[\\[policy\\]\\]"):
        rules.policies_from_toml("x = 1")


def test_a_case_takes_each_step_on_its_day_once_and_pauses() -> None:
    p = policy(step(3, DunningAction.REMINDER), step(10, DunningAction.DUNNING_1), step(20, DunningAction.COLLECTIONS))
    case = rules.open_case("c", invoice_id=InvoiceId("i"), customer_id=CustomerId("u"), due_on=DUE, policy=p, now=NOW)
    assert case.next_step_on == DUE + timedelta(days=3)
    assert rules.step_due(case, p, DUE + timedelta(days=2)) is None
    first = rules.step_due(case, p, DUE + timedelta(days=3))
    assert first is not None and first.action is DunningAction.REMINDER
    case = rules.advance(case, p, first, today=DUE + timedelta(days=3), now=NOW, default_since=None)
    assert (case.steps_done, case.next_step_on) == (1, DUE + timedelta(days=10))
    paused = rules.pause(case, until=DUE + timedelta(days=15), reason="promise to pay", now=NOW)
    assert rules.step_due(paused, p, DUE + timedelta(days=15)) is None
    assert rules.step_due(paused, p, DUE + timedelta(days=16)).action is DunningAction.DUNNING_1  # type: ignore
    with pytest.raises(InvalidInput, match="say why"):
        rules.pause(case, until=None, reason=" ", now=NOW)
    resumed = rules.resume(paused, today=DUE + timedelta(days=12), now=NOW)
    assert resumed.status is CaseStatus.ACTIVE and resumed.next_step_on == DUE + timedelta(days=12)
    late = rules.advance(resumed, p, p.steps[1], today=DUE + timedelta(days=12), now=NOW,
                         default_since=DUE + timedelta(days=13))
    assert late.default_since == DUE + timedelta(days=13)
    handed = rules.advance(late, p, p.steps[2], today=DUE + timedelta(days=20), now=NOW, default_since=None)
    assert handed.status is CaseStatus.COLLECTIONS and handed.next_step_on is None
    assert rules.step_due(handed, p, DUE + timedelta(days=40)) is None
    with pytest.raises(InvalidTransition):
        rules.pause(handed, until=None, reason="x", now=NOW)
