"""The notify dispatcher: events and due dates in, emails and webhook deliveries out, at least once.

One run (``aboguard notify run``, the last step of ``aboguard tick``):

1. **Dispatch events.** Every event has an outbox row written in the transaction that made it. Due rows
   are claimed in batches (``FOR UPDATE SKIP LOCKED`` on PostgreSQL); each event becomes its messages
   (rendered now, one per recipient: the dedupe key ``<event id>:<recipient>`` is unique) and one webhook
   delivery per endpoint whose filter takes it; the outbox row is deleted in the same transaction. An
   event whose message cannot be made (a broken template) keeps its row, is postponed with backoff and
   reported; the rest of the batch goes on. The cost of a run grows with new events, not with history.
2. **Notices no event announces** (upcoming charge, SEPA pre-notification, yearly renewal, end of the
   minimum term, card expiring) from indexed look-ups of the dates coming up; one message per
   notice and date, ever (the dedupe key ``<notice>:<subject>:<date>``).
3. **Send.** Due messages are claimed and leased (``next_attempt_at`` moves to the end of the lease), sent
   outside any transaction, and the outcome is recorded right after in its own transaction with an attempt
   row. A server that is down means a retry with exponential backoff; a crash between sending and recording
   means one more send after the lease, with the same Message-ID, so receivers can drop it. Webhook deliveries
   work the same way (:mod:`aboguard.services.webhooks`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from aboguard.domain import notifications as rules
from aboguard.domain.catalog import PaymentMethodKind, Terms
from aboguard.domain.customers import Customer
from aboguard.domain.notifications import DeliveryAttempt, Message, MessageStatus
from aboguard.domain.payment_methods import CARD_BRANDS, MASK, PaymentMethod, mask_iban
from aboguard.errors import AboguardError
from aboguard.money import Money
from aboguard.notify.ports import Notifier, OutgoingEmail, TemplateProblem
from aboguard.store.uow import StoredEvent, UnitOfWork

from . import webhooks
from .context import ServiceContext

DEFAULT_BATCH = 100
LEASE = timedelta(minutes=5)  # a claimed message is sent again only if the sender died for this long


@dataclass(slots=True)
class NotifyReport:
    events: int = 0  # events dispatched
    created: dict[str, int] = field(default_factory=dict)  # template -> messages made
    sent: int = 0
    failed_attempts: int = 0  # retried later
    given_up: int = 0  # refused for good by the server
    deliveries_created: int = 0
    webhooks_sent: int = 0
    webhook_failures: int = 0
    endpoints_disabled: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_notify(ctx: ServiceContext, *, batch_size: int = DEFAULT_BATCH) -> NotifyReport:
    report = NotifyReport()
    dispatch_events(ctx, report, batch_size=batch_size)
    schedule_notices(ctx, report)
    send_due_messages(ctx, report, batch_size=batch_size)
    disabled = len(report.endpoints_disabled)
    webhooks.send_due(ctx, report, batch_size=batch_size)
    if len(report.endpoints_disabled) > disabled:  # the merchant hears about it in this run
        dispatch_events(ctx, report, batch_size=batch_size)
        send_due_messages(ctx, report, batch_size=batch_size)
    return report


# -- 1. events ----------------------------------------------------------------------------------------------


def dispatch_events(ctx: ServiceContext, report: NotifyReport, *, batch_size: int = DEFAULT_BATCH) -> None:
    notifier = ctx.require_notifier()
    while True:
        now = ctx.now()
        with ctx.uow() as uow:
            claimed = uow.outbox.claim_due(now, limit=batch_size)
            endpoints = webhooks.receiving_endpoints(uow)
            done = []
            for event, attempts in claimed:
                try:
                    made = messages_for_event(ctx, uow, notifier, event)
                except (TemplateProblem, AboguardError) as exc:
                    wait = min(timedelta(minutes=2 ** min(attempts, 10)), timedelta(hours=6))
                    uow.outbox.postpone(event.id, now + wait, str(exc))
                    report.problems.append(f"event {event.id} ({event.name}): {exc}; tried again after {wait}")
                    continue
                for message in made:
                    if uow.messages.add(message):
                        report.created[message.template] = report.created.get(message.template, 0) + 1
                deliveries = webhooks.deliveries_for(ctx, endpoints, event)
                uow.webhooks.add_deliveries(deliveries)
                report.deliveries_created += len(deliveries)
                done.append(event.id)
            uow.outbox.done(done)
            uow.commit()
        report.events += len(done)
        if len(claimed) < batch_size:
            return


def messages_for_event(ctx: ServiceContext, uow: UnitOfWork, notifier: Notifier, event: StoredEvent
                       ) -> list[Message]:
    """The emails an event asks for (none for most events)."""
    p = event.payload
    on = event.occurred_at.astimezone(ctx.merchant_tz).date()
    if event.name == rules.WebhookEndpointDisabled.name:
        to = notifier.settings.merchant_email
        if not to:
            return []
        data = {"url": p["url"], "endpoint_id": event.aggregate_id, "failures": p["consecutive_failures"],
                "failing_since": p["failing_since"], "last_error": p["last_error"], **merchant_data(notifier)}
        return [compose(ctx, notifier, "webhook_endpoint_disabled", f"{event.id}:{to}", event.id, None, to,
                         notifier.settings.merchant_locale, data)]
    if event.name == "contract.cancellation_confirmed":  # § 312k (4) BGB: confirmed at once, in writing
        customer = uow.customers.get(p["customer_id"])
        local = datetime.fromisoformat(p["received_at_local"])
        data = {"contract_ref": p["contract_ref"], "received_on": local.date(),
                "received_time": local.strftime("%H:%M"), "last_day": p["last_day"],
                "extraordinary": p["kind"] == "extraordinary", "too_early": bool(p["requested_too_early"])}
        return [_for_customer(ctx, notifier, "cancellation_confirmed", event, customer, data)]
    if event.name == "payment.succeeded":
        customer = uow.customers.get(p["customer_id"])
        invoice = uow.invoices.get(p["invoice_id"])
        data = {"invoice_number": invoice.number, "amount": _money(p["amount"]), "paid_on": on}
        return [_for_customer(ctx, notifier, "payment_succeeded", event, customer, data)]
    if event.name == "payment.retry_decided":
        attempt = uow.attempts.get(event.aggregate_id)
        customer = uow.customers.get(p["customer_id"])
        invoice = uow.invoices.get(p["invoice_id"])
        reason = rules.failure_reason(attempt.decline_code, attempt.decline_class, p["action"])
        purpose = "authenticate_payment" if reason is rules.FailureReason.AUTHENTICATE else "update_payment_method"
        sepa = None
        if p.get("pre_notification") and p.get("retry_on") and attempt.payment_method_id:
            # a SEPA debit presented again: this email is its pre-notification (amount, date, mandate, creditor)
            method = uow.payment_methods.get(attempt.payment_method_id)
            sepa = {"mandate_reference": method.mandate_reference or "",
                    "creditor_id": notifier.settings.sepa_creditor_id}
        data = {"invoice_number": invoice.number, "amount": attempt.amount, "reason": reason.value,
                "retry_on": p.get("retry_on"), "portal_url": _portal(ctx, notifier, customer, purpose), "sepa": sepa}
        return [_for_customer(ctx, notifier, "payment_failed", event, customer, data)]
    if event.name == "dunning.step":
        invoice = uow.invoices.get(event.aggregate_id)
        customer = uow.customers.get(p["customer_id"])
        action = p["action"]
        open_total = _money(p["open_total"])
        interest = _money(p["interest"]) if p.get("interest") else None
        principal = min(invoice.amount_due, open_total)
        fees = open_total - principal - (interest or Money.zero(open_total.currency))
        data = {"invoice_number": invoice.number, "due_on": invoice.due_on, "open_total": open_total,
                "principal": principal, "fee": fees if fees.is_positive() else None,
                "interest": interest if interest and interest.is_positive() else None,
                "level": {"dunning_1": 1, "dunning_2": 2}.get(action, 3), "final": action == "final_notice",
                "pay_by": on + timedelta(days=notifier.settings.dunning_pay_within_days),
                "portal_url": _portal(ctx, notifier, customer, "pay_invoice")}
        return [_for_customer(ctx, notifier, rules.dunning_template(action), event, customer, data)]
    return []


def _money(value: dict[str, Any]) -> Money:
    return Money(int(value["amount_minor"]), str(value["currency"]))


def merchant_data(notifier: Notifier) -> dict[str, Any]:
    s = notifier.settings
    return {"merchant_name": s.merchant_name, "merchant_address": list(s.merchant_address),
            "legal_footer": s.legal_footer}


def _portal(ctx: ServiceContext, notifier: Notifier, customer: Customer, purpose: str) -> str:
    expires = ctx.now() + timedelta(days=notifier.settings.portal_link_days)
    token = notifier.portal().issue_token(customer.id, purpose, expires)
    return f"{notifier.settings.portal_url}/{purpose.replace('_', '-')}?token={token}"


def _for_customer(ctx: ServiceContext, notifier: Notifier, template: str, event: StoredEvent, customer: Customer,
                  data: dict[str, Any]) -> Message:
    return compose(ctx, notifier, template, f"{event.id}:{customer.email.lower()}", event.id, customer.id,
                    customer.email, customer.locale, {"customer_name": customer.name, **data})


def compose(ctx: ServiceContext, notifier: Notifier, template: str, dedupe_key: str, event_id: str | None,
             customer_id: str | None, recipient: str, locale: str, data: dict[str, Any]) -> Message:
    rendered = notifier.renderer.render(template, locale, {**merchant_data(notifier), **data})
    message_id = ctx.new_id()
    return Message(id=message_id, dedupe_key=dedupe_key, event_id=event_id, template=template,
                   customer_id=customer_id, recipient=recipient, locale=locale, subject=rendered.subject,
                   text_body=rendered.text, html_body=rendered.html,
                   message_id=f"<{event_id or message_id}.{template}@{notifier.settings.mail_domain}>",
                   status=MessageStatus.PENDING, attempts=0, next_attempt_at=ctx.now(), last_error=None,
                   created_at=ctx.now())


# -- 2. notices from dates coming up ---------------------------------------------------------------------


def schedule_notices(ctx: ServiceContext, report: NotifyReport, *, page: int = 500) -> None:
    notifier = ctx.require_notifier()
    s = notifier.settings
    today = ctx.today()
    with ctx.uow() as uow:
        lead_by_plan = uow.notices.reminder_days()
        horizon = max(s.sepa_prenotice_days, s.reminder_days, *lead_by_plan.values())
        for kind, end in (("charge", horizon), ("renewal", s.renewal_notice_days),
                          ("min_term", s.renewal_notice_days + 120)):
            after = None
            while True:
                found = uow.notices.upcoming(kind, today, today + timedelta(days=end), limit=page, after=after)
                _notices(ctx, uow, notifier, kind, found, lead_by_plan, report)
                uow.commit()  # one transaction per page
                if len(found) < page:
                    break
                after = (found[-1].on, found[-1].id)
        _card_notices(ctx, uow, notifier, report)
        uow.commit()


def _notices(ctx: ServiceContext, uow: UnitOfWork, notifier: Notifier, kind: str, found: list, lead_by_plan:
             dict[str, int], report: NotifyReport) -> None:
    s = notifier.settings
    today = ctx.today()
    customers = uow.customers.get_many([u.customer_id for u in found])
    methods = uow.payment_methods.defaults_for([u.customer_id for u in found]) if kind == "charge" else {}
    wanted: list[tuple[str, str, Any, dict[str, Any]]] = []  # (key, template, upcoming, data)
    for u in found:
        if u.ends_on is not None and u.on >= u.ends_on:
            continue  # the contract ends before that date
        amount = Money(u.amount_minor, u.currency)
        base = {"plan_name": u.plan_name, "amount": amount, "plus_vat": not u.tax_inclusive}
        if kind == "charge":
            method = methods.get(u.customer_id)
            if method is not None and method.kind is PaymentMethodKind.SEPA_DEBIT:
                if rules.notice_due(u.on, s.sepa_prenotice_days, today):
                    wanted.append((f"sepa_prenotification:{u.id}:{u.on}", "sepa_prenotification", u, {
                        **base, "debit_on": u.on, "mandate_reference": method.mandate_reference or "",
                        "creditor_id": s.sepa_creditor_id, "iban": mask_iban(method.iban or "")}))
            elif method is not None and method.kind in {PaymentMethodKind.CARD, PaymentMethodKind.PAYPAL}:
                # a reminder that money will be taken; pay-by-invoice customers get their invoice instead
                lead = lead_by_plan.get(u.plan_id, s.reminder_days)
                if lead and rules.notice_due(u.on, lead, today):
                    wanted.append((f"payment_reminder:{u.id}:{u.on}", "payment_reminder", u, {
                        **base, "charge_on": u.on, "method": _method_label(method)}))
        elif kind == "renewal" and u.on > u.billing_anchor and rules.notice_due(u.on, s.renewal_notice_days, today):
            terms = Terms(notice_days=u.notice_days)
            wanted.append((f"renewal_notice:{u.id}:{u.on}", "renewal_notice", u, {
                **base, "renews_on": u.on, "cancel_by": terms.cancellation_deadline(u.on),
                "renewal_months": u.renewal_term_months or 12 * u.interval_count}))
        elif kind == "min_term" and u.status != "canceled":
            cancel_by = Terms(notice_days=u.notice_days).cancellation_deadline(u.on)
            if rules.notice_due(cancel_by, s.renewal_notice_days, today):
                wanted.append((f"min_term_ending:{u.id}:{u.on}", "min_term_ending", u, {
                    **base, "term_ends_on": u.on - timedelta(days=1), "cancel_by": cancel_by,
                    "notice_days": u.notice_days}))
    existing = uow.messages.existing_keys([key for key, *_ in wanted])
    for key, template, u, data in wanted:
        customer = customers.get(u.customer_id)
        if key in existing or customer is None:
            continue
        data["portal_url"] = _portal(ctx, notifier, customer, "manage_subscription")
        _add(uow, report, compose(ctx, notifier, template, key, None, customer.id, customer.email, customer.locale,
                                   {"customer_name": customer.name, **data}))


def _method_label(method: PaymentMethod) -> str:
    """Masked and language-neutral: "Visa •••• 4242", "PayPal (a•••@example.de)"."""
    if method.kind is PaymentMethodKind.CARD:
        return f"{CARD_BRANDS.get(method.brand or '', method.brand or 'Card')} {MASK} {method.last4}"
    return method.label()


def _card_notices(ctx: ServiceContext, uow: UnitOfWork, notifier: Notifier, report: NotifyReport) -> None:
    today = ctx.today()
    following = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    cards = uow.notices.expiring_cards({(today.year, today.month), (following.year, following.month)})
    wanted = {}
    for card in cards:
        expires = rules.card_expires_on(card.exp_year, card.exp_month)
        if 0 <= (expires - today).days <= notifier.settings.card_expiry_days:
            wanted[f"card_expiring:{card.id}:{card.exp_year}-{card.exp_month:02d}"] = (card, expires)
    existing = uow.messages.existing_keys(list(wanted))
    customers = uow.customers.get_many([card.customer_id for card, _ in wanted.values()])
    for key, (card, expires) in wanted.items():
        customer = customers.get(card.customer_id)
        if key in existing or customer is None:
            continue
        data = {"customer_name": customer.name, "brand": CARD_BRANDS.get(card.brand or "", card.brand or "Card"),
                "last4": card.last4 or "", "expires_on": expires,
                "portal_url": _portal(ctx, notifier, customer, "update_payment_method")}
        _add(uow, report, compose(ctx, notifier, "card_expiring", key, None, customer.id, customer.email,
                                   customer.locale, data))


def _add(uow: UnitOfWork, report: NotifyReport, message: Message) -> None:
    if uow.messages.add(message):
        report.created[message.template] = report.created.get(message.template, 0) + 1


# -- 3. sending -------------------------------------------------------------------------------------------


def send_due_messages(ctx: ServiceContext, report: NotifyReport, *, batch_size: int = DEFAULT_BATCH) -> None:
    notifier = ctx.require_notifier()
    while True:
        now = ctx.now()
        with ctx.uow() as uow:
            claimed = uow.messages.claim_due(now, now + LEASE, limit=batch_size)
            uow.commit()
        for message in claimed:
            _send(ctx, notifier, message, report)
        if len(claimed) < batch_size:
            return


def _send(ctx: ServiceContext, notifier: Notifier, message: Message, report: NotifyReport) -> None:
    headers = [("X-Aboguard-Message-Id", message.id)]
    if message.event_id:
        headers.append(("X-Aboguard-Event-Id", message.event_id))
    email = OutgoingEmail(sender=notifier.settings.from_address, recipient=message.recipient,
                          subject=message.subject, text=message.text_body, html=message.html_body,
                          message_id=message.message_id, date=ctx.now(), headers=tuple(headers))
    started = time.monotonic()
    result = notifier.mailer.send(email)
    duration = int((time.monotonic() - started) * 1000)
    now = ctx.now()
    with ctx.uow() as uow:  # recorded right after the send, in its own transaction
        attempts = message.attempts + 1
        if result.ok:
            updated = replace(message, status=MessageStatus.SENT, attempts=attempts, next_attempt_at=None,
                              sent_at=now, last_error=None)
            report.sent += 1
        elif result.permanent:
            updated = replace(message, status=MessageStatus.FAILED, attempts=attempts, next_attempt_at=None,
                              last_error=result.error)
            report.given_up += 1
            report.problems.append(f"message {message.id} to {message.recipient} refused: {result.error}")
        else:
            updated = replace(message, attempts=attempts, next_attempt_at=now + rules.email_backoff(attempts),
                              last_error=result.error)
            report.failed_attempts += 1
        uow.messages.save(updated)
        uow.messages.add_attempt(DeliveryAttempt(id=ctx.new_id(), channel="email", attempted_at=now, ok=result.ok,
                                                 duration_ms=duration, message_id=message.id,
                                                 status_code=result.status_code, error=result.error))
        uow.commit()


__all__ = ["LEASE", "NotifyReport", "compose", "dispatch_events", "merchant_data", "messages_for_event",
           "run_notify", "schedule_notices", "send_due_messages"]
