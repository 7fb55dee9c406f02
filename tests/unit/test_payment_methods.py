"""Payment methods: validation with one-line errors, masking that never leaks, card expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.events import Event
from aboguard.domain.payment_methods import (
    PaymentMethod,
    PaymentMethodAdded,
    PaymentMethodSpec,
    build_payment_method,
    mandate_reference_candidate,
    mask_iban,
    validate_mandate_reference,
)
from aboguard.errors import InvalidInput, InvalidPaymentMethod
from aboguard.ids import CustomerId, PaymentMethodId

NOW = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 15)
IBAN = "DE89370400440532013000"
TOKEN = "tok_visa_4242_secret_ABCDEF"
AGREEMENT = "B-5YT46812ABC0123456"

CARD = PaymentMethodSpec(Kind.CARD, gateway_token=TOKEN, brand="visa", last4="4242", exp_month=12, exp_year=2027)
PAYPAL = PaymentMethodSpec(Kind.PAYPAL, gateway_token=AGREEMENT, payer_email="anna@example.com")
SEPA = PaymentMethodSpec(Kind.SEPA_DEBIT, iban="de89 3704 0044 0532 0130 00", account_holder="Erika Mustermann",
                         mandate_reference="AG-0001")


def build(spec: PaymentMethodSpec, today: date = TODAY) -> PaymentMethod:
    return build_payment_method(spec, method_id=PaymentMethodId("pm-1"), customer_id=CustomerId("cus-1"),
                                created_at=NOW, today=today)


def test_a_sepa_method_is_normalised_and_gets_the_bic_and_the_signature_date() -> None:
    method = build(SEPA)
    assert method.iban == IBAN
    assert method.bic == "COBADEFFXXX"  # from schwifty's bank registry
    assert method.mandate_signed_on == TODAY
    assert method.iban_last4 == "3000"
    assert build(replace(SEPA, bic="cobadeffxxx")).bic == "COBADEFFXXX"


def test_labels_are_masked() -> None:
    assert build(CARD).label() == "Visa •••• 4242, expires 12/2027"
    assert build(PAYPAL).label() == "PayPal (a***@example.com)"
    assert build(SEPA).label() == "SEPA DE89 •••• •••• •••• •••• 3000 (Erika Mustermann)"
    assert build(PaymentMethodSpec(Kind.BANK_TRANSFER)).label() == "Bank transfer"
    assert mask_iban("AT611904300234573201") == "AT61 •••• •••• •••• 3201"


@pytest.mark.parametrize("spec", [CARD, PAYPAL, SEPA])
def test_repr_str_and_events_never_contain_the_iban_or_the_token(spec: PaymentMethodSpec) -> None:
    method = build(spec)
    event = PaymentMethodAdded(method.id, method.customer_id, method.kind.value, method.label(), True)
    for text in (repr(method), str(method), method.masked(), repr(spec), str(spec), str(event.payload()),
                 repr(event)):
        for secret in (IBAN, TOKEN, AGREEMENT, "370400440532013000"):
            assert secret not in text


@pytest.mark.parametrize(("spec", "message"), [
    (replace(SEPA, iban="DE89370400440532013001"), "the IBAN is not valid: invalid checksum digits"),
    (replace(SEPA, iban="DE8937040044053201300"), "the IBAN is not valid: invalid IBAN length"),
    (replace(SEPA, iban=""), "a SEPA direct debit needs an IBAN"),
    (replace(SEPA, bic="NOTABIC"), "BIC 'NOTABIC' is not valid"),
    (replace(SEPA, account_holder="  "), "needs the account holder's name"),
    (replace(SEPA, mandate_reference="A" * 36), "at most 35 characters, got 36"),
    (replace(SEPA, mandate_reference="MANDAT_1"), "may only use A-Z a-z 0-9"),
    (replace(SEPA, mandate_reference="Ä-1"), "may only use A-Z a-z 0-9"),
    (replace(SEPA, mandate_reference="A//B"), "must not contain '//'"),
    (replace(SEPA, mandate_reference=None), "needs a mandate reference"),
    (replace(SEPA, mandate_signed_on=date(2026, 3, 16)), "signature date 2026-03-16 is in the future"),
    (replace(SEPA, gateway_token="x"), "a SEPA direct debit payment method takes no gateway_token"),
    (replace(CARD, brand="visacard"), "unknown card brand 'visacard'"),
    (replace(CARD, last4="424"), "last4 must be the card's last four digits"),
    (replace(CARD, last4="42a2"), "last4 must be the card's last four digits"),
    (replace(CARD, exp_month=13), "expiry month must be 1 to 12"),
    (replace(CARD, exp_month=2, exp_year=2026), "the card expired in 02/2026"),
    (replace(CARD, exp_year=27), "four-digit year"),
    (replace(CARD, gateway_token=" "), "a card token from the payment gateway is required"),
    (replace(CARD, gateway_token="tok with space"), "without spaces"),
    (replace(CARD, iban=IBAN), "a card payment method takes no iban"),
    (replace(PAYPAL, payer_email="nope"), "payer email 'nope' is not a valid address"),
    (replace(PAYPAL, gateway_token=None), "a PayPal billing agreement or vault id is required"),
    (PaymentMethodSpec(Kind.BANK_TRANSFER, brand="visa"), "a bank transfer payment method takes no brand"),
])
def test_bad_input_gets_one_clear_line(spec: PaymentMethodSpec, message: str) -> None:
    with pytest.raises(InvalidPaymentMethod) as caught:
        build(spec)
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert IBAN[4:] not in caught.value.message  # an IBAN is never repeated back
    assert isinstance(caught.value, InvalidInput)


def test_allowed_mandate_reference_characters() -> None:
    assert validate_mandate_reference(" Abo+?/-:().,' 1 ") == "Abo+?/-:().,' 1"
    assert validate_mandate_reference("A" * 35) == "A" * 35


def test_generated_mandate_references_are_valid_and_hold_no_personal_data() -> None:
    reference = mandate_reference_candidate("0192f3a4-5b6c-7d8e-9f01-23456789abcd", 3)
    assert reference == "AG-6789ABCD-0003"
    assert validate_mandate_reference(reference) == reference
    assert len(reference) <= 35


def test_a_card_valid_through_this_month_is_accepted_and_expiry_is_end_of_month() -> None:
    card = build(replace(CARD, exp_month=3, exp_year=2026))
    assert card.expires_on() == date(2026, 3, 31)
    assert not card.is_expired(date(2026, 3, 31))
    assert card.is_expired(date(2026, 4, 1))


def test_expires_within() -> None:
    card = build(CARD)  # last usable day 2027-12-31
    assert card.expires_within(30, date(2027, 12, 1))
    assert not card.expires_within(30, date(2027, 11, 30))
    assert card.expires_within(0, date(2028, 1, 5))  # already expired
    assert not build(SEPA).expires_within(10_000, TODAY)


def test_payment_method_events_are_events_with_wire_names() -> None:
    method = build(CARD)
    event = PaymentMethodAdded(method.id, method.customer_id, method.kind.value, method.label(), True)
    assert isinstance(event, Event)
    assert event.name == "payment_method.added"
    assert event.payload() == {"aggregate_id": "pm-1", "customer_id": "cus-1", "kind": "card",
                               "label": "Visa •••• 4242, expires 12/2027", "is_default": True}
