"""Customers: consumers and businesses, with what invoices and messages need to reach them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.util import get_cc_module

from aboguard.errors import InvalidCustomer, InvalidVatId
from aboguard.ids import CustomerId

from .countries import EU_COUNTRIES, is_country

SUPPORTED_LOCALES = ("de", "en")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CustomerKind(StrEnum):
    CONSUMER = "consumer"
    BUSINESS = "business"


@dataclass(frozen=True, slots=True)
class Address:
    line1: str = ""
    line2: str = ""
    postal_code: str = ""
    city: str = ""


@dataclass(frozen=True, slots=True)
class Customer:
    id: CustomerId
    kind: CustomerKind
    email: str
    name: str
    country: str
    locale: str
    created_at: datetime
    vat_id: str | None = None
    company: str | None = None
    address: Address = Address()
    external_ref: str | None = None
    version: int = 1

    @property
    def is_business(self) -> bool:
        return self.kind is CustomerKind.BUSINESS


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    email: str
    name: str
    country: str
    locale: str = "de"
    kind: CustomerKind = CustomerKind.CONSUMER
    vat_id: str | None = None
    company: str | None = None
    address: Address = Address()
    external_ref: str | None = None


def build_customer(spec: CustomerSpec, *, customer_id: CustomerId, created_at: datetime) -> Customer:
    """Validate and normalise ``spec`` into a customer."""
    email = spec.email.strip()
    if not _EMAIL.match(email):
        raise InvalidCustomer(f"email {spec.email!r} is not a valid address such as name@example.com")
    name = spec.name.strip()
    if not name:
        raise InvalidCustomer("a customer needs a name")
    country = spec.country.strip().upper()
    if not is_country(country):
        raise InvalidCustomer(f"country {spec.country!r} is not an ISO 3166 two-letter code such as DE or AT")
    locale = spec.locale.strip().lower()
    if locale not in SUPPORTED_LOCALES:
        raise InvalidCustomer(f"locale {spec.locale!r} is not supported: use de or en")
    vat_id = normalise_vat_id(spec.vat_id, country) if spec.vat_id else None
    if vat_id and spec.kind is not CustomerKind.BUSINESS:
        raise InvalidCustomer("a VAT ID belongs to a business customer: mark the customer as a business")
    external_ref = (spec.external_ref or "").strip() or None
    return Customer(
        id=customer_id, kind=CustomerKind(spec.kind), email=email, name=name, country=country,
        locale=locale, created_at=created_at, vat_id=vat_id, company=(spec.company or "").strip() or None,
        address=spec.address, external_ref=external_ref,
    )


def normalise_vat_id(raw: str, country: str) -> str:
    """Check a VAT ID's format and check digits (python-stdnum) and that it fits the customer's country."""
    compact = "".join(ch for ch in raw.upper() if ch.isalnum())
    eu_prefixes = {"EL" if c == "GR" else c for c in EU_COUNTRIES} | {"XI"}
    if country in EU_COUNTRIES or compact[:2] in eu_prefixes:
        return _validate_eu(raw, country)
    module = get_cc_module(country.lower(), "vat")
    if module is None:
        raise InvalidVatId(f"VAT IDs from {country} cannot be checked; leave the VAT ID out for this customer")
    try:
        return str(module.compact(module.validate(raw)))
    except ValidationError as exc:
        raise InvalidVatId(f"VAT ID {raw!r} is not valid for {country}: {exc.message}") from None


def _validate_eu(raw: str, country: str) -> str:
    try:
        number = str(eu_vat.validate(raw))
    except ValidationError as exc:
        raise InvalidVatId(f"VAT ID {raw!r} is not valid: {exc.message}") from None
    if number.startswith("GR"):  # stdnum accepts the ISO code; VIES and invoices use EL for Greece
        number = "EL" + number[2:]
    prefix = number[:2]
    expected = {"GR": {"EL"}, "GB": {"XI"}}.get(country, {country})
    if prefix not in expected:
        raise InvalidVatId(f"VAT ID {raw!r} is registered in {prefix} but the customer's country is {country}")
    return number
