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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        tz_name = env.get("ABOGUARD_MERCHANT_TZ", DEFAULT_TZ)
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"ABOGUARD_MERCHANT_TZ={tz_name!r} is not a known time zone such as "
                               f"Europe/Berlin") from None
        return cls(
            data_dir=Path(env.get("ABOGUARD_DATA_DIR") or "./data"),
            database_url=env.get("ABOGUARD_DATABASE_URL") or None,
            merchant_tz=tz,
        )
