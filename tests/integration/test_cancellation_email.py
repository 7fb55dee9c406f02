"""§ 312k (4) BGB: a cancellation is confirmed to the customer at once, in their language, with the time of receipt."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from aboguard.domain.customers import CustomerSpec
from aboguard.services import contracts, customers, notifications, subscriptions
from aboguard.services.context import ServiceContext

from .notify_helpers import file_mailer, make_notifier
from .test_collection import collection_context


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    context = collection_context(engine, tmp_path)
    context.notifier = make_notifier(file_mailer(tmp_path / "outbox"))
    return context


@pytest.mark.parametrize(("locale", "words"), [("de", ("Kündigung", "09:00 Uhr", "§ 312k Abs. 4 BGB")),
                                               ("en", ("cancellation", "at 09:00", "§ 312k (4) BGB"))])
def test_a_cancellation_is_confirmed_by_email_once(ctx: ServiceContext, tmp_path: Path, locale: str,
                                                   words: tuple[str, ...]) -> None:
    customer = customers.create_customer(ctx, CustomerSpec(email=f"kuendigt-{locale}@example.de", name="Jürgen Groß",
                                                           country="DE", locale=locale))
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic").subscription
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]  # received 08:00 UTC = 09:00 in Berlin (CET)
    contracts.request_cancellation(ctx, sub.id)
    notifications.run_notify(ctx)
    notifications.run_notify(ctx)  # a second run sends nothing again
    files = sorted((tmp_path / "outbox").rglob("*.eml"))
    confirmations = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    confirmations = [m for m in confirmations if "cancellation_confirmed" in m["Message-ID"]]
    assert len(confirmations) == 1
    mail = confirmations[0]
    assert mail["To"] == customer.email
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert all(word in body for word in words)
    assert "Jürgen Groß" in body
