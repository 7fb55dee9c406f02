"""Reading messages and their attempts, previewing templates, and the per-plan reminder lead time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aboguard.domain import notifications as rules
from aboguard.domain.notifications import DeliveryAttempt, Message, MessageStatus
from aboguard.errors import InvalidInput
from aboguard.money import Money
from aboguard.notify.ports import Notifier, RenderedMessage, TemplateProblem

from .context import ServiceContext
from .notifications import merchant_data


def list_messages(ctx: ServiceContext, *, customer_id: str | None = None, status: str | None = None,
                  template: str | None = None, limit: int = 100) -> list[Message]:
    if status is not None and status not in {s.value for s in MessageStatus}:
        raise InvalidInput(f"unknown message status {status!r}: use one of "
                           + ", ".join(s.value for s in MessageStatus))
    with ctx.uow() as uow:
        return uow.messages.list(customer_id=customer_id, status=status, template=template, limit=limit)


def get_message(ctx: ServiceContext, ref: str) -> tuple[Message, list[DeliveryAttempt]]:
    with ctx.uow() as uow:
        message = uow.messages.get(ref)
        return message, uow.messages.attempts(message_id=message.id)


def preview(ctx: ServiceContext, template: str, locale: str = "de") -> RenderedMessage:
    """A template rendered with sample data (nothing is stored or sent)."""
    if template not in rules.TEMPLATES:
        raise InvalidInput(f"unknown template {template!r}: use one of {', '.join(rules.TEMPLATES)}")
    if locale not in {"de", "en"}:
        raise InvalidInput(f"unknown locale {locale!r}: use de or en")
    notifier = ctx.require_notifier()
    data = {**merchant_data(notifier), **_sample(ctx, notifier, template)}
    try:
        return notifier.renderer.render(template, locale, data)
    except TemplateProblem as exc:
        raise InvalidInput(str(exc)) from None


def _sample(ctx: ServiceContext, notifier: Notifier, template: str) -> dict[str, Any]:
    today = ctx.today()
    amount = Money(1234_56, "EUR")
    link = f"{notifier.settings.portal_url}/update-payment-method?token=SAMPLE"
    return {
        "customer_name": "Jürgen Müller", "plan_name": "Jahresabo Größe L", "amount": amount, "plus_vat": False,
        "charge_on": today + timedelta(days=3), "method": "Visa •••• 4242, expires 12/2030", "portal_url": link,
        "debit_on": today + timedelta(days=14), "mandate_reference": "AG-SAMPLE-0001",
        "creditor_id": notifier.settings.sepa_creditor_id, "iban": "DE89 •••• •••• •••• •••• 3000",
        "renews_on": today + timedelta(days=30), "cancel_by": today, "renewal_months": 12,
        "term_ends_on": today + timedelta(days=60), "notice_days": 30, "invoice_number": "RE-2026-000042",
        "paid_on": today, "reason": "insufficient_funds", "retry_on": today + timedelta(days=3),
        "due_on": today - timedelta(days=14), "open_total": Money(1241_06, "EUR"), "principal": amount,
        "fee": Money(2_50, "EUR"), "interest": Money(4_00, "EUR"), "level": 1, "final": False,
        "pay_by": today + timedelta(days=7), "brand": "Visa", "last4": "4242",
        "expires_on": today + timedelta(days=20), "url": "https://example.com/hooks", "endpoint_id": "SAMPLE",
        "failures": 10, "failing_since": today - timedelta(days=2), "last_error": "HTTP 503",
        "contract_ref": "SUB-SAMPLE", "received_on": today, "received_time": "10:00",
        "last_day": today + timedelta(days=30), "extraordinary": False, "too_early": False,
    }


def set_reminder_days(ctx: ServiceContext, plan_code: str, days: int) -> int:
    """How many days before a charge the payment reminder of ``plan_code``'s subscribers goes out (0: none)."""
    if not 0 <= days <= 60:
        raise InvalidInput(f"reminder days {days} must be from 0 (no reminder) to 60")
    with ctx.uow() as uow:
        plan = uow.plans.get_by_code(plan_code)
        uow.notices.set_reminder_days(plan.id, days, ctx.now())
        uow.commit()
    return days




__all__ = ["get_message", "list_messages", "preview", "set_reminder_days"]
