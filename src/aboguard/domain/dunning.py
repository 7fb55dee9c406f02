"""Dunning (Mahnwesen): declarative policies of steps counted from an invoice's due date.

A policy is a list of steps, each "on day N after the due date, do this": a friendly payment reminder
(Zahlungserinnerung), the dunning levels (1. Mahnung, 2. Mahnung, letzte Mahnung) with an optional fee,
suspending access, cancelling the subscription, handing the claim over to collections. Policies are
chosen by segment (consumer or business, payment method, plan); the most specific match wins.

German rules built into the defaults (see REFERENCE §2.4, §2.5, §1.14): the costs of the letter that puts
the customer in default cannot be claimed, so a fee is only charged when the customer was in default
before the letter (the run skips it otherwise); fees are only material costs (postal letters, at most
EUR 2.50), e-mails carry none; businesses owe the EUR 40 flat fee of § 288 (5) BGB once in default.
Default interest starts with the default (§ 286 BGB) and is computed by :mod:`aboguard.domain.interest`.

A dunning case is the per-invoice state: which policy, how many steps are done, when the next one is
due, whether it is paused (dispute, promise to pay until a date). It ends the moment the claim is paid.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from aboguard.errors import InvalidInput, InvalidTransition
from aboguard.ids import CustomerId, InvoiceId

from . import events as ev
from .catalog import PaymentMethodKind
from .customers import CustomerKind

_E = TypeVar("_E", bound=StrEnum)


class InvalidDunningPolicy(InvalidInput):
    code = "dunning.invalid_policy"


class DunningAction(StrEnum):
    REMINDER = "reminder"  # Zahlungserinnerung: friendly, no fee, does not put the customer in default
    DUNNING_1 = "dunning_1"  # 1. Mahnung: puts the customer in default (§ 286 (1) BGB)
    DUNNING_2 = "dunning_2"  # 2. Mahnung
    FINAL_NOTICE = "final_notice"  # letzte Mahnung: final deadline, announces collections
    SUSPEND = "suspend"  # access suspended until paid
    CANCEL = "cancel"  # the subscription is cancelled for non-payment
    COLLECTIONS = "collections"  # handed over to an Inkasso agency / Mahnbescheid


LETTERS = frozenset({DunningAction.REMINDER, DunningAction.DUNNING_1, DunningAction.DUNNING_2,
                     DunningAction.FINAL_NOTICE})
PUTS_IN_DEFAULT = frozenset({DunningAction.DUNNING_1, DunningAction.DUNNING_2, DunningAction.FINAL_NOTICE})
MAX_LETTER_FEE = Decimal("2.50")  # AG Brandenburg 31 C 190/06: material costs of a letter, at most EUR 2.50


class Channel(StrEnum):
    EMAIL = "email"
    LETTER = "letter"


@dataclass(frozen=True, slots=True)
class DunningStep:
    day: int  # days after the due date
    action: DunningAction
    fee: Decimal = Decimal("0")  # in the invoice's currency; only for letters
    channel: Channel = Channel.EMAIL

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.action]


ACTION_LABELS = {
    DunningAction.REMINDER: "payment reminder (Zahlungserinnerung)",
    DunningAction.DUNNING_1: "1st dunning letter (1. Mahnung)",
    DunningAction.DUNNING_2: "2nd dunning letter (2. Mahnung)",
    DunningAction.FINAL_NOTICE: "final notice (letzte Mahnung)",
    DunningAction.SUSPEND: "access suspended",
    DunningAction.CANCEL: "subscription cancelled for non-payment",
    DunningAction.COLLECTIONS: "handed over to collections",
}


@dataclass(frozen=True, slots=True)
class Segment:
    """Which invoices a policy is for; None means any."""

    customer_kind: CustomerKind | None = None
    method_kinds: frozenset[PaymentMethodKind] | None = None
    plan_codes: frozenset[str] | None = None

    def matches(self, customer_kind: CustomerKind, method_kind: PaymentMethodKind | None,
                plan_code: str | None) -> bool:
        return ((self.customer_kind is None or self.customer_kind is customer_kind)
                and (self.method_kinds is None or method_kind in self.method_kinds)
                and (self.plan_codes is None or plan_code in self.plan_codes))

    @property
    def specificity(self) -> int:
        return sum(x is not None for x in (self.customer_kind, self.method_kinds, self.plan_codes))


@dataclass(frozen=True, slots=True)
class DunningPolicy:
    code: str
    name: str
    steps: tuple[DunningStep, ...]
    segment: Segment = Segment()
    priority: int = 0  # among equally specific matches, the higher wins
    business_flat_fee: bool = True  # § 288 (5) BGB: EUR 40 from a business once in default
    interest: bool = True  # claim default interest (§ 288 BGB) from the start of default

    def __post_init__(self) -> None:
        validate_policy(self)


def validate_policy(policy: DunningPolicy) -> None:
    if not policy.code.strip() or not policy.name.strip():
        raise InvalidDunningPolicy("a dunning policy needs a code and a name")
    if not policy.steps:
        raise InvalidDunningPolicy(f"dunning policy {policy.code!r} has no steps")
    days = [s.day for s in policy.steps]
    if days != sorted(days):
        raise InvalidDunningPolicy(f"dunning policy {policy.code!r}: steps must be in the order of their days")
    if any(d < 0 for d in days):
        raise InvalidDunningPolicy(f"dunning policy {policy.code!r}: a step's day counts from the due date and "
                                   "cannot be negative")
    seen: set[DunningAction] = set()
    for step in policy.steps:
        if step.action in seen:
            raise InvalidDunningPolicy(f"dunning policy {policy.code!r} has the step {step.action.value} twice")
        seen.add(step.action)
        if step.fee < 0:
            raise InvalidDunningPolicy(f"dunning policy {policy.code!r}: fees cannot be negative")
        if step.fee and step.action not in LETTERS:
            raise InvalidDunningPolicy(f"dunning policy {policy.code!r}: only letters carry a fee, not "
                                       f"{step.action.value}")
        if step.fee and step.action is DunningAction.REMINDER:
            raise InvalidDunningPolicy(
                f"dunning policy {policy.code!r}: a friendly payment reminder carries no fee; charge fees on the "
                "dunning letters")
        if step.fee > MAX_LETTER_FEE:
            raise InvalidDunningPolicy(f"dunning policy {policy.code!r}: a dunning fee of {step.fee} is more than "
                                       f"the material costs courts accept (at most {MAX_LETTER_FEE})")
        if step.fee and step.channel is Channel.EMAIL:
            raise InvalidDunningPolicy(f"dunning policy {policy.code!r}: an e-mail costs nothing to send, so it "
                                       "carries no fee; use channel = \"letter\"")


def _steps(*items: tuple[int, DunningAction, str, Channel]) -> tuple[DunningStep, ...]:
    return tuple(DunningStep(day, action, Decimal(fee), channel) for day, action, fee, channel in items)


_E, _L = Channel.EMAIL, Channel.LETTER
A = DunningAction
CONSUMER_DEFAULT = DunningPolicy(
    code="consumer-default", name="Consumers (default)",
    segment=Segment(customer_kind=CustomerKind.CONSUMER),
    steps=_steps((3, A.REMINDER, "0", _E), (10, A.DUNNING_1, "0", _E), (14, A.SUSPEND, "0", _E),
                 (21, A.DUNNING_2, "0", _E), (31, A.FINAL_NOTICE, "2.50", _L), (45, A.CANCEL, "0", _E),
                 (60, A.COLLECTIONS, "0", _E)))
BUSINESS_DEFAULT = DunningPolicy(
    code="business-default", name="Businesses (default)",
    segment=Segment(customer_kind=CustomerKind.BUSINESS),
    steps=_steps((3, A.REMINDER, "0", _E), (10, A.DUNNING_1, "0", _E), (14, A.SUSPEND, "0", _E),
                 (21, A.DUNNING_2, "0", _E), (31, A.FINAL_NOTICE, "2.50", _L), (45, A.COLLECTIONS, "0", _E),
                 (46, A.CANCEL, "0", _E)))
DEFAULT_POLICIES: tuple[DunningPolicy, ...] = (CONSUMER_DEFAULT, BUSINESS_DEFAULT)


def choose_policy(policies: Iterable[DunningPolicy], *, customer_kind: CustomerKind,
                  method_kind: PaymentMethodKind | None, plan_code: str | None) -> DunningPolicy:
    """The most specific policy whose segment matches; the defaults when none of ``policies`` does."""
    candidates = [p for p in policies if p.segment.matches(customer_kind, method_kind, plan_code)]
    if not candidates:
        candidates = [p for p in DEFAULT_POLICIES if p.segment.matches(customer_kind, method_kind, plan_code)]
    return max(candidates, key=lambda p: (p.segment.specificity, p.priority, p.code))


# -- TOML ------------------------------------------------------------------------------------------------


def policies_from_toml(text: str) -> list[DunningPolicy]:
    """Read ``[[policy]]`` tables. Example::

        [[policy]]
        code = "sepa-consumers"
        name = "Consumers paying by SEPA"
        customer_kind = "consumer"          # optional: consumer | business
        payment_methods = ["sepa_debit"]    # optional
        plans = ["basic"]                   # optional
        priority = 0                        # optional
        business_flat_fee = true            # optional
        interest = true                     # optional
        steps = [
          { day = 3,  action = "reminder" },
          { day = 10, action = "dunning_1" },
          { day = 24, action = "dunning_2", fee = "2.50", channel = "letter" },
        ]
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidDunningPolicy(f"the policy file is not valid TOML: {exc}") from None
    tables = data.get("policy")
    if not isinstance(tables, list) or not tables:
        raise InvalidDunningPolicy("the policy file has no [[policy]] tables")
    policies = [policy_from_dict(t, where=f"policy #{n}") for n, t in enumerate(tables, start=1)]
    codes = [p.code for p in policies]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise InvalidDunningPolicy(f"the policy file defines {', '.join(duplicates)} more than once")
    return policies


_POLICY_KEYS = {"code", "name", "customer_kind", "payment_methods", "plans", "priority", "business_flat_fee",
                "interest", "steps"}
_STEP_KEYS = {"day", "action", "fee", "channel"}


def policy_from_dict(data: Any, *, where: str = "policy") -> DunningPolicy:
    if not isinstance(data, dict):
        raise InvalidDunningPolicy(f"{where}: expected a table")
    unknown = set(data) - _POLICY_KEYS
    if unknown:
        raise InvalidDunningPolicy(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    code, name = data.get("code"), data.get("name")
    if not isinstance(code, str) or not isinstance(name, str):
        raise InvalidDunningPolicy(f"{where}: code and name are required text")
    where = f"policy {code!r}"
    steps_data = data.get("steps")
    if not isinstance(steps_data, list):
        raise InvalidDunningPolicy(f"{where}: steps must be a list of {{ day = N, action = \"...\" }}")
    steps = tuple(_step_from_dict(s, where) for s in steps_data)
    segment = Segment(
        customer_kind=_enum(CustomerKind, data["customer_kind"], where) if "customer_kind" in data else None,
        method_kinds=frozenset(_enum(PaymentMethodKind, m, where) for m in _list(data, "payment_methods", where))
        if "payment_methods" in data else None,
        plan_codes=frozenset(str(p) for p in _list(data, "plans", where)) if "plans" in data else None)
    priority = data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise InvalidDunningPolicy(f"{where}: priority must be a whole number")
    flags = {key: data.get(key, True) for key in ("business_flat_fee", "interest")}
    if any(not isinstance(v, bool) for v in flags.values()):
        raise InvalidDunningPolicy(f"{where}: business_flat_fee and interest are true or false")
    return DunningPolicy(code=code.strip(), name=name.strip(), steps=steps, segment=segment, priority=priority,
                         **flags)


def _step_from_dict(data: Any, where: str) -> DunningStep:
    if not isinstance(data, dict):
        raise InvalidDunningPolicy(f"{where}: each step is a table like {{ day = 3, action = \"reminder\" }}")
    unknown = set(data) - _STEP_KEYS
    if unknown:
        raise InvalidDunningPolicy(f"{where}: unknown step keys {', '.join(sorted(unknown))}")
    day = data.get("day")
    if not isinstance(day, int) or isinstance(day, bool):
        raise InvalidDunningPolicy(f"{where}: every step needs day = <days after the due date>")
    try:
        fee = Decimal(str(data.get("fee", "0")).replace(",", "."))
    except InvalidOperation:
        raise InvalidDunningPolicy(f"{where}: fee {data.get('fee')!r} is not an amount") from None
    return DunningStep(day, _enum(DunningAction, data.get("action"), where), fee,
                       _enum(Channel, data.get("channel", "email"), where))


def _list(data: dict, key: str, where: str) -> list:
    value = data[key]
    if not isinstance(value, list):
        raise InvalidDunningPolicy(f"{where}: {key} must be a list")
    return value


def _enum(kind: type[_E], value: Any, where: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidDunningPolicy(f"{where}: {value!r} is not one of {allowed}") from None


def policy_to_dict(policy: DunningPolicy) -> dict[str, Any]:
    """The TOML/JSON shape of a policy (round-trips through :func:`policy_from_dict`)."""
    data: dict[str, Any] = {"code": policy.code, "name": policy.name, "priority": policy.priority,
                            "business_flat_fee": policy.business_flat_fee, "interest": policy.interest,
                            "steps": [{"day": s.day, "action": s.action.value, "fee": str(s.fee),
                                       "channel": s.channel.value} for s in policy.steps]}
    if policy.segment.customer_kind is not None:
        data["customer_kind"] = policy.segment.customer_kind.value
    if policy.segment.method_kinds is not None:
        data["payment_methods"] = sorted(k.value for k in policy.segment.method_kinds)
    if policy.segment.plan_codes is not None:
        data["plans"] = sorted(policy.segment.plan_codes)
    return data


# -- cases -----------------------------------------------------------------------------------------------


class CaseStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # dispute, promise to pay: no steps until resumed (or until paused_until has passed)
    COLLECTIONS = "collections"  # handed over; aboguard takes no more steps
    RESOLVED = "resolved"  # paid, credited or written off


OPEN_CASES = frozenset({CaseStatus.ACTIVE, CaseStatus.PAUSED, CaseStatus.COLLECTIONS})


@dataclass(frozen=True, slots=True)
class DunningCase:
    id: str
    invoice_id: InvoiceId
    customer_id: CustomerId
    policy_code: str
    due_on: date  # the invoice's due date: steps count from here
    status: CaseStatus
    steps_done: int
    next_step_on: date | None
    created_at: datetime
    updated_at: datetime
    default_since: date | None = None  # first day of default (Verzug): interest runs from here
    paused_until: date | None = None
    pause_reason: str | None = None
    version: int = 1


def open_case(case_id: str, *, invoice_id: InvoiceId, customer_id: CustomerId, due_on: date,
              policy: DunningPolicy, now: datetime) -> DunningCase:
    first = policy.steps[0]
    return DunningCase(id=case_id, invoice_id=invoice_id, customer_id=customer_id, policy_code=policy.code,
                       due_on=due_on, status=CaseStatus.ACTIVE, steps_done=0,
                       next_step_on=due_on + timedelta(days=first.day), created_at=now, updated_at=now)


def next_step(case: DunningCase, policy: DunningPolicy) -> DunningStep | None:
    return policy.steps[case.steps_done] if case.steps_done < len(policy.steps) else None


def step_due(case: DunningCase, policy: DunningPolicy, today: date) -> DunningStep | None:
    """The step to perform today, if any: the case is active (or its pause has run out) and the day has come."""
    if case.status is CaseStatus.PAUSED and (case.paused_until is None or case.paused_until >= today):
        return None
    if case.status not in {CaseStatus.ACTIVE, CaseStatus.PAUSED}:
        return None
    step = next_step(case, policy)
    if step is None or case.due_on + timedelta(days=step.day) > today:
        return None
    return step


def advance(case: DunningCase, policy: DunningPolicy, step: DunningStep, *, today: date, now: datetime,
            default_since: date | None) -> DunningCase:
    """The step is done: count it and schedule the next one (at least a day later)."""
    done = case.steps_done + 1
    following = policy.steps[done] if done < len(policy.steps) else None
    next_on = None
    if following is not None:
        next_on = max(case.due_on + timedelta(days=following.day), today + timedelta(days=1))
    status = CaseStatus.COLLECTIONS if step.action is DunningAction.COLLECTIONS else CaseStatus.ACTIVE
    return replace(case, steps_done=done, next_step_on=next_on if status is CaseStatus.ACTIVE else None,
                   status=status, updated_at=now, default_since=case.default_since or default_since,
                   paused_until=None, pause_reason=None)


def pause(case: DunningCase, *, until: date | None, reason: str, now: datetime) -> DunningCase:
    if case.status not in {CaseStatus.ACTIVE, CaseStatus.PAUSED}:
        raise InvalidTransition(f"the dunning of invoice {case.invoice_id} is {case.status.value}; only an active "
                                "dunning can be paused")
    if not reason.strip():
        raise InvalidInput("say why the dunning is paused (a dispute, a promise to pay, ...)")
    return replace(case, status=CaseStatus.PAUSED, paused_until=until, pause_reason=reason.strip(), updated_at=now)


def resume(case: DunningCase, *, today: date, now: datetime) -> DunningCase:
    """Back to active; a step whose day passed during the pause is taken on the next run, not all at once."""
    if case.status is not CaseStatus.PAUSED:
        raise InvalidTransition(f"the dunning of invoice {case.invoice_id} is {case.status.value}, not paused")
    next_on = max(case.next_step_on, today) if case.next_step_on else None
    return replace(case, status=CaseStatus.ACTIVE, paused_until=None, pause_reason=None, next_step_on=next_on,
                   updated_at=now)


def resolve(case: DunningCase, now: datetime) -> DunningCase:
    return replace(case, status=CaseStatus.RESOLVED, next_step_on=None, paused_until=None, updated_at=now)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened in a case, in order: the record a collections agency or a court asks for."""

    id: str
    case_id: str
    invoice_id: InvoiceId
    seq: int
    action: str  # a DunningAction value, or "paused", "resumed", "resolved", "payment"
    happened_on: date
    created_at: datetime
    detail: str = ""
    channel: str | None = None
    fee_minor: int = 0
    interest_minor: int = 0
    currency: str | None = None


def segment_summary(segment: Segment) -> str:
    parts = []
    if segment.customer_kind:
        parts.append(segment.customer_kind.value)
    if segment.method_kinds:
        parts.append("/".join(sorted(k.value for k in segment.method_kinds)))
    if segment.plan_codes:
        parts.append("plans " + ",".join(sorted(segment.plan_codes)))
    return " · ".join(parts) or "everyone"


def steps_summary(steps: Sequence[DunningStep]) -> str:
    return ", ".join(f"day {s.day} {s.action.value}" + (f" (fee {s.fee})" if s.fee else "") for s in steps)


@dataclass(frozen=True, slots=True)
class DunningStepTaken(ev.Event):
    name: ClassVar[str] = "dunning.step"
    aggregate: ClassVar[str] = "invoice"
    customer_id: str
    action: str
    step: int
    channel: str
    fee: Any  # Money or None
    interest: Any  # Money or None: interest claimed so far
    open_total: Any  # Money: principal + fees + interest open
    default_since: str | None


@dataclass(frozen=True, slots=True)
class DunningPaused(ev.Event):
    name: ClassVar[str] = "dunning.paused"
    aggregate: ClassVar[str] = "invoice"
    until: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class DunningResumed(ev.Event):
    name: ClassVar[str] = "dunning.resumed"
    aggregate: ClassVar[str] = "invoice"


@dataclass(frozen=True, slots=True)
class DunningResolved(ev.Event):
    name: ClassVar[str] = "dunning.resolved"
    aggregate: ClassVar[str] = "invoice"
    reason: str
