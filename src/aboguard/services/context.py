"""What every service function receives: storage, the clock and the merchant's time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from aboguard.clock import Clock
from aboguard.domain.numbering import DEFAULT_CREDIT_NOTE_PATTERN, DEFAULT_INVOICE_PATTERN, NumberPattern
from aboguard.domain.retries import RetryPolicy, SmartRetryPolicy
from aboguard.domain.tax import MerchantTax
from aboguard.errors import AboguardError
from aboguard.ids import new_id
from aboguard.notify.ports import Notifier
from aboguard.payments.gateway import PaymentGateway
from aboguard.store.uow import UnitOfWorkFactory

from . import public_holidays
from .public_holidays import HolidayCheck


@dataclass(frozen=True, slots=True)
class BillingSettings:
    """The merchant's invoicing setup: tax status, number series and payment terms."""

    merchant_tax: MerchantTax = field(default_factory=MerchantTax)
    invoice_numbers: NumberPattern = field(default_factory=lambda: NumberPattern("invoice", DEFAULT_INVOICE_PATTERN))
    credit_note_numbers: NumberPattern = field(
        default_factory=lambda: NumberPattern("credit_note", DEFAULT_CREDIT_NOTE_PATTERN))
    payment_terms_days: int = 14
    merchant_name: str = "aboguard sandbox merchant"
    merchant_address: tuple[str, ...] = ()
    skonto: tuple[Decimal, int] | None = None  # early-payment discount on pay-by-invoice invoices: (percent, days)


@dataclass(frozen=True, slots=True)
class SepaSettings:
    """SEPA direct debit set-up: how debits go out, and the creditor written into pain.008 files.

    ``channel``: ``gateway`` (the payment provider collects; the default) or ``file`` (aboguard writes pain.008
    files for the merchant's bank and reads its camt reports). ``iban`` is the merchant's account, also shown
    on invoices paid by bank transfer. ``lead_days``: banking days a file must reach the bank before the due
    date (D-1 for Core and B2B). ``first_as_rcur``: send first collections as RCUR (allowed since 2016).
    ``use_fnal``: send the last collection of a mandate's series as FNAL (the default; off: as RCUR, also
    allowed since 2016).
    """

    channel: str = "gateway"
    creditor_id: str | None = None
    creditor_name: str = "aboguard sandbox merchant"
    iban: str | None = None
    bic: str | None = None
    lead_days: int = 1
    first_as_rcur: bool = False
    use_fnal: bool = True


@dataclass(slots=True)
class ServiceContext:
    uow: UnitOfWorkFactory
    clock: Clock
    merchant_tz: ZoneInfo
    database_label: str = ""
    billing: BillingSettings = field(default_factory=BillingSettings)
    gateway: PaymentGateway | None = None  # the configured payment provider (the offline sandbox by default)
    retry_policy: RetryPolicy = field(default_factory=SmartRetryPolicy)  # what to do after a failed charge
    notifier: Notifier | None = None  # mailer, templates, webhook sender, portal tokens (notify dispatcher)
    sepa: SepaSettings = field(default_factory=SepaSettings)
    public_holiday: HolidayCheck = field(default_factory=public_holidays.calendar)  # § 193 BGB deadlines

    def require_gateway(self) -> PaymentGateway:
        if self.gateway is None:
            raise AboguardError("no payment gateway is configured for this installation")
        return self.gateway

    def require_notifier(self) -> Notifier:
        if self.notifier is None:
            raise AboguardError("no notifier (mailer, templates, webhook sender) is configured for this installation")
        return self.notifier

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.clock.today(self.merchant_tz)

    def close(self) -> None:
        self.uow.close()

    def new_id(self) -> str:
        return new_id(int(self.clock.now().timestamp() * 1000))
