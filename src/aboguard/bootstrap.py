"""The composition root: settings in, a ready :class:`ServiceContext` out.

The only module that imports the storage adapter. Delivery code (CLI, later API and web) calls
:func:`build` or :func:`initialise` and then service functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from aboguard.clock import Clock, SystemClock, TestClock
from aboguard.config import NotifyConfig, Settings
from aboguard.domain import retries, sepa
from aboguard.domain.early_payment import EarlyPaymentTerms
from aboguard.domain.numbering import NumberPattern
from aboguard.domain.payment_methods import normalise_bic, normalise_iban
from aboguard.domain.portal import PortalTokens
from aboguard.domain.tax import MerchantTax
from aboguard.errors import NotInitialised, SecretsUnavailable
from aboguard.notify.email import FileMailer, SmtpMailer
from aboguard.notify.ports import TEST_CREDITOR_ID, Mailer, Notifier, NotifySettings
from aboguard.notify.templates import JinjaRenderer
from aboguard.notify.webhooks_out import HttpWebhookSender
from aboguard.payments.sandbox import SandboxGateway
from aboguard.services import installation, public_holidays
from aboguard.services.context import BillingSettings, SepaSettings, ServiceContext
from aboguard.store import migrate
from aboguard.store.engine import make_engine, sqlite_url
from aboguard.store.secrets import DeferredSecrets, NoSecrets, SecretBox, Secrets, generate_hint, key_file_secrets
from aboguard.store.sql import SqlUnitOfWorkFactory


def database_url(settings: Settings) -> str:
    return settings.database_url or sqlite_url(settings.data_dir)


def _label(url: str) -> str:
    """The database URL without a password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def secrets_for(settings: Settings) -> SecretBox:
    """The key that encrypts IBANs and gateway tokens: ABOGUARD_SECRET_KEY, else ``<data_dir>/secret.key``
    (made with mode 0600 the first time a secret is stored). An external database without a data directory
    needs the variable; until then only reading or writing a secret fails, with that message."""
    if settings.secret_key:
        return Secrets(settings.secret_key, source="ABOGUARD_SECRET_KEY")
    key_file = settings.secret_key_file
    if key_file is not None:
        return DeferredSecrets(lambda: key_file_secrets(key_file))
    return NoSecrets("ABOGUARD_SECRET_KEY is not set: with an external database (ABOGUARD_DATABASE_URL) and no "
                     "ABOGUARD_DATA_DIR, IBANs and payment tokens need that key to be encrypted; "
                     + generate_hint())


def billing_settings(settings: Settings) -> BillingSettings:
    return BillingSettings(
        merchant_tax=MerchantTax(country=settings.merchant_country, vat_id=settings.merchant_vat_id,
                                 small_business=settings.small_business, oss=settings.oss),
        invoice_numbers=NumberPattern("invoice", settings.invoice_pattern),
        credit_note_numbers=NumberPattern("credit_note", settings.credit_note_pattern),
        payment_terms_days=settings.payment_terms_days, merchant_name=settings.merchant_name,
        merchant_address=tuple(line.strip() for line in settings.merchant_address.replace("|", "\n").splitlines()
                               if line.strip()),
        skonto=_skonto(settings.skonto))


def _skonto(raw: str) -> tuple[Decimal, int] | None:
    if not raw:
        return None
    terms = EarlyPaymentTerms.parse(raw)
    return terms.percent, terms.days


def sepa_settings(settings: Settings) -> SepaSettings:
    """The SEPA set-up, with the creditor identifier's check digits and the merchant's IBAN checked."""
    return SepaSettings(
        channel=settings.sepa_channel,
        creditor_id=sepa.validate_creditor_id(settings.sepa_creditor_id) if settings.sepa_creditor_id else None,
        creditor_name=settings.merchant_name,
        iban=normalise_iban(settings.merchant_iban) if settings.merchant_iban else None,
        bic=normalise_bic(settings.merchant_bic) if settings.merchant_bic else None,
        lead_days=settings.sepa_lead_days, first_as_rcur=settings.sepa_first_as_rcur,
        use_fnal=settings.sepa_use_fnal)


def _context(settings: Settings, clock: Clock, engine: Engine, billing: BillingSettings) -> ServiceContext:
    uow = SqlUnitOfWorkFactory(engine, secrets_for(settings))
    ctx = ServiceContext(uow=uow, clock=clock, merchant_tz=settings.merchant_tz,
                         database_label=_label(database_url(settings)), billing=billing,
                         retry_policy=retries.policy_by_name(settings.retry_policy),
                         notifier=notifier_for(settings, billing), sepa=sepa_settings(settings),
                         public_holiday=public_holidays.calendar(settings.merchant_country, settings.merchant_region))
    ctx.gateway = _LazyGateway(lambda: _sandbox(settings, ctx))  # type: ignore[assignment]
    return ctx


def mailer_for(settings: Settings) -> Mailer:
    """SMTP when ABOGUARD_SMTP_HOST is set; else ``.eml`` files in ``<data dir>/outbox`` (works offline)."""
    config = settings.notify
    if config.smtp_host:
        return SmtpMailer(config.smtp_host, config.smtp_port, security=config.smtp_security,
                          username=config.smtp_user,
                          password=config.smtp_password.reveal() if config.smtp_password else None,
                          timeout=config.smtp_timeout, ca_file=config.smtp_ca_file)
    return FileMailer(settings.data_dir / "outbox")


def notifier_for(settings: Settings, billing: BillingSettings) -> Notifier:
    config = settings.notify
    domain = config.mail_from.rsplit("@", 1)[-1].strip(" >") if "@" in config.mail_from else "aboguard.invalid"
    notify_settings = NotifySettings(
        from_address=config.mail_from, merchant_email=config.merchant_email, merchant_locale=config.merchant_locale,
        merchant_name=billing.merchant_name, merchant_address=billing.merchant_address,
        legal_footer=config.legal_footer, portal_url=config.portal_url,
        sepa_creditor_id=config.sepa_creditor_id or TEST_CREDITOR_ID,
        reminder_days=config.reminder_days, sepa_prenotice_days=config.sepa_prenotice_days,
        renewal_notice_days=config.renewal_notice_days, webhook_disable_after=config.webhook_disable_after,
        webhook_disable_days=config.webhook_disable_days, mail_domain=domain)
    return Notifier(mailer=mailer_for(settings), renderer=JinjaRenderer(config.templates_dir),
                    webhooks=_LazyWebhookSender(config), portal=_portal_tokens(settings), settings=notify_settings)


class _LazyWebhookSender:
    """Opens the HTTP client on first use: most commands never send a webhook."""

    def __init__(self, config: NotifyConfig) -> None:
        self._config = config
        self._sender: HttpWebhookSender | None = None

    def deliver(self, url: str, secret: str, webhook_id: str, timestamp: datetime, body: str) -> Any:
        if self._sender is None:
            self._sender = HttpWebhookSender(timeout=self._config.webhook_timeout)
        return self._sender.deliver(url, secret, webhook_id, timestamp, body)


def _portal_tokens(settings: Settings) -> Callable[[], PortalTokens]:
    """ABOGUARD_PORTAL_SECRET, else ``<data dir>/portal.key`` (32 random bytes, mode 0600, made on first use)."""
    secret = settings.notify.portal_secret
    key_file = settings.secret_key_file.parent / "portal.key" if settings.secret_key_file else None
    loaded: list[PortalTokens] = []

    def load() -> PortalTokens:
        if not loaded:
            if secret is not None:
                loaded.append(PortalTokens(secret.reveal().encode()))
            elif key_file is not None:
                loaded.append(PortalTokens(_key_file_bytes(key_file)))
            else:
                raise SecretsUnavailable("ABOGUARD_PORTAL_SECRET is not set: with an external database and no "
                                         "ABOGUARD_DATA_DIR, portal links need it; make one with: python -c "
                                         "'import secrets; print(secrets.token_urlsafe(32))'")
        return loaded[0]

    return load


def _key_file_bytes(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(os.urandom(32).hex() + "\n")
    try:
        return path.read_text(encoding="ascii").strip().encode()
    except OSError as exc:
        raise SecretsUnavailable(f"cannot read the portal key file {path}: {exc.strerror}") from None


def _sandbox(settings: Settings, ctx: ServiceContext) -> SandboxGateway:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SandboxGateway(settings.data_dir / "sandbox-gateway.db", _ContextClock(ctx),
                          behaviour_seed=settings.sandbox_seed)


class _LazyGateway:
    """Opens the gateway on first use, so commands that never charge touch no gateway file."""

    name = "sandbox"

    def __init__(self, make: Callable[[], SandboxGateway]) -> None:
        self._make = make
        self._gateway: SandboxGateway | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._gateway is None:
            self._gateway = self._make()
        return getattr(self._gateway, attribute)


class _ContextClock:
    """The gateway reads the context's clock, which ``build`` may swap for the stored sandbox clock."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def now(self) -> datetime:
        return self._ctx.clock.now()

    def today(self, tz: ZoneInfo | str) -> date:
        return self._ctx.clock.today(tz)


def build(settings: Settings) -> ServiceContext:
    """Context for an initialised installation, on the sandbox clock if it has one."""
    billing = billing_settings(settings)  # a bad setting is reported before the database is touched
    engine = make_engine(database_url(settings), durable=settings.durable)
    ctx = _context(settings, SystemClock(), engine, billing)
    try:
        if migrate.current_revision(engine) is None or not installation.is_initialised(ctx):
            raise NotInitialised(f"no aboguard installation in {ctx.database_label}: run `aboguard init` first")
        migrate.upgrade(engine)  # brings an older schema up to date; a no-op when current
        ctx.clock = installation.stored_test_clock(ctx) or ctx.clock
    except BaseException:
        ctx.close()
        raise
    return ctx


def initialise(settings: Settings, *, test_clock: bool = False, at: datetime | None = None
               ) -> tuple[ServiceContext, installation.ClockState]:
    """Create or upgrade the schema and record the installation (a sandbox if ``test_clock``)."""
    billing = billing_settings(settings)
    engine = make_engine(database_url(settings), durable=settings.durable)
    clock: Clock = TestClock(at or SystemClock().now()) if test_clock else SystemClock()
    ctx = _context(settings, clock, engine, billing)
    try:
        migrate.upgrade(engine)
        return ctx, installation.record_installation(ctx, test_clock=test_clock)
    except BaseException:
        ctx.close()
        raise


def simulation_context(policy: str, directory: Path, *, seed: int, start: datetime) -> ServiceContext:
    """A throw-away sandbox installation in ``directory`` for the recovery simulator: embedded SQLite, the
    test clock at ``start``, the sandbox gateway's customers seeded with ``seed``, the given retry policy."""
    directory.mkdir(parents=True, exist_ok=False)
    settings = Settings(data_dir=directory, database_url=None, merchant_tz=ZoneInfo("Europe/Berlin"),
                        retry_policy=policy, sandbox_seed=seed, secret_key_file=directory / "secret.key",
                        durable=False)
    ctx, _ = initialise(settings, test_clock=True, at=start)
    return ctx
