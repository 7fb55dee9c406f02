"""Decline classification: Stripe decline codes, Visa categories, Mastercard advice codes, SEPA reason codes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aboguard.domain.declines import (
    CARD_DECLINE_CODES,
    MASTERCARD_NO_RETRY_ADVICE,
    SEPA_REASON_CODES,
    VISA_RESPONSE_CODES,
    Decline,
    DeclineClass,
    classify_card,
    classify_sepa,
    mastercard_retry_after,
)

HARD, SOFT, ACTION, FRAUD = DeclineClass.HARD, DeclineClass.SOFT, DeclineClass.CUSTOMER_ACTION, DeclineClass.FRAUD


# REFERENCE 6.3, row by row.
@pytest.mark.parametrize(("code", "cls", "retry"), [
    ("insufficient_funds", SOFT, True),
    ("card_velocity_exceeded", SOFT, True),
    ("processing_error", SOFT, True),
    ("try_again_later", SOFT, True),
    ("issuer_not_available", SOFT, True),
    ("reenter_transaction", SOFT, True),
    ("do_not_honor", SOFT, True),
    ("generic_decline", SOFT, True),
    ("authentication_required", ACTION, False),
    ("expired_card", ACTION, False),
    ("incorrect_number", ACTION, False),
    ("incorrect_cvc", ACTION, False),
    ("invalid_expiry_month", ACTION, False),
    ("invalid_expiry_year", ACTION, False),
    ("card_not_supported", ACTION, False),
    ("lost_card", HARD, False),
    ("stolen_card", HARD, False),
    ("pickup_card", HARD, False),
    ("restricted_card", HARD, False),
    ("revocation_of_authorization", HARD, False),
    ("revocation_of_authorizations", HARD, False),
    ("stop_payment_order", HARD, False),
    ("fraudulent", FRAUD, False),
])
def test_stripe_codes_are_classified_as_the_reference_says(code: str, cls: DeclineClass, retry: bool) -> None:
    decline = classify_card(code)
    assert (decline.decline_class, decline.retry_allowed, decline.raw_code) == (cls, retry, code)
    assert decline.network_advice is None


def test_every_decline_class_occurs_in_the_card_table() -> None:
    assert {rule.decline_class for rule in CARD_DECLINE_CODES.values()} == set(DeclineClass)


@pytest.mark.parametrize("code", sorted(CARD_DECLINE_CODES))
def test_every_table_row_classifies_to_itself_with_a_short_message(code: str) -> None:
    decline = classify_card(code)
    rule = CARD_DECLINE_CODES[code]
    assert decline == Decline(rule.code, rule.decline_class, code, rule.message, None, rule.retry_allowed)
    assert 0 < len(decline.message) <= 120 and decline.message.endswith(".")
    # only soft declines may be retried automatically
    assert decline.retry_allowed == (decline.decline_class is SOFT)


@pytest.mark.parametrize("code", ["lost_card", "stolen_card", "pickup_card", "fraudulent"])
def test_lost_stolen_and_fraud_are_shown_to_the_customer_as_a_plain_decline(code: str) -> None:
    message = classify_card(code).message.lower()
    assert message == "your card was declined."


def test_codes_are_normalized() -> None:
    decline = classify_card("  Insufficient_Funds ")
    assert decline.code == "insufficient_funds" and decline.raw_code == "Insufficient_Funds"
    assert classify_card("card_declined").code == "generic_decline"


@pytest.mark.parametrize("raw", ["something_new", "", "xyz_123"])
def test_unknown_codes_are_soft_and_may_be_retried(raw: str) -> None:
    decline = classify_card(raw)
    assert (decline.code, decline.decline_class, decline.retry_allowed, decline.raw_code) == (
        "unknown", SOFT, True, raw)


@pytest.mark.parametrize("mac", sorted(MASTERCARD_NO_RETRY_ADVICE))
@pytest.mark.parametrize("code", ["insufficient_funds", "do_not_honor", "something_new"])
def test_mastercard_mac_03_and_21_forbid_retries(mac: str, code: str) -> None:
    decline = classify_card(code, network="mastercard", advice_code=mac)
    assert decline.retry_allowed is False
    assert decline.decline_class is HARD
    assert decline.network_advice == mac


def test_mac_written_without_leading_zero_is_understood() -> None:
    decline = classify_card("insufficient_funds", network="Mastercard", advice_code="3")
    assert decline.retry_allowed is False and decline.network_advice == "03"


@pytest.mark.parametrize("mac", ["02", "24", "25", "30", "40"])
def test_other_macs_keep_a_soft_decline_retryable(mac: str) -> None:
    decline = classify_card("insufficient_funds", network="mastercard", advice_code=mac)
    assert (decline.decline_class, decline.retry_allowed, decline.network_advice) == (SOFT, True, mac)


def test_mac_01_asks_for_new_card_details_and_04_forbids_the_same_token() -> None:
    updated = classify_card("do_not_honor", network="mastercard", advice_code="01")
    assert (updated.decline_class, updated.retry_allowed) == (ACTION, False)
    token = classify_card("do_not_honor", network="mastercard", advice_code="04")
    assert (token.decline_class, token.retry_allowed) == (SOFT, False)


def test_mac_is_ignored_for_other_networks() -> None:
    assert classify_card("insufficient_funds", network="visa", advice_code="03").retry_allowed is True


def test_advice_never_makes_a_hard_decline_retryable() -> None:
    for advice in ("02", "24", "try_again_later"):
        decline = classify_card("stolen_card", network="mastercard", advice_code=advice)
        assert (decline.decline_class, decline.retry_allowed) == (HARD, False)


def test_mastercard_retry_after_timings() -> None:
    assert mastercard_retry_after("24") == timedelta(hours=1)
    assert mastercard_retry_after("30") == timedelta(days=10)
    assert mastercard_retry_after("02") is None
    assert mastercard_retry_after(None) is None


@pytest.mark.parametrize("code", [c for c, (category, _) in VISA_RESPONSE_CODES.items() if category == 1])
def test_visa_category_1_codes_forbid_retries(code: str) -> None:
    as_raw = classify_card(code, network="visa")
    assert (as_raw.decline_class, as_raw.retry_allowed, as_raw.raw_code) == (HARD, False, code)
    as_network_code = classify_card("do_not_honor", network="visa", advice_code=code)
    assert (as_network_code.decline_class, as_network_code.retry_allowed) == (HARD, False)


@pytest.mark.parametrize(("code", "expected", "retry"), [
    ("51", "insufficient_funds", True), ("05", "do_not_honor", True), ("91", "issuer_not_available", True),
    ("54", "expired_card", False), ("N7", "incorrect_cvc", False), ("41", "lost_card", False),
])
def test_visa_response_codes_map_to_decline_codes(code: str, expected: str, retry: bool) -> None:
    decline = classify_card(code, network="visa")
    assert (decline.code, decline.retry_allowed) == (expected, retry)


def test_visa_numbers_are_not_guessed_without_the_network() -> None:
    assert classify_card("41").code == "unknown"


def test_stripe_advice_codes_override_the_code_map() -> None:
    stop = classify_card("insufficient_funds", advice_code="do_not_try_again")
    assert (stop.decline_class, stop.retry_allowed, stop.network_advice) == (HARD, False, "do_not_try_again")
    confirm = classify_card("generic_decline", advice_code="confirm_card_data")
    assert (confirm.decline_class, confirm.retry_allowed) == (ACTION, False)
    later = classify_card("generic_decline", advice_code="try_again_later")
    assert (later.decline_class, later.retry_allowed) == (SOFT, True)


# REFERENCE 1.11.
@pytest.mark.parametrize(("code", "name", "cls", "retry"), [
    ("AM04", "insufficient_funds", SOFT, True),
    ("MS03", "reason_not_specified", SOFT, True),
    ("MD06", "refund_requested", ACTION, False),
    ("MS02", "refused_by_debtor", ACTION, False),
    ("SL01", "debtor_bank_block", ACTION, False),
    ("AC06", "account_blocked", ACTION, False),
    ("AC01", "incorrect_account", HARD, False),
    ("AC04", "account_closed", HARD, False),
    ("AG01", "transaction_forbidden", HARD, False),
    ("MD01", "no_mandate", HARD, False),
    ("MD07", "debtor_deceased", HARD, False),
    ("AM05", "duplicate_collection", SOFT, False),
])
def test_sepa_reason_codes(code: str, name: str, cls: DeclineClass, retry: bool) -> None:
    decline = classify_sepa(code)
    assert (decline.code, decline.decline_class, decline.retry_allowed, decline.raw_code) == (name, cls, retry, code)


@pytest.mark.parametrize("code", sorted(SEPA_REASON_CODES))
def test_every_sepa_row_classifies_to_itself(code: str) -> None:
    rule = SEPA_REASON_CODES[code]
    decline = classify_sepa(code.lower())
    assert (decline.code, decline.decline_class, decline.retry_allowed) == (rule.code, rule.decline_class,
                                                                             rule.retry_allowed)
    assert rule.r_types and decline.message


def test_sepa_stop_codes_of_the_default_policy_never_retry() -> None:
    # REFERENCE 6.5 (3): stop on these.
    for code in ("AC01", "AC04", "AG01", "MD01", "MD06", "MD07", "MS02", "SL01"):
        assert classify_sepa(code).retry_allowed is False, code


def test_unknown_sepa_code_is_soft_and_kept_raw() -> None:
    decline = classify_sepa("ZZ99")
    assert (decline.code, decline.decline_class, decline.retry_allowed, decline.raw_code) == (
        "unknown", SOFT, True, "ZZ99")


def test_decline_is_frozen() -> None:
    decline = classify_sepa("AM04")
    with pytest.raises(AttributeError):
        decline.code = "x"  # type: ignore[misc]
