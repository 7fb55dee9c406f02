"""Valid domain values with defaults and deterministic ids; override any field by keyword.

    plan = a_plan(code="pro", price=Money(19_99, "EUR"))      # plan and version fields both work
    anna = a_customer(email="anna@example.de")
    sub = a_subscription(anna, plan, next_bill_on=date(2025, 3, 1))
"""

from __future__ import annotations

import uuid
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from typing import Any

from aboguard.domain import subscriptions as lifecycle
from aboguard.domain.catalog import (
    Audience,
    PaymentMethodKind,
    Plan,
    PlanVersion,
    Product,
    TaxCategory,
    Terms,
)
from aboguard.domain.customers import Address, Customer, CustomerKind
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import Subscription
from aboguard.ids import CustomerId, PlanId, PlanVersionId, ProductId, SubscriptionId
from aboguard.money import Money

CREATED_AT = datetime(2025, 1, 31, 9, 15, 30, 123456, tzinfo=UTC)
START_ON = date(2025, 1, 31)
_NAMESPACE = uuid.UUID("6f1d8a52-6a43-4c55-9a51-3c1f0b7e5d10")
_VERSION_FIELDS = {f.name for f in fields(PlanVersion)} - {"id", "plan_id"}
_PLAN_FIELDS = {f.name for f in fields(Plan)}


def stable_id(*parts: object) -> str:
    """The same UUID text for the same parts, in every run."""
    return str(uuid.uuid5(_NAMESPACE, ":".join(str(p) for p in parts)))


def a_version(plan_id: str, number: int = 1, **overrides: Any) -> PlanVersion:
    values: dict[str, Any] = {
        "id": PlanVersionId(stable_id("plan-version", plan_id, number)), "plan_id": PlanId(plan_id),
        "number": number, "price": Money(9_99, "EUR"), "interval": Interval(IntervalUnit.MONTH),
        "trial_days": 0, "setup_fee": None, "tax_category": TaxCategory.STANDARD, "tax_inclusive": True,
        "terms": Terms(), "payment_methods": frozenset(PaymentMethodKind), "created_at": CREATED_AT,
    }
    values.update(overrides)
    return PlanVersion(**values)


def a_product(code: str = "basic", **overrides: Any) -> Product:
    values: dict[str, Any] = {"id": ProductId(stable_id("product", code)), "code": code, "name": code.title(),
                              "created_at": CREATED_AT}
    values.update(overrides)
    return Product(**values)


def a_plan(**overrides: Any) -> Plan:
    """A consumer plan ``basic`` at 9.99 EUR a month with one version, of product :func:`a_product` (code).

    Version fields (price, interval, terms, ...) may be overridden too; ``created_at`` sets both.
    """
    version_overrides = {k: overrides[k] for k in overrides if k in _VERSION_FIELDS}
    for only_version in set(version_overrides) - _PLAN_FIELDS:
        del overrides[only_version]
    code = overrides.get("code", "basic")
    plan_id = overrides.get("id", PlanId(stable_id("plan", code)))
    version = overrides.pop("current", None) or a_version(plan_id, **version_overrides)
    values: dict[str, Any] = {
        "id": plan_id, "code": code, "name": code.title(), "product_id": ProductId(stable_id("product", code)),
        "audience": Audience.CONSUMER, "current": version, "created_at": CREATED_AT, "active": True,
        "versions": (version,),
    }
    values.update(overrides)
    return Plan(**values)


def a_customer(**overrides: Any) -> Customer:
    """A consumer in Germany; the id follows from the email."""
    email = overrides.get("email", "anna@example.de")
    values: dict[str, Any] = {
        "id": CustomerId(stable_id("customer", email)), "kind": CustomerKind.CONSUMER, "email": email,
        "name": "Anna Schmidt", "country": "DE", "locale": "de", "created_at": CREATED_AT,
        "address": Address("Hauptstr. 1", "", "10115", "Berlin"),
    }
    values.update(overrides)
    return Customer(**values)


def a_subscription(customer: Customer, plan: Plan, **overrides: Any) -> Subscription:
    """A subscription started with the domain's own rules, then with ``overrides`` applied."""
    sub_id = SubscriptionId(overrides.pop("id", stable_id("subscription", customer.id, plan.id)))
    start_on = overrides.pop("start_on", START_ON)
    sub, _ = lifecycle.start(sub_id, customer=customer, plan=plan, start_on=start_on,
                             created_at=overrides.pop("created_at", CREATED_AT))
    return replace(sub, **overrides)
