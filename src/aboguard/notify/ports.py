"""What the notify services see of the outside: a mailer, a renderer, a webhook sender, and settings.

Send results are return values (a server that is down is expected), never exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aboguard.domain.portal import PortalTokens


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    sender: str
    recipient: str
    subject: str
    text: str
    html: str
    message_id: str  # "<...@...>", the same on every attempt so that receivers can drop a repeat
    date: datetime
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    error: str | None = None
    permanent: bool = False  # the server refused the message for good (e.g. 550 no such user)
    status_code: int | None = None  # SMTP reply code or HTTP status, when there was one


class Mailer(Protocol):
    name: str

    def send(self, email: OutgoingEmail) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


class Renderer(Protocol):
    def render(self, template: str, locale: str, data: dict[str, Any]) -> RenderedMessage:
        """Raises TemplateProblem when the template is missing or broken."""
        ...


class TemplateProblem(Exception):
    """A template is missing or cannot be rendered (a merchant override with an error, a missing value)."""


class WebhookSender(Protocol):
    def deliver(self, url: str, secret: str, webhook_id: str, timestamp: datetime, body: str) -> SendResult: ...


TEST_CREDITOR_ID = "DE98ZZZ09999999999"  # the Bundesbank's test creditor identifier, until the merchant sets one


@dataclass(frozen=True, slots=True)
class NotifySettings:
    from_address: str = "aboguard <noreply@aboguard.invalid>"
    merchant_email: str | None = None  # notices to the merchant (a webhook endpoint disabled)
    merchant_locale: str = "de"
    merchant_name: str = "aboguard sandbox merchant"
    merchant_address: tuple[str, ...] = ()
    legal_footer: str = ""  # Impressum lines: register court and number, managing directors, VAT id
    portal_url: str = "http://localhost:8000/portal"
    portal_link_days: int = 14
    sepa_creditor_id: str = TEST_CREDITOR_ID
    reminder_days: int = 3  # default lead of the upcoming-payment reminder (a plan may set its own)
    sepa_prenotice_days: int = 14
    renewal_notice_days: int = 30
    card_expiry_days: int = 30
    dunning_pay_within_days: int = 7
    webhook_disable_after: int = 10  # consecutive failed attempts
    webhook_disable_days: int = 5  # or failing for this many days
    mail_domain: str = "aboguard.invalid"


@dataclass(slots=True)
class Notifier:
    mailer: Mailer
    renderer: Renderer
    webhooks: WebhookSender
    portal: Callable[[], PortalTokens]  # loads (or makes) the portal secret on first use
    settings: NotifySettings = field(default_factory=NotifySettings)


__all__ = ["TEST_CREDITOR_ID", "Mailer", "Notifier", "NotifySettings", "OutgoingEmail", "RenderedMessage",
           "Renderer", "SendResult", "TemplateProblem", "WebhookSender"]
