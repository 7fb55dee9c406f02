"""Retry policies: decline classes, network rules, pay days, SEPA re-presentation, limits, the fixed baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest

from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.declines import Decline, classify_card, classify_sepa
from aboguard.domain.retries import (
    FailedCharge,
    FixedRetryPolicy,
    RetryAction,
    RetryDecision,
    RetryPolicy,
    SmartRetryPolicy,
    policy_by_name,
)
from aboguard.errors import InvalidInput

CARD, SEPA, PAYPAL = PaymentMethodKind.CARD, PaymentMethodKind.SEPA_DEBIT, PaymentMethodKind.PAYPAL
RETRY, NEW_METHOD, AUTHENTICATE, STOP = (RetryAction.RETRY, RetryAction.ASK_FOR_NEW_METHOD,
                                         RetryAction.ASK_TO_AUTHENTICATE, RetryAction.STOP)
SMART = SmartRetryPolicy()


def failed(on: date, decline: Decline, kind: PaymentMethodKind = CARD) -> FailedCharge:
    """A failed charge as the collection service records it from a classified decline."""
    return FailedCharge(failed_on=on, method_kind=kind, decline_code=decline.code,
                        decline_class=decline.decline_class.value, retry_allowed=decline.retry_allowed,
                        network_advice=decline.network_advice, raw_code=decline.raw_code)


def card(on: date, code: str, *, network: str | None = None, advice: str | None = None,
         kind: PaymentMethodKind = CARD) -> FailedCharge:
    return failed(on, classify_card(code, network=network, advice_code=advice), kind)


def sepa(on: date, code: str) -> FailedCharge:
    return failed(on, classify_sepa(code), SEPA)


def decide(*history: FailedCharge, today: date | None = None, policy: RetryPolicy = SMART) -> RetryDecision:
    return policy.decide(history, today=today or history[-1].failed_on)


def assert_retry(decision: RetryDecision, on: date, *, pre_notification: bool = False) -> None:
    assert decision.action is RETRY, decision.reason
    assert decision.retry_on == on, decision.reason
    assert decision.pre_notification is pre_notification
    assert on.isoformat() in decision.reason


def assert_no_retry(decision: RetryDecision, action: RetryAction) -> None:
    assert decision.action is action, decision.reason
    assert decision.retry_on is None
    assert decision.pre_notification is False
    assert decision.reason


# -- never retry: hard, fraud, network rules, customer action ---------------------------------------------

D = date(2026, 3, 20)


@pytest.mark.parametrize("code", ["lost_card", "stolen_card", "pickup_card", "restricted_card",
                                  "revocation_of_authorization", "stop_payment_order", "do_not_try_again"])
def test_hard_card_declines_ask_for_a_new_method(code: str) -> None:
    assert_no_retry(decide(card(D, code)), NEW_METHOD)


def test_fraud_asks_for_a_new_method() -> None:
    decision = decide(card(D, "fraudulent"))
    assert_no_retry(decision, NEW_METHOD)
    assert "fraud" in decision.reason


@pytest.mark.parametrize("mac", ["03", "21", "3"])
def test_mastercard_mac_03_and_21_forbid_retries(mac: str) -> None:
    decision = decide(card(D, "insufficient_funds", network="mastercard", advice=mac))
    assert_no_retry(decision, NEW_METHOD)
    assert f"Mastercard advice {mac.zfill(2)}" in decision.reason


def test_mac_03_forbids_retries_even_if_the_charge_says_retry_allowed() -> None:
    charge = replace(card(D, "do_not_honor"), network_advice="03")
    assert charge.retry_allowed
    assert_no_retry(decide(charge), NEW_METHOD)


@pytest.mark.parametrize("code", ["R0", "R1", "R3", "41", "43", "46", "14"])
def test_visa_category_1_asks_for_a_new_method(code: str) -> None:
    assert_no_retry(decide(card(D, code, network="visa")), NEW_METHOD)


def test_retry_not_allowed_on_a_soft_card_decline_asks_for_a_new_method() -> None:
    charge = card(D, "do_not_honor", network="mastercard", advice="04")  # token requirements not met
    assert charge.decline_class == "soft" and not charge.retry_allowed
    assert_no_retry(decide(charge), NEW_METHOD)


@pytest.mark.parametrize("code", ["expired_card", "incorrect_number", "incorrect_cvc", "invalid_expiry_month",
                                  "card_not_supported"])
def test_customer_action_asks_for_a_new_method(code: str) -> None:
    assert_no_retry(decide(card(D, code)), NEW_METHOD)


def test_authentication_required_asks_to_authenticate() -> None:
    decision = decide(card(D, "authentication_required"))
    assert_no_retry(decision, AUTHENTICATE)
    assert "3-D Secure" in decision.reason
    paypal = failed(D, replace(classify_card("authentication_required"), raw_code="PAYER_ACTION_REQUIRED"), PAYPAL)
    assert_no_retry(decide(paypal), AUTHENTICATE)


def test_a_hard_decline_asks_for_a_new_method_even_when_attempts_are_used_up() -> None:
    history = [card(D + timedelta(days=i), "processing_error") for i in range(7)]
    assert_no_retry(decide(*history, card(D + timedelta(days=7), "lost_card")), NEW_METHOD)


# -- soft card and PayPal declines --------------------------------------------------------------------------


@pytest.mark.parametrize(("failed_on", "retry_on"), [
    (date(2026, 3, 20), date(2026, 3, 31)),  # the last banking day of March
    (date(2026, 3, 31), date(2026, 4, 1)),  # the 1st
    (date(2026, 4, 1), date(2026, 4, 15)),  # the 15th
    (date(2026, 4, 14), date(2026, 4, 15)),
    (date(2026, 4, 15), date(2026, 4, 30)),
    (date(2026, 1, 29), date(2026, 1, 30)),  # 31 Jan 2026 is a Saturday: pay day Friday 30 Jan
    (date(2026, 1, 30), date(2026, 2, 1)),  # ... then the 1st
    (date(2026, 2, 20), date(2026, 2, 27)),  # 28 Feb 2026 is a Saturday
    (date(2026, 5, 20), date(2026, 5, 29)),  # 31 May 2026 is a Sunday
    (date(2024, 3, 20), date(2024, 3, 28)),  # 29 Mar 2024 is Good Friday, 30/31 the weekend
    (date(2024, 3, 28), date(2024, 4, 1)),
    (date(2026, 12, 20), date(2026, 12, 31)),  # 31 Dec is a banking day
])
def test_insufficient_funds_retries_on_the_next_pay_day(failed_on: date, retry_on: date) -> None:
    decision = decide(card(failed_on, "insufficient_funds"))
    assert_retry(decision, retry_on)
    assert "pay day" in decision.reason


@pytest.mark.parametrize("code", ["card_velocity_exceeded", "withdrawal_count_limit_exceeded"])
def test_limits_retry_on_the_next_pay_day(code: str) -> None:
    assert_retry(decide(card(date(2026, 4, 1), code)), date(2026, 4, 15))


def test_paypal_insufficient_funds_retries_on_the_next_pay_day() -> None:
    charge = failed(D, replace(classify_card("insufficient_funds"), raw_code="INSUFFICIENT_FUNDS"), PAYPAL)
    assert_retry(decide(charge), date(2026, 3, 31))


def test_pay_day_counts_from_today_plus_the_minimum_gap() -> None:
    assert_retry(decide(card(date(2026, 3, 20), "insufficient_funds"), today=date(2026, 3, 31)), date(2026, 4, 1))
    policy = SmartRetryPolicy(min_gap_days=2)
    assert_retry(decide(card(date(2026, 3, 30), "insufficient_funds"), policy=policy), date(2026, 4, 1))
    assert_retry(decide(card(date(2026, 3, 31), "insufficient_funds"), policy=policy), date(2026, 4, 15))


@pytest.mark.parametrize("code", ["processing_error", "try_again_later", "issuer_not_available",
                                  "reenter_transaction"])
def test_technical_failures_retry_the_next_day(code: str) -> None:
    assert_retry(decide(card(D, code)), D + timedelta(days=1))


def test_technical_failure_respects_the_minimum_gap() -> None:
    assert_retry(decide(card(D, "processing_error"), policy=SmartRetryPolicy(min_gap_days=2)), D + timedelta(days=2))


@pytest.mark.parametrize(("code", "failed_on", "retry_on"), [
    ("do_not_honor", date(2026, 3, 20), date(2026, 3, 23)),  # 3 days later
    ("generic_decline", date(2026, 3, 20), date(2026, 3, 23)),
    ("unknown_code_xyz", date(2026, 3, 20), date(2026, 3, 23)),
    ("do_not_honor", date(2026, 3, 29), date(2026, 3, 31)),  # the pay day comes first
    ("generic_decline", date(2026, 4, 13), date(2026, 4, 15)),
])
def test_unexplained_declines_retry_after_three_days_or_on_a_sooner_pay_day(code: str, failed_on: date,
                                                                            retry_on: date) -> None:
    assert_retry(decide(card(failed_on, code)), retry_on)


@pytest.mark.parametrize(("mac", "days"), [("24", 1), ("25", 1), ("26", 2), ("27", 4), ("28", 6), ("29", 8),
                                            ("30", 10)])
def test_mastercard_mac_24_to_30_are_scheduled_exactly(mac: str, days: int) -> None:
    failed_on = date(2026, 3, 2)
    decision = decide(card(failed_on, "insufficient_funds", network="mastercard", advice=mac))
    assert_retry(decision, failed_on + timedelta(days=days))  # not the pay day: the network's timing wins
    assert f"Mastercard advice {mac}" in decision.reason


def test_mastercard_timing_is_at_least_the_next_day_from_today() -> None:
    charge = card(date(2026, 3, 2), "do_not_honor", network="mastercard", advice="24")
    assert_retry(decide(charge, today=date(2026, 3, 5)), date(2026, 3, 6))


def test_mastercard_timing_after_the_window_stops() -> None:
    first = card(date(2026, 3, 2), "processing_error")
    decision = decide(first, card(date(2026, 3, 15), "do_not_honor", network="mastercard", advice="30"))
    assert_no_retry(decision, STOP)  # 25 Mar is after the window's end on 23 Mar; never earlier than the MAC says
    assert "2026-03-23" in decision.reason


def test_mastercard_mac_02_waits_72_hours() -> None:
    assert_retry(decide(card(D, "processing_error", network="mastercard", advice="02")), D + timedelta(days=3))


def test_the_last_failure_decides() -> None:
    history = [card(date(2026, 3, 2), "lost_card"), card(date(2026, 3, 4), "insufficient_funds")]
    assert_retry(decide(*history), date(2026, 3, 15))  # a new card after the lost one
    # the history is put in date order, whatever order it comes in
    assert SMART.decide(history[::-1], today=date(2026, 3, 4)) == decide(*history)
    assert_no_retry(decide(*history[::-1][1:]), NEW_METHOD)


def test_a_bank_transfer_is_not_retried() -> None:
    charge = FailedCharge(D, PaymentMethodKind.BANK_TRANSFER, "unknown", "soft", True)
    assert_no_retry(decide(charge), STOP)


# -- limits: attempts and window ----------------------------------------------------------------------------


def test_max_attempts_counts_every_charge_including_the_first() -> None:
    history = [card(date(2026, 3, 2) + timedelta(days=i), "processing_error") for i in range(8)]
    assert_retry(decide(*history[:7]), date(2026, 3, 9))
    decision = decide(*history)
    assert_no_retry(decision, STOP)
    assert "8 attempts" in decision.reason
    assert_no_retry(decide(*history[:3], policy=SmartRetryPolicy(max_attempts=3)), STOP)


def test_the_window_counts_from_the_first_failure() -> None:
    first = card(date(2026, 3, 1), "processing_error")
    assert_retry(decide(first, card(date(2026, 3, 21), "processing_error")), date(2026, 3, 22))  # the last day
    decision = decide(first, card(date(2026, 3, 22), "processing_error"))
    assert_no_retry(decision, STOP)
    assert "window" in decision.reason
    assert_no_retry(decide(first, today=date(2026, 3, 23)), STOP)


def test_a_pay_day_after_the_window_falls_back_to_the_windows_last_day() -> None:
    first = card(date(2026, 3, 2), "insufficient_funds")
    decision = decide(first, card(date(2026, 3, 20), "insufficient_funds"))
    assert_retry(decision, date(2026, 3, 23))  # the pay day 31 Mar is after the window
    assert "last day of the retry window" in decision.reason


def test_a_full_smart_run_stays_within_the_limits() -> None:
    policy, history, today = SmartRetryPolicy(), [card(date(2026, 3, 2), "do_not_honor")], date(2026, 3, 2)
    while (decision := policy.decide(history, today=today)).action is RETRY:
        assert decision.retry_on is not None and decision.retry_on > today
        today = decision.retry_on
        history.append(card(today, "do_not_honor"))
    assert len(history) <= policy.max_attempts
    assert history[-1].failed_on <= date(2026, 3, 23)
    assert len({c.failed_on for c in history}) == len(history)  # never twice a day


# -- SEPA direct debit --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["AC01", "AC04", "AG01", "MD01", "MD06", "MD07", "MS02", "SL01", "AC06", "MD02"])
def test_sepa_codes_that_need_a_new_account_or_mandate(code: str) -> None:
    decision = decide(sepa(D, code))
    assert_no_retry(decision, NEW_METHOD)
    assert code in decision.reason


def test_md06_means_no_automatic_re_debit() -> None:
    assert "no automatic re-debit" in decide(sepa(D, "MD06")).reason


def test_sepa_codes_are_recognised_from_the_normalized_code_alone() -> None:
    closed = FailedCharge(D, SEPA, "account_closed", "hard", False)
    assert_no_retry(decide(closed), NEW_METHOD)
    refunded = FailedCharge(D, SEPA, "refund_requested", "customer_action", False)
    assert "MD06" in decide(refunded).reason
    funds = FailedCharge(date(2026, 3, 30), SEPA, "insufficient_funds", "soft", True)
    assert_retry(decide(funds), date(2026, 4, 1), pre_notification=True)


@pytest.mark.parametrize("code", ["AM05", "FF01", "BE05", "RC01", "RR01"])
def test_sepa_merchant_data_errors_stop(code: str) -> None:
    assert_no_retry(decide(sepa(D, code)), STOP)


@pytest.mark.parametrize("code", ["AM04", "MS03"])
def test_am04_and_ms03_are_re_presented_once_with_pre_notification(code: str) -> None:
    first = sepa(date(2026, 3, 30), code)
    decision = decide(first)
    # earliest 1 Apr (2 days' notice); the banking day right after the pay day 31 Mar is 1 Apr
    assert_retry(decision, date(2026, 4, 1), pre_notification=True)
    assert "pre-notify" in decision.reason and code in decision.reason
    again = decide(first, sepa(date(2026, 4, 7), code))
    assert_no_retry(again, STOP)
    assert "re-presented once" in again.reason


def test_more_re_presentations_when_configured() -> None:
    policy = SmartRetryPolicy(sepa_max_representations=2)
    history = [sepa(date(2026, 3, 2), "AM04"), sepa(date(2026, 3, 9), "AM04")]
    assert_retry(decide(*history, policy=policy), date(2026, 3, 16), pre_notification=True)  # after 15 Mar (Sunday)
    assert_no_retry(decide(*history, sepa(date(2026, 3, 20), "AM04"), policy=policy), STOP)
    assert_no_retry(decide(history[0], policy=SmartRetryPolicy(sepa_max_representations=0)), STOP)


def test_a_new_mandate_starts_a_new_count() -> None:
    history = [sepa(date(2026, 3, 2), "AM04"), sepa(date(2026, 3, 9), "AC04"), sepa(date(2026, 3, 12), "AM04")]
    assert_retry(decide(*history), date(2026, 3, 16), pre_notification=True)


def test_sepa_re_presentation_over_easter_2026() -> None:
    # Notified on Wed 1 Apr 2026, two days' notice: Good Friday 3 Apr, the weekend and Easter Monday 6 Apr are
    # closed, so Tue 7 Apr is the first possible due date; the pay-day preference picks 16 Apr (after the 15th).
    assert_retry(decide(sepa(date(2026, 4, 1), "AM04")), date(2026, 4, 16), pre_notification=True)
    # When the window ends on Tue 7 Apr, the only banking day left is 7 Apr itself.
    first_failure = card(date(2026, 3, 17), "insufficient_funds")
    decision = decide(first_failure, sepa(date(2026, 4, 1), "AM04"))
    assert_retry(decision, date(2026, 4, 7), pre_notification=True)
    assert "last banking day of the retry window" in decision.reason
    # Ending on Easter Monday, there is none: stop.
    assert_no_retry(decide(card(date(2026, 3, 16), "insufficient_funds"), sepa(date(2026, 4, 1), "AM04")), STOP)


def test_sepa_re_presentation_right_after_a_pay_day_over_easter_2024() -> None:
    # 28 Mar 2024 is March's last banking day; the banking day right after it is Tue 2 Apr (Good Friday,
    # weekend, Easter Monday 1 Apr).
    decision = decide(sepa(date(2024, 3, 25), "AM04"))
    assert_retry(decision, date(2024, 4, 2), pre_notification=True)
    assert "2024-03-28" in decision.reason


def test_sepa_re_presentation_over_christmas_and_new_year() -> None:
    # 31 Dec 2025 is the pay day; 1 Jan is closed, so the re-presentation is due Fri 2 Jan 2026.
    assert_retry(decide(sepa(date(2025, 12, 22), "AM04")), date(2026, 1, 2), pre_notification=True)
    # 31 Dec 2026 is a Thursday; 1 Jan 2027 closed, then the weekend: Mon 4 Jan 2027.
    assert_retry(decide(sepa(date(2026, 12, 21), "AM04")), date(2027, 1, 4), pre_notification=True)
    # A window ending Sat 27 Dec 2025 leaves Wed 24 Dec (25 and 26 Dec are closed) ...
    first_failure = card(date(2025, 12, 6), "insufficient_funds")
    assert_retry(decide(first_failure, sepa(date(2025, 12, 22), "AM04")), date(2025, 12, 24), pre_notification=True)
    # ... but with the notice from 23 Dec the first possible due date is 29 Dec: stop.
    assert_no_retry(decide(first_failure, sepa(date(2025, 12, 23), "AM04")), STOP)


def test_sepa_notice_period_is_configurable() -> None:
    policy = SmartRetryPolicy(sepa_prenotification_days=5)
    assert_retry(decide(sepa(date(2026, 3, 27), "AM04"), policy=policy), date(2026, 4, 1), pre_notification=True)
    assert_retry(decide(sepa(date(2026, 3, 28), "AM04"), policy=policy), date(2026, 4, 2), pre_notification=True)
    # notice until Good Friday: the first due date is Tue 7 Apr, after the 1 Apr pay day's next banking day
    assert_retry(decide(sepa(date(2026, 3, 29), "AM04"), policy=policy), date(2026, 4, 16), pre_notification=True)


# -- the fixed baseline -------------------------------------------------------------------------------------


def test_fixed_policy_retries_on_days_3_5_7_then_stops() -> None:
    fixed, start = FixedRetryPolicy(), date(2026, 3, 2)
    history = [card(start, "insufficient_funds")]
    for day in (3, 5, 7):
        decision = fixed.decide(history, today=history[-1].failed_on)
        assert_retry(decision, start + timedelta(days=day))
        history.append(card(start + timedelta(days=day), "insufficient_funds"))
    assert_no_retry(fixed.decide(history, today=date(2026, 3, 9)), STOP)


def test_fixed_policy_retries_regardless_of_class() -> None:
    fixed = FixedRetryPolicy()
    expired = FailedCharge(D, CARD, "expired_card", "customer_action", retry_allowed=True)
    lost = FailedCharge(D, CARD, "lost_card", "hard", retry_allowed=True)
    assert_retry(fixed.decide([expired], today=D), D + timedelta(days=3))
    assert_retry(fixed.decide([lost], today=D), D + timedelta(days=3))


@pytest.mark.parametrize("charge", [
    card(D, "lost_card"), card(D, "R1", network="visa"), card(D, "do_not_honor", network="mastercard", advice="03"),
    replace(card(D, "do_not_honor"), network_advice="21"),  # MAC 21 even if retry_allowed were True
    card(D, "authentication_required"),
])
def test_fixed_policy_respects_network_rules(charge: FailedCharge) -> None:
    assert_no_retry(FixedRetryPolicy().decide([charge], today=D), STOP)


def test_fixed_policy_on_sepa_pre_notifies_and_uses_banking_days() -> None:
    decision = FixedRetryPolicy().decide([sepa(date(2026, 3, 31), "AM04")], today=date(2026, 3, 31))
    assert_retry(decision, date(2026, 4, 7), pre_notification=True)  # day 3 is Good Friday


def test_fixed_policy_never_schedules_in_the_past() -> None:
    decision = FixedRetryPolicy().decide([card(D, "do_not_honor")], today=D + timedelta(days=10))
    assert_retry(decision, D + timedelta(days=11))


# -- construction ------------------------------------------------------------------------------------------


def test_policy_by_name() -> None:
    assert policy_by_name("smart") == SmartRetryPolicy()
    assert policy_by_name(" Fixed ") == FixedRetryPolicy()
    assert policy_by_name("smart", max_attempts=4, window_days=14) == SmartRetryPolicy(max_attempts=4,
                                                                                      window_days=14)
    assert policy_by_name("fixed", days=[1, 2]) == FixedRetryPolicy(days=(1, 2))
    assert (SmartRetryPolicy.name, FixedRetryPolicy.name) == ("smart", "fixed")
    assert policy_by_name("smart").name == "smart"
    assert isinstance(SmartRetryPolicy(), RetryPolicy) and isinstance(FixedRetryPolicy(), RetryPolicy)


def test_unknown_policy_names_and_settings_are_clear_errors() -> None:
    with pytest.raises(InvalidInput, match=r"unknown retry policy 'stripe'.*'smart', 'fixed'"):
        policy_by_name("stripe")
    with pytest.raises(InvalidInput, match="no setting 'days'"):
        policy_by_name("smart", days=(1,))


@pytest.mark.parametrize(("make", "match"), [
    (lambda: SmartRetryPolicy(max_attempts=0), "max_attempts"),
    (lambda: SmartRetryPolicy(window_days=-1), "window_days"),
    (lambda: SmartRetryPolicy(min_gap_days=0), "min_gap_days"),
    (lambda: SmartRetryPolicy(sepa_max_representations=-1), "sepa_max_representations"),
    (lambda: FixedRetryPolicy(days=()), "days"),
    (lambda: FixedRetryPolicy(days=(5, 3)), "days"),
    (lambda: FixedRetryPolicy(days=(0, 3)), "days"),
])
def test_bad_settings_are_refused(make: Callable[[], object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        make()


def test_an_empty_history_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one failed charge"):
        SMART.decide([], today=D)
    with pytest.raises(InvalidInput):
        FixedRetryPolicy().decide((), today=D)
