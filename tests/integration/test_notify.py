"""Customer communication against a real SMTP server and a real HTTP receiver on loopback, on SQLite and
PostgreSQL: messages arrive once, in the customer's language, correctly encoded; an SMTP outage delays
but never loses or doubles a message; webhooks are signed per Standard Webhooks, retried with backoff,
and a failing endpoint is disabled with a notice to the merchant."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook

from aboguard.clock import SystemClock
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.notifications import DeliveryStatus, EndpointStatus, MessageStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.portal import PortalTokens
from aboguard.notify.email import SmtpMailer
from aboguard.notify.ports import OutgoingEmail, SendResult
from aboguard.services import (
    billing,
    collection,
    customers,
    messages,
    notifications,
    payment_methods,
    subscriptions,
    webhooks,
)
from aboguard.services.context import ServiceContext

from .notify_helpers import (
    PORTAL_SECRET,
    Inbox,
    Receiver,
    SmtpServer,
    free_port,
    html_part,
    make_notifier,
    self_signed_certificate,
    smtp_mailer,
    text_part,
)
from .test_collection import card, collection_context


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path, smtp: SmtpServer) -> ServiceContext:
    context = collection_context(engine, tmp_path)
    context.notifier = make_notifier(smtp_mailer(smtp.port))
    return context


def subscriber(ctx: ServiceContext, email: str, name: str, locale: str, token: str = "tok_visa") -> str:
    customer = customers.create_customer(ctx, CustomerSpec(email=email, name=name, country="DE", locale=locale))
    payment_methods.add_payment_method(ctx, customer.id, card(token))
    subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic")
    return customer.id


def test_receipts_arrive_once_in_the_customers_language_with_umlauts(ctx: ServiceContext, smtp: SmtpServer) -> None:
    subscriber(ctx, "joerg@example.de", "Jörg Größmann", "de")
    subscriber(ctx, "jane@example.com", "Jane Doe", "en")
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    report = notifications.run_notify(ctx)
    assert report.created == {"payment_succeeded": 2} and report.sent == 2
    german, = smtp.inbox.to("joerg@example.de")
    english, = smtp.inbox.to("jane@example.com")
    assert german["Subject"].startswith("Zahlungsbestätigung für Rechnung RE-2026-")
    assert "Hallo Jörg Größmann," in text_part(german) and "9,99\xa0€" in text_part(german)
    assert "02.03.2026" in text_part(german) and "Hauptstraße 1" in text_part(german)
    assert "Amtsgericht Berlin-Charlottenburg HRB 12345" in text_part(german)
    assert "Jörg Größmann" in html_part(german) and "Müller &amp; Söhne GmbH" in html_part(german)
    assert german["From"] == "Müller & Söhne <rechnung@mueller.example>"
    assert english["Subject"].startswith("Payment receipt for invoice RE-2026-")
    assert "€9.99" in text_part(english) and "2 Mar 2026" in text_part(english)
    raw = german.as_bytes()
    assert b"=?utf-8?" in raw and "Größmann".encode() not in raw.split(b"\n\n", 1)[0]  # encoded headers
    assert german["Message-ID"].endswith(".payment_succeeded@mueller.example>")
    assert german["X-Aboguard-Event-Id"] in german["Message-ID"]
    # Nothing new: nothing is sent again, however often the dispatcher runs.
    ctx.clock.advance(hours=1)  # type: ignore[attr-defined]
    again = notifications.run_notify(ctx)
    assert (again.created, again.sent) == ({}, 0)
    assert len(smtp.inbox.received) == 2


def test_smtp_down_then_up_delivers_later_exactly_once(ctx: ServiceContext, smtp: SmtpServer) -> None:
    down = SmtpServer(port=free_port())  # nothing listens there yet
    ctx.notifier = make_notifier(smtp_mailer(down.port))
    subscriber(ctx, "anna@example.de", "Anna Schäfer", "de")
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    first = notifications.run_notify(ctx)
    assert (first.sent, first.failed_attempts) == (0, 1)
    message, = messages.list_messages(ctx)
    assert message.status is MessageStatus.PENDING and message.attempts == 1 and "Connection" in message.last_error
    assert message.next_attempt_at == ctx.now() + timedelta(minutes=1)
    assert notifications.run_notify(ctx).failed_attempts == 0  # not due yet: backoff
    down.start()
    try:
        ctx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        assert notifications.run_notify(ctx).sent == 1
        ctx.clock.advance(hours=2)  # type: ignore[attr-defined]
        assert notifications.run_notify(ctx).sent == 0
        assert len(down.inbox.received) == 1 and smtp.inbox.received == []
        sent, attempts = messages.get_message(ctx, message.id)
        assert sent.status is MessageStatus.SENT and [a.ok for a in attempts] == [False, True]
        assert down.inbox.received[0][1]["Message-ID"].strip() == message.message_id
    finally:
        down.stop()


def test_webhooks_are_signed_per_standard_webhooks_filtered_and_replayed(ctx: ServiceContext,
                                                                         receiver: Receiver) -> None:
    ctx.clock.set(SystemClock().now())  # type: ignore[attr-defined]  # receivers check the timestamp against now
    endpoint = webhooks.add_endpoint(ctx, receiver.url, events="payment.*, invoice.paid")
    assert endpoint.secret.startswith("whsec_")
    subscriber(ctx, "anna@example.de", "Anna", "de")
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    report = notifications.run_notify(ctx)
    assert report.webhooks_sent == 2 and report.webhook_failures == 0
    verifier = Webhook(endpoint.secret)
    payloads = [verifier.verify(body, headers) for headers, body in receiver.requests]
    assert sorted(p["type"] for p in payloads) == ["invoice.paid", "payment.succeeded"]
    for (headers, _), payload in zip(receiver.requests, payloads, strict=True):
        assert headers["webhook-id"] == payload["id"] and payload["api_version"] == "2026-11-01"
        assert payload["data"]["id"] and payload["data"]["object"] in {"invoice", "payment"}
    paid = next(p for p in payloads if p["type"] == "payment.succeeded")
    assert paid["data"]["amount"] == {"amount_minor": 9_99, "currency": "EUR"}
    tampered = dict(receiver.requests[0][0], **{"webhook-id": "someone-else"})
    with pytest.raises(Exception, match="signature"):
        verifier.verify(receiver.requests[0][1], tampered)
    # Replaying a delivery sends the same event again, with the same webhook-id, to the same endpoint.
    (delivery, attempts), *_ = webhooks.list_deliveries(ctx, event_id=paid["id"])
    assert delivery.status is DeliveryStatus.SUCCEEDED and attempts[0].status_code == 200
    replayed, = webhooks.replay(ctx, delivery.id)
    assert replayed.seq == 1
    assert notifications.run_notify(ctx).webhooks_sent == 1
    assert receiver.requests[-1][0]["webhook-id"] == paid["id"]
    assert verifier.verify(receiver.requests[-1][1], receiver.requests[-1][0])["id"] == paid["id"]


def test_a_failing_endpoint_is_retried_with_backoff_then_disabled_and_the_merchant_told(
        ctx: ServiceContext, receiver: Receiver, smtp: SmtpServer) -> None:
    ctx.clock.set(SystemClock().now())  # type: ignore[attr-defined]
    ctx.notifier = make_notifier(smtp_mailer(smtp.port), webhook_disable_after=4)
    receiver.status = 503
    endpoint = webhooks.add_endpoint(ctx, receiver.url, events="customer.created")
    customers.create_customer(ctx, CustomerSpec(email="x@example.de", name="X", country="DE"))
    times = []
    for wait in (timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30)):
        ctx.clock.advance(wait)  # type: ignore[attr-defined]
        report = notifications.run_notify(ctx)
        assert report.webhook_failures == 1
        times.append(ctx.now())
        assert notifications.run_notify(ctx).webhook_failures == 0  # nothing before the next scheduled attempt
    assert len(receiver.requests) == 4
    assert [e.status for e in webhooks.list_endpoints(ctx)] == [EndpointStatus.DISABLED]
    notice, = smtp.inbox.to("merchant@mueller.example")
    assert notice["Subject"] == f"Webhook-Endpunkt deaktiviert: {receiver.url}"
    assert "HTTP 503" in text_part(notice) and f"aboguard webhooks enable {endpoint.id}" in text_part(notice)
    (delivery, attempts), = webhooks.list_deliveries(ctx, endpoint_id=endpoint.id)
    assert [a.status_code for a in attempts] == [503] * 4 and all(a.duration_ms >= 0 for a in attempts)
    assert delivery.status is DeliveryStatus.PENDING and delivery.attempts == 4
    # The receiver is fixed, the merchant enables the endpoint: the waiting delivery goes out.
    receiver.status = 200
    webhooks.enable_endpoint(ctx, endpoint.id)
    ctx.clock.advance(hours=2)  # type: ignore[attr-defined]
    assert notifications.run_notify(ctx).webhooks_sent >= 1
    (delivery, attempts), *_ = webhooks.list_deliveries(ctx, endpoint_id=endpoint.id)
    assert delivery.status is DeliveryStatus.SUCCEEDED and [a.ok for a in attempts][-1] is True


def test_payment_failure_emails_name_the_reason_and_carry_a_signed_portal_link(ctx: ServiceContext,
                                                                               smtp: SmtpServer) -> None:
    subscriber(ctx, "arm@example.de", "Arm", "de", token="4000000000009995")  # insufficient funds
    subscriber(ctx, "old@example.com", "Old", "en", token="4000000000000069")  # expired card
    subscriber(ctx, "lost@example.com", "Lost", "en", token="4000000000009987")  # lost card: hard decline
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    notifications.run_notify(ctx)
    poor, = smtp.inbox.to("arm@example.de")
    expired, = smtp.inbox.to("old@example.com")
    lost, = smtp.inbox.to("lost@example.com")
    assert "keine ausreichende Deckung. Wir versuchen es am" in text_part(poor)
    assert "Your card has expired" in text_part(expired)
    assert "declined the payment for good. Please choose another payment method" in text_part(lost)
    link = next(line for line in text_part(poor).splitlines() if "token=" in line)
    claim = PortalTokens(PORTAL_SECRET).verify_token(link.split("token=")[1], now=ctx.now(),
                                                     purpose="update_payment_method")
    assert claim.customer_id == messages.list_messages(ctx, template="payment_failed")[0].customer_id


@pytest.mark.postgres
def test_two_dispatchers_at_once_send_each_message_exactly_once(ctx: ServiceContext, smtp: SmtpServer,
                                                                db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several dispatchers share work on PostgreSQL (SKIP LOCKED); SQLite runs one")
    for n in range(24):
        subscriber(ctx, f"kunde{n}@example.de", f"Kunde {n}", "de")
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    reports: list[notifications.NotifyReport] = []
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            reports.append(notifications.run_notify(ctx, batch_size=5))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.sent for r in reports) == 24 and sum(r.events for r in reports) >= 24
    ids = [message["Message-ID"].strip() for _, message in smtp.inbox.received]
    assert len(ids) == 24 == len(set(ids))


class _Strict(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def _email(to: str) -> OutgoingEmail:
    return OutgoingEmail(sender="shop@example.de", recipient=to, subject="Grüße", text="Hallo Jürgen",
                         html="<p>Hallo</p>", message_id="<x.1@example.de>", date=SystemClock().now())


def test_smtp_login_and_refusals_are_told_apart() -> None:
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"shop" and auth_data.password == b"geheim"
        return AuthResult(success=ok, handled=False)

    inbox = _Strict()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
    controller.start()
    try:
        good = SmtpMailer("127.0.0.1", controller.port, security="none", username="shop", password="geheim")
        assert good.send(_email("anna@example.de")).ok
        assert inbox.received[0][0] == ["anna@example.de"]
        refused = good.send(_email("nobody@example.de"))
        assert not refused.ok and refused.permanent and refused.status_code == 550
        wrong = SmtpMailer("127.0.0.1", controller.port, security="none", username="shop", password="falsch")
        denied = wrong.send(_email("anna@example.de"))
        assert not denied.ok and not denied.permanent and "535" in (denied.error or "")
        assert len(inbox.received) == 1
    finally:
        controller.stop()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_over_tls_verifies_the_server_certificate(security: str, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = (Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True)
                  if security == "starttls" else
                  Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_tls))
    controller.start()
    try:
        trusted = SmtpMailer("127.0.0.1", port, security=security, ca_file=str(cert), timeout=5)
        assert trusted.send(_email("anna@example.de")).ok
        assert text_part(inbox.received[0][1]).strip() == "Hallo Jürgen"
        untrusted = SmtpMailer("127.0.0.1", port, security=security, timeout=5)  # the system CAs do not know it
        refused = untrusted.send(_email("anna@example.de"))
        assert not refused.ok and "CERTIFICATE_VERIFY_FAILED" in (refused.error or "")
        assert len(inbox.received) == 1
    finally:
        controller.stop()


class _DiesAfterSending:
    """The real SMTP mailer, then the process 'dies' before the dispatcher records the success."""

    name = "smtp"

    def __init__(self, mailer: SmtpMailer) -> None:
        self._mailer = mailer

    def send(self, email: OutgoingEmail) -> SendResult:
        self._mailer.send(email)
        raise SystemExit("killed between sending and recording")


def test_a_crash_after_sending_means_one_repeat_with_the_same_message_id(ctx: ServiceContext,
                                                                         smtp: SmtpServer) -> None:
    subscriber(ctx, "anna@example.de", "Anna", "de")
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    ctx.notifier = make_notifier(_DiesAfterSending(smtp_mailer(smtp.port)))
    with pytest.raises(SystemExit):
        notifications.run_notify(ctx)
    ctx.notifier = make_notifier(smtp_mailer(smtp.port))
    assert notifications.run_notify(ctx).sent == 0  # leased: another dispatcher would not take it yet
    ctx.clock.advance(notifications.LEASE)  # type: ignore[attr-defined]
    assert notifications.run_notify(ctx).sent == 1
    ctx.clock.advance(hours=1)  # type: ignore[attr-defined]
    assert notifications.run_notify(ctx).sent == 0
    first, second = (message for _, message in smtp.inbox.received)
    assert first["Message-ID"] == second["Message-ID"]  # the receiver can drop the repeat


def test_a_returned_sepa_debit_is_pre_notified_before_it_is_presented_again(ctx: ServiceContext,
                                                                             smtp: SmtpServer) -> None:
    customer = customers.create_customer(ctx, CustomerSpec(email="sepa@example.de", name="Sepa", country="DE"))
    method = payment_methods.add_payment_method(ctx, customer.id, PaymentMethodSpec(
        Kind.SEPA_DEBIT, iban="DE35370400440532013002", account_holder="Sepa"))  # returned AM04 (no funds)
    subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic")
    billing.run_billing(ctx)
    for _ in range(10):
        collection.run_collection(ctx)
        notifications.run_notify(ctx)
        ctx.clock.advance(days=1)  # type: ignore[attr-defined]
    failed, = messages.list_messages(ctx, template="payment_failed")
    assert "Vorabankündigung: Wir ziehen 9,99\xa0€ am" in failed.text_body
    assert f"Mandatsreferenz: {method.mandate_reference}" in failed.text_body
    assert "Gläubiger-Identifikationsnummer: DE98ZZZ09999999999" in failed.text_body
