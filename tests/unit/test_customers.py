"""Customers: validation and normalisation of email, name, country, locale and VAT IDs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from aboguard.domain.customers import Address, Customer, CustomerKind, CustomerSpec, build_customer, normalise_vat_id
from aboguard.errors import InvalidCustomer, InvalidVatId

CREATED = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
GREEK_VAT = "094259216"  # python-stdnum's own test data for stdnum.gr.vat


def a_spec(**overrides: Any) -> CustomerSpec:
    spec = CustomerSpec(email="erika@example.com", name="Erika Mustermann", country="DE")
    return replace(spec, **overrides)


def a_customer(**overrides: Any) -> Customer:
    return build_customer(a_spec(**overrides), customer_id="cus-erika", created_at=CREATED)  # type: ignore[arg-type]


def a_business(**overrides: Any) -> Customer:
    values: dict[str, Any] = {"kind": CustomerKind.BUSINESS, "company": "Muster GmbH", **overrides}
    return a_customer(**values)


def test_a_consumer_is_built_with_defaults() -> None:
    customer = a_customer()
    assert customer.id == "cus-erika"
    assert customer.kind is CustomerKind.CONSUMER and not customer.is_business
    assert (customer.email, customer.name, customer.country, customer.locale) == (
        "erika@example.com", "Erika Mustermann", "DE", "de")
    assert customer.vat_id is None and customer.company is None and customer.external_ref is None
    assert customer.created_at == CREATED


def test_email_name_country_locale_and_refs_are_normalised() -> None:
    customer = a_customer(email="  erika@example.com ", name="  Erika  ", country=" at ", locale="EN",
                          external_ref="  shop-42 ", company="  ", address=Address(city="Wien"))
    assert customer.email == "erika@example.com"
    assert customer.name == "Erika"
    assert customer.country == "AT"
    assert customer.locale == "en"
    assert customer.external_ref == "shop-42"
    assert customer.company is None
    assert customer.address == Address(city="Wien")


@pytest.mark.parametrize("email", ["", "erika", "erika@example", "erika@@example.com", "er ika@example.com"])
def test_bad_email_is_rejected_with_an_example(email: str) -> None:
    with pytest.raises(InvalidCustomer, match=r"is not a valid address such as name@example\.com"):
        a_customer(email=email)


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_name_is_rejected(name: str) -> None:
    with pytest.raises(InvalidCustomer, match="a customer needs a name"):
        a_customer(name=name)


@pytest.mark.parametrize("country", ["", "XX", "DEU", "EU", "Germany"])
def test_unknown_country_is_rejected(country: str) -> None:
    with pytest.raises(InvalidCustomer, match="is not an ISO 3166 two-letter code such as DE or AT"):
        a_customer(country=country)


@pytest.mark.parametrize("locale", ["fr", "de-DE", ""])
def test_unsupported_locale_is_rejected(locale: str) -> None:
    with pytest.raises(InvalidCustomer, match="is not supported: use de or en"):
        a_customer(locale=locale)


# --- VAT IDs --------------------------------------------------------------------------------------


def test_german_vat_id_with_spaces_is_accepted_and_compacted() -> None:
    customer = a_business(vat_id="DE 136 695 976")
    assert customer.vat_id == "DE136695976"
    assert customer.is_business


def test_austrian_vat_id_is_accepted() -> None:
    assert a_business(country="AT", vat_id="atu13585627").vat_id == "ATU13585627"


def test_vat_id_with_a_bad_check_digit_is_rejected() -> None:
    with pytest.raises(InvalidVatId, match="VAT ID 'DE136695977' is not valid"):
        a_business(vat_id="DE136695977")


def test_vat_id_of_another_country_is_rejected() -> None:
    with pytest.raises(InvalidVatId, match="registered in AT but the customer's country is DE"):
        a_business(country="DE", vat_id="ATU13585627")


def test_eu_vat_id_for_a_customer_outside_the_eu_is_rejected() -> None:
    with pytest.raises(InvalidVatId, match="registered in DE but the customer's country is CH"):
        a_business(country="CH", vat_id="DE136695976")


def test_vat_id_on_a_consumer_is_rejected() -> None:
    with pytest.raises(InvalidCustomer, match="a VAT ID belongs to a business customer") as caught:
        a_customer(vat_id="DE136695976")
    assert type(caught.value) is InvalidCustomer


def test_greek_vat_id_uses_the_el_prefix() -> None:
    assert a_business(country="GR", vat_id=f"EL {GREEK_VAT}").vat_id == f"EL{GREEK_VAT}"


def test_greek_vat_id_with_el_prefix_is_rejected_for_another_country() -> None:
    with pytest.raises(InvalidVatId, match="registered in EL but the customer's country is DE"):
        a_business(country="DE", vat_id=f"EL{GREEK_VAT}")


def test_greek_vat_id_written_with_gr_prefix_is_normalised_to_el() -> None:
    assert a_business(country="GR", vat_id=f"GR{GREEK_VAT}").vat_id == f"EL{GREEK_VAT}"


def test_vat_id_without_a_prefix_is_rejected_for_an_eu_customer() -> None:
    with pytest.raises(InvalidVatId, match="is not valid"):
        a_business(vat_id="136695976")


def test_vat_id_from_a_country_stdnum_cannot_check_is_refused() -> None:
    with pytest.raises(InvalidVatId, match="VAT IDs from US cannot be checked"):
        normalise_vat_id("12-3456789", "US")


def test_empty_vat_id_means_none() -> None:
    assert a_business(vat_id="").vat_id is None
