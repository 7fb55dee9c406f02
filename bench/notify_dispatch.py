"""How the notify dispatcher's cost grows: with new events and due notices, and what an idle run costs.

A throw-away SQLite sandbox with N monthly subscribers (card) whose first charge is 3 days after the
trial ends. Figures:

1. dispatching the events of signing them up (customer, payment method, default, subscription: 4 each);
2. the day the payment reminders fall due: N reminders rendered (de) and written as .eml files;
3. an idle run the next morning (nothing new): what re-reading the upcoming-charge window costs;
4. a run after 1,000 more events on top of all that history (the outbox keeps only undispatched events).

Prints figures; asserts nothing. Usage: .venv/bin/python bench/notify_dispatch.py [--subscribers N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aboguard import bootstrap
from aboguard.domain.catalog import PaymentMethodKind, PlanSpec
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.money import Money
from aboguard.services import customers, notifications, payment_methods, plans, subscriptions


def timed(what: str, run) -> notifications.NotifyReport:
    started = time.perf_counter()
    report = run()
    seconds = time.perf_counter() - started
    made = sum(report.created.values())
    print(f"{what:<58} {seconds:7.2f} s  events {report.events:>6}  messages {made:>6}  sent {report.sent:>6}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=2000)
    n = parser.parse_args().subscribers
    with tempfile.TemporaryDirectory() as tmp:
        ctx = bootstrap.simulation_context("smart", Path(tmp) / "sandbox", seed=1,
                                           start=datetime(2026, 3, 2, 7, tzinfo=UTC))
        plans.create_plan(ctx, code="box", name="Gemüsekiste", spec=PlanSpec(
            Money(29_90, "EUR"), Interval(IntervalUnit.MONTH), trial_days=14))
        started = time.perf_counter()
        for i in range(n):
            c = customers.create_customer(ctx, CustomerSpec(email=f"k{i}@example.de", name=f"Kunde {i}", country="DE"))
            payment_methods.add_payment_method(ctx, c.id, PaymentMethodSpec(
                PaymentMethodKind.CARD, gateway_token="tok_visa", brand="visa", last4="4242", exp_month=12,
                exp_year=2030))
            subscriptions.create_subscription(ctx, customer_id=c.id, plan_code="box")
        print(f"{n} subscribers signed up in {time.perf_counter() - started:.1f} s")
        timed("1. dispatch the sign-up events", lambda: notifications.run_notify(ctx, batch_size=500))
        ctx.clock.advance(days=11)  # type: ignore[attr-defined]
        timed("2. reminders due: render and write .eml files", lambda: notifications.run_notify(ctx))
        ctx.clock.advance(days=1)  # type: ignore[attr-defined]
        timed("3. idle run the next morning (window re-read)", lambda: notifications.run_notify(ctx))
        for i in range(1000):
            customers.create_customer(ctx, CustomerSpec(email=f"late{i}@example.de", name=f"Spät {i}", country="DE"))
        timed("4. 1,000 new events on top of the history", lambda: notifications.run_notify(ctx))
        ctx.close()


if __name__ == "__main__":
    main()
