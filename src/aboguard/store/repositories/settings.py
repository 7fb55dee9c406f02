"""Installation settings: a small key/value table."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from aboguard.store.tables import installation_settings as settings


class SqlInstallationSettings:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, key: str) -> str | None:
        return self._conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar_one_or_none()

    def set(self, key: str, value: str) -> None:
        result = self._conn.execute(update(settings).where(settings.c.key == key).values(value=value))
        if result.rowcount == 0:
            self._conn.execute(insert(settings).values(key=key, value=value))
