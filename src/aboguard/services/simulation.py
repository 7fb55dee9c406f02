"""The recovery simulator: the whole system, day by day, on the test clock and the sandbox's customers.

Every simulated customer subscribes to a monthly plan and pays by card, PayPal or SEPA direct debit
through the seeded sandbox gateway, whose per-customer behaviour (reliable, short of funds near month
end, card expiring, gone) is decided by the seed alone. Each morning the real services run in order:
billing, collection (with the retry policy under test), dunning. Then the customers react, also decided
by the seed alone, so two policies meet identical customers:

* a customer whose payment method stopped working (expired card, lost card, closed account, cancelled
  PayPal agreement) gives a new one once they are told, with a probability that falls the longer the
  first message comes after the failure (``update_probability`` on the day of the failure, less
  ``update_decay`` for every day of delay, never below ``update_floor``), after 1-3 days.
  "Told" means: a request for a new payment method (the smart policy sends it at once) or the first
  dunning message (the payment reminder). This is a modelling assumption, stated in the report; the
  published figures it follows are in REFERENCE §6.4 (most recoveries happen within 10 days).
* short-of-funds customers do nothing; whether a retry succeeds depends on the day it is made.

The result is measured from the database afterwards: invoices, failed payments (count, amount, by first
decline reason), what was recovered and how fast, attempts made, involuntary churn (subscriptions
cancelled for non-payment), dunning fees and interest collected.
"""

from __future__ import annotations

import hashlib
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from aboguard.domain.catalog import Audience, PaymentMethodKind, PlanSpec
from aboguard.domain.customers import CustomerKind, CustomerSpec
from aboguard.domain.dunning_charges import ChargeKind
from aboguard.domain.invoicing import DocumentKind, InvoiceStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.payments import AttemptStatus, PaymentAttempt
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.errors import InvalidInput
from aboguard.money import Money

from . import billing, collection, customers, dunning, incentives, loyalty, payment_methods, plans, subscriptions
from .context import ServiceContext

POLICIES = ("smart", "fixed")
DEAD_METHOD_CODES = frozenset({"expired_card", "lost_card", "stolen_card", "revocation_of_authorization",
                               "account_closed", "incorrect_account", "no_mandate", "pickup_card"})
_SEPA_IBANS = ("DE89370400440532013000", "DE12500105170648489890", "DE02120300000000202051",
               "DE02500105170137075030", "DE88100900001234567892")


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    customers: int = 200
    months: int = 6
    seed: int = 1
    start: date = date(2026, 1, 1)
    update_probability: float = 0.8
    update_decay: float = 0.06
    update_floor: float = 0.3
    business_share: float = 0.15
    loyalty: bool = False  # reward punctual payers: 10 % off after 6 invoices paid on time
    method_mix: tuple[tuple[PaymentMethodKind, float], ...] = (
        (PaymentMethodKind.CARD, 0.55), (PaymentMethodKind.SEPA_DEBIT, 0.30), (PaymentMethodKind.PAYPAL, 0.15))

    def __post_init__(self) -> None:
        if not 1 <= self.customers <= 1_000_000:
            raise InvalidInput("--customers must be between 1 and 1,000,000")
        if not 1 <= self.months <= 120:
            raise InvalidInput("--months must be between 1 and 120")

    @property
    def end(self) -> date:
        year, month = divmod(self.start.month - 1 + self.months, 12)
        return date(self.start.year + year, month + 1, 1)


ContextFactory = Callable[[str, Path], ServiceContext]
"""Builds a fresh installation for one policy in a directory: the test clock at the start, the sandbox
gateway seeded with the simulation's seed, the given retry policy (the delivery layer wires it)."""


@dataclass(slots=True)
class _Customer:
    id: str
    index: int
    kind: PaymentMethodKind
    sub_id: str
    replaced: bool = False
    update_on: date | None = None
    decided: set[str] = field(default_factory=set)  # invoices whose "update the method?" was already drawn


def simulate(config: SimulationConfig, policy: str, make_context: ContextFactory, workdir: Path, *,
             on_progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Run one policy and return its figures (see the module docstring)."""
    if policy not in POLICIES:
        raise InvalidInput(f"unknown retry policy {policy!r}: use smart, fixed or both")
    ctx = make_context(policy, workdir / policy)
    try:
        people = _seed(ctx, config)
        day, days = config.start, (config.end - config.start).days
        failures: dict[str, tuple[str, date]] = {}
        for n in range(days):
            morning = datetime.combine(day, time(6, 0), tzinfo=ctx.merchant_tz).astimezone(UTC)
            ctx.clock.set(morning)  # type: ignore[attr-defined]
            billing.run_billing(ctx)
            collection.run_collection(ctx)
            dunning.run_dunning(ctx)
            _customers_react(ctx, config, people, day, morning, failures)
            if on_progress is not None:
                on_progress(policy, n + 1, days)
            day += timedelta(days=1)
        return _measure(ctx, config, policy)
    finally:
        ctx.close()


def _rng(*parts: object) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big"))


def _seed(ctx: ServiceContext, config: SimulationConfig) -> dict[str, _Customer]:
    ctx.clock.set(datetime.combine(config.start - timedelta(days=1), time(6, 0),  # type: ignore[attr-defined]
                                   tzinfo=ctx.merchant_tz).astimezone(UTC))
    prices = (Money(9_99, "EUR"), Money(19_99, "EUR"), Money(29_99, "EUR"))
    for n, price in enumerate(prices):
        for kind in (CustomerKind.CONSUMER, CustomerKind.BUSINESS):
            plans.create_plan(ctx, code=f"sim-{n}-{kind.value}", name=f"Simulated {price} ({kind.value})",
                              spec=PlanSpec(price, Interval(IntervalUnit.MONTH), audience=Audience(kind.value)))
    if config.loyalty:
        loyalty.create_rule(ctx, "PUNCTUAL6", "Thank you for paying on time", streak=6, percent="10")
    people: dict[str, _Customer] = {}
    for i in range(config.customers):
        rng = _rng("customer", config.seed, i)
        kind = CustomerKind.BUSINESS if rng.random() < config.business_share else CustomerKind.CONSUMER
        method = _pick(rng, config.method_mix)
        spec = CustomerSpec(email=f"sim{i}@example.de", name=f"Simulated Customer {i}", country="DE", kind=kind,
                            company=f"Sim {i} GmbH" if kind is CustomerKind.BUSINESS else None,
                            vat_id=None)
        customer = customers.create_customer(ctx, spec)
        payment_methods.add_payment_method(ctx, customer.id, _method_spec(method, i, fresh=False))
        plan = f"sim-{rng.randrange(3)}-{kind.value}"
        start_on = config.start + timedelta(days=rng.randrange(28))
        sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code=plan, start_on=start_on)
        people[customer.id] = _Customer(customer.id, i, method, sub.subscription.id)
    return people


def _pick(rng: random.Random, mix: tuple[tuple[PaymentMethodKind, float], ...]) -> PaymentMethodKind:
    draw, total = rng.random() * sum(w for _, w in mix), 0.0
    for kind, weight in mix:
        total += weight
        if draw < total:
            return kind
    return mix[-1][0]


def _method_spec(kind: PaymentMethodKind, i: int, *, fresh: bool) -> PaymentMethodSpec:
    """Simulated methods: the sandbox follows the customer's behaviour profile for them; a ``new`` one is
    a replacement the customer gave after being asked, which works."""
    new = "_new" if fresh else ""
    if kind is PaymentMethodKind.CARD:
        return PaymentMethodSpec(kind, gateway_token=f"tok_sim{new}_{i}", brand="visa", last4=f"{i % 10_000:04d}",
                                 exp_month=12, exp_year=2035, make_default=fresh)
    if kind is PaymentMethodKind.PAYPAL:
        return PaymentMethodSpec(kind, gateway_token=f"pp_sim{new}_{i}", payer_email=f"sim{i}@example.de",
                                 make_default=fresh)
    return PaymentMethodSpec(kind, iban=_SEPA_IBANS[i % len(_SEPA_IBANS)], account_holder=f"Simulated Customer {i}",
                             mandate_reference=f"SIM{'NEW' if fresh else ''}-{i}", make_default=fresh)


def _customers_react(ctx: ServiceContext, config: SimulationConfig, people: dict[str, _Customer], today: date,
                     since: datetime, failures: dict[str, tuple[str, date]]) -> None:
    """Customers who were told their payment method failed may give a new one (module docstring).

    ``failures`` remembers, per customer, the invoice and day their method was found dead.
    """
    for person in people.values():
        if person.update_on is not None and person.update_on <= today and not person.replaced:
            payment_methods.add_payment_method(ctx, person.id, _method_spec(person.kind, person.index, fresh=True))
            person.replaced = True
    with ctx.uow() as uow:
        news = uow.events.since(since, {"payment.failed", "payment.returned", "payment.retry_decided",
                                        "dunning.step"})
    told: dict[str, str] = {}
    for event in news:
        data = event.payload
        customer_id = data.get("customer_id", "")
        code = data.get("decline_code") or data.get("reason_code")
        if event.name in {"payment.failed", "payment.returned"} and code in DEAD_METHOD_CODES:
            failures.setdefault(customer_id, (data["invoice_id"], today))
        elif event.name == "payment.retry_decided" and data.get("action") == "ask_for_new_method":
            told[customer_id] = data["invoice_id"]
        elif event.name == "dunning.step" and data.get("action") == "reminder":
            told[customer_id] = event.aggregate_id
    for customer_id in told:
        person = people.get(customer_id)
        failed = failures.get(customer_id)
        if person is None or failed is None or person.replaced or person.update_on is not None \
                or failed[0] in person.decided:
            continue
        invoice_id, failed_on = failed
        person.decided.add(invoice_id)
        chance = max(config.update_floor, config.update_probability - config.update_decay * (today - failed_on).days)
        rng = _rng("update", config.seed, person.index, failed_on.isoformat())
        if rng.random() < chance:
            person.update_on = today + timedelta(days=rng.randint(1, 3))


def _incentives(ctx: ServiceContext, config: SimulationConfig) -> dict[str, Any]:
    """With ``loyalty``: what the rewards cost and the on-time payment of those who earned one and the rest.

    The customer model does not make anyone pay more punctually because of a reward (no published figure to
    follow), so this measures the cost of the rule on the same customers, not a change in behaviour.
    """
    if not config.loyalty:
        return {}
    figures = incentives.report(ctx)
    return {"loyalty": {"rewards_granted": figures["rewards_granted"], "rewards_applied": figures["rewards_applied"],
                        "discounts_granted_minor": figures["discounts_total_minor"],
                        "on_time_rate_rewarded": figures["on_time"]["rewarded"]["rate"],
                        "on_time_rate_others": figures["on_time"]["other"]["rate"]}}


def _measure(ctx: ServiceContext, config: SimulationConfig, policy: str) -> dict[str, Any]:
    with ctx.uow() as uow:
        invoices = uow.invoices.list(kind=DocumentKind.INVOICE, limit=10_000_000)
        attempts = uow.attempts.list(limit=10_000_000)
        subs = uow.subscriptions.list(limit=10_000_000)
        charges = [c for p in {i.customer_id for i in invoices} for c in uow.dunning.charges_for_customer(p)]
    by_invoice: dict[str, list[PaymentAttempt]] = {}
    for a in attempts:
        by_invoice.setdefault(a.invoice_id, []).append(a)
    failed_count = failed_amount = recovered_count = recovered_amount = 0
    days_to_recover: list[int] = []
    by_code: dict[str, dict[str, int]] = {}
    for invoice in invoices:
        tries = sorted(by_invoice.get(invoice.id, []), key=lambda a: (a.created_at, a.number))
        failures = [a for a in tries if a.status in {AttemptStatus.FAILED, AttemptStatus.REVERSED}]
        if not failures:
            continue
        first = failures[0]
        failed_count += 1
        failed_amount += invoice.total.minor
        code = by_code.setdefault(first.decline_code or "unknown", {"count": 0, "amount_minor": 0,
                                                                     "recovered_minor": 0})
        code["count"] += 1
        code["amount_minor"] += invoice.total.minor
        if invoice.status is InvoiceStatus.PAID:
            recovered_count += 1
            recovered_amount += invoice.total.minor
            code["recovered_minor"] += invoice.total.minor
            paid = [a for a in tries if a.status is AttemptStatus.SUCCEEDED]
            if paid:
                days_to_recover.append((paid[-1].updated_at - first.updated_at).days)
    churned = sum(1 for s in subs if s.status in {SubscriptionStatus.CANCELED, SubscriptionStatus.ENDED}
                  and s.cancel_reason == "non_payment")
    fees = sum((c.paid or Money.zero("EUR")).minor for c in charges if c.kind is not ChargeKind.INTEREST)
    interest = sum((c.paid or Money.zero("EUR")).minor for c in charges if c.kind is ChargeKind.INTEREST)
    return {
        "policy": policy, "customers": config.customers, "months": config.months, "seed": config.seed,
        "invoices": len(invoices), "invoiced_amount_minor": sum(i.total.minor for i in invoices),
        "attempts": len(attempts), "failed_count": failed_count, "failed_amount_minor": failed_amount,
        "recovered_count": recovered_count, "recovered_amount_minor": recovered_amount,
        "recovery_rate": round(recovered_amount / failed_amount, 4) if failed_amount else 0.0,
        "median_days_to_recover": statistics.median(days_to_recover) if days_to_recover else None,
        "involuntary_churn": churned, "fees_collected_minor": fees, "interest_collected_minor": interest,
        "by_decline_code": dict(sorted(by_code.items())),
        **_incentives(ctx, config),
        "assumptions": {"update_probability": config.update_probability, "update_decay": config.update_decay,
                        "update_floor": config.update_floor},
    }
