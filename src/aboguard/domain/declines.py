"""Why a payment failed, and whether trying again is allowed: card declines and SEPA R-transactions.

Pure rules, no I/O. A failure is classified into one of four classes (REFERENCE 6.5):

* ``hard`` -- the instrument will never work again (lost, stolen, closed account, no mandate): stop and
  ask the customer for a new payment method;
* ``customer_action`` -- the customer must fix something first (expired card, wrong data, 3-D Secure,
  a refused or refunded direct debit): no automatic retry, contact the customer;
* ``soft`` -- may work later (insufficient funds, issuer unavailable): retry within the policy limits;
* ``fraud`` -- the payment was blocked as fraudulent: never retry, review the customer.

Cards (:func:`classify_card`) are classified by the Stripe decline code (REFERENCE 6.3) and then, in the
order REFERENCE 6.5 asks for, overridden by the PSP advice code and by the card network: a Mastercard
Merchant Advice Code that forbids retries (``03`` do not try again, ``21`` stop recurring) and a Visa
category-1 response code ("issuer will never approve", REFERENCE 6.1) make ``retry_allowed`` False.
Advice and network information only ever restrict; they never permit retrying a hard decline.

SEPA direct debits (:func:`classify_sepa`) are classified by their ISO 20022 reason code
(REFERENCE 1.11). Unknown codes are ``soft`` with ``retry_allowed`` and the normalized code ``"unknown"``;
the raw code is always kept.

The messages are short English texts that are safe to show a customer: a lost, stolen or fraudulent card
is shown as a plain "Your card was declined." (REFERENCE 6.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "CARD_DECLINE_ALIASES",
    "CARD_DECLINE_CODES",
    "MASTERCARD_NO_RETRY_ADVICE",
    "MASTERCARD_RETRY_AFTER",
    "SEPA_REASON_CODES",
    "STRIPE_ADVICE_CODES",
    "UNKNOWN",
    "VISA_RESPONSE_CODES",
    "Decline",
    "DeclineClass",
    "DeclineRule",
    "classify_card",
    "classify_sepa",
    "mastercard_retry_after",
]

UNKNOWN = "unknown"


class DeclineClass(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    CUSTOMER_ACTION = "customer_action"
    FRAUD = "fraud"


@dataclass(frozen=True, slots=True)
class Decline:
    """One classified failure. ``code`` is normalized ("insufficient_funds"); ``raw_code`` is as received."""

    code: str
    decline_class: DeclineClass
    raw_code: str
    message: str
    network_advice: str | None = None
    retry_allowed: bool = True


@dataclass(frozen=True, slots=True)
class DeclineRule:
    """A row of a classification table: what a code means for collection."""

    code: str
    decline_class: DeclineClass
    retry_allowed: bool
    message: str
    r_types: tuple[str, ...] = ()  # SEPA only: the R-transaction types the code typically arrives as


_HARD, _SOFT, _ACTION, _FRAUD = (DeclineClass.HARD, DeclineClass.SOFT, DeclineClass.CUSTOMER_ACTION,
                                 DeclineClass.FRAUD)
_DECLINED = "Your card was declined."
_TRY_LATER = "Your bank could not process the payment right now."


def _card(code: str, decline_class: DeclineClass, retry: bool, message: str) -> tuple[str, DeclineRule]:
    return code, DeclineRule(code, decline_class, retry, message)


# Stripe decline codes, REFERENCE 6.3. Codes marked "(Stripe docs)" are not in the reference table and are
# classified from Stripe's own decline-code documentation.
CARD_DECLINE_CODES: Mapping[str, DeclineRule] = MappingProxyType(dict([
    # soft: retry
    _card("insufficient_funds", _SOFT, True, "Your card has insufficient funds."),
    _card("card_velocity_exceeded", _SOFT, True, "Your card has reached its spending limit."),
    _card("processing_error", _SOFT, True, "An error occurred while processing your card. Please try again."),
    _card("try_again_later", _SOFT, True, _TRY_LATER),
    _card("issuer_not_available", _SOFT, True, _TRY_LATER),
    _card("reenter_transaction", _SOFT, True, _TRY_LATER),
    # soft-ish (reason unknown): limited retries, ask the customer to contact the bank or update the card
    _card("do_not_honor", _SOFT, True, _DECLINED),
    _card("generic_decline", _SOFT, True, _DECLINED),
    _card("call_issuer", _SOFT, True, _DECLINED),  # (Stripe docs)
    _card("no_action_taken", _SOFT, True, _DECLINED),  # (Stripe docs)
    _card("withdrawal_count_limit_exceeded", _SOFT, True, "Your card has reached its spending limit."),  # (Stripe)
    # customer action: authenticate, or new card details; retrying the same data does not help
    _card("authentication_required", _ACTION, False, "Your bank requires you to confirm this payment."),
    _card("expired_card", _ACTION, False, "Your card has expired."),
    _card("incorrect_number", _ACTION, False, "Your card number is incorrect."),
    _card("invalid_number", _ACTION, False, "Your card number is incorrect."),  # (Stripe docs)
    _card("incorrect_cvc", _ACTION, False, "Your card's security code is incorrect."),
    _card("invalid_cvc", _ACTION, False, "Your card's security code is incorrect."),  # (Stripe docs)
    _card("invalid_expiry_month", _ACTION, False, "Your card's expiration date is incorrect."),
    _card("invalid_expiry_year", _ACTION, False, "Your card's expiration date is incorrect."),
    _card("incorrect_zip", _ACTION, False, "Your card's postal code is incorrect."),  # (Stripe docs)
    _card("card_not_supported", _ACTION, False, "Your card does not support this type of payment."),  # (Stripe)
    _card("currency_not_supported", _ACTION, False, "Your card does not support this currency."),  # (Stripe)
    _card("new_account_information_available", _ACTION, False, "Please update your card details."),  # (Stripe)
    # hard: never retry; the customer sees a generic decline, never "lost" or "stolen"
    _card("lost_card", _HARD, False, _DECLINED),
    _card("stolen_card", _HARD, False, _DECLINED),
    _card("pickup_card", _HARD, False, _DECLINED),
    _card("restricted_card", _HARD, False, _DECLINED),
    _card("revocation_of_authorization", _HARD, False, _DECLINED),
    _card("stop_payment_order", _HARD, False, _DECLINED),
    _card("invalid_account", _HARD, False, _DECLINED),  # (Stripe docs)
    _card("not_permitted", _HARD, False, _DECLINED),  # (Stripe docs)
    _card("transaction_not_allowed", _HARD, False, _DECLINED),  # (Stripe docs)
    _card("security_violation", _HARD, False, _DECLINED),  # (Stripe docs)
    _card("service_not_allowed", _HARD, False, _DECLINED),  # (Stripe docs)
    _card("do_not_try_again", _HARD, False, _DECLINED),  # (Stripe docs)
    # fraud: REFERENCE 6.3 lists "fraudulent" among the hard codes; it gets its own class (still no retry)
    _card("fraudulent", _FRAUD, False, _DECLINED),
    _card("merchant_blacklist", _FRAUD, False, _DECLINED),  # (Stripe docs: blocked by a merchant rule)
]))

# Spelling variants that mean the same code.
CARD_DECLINE_ALIASES: Mapping[str, str] = MappingProxyType({
    "revocation_of_authorizations": "revocation_of_authorization",
    "card_declined": "generic_decline",
})

# Visa response codes and their reattempt category (REFERENCE 6.1) with the normalized code.
VISA_RESPONSE_CODES: Mapping[str, tuple[int, str]] = MappingProxyType({
    # category 1: the issuer will never approve -- no reattempts
    "04": (1, "pickup_card"),
    "07": (1, "pickup_card"),
    "12": (1, "transaction_not_allowed"),
    "14": (1, "invalid_account"),
    "15": (1, "invalid_account"),
    "41": (1, "lost_card"),
    "43": (1, "stolen_card"),
    "46": (1, "invalid_account"),  # account closed
    "57": (1, "transaction_not_allowed"),  # category 1 from 25 Oct 2026
    "R0": (1, "stop_payment_order"),
    "R1": (1, "revocation_of_authorization"),
    "R3": (1, "revocation_of_authorization"),
    # category 2: cannot approve now
    "51": (2, "insufficient_funds"),
    "59": (2, "do_not_honor"),  # suspected fraud; Visa allows reattempts, the customer sees a generic decline
    "61": (2, "card_velocity_exceeded"),
    "65": (2, "card_velocity_exceeded"),
    "91": (2, "issuer_not_available"),
    "96": (2, "processing_error"),
    # category 3: data quality
    "54": (3, "expired_card"),
    "N7": (3, "incorrect_cvc"),
    # category 4: generic
    "05": (4, "do_not_honor"),
})

# Mastercard Merchant Advice Codes (REFERENCE 6.2).
MASTERCARD_NO_RETRY_ADVICE = frozenset({"03", "21"})
MASTERCARD_RETRY_AFTER: Mapping[str, timedelta] = MappingProxyType({
    "24": timedelta(hours=1), "25": timedelta(hours=24), "26": timedelta(days=2), "27": timedelta(days=4),
    "28": timedelta(days=6), "29": timedelta(days=8), "30": timedelta(days=10),
})

# Stripe ``outcome.advice_code`` values (REFERENCE 6.3); they override the decline-code map.
STRIPE_ADVICE_CODES = frozenset({"try_again_later", "do_not_try_again", "confirm_card_data"})

_VISA = frozenset({"visa"})
_MASTERCARD = frozenset({"mastercard", "mc", "master_card"})


def _sepa(code: str, name: str, decline_class: DeclineClass, retry: bool, message: str, *r_types: str
          ) -> tuple[str, DeclineRule]:
    return code, DeclineRule(name, decline_class, retry, message, r_types)


_NOT_PROCESSED = "The direct debit could not be processed."

# SEPA R-transaction reason codes, REFERENCE 1.11 (retry actions are the reference's derivation).
# Merchant-side data errors (format, creditor id, BIC, regulatory, duplicate) are "soft" without automatic
# retry: the customer's account is fine, the merchant must fix its data and then collect again.
SEPA_REASON_CODES: Mapping[str, DeclineRule] = MappingProxyType(dict([
    _sepa("AC01", "incorrect_account", _HARD, False, "The bank account details are incorrect.", "reject",
          "return"),
    _sepa("AC04", "account_closed", _HARD, False, "The bank account has been closed.", "reject", "return"),
    _sepa("AC06", "account_blocked", _ACTION, False, "The bank account is blocked for direct debits.", "reject",
          "return"),
    _sepa("AC13", "debtor_is_consumer", _ACTION, False, "A business direct debit mandate cannot be used for this "
          "account.", "reject"),
    _sepa("AG01", "transaction_forbidden", _HARD, False, "Direct debits are not allowed on this bank account.",
          "reject", "return"),
    _sepa("AM04", "insufficient_funds", _SOFT, True, "The bank account did not have sufficient funds.", "reject",
          "return"),
    _sepa("AM05", "duplicate_collection", _SOFT, False, "This direct debit was submitted twice.", "reject",
          "return"),
    _sepa("MD01", "no_mandate", _HARD, False, "There is no valid direct debit mandate for this account.",
          "return", "refund"),
    _sepa("MD02", "mandate_data_incorrect", _ACTION, False, "The direct debit mandate data is incomplete or "
          "incorrect.", "reject"),
    _sepa("MD06", "refund_requested", _ACTION, False, "The direct debit was refunded at the account holder's "
          "request.", "refund"),
    _sepa("MD07", "debtor_deceased", _HARD, False, "The direct debit could not be collected.", "return"),
    _sepa("MS02", "refused_by_debtor", _ACTION, False, "The direct debit was refused by the account holder.",
          "refusal", "return"),
    _sepa("MS03", "reason_not_specified", _SOFT, True, "The bank returned the direct debit without a reason.",
          "reject", "return"),
    _sepa("SL01", "debtor_bank_block", _ACTION, False, "The bank blocked this direct debit because of a limit "
          "or block on the account.", "return"),
    _sepa("FF01", "invalid_file_format", _SOFT, False, _NOT_PROCESSED, "reject"),
    _sepa("BE05", "unrecognised_creditor", _SOFT, False, _NOT_PROCESSED, "reject"),
    _sepa("RC01", "invalid_bic", _SOFT, False, _NOT_PROCESSED, "reject"),
    _sepa("RR01", "regulatory_reason", _SOFT, False, _NOT_PROCESSED, "reject"),
    _sepa("RR02", "regulatory_reason", _SOFT, False, _NOT_PROCESSED, "reject"),
    _sepa("RR03", "regulatory_reason", _SOFT, False, _NOT_PROCESSED, "reject"),
    _sepa("RR04", "regulatory_reason", _SOFT, False, _NOT_PROCESSED, "reject"),
]))

_UNKNOWN_CARD = DeclineRule(UNKNOWN, _SOFT, True, _DECLINED)
_UNKNOWN_SEPA = DeclineRule(UNKNOWN, _SOFT, True, _NOT_PROCESSED)


def _decline(rule: DeclineRule, raw_code: str, advice: str | None = None) -> Decline:
    return Decline(code=rule.code, decline_class=rule.decline_class, raw_code=raw_code, message=rule.message,
                   network_advice=advice, retry_allowed=rule.retry_allowed)


def _normalize_mac(advice: str) -> str:
    return advice.zfill(2) if advice.isdigit() else advice


def _forbid(decline: Decline, to: DeclineClass | None = None) -> Decline:
    """No more automatic retries; a soft decline moves to ``to`` (hard, customer_action) when given."""
    cls = to if to is not None and decline.decline_class is _SOFT else decline.decline_class
    return replace(decline, decline_class=cls, retry_allowed=False)


def classify_card(raw_code: str, *, network: str | None = None, advice_code: str | None = None) -> Decline:
    """Classify a card decline.

    ``raw_code`` is the provider's decline code (Stripe's ``decline_code`` such as "insufficient_funds"),
    or, with ``network="visa"``, a Visa response code such as "51" or "R1". ``advice_code`` is, in this
    order of precedence: a Mastercard Merchant Advice Code (``network="mastercard"``, "03" or "3"), a Visa
    response code (``network="visa"``, Stripe's ``network_decline_code``), or a Stripe advice code
    ("do_not_try_again", "try_again_later", "confirm_card_data", any network). The advice is kept in
    ``network_advice``. Advice only restricts: MAC 03/21, Visa category 1 and "do_not_try_again" forbid
    retries (a soft decline becomes hard), MAC 01 and "confirm_card_data" make a soft decline a customer
    action, MAC 04 (token requirements not met) forbids retrying the same token.
    """
    raw = raw_code.strip() if isinstance(raw_code, str) else ""
    net = (network or "").strip().lower()
    key = raw.lower()
    key = CARD_DECLINE_ALIASES.get(key, key)
    advice = advice_code.strip() if advice_code and advice_code.strip() else None
    visa_raw = VISA_RESPONSE_CODES.get(raw.upper()) if net in _VISA else None
    if key in CARD_DECLINE_CODES:
        rule = CARD_DECLINE_CODES[key]
    elif visa_raw is not None:
        rule = CARD_DECLINE_CODES[visa_raw[1]]
    else:
        rule = _UNKNOWN_CARD
    if net in _MASTERCARD and advice is not None:
        advice = _normalize_mac(advice)
    decline = _decline(rule, raw, advice)
    if visa_raw is not None and visa_raw[0] == 1:
        decline = _forbid(decline, _HARD)

    if advice is None:
        return decline
    lowered = advice.lower()
    # PSP advice second ...
    if lowered == "do_not_try_again":
        decline = _forbid(decline, _HARD)
    elif lowered == "confirm_card_data":
        decline = _forbid(decline, _ACTION)
    # ... network advice first (applied last, so it wins).
    if net in _MASTERCARD:
        if advice in MASTERCARD_NO_RETRY_ADVICE:
            decline = _forbid(decline, _HARD)
        elif advice == "01":
            decline = _forbid(decline, _ACTION)
        elif advice == "04":
            decline = _forbid(decline)
    elif net in _VISA:
        visa_advice = VISA_RESPONSE_CODES.get(advice.upper())
        if visa_advice is not None and visa_advice[0] == 1:
            decline = _forbid(decline, _HARD)
    return decline


def mastercard_retry_after(advice_code: str | None) -> timedelta | None:
    """The wait a Mastercard MAC 24-30 prescribes before the next attempt (MAC 02: None, "later")."""
    if not advice_code or not advice_code.strip():
        return None
    return MASTERCARD_RETRY_AFTER.get(_normalize_mac(advice_code.strip()))


def classify_sepa(reason_code: str) -> Decline:
    """Classify a SEPA R-transaction by its ISO 20022 reason code ("AM04", "md06"; REFERENCE 1.11)."""
    raw = reason_code.strip() if isinstance(reason_code, str) else ""
    rule = SEPA_REASON_CODES.get(raw.upper(), _UNKNOWN_SEPA)
    return _decline(rule, raw)
