"""The contract summary a customer sees, in German or English: what they pay, how long they are bound, how and
by when they can cancel, and their right of withdrawal.

The same text is stored with each acceptance (with its SHA-256), so the summary shown then can be proved later
even after prices or terms changed. Rendering is deterministic: the same facts give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from aboguard.money import Money

from .catalog import PaymentMethodKind, RenewalMode
from .contracts import WITHDRAWAL_DAYS, CancellationWindow
from .payment_methods import CARD_BRANDS, MASK, PaymentMethod, mask_email, mask_iban
from .periods import Interval, IntervalUnit
from .terms import Language

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")


@dataclass(frozen=True, slots=True)
class ContractSummary:
    subscription_id: str
    language: Language
    as_of: date
    merchant_name: str
    customer_name: str
    consumer: bool
    plan_name: str
    plan_code: str
    plan_version: int
    price: Money
    interval: Interval
    tax_inclusive: bool
    setup_fee: Money | None
    start_on: date
    trial_end_on: date | None
    payment_method: str | None  # masked, e.g. "SEPA DE89 •••• 3000 (Anna)"
    min_term_months: int
    min_term_last_day: date | None
    notice_days: int
    renewal: RenewalMode
    renewal_term_months: int
    status: str
    window: CancellationWindow | None  # None once cancelled or ended
    ends_on: date | None  # a cancelled contract's first day without service
    withdrawal_deadline: date | None  # consumers only
    terms_code: str | None = None
    terms_version: int | None = None
    terms_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id, "language": self.language.value, "as_of": self.as_of,
            "merchant": self.merchant_name, "customer": self.customer_name, "consumer": self.consumer,
            "plan": {"code": self.plan_code, "name": self.plan_name, "version": self.plan_version},
            "price": self.price, "interval": {"unit": self.interval.unit.value, "count": self.interval.count},
            "price_includes_vat": self.tax_inclusive, "setup_fee": self.setup_fee, "start_on": self.start_on,
            "trial_end_on": self.trial_end_on, "payment_method": self.payment_method,
            "minimum_term_months": self.min_term_months, "minimum_term_last_day": self.min_term_last_day,
            "notice_days": self.notice_days, "renewal": self.renewal.value,
            "renewal_term_months": self.renewal_term_months, "status": self.status,
            "cancel_by": self.window.deadline if self.window else None,
            "contract_would_end_after": self.window.last_day if self.window else None,
            "last_day": (self.ends_on - timedelta(days=1)) if self.ends_on else None,
            "withdrawal_days": WITHDRAWAL_DAYS if self.consumer else None,
            "withdrawal_deadline": self.withdrawal_deadline,
            "terms": {"code": self.terms_code, "version": self.terms_version, "sha256": self.terms_sha256}
            if self.terms_code else None,
            "text": render(self),
        }


def method_label(method: PaymentMethod, language: Language) -> str:
    """The payment method as the customer reads it, masked (never a full IBAN, card number or token)."""
    de = language is Language.DE
    if method.kind is PaymentMethodKind.CARD:
        brand = CARD_BRANDS.get(method.brand or "", method.brand or ("Karte" if de else "Card"))
        expiry = f"{method.exp_month:02d}/{method.exp_year}" if method.exp_month and method.exp_year else "?"
        return f"{brand} {MASK} {method.last4}, " + (f"gültig bis {expiry}" if de else f"expires {expiry}")
    if method.kind is PaymentMethodKind.PAYPAL:
        return f"PayPal ({mask_email(method.payer_email)})" if method.payer_email else "PayPal"
    if method.kind is PaymentMethodKind.SEPA_DEBIT:
        what = "SEPA-Lastschrift" if de else "SEPA direct debit"
        reference = f", {'Mandatsreferenz' if de else 'mandate reference'} {method.mandate_reference}" \
            if method.mandate_reference else ""
        return f"{what} {mask_iban(method.iban or '')} ({method.account_holder}){reference}"
    return "Überweisung" if de else "Bank transfer"


def format_date(day: date, language: Language) -> str:
    if language is Language.DE:
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def _interval(interval: Interval, language: Language) -> str:
    n, unit = interval.count, interval.unit
    if language is Language.DE:
        single = {IntervalUnit.DAY: "täglich", IntervalUnit.WEEK: "wöchentlich", IntervalUnit.MONTH: "monatlich",
                  IntervalUnit.YEAR: "jährlich"}
        plural = {IntervalUnit.DAY: "Tage", IntervalUnit.WEEK: "Wochen", IntervalUnit.MONTH: "Monate",
                  IntervalUnit.YEAR: "Jahre"}
        return single[unit] if n == 1 else f"alle {n} {plural[unit]}"
    return f"every {unit.value}" if n == 1 else f"every {n} {unit.value}s"


def _renewal(s: ContractSummary, lang: Language) -> str:
    notice = s.notice_days
    if s.renewal is RenewalMode.FIXED_TERM:
        months = s.renewal_term_months or s.min_term_months
        if lang is Language.DE:
            return (f"Der Vertrag verlängert sich jeweils um {months} Monate, wenn er nicht mit einer Frist von "
                    f"{notice} Tagen zum Ende der Laufzeit gekündigt wird.")
        return (f"The contract renews for {months} months at a time unless cancelled with {notice} days' notice "
                "before the end of the term.")
    if s.min_term_months:
        if lang is Language.DE:
            return (f"Nach der Mindestlaufzeit läuft der Vertrag auf unbestimmte Zeit weiter und ist jederzeit mit "
                    f"einer Frist von {notice} Tagen kündbar" + (" (höchstens einem Monat)." if s.consumer else "."))
        return (f"After the minimum term the contract runs on indefinitely and can be cancelled at any time with "
                f"{notice} days' notice" + (" (at most one month)." if s.consumer else "."))
    if lang is Language.DE:
        return (f"Der Vertrag läuft auf unbestimmte Zeit und ist mit einer Frist von {notice} Tagen zum Ende eines "
                "Abrechnungszeitraums kündbar" + (", spätestens einen Monat nach der Kündigung." if s.consumer
                                                  else "."))
    return (f"The contract runs indefinitely and can be cancelled with {notice} days' notice to the end of a "
            "billing period" + (", at the latest one month after the cancellation." if s.consumer else "."))


def render(s: ContractSummary) -> str:
    """The plain-text summary in the summary's language (lines joined by newlines, ending with one)."""
    lang = s.language
    d = (lambda day: format_date(day, lang))  # noqa: E731
    money_locale = lang.value
    de = lang is Language.DE
    vat = ("inkl. USt." if s.tax_inclusive else "zzgl. USt.") if de else \
        ("incl. VAT" if s.tax_inclusive else "plus VAT")
    lines = [
        f"Vertragszusammenfassung — {s.plan_name}" if de else f"Contract summary — {s.plan_name}",
        f"{'Anbieter' if de else 'Provider'}: {s.merchant_name}",
        f"{'Kunde' if de else 'Customer'}: {s.customer_name}",
        f"{'Vertrag' if de else 'Contract'}: {s.subscription_id}",
        f"{'Stand' if de else 'As of'}: {d(s.as_of)}",
        "",
        f"{'Preis' if de else 'Price'}: {s.price.format(money_locale)} {vat}, {_interval(s.interval, lang)}",
    ]
    if s.setup_fee is not None and s.setup_fee.is_positive():
        lines.append(f"{'Einrichtungsgebühr' if de else 'Setup fee'}: {s.setup_fee.format(money_locale)}")
    lines.append(f"{'Vertragsbeginn' if de else 'Start'}: {d(s.start_on)}")
    if s.trial_end_on:
        lines.append(f"Kostenloser Testzeitraum bis einschließlich {d(s.trial_end_on - timedelta(days=1))}" if de
                      else f"Free trial up to and including {d(s.trial_end_on - timedelta(days=1))}")
    method = s.payment_method or ("noch nicht hinterlegt" if de else "not given yet")
    lines.append(f"{'Zahlungsart' if de else 'Payment method'}: {method}")
    if s.min_term_months and s.min_term_last_day:
        lines.append(f"Mindestlaufzeit: {s.min_term_months} Monate, bis einschließlich {d(s.min_term_last_day)}"
                      if de else f"Minimum term: {s.min_term_months} months, up to and including "
                      f"{d(s.min_term_last_day)}")
    else:
        lines.append("Mindestlaufzeit: keine" if de else "Minimum term: none")
    lines.append(f"{'Kündigungsfrist' if de else 'Notice period'}: {s.notice_days} {'Tage' if de else 'days'}")
    lines.append(f"{'Verlängerung' if de else 'Renewal'}: {_renewal(s, lang)}")
    if s.window is not None:
        lines.append((f"Nächste Kündigungsmöglichkeit: Kündigung bis einschließlich {d(s.window.deadline)}, der "
                      f"Vertrag endet dann mit Ablauf des {d(s.window.last_day)}.") if de else
                     (f"Next chance to cancel: cancel by {d(s.window.deadline)} and the contract ends after "
                      f"{d(s.window.last_day)}."))
    elif s.ends_on is not None:
        last = d(s.ends_on - timedelta(days=1))
        lines.append(f"Gekündigt: Der Vertrag endet mit Ablauf des {last}." if de
                     else f"Cancelled: the contract ends after {last}.")
    if s.consumer:
        deadline = f" (bis einschließlich {d(s.withdrawal_deadline)})" if de and s.withdrawal_deadline else \
            f" (up to and including {d(s.withdrawal_deadline)})" if s.withdrawal_deadline else ""
        lines.append((f"Widerrufsrecht: Sie können den Vertrag binnen {WITHDRAWAL_DAYS} Tagen ohne Angabe von "
                      f"Gründen widerrufen{deadline}. Für die bis zum Widerruf erbrachten Leistungen zahlen Sie "
                      "anteilig; Vorausbezahltes für die Zeit danach wird erstattet.") if de else
                     (f"Right of withdrawal: you may withdraw from the contract within {WITHDRAWAL_DAYS} days "
                      f"without giving a reason{deadline}. You pay pro rata for the service up to the withdrawal; "
                      "anything paid for the time after it is refunded."))
    if s.terms_code:
        lines.append(f"Es gelten die AGB {s.terms_code} Version {s.terms_version} (SHA-256 {s.terms_sha256})." if de
                      else f"Terms {s.terms_code} version {s.terms_version} apply (SHA-256 {s.terms_sha256}).")
    return "\n".join(lines) + "\n"
