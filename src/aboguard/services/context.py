"""What every service function receives: storage, the clock and the merchant's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from aboguard.clock import Clock
from aboguard.ids import new_id
from aboguard.store.uow import UnitOfWorkFactory


@dataclass(slots=True)
class ServiceContext:
    uow: UnitOfWorkFactory
    clock: Clock
    merchant_tz: ZoneInfo
    database_label: str = ""

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.clock.today(self.merchant_tz)

    def close(self) -> None:
        self.uow.close()

    def new_id(self) -> str:
        return new_id(int(self.clock.now().timestamp() * 1000))
