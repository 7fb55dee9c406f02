"""What to do after a failed charge: retry on a better day, ask the customer, or stop.

Pure rules, no I/O, no system time: a policy gets the failed charges of one invoice (oldest first) and
"today" (the merchant-local date) and returns one :class:`RetryDecision`.

:class:`SmartRetryPolicy` (``"smart"``) follows REFERENCE 6.5 (derived from 6.1, 6.2, 6.3 and 1.11).
The last failure decides, network rules first:

* never retry, ask for a new payment method (``ASK_FOR_NEW_METHOD``): hard and fraud declines, Mastercard
  MAC ``03`` (do not try again) and ``21`` (stop recurring), the SEPA codes AC01, AC04, AG01, MD01, MD06
  (refund requested: no automatic re-debit), MD07, MS02 and SL01, every other customer-action decline
  (expired card, wrong number or CVC, a blocked account) and any card/PayPal failure whose
  ``retry_allowed`` is False (Visa category 1, MAC 01/04, PSP advice "do_not_try_again");
* ``authentication_required`` -> ``ASK_TO_AUTHENTICATE``: an off-session retry cannot pass 3-D Secure;
* a SEPA failure that is not retryable and is the merchant's own data error (AM05 duplicate, FF01, BE05,
  RC01, RR0x) -> ``STOP``: fix the data, then collect again;
* SEPA AM04 / MS03 (and unknown SEPA codes): re-present at most ``sepa_max_representations`` times, each a
  new collection with a pre-notification (``pre_notification=True``), on the first TARGET2 banking day right
  after a pay day that is at least ``sepa_prenotification_days`` after today;
* soft card and PayPal declines, on better days: Mastercard MAC 24-30 exactly after 1 h / 24 h / 2 / 4 / 6
  / 8 / 10 days (whole days, rounded up, at least the next day); MAC 02 not before 3 days; insufficient
  funds and limits (``insufficient_funds``, ``card_velocity_exceeded``, ``withdrawal_count_limit_exceeded``)
  on the next pay day; technical failures (``processing_error``, ``try_again_later``,
  ``issuer_not_available``, ``reenter_transaction``) the next day; any other soft decline
  (``do_not_honor``, ``generic_decline``, unknown) after 3 days or on the next pay day if that is sooner.

Pay days are the 1st, the 15th and the last TARGET2 banking day of each month. A card is never charged
twice within ``min_gap_days``; no retry is scheduled after ``window_days`` from the first failure (a date
that only prefers a pay day falls back to the window's last day; an exact network timing does not) and no
more than ``max_attempts`` charges are made in all. When nothing may be tried any more: ``STOP``, and
dunning carries on.

:class:`FixedRetryPolicy` (``"fixed"``) is the naive baseline to compare against: it retries every failure
the network rules allow (``retry_allowed`` True and no MAC 03/21) on days 3, 5 and 7 after the first
failure, whatever the decline class, then stops.

``FailedCharge.network_advice`` is read as a Mastercard Merchant Advice Code for cards (the charge does not
carry the card network); a Visa response code there is harmless, as Visa category 1 codes already make
``retry_allowed`` False.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any, ClassVar, Protocol, runtime_checkable

from aboguard.domain.banking_calendar import last_banking_day_of_month, next_banking_day, previous_banking_day
from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.declines import MASTERCARD_NO_RETRY_ADVICE, SEPA_REASON_CODES, mastercard_retry_after
from aboguard.errors import InvalidInput

__all__ = [
    "FailedCharge",
    "FixedRetryPolicy",
    "RetryAction",
    "RetryDecision",
    "RetryPolicy",
    "SmartRetryPolicy",
    "policy_by_name",
]


class RetryAction(StrEnum):
    RETRY = "retry"  # charge again on retry_on
    ASK_FOR_NEW_METHOD = "ask_for_new_method"  # hard decline / closed account / no mandate: never retry this method
    ASK_TO_AUTHENTICATE = "ask_to_authenticate"  # 3-D Secure / SCA needed: off-session retries won't help
    STOP = "stop"  # attempts or window exhausted, or network rules forbid more


@dataclass(frozen=True, slots=True)
class FailedCharge:
    """One failed attempt to collect an invoice; a history holds them oldest first."""

    failed_on: date  # merchant-local date
    method_kind: PaymentMethodKind
    decline_code: str  # normalized ("insufficient_funds"); SEPA codes too (AM04 -> "insufficient_funds")
    decline_class: str  # "hard" | "soft" | "customer_action" | "fraud"
    retry_allowed: bool
    network_advice: str | None = None  # e.g. Mastercard MAC "03", "21", "24".."30"
    raw_code: str | None = None  # as received ("AM04", "51", "INSUFFICIENT_FUNDS")


@dataclass(frozen=True, slots=True)
class RetryDecision:
    action: RetryAction
    retry_on: date | None  # only for RETRY
    reason: str  # one readable sentence
    pre_notification: bool = False  # SEPA re-presentation: the customer must be pre-notified before retry_on


@runtime_checkable
class RetryPolicy(Protocol):
    name: str

    def decide(self, history: Sequence[FailedCharge], *, today: date) -> RetryDecision: ...


# -- classification -------------------------------------------------------------------------------------------

_SEPA_NEW_METHOD = frozenset({"AC01", "AC04", "AG01", "MD01", "MD06", "MD07", "MS02", "SL01"})
_FUNDS = frozenset({"insufficient_funds", "card_velocity_exceeded", "withdrawal_count_limit_exceeded"})
_TECHNICAL = frozenset({"processing_error", "try_again_later", "issuer_not_available", "reenter_transaction"})
_AUTHENTICATE = frozenset({"authentication_required"})
_MAC_TRY_LATER = "02"  # "cannot approve now, try later" (REFERENCE 6.2: e.g. >= 72 h)
_GENERIC_GAP = timedelta(days=3)
_MAC_STOP = {"03": "do not try again", "21": "payment cancelled / stop recurring"}
# normalized name -> ISO code ("insufficient_funds" -> "AM04"); the first code wins for shared names (RR01)
_SEPA_BY_NAME = {rule.code: iso for iso, rule in reversed(SEPA_REASON_CODES.items())}


def _is_sepa(charge: FailedCharge) -> bool:
    return charge.method_kind == PaymentMethodKind.SEPA_DEBIT


def _is_card(charge: FailedCharge) -> bool:
    return charge.method_kind == PaymentMethodKind.CARD


def _sepa_code(charge: FailedCharge) -> str | None:
    """The ISO reason code of a SEPA failure, from the raw code or back from the normalized one."""
    for candidate in (charge.raw_code, charge.decline_code):
        if candidate and candidate.strip().upper() in SEPA_REASON_CODES:
            return candidate.strip().upper()
    return _SEPA_BY_NAME.get((charge.decline_code or "").strip().lower())


def _mac(charge: FailedCharge) -> str | None:
    """The Mastercard Merchant Advice Code of a card failure, two digits ("3" -> "03")."""
    advice = (charge.network_advice or "").strip()
    if not advice or not _is_card(charge):
        return None
    return advice.zfill(2) if advice.isdigit() else advice


def _code(charge: FailedCharge) -> str:
    return (charge.decline_code or "").strip().lower() or "unknown"


def _label(charge: FailedCharge) -> str:
    """How a failure is named in a reason: "insufficient funds", "insufficient funds (AM04)"."""
    text = _code(charge).replace("_", " ")
    iso = _sepa_code(charge) if _is_sepa(charge) else None
    return f"{text} ({iso})" if iso else text


def _ordered(history: Sequence[FailedCharge]) -> list[FailedCharge]:
    charges = list(history)
    if not charges:
        raise InvalidInput("a retry decision needs at least one failed charge")
    if not all(isinstance(c, FailedCharge) for c in charges):
        raise InvalidInput("a retry history holds FailedCharge values only")
    return sorted(charges, key=lambda c: c.failed_on)  # stable: same-day charges keep their order


def _decision(action: RetryAction, reason: str) -> RetryDecision:
    return RetryDecision(action, None, reason)


def _network_stop(last: FailedCharge) -> str | None:
    """Why the card network forbids any further attempt with this method, or None."""
    mac = _mac(last)
    if mac is None or mac not in MASTERCARD_NO_RETRY_ADVICE:
        return None
    return f"Mastercard advice {mac} ({_MAC_STOP.get(mac, 'stop')})"


def _no_retry(last: FailedCharge) -> RetryDecision | None:
    """The decision for a failure that must not be retried with the same method; None if it may be."""
    label, cls = _label(last), (last.decline_class or "").strip().lower()
    new_method = RetryAction.ASK_FOR_NEW_METHOD
    network = _network_stop(last)
    if network is not None:
        return _decision(new_method, f"{label} with {network}: the network forbids retrying this card; ask the "
                                     "customer for a new payment method")
    if cls == "fraud":
        return _decision(new_method, f"{label}: the payment was blocked as fraudulent, never retry it; review the "
                                     "customer and ask for another payment method")
    if cls == "hard":
        return _decision(new_method, f"{label}: a hard decline that will never be approved, never retry this "
                                     "payment method; ask the customer for a new one")
    if _is_sepa(last) and _sepa_code(last) in _SEPA_NEW_METHOD:
        if _sepa_code(last) == "MD06":
            return _decision(new_method, f"{label}: the customer had the debit refunded, so no automatic re-debit; "
                                         "contact the customer and offer another payment method")
        return _decision(new_method, f"{label}: this account or mandate cannot be debited again; ask the customer "
                                     "for a new bank account and mandate or another payment method")
    if _code(last) in _AUTHENTICATE:
        return _decision(RetryAction.ASK_TO_AUTHENTICATE, f"{label}: the bank wants the customer to confirm the "
                                                          "payment (3-D Secure), which an off-session retry cannot do")
    if cls == "customer_action":
        return _decision(new_method, f"{label}: retrying the same details cannot succeed; ask the customer to "
                                     "update or replace the payment method")
    if not last.retry_allowed:
        if _is_sepa(last):
            return _decision(RetryAction.STOP, f"{label}: the direct debit failed on the merchant's own data; fix "
                                               "it before collecting again")
        return _decision(new_method, f"{label}: the card network or provider forbids retrying this payment "
                                     "method; ask the customer for a new one")
    return None


# -- pay days -------------------------------------------------------------------------------------------------


def _pay_days(year: int, month: int) -> Iterator[date]:
    """Pay days in order from ``year-month`` on: the 1st, the 15th and the last banking day of each month."""
    while True:
        yield date(year, month, 1)
        yield date(year, month, 15)
        yield last_banking_day_of_month(year, month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _next_pay_day(on_or_after: date) -> date:
    return next(p for p in _pay_days(on_or_after.year, on_or_after.month) if p >= on_or_after)


def _banking_day_after_pay_day(on_or_after: date) -> tuple[date, date]:
    """The first (pay day, banking day right after it) whose banking day is on or after ``on_or_after``."""
    start = on_or_after - timedelta(days=31)
    for pay_day in _pay_days(start.year, start.month):
        after = next_banking_day(pay_day, include_today=False)
        if after >= on_or_after:
            return pay_day, after
    raise AssertionError("unreachable")  # pragma: no cover - _pay_days never ends


# -- policies -------------------------------------------------------------------------------------------------


def _check_int(policy: str, name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"retry policy {policy!r}: {name} must be a whole number of at least {minimum}, "
                           f"not {value!r}")


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


@dataclass(frozen=True, slots=True)
class SmartRetryPolicy:
    """Decline-aware retries (REFERENCE 6.5); see the module docstring for the rules."""

    name: ClassVar[str] = "smart"
    max_attempts: int = 8  # total charges including the first one
    window_days: int = 21  # counted from the first failure
    sepa_max_representations: int = 1
    sepa_prenotification_days: int = 2  # lead time the merchant's terms agree for re-presentations
    min_gap_days: int = 1  # never more than one attempt per day per card

    def __post_init__(self) -> None:
        for name, minimum in (("max_attempts", 1), ("window_days", 1), ("sepa_max_representations", 0),
                              ("sepa_prenotification_days", 0), ("min_gap_days", 1)):
            _check_int(self.name, name, getattr(self, name), minimum)

    def decide(self, history: Sequence[FailedCharge], *, today: date) -> RetryDecision:
        charges = _ordered(history)
        first, last = charges[0], charges[-1]
        ask = _no_retry(last)
        if ask is not None:
            return ask
        label = _label(last)
        if len(charges) >= self.max_attempts:
            return _decision(RetryAction.STOP, f"{label}: all {self.max_attempts} attempts are used up; no more "
                                               "retries")
        deadline = first.failed_on + timedelta(days=self.window_days)
        earliest = max(today, last.failed_on) + timedelta(days=self.min_gap_days)
        if earliest > deadline:
            return self._window_closed(label, deadline)
        if _is_sepa(last):
            return self._sepa(charges, label, today, earliest, deadline)
        if last.method_kind not in (PaymentMethodKind.CARD, PaymentMethodKind.PAYPAL):
            return _decision(RetryAction.STOP, f"{label}: a {last.method_kind} payment cannot be retried by "
                                               "charging again")
        return self._card(last, label, earliest, deadline)

    def _window_closed(self, label: str, deadline: date) -> RetryDecision:
        return _decision(RetryAction.STOP, f"{label}: the {self.window_days}-day retry window ended on "
                                           f"{deadline.isoformat()}; no more retries")

    def _card(self, last: FailedCharge, label: str, earliest: date, deadline: date) -> RetryDecision:
        mac = _mac(last)
        wait = mastercard_retry_after(mac)
        if wait is not None:
            days = max(1, math.ceil(wait / timedelta(days=1)))
            on = max(last.failed_on + timedelta(days=days), earliest)
            if on > deadline:
                return _decision(RetryAction.STOP, f"{label}: Mastercard advice {mac} asks to wait until "
                                                   f"{on.isoformat()}, after the retry window ends on "
                                                   f"{deadline.isoformat()}; no more retries")
            return RetryDecision(RetryAction.RETRY, on, f"{label}: retry on {on.isoformat()} as Mastercard advice "
                                                        f"{mac} prescribes (not before {_days(days)} later)")
        floor, why = earliest, ""
        if mac == _MAC_TRY_LATER:
            floor = max(earliest, last.failed_on + timedelta(days=3))
            why = " (Mastercard advice 02: try later, not within 72 hours)"
        code = _code(last)
        if code in _FUNDS:
            on = _next_pay_day(floor)
            what = f"retry on the next pay day, {on.isoformat()}"
        elif code in _TECHNICAL or (last.network_advice or "").strip().lower() == "try_again_later":
            on = floor
            what = f"a temporary problem, retry on {on.isoformat()}"
        else:
            on = min(_next_pay_day(floor), max(floor, last.failed_on + _GENERIC_GAP))
            what = f"the bank gave no reason, retry on {on.isoformat()} (3 days later, or the next pay day if sooner)"
        if floor > deadline:
            return self._window_closed(label, deadline)
        if on > deadline:
            return RetryDecision(RetryAction.RETRY, deadline, f"{label}: retry on {deadline.isoformat()}, the last "
                                                              f"day of the retry window{why}")
        return RetryDecision(RetryAction.RETRY, on, f"{label}: {what}{why}")

    def _sepa(self, charges: list[FailedCharge], label: str, today: date, earliest: date, deadline: date
              ) -> RetryDecision:
        run = 0  # the trailing run of re-presentable SEPA failures: one collection and its re-presentations
        for charge in reversed(charges):
            if not (_is_sepa(charge) and charge.retry_allowed and _no_retry(charge) is None):
                break
            run += 1
        done = run - 1
        if done >= self.sepa_max_representations:
            times = "once" if done == 1 else f"{done} times"
            return _decision(RetryAction.STOP, f"{label}: the direct debit was already re-presented {times}, the "
                                               "most this policy allows; no more automatic debits")
        first_ok = next_banking_day(max(earliest, today + timedelta(days=self.sepa_prenotification_days)))
        pay_day, on = _banking_day_after_pay_day(first_ok)
        lead = f"pre-notify the customer at least {_days(self.sepa_prenotification_days)} before"
        if on <= deadline:
            return RetryDecision(RetryAction.RETRY, on, f"{label}: re-present on {on.isoformat()}, the banking day "
                                                        f"right after the pay day {pay_day.isoformat()}; {lead}",
                                 pre_notification=True)
        last_ok = previous_banking_day(deadline)
        if last_ok < first_ok:
            return self._window_closed(label, deadline)
        return RetryDecision(RetryAction.RETRY, last_ok, f"{label}: re-present on {last_ok.isoformat()}, the last "
                                                         f"banking day of the retry window; {lead}",
                             pre_notification=True)


@dataclass(frozen=True, slots=True)
class FixedRetryPolicy:
    """The naive baseline: retry on fixed days after the first failure, whatever the decline."""

    name: ClassVar[str] = "fixed"
    days: tuple[int, ...] = (3, 5, 7)

    def __post_init__(self) -> None:
        days = self.days
        if isinstance(days, list):
            days = tuple(days)
            object.__setattr__(self, "days", days)
        if (not isinstance(days, tuple) or not days
                or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in days)
                or any(a >= b for a, b in pairwise(days))):
            raise InvalidInput(f"retry policy 'fixed': days must be increasing whole numbers of at least 1, "
                               f"not {self.days!r}")

    def decide(self, history: Sequence[FailedCharge], *, today: date) -> RetryDecision:
        charges = _ordered(history)
        first, last = charges[0], charges[-1]
        label = _label(last)
        network = _network_stop(last)
        if network is not None:
            return _decision(RetryAction.STOP, f"{label} with {network}: the network forbids retrying")
        if not last.retry_allowed:
            return _decision(RetryAction.STOP, f"{label}: retrying is not allowed for this failure")
        done = len(charges) - 1  # retries already made
        if done >= len(self.days):
            return _decision(RetryAction.STOP, f"{label}: all {len(self.days)} fixed retries are used up")
        day = self.days[done]
        on = max(first.failed_on + timedelta(days=day), max(today, last.failed_on) + timedelta(days=1))
        sepa = _is_sepa(last)
        if sepa:
            on = next_banking_day(on)  # a SEPA due date must be a TARGET2 banking day
        return RetryDecision(RetryAction.RETRY, on, f"{label}: fixed retry {done + 1} of {len(self.days)}, day "
                                                    f"{day} after the first failure, on {on.isoformat()}",
                             pre_notification=sepa)


_POLICIES: dict[str, type[SmartRetryPolicy] | type[FixedRetryPolicy]] = {
    SmartRetryPolicy.name: SmartRetryPolicy,
    FixedRetryPolicy.name: FixedRetryPolicy,
}


def policy_by_name(name: str, **overrides: Any) -> RetryPolicy:
    """The retry policy called ``name`` ("smart" or "fixed"), with settings changed by ``overrides``."""
    key = name.strip().lower() if isinstance(name, str) else ""
    policy = _POLICIES.get(key)
    if policy is None:
        raise InvalidInput(f"unknown retry policy {name!r}: choose one of {', '.join(map(repr, _POLICIES))}")
    settings = [f.name for f in fields(policy)]
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise InvalidInput(f"retry policy {key!r} has no setting {', '.join(map(repr, unknown))}; its settings are "
                           f"{', '.join(settings)}")
    return policy(**overrides)
