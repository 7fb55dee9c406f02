"""Payment methods: the card, PayPal agreement, SEPA mandate or bank transfer a customer pays with.

Pure rules: validation (IBAN and BIC through schwifty, card expiry, SEPA mandate references as in
REFERENCE.md 1.3) and masking. Gateway tokens and IBANs are secrets (DESIGN.md rule 9): they never
appear in :meth:`PaymentMethod.label`, ``repr()`` or ``str()``; storage encrypts them.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from aboguard.errors import InvalidPaymentMethod
from aboguard.ids import CustomerId, PaymentMethodId

from .catalog import PaymentMethodKind
from .events import Event

MANDATE_REFERENCE_MAX = 35
_MANDATE_CHARS = re.compile(r"^[A-Za-z0-9+?/\-:().,' ]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TOKEN = re.compile(r"^\S{1,255}$")
MASK = "••••"

CARD_BRANDS: dict[str, str] = {
    "visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "maestro": "Maestro",
    "discover": "Discover", "diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
}

KIND_LABELS = {PaymentMethodKind.CARD: "card", PaymentMethodKind.PAYPAL: "PayPal",
               PaymentMethodKind.SEPA_DEBIT: "SEPA direct debit", PaymentMethodKind.BANK_TRANSFER: "bank transfer"}


class PaymentMethodStatus(StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True, repr=False)
class PaymentMethod:
    id: PaymentMethodId
    customer_id: CustomerId
    kind: PaymentMethodKind
    is_default: bool
    status: PaymentMethodStatus
    created_at: datetime
    gateway_token: str | None = None  # card: the gateway's token; PayPal: billing agreement / vault id
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    payer_email: str | None = None
    iban: str | None = None  # compact, upper case
    bic: str | None = None
    account_holder: str | None = None
    mandate_reference: str | None = None
    mandate_signed_on: date | None = None
    version: int = 1
    mandate_scheme: str | None = None  # domain.sepa.MandateScheme: core or b2b
    mandate_type: str | None = None  # domain.sepa.MandateType: recurrent or one_off
    mandate_status: str | None = None  # domain.sepa.MandateStatus; expiry after 36 unused months is derived
    mandate_last_used_on: date | None = None  # due date of the last collection presented under the mandate
    mandate_original_reference: str | None = None  # amended: the reference the next collection reports
    mandate_original_iban: str | None = None  # amended: the IBAN the next collection reports (a secret)
    mandate_new_bank: bool = False  # amended to an IBAN at another bank (SMNDA)

    @property
    def is_active(self) -> bool:
        return self.status is PaymentMethodStatus.ACTIVE

    @property
    def iban_last4(self) -> str | None:
        return self.iban[-4:] if self.iban else None

    @property
    def display_last4(self) -> str | None:
        """The last four digits of the card or the IBAN (safe to show)."""
        return self.last4 if self.kind is PaymentMethodKind.CARD else self.iban_last4

    def label(self) -> str:
        """A masked description, e.g. ``Visa •••• 4242, expires 12/2027``; never the full IBAN or token."""
        if self.kind is PaymentMethodKind.CARD:
            brand = CARD_BRANDS.get(self.brand or "", self.brand or "Card")
            return f"{brand} {MASK} {self.last4}, expires {self.exp_month:02d}/{self.exp_year}"
        if self.kind is PaymentMethodKind.PAYPAL:
            return f"PayPal ({mask_email(self.payer_email)})" if self.payer_email else "PayPal"
        if self.kind is PaymentMethodKind.SEPA_DEBIT:
            return f"SEPA {mask_iban(self.iban or '')} ({self.account_holder})"
        return "Bank transfer"

    def masked(self) -> str:
        return self.label()

    def expires_on(self) -> date | None:
        """The last day a card can be charged (the end of its expiry month); None for other kinds."""
        if self.kind is not PaymentMethodKind.CARD or self.exp_month is None or self.exp_year is None:
            return None
        return date(self.exp_year, self.exp_month, calendar.monthrange(self.exp_year, self.exp_month)[1])

    def is_expired(self, today: date) -> bool:
        expires = self.expires_on()
        return expires is not None and expires < today

    def expires_within(self, days: int, today: date) -> bool:
        """True for a card whose last usable day is on or before ``today + days`` (or has passed)."""
        expires = self.expires_on()
        return expires is not None and expires <= today + timedelta(days=days)

    def __repr__(self) -> str:
        return (f"PaymentMethod(id={self.id!r}, customer_id={self.customer_id!r}, kind={self.kind.value!r}, "
                f"label={self.label()!r}, is_default={self.is_default}, status={self.status.value!r}, "
                f"version={self.version})")

    __str__ = label


@dataclass(frozen=True, slots=True, repr=False)
class PaymentMethodSpec:
    """A payment method as asked for, before validation. Only the fields of ``kind`` may be given."""

    kind: PaymentMethodKind
    gateway_token: str | None = None
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    payer_email: str | None = None
    iban: str | None = None
    bic: str | None = None
    account_holder: str | None = None
    mandate_reference: str | None = None
    mandate_signed_on: date | None = None
    mandate_scheme: str | None = None
    mandate_type: str | None = None
    make_default: bool = False

    def __repr__(self) -> str:
        return f"PaymentMethodSpec(kind={self.kind.value!r}, make_default={self.make_default})"

    __str__ = __repr__


_FIELDS: dict[PaymentMethodKind, frozenset[str]] = {
    PaymentMethodKind.CARD: frozenset({"gateway_token", "brand", "last4", "exp_month", "exp_year"}),
    PaymentMethodKind.PAYPAL: frozenset({"gateway_token", "payer_email"}),
    PaymentMethodKind.SEPA_DEBIT: frozenset({"iban", "bic", "account_holder", "mandate_reference",
                                             "mandate_signed_on", "mandate_scheme", "mandate_type"}),
    PaymentMethodKind.BANK_TRANSFER: frozenset(),
}
_ALL_FIELDS = frozenset().union(*_FIELDS.values())


def build_payment_method(spec: PaymentMethodSpec, *, method_id: PaymentMethodId, customer_id: CustomerId,
                         created_at: datetime, today: date | None = None) -> PaymentMethod:
    """Validate and normalise ``spec``. ``today`` (the merchant's date, default ``created_at``'s) checks
    card expiry and mandate signature dates. ``is_default`` is ``spec.make_default``; storage makes the
    customer's first method the default anyway."""
    today = today or created_at.date()
    kind = PaymentMethodKind(spec.kind)
    extra = sorted(name for name in _ALL_FIELDS - _FIELDS[kind] if getattr(spec, name) is not None)
    if extra:
        raise InvalidPaymentMethod(f"a {KIND_LABELS[kind]} payment method takes no {', '.join(extra)}")
    base = {"id": method_id, "customer_id": customer_id, "kind": kind, "is_default": bool(spec.make_default),
            "status": PaymentMethodStatus.ACTIVE, "created_at": created_at}
    if kind is PaymentMethodKind.CARD:
        return PaymentMethod(**base, **_card(spec, today))
    if kind is PaymentMethodKind.PAYPAL:
        return PaymentMethod(**base, **_paypal(spec))
    if kind is PaymentMethodKind.SEPA_DEBIT:
        return PaymentMethod(**base, **_sepa(spec, today))
    return PaymentMethod(**base)


def _token(raw: str | None, what: str) -> str:
    token = (raw or "").strip()
    if not token:
        raise InvalidPaymentMethod(f"a {what} is required")
    if not _TOKEN.match(token):
        raise InvalidPaymentMethod(f"the {what} must be 1-255 characters without spaces")
    return token


def _card(spec: PaymentMethodSpec, today: date) -> dict[str, object]:
    token = _token(spec.gateway_token, "card token from the payment gateway")
    brand = (spec.brand or "").strip().lower().replace(" ", "_")
    if brand not in CARD_BRANDS:
        raise InvalidPaymentMethod(f"unknown card brand {spec.brand!r}: use one of {', '.join(CARD_BRANDS)}")
    last4 = (spec.last4 or "").strip()
    if len(last4) != 4 or not last4.isascii() or not last4.isdigit():
        raise InvalidPaymentMethod(f"last4 must be the card's last four digits, got {spec.last4!r}")
    month, year = spec.exp_month, spec.exp_year
    if month is None or year is None:
        raise InvalidPaymentMethod("a card needs its expiry month and year")
    if not 1 <= month <= 12:
        raise InvalidPaymentMethod(f"expiry month must be 1 to 12, got {month}")
    if not 2000 <= year <= today.year + 50:
        raise InvalidPaymentMethod(f"expiry year must be a four-digit year such as {today.year + 3}, got {year}")
    if (year, month) < (today.year, today.month):
        raise InvalidPaymentMethod(f"the card expired in {month:02d}/{year}")
    return {"gateway_token": token, "brand": brand, "last4": last4, "exp_month": month, "exp_year": year}


def _paypal(spec: PaymentMethodSpec) -> dict[str, object]:
    token = _token(spec.gateway_token, "PayPal billing agreement or vault id")
    email = (spec.payer_email or "").strip() or None
    if email is not None and not _EMAIL.match(email):
        raise InvalidPaymentMethod(f"payer email {spec.payer_email!r} is not a valid address such as "
                                   f"name@example.com")
    return {"gateway_token": token, "payer_email": email}


def _sepa(spec: PaymentMethodSpec, today: date) -> dict[str, object]:
    iban = normalise_iban(spec.iban or "")
    bic = normalise_bic(spec.bic) if spec.bic and spec.bic.strip() else bic_for_iban(iban)
    holder = " ".join((spec.account_holder or "").split())
    if not holder:
        raise InvalidPaymentMethod("a SEPA direct debit needs the account holder's name")
    if len(holder) > 70:
        raise InvalidPaymentMethod("the account holder's name must be at most 70 characters")
    if spec.mandate_reference is None:
        raise InvalidPaymentMethod("a SEPA direct debit needs a mandate reference")
    reference = validate_mandate_reference(spec.mandate_reference)
    signed_on = spec.mandate_signed_on or today
    if signed_on > today:
        raise InvalidPaymentMethod(f"the mandate signature date {signed_on.isoformat()} is in the future")
    scheme = (spec.mandate_scheme or "core").strip().lower()
    if scheme not in {"core", "b2b"}:
        raise InvalidPaymentMethod(f"mandate scheme {spec.mandate_scheme!r} must be core or b2b")
    mandate_type = (spec.mandate_type or "recurrent").strip().lower().replace("-", "_")
    if mandate_type not in {"recurrent", "one_off"}:
        raise InvalidPaymentMethod(f"mandate type {spec.mandate_type!r} must be recurrent or one_off")
    return {"iban": iban, "bic": bic, "account_holder": holder, "mandate_reference": reference,
            "mandate_signed_on": signed_on, "mandate_scheme": scheme, "mandate_type": mandate_type,
            "mandate_status": "active"}


def normalise_iban(raw: str) -> str:
    """The IBAN in compact upper case, after checking country, length, format and check digits."""
    if not raw.strip():
        raise InvalidPaymentMethod("a SEPA direct debit needs an IBAN")
    try:
        return str(IBAN(raw.strip()).compact)
    except (SchwiftyException, ValueError) as exc:
        # the message names the problem, not the number: an IBAN is personal data (rule 9)
        raise InvalidPaymentMethod(f"the IBAN is not valid: {_reason(exc, hide=raw)}") from None


def normalise_bic(raw: str) -> str:
    try:
        return str(BIC(raw.strip()).compact)
    except (SchwiftyException, ValueError) as exc:
        raise InvalidPaymentMethod(f"BIC {raw.strip()!r} is not valid: {_reason(exc)}") from None


def bic_for_iban(iban: str) -> str | None:
    """The bank's BIC when schwifty's bank registry knows it (optional in SEPA: "IBAN-only")."""
    try:
        bic = IBAN(iban).bic
    except (SchwiftyException, ValueError):
        return None
    return str(bic.compact) if bic is not None else None


def _reason(exc: Exception, hide: str = "") -> str:
    text = str(exc).split(":")[0]
    compact = "".join(hide.split()).upper()
    if compact:
        text = text.replace(compact, "").replace(hide.strip(), "")
    text = " ".join(text.split()) or type(exc).__name__
    return text[0].lower() + text[1:]


def validate_mandate_reference(raw: str) -> str:
    """A SEPA mandate reference (UMR): 1-35 of ``A-Z a-z 0-9 + ? / - : ( ) . , '`` and space."""
    reference = raw.strip()
    if not reference:
        raise InvalidPaymentMethod("the mandate reference must not be empty")
    if len(reference) > MANDATE_REFERENCE_MAX:
        raise InvalidPaymentMethod(f"the mandate reference must be at most {MANDATE_REFERENCE_MAX} characters, "
                                   f"got {len(reference)}")
    if not _MANDATE_CHARS.match(reference):
        raise InvalidPaymentMethod(f"mandate reference {reference!r} may only use A-Z a-z 0-9 and "
                                   f"+ ? / - : ( ) . , ' and space")
    if "//" in reference:
        raise InvalidPaymentMethod(f"mandate reference {reference!r} must not contain '//'")
    return reference


def mask_iban(iban: str) -> str:
    """``DE89 •••• •••• •••• •••• 3000``: the country, check digits and the last four only."""
    if len(iban) < 9:
        return MASK
    hidden_groups = -(-(len(iban) - 8) // 4)
    return " ".join([iban[:4], *([MASK] * hidden_groups), iban[-4:]])


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mandate_reference_candidate(customer_id: str, counter: int) -> str:
    """``AG-<last 8 of the customer id>-<counter>``: no personal data, unique per customer and counter."""
    short = "".join(ch for ch in customer_id if ch.isalnum())[-8:].upper()
    return f"AG-{short}-{counter:04d}"


# -- events -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentMethodAdded(Event):
    name: ClassVar[str] = "payment_method.added"
    aggregate: ClassVar[str] = "payment_method"
    customer_id: str
    kind: str
    label: str  # masked
    is_default: bool


@dataclass(frozen=True, slots=True)
class PaymentMethodRemoved(Event):
    name: ClassVar[str] = "payment_method.removed"
    aggregate: ClassVar[str] = "payment_method"
    customer_id: str
    kind: str
    new_default_id: str | None


@dataclass(frozen=True, slots=True)
class PaymentMethodDefaultChanged(Event):
    name: ClassVar[str] = "payment_method.default_changed"
    aggregate: ClassVar[str] = "payment_method"
    customer_id: str
    previous_default_id: str | None
