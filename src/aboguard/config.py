"""Settings from ``ABOGUARD_*`` environment variables, read once, by bootstrap only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aboguard.domain.early_payment import EarlyPaymentTerms
from aboguard.errors import InvalidInput

DEFAULT_TZ = "Europe/Berlin"
DEFAULT_MAIL_FROM = "aboguard <noreply@aboguard.invalid>"
DEFAULT_PORTAL_URL = "http://localhost:8000/portal"


class Secret:
    """A setting that must not appear in logs or reprs (a password); ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """Emails, portal links and outgoing webhooks (ABOGUARD_SMTP_*, ABOGUARD_MAIL_FROM, ...)."""

    smtp_host: str | None = None  # None: messages are written as .eml files under <data dir>/outbox
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | ssl | none
    smtp_user: str | None = None
    smtp_password: Secret | None = None
    smtp_timeout: float = 30.0
    smtp_ca_file: str | None = None  # ABOGUARD_SMTP_CA_FILE: CA bundle for the relay's certificate (default: system)
    mail_from: str = DEFAULT_MAIL_FROM
    merchant_email: str | None = None  # ABOGUARD_MERCHANT_EMAIL: notices to the merchant
    merchant_locale: str = "de"
    legal_footer: str = ""  # ABOGUARD_MERCHANT_FOOTER: Impressum lines, separated by "|"
    templates_dir: Path | None = None  # ABOGUARD_TEMPLATES_DIR: the merchant's own templates override ours
    portal_url: str = DEFAULT_PORTAL_URL
    portal_secret: Secret | None = None  # ABOGUARD_PORTAL_SECRET; else <data dir>/portal.key
    sepa_creditor_id: str | None = None  # ABOGUARD_SEPA_CREDITOR_ID (Gläubiger-ID)
    reminder_days: int = 3
    sepa_prenotice_days: int = 14
    renewal_notice_days: int = 30
    webhook_timeout: float = 10.0
    webhook_disable_after: int = 10
    webhook_disable_days: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NotifyConfig:
        security = (env.get("ABOGUARD_SMTP_SECURITY") or "starttls").strip().lower()
        if security not in {"starttls", "ssl", "none"}:
            raise InvalidInput(f"ABOGUARD_SMTP_SECURITY={security!r} must be starttls, ssl or none")
        default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
        password = env.get("ABOGUARD_SMTP_PASSWORD") or ""
        portal = (env.get("ABOGUARD_PORTAL_SECRET") or "").strip()
        if portal and len(portal) < 16:
            raise InvalidInput("ABOGUARD_PORTAL_SECRET must be at least 16 characters; make one with: "
                               "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        ca_file = (env.get("ABOGUARD_SMTP_CA_FILE") or "").strip()
        if ca_file and not Path(ca_file).is_file():
            raise InvalidInput(f"ABOGUARD_SMTP_CA_FILE={ca_file!r} is not a file; it is the PEM bundle of the CA "
                               "that signed the SMTP server's certificate")
        locale = (env.get("ABOGUARD_MERCHANT_LOCALE") or "de").strip().lower()
        if locale not in {"de", "en"}:
            raise InvalidInput(f"ABOGUARD_MERCHANT_LOCALE={locale!r} must be de or en")
        templates = (env.get("ABOGUARD_TEMPLATES_DIR") or "").strip()
        if templates and not Path(templates).is_dir():
            raise InvalidInput(f"ABOGUARD_TEMPLATES_DIR={templates!r} is not a directory; it holds de/ and en/ "
                               "with the templates to override")
        return cls(
            smtp_host=(env.get("ABOGUARD_SMTP_HOST") or "").strip() or None,
            smtp_port=_int(env, "ABOGUARD_SMTP_PORT", default_port, 1, 65535),
            smtp_security=security,
            smtp_user=(env.get("ABOGUARD_SMTP_USER") or "").strip() or None,
            smtp_password=Secret(password) if password else None,
            smtp_ca_file=ca_file or None,
            mail_from=(env.get("ABOGUARD_MAIL_FROM") or "").strip() or DEFAULT_MAIL_FROM,
            merchant_email=(env.get("ABOGUARD_MERCHANT_EMAIL") or "").strip() or None,
            merchant_locale=locale,
            legal_footer="\n".join(line.strip() for line in (env.get("ABOGUARD_MERCHANT_FOOTER") or "").split("|")
                                   if line.strip()),
            templates_dir=Path(templates) if templates else None,
            portal_url=((env.get("ABOGUARD_PORTAL_URL") or "").strip() or DEFAULT_PORTAL_URL).rstrip("/"),
            portal_secret=Secret(portal) if portal else None,
            sepa_creditor_id=(env.get("ABOGUARD_SEPA_CREDITOR_ID") or "").strip().upper() or None,
            reminder_days=_int(env, "ABOGUARD_REMINDER_DAYS", 3, 0, 60),
            sepa_prenotice_days=_int(env, "ABOGUARD_SEPA_PRENOTICE_DAYS", 14, 1, 60),
            renewal_notice_days=_int(env, "ABOGUARD_RENEWAL_NOTICE_DAYS", 30, 1, 120),
            webhook_disable_after=_int(env, "ABOGUARD_WEBHOOK_DISABLE_AFTER", 10, 1, 1000),
            webhook_disable_days=_int(env, "ABOGUARD_WEBHOOK_DISABLE_DAYS", 5, 1, 60),
        )


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str | None  # None: the embedded SQLite file under data_dir
    merchant_tz: ZoneInfo
    merchant_country: str = "DE"
    merchant_vat_id: str | None = None
    small_business: bool = False  # § 19 UStG Kleinunternehmer: no VAT on invoices
    oss: bool = True  # EU consumers are charged their country's VAT (above the EUR 10,000 threshold)
    invoice_pattern: str = "RE-{year}-{seq:06}"
    credit_note_pattern: str = "ST-{year}-{seq:06}"
    payment_terms_days: int = 14  # pay-by-invoice: days from issue to due date
    secret_key: str | None = None  # ABOGUARD_SECRET_KEY: Fernet key(s) for IBANs and tokens at rest
    secret_key_file: Path | None = None  # used without ABOGUARD_SECRET_KEY; None: there is no data directory
    merchant_name: str = "aboguard sandbox merchant"  # ABOGUARD_MERCHANT_NAME: on letters and hand-overs
    merchant_address: str = ""  # ABOGUARD_MERCHANT_ADDRESS: postal address, lines separated by "|" or newlines
    sandbox_seed: int | None = None  # ABOGUARD_SANDBOX_SEED: sandbox customers follow seeded behaviour profiles
    durable: bool = True  # False only for throw-away installations (the simulator): no flush per commit
    retry_policy: str = "smart"  # ABOGUARD_RETRY_POLICY: smart (decline-aware) or fixed (days 3, 5, 7)
    skonto: str = ""  # ABOGUARD_SKONTO: early-payment discount on pay-by-invoice invoices, e.g. "2/10"
    notify: NotifyConfig = field(default_factory=NotifyConfig)  # emails, portal links, webhooks
    sepa_channel: str = "gateway"  # ABOGUARD_SEPA_CHANNEL: gateway (the provider collects) or file (pain.008)
    sepa_creditor_id: str | None = None  # ABOGUARD_SEPA_CREDITOR_ID: Gläubiger-ID, checked by bootstrap
    merchant_iban: str | None = None  # ABOGUARD_MERCHANT_IBAN: creditor account; shown on pay-by-invoice invoices
    merchant_bic: str | None = None  # ABOGUARD_MERCHANT_BIC
    sepa_lead_days: int = 1  # ABOGUARD_SEPA_LEAD_DAYS: banking days a pain.008 must reach the bank before due
    sepa_first_as_rcur: bool = False  # ABOGUARD_SEPA_FIRST_AS_RCUR: first debits as RCUR (2016 rulebook)
    sepa_use_fnal: bool = True  # ABOGUARD_SEPA_USE_FNAL: a mandate's last debit as FNAL (off: RCUR, 2016 rulebook)
    merchant_region: str | None = None  # ABOGUARD_MERCHANT_REGION: state (e.g. BY) whose holidays count (§ 193 BGB)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        tz_name = env.get("ABOGUARD_MERCHANT_TZ", DEFAULT_TZ)
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"ABOGUARD_MERCHANT_TZ={tz_name!r} is not a known time zone such as "
                               f"Europe/Berlin") from None
        country = env.get("ABOGUARD_MERCHANT_COUNTRY", "DE").strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise InvalidInput(f"ABOGUARD_MERCHANT_COUNTRY={country!r} must be a two-letter country code such as DE")
        terms = env.get("ABOGUARD_PAYMENT_TERMS_DAYS", "14").strip()
        if not terms.isdigit() or not 0 <= int(terms) <= 120:
            raise InvalidInput(f"ABOGUARD_PAYMENT_TERMS_DAYS={terms!r} must be a number of days from 0 to 120")
        retry_policy = (env.get("ABOGUARD_RETRY_POLICY") or "smart").strip().lower()
        if retry_policy not in {"smart", "fixed"}:
            raise InvalidInput(f"ABOGUARD_RETRY_POLICY={retry_policy!r} must be smart or fixed")
        seed = (env.get("ABOGUARD_SANDBOX_SEED") or "").strip()
        if seed and not seed.lstrip("-").isdigit():
            raise InvalidInput(f"ABOGUARD_SANDBOX_SEED={seed!r} must be a whole number")
        channel = (env.get("ABOGUARD_SEPA_CHANNEL") or "gateway").strip().lower()
        if channel not in {"gateway", "file"}:
            raise InvalidInput(f"ABOGUARD_SEPA_CHANNEL={channel!r} must be gateway or file")
        lead = (env.get("ABOGUARD_SEPA_LEAD_DAYS") or "1").strip()
        if not lead.isdigit() or not 1 <= int(lead) <= 10:
            raise InvalidInput(f"ABOGUARD_SEPA_LEAD_DAYS={lead!r} must be a number of banking days from 1 to 10")
        data_dir = Path(env.get("ABOGUARD_DATA_DIR") or "./data")
        database_url = env.get("ABOGUARD_DATABASE_URL") or None
        # The key file lives in the data directory: the default one for the embedded SQLite database, an
        # explicit ABOGUARD_DATA_DIR with an external database. Otherwise ABOGUARD_SECRET_KEY is needed.
        has_data_dir = database_url is None or bool(env.get("ABOGUARD_DATA_DIR"))
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            merchant_tz=tz,
            merchant_country=country,
            merchant_vat_id=env.get("ABOGUARD_MERCHANT_VAT_ID") or None,
            small_business=_flag(env, "ABOGUARD_SMALL_BUSINESS", default=False),
            oss=_flag(env, "ABOGUARD_OSS", default=True),
            invoice_pattern=env.get("ABOGUARD_INVOICE_NUMBER_PATTERN") or "RE-{year}-{seq:06}",
            credit_note_pattern=env.get("ABOGUARD_CREDIT_NOTE_NUMBER_PATTERN") or "ST-{year}-{seq:06}",
            payment_terms_days=int(terms),
            secret_key=(env.get("ABOGUARD_SECRET_KEY") or "").strip() or None,
            secret_key_file=data_dir / "secret.key" if has_data_dir else None,
            retry_policy=retry_policy,
            sandbox_seed=int(seed) if seed else None,
            merchant_name=(env.get("ABOGUARD_MERCHANT_NAME") or "").strip() or "aboguard sandbox merchant",
            merchant_address=(env.get("ABOGUARD_MERCHANT_ADDRESS") or "").strip(),
            skonto=_skonto(env.get("ABOGUARD_SKONTO") or ""),
            notify=NotifyConfig.from_env(env),
            sepa_channel=channel,
            sepa_creditor_id=(env.get("ABOGUARD_SEPA_CREDITOR_ID") or "").strip() or None,
            merchant_iban=(env.get("ABOGUARD_MERCHANT_IBAN") or "").strip() or None,
            merchant_bic=(env.get("ABOGUARD_MERCHANT_BIC") or "").strip() or None,
            sepa_lead_days=int(lead),
            sepa_first_as_rcur=_flag(env, "ABOGUARD_SEPA_FIRST_AS_RCUR", default=False),
            sepa_use_fnal=_flag(env, "ABOGUARD_SEPA_USE_FNAL", default=True),
            merchant_region=(env.get("ABOGUARD_MERCHANT_REGION") or "").strip().upper() or None,
        )


def _skonto(raw: str) -> str:
    """Checked here so a typo stops the start with a clear message, not the first billing run."""
    if raw.strip():
        try:
            EarlyPaymentTerms.parse(raw)
        except InvalidInput as exc:
            raise InvalidInput(f"ABOGUARD_SKONTO: {exc.message}") from None
    return raw.strip()


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name}={raw!r} must be a whole number from {low} to {high}")
    return int(raw)


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise InvalidInput(f"{name}={raw!r} must be 1 or 0 (true/false)")
