"""Notices that no event announces, found by indexed look-ups of the dates coming up: the payment reminder
(lead per plan), the SEPA pre-notification 14 days ahead, the yearly renewal notice, the end of the minimum
term, the card about to expire. Each goes out once, however often the dispatcher runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.catalog import PlanSpec, Terms
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.errors import InvalidInput
from aboguard.money import Money
from aboguard.services import billing, customers, messages, notifications, payment_methods, plans, subscriptions
from aboguard.services.context import ServiceContext

from .notify_helpers import file_mailer, make_notifier
from .test_collection import card, collection_context

START = date(2026, 3, 2)


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    context = collection_context(engine, tmp_path)
    context.notifier = make_notifier(file_mailer(tmp_path / "outbox"))
    return context


def customer(ctx: ServiceContext, email: str, method: PaymentMethodSpec, plan: str, locale: str = "de") -> str:
    c = customers.create_customer(ctx, CustomerSpec(email=email, name=email.split("@")[0], country="DE",
                                                    locale=locale))
    payment_methods.add_payment_method(ctx, c.id, method)
    subscriptions.create_subscription(ctx, customer_id=c.id, plan_code=plan)
    return c.id


def live(ctx: ServiceContext, days: int) -> list[tuple[int, str, str]]:
    """Each morning: billing and the dispatcher; returns (day, template, recipient) of every message so far."""
    for _ in range(days):
        ctx.clock.advance(days=1)  # type: ignore[attr-defined]
        billing.run_billing(ctx)
        notifications.run_notify(ctx)
    return [((m.created_at.astimezone(ctx.merchant_tz).date() - START).days, m.template, m.recipient)
            for m in messages.list_messages(ctx, limit=1000) if m.template != "payment_succeeded"]


def test_reminders_and_pre_notifications_go_out_once_with_their_lead(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="trial", name="Trial", spec=PlanSpec(Money(20_00, "EUR"), Interval(IntervalUnit.MONTH),
                                                                     trial_days=20))
    messages.set_reminder_days(ctx, "trial", 5)
    customer(ctx, "card@example.de", card("tok_visa"), "trial")
    sepa = customer(ctx, "sepa@example.de", PaymentMethodSpec(Kind.SEPA_DEBIT, iban="DE89370400440532013000",
                                                              account_holder="Sepa Kunde"), "trial")
    customer(ctx, "invoice@example.de", PaymentMethodSpec(Kind.BANK_TRANSFER), "trial")  # gets its invoice instead
    sent = live(ctx, 21)
    assert sent == [(6, "sepa_prenotification", "sepa@example.de"), (15, "payment_reminder", "card@example.de")]
    notice, = messages.list_messages(ctx, template="sepa_prenotification")
    assert "Gläubiger-Identifikationsnummer: DE98ZZZ09999999999" in notice.text_body
    assert "Fälligkeitstag: 22.03.2026" in notice.text_body and "20,00\xa0€" in notice.text_body
    mandate = payment_methods.list_payment_methods(ctx, sepa)[0].mandate_reference
    assert f"Mandatsreferenz: {mandate}" in notice.text_body and "DE89 •••• •••• •••• •••• 3000" in notice.text_body
    # the next month: again 14 days and 5 days before the charge
    assert live(ctx, 30)[2:] == [(37, "sepa_prenotification", "sepa@example.de"),
                                 (46, "payment_reminder", "card@example.de")]
    with pytest.raises(InvalidInput, match="from 0"):
        messages.set_reminder_days(ctx, "trial", 99)


def test_yearly_renewal_minimum_term_end_and_expiring_cards(ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="year", name="Jahresabo", spec=PlanSpec(
        Money(120_00, "EUR"), Interval(IntervalUnit.YEAR), terms=Terms(notice_days=30)))
    plans.create_plan(ctx, code="min12", name="Mindestlaufzeit", spec=PlanSpec(
        Money(10_00, "EUR"), Interval(IntervalUnit.MONTH), terms=Terms(min_term_months=12, notice_days=30)))
    messages.set_reminder_days(ctx, "year", 0)
    messages.set_reminder_days(ctx, "min12", 0)
    customer(ctx, "year@example.com", card("tok_visa"), "year", locale="en")
    customer(ctx, "term@example.de", card("tok_visa"), "min12")
    expiring = replace(card("tok_visa"), exp_month=4, exp_year=2026)
    customer(ctx, "expiring@example.de", expiring, "min12")
    sent = live(ctx, 340)
    renewal = [(d, t) for d, t, r in sent if t == "renewal_notice"]
    term = [(d, t, r) for d, t, r in sent if t == "min_term_ending"]
    cards = [(d, t) for d, t, r in sent if t == "card_expiring"]
    assert renewal == [((date(2027, 3, 2) - timedelta(days=30) - START).days, "renewal_notice")]
    # the minimum term's last day is 1 March 2027; cancel by 31 Jan 2027; told 30 days before that deadline
    assert [d for d, _, _ in term] == [(date(2027, 1, 1) - START).days] * 2
    text = messages.list_messages(ctx, template="min_term_ending")[0].text_body
    assert "endet am 01.03.2027" in text and "bis spätestens 31.01.2027" in text and "30 Tagen" in text
    assert cards == [((date(2026, 3, 31) - START).days, "card_expiring")]
    text = messages.list_messages(ctx, template="renewal_notice")[0].text_body
    assert "renews on 2 Mar 2027 for 12 months at €120.00" in text and "cancel by 31 Jan 2027" in text
