"""Settings from ``ABOGUARD_*`` environment variables, read once, by bootstrap only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aboguard.errors import InvalidInput

DEFAULT_TZ = "Europe/Berlin"


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
    sepa_channel: str = "gateway"  # ABOGUARD_SEPA_CHANNEL: gateway (the provider collects) or file (pain.008)
    sepa_creditor_id: str | None = None  # ABOGUARD_SEPA_CREDITOR_ID: Gläubiger-ID, checked by bootstrap
    merchant_iban: str | None = None  # ABOGUARD_MERCHANT_IBAN: creditor account; shown on pay-by-invoice invoices
    merchant_bic: str | None = None  # ABOGUARD_MERCHANT_BIC
    sepa_lead_days: int = 1  # ABOGUARD_SEPA_LEAD_DAYS: banking days a pain.008 must reach the bank before due
    sepa_first_as_rcur: bool = False  # ABOGUARD_SEPA_FIRST_AS_RCUR: first debits as RCUR (2016 rulebook)

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
            sepa_channel=channel,
            sepa_creditor_id=(env.get("ABOGUARD_SEPA_CREDITOR_ID") or "").strip() or None,
            merchant_iban=(env.get("ABOGUARD_MERCHANT_IBAN") or "").strip() or None,
            merchant_bic=(env.get("ABOGUARD_MERCHANT_BIC") or "").strip() or None,
            sepa_lead_days=int(lead),
            sepa_first_as_rcur=_flag(env, "ABOGUARD_SEPA_FIRST_AS_RCUR", default=False),
        )


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
