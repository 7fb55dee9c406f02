"""Message templates in German and English, with babel formatting, and the rules around them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aboguard.domain import notifications as rules
from aboguard.domain.notifications import FailureReason
from aboguard.errors import InvalidInput
from aboguard.money import Money
from aboguard.notify import signing
from aboguard.notify.ports import TemplateProblem
from aboguard.notify.templates import JinjaRenderer

MERCHANT = {"merchant_name": "Müller & Söhne GmbH", "merchant_address": ["Hauptstraße 1", "10115 Berlin"],
            "legal_footer": "HRB 12345"}
REMINDER = {**MERCHANT, "customer_name": "Jörg", "plan_name": "Größe L", "amount": Money(1234_56, "EUR"),
            "plus_vat": False, "charge_on": date(2026, 11, 29), "method": None,
            "portal_url": "https://shop.example/portal/manage-subscription?token=abc"}


def test_german_uses_german_number_and_date_formats() -> None:
    rendered = JinjaRenderer().render("payment_reminder", "de", REMINDER)
    assert rendered.subject == "Ihre nächste Zahlung für Größe L am 29.11.2026"
    assert "am 29.11.2026 buchen wir 1.234,56\xa0€ für Ihr Abonnement „Größe L“ ab." in rendered.text
    assert rendered.text.rstrip().endswith("Müller & Söhne GmbH\nHauptstraße 1\n10115 Berlin\nHRB 12345")


def test_english_uses_english_formats_and_the_html_part_is_escaped_with_links() -> None:
    rendered = JinjaRenderer().render("payment_reminder", "en_GB", REMINDER)
    assert rendered.subject == "Your next payment for Größe L on 29 Nov 2026"
    assert "we will charge €1,234.56 for" in rendered.text
    assert '<a href="https://shop.example/portal/manage-subscription?token=abc">' in rendered.html
    assert "Müller &amp; Söhne GmbH" in rendered.html and "<p>" in rendered.html


def test_every_template_renders_in_both_languages() -> None:
    sample = {**REMINDER, "debit_on": date(2026, 12, 1), "mandate_reference": "AG-1",
              "creditor_id": "DE98ZZZ09999999999",
              "iban": "DE89 •••• 3000", "renews_on": date(2027, 1, 1), "cancel_by": date(2026, 12, 1),
              "renewal_months": 12, "term_ends_on": date(2026, 12, 31), "notice_days": 30, "invoice_number": "RE-1",
              "paid_on": date(2026, 11, 29), "reason": "retry", "retry_on": "2026-12-01", "due_on": date(2026, 11, 1),
              "open_total": Money(10_00, "EUR"), "principal": Money(9_00, "EUR"), "fee": None,
              "interest": Money(1_00, "EUR"), "level": 1, "final": True, "pay_by": date(2026, 12, 6),
              "brand": "Visa", "last4": "4242", "expires_on": date(2026, 12, 31), "url": "https://x.example",
              "endpoint_id": "ep-1", "failures": 10, "failing_since": None, "last_error": "HTTP 500",
              "contract_ref": "SUB-1", "received_on": date(2026, 11, 29), "received_time": "10:00",
              "last_day": date(2026, 12, 31), "extraordinary": True, "too_early": True}
    renderer = JinjaRenderer()
    for template in rules.TEMPLATES:
        for locale in ("de", "en"):
            rendered = renderer.render(template, locale, sample)
            assert rendered.subject and "{{" not in rendered.text and rendered.html.startswith("<!DOCTYPE html>")


def test_a_merchant_template_overrides_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "payment_reminder.txt").write_text("Subject: Bald fällig: {{ amount|money }}\nHallo!\n",
                                                          encoding="utf-8")
    rendered = JinjaRenderer(tmp_path).render("payment_reminder", "de", REMINDER)
    assert rendered.subject == "Bald fällig: 1.234,56\xa0€"
    assert "Müller & Söhne GmbH" in rendered.text  # the shipped footer still applies
    (tmp_path / "de" / "payment_reminder.txt").write_text("no subject line", encoding="utf-8")
    with pytest.raises(TemplateProblem, match="must start with a 'Subject:' line"):
        JinjaRenderer(tmp_path).render("payment_reminder", "de", REMINDER)
    with pytest.raises(TemplateProblem, match="no template"):
        JinjaRenderer().render("no_such_template", "de", REMINDER)
    with pytest.raises(TemplateProblem, match="cannot be rendered"):
        JinjaRenderer().render("payment_reminder", "de", {})  # a value is missing


@pytest.mark.parametrize(("code", "klass", "action", "reason"), [
    ("expired_card", "customer_action", "ask_for_new_method", FailureReason.EXPIRED_CARD),
    ("insufficient_funds", "soft", "retry", FailureReason.INSUFFICIENT_FUNDS),
    ("generic_decline", "soft", "retry", FailureReason.RETRY),
    ("lost_card", "hard", "ask_for_new_method", FailureReason.NEW_METHOD),
    ("insufficient_funds", "soft", "stop", FailureReason.NEW_METHOD),
    ("authentication_required", "customer_action", "ask_to_authenticate", FailureReason.AUTHENTICATE),
    ("incorrect_cvc", "customer_action", "ask_for_new_method", FailureReason.CARD_DETAILS),
])
def test_the_failure_reason_follows_the_decline_and_the_retry_decision(code, klass, action, reason) -> None:
    assert rules.failure_reason(code, klass, action) is reason


def test_backoff_schedules_and_disabling() -> None:
    assert [rules.email_backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=1), timedelta(minutes=2),
                                                           timedelta(minutes=4)]
    assert rules.email_backoff(40) == timedelta(hours=6)
    assert rules.webhook_backoff(1) == timedelta(seconds=5) and rules.webhook_backoff(8) is None
    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert rules.should_disable(10, now, now, after_failures=10, after_days=5)
    assert not rules.should_disable(3, now - timedelta(days=4), now, after_failures=10, after_days=5)
    assert rules.should_disable(3, now - timedelta(days=5), now, after_failures=10, after_days=5)


def test_event_filters() -> None:
    filters = rules.parse_event_filters("payment.*, invoice.paid")
    assert filters == ("invoice.paid", "payment.*")
    assert rules.matches(filters, "payment.failed") and rules.matches(filters, "invoice.paid")
    assert not rules.matches(filters, "invoice.issued") and not rules.matches(filters, "paymentx.failed")
    assert rules.parse_event_filters(None) == ("*",) and rules.matches(("*",), "anything.at_all")
    with pytest.raises(InvalidInput, match="is not an event type"):
        rules.parse_event_filters("pay*ment")


def test_standard_webhooks_signature_matches_the_reference_example() -> None:
    # The example from the Standard Webhooks specification's reference implementations.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    signature = signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, f"v1,bogus {signature}")
    assert signing.new_secret().startswith("whsec_") and len(signing.secret_key(signing.new_secret())) == 24


def test_every_event_type_is_documented_for_webhook_receivers() -> None:
    import aboguard.domain.dunning
    import aboguard.domain.payment_methods
    import aboguard.domain.payments
    import aboguard.domain.refunds  # noqa: F401  (their event classes)
    from aboguard.domain.events import Event

    def kinds(base: type) -> set[type]:
        return {k for sub in base.__subclasses__() for k in {sub, *kinds(sub)}}

    docs = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")
    missing = sorted({k.name for k in kinds(Event)} - {n for n in docs.split("`")})
    assert missing == [], f"document these event types in docs/webhooks.md: {missing}"
