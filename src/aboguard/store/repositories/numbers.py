"""Gapless document numbers: a counter row per series and scope, advanced in the issuing transaction.

The UPDATE takes the counter row's lock until commit, so concurrent issuers queue behind each other
and a rolled-back transaction gives its numbers back: no gaps, no duplicates.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from aboguard.store.tables import number_counters


class SqlNumberAllocator:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def allocate(self, series: str, scope: str, count: int = 1) -> list[int]:
        """The next ``count`` numbers of ``series`` in ``scope`` (1, 2, ... for a new scope)."""
        if count < 1:
            return []
        counter = number_counters.c
        where = (counter.series == series) & (counter.scope == scope)
        last = self._conn.execute(update(number_counters).where(where)
                                  .values(last_value=counter.last_value + count)
                                  .returning(counter.last_value)).scalar()
        if last is None:
            self._create(series, scope)
            last = self._conn.execute(update(number_counters).where(where)
                                      .values(last_value=counter.last_value + count)
                                      .returning(counter.last_value)).scalar_one()
        return list(range(last - count + 1, last + 1))

    def current(self, series: str, scope: str) -> int:
        counter = number_counters.c
        found = self._conn.execute(select(counter.last_value).where(counter.series == series,
                                                                    counter.scope == scope)).scalar()
        return int(found or 0)

    def _create(self, series: str, scope: str) -> None:
        values = {"series": series, "scope": scope, "last_value": 0}
        dialect = self._conn.dialect.name
        if dialect == "postgresql":
            self._conn.execute(pg_insert(number_counters).values(values).on_conflict_do_nothing())
        elif dialect == "sqlite":
            self._conn.execute(sqlite_insert(number_counters).values(values).on_conflict_do_nothing())
        else:  # pragma: no cover - only the two supported databases
            self._conn.execute(insert(number_counters).values(values))
