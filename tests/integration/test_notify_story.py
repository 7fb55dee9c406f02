"""One customer's whole story on the test clock, and the messages it produces, day by day.

Anna subscribes on Monday 2 March 2026 to a monthly plan with a 14-day trial, paying by a card that is
short of funds. Every morning aboguard runs what ``aboguard tick`` runs: billing, collection (with retries),
dunning, then the notify dispatcher. The emails (written as .eml files, the offline default) must be
exactly: the reminder 3 days before the first charge, the reason-specific failure email with its retry
date after each failed charge, the dunning reminder, and the receipt when the new card pays.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from aboguard.domain.catalog import PlanSpec
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.money import Money
from aboguard.services import (
    billing,
    collection,
    customers,
    dunning,
    messages,
    notifications,
    payment_methods,
    plans,
    subscriptions,
)
from aboguard.services.context import ServiceContext

from .notify_helpers import file_mailer, make_notifier
from .test_collection import card, collection_context

START = date(2026, 3, 2)


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    context = collection_context(engine, tmp_path)
    context.notifier = make_notifier(file_mailer(tmp_path / "outbox"))
    plans.create_plan(context, code="trial", name="Gemüsekiste", spec=PlanSpec(
        Money(29_90, "EUR"), Interval(IntervalUnit.MONTH), trial_days=14))
    return context


def tick(ctx: ServiceContext) -> None:
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    dunning.run_dunning(ctx)
    notifications.run_notify(ctx)


def test_a_customers_story_produces_exactly_the_expected_messages_on_the_expected_days(
        ctx: ServiceContext, tmp_path: Path) -> None:
    anna = customers.create_customer(ctx, CustomerSpec(email="anna@example.de", name="Anna Schäfer", country="DE",
                                                       locale="de"))
    payment_methods.add_payment_method(ctx, anna.id, card("4000000000009995"))  # insufficient funds
    subscriptions.create_subscription(ctx, customer_id=anna.id, plan_code="trial")
    tick(ctx)
    for _ in range(40):
        ctx.clock.advance(days=1)  # type: ignore[attr-defined]
        if ctx.today() == date(2026, 4, 3):  # Anna adds a working card after the dunning reminder
            payment_methods.add_payment_method(ctx, anna.id, replace(card("tok_visa"), make_default=True))
        tick(ctx)
    sent = [((m.created_at.astimezone(ctx.merchant_tz).date() - START).days, m.template)
            for m in messages.list_messages(ctx, customer_id=anna.id)]
    assert sent == [(11, "payment_reminder"), (14, "payment_failed"), (17, "dunning_reminder"),
                    (24, "dunning_notice"), (28, "dunning_suspended"), (29, "payment_failed"), (30, "payment_failed"),
                    (32, "payment_succeeded")]
    texts = {(day, m.template): m.text_body for (day, _), m in
             zip(sent, messages.list_messages(ctx, customer_id=anna.id), strict=True)}
    assert "am 16.03.2026 buchen wir 29,90\xa0€" in texts[11, "payment_reminder"]
    assert "Visa •••• 9995" in texts[11, "payment_reminder"]
    assert "keine ausreichende Deckung. Wir versuchen es am 31.03.2026 noch einmal" in texts[14, "payment_failed"]
    assert "Wir versuchen es am 01.04.2026" in texts[29, "payment_failed"]
    assert "war am 16.03.2026 fällig" in texts[17, "dunning_reminder"]
    assert "1. Mahnung" in messages.list_messages(ctx, template="dunning_notice")[0].subject
    assert "am 03.04.2026 29,94\xa0€ für die Rechnung RE-2026-000001 erhalten" in texts[32, "payment_succeeded"]
    # Each message was written once as an .eml file (the offline default), properly encoded.
    files = sorted((tmp_path / "outbox").rglob("*.eml"))
    assert len(files) == len(sent)
    subjects = {message_from_bytes(f.read_bytes(), policy=policy.default)["Subject"] for f in files}
    assert "Ihre nächste Zahlung für Gemüsekiste am 16.03.2026" in subjects
