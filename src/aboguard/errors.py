"""The one exception tree of aboguard.

Every rule that is broken raises a subclass of :class:`AboguardError`. Each class has a stable
``code`` (used by the CLI and, later, as the ``type`` of RFC 9457 problem documents) and an HTTP
``status`` hint. Expected outcomes (a declined card, an empty billing run) are return values,
never exceptions.

    AboguardError                       error                500
    +-- InvalidInput                    invalid_input        422
    |   +-- InvalidMoney                money.invalid
    |   +-- UnknownCurrency             money.unknown_currency
    |   +-- CurrencyMismatch            money.currency_mismatch
    |   +-- InvalidDate                 date.invalid
    |   +-- InvalidPlan                 plan.invalid
    |   +-- InvalidCustomer             customer.invalid
    |   +-- InvalidVatId                customer.invalid_vat_id
    |   +-- InvalidSubscription         subscription.invalid
    |   +-- InvalidInvoice              invoice.invalid
    |   +-- UnknownTaxRate              tax.unknown_rate
    |   +-- UnbalancedEntry             ledger.unbalanced
    |   +-- InvalidPaymentMethod        payment_method.invalid
    +-- NotFound                        not_found            404
    |   +-- PlanNotFound                plan.not_found
    |   +-- CustomerNotFound            customer.not_found
    |   +-- SubscriptionNotFound        subscription.not_found
    |   +-- InvoiceNotFound             invoice.not_found
    |   +-- PaymentMethodNotFound       payment_method.not_found
    +-- Conflict                        conflict             409
    |   +-- DuplicatePlanCode           plan.duplicate_code
    |   +-- DuplicateCustomer           customer.duplicate
    |   +-- DuplicateMandateReference   payment_method.duplicate_mandate_reference
    |   +-- InvalidTransition           subscription.invalid_transition
    |   +-- ConcurrentUpdate            concurrent_update
    |   +-- NotInitialised              installation.not_initialised
    |   +-- AlreadyInitialised          installation.already_initialised
    +-- Forbidden                       forbidden            403
    |   +-- ClockNotAdjustable          clock.not_adjustable
    +-- SecretsUnavailable              secrets.unavailable  500
"""

from __future__ import annotations

from typing import ClassVar


class AboguardError(Exception):
    """Base of every error aboguard raises on purpose."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(AboguardError):
    code, status = "invalid_input", 422


class InvalidMoney(InvalidInput):
    code = "money.invalid"


class UnknownCurrency(InvalidInput):
    code = "money.unknown_currency"


class CurrencyMismatch(InvalidInput):
    code = "money.currency_mismatch"


class InvalidDate(InvalidInput):
    code = "date.invalid"


class InvalidPlan(InvalidInput):
    code = "plan.invalid"


class InvalidCustomer(InvalidInput):
    code = "customer.invalid"


class InvalidVatId(InvalidCustomer):
    code = "customer.invalid_vat_id"


class InvalidSubscription(InvalidInput):
    code = "subscription.invalid"


class InvalidInvoice(InvalidInput):
    code = "invoice.invalid"


class UnknownTaxRate(InvalidInput):
    code = "tax.unknown_rate"


class UnbalancedEntry(InvalidInput):
    code = "ledger.unbalanced"


class InvalidPaymentMethod(InvalidInput):
    code = "payment_method.invalid"


class NotFound(AboguardError):
    code, status = "not_found", 404


class PlanNotFound(NotFound):
    code = "plan.not_found"


class CustomerNotFound(NotFound):
    code = "customer.not_found"


class SubscriptionNotFound(NotFound):
    code = "subscription.not_found"


class InvoiceNotFound(NotFound):
    code = "invoice.not_found"


class PaymentMethodNotFound(NotFound):
    code = "payment_method.not_found"


class Conflict(AboguardError):
    code, status = "conflict", 409


class DuplicatePlanCode(Conflict):
    code = "plan.duplicate_code"


class DuplicateCustomer(Conflict):
    code = "customer.duplicate"


class DuplicateMandateReference(Conflict):
    code = "payment_method.duplicate_mandate_reference"


class InvalidTransition(Conflict):
    code = "subscription.invalid_transition"


class ConcurrentUpdate(Conflict):
    code = "concurrent_update"


class NotInitialised(Conflict):
    code = "installation.not_initialised"


class AlreadyInitialised(Conflict):
    code = "installation.already_initialised"


class Forbidden(AboguardError):
    code, status = "forbidden", 403


class ClockNotAdjustable(Forbidden):
    code = "clock.not_adjustable"


class SecretsUnavailable(AboguardError):
    """Encrypted data (IBANs, gateway tokens) cannot be read or written: no usable secret key."""

    code = "secrets.unavailable"
