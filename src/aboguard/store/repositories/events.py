"""The event log: one row per domain event, in the same transaction as the change it describes, plus its
``outbox`` row, which the notify dispatcher takes (and deletes) once it has made the messages and webhook
deliveries for the event."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from aboguard.domain.events import Event
from aboguard.ids import new_id
from aboguard.store import rows
from aboguard.store.bulk import insert_many
from aboguard.store.tables import events, outbox
from aboguard.store.uow import StoredEvent

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def unix_ms(instant: datetime) -> int:
    return (instant - _EPOCH) // timedelta(milliseconds=1)


class SqlEventLog:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, new_events: Iterable[Event], occurred_at: datetime) -> None:
        batch = list(new_events)
        if not batch:
            return
        ids = self._ascending_ids(occurred_at, len(batch))
        insert_many(self._conn, events, [
            {"id": event_id, "name": event.name, "aggregate_type": event.aggregate,
             "aggregate_id": event.aggregate_id, "payload": event.payload(), "occurred_at": occurred_at}
            for event_id, event in zip(ids, batch, strict=True)
        ])
        # the outbox: the notify dispatcher turns each into messages and webhook deliveries (at least once)
        insert_many(self._conn, outbox, [{"event_id": event_id, "available_at": occurred_at, "attempts": 0}
                                         for event_id in ids])

    def list(self, *, aggregate_id: str | None = None, limit: int = 1000) -> list[StoredEvent]:
        query = select(events)
        if aggregate_id is not None:
            query = query.where(events.c.aggregate_id == aggregate_id)
        query = query.order_by(events.c.occurred_at, events.c.id).limit(limit)
        return [rows.event_from_row(row) for row in self._conn.execute(query).mappings()]

    def since(self, after: datetime, names: Iterable[str], *, limit: int = 100_000) -> list[StoredEvent]:
        """Events with one of ``names`` that occurred at or after ``after``, in order (the occurred_at index)."""
        query = (select(events).where(events.c.occurred_at >= after, events.c.name.in_(list(names)))
                 .order_by(events.c.occurred_at, events.c.id).limit(limit))
        return [rows.event_from_row(row) for row in self._conn.execute(query).mappings()]

    def _ascending_ids(self, occurred_at: datetime, count: int) -> list[str]:
        """UUIDv7 ids that sort after every event already logged at the same instant.

        Events recorded at one instant (a frozen test clock, one service call) then list in the order
        they were added, because the log orders by (occurred_at, id).
        """
        latest = self._conn.execute(
            select(func.max(events.c.id)).where(events.c.occurred_at == occurred_at)).scalar_one_or_none()
        ms = unix_ms(occurred_at)
        previous = uuid.UUID(latest).int if latest else 0
        ids = []
        for _ in range(count):
            made = new_id(ms)
            value = int(made.replace("-", ""), 16)
            if value <= previous:
                # a random step, not +1: two transactions logging at one frozen instant read the same
                # maximum and must not both pick previous + 1. It stays inside the 62 random bits (the ms
                # prefix, version and variant are unchanged) unless those are nearly exhausted.
                value = previous + 1 + int.from_bytes(os.urandom(4), "big")
                made = str(uuid.UUID(int=value))
            ids.append(made)
            previous = value
        return ids
