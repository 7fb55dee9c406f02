"""The composition root: settings in, a ready :class:`ServiceContext` out.

The only module that imports the storage adapter. Delivery code (CLI, later API and web) calls
:func:`build` or :func:`initialise` and then service functions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from aboguard.clock import Clock, SystemClock, TestClock
from aboguard.config import Settings
from aboguard.domain import retries, sepa
from aboguard.domain.numbering import NumberPattern
from aboguard.domain.payment_methods import normalise_bic, normalise_iban
from aboguard.domain.tax import MerchantTax
from aboguard.errors import NotInitialised
from aboguard.payments.sandbox import SandboxGateway
from aboguard.services import installation
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
                               if line.strip()))


def sepa_settings(settings: Settings) -> SepaSettings:
    """The SEPA set-up, with the creditor identifier's check digits and the merchant's IBAN checked."""
    return SepaSettings(
        channel=settings.sepa_channel,
        creditor_id=sepa.validate_creditor_id(settings.sepa_creditor_id) if settings.sepa_creditor_id else None,
        creditor_name=settings.merchant_name,
        iban=normalise_iban(settings.merchant_iban) if settings.merchant_iban else None,
        bic=normalise_bic(settings.merchant_bic) if settings.merchant_bic else None,
        lead_days=settings.sepa_lead_days, first_as_rcur=settings.sepa_first_as_rcur)


def _context(settings: Settings, clock: Clock, engine: Engine, billing: BillingSettings) -> ServiceContext:
    uow = SqlUnitOfWorkFactory(engine, secrets_for(settings))
    ctx = ServiceContext(uow=uow, clock=clock, merchant_tz=settings.merchant_tz,
                         database_label=_label(database_url(settings)), billing=billing,
                         retry_policy=retries.policy_by_name(settings.retry_policy), sepa=sepa_settings(settings))
    ctx.gateway = _LazyGateway(lambda: _sandbox(settings, ctx))  # type: ignore[assignment]
    return ctx


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
