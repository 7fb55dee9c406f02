"""Demo data for a sandbox: plans, customers and subscriptions a German shop would have."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aboguard.domain.catalog import (
    Audience,
    PaymentMethodKind,
    Plan,
    PlanSpec,
    RenewalMode,
    TaxCategory,
    Terms,
)
from aboguard.domain.customers import Address, Customer, CustomerKind, CustomerSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.money import Money

from . import customers, plans, subscriptions
from .context import ServiceContext
from .subscriptions import SubscriptionView

_PLANS = (
    ("basic-monthly", "Basic (monthly)", PlanSpec(
        price=Money(9_99, "EUR"), interval=Interval(IntervalUnit.MONTH), trial_days=14)),
    ("pro-yearly", "Pro (yearly)", PlanSpec(
        price=Money(99_00, "EUR"), interval=Interval(IntervalUnit.YEAR),
        terms=Terms(min_term_months=12, notice_days=30))),
    ("box-reduced", "Recipe box (monthly, 7 % VAT)", PlanSpec(
        price=Money(29_90, "EUR"), interval=Interval(IntervalUnit.MONTH), tax_category=TaxCategory.REDUCED,
        terms=Terms(min_term_months=3, notice_days=14),
        payment_methods=frozenset({PaymentMethodKind.SEPA_DEBIT, PaymentMethodKind.CARD}))),
    ("team-business", "Team (business, monthly)", PlanSpec(
        price=Money(49_00, "EUR"), interval=Interval(IntervalUnit.MONTH), audience=Audience.BUSINESS,
        setup_fee=Money(99_00, "EUR"),
        terms=Terms(min_term_months=12, notice_days=90, renewal=RenewalMode.FIXED_TERM, renewal_term_months=12),
        payment_methods=frozenset({PaymentMethodKind.SEPA_DEBIT, PaymentMethodKind.BANK_TRANSFER}))),
)

_CUSTOMERS = (
    (CustomerSpec(email="anna.schmidt@example.de", name="Anna Schmidt", country="DE", locale="de",
                  address=Address("Lindenstraße 5", "", "10115", "Berlin"), external_ref="shop-1001"),
     "basic-monthly", 0),
    (CustomerSpec(email="lukas.gruber@example.at", name="Lukas Gruber", country="AT", locale="de",
                  external_ref="shop-1002"), "pro-yearly", -40),
    (CustomerSpec(email="emma.jones@example.ie", name="Emma Jones", country="IE", locale="en",
                  external_ref="shop-1003"), "box-reduced", -75),
    (CustomerSpec(email="buchhaltung@muster-gmbh.example", name="Erika Mustermann", country="DE", locale="de",
                  kind=CustomerKind.BUSINESS, company="Muster GmbH", vat_id="DE136695976",
                  address=Address("Hauptstraße 1", "", "80331", "München"), external_ref="shop-2001"),
     "team-business", -200),
)


@dataclass(frozen=True, slots=True)
class DemoData:
    created: bool
    plans: list[Plan]
    customers: list[Customer]
    subscriptions: list[SubscriptionView]


def seed_demo(ctx: ServiceContext) -> DemoData:
    """Create the demo catalog, customers and subscriptions unless they are there already."""
    created = not plans.list_plans(ctx, include_archived=True)
    if created:
        for code, name, spec in _PLANS:
            plans.create_plan(ctx, code=code, name=name, spec=spec)
        today = ctx.today()
        for spec, plan_code, start_offset in _CUSTOMERS:
            customer = customers.create_customer(ctx, spec)
            subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code=plan_code,
                                              start_on=today + timedelta(days=start_offset))
    return DemoData(created, plans.list_plans(ctx), customers.list_customers(ctx),
                    subscriptions.list_subscriptions(ctx))
