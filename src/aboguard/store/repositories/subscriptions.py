"""Subscriptions, saved with optimistic locking on ``version``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from aboguard.domain.subscriptions import BILLABLE, Subscription, SubscriptionStatus
from aboguard.errors import ConcurrentUpdate, SubscriptionNotFound
from aboguard.ids import CustomerId, SubscriptionId
from aboguard.store import rows
from aboguard.store.tables import subscriptions

_BILLABLE = sorted(status.value for status in BILLABLE)


class SqlSubscriptionRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, sub: Subscription) -> None:
        self._conn.execute(insert(subscriptions).values(rows.subscription_to_row(sub)))

    def get(self, subscription_id: SubscriptionId) -> Subscription:
        row = self._conn.execute(
            select(subscriptions).where(subscriptions.c.id == subscription_id)).mappings().first()
        if row is None:
            raise SubscriptionNotFound(f"no subscription with id {subscription_id!r}")
        return rows.subscription_from_row(row)

    def save(self, sub: Subscription) -> Subscription:
        values = rows.subscription_to_row(sub)
        for fixed in ("id", "created_at", "version"):
            del values[fixed]
        result = self._conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub.id, subscriptions.c.version == sub.version)
            .values(**values, version=subscriptions.c.version + 1))
        if result.rowcount == 0:
            exists = self._conn.execute(
                select(subscriptions.c.version).where(subscriptions.c.id == sub.id)).scalar_one_or_none()
            if exists is None:
                raise SubscriptionNotFound(f"no subscription with id {sub.id!r}")
            raise ConcurrentUpdate(f"subscription {sub.id} was changed by someone else (version {exists}, "
                                   f"expected {sub.version}); reload it and try again")
        return replace(sub, version=sub.version + 1)

    def list(self, *, customer_id: CustomerId | None = None, status: SubscriptionStatus | None = None,
             limit: int = 100, offset: int = 0) -> list[Subscription]:
        query = select(subscriptions)
        if customer_id is not None:
            query = query.where(subscriptions.c.customer_id == customer_id)
        if status is not None:
            query = query.where(subscriptions.c.status == SubscriptionStatus(status).value)
        query = query.order_by(subscriptions.c.created_at, subscriptions.c.id).limit(limit).offset(offset)
        return [rows.subscription_from_row(row) for row in self._conn.execute(query).mappings()]

    def due_for_billing(self, today: date, *, limit: int = 1000) -> list[SubscriptionId]:
        query = (select(subscriptions.c.id)
                 .where(subscriptions.c.next_bill_on <= today, subscriptions.c.status.in_(_BILLABLE))
                 .order_by(subscriptions.c.next_bill_on, subscriptions.c.id)
                 .limit(limit))
        return [SubscriptionId(sub_id) for sub_id in self._conn.execute(query).scalars()]
