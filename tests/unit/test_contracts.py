"""Consumer contract law: § 309 Nr. 9 BGB plan checks, cancellation dates, withdrawal periods, pro-rata refunds.

Every expected date below is worked out by hand from the engine's documented rule (domain.contracts): the
notice counts so that a cancellation received on ``ends_on - notice_days`` ends the contract on ``ends_on``;
a consumer is never held more than one calendar month after the request once the minimum term is over; a
month-end anchor stays on the month end; dates are the last day of service.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aboguard.domain import contracts as rules
from aboguard.domain import subscriptions as subs
from aboguard.domain.catalog import Audience, PlanSpec, RenewalMode, Terms, build_version
from aboguard.domain.contracts import CancellationKind, InvalidCancellation, WithdrawalRefused
from aboguard.domain.customers import CustomerKind
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.errors import InvalidInput, InvalidPlan
from aboguard.ids import PlanId, PlanVersionId
from aboguard.money import Money
from aboguard.services import public_holidays
from tests.builders import a_customer, a_plan, a_version

MONTH = Interval(IntervalUnit.MONTH)
YEAR = Interval(IntervalUnit.YEAR)
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _build(terms: Terms, audience: Audience = Audience.CONSUMER):
    return build_version(PlanSpec(Money(9_99, "EUR"), MONTH, audience=audience, terms=terms),
                         version_id=PlanVersionId("v"), plan_id=PlanId("p"), number=1, created_at=NOW)


# -- § 309 Nr. 9 BGB -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("terms", [
    Terms(),
    Terms(min_term_months=24, notice_days=30),  # the limits themselves
    Terms(min_term_months=12, notice_days=30, renewal=RenewalMode.INDEFINITE),
    Terms(min_term_months=1, notice_days=0),
])
def test_consumer_plans_within_309_nr_9_are_accepted(terms: Terms) -> None:
    assert _build(terms).terms == terms


@pytest.mark.parametrize(("terms", "message"), [
    (Terms(min_term_months=25), "at most 24 months"),
    (Terms(min_term_months=36, notice_days=30), "at most 24 months"),
    (Terms(min_term_months=12, notice_days=31), "at most one month"),
    (Terms(min_term_months=12, notice_days=90), "at most one month"),
    (Terms(min_term_months=12, notice_days=30, renewal=RenewalMode.FIXED_TERM, renewal_term_months=12),
     "may not renew for another fixed term"),
    (Terms(min_term_months=24, notice_days=30, renewal=RenewalMode.FIXED_TERM, renewal_term_months=1),
     "may not renew for another fixed term"),
])
def test_consumer_plans_breaking_309_nr_9_are_refused_naming_the_rule(terms: Terms, message: str) -> None:
    with pytest.raises(InvalidPlan, match=message) as refused:
        _build(terms)
    assert "309 Nr. 9 BGB" in str(refused.value)


@pytest.mark.parametrize("terms", [
    Terms(min_term_months=36, notice_days=90),
    Terms(min_term_months=12, notice_days=90, renewal=RenewalMode.FIXED_TERM, renewal_term_months=12),
])
def test_business_plans_may_bind_longer_and_renew_for_fixed_terms(terms: Terms) -> None:
    assert _build(terms, Audience.BUSINESS).terms == terms


# -- cancellation dates ---------------------------------------------------------------------------------------

D = date
FIXED_12 = dict(renewal=RenewalMode.FIXED_TERM, renewal_term_months=12)
CASES = [
    # id, start, interval, min term, notice, business, extra terms, received on, hand-computed last day
    ("inside the minimum term", D(2024, 1, 31), MONTH, 12, 30, False, {}, D(2024, 6, 15), D(2025, 1, 30)),
    ("on the deadline", D(2024, 1, 31), MONTH, 12, 30, False, {}, D(2025, 1, 1), D(2025, 1, 30)),
    ("a day after the deadline: one month cap", D(2024, 1, 31), MONTH, 12, 30, False, {}, D(2025, 1, 2),
     D(2025, 1, 31)),
    ("24 months, last deadline", D(2024, 1, 31), MONTH, 24, 30, False, {}, D(2025, 12, 31), D(2026, 1, 30)),
    ("leap start, term ends 28 Feb", D(2024, 2, 29), MONTH, 12, 0, False, {}, D(2024, 3, 10), D(2025, 2, 27)),
    ("leap start, no term, period end 29 Mar", D(2024, 2, 29), MONTH, 0, 0, False, {}, D(2024, 3, 10),
     D(2024, 3, 28)),
    ("period boundary on 29 Feb", D(2023, 3, 31), MONTH, 0, 0, False, {}, D(2024, 2, 28), D(2024, 2, 28)),
    ("consumer cut to request + notice", D(2023, 1, 31), MONTH, 0, 14, False, {}, D(2023, 2, 20), D(2023, 3, 5)),
    ("business waits for the period end", D(2023, 1, 31), MONTH, 0, 14, True, {}, D(2023, 2, 20), D(2023, 3, 30)),
    ("consumer one month from 31 Jan is 28 Feb", D(2024, 3, 31), MONTH, 0, 30, False, {}, D(2025, 1, 31),
     D(2025, 2, 27)),
    ("business: notice runs into March", D(2024, 3, 31), MONTH, 0, 30, True, {}, D(2025, 1, 31), D(2025, 3, 30)),
    ("yearly consumer after the term", D(2024, 2, 29), YEAR, 12, 30, False, {}, D(2025, 2, 10), D(2025, 3, 9)),
    ("yearly business after the term", D(2024, 2, 29), YEAR, 12, 30, True, {}, D(2025, 2, 10), D(2026, 2, 27)),
    ("fixed term, on the deadline", D(2024, 1, 1), MONTH, 12, 90, True, FIXED_12, D(2024, 10, 3), D(2024, 12, 31)),
    ("fixed term, a day late: renewed", D(2024, 1, 1), MONTH, 12, 90, True, FIXED_12, D(2024, 10, 4),
     D(2025, 12, 31)),
]


def _sub(start: date, interval: Interval, min_term: int, notice: int, business: bool, extra: dict):
    audience = Audience.BUSINESS if business else Audience.CONSUMER
    version = a_version("p", interval=interval, terms=Terms(min_term_months=min_term, notice_days=notice, **extra))
    plan = a_plan(current=version, versions=(version,), audience=audience)
    customer = a_customer(kind=CustomerKind.BUSINESS if business else CustomerKind.CONSUMER)
    sub, _ = subs.start("sub-1", customer=customer, plan=plan, start_on=start, created_at=NOW)
    return sub, version


@pytest.mark.parametrize(("start", "interval", "min_term", "notice", "business", "extra", "received", "last_day"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_ordinary_cancellation_ends_on_the_hand_computed_day(start, interval, min_term, notice, business, extra,
                                                              received, last_day) -> None:
    sub, version = _sub(start, interval, min_term, notice, business, extra)
    ends_on, too_early = rules.decide_end(sub, version, kind=CancellationKind.ORDINARY, received_on=received,
                                          requested_last_day=None, reason=None)
    assert (ends_on - timedelta(days=1), too_early) == (last_day, False)
    cancelled, _ = subs.cancel(sub, version, requested_on=received, ends_on=ends_on)
    assert cancelled.ends_on == ends_on


@pytest.mark.parametrize(("start", "interval", "min_term", "notice", "business", "today", "deadline", "last_day"), [
    (D(2024, 1, 31), MONTH, 12, 30, False, D(2024, 6, 15), D(2025, 1, 1), D(2025, 1, 30)),
    (D(2024, 1, 31), MONTH, 0, 14, False, D(2024, 3, 5), D(2024, 3, 17), D(2024, 3, 30)),
    (D(2024, 2, 29), YEAR, 12, 30, True, D(2024, 6, 1), D(2025, 1, 29), D(2025, 2, 27)),
    (D(2024, 1, 31), MONTH, 0, 0, False, D(2024, 2, 10), D(2024, 2, 28), D(2024, 2, 28)),  # leap: 29 Feb boundary
])
def test_the_window_names_the_last_day_to_cancel_and_the_end_it_gives(start, interval, min_term, notice, business,
                                                                      today, deadline, last_day) -> None:
    sub, version = _sub(start, interval, min_term, notice, business, {})
    window = rules.cancellation_window(sub, version, today)
    assert window is not None and (window.deadline, window.last_day) == (deadline, last_day)
    on_time, _ = rules.decide_end(sub, version, kind=CancellationKind.ORDINARY, received_on=deadline,
                                  requested_last_day=None, reason=None)
    late, _ = rules.decide_end(sub, version, kind=CancellationKind.ORDINARY, received_on=deadline + timedelta(days=1),
                               requested_last_day=None, reason=None)
    assert on_time == window.ends_on
    assert late > window.ends_on or notice == 0  # without notice, the first day of a period still ends it that day


def test_a_wished_for_date_too_early_means_the_earliest_possible_one() -> None:
    sub, version = _sub(D(2024, 1, 31), MONTH, 12, 30, False, {})
    ends_on, too_early = rules.decide_end(sub, version, kind=CancellationKind.ORDINARY, received_on=D(2024, 6, 15),
                                          requested_last_day=D(2024, 7, 31), reason=None)
    assert (ends_on, too_early) == (D(2025, 1, 31), True)
    later, too_early = rules.decide_end(sub, version, kind=CancellationKind.ORDINARY, received_on=D(2024, 6, 15),
                                        requested_last_day=D(2025, 3, 31), reason=None)
    assert (later, too_early) == (D(2025, 4, 1), False)


def test_an_extraordinary_cancellation_needs_a_reason_and_ends_now_or_on_the_wished_day() -> None:
    sub, version = _sub(D(2024, 1, 31), MONTH, 12, 30, False, {})
    with pytest.raises(InvalidCancellation, match="important reason"):
        rules.decide_end(sub, version, kind=CancellationKind.EXTRAORDINARY, received_on=D(2024, 6, 15),
                         requested_last_day=None, reason=" ")
    assert rules.decide_end(sub, version, kind=CancellationKind.EXTRAORDINARY, received_on=D(2024, 6, 15),
                            requested_last_day=None, reason="service unusable") == (D(2024, 6, 15), False)
    assert rules.decide_end(sub, version, kind=CancellationKind.EXTRAORDINARY, received_on=D(2024, 6, 15),
                            requested_last_day=D(2024, 6, 30), reason="moved abroad") == (D(2024, 7, 1), False)


def test_the_window_is_none_once_cancelled() -> None:
    sub, version = _sub(D(2024, 1, 31), MONTH, 0, 0, False, {})
    cancelled, _ = subs.cancel(sub, version, requested_on=D(2024, 2, 10))
    assert rules.cancellation_window(cancelled, version, D(2024, 2, 10)) is None


# -- withdrawal ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("concluded", "instructed", "deadline"), [
    (D(2025, 1, 31), True, D(2025, 2, 14)),  # Friday + 14 days = Friday
    (D(2025, 2, 1), True, D(2025, 2, 17)),  # ends Saturday 15 Feb -> Monday (§ 193 BGB)
    (D(2025, 2, 2), True, D(2025, 2, 17)),  # ends Sunday 16 Feb -> Monday
    (D(2024, 2, 15), True, D(2024, 2, 29)),  # leap day
    (D(2025, 1, 31), False, D(2026, 2, 16)),  # no instruction: 31 Jan 2026 + 14 = Saturday 14 Feb -> Monday
])
def test_withdrawal_deadline(concluded: date, instructed: bool, deadline: date) -> None:
    assert rules.withdrawal_deadline(concluded, instructed=instructed) == deadline


@pytest.mark.parametrize(("concluded", "region", "deadline"), [
    (D(2026, 3, 20), None, D(2026, 4, 7)),  # Good Friday 3 April, weekend, Easter Monday -> Tuesday
    (D(2026, 12, 11), None, D(2026, 12, 28)),  # Christmas Day (Friday), weekend -> Monday
    (D(2026, 4, 30), None, D(2026, 5, 15)),  # Ascension Day, Thursday 14 May -> Friday
    (D(2026, 12, 23), None, D(2027, 1, 6)),  # Epiphany is no holiday everywhere ...
    (D(2026, 12, 23), "BY", D(2027, 1, 7)),  # ... but in Bavaria
    (D(2026, 5, 21), "NW", D(2026, 6, 5)),  # Corpus Christi, Thursday 4 June, in North Rhine-Westphalia
    (D(2026, 5, 21), "HH", D(2026, 6, 4)),  # not in Hamburg
])
def test_a_withdrawal_period_ending_on_a_public_holiday_runs_to_the_next_working_day(
        concluded: date, region: str | None, deadline: date) -> None:
    is_holiday = public_holidays.calendar("DE", region)
    assert rules.withdrawal_deadline(concluded, is_holiday=is_holiday) == deadline


def test_an_unknown_region_is_refused_with_the_choices() -> None:
    with pytest.raises(InvalidInput, match="no region of DE; use one of BB, BE"):
        public_holidays.calendar("DE", "XX")
    assert public_holidays.calendar("DE", None)(D(2026, 10, 3))  # German Unity Day


def test_withdrawal_is_open_on_the_deadline_and_refused_a_day_later_and_for_businesses() -> None:
    sub, _ = _sub(D(2025, 1, 31), MONTH, 0, 0, False, {})
    assert rules.check_withdrawal(sub, concluded_on=D(2025, 1, 31), received_on=D(2025, 2, 14),
                                  instructed=True) == D(2025, 2, 14)
    with pytest.raises(WithdrawalRefused, match="ended on 2025-02-14"):
        rules.check_withdrawal(sub, concluded_on=D(2025, 1, 31), received_on=D(2025, 2, 15), instructed=True)
    business, _ = _sub(D(2025, 1, 31), MONTH, 0, 0, True, {})
    with pytest.raises(WithdrawalRefused, match="consumers only"):
        rules.check_withdrawal(business, concluded_on=D(2025, 1, 31), received_on=D(2025, 2, 1), instructed=True)


@pytest.mark.parametrize(("withdrawn", "expected"), [
    (D(2025, 1, 31), 9_99),  # the first day: nothing used
    (D(2025, 2, 8), 7_14),  # 20 of 28 days unused: 9.99 * 20 / 28 = 7.1357
    (D(2025, 2, 27), 36),  # one day left: 0.3568
    (D(2025, 2, 28), 0),  # the period is over
    (D(2025, 1, 1), 9_99),  # before the period starts: all of it
])
def test_unused_share_is_pro_rata_by_day(withdrawn: date, expected: int) -> None:
    share = rules.unused_share(Money(9_99, "EUR"), D(2025, 1, 31), D(2025, 2, 28), withdrawn)
    assert share == Money(expected, "EUR")
