"""Demo data for a sandbox: plans, customers and subscriptions a German shop would have."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from aboguard.clock import TestClock
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
from aboguard.domain.invoicing import Invoice
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.errors import ClockNotAdjustable
from aboguard.money import Money

from . import (
    billing,
    collection,
    customers,
    dunning,
    installation,
    invoices,
    notifications,
    payment_methods,
    plans,
    refunds,
    subscriptions,
)
from .billing import BillingRunReport
from .collection import CollectionReport
from .context import ServiceContext
from .dunning import DunningReport
from .ledger import LedgerCheck, check_ledger
from .subscriptions import SubscriptionView

_PLANS = (
    ("basic-monthly", "Basic (monthly)", PlanSpec(
        price=Money(9_99, "EUR"), interval=Interval(IntervalUnit.MONTH), trial_days=14)),
    ("premium-monthly", "Premium (monthly)", PlanSpec(
        price=Money(19_99, "EUR"), interval=Interval(IntervalUnit.MONTH))),
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
                  external_ref="shop-1002"), "pro-yearly", 0),
    (CustomerSpec(email="emma.jones@example.ie", name="Emma Jones", country="IE", locale="en",
                  external_ref="shop-1003"), "box-reduced", 3),
    (CustomerSpec(email="buchhaltung@muster-gmbh.example", name="Erika Mustermann", country="DE", locale="de",
                  kind=CustomerKind.BUSINESS, company="Muster GmbH", vat_id="DE136695976",
                  address=Address("Hauptstraße 1", "", "80331", "München"), external_ref="shop-2001"),
     "team-business", 3),
    (CustomerSpec(email="jan.devries@example.nl", name="Jan de Vries", country="NL", locale="en",
                  kind=CustomerKind.BUSINESS, company="De Vries B.V.", vat_id="NL004495445B01",
                  external_ref="shop-2002"), "team-business", 10),
)

# Sandbox test instruments (see payments/sandbox.py): some pay, some fail, one SEPA debit comes back.
_METHODS = {
    "anna.schmidt@example.de": PaymentMethodSpec(PaymentMethodKind.CARD, gateway_token="tok_visa", brand="visa",
                                                 last4="4242", exp_month=12, exp_year=2030),
    "lukas.gruber@example.at": PaymentMethodSpec(PaymentMethodKind.CARD, gateway_token="4000000000009995",
                                                 brand="visa", last4="9995", exp_month=8, exp_year=2029),
    "emma.jones@example.ie": PaymentMethodSpec(PaymentMethodKind.SEPA_DEBIT, iban="DE89370400440532013000",
                                               account_holder="Emma Jones"),
    "buchhaltung@muster-gmbh.example": PaymentMethodSpec(PaymentMethodKind.SEPA_DEBIT,
                                                         iban="DE35370400440532013002",
                                                         account_holder="Muster GmbH"),
    "jan.devries@example.nl": PaymentMethodSpec(PaymentMethodKind.BANK_TRANSFER),
}

DEMO_DAYS = 95  # how far back the sandbox starts, so the story ends about today


@dataclass(frozen=True, slots=True)
class DemoStep:
    on: date
    what: str
    billing: BillingRunReport | None = None
    collection: CollectionReport | None = None
    dunning: DunningReport | None = None


@dataclass(frozen=True, slots=True)
class DemoData:
    created: bool
    plans: list[Plan]
    customers: list[Customer]
    subscriptions: list[SubscriptionView]
    steps: list[DemoStep] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    ledger: LedgerCheck | None = None


def seed_demo(ctx: ServiceContext) -> DemoData:
    """Play a small merchant's first months on the sandbox clock, once; afterwards just show the state.

    Plans and customers are created, subscriptions start over the first days, the clock moves on and
    billing runs issue invoices (trial conversion, renewals, an upgrade settled pro rata, a cancellation
    that ends the contract, a goodwill refund with its credit note). Ends with the ledger check.
    """
    created = not plans.list_plans(ctx, include_archived=True)
    steps: list[DemoStep] = []
    if created and not isinstance(ctx.clock, TestClock):
        raise ClockNotAdjustable("the demo plays a few months on the sandbox clock; run it in an empty data "
                                 "directory or on an installation made with `aboguard init --test-clock`")
    if created:
        start = ctx.now()
        story = _Story(ctx, start, steps)
        for code, name, spec in _PLANS:
            plans.create_plan(ctx, code=code, name=name, spec=spec)
        steps.append(DemoStep(ctx.today(), f"{len(_PLANS)} plans created"))
        subs: dict[str, str] = {}
        for day in sorted({offset for _, _, offset in _CUSTOMERS}):
            story.live_until(day)
            for spec, plan_code, offset in _CUSTOMERS:
                if offset == day:
                    customer = customers.create_customer(ctx, spec)
                    payment_methods.add_payment_method(ctx, customer.id, _METHODS[spec.email])
                    subs[spec.email] = subscriptions.create_subscription(
                        ctx, customer_id=customer.id, plan_code=plan_code).subscription.id
                    steps.append(DemoStep(ctx.today(), f"{spec.name} subscribes to {plan_code}"))
            story.bill()
        story.live_until(20)
        view = subscriptions.cancel_subscription(ctx, subs["emma.jones@example.ie"])
        last = view.subscription.ends_on - timedelta(days=1) if view.subscription.ends_on else None
        steps.append(DemoStep(ctx.today(), f"Emma Jones cancels box-reduced; last day {last} (minimum term)"))
        story.live_until(40)
        _, _, document = subscriptions.change_subscription_plan(ctx, subs["anna.schmidt@example.de"],
                                                                "premium-monthly")
        steps.append(DemoStep(ctx.today(), "Anna Schmidt upgrades to premium-monthly"
                              + (f"; the rest of her month is settled by {document.number} "
                                 f"({document.total.format('en')})" if document else "")))
        story.live_until(45)
        box_invoice = invoices.list_invoices(ctx, subscription_id=subs["emma.jones@example.ie"], kind="invoice")[-1]
        refunded = refunds.refund_invoice(ctx, box_invoice.number or box_invoice.id, amount="5.00",
                                          reason="box arrived damaged")
        note = refunded.credit_note
        steps.append(DemoStep(ctx.today(), f"Goodwill refund of {note.total.format('en')} for {box_invoice.number} "
                              f"with credit note {note.number}, paid back by SEPA through the gateway "
                              f"({', '.join(r.status.value for r in refunded.refunds)})"))
        story.live_until(DEMO_DAYS - 1)
    return DemoData(created, plans.list_plans(ctx), customers.list_customers(ctx),
                    subscriptions.list_subscriptions(ctx), steps, invoices.list_invoices(ctx, limit=1000),
                    check_ledger(ctx))


class _Story:
    """Moves the sandbox clock day by day and runs the billing every morning, as a scheduler would."""

    def __init__(self, ctx: ServiceContext, start: datetime, steps: list[DemoStep]) -> None:
        self.ctx, self.start, self.steps = ctx, start, steps

    def live_until(self, day: int) -> None:
        current = (self.ctx.now() - self.start).days
        for next_day in range(current + 1, day + 1):
            installation.set_clock(self.ctx, self.start + timedelta(days=next_day))
            self.bill()

    def bill(self) -> None:
        report = billing.run_billing(self.ctx)
        if report.subscriptions or report.failures:
            self.steps.append(DemoStep(self.ctx.today(), "billing run", report))
        collected = collection.run_collection(self.ctx)
        if collected.attempted or collected.events_applied or collected.resolved:
            self.steps.append(DemoStep(self.ctx.today(), "collection run", collection=collected))
        dunned = dunning.run_dunning(self.ctx)
        if dunned.opened or dunned.performed or dunned.resolved:
            self.steps.append(DemoStep(self.ctx.today(), "dunning run", dunning=dunned))
        if self.ctx.notifier is not None:
            sent = notifications.run_notify(self.ctx)
            if sent.created:
                made = ", ".join(f"{n} {template}" for template, n in sorted(sent.created.items()))
                self.steps.append(DemoStep(self.ctx.today(), f"emails: {made}"))
